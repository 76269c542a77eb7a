"""The notebooks in notebooks/ are stored as a learner should find them: valid nbformat 4, no
outputs, never executed, and each starts with the QUICK switch that CI sets.

Fast and kernel-free, so in the default tier; the notebooks themselves are executed by
``.ci/notebooks`` (nbclient, GLASSNET_QUICK=1).  The schema check needs ``nbformat`` (which
``.ci/notebooks`` installs) and is skipped without it; the rest reads the files as JSON.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
QUICK_LINE = 'QUICK = os.environ.get("GLASSNET_QUICK") == "1"'


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 8, [p.name for p in NOTEBOOKS]


def _cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return nb, nb["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    nb, cells = _cells(path)
    assert nb["nbformat"] == 4
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: cell {i} has outputs"
            assert cell["execution_count"] is None, f"{path.name}: cell {i} has an execution count"
        assert "attachments" not in cell or not cell["attachments"], f"{path.name}: cell {i} has attachments"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_code_cell_reads_quick(path):
    _, cells = _cells(path)
    first = next(c for c in cells if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert QUICK_LINE in source, f"{path.name}: the first code cell must set {QUICK_LINE}"
    assert cells[0]["cell_type"] == "markdown", f"{path.name} must open with a markdown cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_valid_nbformat(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
