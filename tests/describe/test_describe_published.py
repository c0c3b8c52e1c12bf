"""Engines published (the authors' released descriptions) and none (features as they are)."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.feather
import pytest
from conftest import SHARED_DATA

from beeformer import contract
from beeformer.describe import DescribeError, describe

GOODBOOKS = SHARED_DATA / "goodbooks" / "item_text_descriptions.feather"
PUBLISHED = {"path": str(GOODBOOKS), "id_column": "book_id", "text_column": "llama31_description"}


@pytest.fixture(scope="module")
def goodbooks():
    if not GOODBOOKS.exists():
        pytest.skip(f"the Goodbooks sample is not at {GOODBOOKS} (set BEEFORMER_SHARED_DATA)")
    return pd.read_feather(GOODBOOKS)


def test_published_goodbooks_descriptions(goodbooks, tmp_path):
    ids = goodbooks["book_id"].astype(str).tolist()
    wanted = [*ids[:300], "999999", "not-a-book"]  # two items without a published description
    features = tmp_path / "item_features.parquet"
    contract.write_table(pd.DataFrame({"item_id": wanted, "text": [f"features of {i}" for i in wanted]}), features)
    report = describe({"engine": "published", "published": PUBLISHED}, features, tmp_path / "items.parquet")
    items = contract.read_items(tmp_path / "items.parquet")
    assert items["item_id"].tolist() == ids[:300]
    assert items["text"].tolist() == goodbooks["llama31_description"].str.strip().tolist()[:300]
    assert report["dropped"]["missing"] == 2 and report["kept"] == 300
    assert report["published_rows"] == len(goodbooks) == 9975 and report["published_unused"] == 9975 - 300
    assert report["filter"]["enabled"] is False  # the authors' texts are already their filtered set
    assert json.loads((tmp_path / "describe.json").read_text())["kept"] == 300


def test_published_goodbooks_with_the_filter(goodbooks, tmp_path):
    ids = goodbooks["book_id"].astype(str).tolist()
    features = tmp_path / "item_features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ids, "text": ids}), features)
    report = describe(
        {"engine": "published", "published": PUBLISHED, "filter": {"enabled": True}},
        features,
        tmp_path / "items.parquet",
    )
    # the released texts hold a handful of "I don't have the capability to read ..." replies (Arabic input)
    assert report["dropped"] == {"failed": 0, "missing": 0, "empty": 0, "refusal": 7, "truncated": 0}
    assert report["rules"] == {"no-capability": 7} and report["kept"] == 9975 - 7
    assert all("capability" in example["output"] for example in report["examples"]["refusal"])


def test_published_goodbooks_texts_keep_their_quotes_and_ignore_the_stored_index(goodbooks, tmp_path):
    raw = pyarrow.feather.read_table(GOODBOOKS)  # no pandas: the stored index is a plain column here
    assert raw.column_names == ["book_id", "llama31_description", "__index_level_0__"]
    ids = [str(i) for i in raw.column("book_id").to_pylist()]
    texts = raw.column("llama31_description").to_pylist()
    features = tmp_path / "item_features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ids, "text": ids}), features)
    describe({"engine": "published", "published": PUBLISHED}, features, tmp_path / "items.parquet")
    items = contract.read_items(tmp_path / "items.parquet")
    assert list(items.columns) == ["item_id", "text"]
    assert items["text"].tolist() == [t.strip() for t in texts]  # paired by row, quotes and all
    quoted = sum(t.startswith('"') for t in texts)
    assert quoted == 9060 and items["text"].str.startswith('"').sum() == quoted  # the authors' texts, verbatim


def test_published_ids_come_from_the_id_column_not_a_stored_index(tmp_path):
    # a stored index whose values are other items' ids: pairing by it would swap the texts
    frame = pd.DataFrame(
        {"book_id": [3, 1, 2], "llama31_description": ['"Three."', '"One."', '"Two."']}, index=[1, 2, 3]
    )
    pyarrow.feather.write_feather(pa.Table.from_pandas(frame, preserve_index=True), tmp_path / "p.feather")
    features = tmp_path / "features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ["1", "2", "3"], "text": ["a", "b", "c"]}), features)
    published = {"path": str(tmp_path / "p.feather"), "id_column": "book_id", "text_column": "llama31_description"}
    describe({"engine": "published", "published": published}, features, tmp_path / "o.parquet")
    items = contract.read_items(tmp_path / "o.parquet")
    assert dict(zip(items["item_id"], items["text"], strict=True)) == {"1": '"One."', "2": '"Two."', "3": '"Three."'}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".csv.gz"])
def test_published_file_formats_and_ids(tmp_path, suffix):
    path = tmp_path / f"published{suffix}"
    frame = pd.DataFrame({"id": [1.0, 2.0, 2.0], "desc": ["First book.", "Second book.", "A repeat."]})
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    features = tmp_path / "features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ["1", "2", "3"], "text": ["a", "b", "c"]}), features)
    report = describe(
        {"engine": "published", "published": {"path": str(path), "id_column": "id", "text_column": "desc"}},
        features,
        tmp_path / "o.parquet",
    )
    assert contract.read_items(tmp_path / "o.parquet").to_dict("list") == {
        "item_id": ["1", "2"],
        "text": ["First book.", "Second book."],
    }
    assert report["dropped"]["missing"] == 1


def test_published_errors_name_the_setting(tmp_path):
    features = tmp_path / "features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ["1"], "text": ["a"]}), features)
    with pytest.raises(DescribeError, match="needs the file"):
        describe({"engine": "published"}, features, tmp_path / "o.parquet")
    with pytest.raises(DescribeError, match="not found"):
        describe(
            {"engine": "published", "published": {"path": str(tmp_path / "nope.feather")}},
            features,
            tmp_path / "o.parquet",
        )
    pd.DataFrame({"book_id": [1], "other": ["x"]}).to_feather(tmp_path / "p.feather")
    with pytest.raises(DescribeError, match=r"no column\(s\) \['text'\]"):
        describe(
            {"engine": "published", "published": {"path": str(tmp_path / "p.feather"), "id_column": "book_id"}},
            features,
            tmp_path / "o.parquet",
        )


def test_engine_none_keeps_the_features(tmp_path):
    features = tmp_path / "features.parquet"
    frame = pd.DataFrame({"item_id": ["1", "2"], "text": ["I can't help with that.", "A tent."]})
    contract.write_table(frame, features)
    report = describe({}, features, tmp_path / "items.parquet", report_path=tmp_path / "r.json")
    assert contract.read_items(tmp_path / "items.parquet").equals(frame)  # no filter: the features as they are
    assert report == json.loads((tmp_path / "r.json").read_text()) and report["kept"] == 2
    assert not (tmp_path / "describe-cache").exists()
