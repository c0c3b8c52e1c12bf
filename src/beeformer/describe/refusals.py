"""Cleaning and filtering generated descriptions: refusals, empty and truncated outputs.

The paper drops the items the LLM refused to describe. The rules, applied in this order to every output:

1. **Cleaning.** Surrounding whitespace is stripped. With the authors' prompt (the prefill as a closed assistant
   message) Llama opens a new assistant turn whose header word survives as ``assistant`` on the first line: a
   first line that is just ``assistant`` is removed. A copy of the prefill at the very start is removed too.
2. **Empty.** Fewer than ``filter.min_chars`` characters, or no letter or digit at all, after cleaning.
3. **Refusal.** (a) The output *opens* with a refusal (case-sensitive, straight or curly apostrophes, after any
   opening quotes): "I can't / cannot / won't / will not / must decline / refuse / apologize ...", "I'm sorry",
   "Sorry", "I'm unable / not able ...", "I don't feel comfortable ...", "Unfortunately, I ...",
   "As an AI ...", "I'm an AI ..."; or (b) *anywhere* in it, a refusal sentence "I can't / cannot / won't /
   am unable to ... help / assist / create / generate / provide / write / produce / summarize / describe /
   fulfill / comply / engage / complete / continue ..." (not "I can't help but ..."), or "I don't have the
   capability / ability to ..."; or (c) one of ``filter.extra_patterns`` (Python regular expressions) is found.
   Ordinary descriptions that merely quote such words later ("a memoir titled I Can't Make This Up") are kept:
   (a) only looks at the opening and (b) needs the first person plus a refusal verb.
4. **Truncated.** The engine says generation stopped at ``max_tokens`` (``finish_reason == "length"``). When the
   engine gives no finish reason (published texts), an output that does not end with terminal punctuation
   (``. ! ? …``, optionally followed by closing quotes or brackets) counts as truncated. ``filter.truncated``
   says what happens: ``drop``, ``trim`` (cut back to the last complete sentence; dropped if there is none) or
   ``keep``.

Each rule that drops an output names itself in the report (``reason`` and ``rule``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from beeformer.describe.settings import Filter

_APOS = "['’]"
_QUOTES = "\"'“”‘’«»"

#: (a) refusal openings, matched at the start of the cleaned output.
OPENING_REFUSALS: dict[str, str] = {
    "opens-cannot": rf"I (?:can{_APOS}t|cannot|can not|won{_APOS}t|will not|must decline|refuse|apologi[sz]e)\b",
    "opens-sorry": rf"(?:I{_APOS}m|I am) (?:so |very |truly )?sorry\b|Sorry\b",
    "opens-unable": rf"(?:I{_APOS}m|I am) (?:unable|not able|not comfortable|not going to)\b",
    "opens-uncomfortable": rf"I (?:don{_APOS}t|do not) (?:feel comfortable|think I can)\b",
    "opens-unfortunately": r"(?:Unfortunately|Regrettably),? I\b",
    "opens-as-an-ai": rf"As an AI\b|(?:I{_APOS}m|I am) (?:just )?an AI\b",
}

#: (b) refusal sentences, searched anywhere in the output.
ANYWHERE_REFUSALS: dict[str, str] = {
    "refusal-sentence": (
        rf"\bI (?:can{_APOS}t|cannot|can not|won{_APOS}t|will not|am unable to|{_APOS}m unable to|"
        rf"am not able to|{_APOS}m not able to) "
        r"(?:help|assist|fulfil|fulfill|create|generate|provide|write|produce|summari[sz]e|describe|comply|engage|"
        r"complete|continue|support|do that)\b(?! but\b)"
    ),
    "no-capability": rf"\bI (?:don{_APOS}t|do not) have the (?:capability|ability) to\b",
}

_OPENING = [(name, re.compile(pattern)) for name, pattern in OPENING_REFUSALS.items()]
_ANYWHERE = [(name, re.compile(pattern)) for name, pattern in ANYWHERE_REFUSALS.items()]
_ROLE_LINE = re.compile(r"\A\s*assistant[ \t]*\n", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]»]*(?=\s|$)")
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]»]*\Z")
_ALNUM = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Verdict:
    """``text`` is what the encoder will see, or None when the output is dropped for ``reason`` (``rule``)."""

    text: str | None
    reason: str | None = None  # empty | refusal | truncated
    rule: str | None = None
    trimmed: bool = False


def clean(output: str, prefill: str = "") -> str:
    """Strip whitespace, a leading ``assistant`` header line and a repeated prefill (rule 1)."""
    text = _ROLE_LINE.sub("", output, count=1).strip()
    if prefill and text.startswith(prefill.strip()):
        text = text[len(prefill.strip()) :].strip()
    return text


def refusal_rule(text: str, extra_patterns: tuple[str, ...] = ()) -> str | None:
    """The name of the first refusal rule ``text`` matches (rule 3), or None."""
    opening = text.lstrip(_QUOTES + " \t\n")
    for name, pattern in _OPENING:
        if pattern.match(opening):
            return name
    for name, pattern in _ANYWHERE:
        if pattern.search(text):
            return name
    for pattern in extra_patterns:
        if re.search(pattern, text):
            return f"extra:{pattern}"
    return None


def is_truncated(text: str, finish_reason: str | None) -> bool:
    """Rule 4: stopped at max_tokens, or (no finish reason known) no terminal punctuation at the end."""
    if finish_reason is not None:
        return finish_reason == "length"
    return not _TERMINAL.search(text)


def trim_to_sentence(text: str) -> str | None:
    """``text`` cut after its last complete sentence, or None when it has none."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()].strip() if ends else None


def judge(output: str, finish_reason: str | None, settings: Filter, prefill: str = "") -> Verdict:
    """Apply rules 1-4 to one raw output."""
    text = clean(output, prefill)
    if len(text) < max(settings.min_chars, 1) or not _ALNUM.search(text):
        return Verdict(None, "empty", "empty")
    rule = refusal_rule(text, settings.extra_patterns)
    if rule is not None:
        return Verdict(None, "refusal", rule)
    if is_truncated(text, finish_reason):
        if settings.truncated == "keep":
            return Verdict(text)
        if settings.truncated == "trim":
            trimmed = trim_to_sentence(text)
            if trimmed and len(trimmed) >= max(settings.min_chars, 1):
                return Verdict(trimmed, trimmed=True)
        return Verdict(None, "truncated", f"finish_reason={finish_reason}" if finish_reason else "no-end-punctuation")
    return Verdict(text)
