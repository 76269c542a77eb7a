"""A griffe extension for the API reference: prose after a numpy "Parameters" list is prose.

numpydoc ends a section only at the next underlined heading, so a paragraph written after the
parameters (``glassnet.Network``'s note on bias shapes, ``network2.Network``'s attributes) would
be read as more parameters, named by its first words.  Before griffe parses a docstring, this
puts a "Notes" heading in front of such a paragraph: an unindented line, after a blank one,
that is not shaped like a parameter (``name : type``, ``a, b : type`` or a bare name).  A
docstring that already says "Notes" is left as it is.
"""

from __future__ import annotations

import re

import griffe

PARAMETER = re.compile(r"^\*{0,2}[A-Za-z_]\w*(\s*,\s*\*{0,2}[A-Za-z_]\w*)*(\s+:(\s.*)?)?\s*$")
DASHES = re.compile(r"^\s*-{3,}\s*$")
LISTS = {"parameters", "other parameters", "attributes", "returns", "yields", "raises", "receives"}


def with_notes(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    in_list = False
    for i, line in enumerate(lines):
        heading = i + 1 < len(lines) and line.strip() and DASHES.match(lines[i + 1])
        if heading:
            in_list = line.strip().lower() in LISTS
        elif (
            in_list
            and line.strip()
            and not line[0].isspace()
            and not DASHES.match(line)
            and i > 0
            and not lines[i - 1].strip()
            and not PARAMETER.match(line)
        ):
            out += ["Notes", "-----"]
            in_list = False
        out.append(line)
    return "\n".join(out)


class ProseAfterParameters(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None and "Notes\n" not in obj.docstring.value:
            obj.docstring.value = with_notes(obj.docstring.value)
