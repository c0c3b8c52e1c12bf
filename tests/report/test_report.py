"""The report's tables from real metrics files: known differences, Holm over the table, rendering, bad input, CLI."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from beeformer import cli, contract
from beeformer.contract.metrics import summarize
from beeformer.report import claim_holds, render_table
from beeformer.report.results import COLUMNS

METRICS = ["recall@20", "recall@50", "ndcg@100"]
SHIFT = 0.0625
N_USERS = 600


# --------------------------------------------------------------------------- fixtures


def method_values(seed: int, level: float, n_users: int = N_USERS) -> pd.DataFrame:
    """Per-user values like recall: zero-inflated multiples of 1/16 (exact in binary), user ids u00000..."""
    rng = np.random.default_rng(seed)
    columns = {
        metric: rng.binomial(16, level * (1 + 0.2 * j), n_users) * (rng.random(n_users) < 0.6) / 16.0
        for j, metric in enumerate(METRICS)
    }
    return pd.DataFrame(columns, index=pd.Index([f"u{i:05d}" for i in range(n_users)], name="user_id"))


def write_method(
    root: Path, method: str, values: pd.DataFrame, targets: str = "split/test_target.parquet", **row: Any
) -> dict[str, Any]:
    """The evaluate stage's metrics.json (through the real summarize) and per_user.parquet; the spec row."""
    folder = root / method
    summary = {"metrics": summarize(values, n_bootstrap=50, seed=1), "predictions": "p.parquet", "targets": targets}
    contract.write_json(summary, folder / "metrics.json")
    contract.write_table(values.reset_index(), folder / "per_user.parquet")
    return {
        "method": method,
        "trained": False,
        "metrics": str(folder / "metrics.json"),
        "per_user": str(folder / "per_user.parquet"),
        **row,
    }


def table_spec(blocks: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {
        "name": "table3",
        "caption": "Table 3: cold-start scenario, item split",
        "metrics": list(METRICS),
        "n_bootstrap": 200,
        "seed": 42,
        "confidence": 0.95,
        "blocks": blocks,
        **settings,
    }


@pytest.fixture()
def values() -> dict[str, pd.DataFrame]:
    """Block GB10K: two baselines (heater-nomic is the best), a trained model = best baseline + SHIFT on every user,
    a trained copy of the best baseline, an independent trained model. Block ML20M: a baseline and a trained model.
    """
    best = method_values(1, 0.25)
    return {
        "heater-mpnet": method_values(0, 0.15),
        "heater-nomic": best,
        "llama-shift": best + SHIFT,
        "llama-copy": best.copy(),
        "llama-other": method_values(2, 0.27),
        "bge-m3": method_values(3, 0.10, n_users=300),
        "llama-ml": method_values(4, 0.12, n_users=300),
    }


@pytest.fixture()
def spec(tmp_path: Path, values: dict[str, pd.DataFrame]) -> dict[str, Any]:
    def row(name: str, **extra: Any) -> dict[str, Any]:
        return write_method(tmp_path / "eval", name, values[name], **extra)

    published = {"recall@20": 0.2, "recall@50": 0.3, "ndcg@100": 0.4}
    return table_spec(
        [
            {
                "experiment": "table3-goodbooks-cold-start",
                "label": "GB10K",
                "reference": None,
                "groups": [
                    {
                        "label": "CBF",
                        "rows": [
                            row("llama-shift", trained=True, label="Llama-goodbooks-mpnet", published=published),
                            row("llama-copy", trained=True),
                            row("llama-other", trained=True),
                        ],
                    },
                    {"label": "Heater", "rows": [row("heater-mpnet"), row("heater-nomic", label="nomic_v1.5")]},
                ],
            },
            {
                "experiment": "table3-movielens-cold-start",
                "label": "ML20M",
                "groups": [
                    {
                        "label": "CBF",
                        "rows": [
                            row("bge-m3", targets="ml/test_target.parquet"),
                            row("llama-ml", trained=True, targets="ml/test_target.parquet"),
                        ],
                    }
                ],
            },
        ]
    )


def outputs(folder: Path) -> dict[str, Path]:
    return {
        kind: folder / f"table3.{ext}"
        for kind, ext in (("markdown", "md"), ("latex", "tex"), ("csv", "csv"), ("html", "html"), ("png", "png"))
    }


def record(frame: pd.DataFrame, method: str, metric: str) -> pd.Series:
    return frame[(frame["method"] == method) & (frame["metric"] == metric)].iloc[0]


# --------------------------------------------------------------------------- the numbers


def test_known_differences(spec: dict[str, Any], values: dict[str, pd.DataFrame]) -> None:
    frame = render_table(spec)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 7 * len(METRICS)
    for metric in METRICS:
        shift, copy, ref = (record(frame, m, metric) for m in ("llama-shift", "llama-copy", "heater-nomic"))
        assert shift["reference"] == copy["reference"] == ref["reference"] == "heater-nomic"
        assert (shift["diff"], shift["diff_se"], shift["ci_low"], shift["ci_high"]) == (SHIFT, 0, SHIFT, SHIFT)
        assert shift["p"] == 0 and bool(shift["significant"])
        assert (copy["diff"], copy["diff_se"], copy["p"], copy["p_holm"]) == (0, 0, 1, 1)
        assert not copy["significant"]
        assert np.isnan(ref["diff"]) and np.isnan(ref["p"]) and pd.isna(ref["significant"])
        assert ref["mean"] == values["heater-nomic"][metric].mean()
        assert ref["se"] == summarize(values["heater-nomic"], n_bootstrap=50, seed=1)[metric]["se"]
        other = record(frame, "llama-other", metric)
        a, b = values["llama-other"][metric], values["heater-nomic"][metric]
        assert other["diff"] == pytest.approx(a.mean() - b.mean(), abs=1e-15)
        assert other["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-10)
        assert other["ci_low"] < other["diff"] < other["ci_high"]
        assert record(frame, "llama-ml", metric)["reference"] == "bge-m3"  # each block has its own reference


def test_holm_over_the_whole_table(spec: dict[str, Any]) -> None:
    frame = render_table(spec)
    tested = frame[frame["p"].notna()]
    assert len(tested) == 5 * len(METRICS)  # 4 rows vs the reference in GB10K, 1 in ML20M, each metric
    p = tested["p"].to_numpy()
    order = np.argsort(p)
    expected = np.empty_like(p)
    running = 0.0
    for step, index in enumerate(order):  # Holm by hand: running max of (m - step) * p_(step), capped at 1
        running = max(running, min(1.0, (len(p) - step) * p[index]))
        expected[index] = running
    np.testing.assert_allclose(tested["p_holm"], expected, rtol=1e-12)
    assert (tested["significant"] == (tested["p_holm"] < 0.05)).all()


def test_reference_is_the_best_baseline_per_metric(tmp_path: Path) -> None:
    a, b = method_values(5, 0.2), method_values(6, 0.2)
    a["recall@20"], b["recall@20"] = 0.5, 0.25  # a is the better baseline on recall@20 only
    a["ndcg@100"], b["ndcg@100"] = 0.125, 0.25
    rows = [
        write_method(tmp_path, "a", a),
        write_method(tmp_path, "b", b),
        write_method(tmp_path, "t", a, trained=True),
    ]
    frame = render_table(table_spec([{"experiment": "e", "groups": [{"label": "", "rows": rows}]}]))
    assert record(frame, "t", "recall@20")["reference"] == "a"
    assert record(frame, "t", "ndcg@100")["reference"] == "b"
    assert record(frame, "t", "ndcg@100")["diff"] == -0.125


def test_named_reference_and_a_block_without_baselines(tmp_path: Path) -> None:
    rows = [write_method(tmp_path, m, method_values(i, 0.2), trained=True) for i, m in enumerate(("x", "y"))]
    named = render_table(table_spec([{"experiment": "e", "reference": "y", "groups": [{"label": "", "rows": rows}]}]))
    assert set(named["reference"]) == {"y"} and named.loc[named["method"] == "x", "p"].notna().all()
    none = render_table(table_spec([{"experiment": "e", "groups": [{"label": "", "rows": rows}]}]))
    assert none["reference"].isna().all() and none["p"].isna().all()


def test_paper_agreement_categories(tmp_path: Path) -> None:
    values = method_values(7, 0.2, n_users=6000)  # 2 standard errors well below 8 %
    means = values.mean()
    published = {
        "recall@20": means["recall@20"] + 0.001,
        "recall@50": means["recall@50"] * 1.08,
        "ndcg@100": means["ndcg@100"] * 1.5,
    }
    low = {"recall@20": means["recall@20"] * 0.5}
    rows = [
        write_method(tmp_path, "a", values, published=published),
        write_method(tmp_path, "b", values + 0.125, published=low),
    ]
    frame = render_table(table_spec([{"experiment": "e", "groups": [{"label": "", "rows": rows}]}]))
    agreement = dict(zip(frame["method"] + " " + frame["metric"], frame["agreement"], strict=True))
    assert agreement["a recall@20"] == "within_2se"  # 0.001 < 2 se
    assert agreement["a recall@50"] == "within_10pct"
    assert agreement["a ndcg@100"] == "worse"
    assert agreement["b recall@20"] == "better"
    assert agreement["b ndcg@100"] is None
    assert record(frame, "a", "recall@50")["published_diff"] == pytest.approx(-0.08 * means["recall@50"])


# --------------------------------------------------------------------------- rendering


def test_every_format_is_written(tmp_path: Path, spec: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    paths = outputs(tmp_path / "tables")
    frame = render_table(spec, **paths)
    markdown = paths["markdown"].read_text()
    printed = capsys.readouterr().out
    assert printed.startswith(markdown)
    significant = int(frame["significant"].sum())
    assert printed.splitlines()[-1].startswith(f"table3: 7 methods in 2 block(s); {significant} of 15 comparisons")
    written = pd.read_csv(paths["csv"])
    assert list(written.columns) == list(COLUMNS) and len(written) == len(frame)
    np.testing.assert_allclose(written[["mean", "p", "p_holm"]], frame[["mean", "p", "p_holm"]], rtol=1e-12)
    image = plt.imread(paths["png"])
    assert image.shape[0] > 400 and image.shape[1] > 600
    assert sorted(p.name for p in paths["png"].parent.iterdir()) == sorted(p.name for p in paths.values())


def test_markdown_layout(spec: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    render_table(spec)
    markdown = capsys.readouterr().out
    lines = markdown.splitlines()
    assert lines[0] == "# Table 3: cold-start scenario, item split"
    assert lines[2].startswith("| Dataset | Group | Method | R@20 | Δ R@20 | paper R@20 | R@50 |")
    shift = next(line for line in lines if "Llama-goodbooks-mpnet" in line)
    assert shift.startswith("| GB10K | CBF | *Llama-goodbooks-mpnet* |")
    assert f"+{SHIFT:.4f}†" in shift and "0.2000 (" in shift
    copy = next(line for line in lines if "llama-copy" in line)
    assert "| +0.0000 |" in copy  # no marker: not significant
    nomic = next(line for line in lines if "nomic" in line)
    assert nomic.startswith("|  |  | nomic\\_v1.5 | <u>") and "| ref |" in nomic
    assert next(line for line in lines if "heater-mpnet" in line).startswith("|  | Heater | heater-mpnet | 0.")
    bold = [line for line in lines if "**" in line and line.startswith("|")]
    assert len(bold) == 2 and "Llama-goodbooks-mpnet" in bold[0] and "llama-ml" in bold[1]
    assert "Holm over the table's 15 comparisons" in markdown
    assert "Against the paper: 3 cells with a published value:" in markdown


def test_without_published_values_there_is_no_paper_column(spec: dict[str, Any], tmp_path: Path) -> None:
    for block in spec["blocks"]:
        for group in block["groups"]:
            for row in group["rows"]:
                row.pop("published", None)
    paths = outputs(tmp_path)
    frame = render_table(spec, **paths)
    checker = _Checker()
    checker.feed(paths["html"].read_text())
    for text in (paths["markdown"].read_text(), paths["latex"].read_text(), " ".join(checker.text)):
        assert "paper" not in text.lower()
    assert frame["published"].isna().all()


def test_latex_is_booktabs_with_the_papers_emphasis(spec: dict[str, Any], tmp_path: Path) -> None:
    paths = outputs(tmp_path)
    render_table(spec, latex=paths["latex"])
    tex = paths["latex"].read_text()
    for command in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){4-6}", r"\cmidrule(l){2-12}"):
        assert command in tex
    assert r"\textit{Llama-goodbooks-mpnet} & \textbf{" in tex
    assert r"\underline{" in tex and r"nomic\_v1.5" in tex and r"$^\dagger$" in tex
    body = tex[tex.index(r"\midrule") : tex.index(r"\bottomrule")]
    assert all(line.count("&") == 11 for line in body.splitlines() if line.endswith(r"\\"))
    assert tex.count("{") == tex.count("}")


class _Checker(HTMLParser):
    """Collects text and checks that every element is closed in order."""

    VOID = frozenset({"meta", "br"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag

    def handle_data(self, data: str) -> None:
        if self.stack[-1:] != ["style"]:  # the visible text
            self.text.append(data)


def test_html_is_a_standalone_well_formed_page(spec: dict[str, Any], tmp_path: Path) -> None:
    paths = outputs(tmp_path)
    frame = render_table(spec, html=paths["html"])
    checker = _Checker()
    checker.feed(paths["html"].read_text())
    assert checker.stack == [] and checker.links == []
    text = " ".join(checker.text)
    assert "Table 3: cold-start scenario, item split" in text
    for label in frame["label"].unique():
        assert label in text
    assert "Against the paper" in text and "†" in text


# --------------------------------------------------------------------------- the verdict


def test_claim_holds(spec: dict[str, Any]) -> None:
    frame = render_table(spec)
    yes = claim_holds(frame, "GB10K", "llama-shift", "recall@20")
    assert yes.holds
    assert str(yes) == (
        "llama-shift beats the best baseline (heater-nomic) on recall@20 in GB10K: yes, +0.0625 "
        "(interval +0.0625 to +0.0625), p_holm < 0.001"
    )
    copy = claim_holds(frame, "GB10K", "llama-copy", "recall@20")
    assert not copy.holds and ": no, +0.0000" in copy.text and "p_holm = 1.000" in copy.text
    worse = claim_holds(frame, "GB10K", "heater-mpnet", "ndcg@100")
    assert not worse.holds and ": no, -" in worse.text
    itself = claim_holds(frame, "GB10K", "heater-nomic", "recall@50")
    assert not itself.holds and itself.text.endswith("no, it is the reference itself")
    with pytest.raises(contract.ContractError, match=r"known: .*llama-shift"):
        claim_holds(frame, "GB10K", "nope", "recall@20")


def test_claims_of_the_spec_are_answered_under_the_table(spec: dict[str, Any], tmp_path: Path) -> None:
    claims = [
        {"block": "GB10K", "method": "llama-shift", "metric": "recall@20"},
        {"block": "GB10K", "method": "llama-copy", "metric": "ndcg@100"},
    ]
    out = outputs(tmp_path)
    render_table({**spec, "claims": claims}, **out)
    markdown = out["markdown"].read_text()
    assert (
        "- The paper's claim: llama-shift beats the best baseline (heater-nomic) on recall@20 in GB10K: yes" in markdown
    )
    assert "llama-copy beats the best baseline (heater-nomic) on ndcg@100 in GB10K: no" in markdown
    assert out["html"].read_text().count("s claim: ") == 2
    for claim, message in (
        ({"block": "GB9K", "method": "llama-shift", "metric": "recall@20"}, "block 'GB9K' is not a block label"),
        ({"block": "GB10K", "method": "nope", "metric": "recall@20"}, "method 'nope' is not in block 'GB10K'"),
        ({"block": "GB10K", "method": "llama-shift", "metric": "ndcg@10"}, "metric 'ndcg@10' is not a column"),
    ):
        with pytest.raises(contract.ContractError, match=message):
            render_table({**spec, "claims": [claim]}, **outputs(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_a_versus_claim_is_a_paired_comparison_with_the_named_method_in_the_holm_family(
    spec: dict[str, Any], values: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    claims = [
        {"block": "GB10K", "method": "llama-shift", "versus": "llama-copy", "metric": "recall@20"},
        {"block": "GB10K", "method": "llama-other", "versus": "llama-shift", "metric": "ndcg@100"},
        {"block": "GB10K", "method": "llama-shift", "metric": "recall@20"},  # the reference, as before
        # tests already counted: the first claim the other way round, and the table's own comparison with the
        # reference (heater-nomic), named
        {"block": "GB10K", "method": "llama-copy", "versus": "llama-shift", "metric": "recall@20"},
        {"block": "GB10K", "method": "llama-shift", "versus": "heater-nomic", "metric": "ndcg@100"},
    ]
    out = outputs(tmp_path)
    frame = render_table({**spec, "claims": claims}, **out)
    markdown = out["markdown"].read_text().replace("\\_", "_")  # markdown escapes p_holm
    # llama-shift is llama-copy + SHIFT on every user: a sure gain, whatever the reference is (heater-nomic)
    assert (
        "- The paper's claim: llama-shift beats llama-copy on recall@20 in GB10K: yes, +0.0625 "
        "(interval +0.0625 to +0.0625), p_holm < 0.001"
    ) in markdown
    assert "llama-shift beats the best baseline (heater-nomic) on recall@20 in GB10K: yes" in markdown
    # llama-other against llama-shift, by hand: the mean paired difference and the paired t-test, Holm-adjusted
    # in one family with the table's 15 comparisons
    a, b = values["llama-other"]["ndcg@100"], values["llama-shift"]["ndcg@100"]
    diff, p = a.mean() - b.mean(), stats.ttest_rel(a, b).pvalue
    family = np.append(frame["p"].dropna().to_numpy(), [0.0, p])
    order, running, adjusted = np.argsort(family), 0.0, {}
    for step, index in enumerate(order):
        running = max(running, min(1.0, (len(family) - step) * family[index]))
        adjusted[index] = running
    p_holm = adjusted[len(family) - 1]
    verdict = "yes" if diff > 0 and p_holm < 0.05 else ("no (not significant)" if diff > 0 else "no")
    expected_p = "p_holm < 0.001" if p_holm < 0.001 else f"p_holm = {p_holm:.3f}"
    line = next(line for line in markdown.splitlines() if "llama-other beats llama-shift on ndcg@100" in line)
    assert line.startswith(f"- The paper's claim: llama-other beats llama-shift on ndcg@100 in GB10K: {verdict}, ")
    assert f"{diff:+.4f} (interval " in line and line.endswith(expected_p)
    assert "Holm over the table's 17 comparisons, 2 of them the claims below" in markdown  # each test once
    assert "llama-copy beats llama-shift on recall@20 in GB10K: no, -0.0625 (interval -0.0625 to -0.0625)" in markdown
    named = next(line for line in markdown.splitlines() if "llama-shift beats heater-nomic on ndcg@100" in line)
    table_row = record(frame, "llama-shift", "ndcg@100")
    assert named.endswith(
        f"yes, {table_row['diff']:+.4f} (interval {table_row['ci_low']:+.4f} to {table_row['ci_high']:+.4f}), "
        "p_holm < 0.001"
    )
    # the table's own p-values are adjusted in the larger family too
    tested = frame.dropna(subset=["p"])
    assert (tested["p_holm"] >= render_table(spec).dropna(subset=["p"])["p_holm"].to_numpy() - 1e-15).all()
    for claim, message in (
        ({**claims[0], "versus": "bge-m3"}, "versus 'bge-m3' is not another method of block 'GB10K'"),
        ({**claims[0], "versus": "llama-shift"}, "versus 'llama-shift' is not another method of block 'GB10K'"),
    ):
        with pytest.raises(contract.ContractError, match=message):
            render_table({**spec, "claims": [claim]}, **outputs(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


# --------------------------------------------------------------------------- bad input


def _first_row(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["blocks"][0]["groups"][0]["rows"][0]


def _rewrite(row: dict[str, Any], values: pd.DataFrame, targets: str) -> None:
    root = Path(row["metrics"]).parent.parent
    write_method(root, row["method"], values, targets=targets)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s, v: _rewrite(_first_row(s), v["llama-shift"], "other/test_target.parquet"),
            r"table 'table3', block 'GB10K': metrics files from different splits in one block: .*llama-shift",
        ),
        (
            lambda s, v: _rewrite(_first_row(s), v["llama-shift"].iloc[:-1], "split/test_target.parquet"),
            r"block 'GB10K': metrics files from different splits in one block: .*599 users",
        ),
        (
            lambda s, v: contract.write_table(v["llama-shift"].iloc[:0].reset_index(), _first_row(s)["per_user"]),
            r"block 'GB10K', row 'llama-shift': empty phase: .*per_user.parquet has no users",
        ),
        (
            lambda s, v: _first_row(s).update(published={"recall@10": 0.1}),
            r"row 'llama-shift': published: metric\(s\) \['recall@10'\] are not columns",
        ),
        (
            lambda s, v: _first_row(s).update(metrics="missing/metrics.json"),
            r"row 'llama-shift': missing/metrics.json: file not found",
        ),
        (lambda s, v: s["blocks"][0].update(reference="sansa"), r"block 'GB10K': reference 'sansa' is not a method"),
        (lambda s, v: s["blocks"][1].update(label="GB10K"), r"duplicate labels in \['GB10K', 'GB10K'\]"),
        (lambda s, v: _first_row(s).update(trained="yes"), r"row 'llama-shift': trained must be true or false"),
        (lambda s, v: _first_row(s).update(colour="red"), r"row 0: unknown key\(s\) \['colour'\]"),
        (lambda s, v: s.update(metrics=["recall@20", "hits@5"]), r"table 'table3': metrics: unknown metric 'hits@5'"),
        (lambda s, v: s.update(confidence=95), r"confidence: expected a level"),
        (lambda s, v: s.update(blocks=[]), r"blocks: expected a non-empty list"),
        (
            lambda s, v: contract.write_json({"metrics": {}, "targets": "t"}, _first_row(s)["metrics"]),
            r"row 'llama-shift': .*lacks \['recall@20'",
        ),
    ],
)
def test_bad_input_fails_in_one_line_and_writes_nothing(
    spec: dict[str, Any], values: dict[str, pd.DataFrame], tmp_path: Path, change: Any, message: str
) -> None:
    change(spec, values)
    folder = tmp_path / "tables"
    with pytest.raises(contract.ContractError, match=message) as error:
        render_table(spec, **outputs(folder))
    assert "\n" not in str(error.value)
    assert not folder.exists() or not any(folder.iterdir())


def test_stale_per_user_file_is_caught(spec: dict[str, Any], values: dict[str, pd.DataFrame]) -> None:
    row = _first_row(spec)
    contract.write_table((values["llama-shift"] * 0.5).reset_index(), row["per_user"])
    with pytest.raises(contract.ContractError, match=r"disagrees with .*rerun the evaluate stage"):
        render_table(spec)


# --------------------------------------------------------------------------- command line


def test_cli(spec: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    paths = outputs(tmp_path / "tables")
    argv = ["report", "--spec", f"@{spec_file}", *(f"--{kind}={path}" for kind, path in paths.items())]
    assert cli.main(argv) == 0
    assert all(path.exists() for path in paths.values())
    assert "| GB10K | CBF |" in capsys.readouterr().out
    spec["blocks"][0]["reference"] = "nope"
    assert cli.main(["report", "--spec", json.dumps(spec)]) == 2
    assert "reference 'nope' is not a method" in capsys.readouterr().err


def test_notes_say_how_rows_were_fitted_and_which_choices_sit_on_a_grid_edge(
    spec: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tuning = tmp_path / "tuning.json"
    contract.write_json({"chosen": {"epochs": 10}, "edges": {"epochs": "highest of [2, 5, 10]"}}, tuning)
    rows = spec["blocks"][0]["groups"]
    for row in rows[1]["rows"]:  # the Heater rows: tuned, refit on train_full
        row.update(fit="train_full", tuning=str(tuning))
    rows[0]["rows"][0].update(fit="train_full")
    rows[0]["rows"][1].update(fit="train")  # a trained model that was not refit
    render_table(spec)
    markdown = capsys.readouterr().out
    assert (
        "Fit: fitted for this phase on train_full: Llama-goodbooks-mpnet, heater-mpnet, nomic_v1.5; train: llama-copy. "
        "Settings as given in the config: Llama-goodbooks-mpnet, llama-copy; chosen on the validation phase: "
        "heater-mpnet, nomic_v1.5. Pretrained encoders are used as they are." in markdown
    )
    assert (  # two blocks: each name says its block and group
        "Chosen on an edge of its grid (a wider grid might do better): GB10K / Heater / heater-mpnet: epochs highest "
        "of [2, 5, 10]; GB10K / Heater / nomic_v1.5: epochs highest of [2, 5, 10]." in markdown
    )
    for row in (*rows[0]["rows"], *rows[1]["rows"]):
        row.update(fit="train_full", tuning=str(tuning))
    contract.write_json({"chosen": {"epochs": 5}, "edges": {}}, tuning)
    render_table(spec)
    markdown = capsys.readouterr().out
    assert "every fitted row (baselines and beeFormer) had its settings chosen on the validation phase" in markdown
    assert "Chosen on an edge" not in markdown


def test_notes_say_where_each_beeformer_curve_chose_its_steps(
    spec: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = spec["blocks"][0]["groups"][0]["rows"][:2]
    scored = [{"settings": {"max_steps": s}} for s in (8, 16, 24)]  # the curve's scored steps
    for row, (steps, turned) in zip(rows, ((48, True), (96, False)), strict=True):
        tuning = tmp_path / f"{row['method']}.json"
        contract.write_json({"chosen": {"max_steps": steps}, "edges": {}, "turned": turned, "grid": scored}, tuning)
        row.update(fit="train", tuning=str(tuning))
    render_table(spec)
    markdown = capsys.readouterr().out
    labels = [row.get("label", row["method"]) for row in rows]
    assert f": GB10K / CBF / {labels[0]}: 48 (turned); GB10K / CBF / {labels[1]}: 96 (not turned)." in markdown
    heater = tmp_path / "heater.json"  # a baseline's tuning.json has no curve: no note
    contract.write_json({"chosen": {"epochs": 5}, "edges": {}}, heater)
    given = tmp_path / "given.json"  # a model trained as given: nothing chosen, no note
    contract.write_json({"chosen": {"max_steps": 2}, "edges": {}, "turned": False, "grid": scored[:1]}, given)
    for row, tuning in zip(rows, (heater, given), strict=True):
        row.update(tuning=str(tuning))
    render_table(spec)
    assert "Training steps chosen" not in capsys.readouterr().out
