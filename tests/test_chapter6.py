"""glassnet.book.chapter6 and glassnet reproduce --chapter 6: the book's table, shortened runs, the CLI."""

import json

import numpy as np
import pytest

from glassnet.book import chapter6
from glassnet.cli import main
from glassnet.core.layernet import LayerNetwork

BOOK = [97.80, 98.78, 99.06, 99.23, 99.37, 99.43, 99.60, 99.67]


def test_the_books_rows_and_settings():
    rows = chapter6.CHAPTER_6
    assert [r.book for r in rows] == BOOK
    assert [r.epochs for r in rows] == [60] * 6 + [40, 40]
    assert [(r.eta, r.lmbda) for r in rows] == [(0.1, 0.0)] * 3 + [(0.03, 0.1)] * 3 + [(0.03, 0.0)] * 2
    assert [r.expanded for r in rows] == [False] * 4 + [True] * 4
    assert [r.members for r in rows] == [1] * 7 + [5] and all(r.mini_batch_size == 10 for r in rows)
    assert [r.book_images for r in rows] == [50_000] * 4 + [250_000] * 4
    nets = [LayerNetwork.from_spec(r.spec, seed=0) for r in rows]  # every spec makes a network
    assert [[type(l).__name__[:4] for l in n.layers] for n in nets][:3] == [
        ["Full", "Soft"],
        ["Conv", "Full", "Soft"],
        ["Conv", "Conv", "Full", "Soft"],
    ]
    assert [n.layers[0].activation_fn.name for n in nets] == ["sigmoid"] * 3 + ["relu"] * 5
    assert nets[1].layers[1].n_in == 20 * 12 * 12 and nets[2].layers[2].n_in == 40 * 4 * 4
    assert [l.n_out for l in nets[5].layers[2:]] == [100, 100, 10]
    assert [l.p_dropout for l in nets[6].layers] == [0.0, 0.0, 0.5, 0.5, 0.5]
    assert [l.n_out for l in nets[6].layers[2:]] == [1000, 1000, 10] and rows[7].spec == rows[6].spec
    assert "book 99.67% on test data at the best validation epoch" in rows[7].describe()


def test_a_shortened_run_is_the_beginning_of_the_longer_one(mnist):
    row = chapter6.select_rows([4])[0]  # ReLU, eta 0.03, lambda 0.1
    short = chapter6.run_row(row, mnist, [0], quick=True, epochs=1, n_train=200)
    longer = chapter6.run_row(chapter6.select_rows([4])[0], mnist, [0], quick=True, epochs=3, n_train=200)
    r = longer[0]
    assert (r["epochs"], r["n_train"], r["n_evaluate"], len(r["validation"]), len(r["test"])) == (3, 200, 1000, 3, 3)
    assert r["best_validation"] == max(r["validation"]) and r["test_at_best"] == r["test"][r["best_epoch"]]
    later = r["validation"][r["best_epoch"] + 1 :]
    assert all(v < r["best_validation"] for v in later)  # network3's >=: the last of equal bests
    gaps = chapter6.compare_curves([row], [_with(longer)])  # row holds the short run
    assert gaps == [dict(row=row.name, seed=0, member_seed=None, epochs=1, validation_gap=0.0, test_gap=0.0)]
    assert short[0]["validation"] == r["validation"][:1]
    table = chapter6.format_curves([_with(longer)])
    assert table.startswith("ReLU, eta 0.03, lambda 0.1:") and "| 2 |" in table and "| 3 |" not in table


def _with(results):
    row = chapter6.select_rows([4])[0]
    row.results.extend(results)
    return row


def test_expanded_rows_train_on_the_expansions_of_the_first_fifth(mnist):
    row = chapter6.select_rows(["ReLU, expanded data"])[0]
    seen = []
    chapter6.run_row(row, mnist, [1], quick=True, n_train=100, on_result=lambda r, res: seen.append(res))
    assert seen[0]["n_train"] == 100 and row.results[0]["seed"] == 1
    with pytest.raises(ValueError, match="no chapter-6 row 9"):
        chapter6.select_rows([9])
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        chapter6.run_row(row, mnist, [0], epochs=0)


@pytest.mark.slow  # every row of chapter 6, shortened: the second tier
def test_chapter_6_quick_through_the_cli_prints_the_books_figures(mnist, tmp_path, capsys):
    code = main(
        [
            "reproduce",
            "--chapter",
            "6",
            "--quick",
            "--seeds",
            "0",
            "--output",
            str(tmp_path / "t.md"),
            "--curves",
            str(tmp_path / "c.json"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "QUICK FORM" in out and out.count("| shortened: 1 of ") == 8
    for book in BOOK:
        assert f"| {book:.2f}% |" in out
    assert "| 8 | ensemble of 5 dropout networks (vote) | 99.67% |" in out and "vote " in out
    assert "3 of 5 members" in out and "1,000 of 250,000 images" in out and "1 of 40 epochs" in out
    assert err.count("# ") == 7 + 1  # a progress line per run
    assert (tmp_path / "t.md").read_text() == out
    curves = json.loads((tmp_path / "c.json").read_text())
    assert len(curves) == 7 + 3 and all(len(c["test"]) == c["epochs"] == 1 for c in curves)
    assert [c.get("member_seed") for c in curves[-3:]] == [0, 1, 2]
    accuracies = [
        float(line.split("|")[4].strip().rstrip("%"))
        for line in out.splitlines()
        if line.startswith("| ") and "%" in line
    ]
    assert len(accuracies) == 8 and all(0 <= a <= 100 for a in accuracies) and np.max(accuracies) > 20


@pytest.mark.slow  # trains and saves every row: the second tier
def test_save_writes_each_network_and_ensemble_that_evaluate_reads_back(mnist, tmp_path, capsys):
    from glassnet.core.ensemble import Ensemble
    from glassnet.io import load

    folder = tmp_path / "models" / "new"  # created, parents and all
    code = main(["reproduce", "--chapter", "6", "--quick", "--rows", "4,8", "--seeds", "1", "--save", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["chapter6-row4-seed1.npz", "chapter6-row8-seed1.npz"]
    net, header = load(folder / "chapter6-row4-seed1.npz", with_header=True)
    X, y = mnist.test.X[:1000], mnist.test.y[:1000]  # the quick form tests on these
    training = header["training"]
    assert training["seed"] == 1 and training["quick"] and training["recipe"].startswith("chapter 6 row 4: ReLU")
    assert training["kept_epoch"] == 0 and len(header["history"]) == 1
    assert 100.0 * np.mean(net.predict(X) == y) == pytest.approx(training["test_at_best"])
    ensemble, header = load(folder / "chapter6-row8-seed1.npz", with_header=True)
    assert isinstance(ensemble, Ensemble) and ensemble.combine == "vote" and len(ensemble) == 3
    assert header["training"]["member_seeds"] == [3, 4, 5] and len(header["members_history"]) == 3
    assert 100.0 * ensemble.score(X, y) == pytest.approx(header["training"]["vote"])
    assert f"vote {header['training']['vote']:.2f}" in out
    assert main(["evaluate", str(folder / "chapter6-row8-seed1.npz")]) == 0
    assert "majority vote of the members" in capsys.readouterr().out


def test_chapter_6_lists_its_rows_and_refuses_what_it_does_not_do(capsys):
    assert main(["reproduce", "--chapter", "6", "--list"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("\n") == 8 and "8. ensemble of 5 dropout networks (vote): majority vote of 5" in listing
    assert "40 epochs, mini-batch 10, eta 0.03, lambda 0, 250,000 training images (expanded)" in listing
    assert main(["reproduce", "--chapter", "6", "--rows", "9"]) == 2
    assert "no row 9" in capsys.readouterr().err
    assert main(["reproduce", "--chapter", "6", "--plots", "x"]) == 2
    assert main(["reproduce", "--chapter", "3", "--n-jobs", "2"]) == 2
    assert "are for --chapter 6" in capsys.readouterr().err
    assert main(["reproduce", "--chapter", "1", "--save", "x"]) == 2
    assert "--save are for --chapter 6" in capsys.readouterr().err
