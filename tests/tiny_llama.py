"""A tiny Llama-architecture chat model built offline, for the engines' end-to-end tests.

A byte-level BPE tokenizer (Llama-3's special tokens, a Llama-3-style chat template) trained on the texts it will
see, and a 2-layer ``LlamaForCausalLM`` (about 0.2M parameters) saved as a Hugging Face folder that vLLM and
transformers load. :func:`build_tiny_llama` can teach it answers: trained for a few seconds until greedy decoding
of each prompt (rendered exactly as the describe stage renders it) returns the answer, so a test knows what a real
engine must generate.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from beeformer.describe.prompt import render
from beeformer.describe.settings import Prompt

BOS, EOT, HEADER_START, HEADER_END = "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"
CHAT_TEMPLATE = (
    "{{ '" + BOS + "' }}{% for m in messages %}"
    "{{ '" + HEADER_START + "' + m['role'] + '" + HEADER_END + "\n\n' + m['content'] | trim + '" + EOT + "' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '" + HEADER_START + "assistant" + HEADER_END + "\n\n' }}{% endif %}"
)
CORPUS = ["system", "user", "assistant", "Describe the item.", "A tent for two.", "A lamp with a battery."]


def build_tiny_llama(
    folder: Path,
    *,
    chat_template: bool = True,
    teach: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
    seed: int = 0,
) -> Path:
    """Save the model in ``folder``; with ``teach`` (item text -> answer), train it to answer each ``prompt``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    teach = dict(teach or {})
    specials = [BOS, "<|end_of_text|>", HEADER_START, HEADER_END, EOT]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    prompt = prompt or Prompt()
    bpe.train_from_iterator([*CORPUS, prompt.system, prompt.user, *teach, *teach.values()], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=EOT, pad_token="<|end_of_text|>")
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,  # vLLM's CPU attention has no kernel for head_dim 16
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    if teach:
        _teach(model, tokenizer, teach, prompt)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


def _teach(model, tokenizer, teach: Mapping[str, str], prompt: Prompt, max_steps: int = 600) -> None:
    """Adam on the answer tokens (and the end-of-turn) until greedy decoding returns every answer."""
    import torch

    rows, masks = [], []
    for text, answer in teach.items():
        context = tokenizer(render(tokenizer, prompt, text), add_special_tokens=False)["input_ids"]
        target = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append(context + target)
        masks.append([0] * len(context) + [1] * len(target))
    width = max(map(len, rows))
    ids = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
    weight = torch.tensor([m + [0] * (width - len(m)) for m in masks], dtype=torch.bool)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(max_steps):
        logits = model(input_ids=ids).logits[:, :-1]
        labels, keep = ids[:, 1:], weight[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01 and bool((logits.argmax(-1)[keep] == labels[keep]).all()):
            break
    else:
        raise AssertionError(f"the tiny model did not learn its answers in {max_steps} steps (loss {loss.item():.3f})")
    model.eval()
