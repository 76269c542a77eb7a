"""MkDocs hook: links from the pages into the repository's files, resolved to lines at build time.

A page links a source file by its path relative to the page, as GitHub reads it, with a
fragment that names a place in the file instead of a line number (line numbers go stale
as the code changes; names are checked at every build):

    [backprop](../src/glassnet/core/network.py#Network.backprop)        the ``def`` line
    [BP1](../src/glassnet/core/network.py#Network.backprop:BP1)         the first line of
                                                                        backprop holding "BP1"
    [INITS](../src/glassnet/core/network.py#INITS)                      a module-level name
    [the step](../src/glassnet/engines/_ckernel.c#:sgd_batches)         a line of the file
    [line 12](../src/glassnet/core/network.py#L12)                      GitHub's form, as is

On GitHub such a link opens the file; in the site, ``gen_pages.py`` has made a page of the
file with a numbered anchor on every line, and this hook points the link at the line (a name
that no longer exists is a warning, and ``mkdocs build --strict`` fails on it).

``tests/test_docs.py`` uses ``resolve`` to check the same links without MkDocs.
"""

from __future__ import annotations

import ast
import logging
import posixpath
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent  # the repository
DOCS = "docs"
#: where gen_pages.py puts the page of a repository file: repo/<path>.md (markdown files: repo/<path>)
CARRIED = "repo"
#: the first line of gen_pages.py's page of a file: such pages are code, not links
CODE_PAGE = "<!-- glassnet: a repository file, shown with its line numbers -->"
#: the id pymdownx.highlight gives line N of a page's first code block (line_spans: __span)
LINE_ID = "__span-0-{}"

log = logging.getLogger("mkdocs.hooks.glassnet")

LINK = re.compile(r"(!?\[(?:[^\[\]]|\[[^\]]*\])*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
LINE = re.compile(r"^L(\d+)(?:-L(\d+))?$")


class LinkError(ValueError):
    """A link to a place in a repository file that is not there."""


def carried_page(path: str) -> str:
    """The docs-relative page gen_pages.py makes of repository file ``path``."""
    return f"{CARRIED}/{path}" if path.endswith(".md") else f"{CARRIED}/{path}.md"


@cache
def _lines(path: str) -> tuple[str, ...]:
    return tuple((ROOT / path).read_text(encoding="utf-8").splitlines())


@cache
def _tree(path: str) -> ast.Module:
    return ast.parse("\n".join(_lines(path)), filename=path)


def _python_span(path: str, qualname: str) -> tuple[int, int]:
    """(first, last) line of ``qualname`` (a class, function, method or assigned name) in ``path``."""
    body: list[ast.stmt] = _tree(path).body
    node: ast.stmt | None = None
    for part in qualname.split("."):
        node = None
        for candidate in body:
            if isinstance(candidate, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [candidate.name]
            elif isinstance(candidate, ast.Assign):
                names = [t.id for t in candidate.targets if isinstance(t, ast.Name)]
            elif isinstance(candidate, ast.AnnAssign) and isinstance(candidate.target, ast.Name):
                names = [candidate.target.id]
            else:
                continue
            if part in names:
                node = candidate
                break
        if node is None:
            raise LinkError(f"{path} has no {qualname!r}")
        body = getattr(node, "body", [])
    assert node is not None
    return node.lineno, node.end_lineno or node.lineno


def _c_span(path: str, name: str) -> tuple[int, int]:
    """(first, last) line of C function ``name``: from its definition to the closing brace."""
    lines = _lines(path)
    start = re.compile(rf"^[A-Za-z_].*\b{re.escape(name)}\s*\(")
    for i, line in enumerate(lines, 1):
        if start.match(line) and not line.rstrip().endswith(";"):
            for j in range(i, len(lines) + 1):
                if lines[j - 1].startswith("}"):
                    return i, j
            return i, len(lines)
    raise LinkError(f"{path} has no function {name!r}")


def resolve(path: str, fragment: str) -> int:
    """The line (1-based) that ``fragment`` names in repository file ``path``; LinkError if none."""
    lines = _lines(path)
    fragment = unquote(fragment)
    found = LINE.match(fragment)
    if found:
        line = int(found.group(1))
        if not 1 <= line <= len(lines):
            raise LinkError(f"{path} has {len(lines)} lines, not {line}")
        return line
    name, _, text = fragment.partition(":")
    if name:
        first, last = _c_span(path, name) if path.endswith((".c", ".h")) else _python_span(path, name)
    elif text:
        first, last = 1, len(lines)
    else:
        raise LinkError(f"empty place in a link to {path}")
    if not text:
        return first
    for line in range(first, last + 1):
        if text in lines[line - 1]:
            return line
    raise LinkError(f"{path}: no line of {name or 'the file'} holds {text!r}")


def repository_path(page_path: str, target: str) -> str | None:
    """The repository path a relative link from docs page ``page_path`` points at, if it
    points outside docs/ (None for links within the site, absolute links and anchors)."""
    if not target or target.startswith(("#", "/")) or re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return None
    path = target.split("#", 1)[0]
    full = posixpath.normpath(posixpath.join(DOCS, posixpath.dirname(page_path), unquote(path)))
    if full == DOCS or full.startswith(DOCS + "/") or full.startswith(".."):
        return None
    return full


def rewrite(markdown: str, page_path: str) -> tuple[str, list[str]]:
    """``markdown`` of docs page ``page_path`` with its links into the repository pointed at the
    pages of those files and their lines; and what could not be resolved."""
    problems: list[str] = []
    page_dir = posixpath.dirname(page_path)

    def one(match: re.Match) -> str:
        target = match.group(2)
        path = repository_path(page_path, target)
        if path is None:
            return match.group(0)
        if not (ROOT / path).is_file():
            problems.append(f"links {target!r}: {path} is not a file of the repository")
            return match.group(0)
        fragment = target.partition("#")[2]
        new = posixpath.relpath(carried_page(path), page_dir or ".")
        if fragment:
            try:
                new += "#" + LINE_ID.format(resolve(path, fragment))
            except LinkError as e:
                problems.append(f"links {target!r}: {e}")
                return match.group(0)
        return match.group(1) + new + match.group(3)

    out, fence = [], None
    for line in markdown.split("\n"):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(2)[0] * len(opened.group(2))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            line = LINK.sub(one, line)
        out.append(line)
    return "\n".join(out), problems


def on_page_markdown(markdown, page, config, files):
    if markdown.startswith(CODE_PAGE):
        return markdown
    markdown, problems = rewrite(markdown, page.file.src_uri)
    for problem in problems:
        log.warning(f"Doc file '{page.file.src_uri}' {problem}")
    return markdown


def on_page_content(html, page, config, files):
    """Make the code pages' line anchors known to MkDocs' anchor check: they sit in the
    highlighted block, which MkDocs does not look into."""
    if page.markdown.startswith(CODE_PAGE) and page.present_anchor_ids is not None:
        page.present_anchor_ids |= set(re.findall(r'id="(__span-\d+-\d+)"', html))
    return html


def on_pre_build(config):
    """A fresh read of the sources at every build (``mkdocs serve`` rebuilds as they change)."""
    _lines.cache_clear()
    _tree.cache_clear()
