"""The data stage's one file reader: fast (pyarrow) for ratings, pandas for item tables, Parquet and Feather.

Every problem stops with a :class:`~beeformer.contract.ContractError` naming the file (``archive.zip:member`` for a
file inside a zip), the data row (1 = first row after the header) and the problem: a missing column, a value that
is not a number, an empty value, a truncated or malformed line. Text that is not valid UTF-8 is read again with the
bad bytes replaced by U+FFFD and a ``UnicodeWarning`` that names the file: one stray byte in a 20M-row file should
not stop a run.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc
import pyarrow.parquet

from beeformer.contract import ContractError

log = logging.getLogger(__name__)

BLOCK_SIZE = 1 << 24
#: The formats :func:`read_columns` reads: text (with its default separator, and compressed), and binary.
TEXT_FORMATS = {".csv": ",", ".tsv": "\t", ".txt": ","}
BINARY_FORMATS = (".parquet", ".feather")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


@dataclass(frozen=True)
class Source:
    """A file on disk, or a member of a zip archive; ``label`` names it in messages."""

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextlib.contextmanager
    def pandas_input(self) -> Iterator[IO[bytes] | str]:
        """What pandas reads: the member's stream, or the path (pandas decompresses by the file's suffix)."""
        with self._member_stream() as stream:
            yield str(self.path) if stream is None else stream

    @contextlib.contextmanager
    def arrow_stream(self) -> Iterator[pa.NativeFile | IO[bytes]]:
        """The member's stream, or a native (faster) stream of the plain or gzipped file."""
        with self._member_stream() as stream:
            if stream is not None:
                yield stream
                return
            compression = "gzip" if self.path.suffix == ".gz" else None
            with pa.input_stream(str(self.path), compression=compression) as native:
                yield native

    @contextlib.contextmanager
    def _member_stream(self) -> Iterator[IO[bytes] | None]:
        if not self.path.is_file():
            raise ContractError(f"{self.path}: file not found")
        if self.member is None:
            yield None
            return
        with zipfile.ZipFile(self.path) as bundle, bundle.open(self.member) as stream:
            yield stream


def zip_member(path: Path, name: str) -> Source:
    """The member of a zip archive whose file name is ``name`` (in any folder); a clear error if absent."""
    if not path.is_file():
        raise ContractError(f"{path}: file not found")
    try:
        with zipfile.ZipFile(path) as bundle:
            members = [m for m in bundle.namelist() if not m.endswith("/")]
    except zipfile.BadZipFile as error:
        raise ContractError(f"{path}: not a zip archive ({error}); the download may be damaged") from error
    matches = [m for m in members if m == name or m.endswith("/" + name)]
    if not matches:
        raise ContractError(f"{path}: the archive has no {name}; it has {members[:20]}")
    return Source(path, min(matches, key=len))


def check_columns(label: str | Path, wanted: Sequence[str], available: Sequence[str]) -> None:
    """Stop, naming the file and its columns, if any of ``wanted`` is not ``available``."""
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ContractError(
            f"{label}: column(s) {missing} not in the file, which has {list(available)}; fix the 'columns' mapping "
            "(or 'sep' for text files)"
        )


def raise_first_bad(values: pd.Series, bad: pd.Series, label: str | Path, column: str, expected: str) -> None:
    """Stop, naming the first row where ``bad`` holds, if it holds anywhere (``expected`` says what should be)."""
    positions = np.flatnonzero(bad.to_numpy())
    if len(positions):
        first = int(positions[0])
        raise ContractError(
            f"{label}: column '{column}' must hold {expected}, but {len(positions)} value(s) do not; "
            f"the first is {values.iloc[first]!r} in data row {first + 1} (1 = first row after the header). "
            "Fix those rows or map another column."
        )


# --------------------------------------------------------------------------- ratings: pyarrow


def read_ratings(
    source: Source,
    columns: Mapping[str, pa.DataType],
    *,
    column_names: Sequence[str] | None = None,
) -> pa.Table:
    """Read the ``columns`` (name -> arrow type) of a large CSV quickly, or stop with a message naming the row.

    ``column_names`` names the columns of a file without a header line. Empty values are errors too.
    """
    wanted = list(columns)
    with source.arrow_stream() as stream:
        read_options = pacsv.ReadOptions(column_names=list(column_names) if column_names else None)
        try:
            available = pacsv.open_csv(stream, read_options=read_options).schema.names
        except pa.ArrowInvalid as error:
            raise ContractError(f"{source.label}: cannot read the header ({error}); is it a CSV file?") from error
    check_columns(source.label, wanted, list(available))
    try:
        with source.arrow_stream() as stream:
            table = pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    column_names=list(column_names) if column_names else None, block_size=BLOCK_SIZE
                ),
                convert_options=pacsv.ConvertOptions(
                    include_columns=wanted, column_types=dict(columns), strings_can_be_null=True
                ),
            )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise _diagnose(source, columns, column_names, error) from error
    header_rows = 0 if column_names else 1
    for name in wanted:
        nulls = table.column(name).null_count
        if nulls:
            first = int(np.flatnonzero(table.column(name).is_null().to_numpy(zero_copy_only=False))[0])
            raise ContractError(
                f"{source.label}: column '{name}' is empty in {nulls} row(s), the first in data row {first + 1} "
                f"(line {first + 1 + header_rows} of the file); the file may be truncated or malformed. "
                "Fix or remove those rows, or download the file again."
            )
    log.info("read %d rows from %s", table.num_rows, source.label)
    return table


def _diagnose(
    source: Source, columns: Mapping[str, pa.DataType], column_names: Sequence[str] | None, error: Exception
) -> ContractError:
    """Re-read single-threaded as text to name the row and the problem of a failed fast read."""
    header_rows = 0 if column_names else 1
    try:
        with source.arrow_stream() as stream:
            raw = pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    column_names=list(column_names) if column_names else None, use_threads=False
                ),
                convert_options=pacsv.ConvertOptions(
                    include_columns=list(columns), column_types=dict.fromkeys(columns, pa.string())
                ),
            )
    except pa.ArrowInvalid as parse_error:
        text = str(parse_error)
        match = re.search(r"Row #(\d+)", text)
        where = ""
        if match:
            line = int(match.group(1))
            where = f" in data row {line - header_rows} (line {line} of the file)"
        problem = re.sub(r"^CSV parse error: (Row #\d+: )?", "", text)
        return ContractError(
            f"{source.label}: malformed or truncated line{where}: {problem}. If the file was downloaded, delete it "
            "and download it again; otherwise fix that line."
        )
    except UnicodeDecodeError as decode_error:
        return ContractError(f"{source.label}: not valid UTF-8 ({decode_error}); re-encode the file as UTF-8")
    for name, kind in columns.items():
        if pa.types.is_string(kind) or pa.types.is_dictionary(kind):
            continue
        values = raw.column(name).to_pandas()
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            try:
                raise_first_bad(values, bad, source.label, name, f"a number ({kind})")
            except ContractError as found:
                return found
    return ContractError(f"{source.label}: cannot read the file ({error})")


# --------------------------------------------------------------------------- tables: pandas


def read_csv(
    source: Source,
    wanted: Sequence[str],
    *,
    optional: Sequence[str] = (),
    sep: str = ",",
    strings: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read the ``wanted`` columns (and those of ``optional`` the file has) of a delimited text file.

    The columns are checked before reading; ``strings`` (default: every column read) are read as strings, blank
    as NaN; text that is not UTF-8 is read again with replacement characters.
    """
    try:
        with source.pandas_input() as data:
            header = pd.read_csv(data, sep=sep, nrows=0, encoding_errors="replace")
        available = [str(c) for c in header.columns]
        check_columns(source.label, wanted, available)
        usecols = list(dict.fromkeys([*wanted, *(c for c in optional if c in available)]))
        dtype = dict.fromkeys(usecols if strings is None else strings, "str")
        try:
            with source.pandas_input() as data:
                frame = pd.read_csv(data, sep=sep, usecols=usecols, dtype=dtype)
        except UnicodeDecodeError as error:
            warnings.warn(
                f"{source.label}: not valid UTF-8 ({error.reason} at byte {error.start}); the bad bytes were "
                "replaced by U+FFFD. Re-encode the file as UTF-8 to silence this.",
                UnicodeWarning,
                stacklevel=2,
            )
            with source.pandas_input() as data:
                frame = pd.read_csv(data, sep=sep, usecols=usecols, dtype=dtype, encoding_errors="replace")
    except pd.errors.EmptyDataError as error:
        raise ContractError(f"{source.label}: the file is empty; it needs a header line and data rows") from error
    except pd.errors.ParserError as error:
        raise ContractError(
            f"{source.label}: malformed or truncated line ({error}). If the file was downloaded, delete it and "
            f"download it again; otherwise fix that line, or set 'sep' if it is not {sep!r}."
        ) from error
    log.info("read %d rows from %s", len(frame), source.label)
    return frame


def file_format(path: Path) -> str:
    """The format suffix of ``path`` (``.csv``, ``.parquet``, ...; a compression suffix after a text one is
    allowed), or a clear error."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in COMPRESSION_SUFFIXES
    fmt = suffixes[-1 - compressed] if len(suffixes) > compressed else ""
    if fmt in TEXT_FORMATS or (fmt in BINARY_FORMATS and not compressed):
        return fmt
    raise ContractError(
        f"{path}: unknown file format; use one of {sorted([*TEXT_FORMATS, *BINARY_FORMATS])} "
        f"(text formats may be compressed: {', '.join(COMPRESSION_SUFFIXES)})"
    )


def read_columns(
    path: Path, wanted: Sequence[str], *, sep: str | None = None, strings: Sequence[str] = ()
) -> pd.DataFrame:
    """Read only the ``wanted`` columns of a text, Parquet or Feather file, checking first that they exist.

    ``sep`` defaults to the text format's; ``strings`` are the columns of a text file read as strings.
    """
    fmt = file_format(path)
    usecols = list(dict.fromkeys(wanted))
    if fmt in TEXT_FORMATS:
        return read_csv(Source(path), usecols, sep=sep or TEXT_FORMATS[fmt], strings=strings)
    if fmt == ".feather":
        return read_feather(path, usecols)
    check_columns(path, usecols, pyarrow.parquet.read_schema(path).names)
    return pd.read_parquet(path, columns=usecols)


def read_feather(path: Path, wanted: Sequence[str]) -> pd.DataFrame:
    """Read columns of a Feather file, checking them first; a stored pandas index (``__index_level_0__``) is ignored."""
    if not path.is_file():
        raise ContractError(f"{path}: file not found")
    try:
        with pyarrow.ipc.open_file(path) as reader:
            schema = reader.schema
    except pa.ArrowInvalid as error:
        raise ContractError(f"{path}: not a Feather (Arrow IPC) file ({error}); download or export it again") from error
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    check_columns(path, wanted, [name for name in schema.names if name not in index])
    return pd.read_feather(path, columns=list(wanted))
