"""What every generating engine provides: requests in, results out (in any order, as soon as each is done)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from beeformer.describe.settings import DescribeConfig, DescribeError

#: Files where a Hugging Face model folder keeps its chat template (besides tokenizer_config.json's key).
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass(frozen=True)
class Request:
    """One item text to describe; ``key`` identifies it in the cache."""

    key: str
    text: str


@dataclass(frozen=True)
class Result:
    """A finished request: the raw output and finish reason, or an ``error`` message (nothing is cached then)."""

    key: str
    output: str | None = None
    finish_reason: str | None = None
    error: str | None = None


class Engine:
    """Base class. Engines load their model lazily, on the first ``generate`` call, so a fully cached rerun never
    loads (or imports) anything."""

    name = "base"

    def __init__(self, config: DescribeConfig):
        self.config = config
        self.load_seconds = 0.0  # time spent loading the model (reported apart from the generation throughput)

    def output_settings(self) -> dict[str, Any]:
        """Engine settings that change the outputs (part of the cache key); speed-only settings stay out."""
        return {}

    def cache_settings(self) -> dict[str, Any]:
        """Everything a cached output depends on (see :mod:`beeformer.describe.cache`)."""
        return {
            "engine": self.name,
            "model": self.config.model,
            "prompt": asdict(self.config.prompt),
            "sampling": asdict(self.config.sampling),
            "engine_settings": self.output_settings(),
        }

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the model or connections (called once, after the last result)."""


def local_model_folder(model: str) -> Path | None:
    """``describe.model`` as a local folder, checked before anything loads; None for a Hugging Face name.

    A name that reads as a path (``/``, ``.`` or ``~`` first, or more than one ``/``) must be a folder with a
    ``config.json`` and a chat template: the prompt is rendered with it (see :mod:`beeformer.describe.prompt`).
    """
    path = Path(model).expanduser()
    if not path.is_dir():
        if model.startswith(("/", ".", "~")) or model.count("/") > 1 or path.exists():
            raise DescribeError(
                f"describe.model: the model folder {model!r} does not exist (a local folder is relative to the "
                "folder Snakemake runs in; a Hugging Face name reads 'org/model')"
            )
        return None
    if not (path / "config.json").is_file():
        raise DescribeError(f"describe.model: {model!r} has no config.json; it is not a Hugging Face model folder")
    if not has_chat_template(path):
        raise DescribeError(
            f"describe.model: {model!r} has no chat template (tokenizer_config.json 'chat_template' or "
            f"{' / '.join(CHAT_TEMPLATE_FILES)}); use an instruction-tuned model or add one (docs/descriptions.md)"
        )
    return path


def has_chat_template(folder: Path) -> bool:
    if any((folder / name).is_file() for name in CHAT_TEMPLATE_FILES):
        return True
    try:
        return bool(json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError, AttributeError):
        return False
