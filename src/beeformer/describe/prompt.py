"""Prompts: the conversation for one item, rendered with a tokenizer's chat template, and the stop tokens.

With the defaults this is the authors' generation exactly (their README, "LLM Data augmentations"): the
conversation ``[system, user "Item description: " + features, assistant "Sure, here is your one paragraph
summary of your product:"]`` rendered by ``tokenizer.apply_chat_template(conversation, tokenize=False)``, and
generation stopped at the tokenizer's end-of-sequence token and ``<|eot_id|>``.
"""

from __future__ import annotations

from typing import Any

from beeformer.describe.settings import DescribeError, Prompt, Sampling


def conversation(prompt: Prompt, text: str) -> list[dict[str, str]]:
    """The chat messages for one item's gathered features ``text``."""
    messages = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    messages.append({"role": "user", "content": prompt.user.replace("{text}", text)})
    if prompt.prefill:
        messages.append({"role": "assistant", "content": prompt.prefill})
    return messages


def chat_template_kwargs(prompt: Prompt) -> dict[str, Any]:
    """Keyword arguments of ``apply_chat_template`` besides the conversation (always ``tokenize=False``)."""
    if not prompt.prefill:
        return {"tokenize": False, "add_generation_prompt": True}
    if prompt.prefill_mode == "continue":
        return {"tokenize": False, "continue_final_message": True}
    return {"tokenize": False}  # the authors' call: the prefill is a complete assistant message


def render(tokenizer: Any, prompt: Prompt, text: str) -> str:
    """The prompt string for one item, through the tokenizer's chat template."""
    if not getattr(tokenizer, "chat_template", None):
        raise DescribeError(
            "describe.model: the model's tokenizer has no chat template; use an instruction-tuned model (or add a "
            "chat_template.jinja to its folder, docs/descriptions.md)"
        )
    return tokenizer.apply_chat_template(conversation(prompt, text), **chat_template_kwargs(prompt))


def stop_token_ids(tokenizer: Any, sampling: Sampling) -> list[int]:
    """The end-of-sequence token id, then the ids of ``sampling.stop_tokens`` the tokenizer knows (no repeats)."""
    ids: list[int] = []
    candidates = [tokenizer.eos_token_id]
    unknown = getattr(tokenizer, "unk_token_id", None)
    for token in sampling.stop_tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is not None and token_id != unknown:
            candidates.append(token_id)
    for token_id in candidates:
        if token_id is not None and int(token_id) not in ids:
            ids.append(int(token_id))
    return ids
