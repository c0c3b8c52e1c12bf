"""Cache and resume: finished descriptions survive a crash, reruns generate nothing, settings changes regenerate."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from beeformer import contract
from beeformer.describe import DescribeConfig, DescribeError, describe
from beeformer.describe.cache import DescriptionCache, settings_hash, text_key
from beeformer.describe.engine import Engine, Result

TEXTS = [f"Product {i}: a thing with {i} parts" for i in range(10)]


class ScriptedEngine(Engine):
    """A generating engine without a model: echoes the features; can crash or fail on chosen items."""

    name = "scripted"

    def __init__(self, config, crash_after=None, fail_texts=(), crash_with=RuntimeError):
        super().__init__(config)
        self.crash_after = crash_after
        self.fail_texts = set(fail_texts)
        self.crash_with = crash_with
        self.generated: list[str] = []
        self.closed = False

    def generate(self, requests):
        for request in requests:
            if self.crash_after is not None and len(self.generated) >= self.crash_after:
                raise self.crash_with("the engine crashed")
            if request.text in self.fail_texts:
                yield Result(request.key, error="HTTP 500: boom")
                continue
            self.generated.append(request.text)
            yield Result(request.key, f"A fine description of {request.text}.", "stop")

    def close(self):
        self.closed = True


@pytest.fixture
def features(tmp_path):
    path = tmp_path / "item_features.parquet"
    contract.write_table(pd.DataFrame({"item_id": [str(i) for i in range(len(TEXTS))], "text": TEXTS}), path)
    return path


def run(tmp_path, features, spec=None, **engine_options):
    config = DescribeConfig.from_dict({"engine": "transformers", "model": "scripted-model", **(spec or {})})
    engine = ScriptedEngine(config, **engine_options)
    report = describe(
        config, features, tmp_path / "items.parquet", cache_dir=tmp_path / "cache", engine=engine, progress=False
    )
    return engine, report


def test_interrupted_run_resumes_without_regenerating(tmp_path, features):
    config = DescribeConfig.from_dict({"engine": "transformers", "model": "scripted-model"})
    crashing = ScriptedEngine(config, crash_after=4, crash_with=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        describe(
            config, features, tmp_path / "items.parquet", cache_dir=tmp_path / "cache", engine=crashing, progress=False
        )
    assert crashing.generated == TEXTS[:4] and crashing.closed
    assert not (tmp_path / "items.parquet").exists()
    cache_files = list((tmp_path / "cache").glob("*.jsonl"))
    assert len(cache_files) == 1 and len(cache_files[0].read_text().splitlines()) == 4

    engine, report = run(tmp_path, features)
    assert engine.generated == TEXTS[4:]  # only what the crash left undone
    assert report["reused"] == 4 and report["generated"] == 6
    items = contract.read_items(tmp_path / "items.parquet")
    assert list(items["item_id"]) == [str(i) for i in range(10)]
    assert list(items["text"]) == [f"A fine description of {t}." for t in TEXTS]  # nothing lost

    engine, report = run(tmp_path, features)
    assert engine.generated == [] and report["generated"] == 0 and report["reused"] == 10
    assert contract.read_items(tmp_path / "items.parquet").equals(items)


def test_changing_a_setting_regenerates_only_what_it_affects(tmp_path, features):
    run(tmp_path, features)
    engine, _ = run(tmp_path, features, {"sampling": {"temperature": 0.2}})
    assert engine.generated == TEXTS  # a sampling setting is part of the key: everything again
    engine, _ = run(tmp_path, features, {"sampling": {"temperature": 0.2}})
    assert engine.generated == []
    engine, _ = run(tmp_path, features)  # back to the first setting: its file is still there
    assert engine.generated == []
    engine, _ = run(tmp_path, features, {"prompt": {"system": "Be brief."}})
    assert engine.generated == TEXTS
    engine, _ = run(tmp_path, features, {"model": "another-model"})
    assert engine.generated == TEXTS
    # speed-only settings and the filter are not part of the key
    engine, _ = run(
        tmp_path,
        features,
        {"transformers": {"batch_size": 32, "device": "cpu"}, "openai": {"concurrency": 2}, "filter": {"min_chars": 3}},
    )
    assert engine.generated == []
    # one item's features change: only that item is generated
    frame = contract.read_items(features)
    frame.loc[3, "text"] = "Product 3: now with a lid"
    contract.write_table(frame, features)
    engine, report = run(tmp_path, features)
    assert engine.generated == ["Product 3: now with a lid"] and report["reused"] == 9


def test_identical_texts_are_generated_once(tmp_path):
    path = tmp_path / "features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ["a", "b", "c"], "text": ["same", "same", "other"]}), path)
    engine, report = run(tmp_path, path)
    assert engine.generated == ["same", "other"] and report["unique_texts"] == 2
    assert contract.read_items(tmp_path / "items.parquet")["text"].tolist() == [
        "A fine description of same.",
        "A fine description of same.",
        "A fine description of other.",
    ]


def test_failed_items_fail_the_stage_then_a_rerun_retries_only_them(tmp_path, features):
    with pytest.raises(DescribeError, match=r"2 item\(s\) failed.*rerun"):
        run(tmp_path, features, fail_texts=TEXTS[2:4])
    report = json.loads((tmp_path / "describe.json").read_text())
    assert report["dropped"]["failed"] == 2 and report["failures"][0]["error"] == "HTTP 500: boom"
    assert not (tmp_path / "items.parquet").exists()
    engine, report = run(tmp_path, features)
    assert engine.generated == TEXTS[2:4] and report["kept"] == 10


def test_allowed_failures_are_dropped_and_reported(tmp_path, features):
    _, report = run(tmp_path, features, {"allow_failures": 2}, fail_texts=TEXTS[:2])
    assert report["kept"] == 8 and report["dropped"]["failed"] == 2
    assert contract.read_items(tmp_path / "items.parquet")["item_id"].tolist() == [str(i) for i in range(2, 10)]


def test_many_failures_in_a_row_stop_the_run(tmp_path, features):
    many = [f"Product {i}" for i in range(30)]
    path = tmp_path / "many.parquet"
    contract.write_table(pd.DataFrame({"item_id": [str(i) for i in range(30)], "text": many}), path)
    with pytest.raises(DescribeError, match="10 items in a row failed"):
        run(tmp_path, path, fail_texts=many[5:])
    entries = DescriptionCache(tmp_path / "cache", "scripted", _settings()).path
    assert len(entries.read_text().splitlines()) == 5  # what finished before is kept


def _settings():
    config = DescribeConfig.from_dict({"engine": "transformers", "model": "scripted-model"})
    return ScriptedEngine(config).cache_settings()


def test_cache_skips_a_line_cut_short_and_mends_the_file(tmp_path):
    cache = DescriptionCache(tmp_path, "scripted", _settings())
    cache.put(text_key("a"), "Output a.", "stop", item_id="1")
    cache.put(text_key("b"), "Output b.", "length", item_id="2")
    cache.close()
    with cache.path.open("a") as handle:  # a crash in the middle of writing the third record
        handle.write('{"key": "' + text_key("c") + '", "outp')
    again = DescriptionCache(tmp_path, "scripted", _settings())
    assert len(again) == 2 and again.skipped_lines == 1
    assert again.get(text_key("b")).finish_reason == "length" and again.get(text_key("c")) is None
    again.put(text_key("c"), "Output c.", "stop")
    again.close()
    third = DescriptionCache(tmp_path, "scripted", _settings())
    assert len(third) == 3 and third.get(text_key("c")).output == "Output c."
    settings = json.loads(third.settings_path.read_text())
    assert settings["model"] == "scripted-model" and settings["sampling"]["temperature"] == 0.1


def test_settings_hash_is_stable_and_order_free():
    assert settings_hash({"a": 1, "b": [1, 2]}) == settings_hash({"b": [1, 2], "a": 1})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})
    assert len(settings_hash({})) == 16
