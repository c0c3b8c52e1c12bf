"""beeFormer: sentence-Transformer item encoders trained on interactions."""
