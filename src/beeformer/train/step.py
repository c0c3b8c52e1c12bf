"""One beeFormer training step (Algorithm 1), as separately named stages.

This docstring is the project's one account of the step design; docs/method.md describes the loop around it
(tuning, validation, memory budget, precision, checkpoints) and the choices where the paper is silent.

(a) sample a batch of users, the items they touch and uniform negatives up to m (:mod:`beeformer.train.sampling`;
    which negatives, ``negatives: official | paper``, is in docs/method.md);
(b) ``embed_without_grad``: embed the step's items chunk by chunk with no autograd graph -> matrix A;
(c) ``loss_and_embedding_gradient``: the ELSA loss of Eq. 2 on L2-normalised rows, and dL/dA;
(d) ``backpropagate_chunks``: re-embed chunk by chunk with autograd and push the cached slice of dL/dA into
    the Transformer (gradient accumulation), so memory depends on the chunk, not on m;
(e) the optimizer step, in ``training_step``.

When the autograd graph of all m items fits in memory, ``single_pass=True`` keeps the graphs of one forward
(``embed_with_grad``) and back-propagates dL/dA through them: one forward instead of two. With several ranks
(:mod:`beeformer.train.distributed`) each rank embeds and back-propagates only its share of the chunks.

With dropout on, pass (d) replays the random state that pass (b) saw for each chunk, so dropout masks match
and dL/dA is the exact gradient of the function that was evaluated (the authors' code does not do this;
``replay_dropout: false`` turns it off). With dropout off (``dropout: false``, eval mode) there is nothing to
replay. Which attention implementation each pass runs is :mod:`beeformer.train.passes`'s rule (on a CPU without
dropout: SDPA for pass (b), eager attention for pass (d) and the single pass).

Under ``autocast`` (bf16, :mod:`beeformer.precision`) the Transformer's matrix products run in bf16; A, the loss
and dL/dA stay float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer

from beeformer import precision
from beeformer.train.distributed import SINGLE_PROCESS, Rank, sum_across_ranks, sum_gradients
from beeformer.train.passes import Passes, attention

Features = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TokenizedCatalogue:
    """Every item's token ids, tokenized once before training."""

    input_ids: list[list[int]]
    pad_id: int

    @classmethod
    def build(cls, model: SentenceTransformer, texts: Sequence[str], prefix: str = "") -> TokenizedCatalogue:
        tokenizer = model.tokenizer
        encoded = tokenizer(
            [prefix + t for t in texts], truncation=True, max_length=model.max_seq_length, padding=False
        )
        return cls(input_ids=list(encoded["input_ids"]), pad_id=int(tokenizer.pad_token_id or 0))

    def lengths(self, items: np.ndarray) -> np.ndarray:
        return np.fromiter((len(self.input_ids[i]) for i in items), dtype=np.int64, count=len(items))

    def collate(self, items: np.ndarray, device: torch.device) -> Features:
        """Pad one chunk of items to its longest member."""
        width = max(len(self.input_ids[i]) for i in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, i in enumerate(items):
            tokens = self.input_ids[i]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        return {
            "input_ids": ids.to(device, non_blocking=True),
            "attention_mask": mask.to(device, non_blocking=True),
            "token_type_ids": torch.zeros_like(ids).to(device, non_blocking=True),
        }


@dataclass(frozen=True)
class Chunk:
    """A slice of the step's items: ``positions`` index rows of A, ``features`` are their padded tokens."""

    positions: torch.Tensor
    features: Features


def make_chunks(
    catalogue: TokenizedCatalogue,
    items: np.ndarray,
    chunk_size: int,
    device: torch.device,
    rank: Rank = SINGLE_PROCESS,
) -> list[Chunk]:
    """Cut the step's items into chunks of similar token length (which cuts padding); only ``rank``'s are built."""
    order = np.argsort(catalogue.lengths(items), kind="stable")
    starts = rank.share(range(0, len(items), chunk_size))
    return [
        Chunk(
            positions=torch.from_numpy(order[start : start + chunk_size]).to(device),
            features=catalogue.collate(items[order[start : start + chunk_size]], device),
        )
        for start in starts
    ]


class RandomState:
    """The CPU and CUDA random states at one moment, to replay a forward pass with the same dropout."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        devices = [self.device] if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


def embed(model: SentenceTransformer, features: Features, autocast: torch.dtype | None) -> torch.Tensor:
    """Sentence embeddings of one chunk (float32 under autocast, else the model's dtype)."""
    with precision.autocast(features["input_ids"].device, autocast):
        out = model(dict(features))["sentence_embedding"]
    return out.float() if autocast is not None else out


def embed_without_grad(
    model: SentenceTransformer,
    chunks: Sequence[Chunk],
    m: int,
    autocast: torch.dtype | None = None,
    rank: Rank = SINGLE_PROCESS,
    record_states: bool = True,
) -> tuple[torch.Tensor, list[RandomState] | None]:
    """Stage (b): the m x d matrix A with no autograd graph, and each chunk's random state if ``record_states``.

    ``chunks`` are this rank's; the rows of other ranks' chunks arrive through a sum over ranks.
    """
    states: list[RandomState] = []
    parts: list[torch.Tensor] = []
    with torch.no_grad():
        for chunk in chunks:
            if record_states:
                states.append(RandomState(chunk.positions.device))
            parts.append(embed(model, chunk.features, autocast))
    return assemble(model, chunks, parts, m, autocast, rank), states if record_states else None


def assemble(
    model: SentenceTransformer,
    chunks: Sequence[Chunk],
    parts: Sequence[torch.Tensor],
    m: int,
    autocast: torch.dtype | None,
    rank: Rank,
) -> torch.Tensor:
    """The m x d matrix A (no graph) from this rank's chunk embeddings, with other ranks' rows summed in."""
    dtype = torch.float32 if autocast is not None else next(model.parameters()).dtype
    A = torch.zeros((m, model.get_embedding_dimension()), dtype=dtype, device=next(model.parameters()).device)
    for chunk, part in zip(chunks, parts, strict=True):
        A[chunk.positions] = part.detach()
    return sum_across_ranks(A, rank)


def embed_with_grad(
    model: SentenceTransformer, chunks: Sequence[Chunk], autocast: torch.dtype | None = None
) -> list[torch.Tensor]:
    """The single-pass alternative to stage (b): chunk embeddings whose autograd graphs are kept."""
    return [embed(model, chunk.features, autocast) for chunk in chunks]


def elsa_loss(X: torch.Tensor, A: torch.Tensor, relu: bool = True) -> torch.Tensor:
    """Eq. 2: ``MSE(norm(X), norm(X Â Âᵀ - X))`` with Â the L2-normalised rows of A.

    ``relu=True`` clips negative predictions as the authors' code does; ``relu=False`` is Eq. 2 as printed.
    The mean over all entries (PyTorch's MSELoss) scales Eq. 2's squared Frobenius norm by 1/(users x items).
    """
    A_hat = F.normalize(A, dim=-1)
    prediction = (X @ A_hat) @ A_hat.T - X
    if relu:
        prediction = torch.relu(prediction)
    return F.mse_loss(F.normalize(prediction, dim=-1), F.normalize(X, dim=-1))


def loss_and_embedding_gradient(
    X: torch.Tensor, A: torch.Tensor, relu: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage (c): the loss and its gradient with respect to A (the 'gradient checkpoint' of Algorithm 1)."""
    A = A.detach().requires_grad_(True)
    loss = elsa_loss(X, A, relu)
    (dA,) = torch.autograd.grad(loss, A)
    return loss.detach(), dA


def backpropagate_chunks(
    model: SentenceTransformer,
    chunks: Sequence[Chunk],
    dA: torch.Tensor,
    states: Sequence[RandomState] | None,
    autocast: torch.dtype | None = None,
) -> None:
    """Stage (d): re-embed each chunk with autograd and back-propagate its slice of dL/dA into the model."""
    for i, chunk in enumerate(chunks):
        replay = states[i].replay() if states is not None else contextlib.nullcontext()
        with replay:
            A_chunk = embed(model, chunk.features, autocast)
        A_chunk.backward(gradient=dA[chunk.positions])


def training_step(
    model: SentenceTransformer,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    chunks: Sequence[Chunk],
    *,
    relu: bool = True,
    replay_dropout: bool = True,
    autocast: torch.dtype | None = None,
    single_pass: bool = False,
    passes: Passes | None = None,
    rank: Rank = SINGLE_PROCESS,
) -> torch.Tensor:
    """Stages (b)-(e) for one batch: returns the loss (a 0-d tensor, still on the device).

    ``chunks`` are this rank's (``make_chunks(..., rank=rank)``); with one process, all of them. ``passes``: the
    attention implementation of each pass (None: the model's own); dropout is on when the model is in training
    mode (:func:`beeformer.train.passes.set_training_mode`).
    """
    m = X.shape[1]
    no_grad, grad = (None, None) if passes is None else (passes.no_grad, passes.grad)
    optimizer.zero_grad(set_to_none=True)
    if single_pass:
        with attention(model, grad):
            parts = embed_with_grad(model, chunks, autocast)
            loss, dA = loss_and_embedding_gradient(X, assemble(model, chunks, parts, m, autocast, rank), relu)
            if parts:
                torch.autograd.backward(parts, [dA[chunk.positions] for chunk in chunks])
    else:
        replay = replay_dropout and model.training
        with attention(model, no_grad):
            A, states = embed_without_grad(model, chunks, m, autocast, rank, record_states=replay)
        loss, dA = loss_and_embedding_gradient(X, A, relu)
        with attention(model, grad):
            backpropagate_chunks(model, chunks, dA, states, autocast)
    sum_gradients([p for p in model.parameters() if p.requires_grad], rank)
    optimizer.step()
    return loss


def graph_bytes(
    model: SentenceTransformer,
    chunks: Sequence[Chunk],
    autocast: torch.dtype | None,
    implementation: str | None = None,
    dropout: bool = True,
) -> int:
    """Rough activation memory of keeping every chunk's autograd graph (the single-pass mode).

    Per Transformer layer and sequence of length s: s (34 h + 5 a s) bytes in 16-bit precision (Korthikanti et
    al., 2022), twice that in 32-bit; h the hidden size, a the number of attention heads. Of these, 2 s h are
    dropout masks and 5 a s² the attention scores, their softmax (2 bytes each) and its dropout mask (1), which
    eager attention (``implementation`` ``eager`` or None, the model's own) keeps and fused SDPA does not,
    except on a CPU with dropout, where PyTorch falls back to the unfused kernel. CPU autocast keeps much of the
    graph in 32-bit (a bf16 MiniLM step measured 12.6 GB against a 16-bit estimate below 7 GB;
    docs/benchmarks.md), so only CUDA autocast counts as 16-bit.
    """
    config = model[0].auto_model.config
    h, a, layers = config.hidden_size, config.num_attention_heads, config.num_hidden_layers
    on_cuda = bool(chunks) and chunks[0].features["input_ids"].device.type == "cuda"
    scale = 1 if autocast is not None and on_cuda else 2
    per_hidden = 34 if dropout else 32
    keeps_scores = implementation != "sdpa" or (dropout and not on_cuda)
    per_score = (5 if dropout else 4) if keeps_scores else 0
    total = 0
    for chunk in chunks:
        n, s = chunk.features["input_ids"].shape
        total += n * s * (per_hidden * h + per_score * a * s)
    return total * layers * scale
