# Target lists and helpers shared by the rules. The logic lives in the beeformer package.
import json
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError

from beeformer import workflow_config

try:
    workflow_config.check_references(config)
except workflow_config.ConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None

DATASETS = list(config["datasets"])
SPLITS = list(config["splits"])
ENCODERS = list(config["encoders"])
TRAINED = workflow_config.trained_encoders(config)
PRETRAINED = workflow_config.pretrained_encoders(config)
EXPERIMENTS = list(config["experiments"])
EVALUATION = config.get("evaluation", {})
SPLIT_PARTS = [
    "train", "validation_source", "validation_target", "test_source", "test_target",
    "validation_candidates", "test_candidates",
]


def one_of(names):
    """A wildcard regex matching exactly these names (or nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def methods_of_kind(kind):
    methods = {m for e in config["experiments"].values() for m in e["methods"]}
    return sorted(m for m in methods if workflow_config.method_kind(config, m) == kind)


wildcard_constraints:
    dataset=one_of(DATASETS),
    split=one_of(SPLITS),
    phase="validation|test",
    experiment=one_of(EXPERIMENTS),


def quoted_json(value):
    return shlex.quote(json.dumps(value))


def table_files(experiment):
    return [f"results/tables/{experiment}.{ext}" for ext in ("md", "csv", "png")]


def all_tables():
    return [path for experiment in EXPERIMENTS for path in table_files(experiment)]


def print_tables():
    for experiment in EXPERIMENTS:
        path = Path(f"results/tables/{experiment}.md")
        if path.exists():
            print(f"\n{path.read_text()}")


# --- data and describe
def dataset_params(wildcards):
    return quoted_json(config["datasets"][wildcards.dataset])


def describe_params(wildcards):
    return quoted_json(config["datasets"][wildcards.dataset].get("describe", {"engine": "none"}))


def describe_gpus(wildcards):
    return config["datasets"][wildcards.dataset].get("describe", {}).get("gpus", 0)


# --- split
def split_dataset(wildcards):
    return config["splits"][wildcards.split]["dataset"]


def split_interactions(wildcards):
    return f"results/data/{split_dataset(wildcards)}/interactions.parquet"


def split_items(wildcards):
    return f"results/data/{split_dataset(wildcards)}/items.parquet"


def split_params(wildcards):
    return quoted_json(config["splits"][wildcards.split])


# --- train
def train_inputs(wildcards):
    inputs = {}
    for split in config["encoders"][wildcards.encoder]["train_on"]:
        dataset = config["splits"][split]["dataset"]
        inputs[f"train_{split}"] = f"results/splits/{split}/train.parquet"
        inputs[f"items_{split}"] = f"results/data/{dataset}/items.parquet"
    return inputs


def train_sources(wildcards):
    args = []
    for split in config["encoders"][wildcards.encoder]["train_on"]:
        dataset = config["splits"][split]["dataset"]
        args.append(f"--source {split} results/splits/{split}/train.parquet results/data/{dataset}/items.parquet")
    return " ".join(args)


def train_params(wildcards):
    encoder = config["encoders"][wildcards.encoder]
    return quoted_json({"base_model": encoder["base"], **encoder.get("train", {})})


def encoder_gpus(wildcards):
    return config["encoders"][wildcards.encoder].get("gpus", 0)


# --- baselines and evaluate
def pretrained_name(wildcards):
    return shlex.quote(config["encoders"][wildcards.encoder]["base"])


def evaluation_option(name, default):
    value = EVALUATION.get(name, default)
    return "" if value is None else f"--{name.replace('_', '-')} {value}"


def recommend_options(wildcards):
    return " ".join(
        evaluation_option(name, default)
        for name, default in (("k", 100), ("batch_size", 64), ("max_seq_length", None))
    )


def evaluate_options(wildcards):
    return f"{evaluation_option('n_bootstrap', 1000)} {evaluation_option('seed', 42)}"


# --- report
def experiment_metrics(wildcards):
    experiment = config["experiments"][wildcards.experiment]
    phase = experiment.get("phase", "test")
    return [f"results/eval/{experiment['split']}/{phase}/{m}/metrics.json" for m in experiment["methods"]]


def report_rows(wildcards):
    experiment = config["experiments"][wildcards.experiment]
    paths = experiment_metrics(wildcards)
    return " ".join(f"--row {shlex.quote(m)} {p}" for m, p in zip(experiment["methods"], paths))


def report_title(wildcards):
    return shlex.quote(config["experiments"][wildcards.experiment].get("title", wildcards.experiment))
