"""Readers for the paper sources' files: fast (pyarrow) for ratings, pandas for item tables; clear errors.

Every problem stops with a :class:`~beeformer.contract.ContractError` naming the file (``archive.zip:member`` for a
file inside a zip), the data row (1 = first row after the header) and the problem: a missing column, a value that
is not a number, an empty value, a truncated or malformed line. Text that is not valid UTF-8 is read again with the
bad bytes replaced by U+FFFD, and a ``UnicodeWarning`` names the file (as :mod:`beeformer.data.local` does).
"""

from __future__ import annotations

import contextlib
import gzip
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

from beeformer.contract import ContractError
from beeformer.data.local import _check_columns, _raise_first_bad

log = logging.getLogger(__name__)

BLOCK_SIZE = 1 << 24


@dataclass(frozen=True)
class Source:
    """A file on disk, or a member of a zip archive; ``label`` names it in messages."""

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """A binary stream of the (decompressed) contents."""
        if not self.path.is_file():
            raise ContractError(f"{self.path}: file not found")
        if self.member is not None:
            with zipfile.ZipFile(self.path) as bundle, bundle.open(self.member) as stream:
                yield stream
        elif self.path.suffix == ".gz":
            with gzip.open(self.path, "rb") as stream:
                yield stream
        else:
            with open(self.path, "rb") as stream:
                yield stream

    @contextlib.contextmanager
    def arrow_stream(self) -> Iterator[pa.NativeFile | IO[bytes]]:
        """Like :meth:`open`, but native (faster) streams for plain and gzipped files."""
        if self.member is not None:
            with self.open() as stream:
                yield stream
            return
        if not self.path.is_file():
            raise ContractError(f"{self.path}: file not found")
        compression = "gzip" if self.path.suffix == ".gz" else None
        with pa.input_stream(str(self.path), compression=compression) as stream:
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
    _check_columns(Path(source.label), wanted, list(available))
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
                _raise_first_bad(values, bad, Path(source.label), name, f"a number ({kind})")
            except ContractError as found:
                return found
    return ContractError(f"{source.label}: cannot read the file ({error})")


# --------------------------------------------------------------------------- item tables: pandas


def read_table(source: Source, wanted: Sequence[str], *, optional: Sequence[str] = (), sep: str = ",") -> pd.DataFrame:
    """Read the ``wanted`` columns (and those of ``optional`` the file has) of a CSV as strings, blank as NaN.

    The columns are checked before reading; text that is not UTF-8 is read again with replacement characters.
    """
    try:
        with source.open() as stream:
            header = pd.read_csv(stream, sep=sep, nrows=0, encoding_errors="replace")
    except pd.errors.EmptyDataError as error:
        raise ContractError(f"{source.label}: the file is empty; it needs a header line and data rows") from error
    available = [str(c) for c in header.columns]
    _check_columns(Path(source.label), list(wanted), available)
    usecols = list(dict.fromkeys([*wanted, *(c for c in optional if c in available)]))
    dtype = dict.fromkeys(usecols, "str")
    try:
        try:
            with source.open() as stream:
                frame = pd.read_csv(stream, sep=sep, usecols=usecols, dtype=dtype)
        except UnicodeDecodeError as error:
            warnings.warn(
                f"{source.label}: not valid UTF-8 ({error.reason} at byte {error.start}); the bad bytes were "
                "replaced by U+FFFD. Re-encode the file as UTF-8 to silence this.",
                UnicodeWarning,
                stacklevel=2,
            )
            with source.open() as stream:
                frame = pd.read_csv(stream, sep=sep, usecols=usecols, dtype=dtype, encoding_errors="replace")
    except pd.errors.ParserError as error:
        raise ContractError(
            f"{source.label}: malformed or truncated line ({error}). If the file was downloaded, delete it and "
            "download it again; otherwise fix that line."
        ) from error
    log.info("read %d rows from %s", len(frame), source.label)
    return frame


def read_feather(path: Path, wanted: Sequence[str]) -> pd.DataFrame:
    """Read columns of a Feather file, checking them first; a stored pandas index (``__index_level_0__``) is ignored."""
    import pyarrow.ipc

    if not path.is_file():
        raise ContractError(f"{path}: file not found")
    try:
        with pyarrow.ipc.open_file(path) as reader:
            schema = reader.schema
    except pa.ArrowInvalid as error:
        raise ContractError(f"{path}: not a Feather (Arrow IPC) file ({error}); download it again") from error
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    _check_columns(path, list(wanted), [name for name in schema.names if name not in index])
    return pd.read_feather(path, columns=list(wanted))
