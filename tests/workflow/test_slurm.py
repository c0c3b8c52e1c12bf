"""The SLURM profile for real: the demo through snakemake-executor-plugin-slurm on a single-node SLURM.

``workflow/profiles/slurm-local/cluster.sh up`` stands the cluster up (root and apt needed). Without them the
cluster tests are skipped with the reason, unless ``BEEFORMER_REQUIRE_SLURM=1`` (as in .ci/run) makes that a
failure. The routing test needs only the plugin: it sends every job of the paper's dry run through the plugin's
own partition choice and GPU flags, with the user profile's partitions.yaml.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

CLUSTER = REPO / "workflow/profiles/slurm-local/cluster.sh"
LOCAL_PROFILE = REPO / "workflow/profiles/slurm-local"
USER_PROFILE = REPO / "workflow/profiles/slurm"
DEMO = REPO / "config/config.yaml"
TABLE = "results/tables/demo-cold-start"


def unavailable() -> str | None:
    """Why the test cluster cannot be stood up here, or None."""
    if os.geteuid() != 0:
        return "the test cluster needs root (cluster.sh installs Debian's slurm and starts its daemons)"
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        return "the test cluster needs apt-get (Debian) or an installed slurmctld"
    return None


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """The test cluster, stood up for these tests (and stopped after them unless it was already up)."""
    reason = unavailable()
    if reason and os.environ.get("BEEFORMER_REQUIRE_SLURM") == "1":
        pytest.fail(f"BEEFORMER_REQUIRE_SLURM=1 but {reason}")
    if reason:
        pytest.skip(reason)
    was_up = subprocess.run([str(CLUSTER), "status"], capture_output=True).returncode == 0
    result = subprocess.run([str(CLUSTER), "up"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"cluster.sh up failed:\n{result.stdout}\n{result.stderr}"
    yield
    if not was_up:
        subprocess.run([str(CLUSTER), "down"], capture_output=True, timeout=60)


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    """Snakemake run from the repository root (as the profiles expect) into ``workdir``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *args]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-8000:]}")
    return result


def through_slurm(workdir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return snakemake(workdir, "--profile", str(LOCAL_PROFILE), *args, **kwargs)


def fp32_demo(tmp_path: Path) -> Path:
    """The demo in float32: bf16 training on CPU is not bitwise repeatable (two local refits of the demo differed
    by up to 1.9e-4 in a weight), and this test compares tables to the digit."""
    config = yaml.safe_load(DEMO.read_text())
    config["encoders"]["beeformer-demo-MiniLM"]["train"]["precision"] = "fp32"
    config["evaluation"]["precision"] = "fp32"
    path = tmp_path / "demo-fp32.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_demo_through_slurm_equals_a_local_run(cluster, tmp_path):
    config = fp32_demo(tmp_path)
    started = time.perf_counter()
    run = through_slurm(tmp_path / "slurm", "all", "--configfile", str(config))
    seconds = time.perf_counter() - started
    log = run.stdout + run.stderr
    assert "submitted with SLURM jobid" in log and "Auto-selected partition 'cpu'" in log
    assert "Auto-selected partition 'gpu'" not in log  # the demo asks for no GPU
    snakemake(tmp_path / "local", "--cores", "2", "all", "--configfile", str(config))
    print(f"demo through SLURM: {seconds:.0f} s")
    for ext in ("md", "csv", "tex"):
        slurm, local = (tmp_path / run_dir / f"{TABLE}.{ext}" for run_dir in ("slurm", "local"))
        assert slurm.read_text() == local.read_text(), f"{TABLE}.{ext} differs between SLURM and local"


def two_process_config(tmp_path: Path) -> Path:
    """The demo with its beeFormer model trained (settings as given, no validation run) by 2 processes."""
    config = yaml.safe_load(DEMO.read_text())
    encoder = config["encoders"]["beeformer-demo-MiniLM"]
    encoder["processes"] = 2
    encoder["train"]["precision"] = "fp32"
    encoder["train"] = {**encoder["train"], "max_steps": 3}
    del encoder["train"]["eval_every"]
    path = tmp_path / "two-processes.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_two_process_training_through_slurm_equals_local_torchrun(cluster, tmp_path):
    from safetensors.torch import load_file

    config = two_process_config(tmp_path)
    target = "results/models/beeformer-demo-MiniLM/test"
    through_slurm(tmp_path / "slurm", target, "--configfile", str(config))
    snakemake(tmp_path / "local", "--cores", "2", target, "--configfile", str(config))
    cards = [json.loads((tmp_path / d / target / "beeformer.json").read_text()) for d in ("slurm", "local")]
    assert [(card["processes"], card["steps"]) for card in cards] == [(2, 3), (2, 3)]
    slurm, local = (load_file(tmp_path / d / target / "model.safetensors") for d in ("slurm", "local"))
    assert slurm.keys() == local.keys()
    for name in slurm:
        assert (slurm[name] - local[name]).abs().max() < 1e-5, name


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--default-resources", "slurm_partition=no-such-partition", "runtime=10"), "invalid partition"),
        (("--set-resources", "prepare_dataset:cpus_per_task=512"), "More processors requested than permitted"),
    ],
    ids=["unknown-partition", "more-cpus-than-a-node"],
)
def test_bad_requests_fail_at_submission(cluster, tmp_path, option, message):
    started = time.perf_counter()
    run = through_slurm(tmp_path, "results/data/demo/data.json", "--configfile", str(DEMO), *option, check=False)
    assert run.returncode != 0 and message in run.stdout + run.stderr
    assert time.perf_counter() - started < 120  # refused by sbatch, not left pending


class Resources(dict):
    """A job's resources as the plugin reads them (``resources.get(name)`` and ``resources.name``)."""

    __getattr__ = dict.__getitem__


def dry_run_jobs(output: str) -> list[tuple[str, int, Resources]]:
    """(rule, threads, resources) of every job a dry run lists."""
    jobs, rule, threads = [], None, 1
    for line in output.splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ")):  # local rules run on the submitting host: not routed
            rule, threads = (line.split()[1].rstrip(":") if line.startswith("rule ") else None), 1
        elif line.startswith("threads:"):
            threads = int(line.split()[1])
        elif line.startswith("resources:") and rule:
            pairs = (item.split("=", 1) for item in line[len("resources:") :].split(", "))
            resources = Resources({key: int(value) if value.isdigit() else value for key, value in pairs})
            jobs.append((rule, threads, resources))
            rule = None
    return jobs


def test_paper_gpu_jobs_go_to_the_gpu_partition_with_gpus(tmp_path):
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    profile = yaml.safe_load((USER_PROFILE / "config.yaml").read_text())
    partitions = read_partition_file(USER_PROFILE / profile["slurm-partition-config"].split()[0])
    run = snakemake(tmp_path, "-n", "--cores", "2", "all", "--configfile", str(REPO / "config/paper.yaml"))
    jobs = dry_run_jobs(run.stdout + run.stderr)
    assert len(jobs) > 100
    routed: dict[str, set[str]] = {}
    for rule, threads, resources in jobs:
        job = type("Job", (), {"name": rule, "threads": threads, "resources": resources})()
        partition = get_best_partition(partitions, job, logging.getLogger("slurm"))
        gres = set_gres_string(job)
        gpus = resources.get("gpu", 0)
        assert (partition == "gpu") == (gpus > 0), f"{rule} (gpu={gpus}) goes to partition {partition}"
        assert (f"--gpus={gpus}" in gres) if gpus else "--gpus" not in gres, f"{rule}: {gres!r}"
        routed.setdefault(partition, set()).add(rule)
    # config/paper.yaml asks for GPUs for describing with vLLM, training (its settings as given: refit only) and
    # embedding, and only there
    assert routed["gpu"] == {"describe_items", "refit_beeformer", "embed_items"}
    assert "recommend_by_text" in routed["cpu"] and "tune_baseline" in routed["cpu"]
