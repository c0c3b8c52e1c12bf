"""beeFormer tuned on the validation phase and refit on train_full: the curve, the choice, early stopping, resume,
and the settings that cannot work, each refused before anything trains."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from beeformer import contract, encoding
from beeformer.data.synthetic import SyntheticConfig, generate
from beeformer.split import SplitConfig, split
from beeformer.train import checkpoint, trainer, tuning
from beeformer.train.trainer import TrainConfig, train
from beeformer.train.tuning import refit, tune
from beeformer.train.validation import Validation, ValidationPhase

#: Recall at a cut-off well below the 30 validation candidates, so that it tells models apart.
METRIC = "recall@5"


@pytest.fixture(scope="module")
def shop_split(tmp_path_factory) -> Path:
    """The synthetic shop (96 items) with 30 validation and 12 test cold-start items."""
    folder = tmp_path_factory.mktemp("shop")
    interactions, items = generate(SyntheticConfig(n_users=60, variants_per_product=1, seed=3))
    contract.write_table(interactions, folder / "interactions.parquet")
    contract.write_table(items, folder / "items.parquet")
    split(
        SplitConfig(kind="item", test_items=12, validation_items=30, seed=1),
        folder / "interactions.parquet",
        folder / "items.parquet",
        folder / "split",
    )
    return folder


def part(folder: Path, name: str) -> Path:
    return contract.split_file(folder / "split", name)


def sources(folder: Path, name: str = "train") -> list[tuple[str, Path, Path]]:
    return [("shop", part(folder, name), folder / "items.parquet")]


def validation(folder: Path) -> Validation:
    phase = ValidationPhase.load(
        "shop",
        part(folder, "validation_source"),
        part(folder, "validation_target"),
        part(folder, "validation_candidates"),
        folder / "items.parquet",
    )
    return Validation([phase], metric=METRIC, precision="fp32")


def settings(model_dir: Path, **overrides) -> dict:
    base = dict(
        base_model=str(model_dir),
        epochs=3,
        batch_size=16,
        items_per_step=40,
        chunk_size=16,
        max_seq_length=24,
        lr=1e-3,
        precision="fp32",
        checkpoint_every=1,
        seed=7,
    )
    return {**base, **overrides}


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def recall_by_hand(model_dir: Path, folder: Path) -> float:
    """Content-based recall@5 of the validation phase, computed densely here (not with the package's ranking)."""
    items = pd.read_parquet(folder / "items.parquet").set_index("item_id")["text"]
    source, target = (
        pd.read_parquet(part(folder, "validation_source")),
        pd.read_parquet(part(folder, "validation_target")),
    )
    candidates = pd.read_parquet(part(folder, "validation_candidates"))["item_id"].tolist()
    model = SentenceTransformer(str(model_dir), device="cpu")
    E = dict(zip(items.index, model.encode(items.tolist(), normalize_embeddings=True), strict=True))
    recalls = []
    for user, wanted in target.groupby("user_id")["item_id"]:
        history = source.loc[source["user_id"] == user, "item_id"]
        profile = np.sum([E[i] for i in history], axis=0)
        scores = {c: float(profile @ E[c]) for c in candidates if c not in set(history)}
        top = sorted(scores, key=lambda c: (-scores[c], candidates.index(c)))[:5]
        recalls.append(len(set(top) & set(wanted)) / min(5, wanted.nunique()))
    return float(np.mean(recalls))


def tune_at_steps_2_and_4(model_dir: Path, folder: Path, out: Path) -> dict:
    """Tuning of the steps 2 and 4, scored at every step, into ``out``."""
    return tune(
        settings(model_dir, max_steps=[2, 4], eval_every=1),
        sources(folder),
        validation(folder),
        out / "model",
        out / "log",
        out / "tuning.json",
    )


def test_eval_every_writes_the_validation_curve_and_steps_are_chosen_on_it(tiny_model_dir, shop_split, tmp_path):
    result = tune_at_steps_2_and_4(tiny_model_dir, shop_split, tmp_path)
    curve = pd.read_csv(tmp_path / "log" / "training_log.csv")
    scored = curve.dropna(subset=[METRIC])
    assert scored[METRIC].nunique() > 2  # the metric tells the steps apart
    assert scored["step"].tolist() == [0, 1, 2, 3, 4]  # step 0 is the model before training
    assert curve.dropna(subset=["loss"])["step"].tolist() == [1, 2, 3, 4]
    assert (tmp_path / "log" / "loss.png").stat().st_size > 1000
    grid = {point["settings"]["max_steps"]: point[METRIC] for point in result["grid"]}
    assert sorted(grid) == [2, 4]  # the listed steps are the candidates, scored in one run
    chosen = result["chosen"]["max_steps"]
    assert result["validation"][METRIC] == max(grid.values()) == grid[chosen]
    assert result["edges"] == {"max_steps": f"{'lowest' if chosen == 2 else 'highest'} of [2, 4]"}
    assert contract.read_json(tmp_path / "tuning.json") == result
    # the saved validation model is the chosen step's, and scores what tuning.json says, by an independent count
    assert recall_by_hand(tmp_path / "model", shop_split) == pytest.approx(grid[chosen], abs=1e-6)
    # every score's per-user values are kept, and average to the logged score
    [per_user_path] = (tmp_path / "log").glob("run-*/validation_users.parquet")
    per_user = pd.read_parquet(per_user_path)
    assert sorted(per_user["step"].unique()) == [0, 1, 2, 3, 4]
    n_users = pd.read_parquet(part(shop_split, "validation_target"))["user_id"].nunique()
    assert (per_user.groupby("step").size() == n_users).all()
    means = per_user.groupby("step")[METRIC].mean()
    assert means.to_numpy() == pytest.approx(scored[METRIC].to_numpy(), abs=1e-12)


def test_several_phases_select_on_their_geometric_mean(tiny_model_dir, shop_split, tmp_path):
    """Two splits of the shop (the second split with another seed, its phase's scores on another scale): each is
    scored as by hand, and the selecting score is their geometric mean, which a plain mean is not."""
    other = tmp_path / "other"
    other.mkdir()
    for name in ("interactions.parquet", "items.parquet"):
        (other / name).write_bytes((shop_split / name).read_bytes())
    split(
        SplitConfig(kind="item", test_items=12, validation_items=30, seed=5),
        other / "interactions.parquet",
        other / "items.parquet",
        other / "split",
    )
    phases = [validation(shop_split).phases[0], replace(validation(other).phases[0], name="other")]
    scores, per_user = Validation(phases, metric=METRIC, precision="fp32").score(
        SentenceTransformer(str(tiny_model_dir), device="cpu")
    )
    by_hand = [recall_by_hand(tiny_model_dir, shop_split), recall_by_hand(tiny_model_dir, other)]
    assert [scores[f"{METRIC}/shop"], scores[f"{METRIC}/other"]] == pytest.approx(by_hand, abs=1e-6)
    assert by_hand[0] != pytest.approx(by_hand[1], abs=1e-3)
    assert scores[METRIC] == pytest.approx(float(np.sqrt(by_hand[0] * by_hand[1])), abs=1e-6)
    assert scores[METRIC] < np.mean(by_hand)
    assert per_user.groupby("phase")[METRIC].mean().to_dict() == pytest.approx(
        {"shop": by_hand[0], "other": by_hand[1]}, abs=1e-6
    )


def test_the_model_of_the_best_listed_step_is_kept_not_the_last(tiny_model_dir, shop_split, tmp_path, monkeypatch):
    scores = iter([0.5, 0.1])  # step 2 beats step 4

    def fake_score(self, model, folder=None):
        return {METRIC: next(scores), "validation_seconds": 0.0}, None

    monkeypatch.setattr(Validation, "score", fake_score)
    summary = train(
        TrainConfig(**settings(tiny_model_dir, max_steps=4)),
        sources(shop_split),
        tmp_path / "chosen",
        tmp_path / "log",
        validation=validation(shop_split),
        select_at=[2, 4],
    )
    assert summary["chosen_step"] == 2 and summary["steps"] == 4
    monkeypatch.undo()
    train(TrainConfig(**settings(tiny_model_dir, max_steps=2)), sources(shop_split), tmp_path / "two", tmp_path / "l2")
    assert same_weights(tmp_path / "chosen", tmp_path / "two")
    assert not (tmp_path / "log" / "best").exists()  # the copy of the best step is cleaned up


@pytest.mark.parametrize(
    ("curve", "chosen", "turned"),
    [
        ([0.1, 0.2, 0.5, 0.4, 0.45], 2, True),  # scored after step 2, never higher: chosen on the curve
        ([0.1, 0.2, 0.3, 0.6, 0.5], 4, False),  # the list ends at the best listed step: nothing after it
        ([0.1, 0.2, 0.5, 0.6, 0.3], 2, False),  # an unlisted later score is higher: the curve still rose
    ],
)
def test_tuning_says_whether_the_chosen_step_sits_where_the_curve_turned(
    tiny_model_dir, shop_split, tmp_path, monkeypatch, curve, chosen, turned
):
    scores = iter(curve)  # steps 0..4

    def fake_score(self, model, folder=None):
        return {METRIC: next(scores), "validation_seconds": 0.0}, None

    monkeypatch.setattr(Validation, "score", fake_score)
    result = tune_at_steps_2_and_4(tiny_model_dir, shop_split, tmp_path)
    assert result["chosen"]["max_steps"] == chosen
    assert result["turned"] is turned
    assert result["scores_after_chosen"] == curve[chosen + 1 :]


def test_refit_trains_the_chosen_settings_on_train_full(tiny_model_dir, shop_split, tmp_path):
    tune(
        settings(tiny_model_dir, max_steps=[1, 3], lr=[1e-3, 3e-3]),
        sources(shop_split),
        validation(shop_split),
        tmp_path / "validation",
        tmp_path / "log",
        tmp_path / "tuning.json",
    )
    chosen = contract.read_json(tmp_path / "tuning.json")["chosen"]
    fit = refit(
        tmp_path / "tuning.json",
        sources(shop_split, "train_full"),
        tmp_path / "test",
        tmp_path / "tl",
        tmp_path / "fit.json",
    )
    full = contract.read_interactions(part(shop_split, "train_full"))
    assert fit["fit"]["interactions"] == len(full.drop_duplicates(["user_id", "item_id"]))
    assert fit["fit"]["steps"] == chosen["max_steps"] and fit["settings"] == chosen
    # the same as training the chosen settings on train_full directly (constant schedule)
    train(TrainConfig(**chosen), sources(shop_split, "train_full"), tmp_path / "direct", tmp_path / "dl")
    assert same_weights(tmp_path / "test", tmp_path / "direct")
    assert not same_weights(tmp_path / "test", tmp_path / "validation")


def test_patience_stops_a_run_that_no_longer_improves(tiny_model_dir, shop_split, tmp_path, monkeypatch):
    scores = iter([0.2, 0.4, 0.3, 0.35, 0.1, 0.9, 0.9])  # steps 0..6: best at step 1, then two scores without gain

    def fake_score(self, model, folder=None):
        return {METRIC: next(scores), "validation_seconds": 0.0}, None

    monkeypatch.setattr(Validation, "score", fake_score)
    summary = train(
        TrainConfig(**settings(tiny_model_dir, max_steps=6, eval_every=1, patience=2)),
        sources(shop_split),
        tmp_path / "m",
        tmp_path / "log",
        validation=validation(shop_split),
    )
    assert summary["steps"] == 3 and summary["chosen_step"] == 1 and summary["stopped_early"]
    assert summary["validation"] == {METRIC: 0.4}


def test_an_interrupted_tuning_resumes_without_retraining_finished_points(
    tiny_model_dir, shop_split, tmp_path, monkeypatch
):
    grid = settings(tiny_model_dir, max_steps=[1, 2], lr=[1e-3, 3e-3], eval_every=1)
    args = (sources(shop_split), validation(shop_split))
    straight = tune(grid, *args, tmp_path / "a", tmp_path / "log_a", tmp_path / "a.json")

    real_train, calls = tuning.train, []

    def crash_in_second_point(config, *a, **kw):
        calls.append(config.lr)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash")
        return real_train(config, *a, **kw)

    monkeypatch.setattr(tuning, "train", crash_in_second_point)
    with pytest.raises(KeyboardInterrupt):
        tune(grid, *args, tmp_path / "b", tmp_path / "log_b", tmp_path / "b.json")
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.json").exists()
    calls.clear()
    monkeypatch.setattr(
        tuning, "train", lambda config, *a, **kw: calls.append(config.lr) or real_train(config, *a, **kw)
    )
    resumed = tune(grid, *args, tmp_path / "b", tmp_path / "log_b", tmp_path / "b.json")
    assert calls == [3e-3]  # the first point was done and is not retrained
    assert resumed["grid"] == [
        {**p, "seconds": q["seconds"]} for p, q in zip(straight["grid"], resumed["grid"], strict=True)
    ]
    assert same_weights(tmp_path / "a", tmp_path / "b")


def test_under_torchrun_every_rank_trains_every_point_and_only_rank_0_writes(
    tiny_model_dir, shop_split, tmp_path, monkeypatch
):
    calls = []
    monkeypatch.setattr(tuning, "train", lambda config, *a, **kw: calls.append(config.lr) or {})
    monkeypatch.setenv("RANK", "1")
    grid = settings(tiny_model_dir, max_steps=[1, 2], lr=[1e-3, 3e-3])
    assert (
        tune(grid, sources(shop_split), validation(shop_split), tmp_path / "m", tmp_path / "log", tmp_path / "t.json")
        == {}
    )
    assert calls == [1e-3, 3e-3]  # rank 1 joins both runs (their collectives need every rank)
    fit = refit(
        None,
        sources(shop_split, "train_full"),
        tmp_path / "test",
        tmp_path / "tl",
        tmp_path / "fit.json",
        settings=settings(tiny_model_dir, max_steps=2),
    )
    assert fit == {} and calls == [1e-3, 3e-3, 1e-3]
    written = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], f"rank 1 wrote {written}"


def scripted_runs(config: TrainConfig, folder: Path, tmp_path: Path, monkeypatch) -> Callable[[str, list], dict]:
    """Runs of ``config`` into ``tmp_path/<out>`` whose validation scores are the given list, in order."""

    def scripted(self, model, folder=None):
        return {METRIC: float(self.calls.pop(0)), "validation_seconds": 0.0}, None

    monkeypatch.setattr(Validation, "score", scripted)

    def run(out: str, scores: list[float]) -> dict:
        phases = validation(folder)
        object.__setattr__(phases, "calls", scores)
        return train(config, sources(folder), tmp_path / out, tmp_path / f"log_{out}", validation=phases)

    return run


def test_a_crash_right_after_a_new_best_resumes_to_the_same_model(tiny_model_dir, shop_split, tmp_path, monkeypatch):
    """Step 2 is the best; the run dies after step 2's checkpoint but before its copy of the model, so the resumed
    run must write that copy from the checkpoint (the later steps do not beat it)."""
    from beeformer.train import selection

    config = TrainConfig(**settings(tiny_model_dir, max_steps=4, eval_every=1, patience=3, checkpoint_every=0))
    run = scripted_runs(config, shop_split, tmp_path, monkeypatch)

    assert run("straight", [0.0, 0.1, 0.2, 0.05, 0.05])["chosen_step"] == 2
    real_save, calls = selection.Best.save, {"n": 0}

    def crash_on_second_copy(self, model, rank):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")
        return real_save(self, model, rank)

    monkeypatch.setattr(selection.Best, "save", crash_on_second_copy)
    with pytest.raises(KeyboardInterrupt):
        run("resumed", [0.0, 0.1, 0.2])
    assert contract.read_json(tmp_path / "log_resumed" / "best" / selection.MARKER)["step"] == 1
    monkeypatch.setattr(selection.Best, "save", real_save)
    assert run("resumed", [0.05, 0.05])["chosen_step"] == 2
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")


def test_every_score_is_a_checkpoint_even_without_gain(tiny_model_dir, shop_split, tmp_path, monkeypatch):
    """checkpoint_every 0 (epoch ends only): the run dies while training step 3, after step 2's score without
    gain; it resumes from step 2, scoring only steps 3 and 4 again, to the same model as a straight run."""
    config = TrainConfig(**settings(tiny_model_dir, max_steps=4, eval_every=1, patience=9, checkpoint_every=0))
    run = scripted_runs(config, shop_split, tmp_path, monkeypatch)
    assert run("straight", [0.2, 0.3, 0.1, 0.1, 0.1])["chosen_step"] == 1
    real_step, calls = trainer.training_step, {"n": 0}

    def crash_in_step_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer, "training_step", crash_in_step_3)
    with pytest.raises(KeyboardInterrupt):
        run("resumed", [0.2, 0.3, 0.1])
    monkeypatch.setattr(trainer, "training_step", real_step)
    assert run("resumed", [0.1, 0.1])["chosen_step"] == 1  # steps 3 and 4 only: it resumed at step 2
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")
    straight = (tmp_path / "log_straight" / "training_log.csv").read_text().splitlines()
    resumed = (tmp_path / "log_resumed" / "training_log.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in straight] == [r.split(",")[:3] for r in resumed]


def test_a_score_cut_short_resumes_without_its_step_or_its_kept_blocks(
    tiny_model_dir, shop_split, tmp_path, monkeypatch
):
    """checkpoint_every 0: the run dies while scoring step 2, after one block of its embeddings; it resumes at step
    2 (its checkpoint is written before the score), encodes only the blocks it had not, and ends with the model
    and log of a straight run."""
    monkeypatch.setattr(encoding, "BLOCK_SIZE", 16)
    config = TrainConfig(**settings(tiny_model_dir, max_steps=3, eval_every=2, patience=9, checkpoint_every=0))
    straight = train(
        config, sources(shop_split), tmp_path / "straight", tmp_path / "log_s", validation=validation(shop_split)
    )
    real_encode, blocks = encoding._encode, []

    def encode_block(*args, **kwargs):
        blocks.append(1)
        if crash_at and len(blocks) == crash_at:
            raise KeyboardInterrupt("simulated crash")
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(encoding, "_encode", encode_block)
    n_blocks = -(-len(validation(shop_split).phases[0].texts) // 16)
    crash_at = n_blocks + 2  # step 0's blocks, then the second block of step 2's
    with pytest.raises(KeyboardInterrupt):
        train(config, sources(shop_split), tmp_path / "resumed", tmp_path / "log_r", validation=validation(shop_split))
    blocks.clear()
    crash_at, steps = None, counted_steps(monkeypatch)
    resumed = train(
        config, sources(shop_split), tmp_path / "resumed", tmp_path / "log_r", validation=validation(shop_split)
    )
    assert len(steps) == 1  # step 3 only
    assert len(blocks) == n_blocks - 1 + n_blocks  # step 2's blocks but the one kept, then step 3's
    assert resumed["chosen_step"] == straight["chosen_step"] and same_weights(
        tmp_path / "straight", tmp_path / "resumed"
    )
    logs = [pd.read_csv(tmp_path / f"log_{x}" / "training_log.csv")[["step", "loss", METRIC]] for x in "sr"]
    pd.testing.assert_frame_equal(*logs)
    assert not list((tmp_path / "log_r").rglob("scores-*"))  # the kept blocks go once their score is recorded


def counted_steps(monkeypatch) -> list[int]:
    """Count the training steps that run (one entry each)."""
    real_step, calls = trainer.training_step, []
    monkeypatch.setattr(trainer, "training_step", lambda *a, **kw: calls.append(1) or real_step(*a, **kw))
    return calls


def test_a_raised_budget_goes_on_from_where_a_rising_curve_ended(tiny_model_dir, shop_split, tmp_path, monkeypatch):
    """Two steps end on their best score, so the checkpoint stays; the same run with max_steps 4 (and another
    patience) trains only steps 3 and 4, to the model and log of a straight 4-step run. That one turned at step 4,
    so its checkpoint goes; a budget lowered below a kept checkpoint trains afresh."""
    config = TrainConfig(**settings(tiny_model_dir, max_steps=2, eval_every=1, patience=9, checkpoint_every=0))
    run_short = scripted_runs(config, shop_split, tmp_path, monkeypatch)
    run_raised = scripted_runs(replace(config, max_steps=4, patience=2), shop_split, tmp_path, monkeypatch)
    assert run_raised("straight", [0.1, 0.2, 0.3, 0.4, 0.35])["chosen_step"] == 3
    assert run_short("short", [0.1, 0.2, 0.3])["chosen_step"] == 2
    kept = tmp_path / "log_short" / "checkpoint" / checkpoint.FILENAME
    assert kept.exists()
    shutil.copytree(tmp_path / "log_short", tmp_path / "log_lowered")

    steps = counted_steps(monkeypatch)
    assert run_raised("short", [0.4, 0.35])["chosen_step"] == 3
    assert len(steps) == 2 and not kept.exists()
    assert same_weights(tmp_path / "straight", tmp_path / "short")
    straight = pd.read_csv(tmp_path / "log_straight" / "training_log.csv")
    resumed = pd.read_csv(tmp_path / "log_short" / "training_log.csv")
    pd.testing.assert_frame_equal(straight[["step", "loss", METRIC]], resumed[["step", "loss", METRIC]])

    steps.clear()
    lowered = replace(config, max_steps=1)
    assert scripted_runs(lowered, shop_split, tmp_path, monkeypatch)("lowered", [0.1, 0.2])["chosen_step"] == 1
    assert len(steps) == 1


@pytest.mark.parametrize(("schedule", "steps_trained"), [("constant", 2), ("linear", 4)])
def test_tuning_with_a_raised_budget_trains_only_the_new_steps_where_the_schedule_allows(
    tiny_model_dir, shop_split, tmp_path, monkeypatch, schedule, steps_trained
):
    """Under a constant learning rate the raised budget goes on in the same run folder; under a linear decay
    every step's rate depends on the budget, so the run starts afresh in a folder of its own."""
    again = [0.1, 0.2, 0.3] if schedule == "linear" else []
    scores = iter([0.1, 0.2, 0.3, *again, 0.4, 0.35])
    monkeypatch.setattr(Validation, "score", lambda self, model, folder=None: ({METRIC: next(scores)}, None))

    def tune_to(max_steps: int) -> dict:
        point = settings(tiny_model_dir, max_steps=[max_steps], eval_every=1, patience=9, schedule=schedule)
        args = (sources(shop_split), validation(shop_split))
        return tune(point, *args, tmp_path / "model", tmp_path / "log", tmp_path / "tuning.json")

    assert tune_to(2)["chosen"]["max_steps"] == 2
    steps = counted_steps(monkeypatch)
    assert tune_to(4)["chosen"]["max_steps"] == 3
    assert len(steps) == steps_trained
    assert len(list((tmp_path / "log").glob("run-*"))) == (1 if schedule == "constant" else 2)
    steps.clear()
    assert tune_to(4)["chosen"]["max_steps"] == 3 and steps == []  # done: not retrained


@pytest.mark.parametrize(
    ("overrides", "with_validation", "message"),
    [
        (
            {"max_steps": [2, 99], "epochs": 1},
            True,
            r"train.max_steps: listed step\(s\) \[99\] lie beyond this run's 4",
        ),
        ({"max_steps": 3, "eval_every": 5}, True, "train.eval_every: 5 is larger than this run's 3 steps"),
        ({"max_steps": 3, "eval_every": 1}, False, "eval_every need"),
        ({"max_steps": 2, "epochs": [1, 3]}, True, r"grid points differ only in \['epochs'\], which say when"),
    ],
)
def test_settings_that_cannot_work_fail_before_training(
    tiny_model_dir, shop_split, tmp_path, monkeypatch, overrides, with_validation, message
):
    from beeformer.train import trainer

    monkeypatch.setattr(trainer, "training_step", lambda *a, **k: pytest.fail("trained despite bad settings"))
    point = settings(tiny_model_dir, **overrides)
    with pytest.raises(contract.ContractError, match=message):
        if with_validation:
            tune(
                point,
                sources(shop_split),
                validation(shop_split),
                tmp_path / "m",
                tmp_path / "log",
                tmp_path / "t.json",
            )
        else:
            train(TrainConfig(**point), sources(shop_split), tmp_path / "m", tmp_path / "log")
    assert not (tmp_path / "m").exists() and not (tmp_path / "t.json").exists()
    assert not list(tmp_path.glob("log/*/model"))


def test_an_empty_validation_phase_is_refused(shop_split, tmp_path):
    contract.write_table(pd.DataFrame({"user_id": [], "item_id": []}, dtype=str), tmp_path / "empty.parquet")
    with pytest.raises(contract.ContractError, match="is empty, so there is no validation phase to score"):
        ValidationPhase.load(
            "shop",
            part(shop_split, "validation_source"),
            tmp_path / "empty.parquet",
            part(shop_split, "validation_candidates"),
            shop_split / "items.parquet",
        )
