"""The training loop: determinism, exact resume after a crash, NaN handling, single-pass and multi-process steps."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.data.synthetic import SyntheticConfig, generate
from beeformer.train import distributed, step, trainer
from beeformer.train.step import TokenizedCatalogue, make_chunks, training_step
from beeformer.train.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> list[tuple[str, Path, Path]]:
    folder = tmp_path_factory.mktemp("shop")
    interactions, items = generate(SyntheticConfig(n_users=40, variants_per_product=1, seed=3))
    contract.write_table(interactions, folder / "train.parquet")
    contract.write_table(items, folder / "items.parquet")
    return [("shop", folder / "train.parquet", folder / "items.parquet")]


def config(model_dir: Path, **overrides) -> TrainConfig:
    settings = dict(
        base_model=str(model_dir),
        epochs=2,
        batch_size=16,
        items_per_step=40,
        chunk_size=16,
        max_seq_length=24,
        lr=1e-3,
        checkpoint_every=1,
        seed=7,
    )
    return TrainConfig(**{**settings, **overrides})


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_two_runs_with_the_same_seed_give_identical_weights(tiny_model_dir, shop, tmp_path):
    train(config(tiny_model_dir), shop, tmp_path / "a", tmp_path / "log_a")
    train(config(tiny_model_dir), shop, tmp_path / "b", tmp_path / "log_b")
    assert same_weights(tmp_path / "a", tmp_path / "b")
    train(config(tiny_model_dir, seed=8), shop, tmp_path / "c", tmp_path / "log_c")
    assert not same_weights(tmp_path / "a", tmp_path / "c")
    assert not same_weights(tmp_path / "a", tiny_model_dir)  # it trained
    log = (tmp_path / "log_a" / "training_log.csv").read_text().splitlines()
    assert log[0].startswith("step,epoch,loss,lr") and len(log) == 1 + 6  # 3 batches x 2 epochs
    card = (tmp_path / "a" / "README.md").read_text()
    assert "base_model" in card and "`items_per_step` | `40`" in card
    assert SentenceTransformer(str(tmp_path / "a"), device="cpu").encode(["a tent"]).shape[0] == 1
    assert not (tmp_path / "log_a" / "checkpoint" / "checkpoint.pt").exists()  # removed once finished


def test_text_prefix_is_saved_as_the_default_prompt(tiny_model_dir, shop, tmp_path):
    train(config(tiny_model_dir, text_prefix="passage: ", max_steps=1), shop, tmp_path / "m", tmp_path / "log")
    model = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert model.default_prompt_name == "document" and model.prompts["document"] == "passage: "


@pytest.fixture(scope="module")
def two_shops(shop, tmp_path_factory) -> list[tuple[str, Path, Path]]:
    """The shop and a smaller one of another seed, as two sources."""
    folder = tmp_path_factory.mktemp("small_shop")
    interactions, items = generate(SyntheticConfig(n_users=25, variants_per_product=1, seed=4))
    contract.write_table(interactions, folder / "train.parquet")
    contract.write_table(items, folder / "items.parquet")
    return [*shop, ("small", folder / "train.parquet", folder / "items.parquet")]


def test_sources_taking_turns_train_an_epoch_of_each_with_its_own_batch_size(tiny_model_dir, two_shops, tmp_path):
    summary = train(
        config(tiny_model_dir, epochs=1, batch_size={"shop": 16, "small": 8}), two_shops, tmp_path / "m", tmp_path / "l"
    )
    assert summary["steps"] == 3 + 4  # ceil(40 / 16) + ceil(25 / 8)
    logged = pd.read_csv(tmp_path / "l" / "training_log.csv").dropna(subset=["loss"])
    assert logged["source"].value_counts().to_dict() == {"shop": 3, "small": 4}  # each step names its source
    pooled = train(config(tiny_model_dir, epochs=1, batch_size=16), two_shops, tmp_path / "p", tmp_path / "pl")
    assert pooled["steps"] == 5  # ceil(65 / 16)
    assert "source" not in pd.read_csv(tmp_path / "pl" / "training_log.csv")  # pooled: no source to name


@pytest.mark.parametrize("turns", [False, True])
def test_a_crashed_run_resumes_exactly(tiny_model_dir, shop, two_shops, tmp_path, monkeypatch, turns):
    # with sources taking turns, the epoch's order of steps must resume too
    sources, batch_size = (two_shops, {"shop": 16, "small": 8}) if turns else (shop, 16)
    settings = config(tiny_model_dir, batch_size=batch_size)
    train(settings, sources, tmp_path / "straight", tmp_path / "log_straight")

    calls = {"n": 0}
    real_step = trainer.training_step

    def crashing_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated crash")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer, "training_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train(settings, sources, tmp_path / "resumed", tmp_path / "log_resumed")
    assert (tmp_path / "log_resumed" / "checkpoint" / "checkpoint.pt").exists()
    assert not (tmp_path / "resumed").exists()
    monkeypatch.setattr(trainer, "training_step", real_step)
    train(settings, sources, tmp_path / "resumed", tmp_path / "log_resumed")
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")
    straight = (tmp_path / "log_straight" / "training_log.csv").read_text().splitlines()
    resumed = (tmp_path / "log_resumed" / "training_log.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in straight] == [r.split(",")[:3] for r in resumed]


def test_other_settings_do_not_resume_a_checkpoint(tiny_model_dir, shop, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "training_step", _raise_after_two(trainer.training_step))
    with pytest.raises(KeyboardInterrupt):
        train(config(tiny_model_dir), shop, tmp_path / "m", tmp_path / "log")
    monkeypatch.undo()
    summary = train(config(tiny_model_dir, lr=2e-3), shop, tmp_path / "m", tmp_path / "log")
    assert summary["steps"] == 6 and summary["config"]["lr"] == 2e-3


def _raise_after_two(real):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapper


def test_non_finite_loss_stops_with_a_clear_message(tiny_model_dir, shop, tmp_path, monkeypatch):
    real_step = trainer.training_step
    calls = {"n": 0}

    def nan_on_third(*args, **kwargs):
        calls["n"] += 1
        loss = real_step(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(trainer, "training_step", nan_on_third)
    with pytest.raises(FloatingPointError, match="loss became nan at step 3"):
        train(config(tiny_model_dir), shop, tmp_path / "m", tmp_path / "log")
    assert not (tmp_path / "m").exists()
    assert (tmp_path / "log" / "checkpoint" / "checkpoint.pt").exists()  # the last good one


TEXTS = [f"item number {i} " + "word " * (i % 7) for i in range(14)]


def _grads_after_step(model, X, chunks, **kwargs) -> torch.Tensor:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    training_step(model, optimizer, X, chunks, **kwargs)
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in model.parameters()])


def _problem(model_dir, rank=distributed.SINGLE_PROCESS):
    model = SentenceTransformer(str(model_dir), device="cpu").double().eval()
    model.max_seq_length = 16
    catalogue = TokenizedCatalogue.build(model, TEXTS)
    rng = np.random.default_rng(0)
    X = torch.from_numpy((rng.random((6, len(TEXTS))) < 0.4).astype(np.float64))
    X[:, 0] = 1.0
    chunks = make_chunks(catalogue, np.arange(len(TEXTS)), 3, torch.device("cpu"), rank)
    return model, X, chunks


def test_single_pass_step_equals_two_pass_step(tiny_model_dir):
    model, X, chunks = _problem(tiny_model_dir)
    two = _grads_after_step(model, X, chunks)
    one = _grads_after_step(model, X, chunks, single_pass=True)
    assert torch.linalg.norm(one - two) / torch.linalg.norm(two) < 1e-10
    assert step.graph_bytes(model, chunks, None) > step.graph_bytes(model, chunks[:1], None) > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(index: int, world: int, port: int, model_dir: str, out: str, single_pass: bool) -> None:
    os.environ.update(
        WORLD_SIZE=str(world), RANK=str(index), LOCAL_RANK=str(index), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    rank, _ = distributed.setup("cpu")
    model, X, chunks = _problem(model_dir, rank)
    assert len(chunks) == (3 if index == 0 else 2)  # 5 chunks of 14 items, dealt out to 2 ranks
    grads = _grads_after_step(model, X, chunks, rank=rank, single_pass=single_pass)
    torch.save(grads, Path(out) / f"rank{index}.pt")
    distributed.teardown()


@pytest.mark.parametrize("single_pass", [False, True])
def test_two_processes_give_the_single_process_gradient(tiny_model_dir, tmp_path, single_pass):
    model, X, chunks = _problem(tiny_model_dir)
    expected = _grads_after_step(model, X, chunks)
    mp.spawn(_worker, args=(2, _free_port(), str(tiny_model_dir), str(tmp_path), single_pass), nprocs=2)
    for index in range(2):
        got = torch.load(tmp_path / f"rank{index}.pt")
        assert torch.linalg.norm(got - expected) / torch.linalg.norm(expected) < 1e-10


def test_schedules():
    base = dict(base_model="x", lr=1.0)
    constant = trainer._schedule(TrainConfig(**base, warmup_steps=2), 10)
    assert [constant(s) for s in (0, 1, 2, 9)] == [0.5, 1.0, 1.0, 1.0]
    linear = trainer._schedule(TrainConfig(**base, schedule="linear"), 10)
    assert linear(0) == 1.0 and abs(linear(5) - 0.5) < 1e-12 and linear(10) == 0.0
    cosine = trainer._schedule(TrainConfig(**base, schedule="cosine"), 10)
    assert cosine(0) == 1.0 and abs(cosine(5) - 0.5) < 1e-12 and abs(cosine(10)) < 1e-12
