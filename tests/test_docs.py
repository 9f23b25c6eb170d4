"""The README and docs/ hold together: every relative link reaches a file (and a heading, for
`#anchor` links into markdown), the README stays a front page, and the HTTP reference is one
link away from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 200
# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out (a `[x](y)`
    in code is an example, not a link)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else re.sub(r"`[^`]*`", "``", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as shown (links and emphasis reduced to their
    words), lower-cased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)  # keeps letters, digits, _, - and spaces
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file, repeated headings numbered as GitHub does."""
    found: dict[str, int] = {}
    result = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(2))
            n = found.get(base, 0)
            found[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
    return result


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link in a markdown file, same-file anchors too."""
    return [(number, target) for number, line in enumerate(prose(path.read_text(encoding="utf-8")), start=1)
            for target in LINK.findall(line) if not EXTERNAL.match(target)]


def broken(path: Path) -> list[str]:
    """Why each relative link of `path` does not resolve, one line each."""
    problems = []
    for number, target in links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{where}: no heading with that anchor in {destination.name}")
    return problems


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    assert broken(path) == []


def test_the_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; at most {MAX_README_LINES}"


def test_the_http_reference_is_one_link_from_the_readme():
    targets = {target.partition("#")[0] for _, target in links(README)}
    assert "docs/http.md" in targets


def test_the_checker_finds_what_is_broken(tmp_path, monkeypatch):
    """The checks themselves: a missing file, a missing heading, GitHub's slugs, and links in
    code that are not links."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# The `serve` command: HTTP, alone!\n## Again\n## Again\n")
    page = tmp_path / "a.md"
    page.write_text("[ok](docs/b.md#the-serve-command-http-alone) [ok](docs/b.md#again-1) [ok](#top)\n"
                    "# Top\n[gone](docs/c.md) [bad](docs/b.md#nowhere) `[code](docs/x.md)`\n"
                    "```\n[fenced](docs/y.md)\n```\n[web](https://example.org/x.md)\n")
    assert broken(page) == ["a.md:3: docs/c.md: no such file",
                            "a.md:3: docs/b.md#nowhere: no heading with that anchor in b.md"]
    assert slug("Workers on other machines") == "workers-on-other-machines"
    assert slug("Keep the runs: a Postgres database") == "keep-the-runs-a-postgres-database"
    assert slug("Towards 99.4% on MNIST") == "towards-994-on-mnist"
