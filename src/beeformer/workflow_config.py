"""Reading a workflow config: which encoders are trained, which methods exist, and cross-reference checks.

The JSON schema (workflow/schemas/config.schema.yaml) checks each entry's shape; this module checks what a
schema cannot: that names refer to entries that exist.
"""

from __future__ import annotations

import os
from typing import Any

#: Collaborative-filtering baselines (Table 4's KNN, ALS MF, ELSA, SANSA; EASE and popularity as sanity rows).
CF_METHODS = ("popularity", "itemknn", "ease", "sansa", "als", "elsa", "elsarec")
#: The evaluation phases: settings are chosen on validation, the test phase is reported.
PHASES = ("validation", "test")
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


def refits(config: dict[str, Any], encoder: str) -> bool:
    """A trained encoder is refit on train_full for the test phase unless it says ``refit: false``."""
    spec = config["encoders"][encoder]
    return bool(spec.get("train_on")) and spec["refit"]


def tunes(config: dict[str, Any], encoder: str) -> bool:
    """Whether a trained encoder's validation run chooses anything: a list of settings, eval_every or patience.

    Without, its refit trains the settings as given and skips the validation run (unless a validation phase
    needs the validation model), as the authors train their released models.
    """
    train = config["encoders"][encoder].get("train", {})
    return any(isinstance(v, list) for v in train.values()) or any(
        train.get(key) is not None for key in ("eval_every", "patience")
    )


def tuning_file(encoder: str) -> str:
    return f"results/training/{encoder}/validation/tuning.json"


def model_name(config: dict[str, Any], encoder: str, split: str, phase: str) -> str:
    """The model an encoder scores a split's phase with, as a path under results/models/ (and results/embeddings/).

    Pretrained: ``<encoder>``. Trained: its final model, ``<encoder>/test`` (refit on ``train_full``) or, with
    ``refit: false``, ``<encoder>/validation`` (trained on ``train``); except that the validation phase of a split
    whose dataset the encoder trains on scores ``<encoder>/validation``: no validation phase ever scores a model
    that trained on its interactions, and a model trained on other datasets only is the same in both phases.
    """
    if encoder not in trained_encoders(config):
        return encoder
    dataset = config["splits"][split]["dataset"]
    own = {config["splits"][s]["dataset"] for s in config["encoders"][encoder]["train_on"]}
    if phase == "validation" and dataset in own:
        return f"{encoder}/validation"
    return final_model(config, encoder)


def model_names(config: dict[str, Any]) -> list[str]:
    """Every model folder the workflow can build (the embed rule's wildcard values)."""
    return sorted(
        {
            model_name(config, encoder, split, phase)
            for encoder in config["encoders"]
            for split in config["splits"]
            for phase in PHASES
        }
    )


def final_model(config: dict[str, Any], encoder: str) -> str:
    """An encoder's model for use after evaluation: pretrained as it is, trained refit on train_full (``test``) or,
    with ``refit: false``, its validation model."""
    if encoder not in trained_encoders(config):
        return encoder
    return f"{encoder}/test" if refits(config, encoder) else f"{encoder}/validation"


def index_options(config: dict[str, Any], name: str) -> str:
    """``beeformer index`` options of a configured index: its settings and the evaluation's encoding."""
    spec, evaluation = config["indexes"][name], config["evaluation"]
    settings = {key: spec.get(key) for key in ("kind", "hnsw_m", "ef_construction", "ef_search")}
    settings |= {key: evaluation[key] for key in ("batch_size", "max_seq_length", "precision")}
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items() if value is not None)


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


def check_train_settings(name: str, encoder: dict[str, Any]) -> None:
    """What a trained encoder's settings can be checked for before any data is read (the rest at the job's start)."""
    train = encoder.get("train", {})
    where = f"encoders.{name}"
    if not encoder.get("train_on"):
        if "train" in encoder:
            raise ConfigError(f"{where}.train: applies to trained encoders (with train_on); this one is pretrained")
        return
    batch_size = train.get("batch_size")
    if isinstance(batch_size, dict) and sorted(batch_size) != sorted(encoder["train_on"]):
        raise ConfigError(
            f"{where}.train.batch_size: {sorted(batch_size)} must name each train_on split once, "
            f"{encoder['train_on']}, or be one number for all"
        )
    steps = train.get("max_steps")
    largest = max(steps) if isinstance(steps, list) else steps
    eval_every = train.get("eval_every")
    if eval_every is not None and largest is not None and eval_every > largest:
        raise ConfigError(
            f"{where}.train.eval_every: {eval_every} is larger than the run's {largest} steps (max_steps), so the "
            "validation curve would have no point; lower it"
        )
    if train.get("patience") is not None and eval_every is None and not isinstance(steps, list):
        raise ConfigError(
            f"{where}.train.patience: early stopping counts validation scores, and without eval_every (or a list "
            "of max_steps) the run is scored only at its end; set eval_every"
        )


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
    for name, split in splits.items():
        if split.get("candidates", "all") == "active" and split["kind"] != "time":
            raise ConfigError(
                f"splits.{name}.candidates: 'active' is the authors' time-split protocol and means nothing on a "
                f"{split['kind']} split; drop it"
            )
    for name, encoder in encoders.items():
        for split in encoder.get("train_on", []):
            if split not in splits:
                raise ConfigError(f"encoders.{name}.train_on: unknown split '{split}'; known: {list(splits)}")
        check_train_settings(name, encoder)
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
    for name, index in config.get("indexes", {}).items():
        for key, known in (("encoder", encoders), ("dataset", datasets)):
            if index[key] not in known:
                raise ConfigError(f"indexes.{name}.{key}: unknown {key} '{index[key]}'; known: {list(known)}")
    check_tables(config)


# --------------------------------------------------------------------------- compute resources


def threads(config: dict[str, Any]) -> int:
    """CPU threads of a multi-threaded job: ``threads``, or every core of the machine that builds the DAG.

    Snakemake caps a local job's threads at ``--cores``; a cluster job asks its node for this many.
    """
    return config.get("threads") or os.cpu_count() or 1


def training_gpus(config: dict[str, Any], encoder: str) -> int:
    return config["encoders"][encoder]["gpus"]


def training_processes(config: dict[str, Any], encoder: str) -> int:
    """Processes of a training job: ``processes``, or one per GPU, or one."""
    spec = config["encoders"][encoder]
    return spec.get("processes") or max(training_gpus(config, encoder), 1)


def train_launcher(config: dict[str, Any], encoder: str) -> str:
    """``python -m beeformer``, or torchrun with one worker per process on this node when there are several.

    A cluster job is one task holding the node's share (CPUs, GPUs) that torchrun splits among its workers.
    """
    processes = training_processes(config, encoder)
    if processes > 1:
        return f"torchrun --standalone --nproc_per_node={processes} -m beeformer"
    return "python -m beeformer"


def threads_per_process(config: dict[str, Any], encoder: str, job_threads: int) -> int:
    """OMP threads of each training process: the job's threads shared by its processes (at least one)."""
    return max(job_threads // training_processes(config, encoder), 1)


# --------------------------------------------------------------------------- the describe stage

#: Engines that read texts instead of generating them: they need no GPU.
READING_ENGINES = ("none", "published")


#: Peak memory of the data stage by source: Amazon Books (51M ratings) needs far more than the others.
DATA_MEM_MB = {"amazon-books": 64000, "movielens-20m": 12000, "union": 12000}


def dataset_mem_mb(config: dict[str, Any], dataset: str) -> int:
    return DATA_MEM_MB.get(config["datasets"][dataset]["source"], 8000)


def describe_spec(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    return config["datasets"][dataset].get("describe") or {"engine": "none"}


def describe_engine(config: dict[str, Any], dataset: str) -> str:
    return describe_spec(config, dataset)["engine"]


def describe_gpus(config: dict[str, Any], dataset: str) -> int:
    """``describe.gpus``; by default the tensor-parallel size for vllm (1 if unset) and none for other engines."""
    spec = describe_spec(config, dataset)
    engine = describe_engine(config, dataset)
    if engine in READING_ENGINES:
        return 0  # reading texts needs no GPU, whatever an overlaid config left in `gpus`
    if spec.get("gpus") is not None:
        return spec["gpus"]
    if engine == "vllm":
        return (spec.get("vllm") or {}).get("tensor_parallel_size") or 1
    return 0


def describe_threads(config: dict[str, Any], dataset: str) -> int:
    """CPU threads: all (``threads``) for a model that runs on the CPU, a few for vLLM's tokenization, else one."""
    engine = describe_engine(config, dataset)
    if engine == "transformers" or (engine == "vllm" and describe_gpus(config, dataset) == 0):
        return threads(config)
    return 4 if engine == "vllm" else 1


def describe_python(config: dict[str, Any], dataset: str) -> str:
    """The interpreter of the describe job: ``vllm_python`` for engine vllm when set, else the workflow's."""
    if describe_engine(config, dataset) == "vllm" and config.get("vllm_python"):
        return str(config["vllm_python"])
    return "python"


def describe_conda_env(config: dict[str, Any], dataset: str) -> str:
    """The env file (under envs/) for --use-conda: vLLM's own, GPU or CPU build by ``describe.gpus``."""
    if describe_engine(config, dataset) != "vllm":
        return "beeformer.yaml"
    return "vllm-gpu.yaml" if describe_gpus(config, dataset) > 0 else "vllm-cpu.yaml"


# --------------------------------------------------------------------------- result tables

#: The paper's metrics, the columns of every table unless the config's table says otherwise.
TABLE_METRICS = ["recall@20", "recall@50", "ndcg@100"]


def table_names(config: dict[str, Any]) -> list[str]:
    """Every table the workflow renders: one per experiment, then the configured ``tables``."""
    return [*config["experiments"], *config.get("tables", {})]


def eval_files(config: dict[str, Any], experiment: str, method: str) -> tuple[str, str]:
    """A method's metrics.json and per_user.parquet in an experiment."""
    spec = config["experiments"][experiment]
    folder = f"results/eval/{spec['split']}/{spec['phase']}/{method}"
    return f"{folder}/metrics.json", f"{folder}/per_user.parquet"


def table_spec(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The spec ``beeformer report`` renders (see beeformer.report.spec) for an experiment or a configured table."""
    evaluation = config["evaluation"]
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
        "blocks": blocks,
    }
    spec.update({key: evaluation[key] for key in ("n_bootstrap", "seed") if key in evaluation})  # else the report's
    for key in ("headers", "claims"):
        if key in table:
            spec[key] = table[key]
    return spec


def table_inputs(config: dict[str, Any], name: str) -> list[str]:
    """The metrics.json, per_user.parquet and tuning.json files a table reads."""
    spec = table_spec(config, name)
    paths = [
        path
        for block in spec["blocks"]
        for group in block["groups"]
        for row in group["rows"]
        for path in (row["metrics"], row["per_user"], row["tuning"])
        if path is not None
    ]
    return list(dict.fromkeys(paths))


def _row(
    config: dict[str, Any], experiment: str, method: str, labels: dict[str, str], published: dict[str, Any]
) -> dict[str, Any]:
    metrics, per_user = eval_files(config, experiment, method)
    fit, tuning = row_fit(config, experiment, method)
    return {
        "method": method,
        "label": labels.get(method, method),
        "trained": is_trained(config, method),
        "metrics": metrics,
        "per_user": per_user,
        "published": published.get(experiment, {}).get(method),
        "fit": fit,
        "tuning": tuning,
    }


def row_fit(config: dict[str, Any], experiment: str, method: str) -> tuple[str | None, str | None]:
    """What a row's model was fitted on for the experiment's phase, and the tuning.json that chose its settings.

    Pretrained encoders are not fitted (None, None). A trained encoder was fitted on its training splits' train
    or train_full (:func:`model_name`); a baseline on the experiment's split's.
    """
    spec = config["experiments"][experiment]
    phase = spec["phase"]
    kind = method_kind(config, method)
    if kind == "cbf" and not is_trained(config, method):
        return None, None
    if kind == "cbf":
        model = model_name(config, method, spec["split"], phase)
        tuned = tunes(config, method) or model.endswith("/validation")  # the validation run chose or made it
        return ("train_full" if model.endswith("/test") else "train"), tuning_file(method) if tuned else None
    tuning = f"results/eval/{spec['split']}/validation/{method}/tuning.json"
    return ("train_full" if phase == "test" else "train"), tuning


def check_tables(config: dict[str, Any]) -> None:
    """Tables name existing experiments and their methods; published values belong to rows of the table."""
    experiments = config["experiments"]
    for name, table in config.get("tables", {}).items():
        where = f"tables.{name}"
        if name in experiments:
            raise ConfigError(f"{where}: an experiment has this name (its own table); choose another table name")
        rows: set[tuple[str, str]] = set()
        block_rows: dict[str, list[str]] = {}  # block label -> its methods
        for i, block in enumerate(table["blocks"]):
            experiment = block["experiment"]
            if experiment not in experiments:
                raise ConfigError(
                    f"{where}.blocks[{i}].experiment: unknown experiment '{experiment}'; known: {list(experiments)}"
                )
            methods = experiments[experiment]["methods"]
            groups = block.get("groups") or {"": methods}
            for label, group in groups.items():
                unknown = [m for m in group if m not in methods]
                if unknown:
                    raise ConfigError(
                        f"{where}.blocks[{i}].groups.{label}: {unknown} are not methods of experiment '{experiment}'"
                    )
                rows |= {(experiment, m) for m in group}
            block_rows[block.get("label", experiment)] = [m for group in groups.values() for m in group]
        _check_claims(table.get("claims") or [], block_rows, where)
        for experiment, values in table.get("published", {}).items():
            for method in values:
                if (experiment, method) not in rows:
                    raise ConfigError(
                        f"{where}.published.{experiment}.{method}: not a row of the table (no block of experiment "
                        f"'{experiment}' shows method '{method}')"
                    )


def _check_claims(claims: list[dict[str, Any]], block_rows: dict[str, list[str]], where: str) -> None:
    """A claim names a block of the table, one of its methods and, with ``versus``, another of them."""
    for i, claim in enumerate(claims):
        methods = block_rows.get(claim["block"])
        if methods is None:
            raise ConfigError(
                f"{where}.claims[{i}].block: '{claim['block']}' is not a block label; labels: {list(block_rows)}"
            )
        for key in ("method", "versus"):
            if key in claim and claim[key] not in methods:
                raise ConfigError(
                    f"{where}.claims[{i}].{key}: '{claim[key]}' is not a method of block '{claim['block']}'; "
                    f"methods: {methods}"
                )
        if claim.get("versus") == claim["method"]:
            raise ConfigError(f"{where}.claims[{i}].versus: a method compared with itself; name another method")
