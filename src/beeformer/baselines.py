"""Baselines stage: pretrained sentence-Transformers used as they are (zero-shot, content-based).

Each is saved as a sentence-Transformer folder, exactly like a trained beeFormer model, so the evaluate stage
treats every encoder the same way.
"""

from __future__ import annotations

import logging
import os

from sentence_transformers import SentenceTransformer

from beeformer import contract

log = logging.getLogger(__name__)


def save_pretrained(name: str, model_dir: str | os.PathLike[str]) -> None:
    """Load ``name`` (a packaged model, a local folder or a Hugging Face name) and save it to ``model_dir``."""
    model = SentenceTransformer(contract.resolve_model(name), device="cpu", trust_remote_code=True)
    with contract.atomic_dir(model_dir) as tmp:
        model.save(str(tmp))
        contract.write_json({"base_model": name, "trained": False}, os.path.join(tmp, "beeformer.json"))
    log.info("pretrained encoder %s saved to %s", name, model_dir)


def interaction_baseline(method: str) -> None:
    """Collaborative-filtering baselines (ItemKNN, ALS, ELSA, SANSA) and Heater: not implemented yet."""
    raise NotImplementedError(
        f"baseline '{method}' is not implemented yet (tracked in the baselines issue); remove it from the "
        "experiment's methods to run the rest of the workflow."
    )
