"""The README as a front page, and the links of the documentation (fast: no MkDocs needed).

The strict build of the site itself (`mkdocs build --strict`: every link, anchor and docstring)
runs in .ci/docs; these checks catch the common breakages in the default tier:

* the README stays a front page: under 200 lines, holding the two set-up commands exactly;
* every relative link in README.md and docs/ (pages and images) points to a file that exists;
* a link to a place in a source file (``../src/glassnet/core/network.py#Network.backprop:BP1``,
  see docs/hooks.py) names a place that is still there;
* every page mkdocs.yml lists exists (or is one of the pages made at build time).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
COMMANDS = ('pip install -e ".[progress]" && glassnet train', 'pip install -e ".[test]" && python -m pytest')
#: pages made at build time (docs/gen_pages.py, docs/gen_cli.py), not stored in docs/
GENERATED = {"index.md", "cli.md", "repo/index.md"}


def _hooks():
    spec = importlib.util.spec_from_file_location("glassnet_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


def links(text):
    """The link targets of a markdown text, outside fenced code blocks."""
    fence = None
    for line in text.split("\n"):
        opened = hooks.FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(2)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            yield from (m.group(2) for m in hooks.LINK.finditer(line))


def relative(target):
    return not re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target)


def made_at_build_time(docs_path):
    """Whether docs/<docs_path> is a page the build makes: the generated ones, or repo/<path>
    for a repository file that exists (repo/<path>.md for code, repo/<path> for markdown)."""
    if docs_path in GENERATED:
        return True
    if not docs_path.startswith(hooks.CARRIED + "/"):
        return False
    rest = docs_path[len(hooks.CARRIED) + 1 :]
    return (ROOT / rest).is_file() or (rest.endswith(".md") and (ROOT / rest[:-3]).is_file())


def pages():
    return [README] + sorted(DOCS.rglob("*.md"))


def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").split("\n")
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move the detail into docs/"
    for command in COMMANDS:
        assert command in lines, f"README.md must hold the line {command!r} exactly"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(page):
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if not relative(target):
            continue
        path, _, fragment = target.partition("#")
        full = (page.parent / unquote(path)).resolve()
        if full.is_relative_to(DOCS) and made_at_build_time(full.relative_to(DOCS).as_posix()):
            continue
        if not full.exists():
            broken.append(f"{target} (no {full.relative_to(ROOT) if full.is_relative_to(ROOT) else full})")
            continue
        inside = full.relative_to(ROOT).as_posix() if full.is_relative_to(ROOT) else None
        if fragment and full.is_file() and inside and not inside.startswith("docs/") and not inside.endswith(".md"):
            try:
                hooks.resolve(inside, fragment)
            except (hooks.LinkError, SyntaxError) as e:
                broken.append(f"{target} ({e})")
    assert not broken, f"{page.relative_to(ROOT)} links to what is not there:\n  " + "\n  ".join(broken)


def test_the_navigation_lists_existing_pages():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:") :]
    listed = re.findall(r"^\s*- (?:[^\n]*?: )?([\w./-]+\.md)\s*$", nav, re.M)
    assert listed, "mkdocs.yml lists no pages"
    missing = [p for p in listed if not (DOCS / p).is_file() and not made_at_build_time(p)]
    assert not missing, f"mkdocs.yml lists pages that are not in docs/ and not made by the build: {missing}"


def test_links_to_places_in_the_code_resolve_to_lines():
    """The fragments hooks.py understands, on a file of the core."""
    path = "src/glassnet/core/network.py"
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    backprop = hooks.resolve(path, "Network.backprop")
    assert lines[backprop - 1].lstrip().startswith("def backprop(")
    bp1 = hooks.resolve(path, "Network.backprop:BP1")
    assert bp1 > backprop and "BP1" in lines[bp1 - 1]
    assert "INITS" in lines[hooks.resolve(path, "INITS") - 1]
    assert hooks.resolve(path, "L12") == 12
    assert hooks.resolve(path, "Network.backprop:BP1%3A") == bp1  # URL-quoted text
    for bad in ("Network.nothing", "Network.backprop:no such text", f"L{len(lines) + 1}", ""):
        with pytest.raises(hooks.LinkError):
            hooks.resolve(path, bad)
    markdown, problems = hooks.rewrite(
        f"[a](../{path}#Network.backprop:BP1) [b](../{path}#nothing)\n```\n[c](../{path}#nothing)\n```", "chapter.md"
    )
    assert f"(repo/{path}.md#__span-0-{bp1})" in markdown
    assert len(problems) == 1 and "nothing" in problems[0]
