"""``precision: auto``: bf16 autocast in training and encoding exactly where the CPU (or a GPU) has bf16 units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import test_trainer
import torch
from test_train_step import TEXTS
from test_trainer import config, same_weights

from beeformer.evaluate.embed import encode_texts
from beeformer.precision import autocast_dtype, native_bf16_cpu
from beeformer.train.trainer import train

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
WITHOUT_BF16 = {"architecture": "x86_64", "avx2": True, "avx512_f": True, "amx_tile": False}
WITH_AVX512_BF16 = {**WITHOUT_BF16, "avx512_bf16": True}
WITH_AMX_BF16 = {**WITHOUT_BF16, "amx_tile": True, "amx_bf16": True}

shop = test_trainer.shop  # the trainer tests' synthetic shop


def force_cpu_flags(monkeypatch: pytest.MonkeyPatch, flags: dict[str, object]) -> None:
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: flags)


@pytest.mark.parametrize(
    ("flags", "expected"), [(WITHOUT_BF16, None), (WITH_AVX512_BF16, torch.bfloat16), (WITH_AMX_BF16, torch.bfloat16)]
)
def test_auto_follows_the_cpus_bf16_flags(monkeypatch, flags, expected):
    force_cpu_flags(monkeypatch, flags)
    assert autocast_dtype("auto", CPU) is expected
    for native, dtype in ((True, torch.bfloat16), (False, None)):  # a GPU with bf16 units (Ampere on) or without
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True, n=native: n)
        assert autocast_dtype("auto", CUDA) is dtype
    assert autocast_dtype("fp32", CPU) is None and autocast_dtype("fp32", CUDA) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16


def test_detection_agrees_with_the_kernels_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(cpuinfo.read_text().split())
    assert native_bf16_cpu() == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_auto_trains_in_bf16_only_with_the_flags_and_bf16_runs_are_deterministic(
    tiny_model_dir, shop, tmp_path, monkeypatch
):
    def run(name: str, precision: str, flags: dict[str, object]) -> str:
        force_cpu_flags(monkeypatch, flags)
        settings = config(tiny_model_dir, precision=precision, max_steps=2)
        return train(settings, shop, tmp_path / name, tmp_path / f"log_{name}")["precision"]

    assert run("auto-without", "auto", WITHOUT_BF16) == "fp32"
    assert run("fp32", "fp32", WITH_AVX512_BF16) == "fp32"
    assert run("auto-with", "auto", WITH_AVX512_BF16) == "bf16"
    assert run("bf16", "bf16", WITHOUT_BF16) == "bf16"
    assert same_weights(tmp_path / "auto-without", tmp_path / "fp32")
    assert same_weights(tmp_path / "auto-with", tmp_path / "bf16")  # two bf16 runs, one seed: identical weights
    assert not same_weights(tmp_path / "auto-with", tmp_path / "auto-without")


def test_auto_encodes_in_bf16_only_with_the_flags(tiny_model_dir, monkeypatch):
    def encode(precision: str, flags: dict[str, object]) -> np.ndarray:
        force_cpu_flags(monkeypatch, flags)
        return encode_texts(tiny_model_dir, TEXTS, batch_size=5, precision=precision)

    fp32, bf16 = encode("fp32", WITH_AVX512_BF16), encode("bf16", WITHOUT_BF16)
    assert np.array_equal(encode("auto", WITHOUT_BF16), fp32)
    assert np.array_equal(encode("auto", WITH_AVX512_BF16), bf16)
    assert bf16.dtype == np.float32 and not np.array_equal(bf16, fp32)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-6)
    assert np.min(np.sum(bf16 * fp32, axis=1)) > 0.99  # cosine to the fp32 embedding
