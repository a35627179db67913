"""The documentation holds together: every relative link leads somewhere, the README stays a front door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text()) if not re.match(r"^[a-z]+:", t)]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_its_heading(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists() or (anchor and where.suffix == ".md" and anchor not in _anchors(where.read_text())):
            broken.append(target)
    assert broken == [], f"{page.name}: {broken}"


def test_the_checker_sees_links_and_catches_a_broken_one(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[fine](page.md#top) [gone](nowhere.md) [site](https://example.com)\n")
    assert _relative_links(page) == ["page.md#top", "nowhere.md"]
    assert "top" in _anchors(page.read_text())


def test_the_readme_is_a_front_door_and_the_docs_it_points_to_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 170
    for doc in ("design", "events", "configuration", "deploying", "operations", "guarantees", "performance"):
        assert f"(docs/{doc}.md)" in readme
    assert "../shared" not in readme and "../shared" not in "".join(p.read_text() for p in DOCS)
