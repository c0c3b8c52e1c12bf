"""Pretrained sentence-Transformers, used as they are (the zero-shot, content-based rows of Tables 2-4).

Each is saved as a sentence-Transformer folder, exactly like a trained beeFormer model, so embedding and
content-based scoring treat every encoder the same way. What an encoder needs travels inside its folder:
``text_prefix`` becomes the model's default prompt (nomic-embed-text-v1.5 wants ``"search_document: "`` before a
document), ``max_seq_length`` its sequence limit; remote code (nomic) is trusted on load.
"""

from __future__ import annotations

import logging
import os

from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.contract.models import resolve_model

log = logging.getLogger(__name__)


def save_pretrained(
    name: str, model_dir: str | os.PathLike[str], text_prefix: str = "", max_seq_length: int | None = None
) -> None:
    """Load ``name`` (a packaged model, a local folder or a Hugging Face name) and save it to ``model_dir``."""
    model = SentenceTransformer(resolve_model(name), device="cpu", trust_remote_code=True)
    if text_prefix:
        model.prompts = {**model.prompts, "document": text_prefix}
        model.default_prompt_name = "document"
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    with contract.atomic_dir(model_dir) as tmp:
        model.save(str(tmp))
        contract.write_json(
            {"base_model": name, "trained": False, "text_prefix": text_prefix, "max_seq_length": model.max_seq_length},
            os.path.join(tmp, "beeformer.json"),
        )
    print(f"pretrained encoder {name} (max_seq_length {model.max_seq_length}, prefix {text_prefix!r}) -> {model_dir}")
