"""Evaluate stage: content-based predictions from an encoder, ranking metrics with bootstrap errors."""
