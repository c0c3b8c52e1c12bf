"""Reading a workflow config: which encoders are trained, which methods exist, and cross-reference checks.

The JSON schema (workflow/schemas/config.schema.yaml) checks each entry's shape; this module checks what a
schema cannot: that names refer to entries that exist.
"""

from __future__ import annotations

from typing import Any

#: Collaborative-filtering baselines of the time-split table (Table 4).
CF_METHODS = ("itemknn", "als", "elsa", "sansa")
#: Prefix of a Heater method: ``heater-<encoder>`` maps that encoder's embeddings to interactions (Table 3).
HEATER_PREFIX = "heater-"


class ConfigError(ValueError):
    """The config refers to something that does not exist; the message names the setting."""


def trained_encoders(config: dict[str, Any]) -> list[str]:
    """Encoders with ``train_on``: beeFormer models the workflow trains."""
    return [name for name, spec in config["encoders"].items() if spec.get("train_on")]


def pretrained_encoders(config: dict[str, Any]) -> list[str]:
    """Encoders without ``train_on``: pretrained sentence-Transformers used as they are."""
    return [name for name, spec in config["encoders"].items() if not spec.get("train_on")]


def method_kind(config: dict[str, Any], method: str) -> str:
    """``cbf`` (an encoder's content-based scores), ``heater`` or ``cf``."""
    if method in config["encoders"]:
        return "cbf"
    if method.startswith(HEATER_PREFIX) and method[len(HEATER_PREFIX) :] in config["encoders"]:
        return "heater"
    if method in CF_METHODS:
        return "cf"
    raise ConfigError(
        f"method '{method}': not an encoder of 'encoders', not 'heater-<encoder>', not one of {list(CF_METHODS)}"
    )


def check_references(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the first setting that refers to a missing entry."""
    datasets, splits, encoders = config["datasets"], config["splits"], config["encoders"]
    for name, split in splits.items():
        if split["dataset"] not in datasets:
            raise ConfigError(f"splits.{name}.dataset: unknown dataset '{split['dataset']}'; known: {list(datasets)}")
    for name, encoder in encoders.items():
        for split in encoder.get("train_on", []):
            if split not in splits:
                raise ConfigError(f"encoders.{name}.train_on: unknown split '{split}'; known: {list(splits)}")
    for name, experiment in config["experiments"].items():
        if experiment["split"] not in splits:
            raise ConfigError(f"experiments.{name}.split: unknown split '{experiment['split']}'; known: {list(splits)}")
        for method in experiment["methods"]:
            try:
                method_kind(config, method)
            except ConfigError as error:
                raise ConfigError(f"experiments.{name}.methods: {error}") from None
