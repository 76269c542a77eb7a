"""The command reference, generated from the parser: every command's ``--help``, as it prints it.

MkDocs runs this at every build (the ``gen-files`` plugin) and the page ``cli.md`` exists only in
the built site; ``python docs/gen_cli.py`` prints the same page.  Nothing here is written by
hand: a flag added to a command is in the next build.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# the help as an 80-column terminal shows it (it fits the page), whatever terminal (or none) runs the build
os.environ["COLUMNS"] = "80"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from glassnet.cli import build_parser  # noqa: E402

PAGE = "cli.md"


def commands(parser: argparse.ArgumentParser):
    """(parser, depth) for ``parser`` and every command under it, in the order --help lists them."""
    yield parser, 0
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases would repeat a parser
                for found, depth in commands(sub):
                    yield found, depth + 1


def page() -> str:
    parser = build_parser()
    out = [
        "# Command reference",
        "",
        "Every command's `--help`, generated at each build of this site by `docs/gen_cli.py` from "
        "`glassnet.cli.build_parser()`, the parser the `glassnet` command itself uses: the text is the "
        "command's own. [Commands](commands.md) says what each command is for and how they fit together.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                prog = f"{parser.prog} {choice.dest}"
                what = (choice.help or "").replace("%%", "%").replace("|", "\\|")
                out.append(f"| [`{prog}`](#{anchor(prog)}) | {what} |")
    out.append("")
    for sub, depth in commands(parser):
        out += [
            f"{'#' * min(depth + 2, 4)} `{sub.prog}` {{ #{anchor(sub.prog)} }}",
            "",
            "```text",
            sub.format_help().rstrip(),
            "```",
            "",
        ]
    return "\n".join(out)


def anchor(prog: str) -> str:
    return prog.replace(" ", "-")


if __name__ == "__main__":  # by hand
    print(page())
else:  # by the gen-files plugin, at every build
    import mkdocs_gen_files

    with mkdocs_gen_files.open(PAGE, "w") as f:
        f.write(page())
