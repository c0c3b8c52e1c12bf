"""The describe stage: features in, item texts out, with the cache, the filter and the report in between."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from beeformer import contract
from beeformer.describe.cache import DescriptionCache, text_key
from beeformer.describe.engine import Engine, Request
from beeformer.describe.refusals import Verdict, clean, judge
from beeformer.describe.settings import GENERATING_ENGINES, DescribeConfig, DescribeError

log = logging.getLogger(__name__)

#: Stop a run after this many failed items in a row (an endpoint that is down), or allow_failures + 1 if larger.
ABORT_AFTER_CONSECUTIVE_FAILURES = 10
EXAMPLES_PER_REASON = 5
EXAMPLE_CHARS = 300


def make_engine(config: DescribeConfig) -> Engine:
    """The generating engine named by ``config.engine`` (its library is imported only when it generates)."""
    if config.engine == "vllm":
        from beeformer.describe.vllm_engine import VllmEngine

        return VllmEngine(config)
    if config.engine == "openai":
        from beeformer.describe.openai_engine import OpenAIEngine

        return OpenAIEngine(config)
    if config.engine == "transformers":
        from beeformer.describe.transformers_engine import TransformersEngine

        return TransformersEngine(config)
    raise DescribeError(f"describe.engine {config.engine!r} does not generate text")


def default_cache_dir(items_path: str | os.PathLike[str]) -> Path:
    return Path(items_path).parent / "describe-cache"


def describe(
    spec: dict[str, Any] | DescribeConfig,
    features_path: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    report_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    engine: Engine | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Write ``items_path`` (item_id, text) from ``features_path`` and the report; return the report.

    ``report_path`` defaults to ``describe.json`` beside ``items_path``, ``cache_dir`` to ``describe-cache``
    beside it. ``engine`` replaces the configured generating engine (tests). Raises :class:`DescribeError` when
    more than ``allow_failures`` items failed (everything finished is cached: rerun to retry the rest) or when no
    item is left.
    """
    config = spec if isinstance(spec, DescribeConfig) else DescribeConfig.from_dict(spec)
    started = time.perf_counter()
    features = contract.read_items(features_path)
    items_path = Path(items_path)
    report_path = Path(report_path) if report_path is not None else items_path.with_name("describe.json")
    report: dict[str, Any] = {"engine": config.engine, "features": str(features_path), "items_in": len(features)}

    if config.engine == "none":
        kept = features[list(contract.ITEM_COLUMNS)].reset_index(drop=True)
        report.update(kept=len(kept), dropped={})
    else:
        if config.engine == "published":
            outputs, failures = _published_outputs(config, features, report)
        else:
            outputs, failures = _generated_outputs(
                config, features, report, cache_dir or default_cache_dir(items_path), engine, progress
            )
        kept = _filter(config, features, outputs, failures, report)
        if len(failures) > config.allow_failures:
            report["seconds"] = round(time.perf_counter() - started, 3)
            contract.write_json(report, report_path)
            _log_drops(report)
            first = "; ".join(f"{f['item_id']}: {f['error']}" for f in report["failures"][:3])
            raise DescribeError(
                f"describe: {len(failures)} item(s) failed (allowed: describe.allow_failures = {config.allow_failures})"
                f", e.g. {first}. Everything finished is cached in {report.get('cache', {}).get('file')}; "
                f"rerun to retry only the failed items. Report: {report_path}"
            )
    report["seconds"] = round(time.perf_counter() - started, 3)
    contract.write_json(report, report_path)
    _log_drops(report)
    if kept.empty:
        raise DescribeError(f"describe: no item left to write (see {report_path}); check the engine's outputs")
    contract.write_table(kept, items_path)
    dropped = ", ".join(f"{n} {reason}" for reason, n in report["dropped"].items() if n) or "none"
    log.info(
        "describe (%s): %d of %d items written -> %s; dropped: %s",
        config.engine,
        len(kept),
        len(features),
        items_path,
        dropped,
    )
    return report


# --------------------------------------------------------------------------- sources of outputs


def _published_outputs(config, features, report):
    from beeformer.describe.published import read_published

    published = read_published(config.published)
    outputs = {}
    for item_id in features["item_id"]:
        text = published.get(item_id)
        if text is not None:
            outputs[item_id] = (text, None)
    report.update(
        published=str(config.published.path),
        published_rows=len(published),
        published_unused=int((~published.index.isin(features["item_id"])).sum()),
    )
    return outputs, {}


def _generated_outputs(config, features, report, cache_dir, engine, progress):
    """Raw (output, finish reason) per item id, from the cache or generated now; and item id -> error."""
    engine = engine or make_engine(config)
    keys = [text_key(text) for text in features["text"]]
    todo: dict[str, Request] = {}
    first_item: dict[str, str] = {}
    cache = DescriptionCache(cache_dir, engine.name, engine.cache_settings())
    for key, item_id, text in zip(keys, features["item_id"], features["text"], strict=True):
        first_item.setdefault(key, item_id)
        if key not in cache and key not in todo:
            todo[key] = Request(key, text)
    unique = len(first_item)
    report.update(model=config.model, unique_texts=unique, reused=unique - len(todo), generated=0)
    log.info(
        "describe (%s): %d items, %d distinct texts, %d cached in %s, %d to generate",
        engine.name,
        len(features),
        unique,
        unique - len(todo),
        cache.path,
        len(todo),
    )
    errors: dict[str, str] = {}
    generation_started = time.perf_counter()
    if todo:
        _run_engine(engine, list(todo.values()), cache, errors, first_item, config, progress, report)
    generation_seconds = time.perf_counter() - generation_started - engine.load_seconds
    report["load_seconds"] = round(engine.load_seconds, 3)
    report["generated_per_second"] = round(report["generated"] / generation_seconds, 3) if report["generated"] else None
    report["cache"] = {
        "file": str(cache.path),
        "settings_hash": cache.hash,
        "entries": len(cache),
        "unreadable_lines": cache.skipped_lines,
    }
    report["settings"] = cache.settings
    outputs, failures = {}, {}
    for key, item_id in zip(keys, features["item_id"], strict=True):
        entry = cache.get(key)
        if entry is not None:
            outputs[item_id] = (entry.output, entry.finish_reason)
        else:
            failures[item_id] = errors.get(key, "the engine returned no result for this item")
    return outputs, failures


def _run_engine(engine, requests, cache, errors, first_item, config, progress, report) -> None:
    from tqdm.auto import tqdm

    if progress is None:
        progress = True
    interactive = sys.stderr.isatty()
    bar = tqdm(
        total=len(requests),
        unit="item",
        desc=f"describe ({engine.name})",
        disable=not progress,
        mininterval=0.5 if interactive else 30.0,
        file=sys.stderr,
        dynamic_ncols=interactive,
    )
    abort_after = max(ABORT_AFTER_CONSECUTIVE_FAILURES, config.allow_failures + 1)
    consecutive = 0
    results = engine.generate(requests)
    try:
        for result in results:
            if result.error is not None or result.output is None:
                errors[result.key] = result.error or "no output"
                consecutive += 1
                if consecutive >= abort_after:
                    raise DescribeError(
                        f"describe ({engine.name}): {consecutive} items in a row failed, stopping; last error: "
                        f"{errors[result.key]}. Finished descriptions are cached in {cache.path}."
                    )
            else:
                cache.put(result.key, result.output, result.finish_reason, item_id=first_item.get(result.key))
                report["generated"] += 1
                consecutive = 0
            bar.update(1)
    finally:
        getattr(results, "close", lambda: None)()
        bar.close()
        engine.close()
        cache.close()


# --------------------------------------------------------------------------- the filter and the report


def _filter(config, features, outputs, failures, report) -> pd.DataFrame:
    enabled = config.filter_enabled
    prefill = config.prompt.prefill if config.engine in GENERATING_ENGINES else ""
    dropped: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {}
    kept_ids, kept_texts, trimmed = [], [], 0
    for item_id in features["item_id"]:
        if item_id in failures:
            dropped["failed"] += 1
            continue
        if item_id not in outputs:
            dropped["missing"] += 1
            _example(examples, "missing", {"item_id": item_id})
            continue
        output, finish = outputs[item_id]
        if enabled:
            verdict = judge(output, finish, config.filter, prefill)
        else:
            text = clean(output, prefill) if prefill else output.strip()
            verdict = Verdict(text) if text else Verdict(None, "empty", "empty")
        if verdict.text is None:
            dropped[verdict.reason] += 1
            rules[verdict.rule] += 1
            _example(
                examples,
                verdict.reason,
                {"item_id": item_id, "rule": verdict.rule, "finish_reason": finish, "output": output[:EXAMPLE_CHARS]},
            )
            continue
        trimmed += verdict.trimmed
        kept_ids.append(item_id)
        kept_texts.append(verdict.text)
    report.update(
        kept=len(kept_ids),
        trimmed=trimmed,
        dropped={reason: dropped.get(reason, 0) for reason in ("failed", "missing", "empty", "refusal", "truncated")},
        rules=dict(rules.most_common()),
        filter={**asdict(config.filter), "enabled": enabled},
        examples=examples,
        failures=[{"item_id": i, "error": e} for i, e in list(failures.items())[:20]],
    )
    return pd.DataFrame({"item_id": kept_ids, "text": kept_texts}, columns=list(contract.ITEM_COLUMNS))


def _log_drops(report: dict[str, Any]) -> None:
    """The drop counts and one example per reason, in the log (Snakemake removes the report of a failed job)."""
    for reason, count in report.get("dropped", {}).items():
        if count:
            example = (report.get("examples", {}).get(reason) or [{}])[0]
            log.warning("describe: %d item(s) dropped (%s), e.g. %s", count, reason, json.dumps(example)[:400])


def _example(examples: dict[str, list[dict[str, Any]]], reason: str, example: dict[str, Any]) -> None:
    bucket = examples.setdefault(reason, [])
    if len(bucket) < EXAMPLES_PER_REASON:
        bucket.append(example)
