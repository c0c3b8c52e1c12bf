"""Train stage: beeFormer training of a sentence-Transformer on interactions (Algorithm 1)."""
