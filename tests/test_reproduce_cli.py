"""glassnet reproduce --chapter 3/5 and glassnet plot learning-speed, end to end (short forms)."""

import pytest

from glassnet.cli import main

pytest.importorskip("matplotlib")


def test_chapter_5_quick_prints_the_books_figures_and_draws_the_speed_of_learning(mnist, tmp_path, capsys):
    code = main(
        [
            "reproduce",
            "--chapter",
            "5",
            "--quick",
            "--seeds",
            "0",
            "--rows",
            "1,4",
            "--plots",
            str(tmp_path),
            "--output",
            str(tmp_path / "t.md"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "QUICK FORM" in out and "| 784-30-10, lambda 5.0 | validation | 96.48% |" in out
    assert "784-30-30-30-30-10" in out and "784-30-30-10," not in out  # only rows 1 and 4
    assert (tmp_path / "t.md").read_text() == out
    assert (tmp_path / "learning_speed.png").stat().st_size > 1000


def test_chapter_3_lists_its_rows_and_refuses_a_bad_one(capsys):
    assert main(["reproduce", "--chapter", "3", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "book 95.49% on test data" in listing and "book 98.04% on validation data" in listing
    assert main(["reproduce", "--chapter", "3", "--rows", "42"]) == 2
    assert "no row 42" in capsys.readouterr().err
    assert main(["reproduce", "--quick"]) == 2  # chapter 1 has no quick form
    assert "--quick and --plots are for --chapter 3 and 5" in capsys.readouterr().err


def test_plot_learning_speed_shows_earlier_layers_learning_slower(mnist, tmp_path, capsys):
    assert (
        main(["plot", "learning-speed", "-o", str(tmp_path / "s.png"), "--epochs", "3", "--sizes", "784,20,20,20,10"])
        == 0
    )
    out, err = capsys.readouterr()
    speeds = [float(part.split()[-1]) for part in err.split(":", 1)[1].split(",")]
    assert len(speeds) == 3 and speeds[0] < speeds[1] < speeds[2]  # vanishing gradients
    assert out.strip().endswith("s.png") and (tmp_path / "s.png").stat().st_size > 1000
