"""The model card (README.md) written into a trained model's folder."""

from __future__ import annotations

from typing import Any


def model_card(summary: dict[str, Any]) -> str:
    """Markdown naming the base model, the training data and the hyperparameters."""
    config = summary["config"]
    rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in config.items())
    return f"""---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags: [sentence-transformers, recommender-systems, beeformer]
base_model: {summary["base_model"]}
---

# beeFormer model trained from {summary["base_model"]}

A sentence-Transformer trained on user-item interactions with beeFormer (Vančura, Kordík, Straka, RecSys 2024):
its cosine similarities between item texts follow what users consume together.

- Base model: `{summary["base_model"]}`
- Training data: {", ".join(summary["datasets"])} — {summary["users"]:,} users, {summary["items"]:,} items,
  {summary["interactions"]:,} interactions (training part of the split only)
- Steps: {summary["steps"]} in {summary["seconds"]} s on {summary["processes"]} process(es);
  loss {summary["first_loss"]} -> {summary["final_loss"]}
- Evaluation: see the workflow's `results/tables/` (metrics are computed on held-out items or time periods).

## Use

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/folder")
embeddings = model.encode(["item description", "another item"], normalize_embeddings=True)
```

Score an item for a user as the sum of its cosine similarities to the items in the user's history.

## Hyperparameters

| setting | value |
|---|---|
{rows}

## Citation

V. Vančura, P. Kordík, M. Straka. beeFormer: Bridging the Gap Between Semantic and Interaction Similarity in
Recommender Systems. RecSys 2024. https://doi.org/10.1145/3640457.3691707
"""
