"""Baselines stage: every method the paper compares beeFormer with.

- :mod:`.pretrained`: pretrained sentence-Transformers saved as model folders (content-based, zero-shot);
- :mod:`.cf`: collaborative filtering (popularity, ItemKNN, EASE, SANSA, ALS, ELSA) for time and user splits;
- :mod:`.heater`: Heater, content embeddings mapped into a collaborative space, for cold-start items;
- :mod:`.tuning`: the protocol they share (grid on validation, refit, test once); :mod:`.base`: their interface.
"""
