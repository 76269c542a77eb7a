"""Pages made at every build (the ``gen-files`` plugin); none of them is stored in docs/.

- ``index.md``: the README, the front page of the repository and of the site, its links
  turned from the repository's root to docs/ (``docs/chapter3.md`` -> ``chapter3.md``,
  ``src/...`` -> ``../src/...``, which hooks.py then points at the file's page);
- ``repo/<path>.md``: a page for every file of the package (``src/glassnet``: Python and C) and
  every other repository file a page links to, with a numbered anchor on each line, so that
  the chapters' links to lines resolve in the built site with no network; markdown files
  (``BENCHMARKS.md``) are shown as pages;
- ``repo/index.md``: the list of them.
"""

from __future__ import annotations

import importlib.util
import posixpath
import re
from pathlib import Path

import mkdocs_gen_files

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("glassnet_docs_hooks", HERE / "hooks.py")
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)

ROOT, CARRIED = hooks.ROOT, hooks.CARRIED
PACKAGE = "src/glassnet"
LANGUAGES = {
    ".py": "python",
    ".c": "c",
    ".h": "c",
    ".toml": "toml",
    ".js": "js",
    ".css": "css",
    ".html": "html",
    ".json": "json",
    ".sh": "bash",
    ".ipynb": "json",
    ".cfg": "ini",
    ".in": "text",
}
CODE_PAGE = hooks.CODE_PAGE  # hooks.py leaves such pages alone


def readme_as_index(text: str) -> str:
    """The README's links, written from the repository's root, rewritten from docs/."""

    def one(match):
        target = match.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
            return match.group(0)
        target = target[len("docs/") :] if target.startswith("docs/") else "../" + target
        return match.group(1) + target + match.group(3)

    out, fence = [], None
    for line in text.split("\n"):
        opened = hooks.FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(2)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            line = hooks.LINK.sub(one, line)
        out.append(line)
    return "\n".join(out)


def linked_files(pages: dict[str, str]) -> set[str]:
    """Repository files (outside docs/) that the pages link to."""
    found = set()
    for page_path, text in pages.items():
        for match in hooks.LINK.finditer(text):
            path = hooks.repository_path(page_path, match.group(2))
            if path is not None and (ROOT / path).is_file():
                found.add(path)
    return found


def carried_markdown(path: str, text: str) -> str:
    """A repository markdown file as a page at repo/<path>: its relative links made relative
    to where the page now is (hooks.py then points those outside docs/ at their pages)."""
    page_dir = posixpath.dirname(hooks.carried_page(path))

    def one(match):
        target = match.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
            return match.group(0)
        file, hash_, fragment = target.partition("#")
        full = posixpath.normpath(posixpath.join(posixpath.dirname(path), file))
        if full.startswith("docs/"):
            new = posixpath.relpath(full[len("docs/") :], page_dir)
        else:
            new = posixpath.relpath(posixpath.join("..", full), page_dir)
        return match.group(1) + new + hash_ + fragment + match.group(3)

    return hooks.LINK.sub(one, text)


def code_page(path: str, text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    language = LANGUAGES.get(Path(path).suffix, "text")
    return "\n".join(
        [
            "---",
            "hide:",
            "  - toc",
            "---",
            CODE_PAGE,
            "",
            f"# `{path}`",
            "",
            f'{fence}{language} linenums="1"',
            text.rstrip("\n"),
            fence,
            "",
        ]
    )


def main():
    pages = {str(p.relative_to(HERE)).replace("\\", "/"): p.read_text(encoding="utf-8") for p in HERE.rglob("*.md")}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages["index.md"] = readme_as_index(readme)
    with mkdocs_gen_files.open("index.md", "w") as f:
        f.write(pages["index.md"])
    mkdocs_gen_files.set_edit_path("index.md", "../README.md")

    package = {
        str(p.relative_to(ROOT)).replace("\\", "/")
        for p in (ROOT / PACKAGE).rglob("*")
        if p.suffix in (".py", ".c", ".h") and "__pycache__" not in p.parts
    }
    carried, todo = set(), package | linked_files(pages)
    while todo:  # a carried markdown file may link further files
        path = todo.pop()
        carried.add(path)
        text = (ROOT / path).read_text(encoding="utf-8")
        page = hooks.carried_page(path)
        if path.endswith(".md"):
            text = carried_markdown(path, text)
            todo |= linked_files({page: text}) - carried
        else:
            text = code_page(path, text)
        with mkdocs_gen_files.open(page, "w") as f:
            f.write(text)
    carried = sorted(carried, key=lambda p: (posixpath.dirname(p), posixpath.basename(p)))

    lines = [
        "# Source files",
        "",
        "Every file of the package, and every other file of the repository a page links to, "
        "with its lines numbered: the chapters' links to the code land on these pages.",
        "",
    ]
    folder = None
    for path in carried:
        if posixpath.dirname(path) != folder:
            folder = posixpath.dirname(path)
            lines += ["", f"## `{folder or '.'}/`", ""]
        lines.append(f"- [`{posixpath.basename(path)}`]({posixpath.relpath(hooks.carried_page(path), CARRIED)})")
    with mkdocs_gen_files.open(f"{CARRIED}/index.md", "w") as f:
        f.write("\n".join(lines) + "\n")


main()
