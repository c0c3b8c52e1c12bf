"""Reading a workflow config: which encoders are trained, which methods exist, and cross-reference checks.

The JSON schema (workflow/schemas/config.schema.yaml) checks each entry's shape; this module checks what a
schema cannot: that names refer to entries that exist.
"""

from __future__ import annotations

from typing import Any

#: Collaborative-filtering baselines (Table 4's KNN, ALS MF, ELSA, SANSA; EASE and popularity as sanity rows).
CF_METHODS = ("popularity", "itemknn", "ease", "sansa", "als", "elsa", "elsarec")
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


def is_trained(config: dict[str, Any], method: str) -> bool:
    """True for an encoder trained with beeFormer (every other method is a baseline)."""
    return bool(config["encoders"].get(method, {}).get("train_on"))


def check_method_serves_split(config: dict[str, Any], experiment: str, method: str) -> None:
    """CF cannot score an item split's cold-start candidates; Heater needs users seen in the fit data."""
    spec = config["experiments"][experiment]
    kind = config["splits"][spec["split"]]["kind"]
    problem = None
    if method_kind(config, method) == "cf" and kind == "item":
        problem = "collaborative filtering cannot score an item split's cold-start items; use a time or user split"
    elif method_kind(config, method) == "heater" and kind == "user":
        problem = "Heater needs the evaluation users in its fit data, which a user split holds out"
    if problem:
        raise ConfigError(f"experiments.{experiment}.methods: {method} on split '{spec['split']}' ({kind}): {problem}")


def check_references(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the first setting that refers to a missing entry or cannot work."""
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
            check_method_serves_split(config, name, method)
        reference = experiment.get("reference")
        if reference is not None and (reference not in experiment["methods"] or is_trained(config, reference)):
            raise ConfigError(
                f"experiments.{name}.reference: '{reference}' must be one of the experiment's baseline methods"
            )
    check_tables(config)


# --------------------------------------------------------------------------- result tables

#: The paper's metrics, the columns of every table unless the config's table says otherwise.
TABLE_METRICS = ["recall@20", "recall@50", "ndcg@100"]


def table_names(config: dict[str, Any]) -> list[str]:
    """Every table the workflow renders: one per experiment, then the configured ``tables``."""
    return [*config["experiments"], *config.get("tables", {})]


def eval_files(config: dict[str, Any], experiment: str, method: str) -> tuple[str, str]:
    """A method's metrics.json and per_user.parquet in an experiment."""
    spec = config["experiments"][experiment]
    folder = f"results/eval/{spec['split']}/{spec.get('phase', 'test')}/{method}"
    return f"{folder}/metrics.json", f"{folder}/per_user.parquet"


def table_spec(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The spec ``beeformer report`` renders (see beeformer.report.spec) for an experiment or a configured table."""
    evaluation = config.get("evaluation", {})
    if name in config["experiments"]:
        experiment = config["experiments"][name]
        table: dict[str, Any] = {
            "caption": experiment.get("title", name),
            "blocks": [{"experiment": name, "label": name, "groups": {"": experiment["methods"]}}],
        }
    else:
        table = config["tables"][name]
    labels = table.get("labels", {})
    published = table.get("published", {})
    blocks = []
    for block in table["blocks"]:
        experiment = block["experiment"]
        groups = block.get("groups") or {"": config["experiments"][experiment]["methods"]}
        blocks.append(
            {
                "experiment": experiment,
                "label": block.get("label", experiment),
                "reference": block.get("reference", config["experiments"][experiment].get("reference")),
                "groups": [
                    {"label": label, "rows": [_row(config, experiment, m, labels, published) for m in methods]}
                    for label, methods in groups.items()
                ],
            }
        )
    spec = {
        "name": name,
        "caption": table.get("caption", name),
        "metrics": table.get("metrics", TABLE_METRICS),
        "n_bootstrap": evaluation.get("n_bootstrap", 1000),
        "seed": evaluation.get("seed", 42),
        "blocks": blocks,
    }
    for key in ("headers", "claims"):
        if key in table:
            spec[key] = table[key]
    return spec


def table_inputs(config: dict[str, Any], name: str) -> list[str]:
    """The metrics.json and per_user.parquet files a table reads."""
    spec = table_spec(config, name)
    return [
        path
        for block in spec["blocks"]
        for group in block["groups"]
        for row in group["rows"]
        for path in (row["metrics"], row["per_user"])
    ]


def _row(
    config: dict[str, Any], experiment: str, method: str, labels: dict[str, str], published: dict[str, Any]
) -> dict[str, Any]:
    metrics, per_user = eval_files(config, experiment, method)
    return {
        "method": method,
        "label": labels.get(method, method),
        "trained": is_trained(config, method),
        "metrics": metrics,
        "per_user": per_user,
        "published": published.get(experiment, {}).get(method),
    }


def check_tables(config: dict[str, Any]) -> None:
    """Tables name existing experiments and their methods; published values belong to rows of the table."""
    experiments = config["experiments"]
    for name, table in config.get("tables", {}).items():
        where = f"tables.{name}"
        if name in experiments:
            raise ConfigError(f"{where}: an experiment has this name (its own table); choose another table name")
        rows: set[tuple[str, str]] = set()
        for i, block in enumerate(table["blocks"]):
            experiment = block["experiment"]
            if experiment not in experiments:
                raise ConfigError(
                    f"{where}.blocks[{i}].experiment: unknown experiment '{experiment}'; known: {list(experiments)}"
                )
            methods = experiments[experiment]["methods"]
            for label, group in (block.get("groups") or {"": methods}).items():
                unknown = [m for m in group if m not in methods]
                if unknown:
                    raise ConfigError(
                        f"{where}.blocks[{i}].groups.{label}: {unknown} are not methods of experiment '{experiment}'"
                    )
                rows |= {(experiment, m) for m in group}
        for experiment, values in table.get("published", {}).items():
            for method in values:
                if (experiment, method) not in rows:
                    raise ConfigError(
                        f"{where}.published.{experiment}.{method}: not a row of the table (no block of experiment "
                        f"'{experiment}' shows method '{method}')"
                    )
