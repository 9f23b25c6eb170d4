"""The paths the docs and config files name exist, and docs/layout.md lists every module once,
in an order where each imports only what is listed before it: a move can leave no stale name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

NAMING = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")),
          ".streamlit/config.toml", "Makefile", "pyproject.toml"]
CODE_SPAN = re.compile(r"`([^`\n]+)`")
TOKEN = re.compile(r"[\w./-]+")
PATH = re.compile(r"[\w.][\w.-]*(/[\w.-]+)*(/|\.[a-z0-9]+)")  # a/b.py, dir/, .streamlit/config.toml
# Made when the app runs, never committed: its data folder, runs, TensorFlow's cache, the secrets.
MADE_AT_RUN_TIME = ("data/", "runs/", "xla/", ".streamlit/secrets.toml")
FOLDERS_WITH_CODE = ("mnist_core", "app_pages", "tests", "benchmarks")
LAYOUT = "docs/layout.md"


def named_paths(path: Path) -> list[str]:
    """What a file names that looks like a repository path: in markdown, a code span holding a
    path with a slash, or a bare `module.py`; elsewhere, any token with a slash."""
    text = path.read_text(encoding="utf-8")
    found = [span.strip() for span in CODE_SPAN.findall(text)] if path.suffix == ".md" else TOKEN.findall(text)
    return [p for p in found if PATH.fullmatch(p) and ("/" in p or (path.suffix == ".md" and p.endswith(".py")))]


def missing(path: Path, root: Path = ROOT) -> list[str]:
    """The paths `path` names that are not in the repository (a bare `module.py`: in no folder)."""
    modules = {p.name for p in root.glob("*.py")} | {
        p.name for folder in FOLDERS_WITH_CODE for p in (root / folder).rglob("*.py")}
    return [p for p in named_paths(path)
            if not p.startswith(MADE_AT_RUN_TIME)
            and not ((root / p).exists() if "/" in p else p in modules)]


@pytest.mark.parametrize("name", NAMING)
def test_every_path_a_doc_or_config_file_names_exists(name):
    assert missing(ROOT / name) == []


def layout(text: str) -> list[str]:
    """The paths of a layout block (the first fenced block): a name per line, nested two spaces
    under its folder."""
    folders: list[str] = []
    paths = []
    for line in text.split("```\n")[1].splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        folders = [*folders[:depth], line.split()[0]]
        paths.append("".join(folders))
    return paths


def test_the_layout_names_every_module_once_and_nothing_else():
    listed = layout((ROOT / LAYOUT).read_text(encoding="utf-8"))
    modules = {str(p.relative_to(ROOT)) for folder in ("mnist_core", "app_pages")
               for p in (ROOT / folder).rglob("*.py") if p.name != "__init__.py"}
    modules |= {"navigation.py", "streamlit_app.py"}
    assert sorted(p for p in listed if p.endswith(".py")) == sorted(modules)
    assert all((ROOT / p).exists() for p in listed)


def test_the_readme_layout_names_what_is_there():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all((ROOT / p).exists() for p in layout(readme.split("## Layout", 1)[1]))


def imported(path: Path) -> set[str]:
    """The modules a file imports, at its top or inside a function, as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def upward(listed: list[str]) -> list[str]:
    """Each import of a module listed later than the importer (its own folders allowed)."""
    position = {p.removesuffix(".py").removesuffix("/").replace("/", "."): i for i, p in enumerate(listed)}
    found = []
    for i, path in enumerate(listed):
        if path.endswith(".py"):
            for name in imported(ROOT / path) & position.keys():
                if position[name] > i and not path.startswith(listed[position[name]]):
                    found.append(f"{path} imports {name}, listed after it")
    return found


def test_each_module_imports_only_what_is_listed_before_it():
    assert upward(layout((ROOT / LAYOUT).read_text(encoding="utf-8"))) == []


def test_the_checks_find_a_stale_name(tmp_path):
    (tmp_path / "mnist_core").mkdir()
    (tmp_path / "mnist_core" / "here.py").write_text("")
    doc = tmp_path / "a.md"
    doc.write_text("`mnist_core/here.py` `mnist_core/gone.py` `here.py` `gone.py` `data/mnist.db` `tests/x.BIG`\n"
                   "`pip install -r requirements.txt` `python -m mnist_core`\n")
    assert missing(doc, tmp_path) == ["mnist_core/gone.py", "gone.py"]
    toml = tmp_path / "config.toml"
    toml.write_text("size = 10  # mnist_core/gone.py's MAX_BYTES, https://example.org/x.py\n")
    assert missing(toml, tmp_path) == ["mnist_core/gone.py"]
    assert layout("```\na/\n  b.py   x\n  c/\n    d.py\ne.py\n```\n") == ["a/", "a/b.py", "a/c/", "a/c/d.py", "e.py"]
    assert upward(["mnist_core/", "mnist_core/cli.py", "mnist_core/config.py"]) == [
        "mnist_core/cli.py imports mnist_core.config, listed after it"]
