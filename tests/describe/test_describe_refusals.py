"""Refusal, empty and truncated outputs: the documented rules of beeformer.describe.refusals."""

from __future__ import annotations

import pytest

from beeformer.describe.refusals import clean, is_truncated, judge, refusal_rule, trim_to_sentence
from beeformer.describe.settings import PAPER_PREFILL, Filter

REFUSALS = [
    "I can't help with that.",
    "I cannot create explicit content.",
    "I can’t fulfill that request.",
    "I can't create content that describes a sexual relationship with a minor. Can I help you with something else?",
    "I won't write a summary of this item.",
    "I'm sorry, but I can't assist with that request.",
    "I am sorry, I cannot produce that.",
    "Sorry, I can't do that.",
    "I'm unable to summarize this product.",
    "I am not able to provide a summary of explicit material.",
    "I don't feel comfortable describing this item.",
    "Unfortunately, I cannot generate a description for this item.",
    "As an AI language model, I cannot create that content.",
    "I must decline this request.",
    "I apologize, but this request goes against my guidelines.",
    '"I can\'t provide a summary of that book."',
    "Here is a summary: I cannot provide information or guidance on illegal or harmful activities.",
    "I'm a large language model, I don't have the capability to read or understand the provided text.",
]

DESCRIPTIONS = [
    "Immerse yourself in the thrilling world of The Hunger Games, a dystopian novel by Suzanne Collins.",
    '"Experience the timeless classic that has captivated readers for generations."',
    "I Can't Make This Up is a memoir by Kevin Hart, full of humour and hard-won lessons.",
    "A two-person dome tent: light, quick to pitch, and waterproof. Pack it for your next trip!",
    "In this memoir the author writes that she cannot help but return to the sea each summer.",
    "Get ready for a heartwarming tale of friendship, loss and the courage to say what we can't say aloud.",
    "I'm happy to help, but I have to inform you that the text is in Arabic. Here is the summary: a poet's life.",
]


@pytest.mark.parametrize("output", REFUSALS)
def test_known_refusals_are_dropped(output):
    verdict = judge(output, "stop", Filter())
    assert verdict.text is None and verdict.reason == "refusal", (output, verdict)
    assert verdict.rule


@pytest.mark.parametrize("output", DESCRIPTIONS)
def test_ordinary_descriptions_are_kept(output):
    verdict = judge(output, "stop", Filter())
    assert verdict.text == output.strip() and verdict.reason is None


@pytest.mark.parametrize("output", ["", "   \n ", '""', "...", "\n\n", "assistant\n\n"])
def test_empty_outputs_are_dropped(output):
    verdict = judge(output, "stop", Filter())
    assert verdict.text is None and verdict.reason == "empty"


def test_min_chars():
    assert judge("A tent.", "stop", Filter(min_chars=20)).reason == "empty"
    assert judge("A tent.", "stop", Filter(min_chars=5)).text == "A tent."


def test_truncated_by_finish_reason_drop_trim_keep():
    text = "A light tent for two. It pitches in minutes. The fly sheet is made of"
    assert judge(text, "length", Filter()).reason == "truncated"
    assert judge(text, "length", Filter()).rule == "finish_reason=length"
    trimmed = judge(text, "length", Filter(truncated="trim"))
    assert trimmed.text == "A light tent for two. It pitches in minutes." and trimmed.trimmed
    assert judge(text, "length", Filter(truncated="keep")).text == text
    # no complete sentence to trim back to: dropped
    assert judge("A light tent for", "length", Filter(truncated="trim")).reason == "truncated"
    # a finished generation is kept even without a final full stop
    assert judge("A light tent for two", "stop", Filter()).text == "A light tent for two"


def test_truncated_without_finish_reason_uses_end_punctuation():
    assert not is_truncated('"A light tent for two."', None)
    assert not is_truncated("Is this the best tent? Yes!", None)
    assert not is_truncated("A tent (for two).)", None)
    assert is_truncated("A light tent for two, with", None)
    assert judge("A light tent for two, with", None, Filter()).rule == "no-end-punctuation"
    assert not is_truncated("cut off", "stop") and is_truncated("A tent.", "length")


def test_cleaning_removes_role_header_and_repeated_prefill():
    assert clean("assistant\n\nA fine tent.") == "A fine tent."
    assert clean("  Assistant  \nA fine tent. ") == "A fine tent."
    assert clean(f"{PAPER_PREFILL}\n\nA fine tent.", PAPER_PREFILL) == "A fine tent."
    assert clean("The assistant manager's guide.") == "The assistant manager's guide."
    verdict = judge("assistant\n\nI can't help with that.", "stop", Filter(), PAPER_PREFILL)
    assert verdict.reason == "refusal"


def test_extra_patterns():
    assert refusal_rule("This product is not suitable.") is None
    assert refusal_rule("This product is not suitable.", ("not suitable",)) == "extra:not suitable"
    assert judge("Lorem ipsum dolor.", "stop", Filter(extra_patterns=("(?i)lorem ipsum",))).reason == "refusal"


def test_trim_to_sentence():
    assert trim_to_sentence('He said "go." Then he') == 'He said "go."'
    assert trim_to_sentence("no end") is None
