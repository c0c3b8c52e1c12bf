"""Every relative link in the README, config/README.md and docs/*.md points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: ``[text](target)`` and ``![alt](target)``; the target ends at the first space (a title may follow) or ``)``.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*)?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def relative_links(markdown: str) -> list[str]:
    """The relative link targets of a Markdown text, ``#anchor`` stripped (code blocks and spans are not links)."""
    text = INLINE_CODE.sub("", FENCE.sub("", markdown))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            continue  # https:, mailto:, ... or an anchor in the same page
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path:
            targets.append(path)
    return targets


def broken_links(document: Path) -> list[str]:
    return [t for t in relative_links(document.read_text()) if not (document.parent / t).exists()]


def test_extractor_finds_links_and_images_and_skips_the_rest(tmp_path: Path) -> None:
    text = (
        'See [the method](docs/method.md#training), ![a plot](docs/plot.png "title") and [web](https://x.org/a.md),\n'
        "[here](#local), `[code](not/a/link.md)`, [a [nested] label](config/README.md).\n"
        "```\n[fenced](not/either.md)\n```\n"
    )
    assert relative_links(text) == ["docs/method.md", "docs/plot.png", "config/README.md"]

    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# there\n")
    page.write_text("[ok](there.md#a) and [missing](gone.md) and ![img](missing.png)\n")
    assert broken_links(page) == ["gone.md", "missing.png"]


def test_the_documents_exist() -> None:
    assert (ROOT / "README.md").exists() and (ROOT / "config" / "README.md").exists()
    assert len(documents()) > 3


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    assert broken_links(document) == [], f"{document.relative_to(ROOT)} links to files that do not exist"
