"""The command line: the book's transcript, saved models, and one-line errors with exit code 2."""

import io
import re

import pytest

from glassnet.cli import build_parser, main
from glassnet.io import load

pytest.importorskip("sklearn")


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_help_explains_every_flag():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
    code, out, _ = run([])
    assert code == 2 and "train" in out and "reproduce" in out


def test_train_digits_prints_the_book_transcript(tmp_path):
    model = tmp_path / "digits.npz"
    code, out, err = run(
        ["train", "--dataset", "digits", "--epochs", "40", "--log-every", "10", "--seed", "3", "--save", str(model)]
    )
    assert code == 0, err
    lines = out.splitlines()
    assert [int(re.match(r"Epoch (\d+): \d+ / 719$", l).group(1)) for l in lines] == [0, 10, 20, 30, 39]
    assert "seed 3" in err and "\r" not in err  # no progress bar when not on a terminal
    net, header = load(model, with_header=True)
    assert net.sizes == [64, 30, 10]
    assert (
        dict(header["training"], **dict(epochs=40, mini_batch_size=10, eta=1.0, l2=1.0, seed=3)) == header["training"]
    )  # the digits' defaults (the tutorial's: --preset tutorial)
    assert len(header["history"]) == 40 and header["dataset"] == "digits"
    last = int(lines[-1].split()[2])
    assert header["history"][-1]["correct"] == last


def test_same_seed_same_transcript():
    argv = ["train", "--dataset", "digits", "--epochs", "5", "--mini-batch-size", "50", "--eta", "1"]
    assert run(argv + ["--seed", "7"])[1] == run(argv + ["--seed", "7"])[1]


def test_progress_bar_can_be_forced():
    code, _, err = run(["train", "--dataset", "digits", "--epochs", "1", "--mini-batch-size", "10", "--progress"])
    assert code == 0 and "\r" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "--epochs: must be > 0"),
        (["train", "--epochs", "-3"], "--epochs: must be > 0"),
        (["train", "--mini-batch-size", "0"], "--mini-batch-size: must be > 0"),
        (["train", "--eta", "0"], "--eta: must be > 0"),
        (["train", "--eta", "nan"], "--eta: expected a finite number, got 'nan'"),
        (["train", "--eta", "1e400"], "--eta: expected a finite number, got '1e400'"),
        (["train", "--epochs", "99999999999999999999999"], "--epochs: must be at most 1,000,000"),
        (["train", "--seed", "-1"], "--seed: must be >= 0, got '-1'"),
        (
            ["train", "--sizes", "784,100000000,10"],
            "784,100000000,10 has 79,500,000,010 weights and biases; glassnet trains at most",
        ),
        (["sweep", "--sizes", "784-100000000-10"], "weights and biases; glassnet trains at most"),
        (["trace", "--sizes", "1,100000000,100000000,1"], "weights and biases; glassnet trains at most"),
        (["train", "--momentum", "1.5"], "--momentum must be below 1"),
        (["serve", "missing.npz"], "missing.npz: no such model file"),
        (["evaluate", "missing.npz"], "missing.npz: no such model file"),
        (["train", "--data-dir", "/nonexistent/mnist", "--epochs", "1"], "/nonexistent/mnist: no such folder"),
        (["train", "--sizes", "64,x,10"], "--sizes"),
        (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["train", "--dataset", "digits", "--sizes", "784,30,10", "--epochs", "1"], "input layer must have 64"),
        (["train", "--dataset", "digits", "--epochs", "1", "--save", "/nonexistent/dir/m.npz"], "does not exist"),
        (["reproduce", "--rows", "99"], "no row 99"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_reproduce_lists_and_runs_a_row(tmp_path):
    code, out, _ = run(["reproduce", "--list"])
    assert code == 0 and "784-30-10" in out and "64-30-10 digits" in out
    n = next(l for l in out.splitlines() if "64-30-10 digits" in l).split(".")[0]
    table = tmp_path / "table.md"
    code, out, err = run(["reproduce", "--rows", n, "--seeds", "1,2", "--epochs", "30", "--output", str(table)])
    assert code == 0, err
    row = next(l for l in out.splitlines() if l.startswith("| 64-30-10"))
    assert re.search(r"1: \d+\.\d\d, 2: \d+\.\d\d", row)
    assert table.read_text().strip() == out.strip()


def test_fetch_progress_only_when_enabled():
    from glassnet.cli.progress import FetchProgress

    quiet, loud = io.StringIO(), io.StringIO()
    for stream, enabled in ((quiet, None), (loud, True)):  # a StringIO is not a terminal
        bar = FetchProgress(stream, enabled=enabled)
        for done in (0, 4096, 8192):
            bar("train-images", done, 8192)
    assert quiet.getvalue() == ""
    assert "fetching train-images" in loud.getvalue()


def test_resuming_with_another_seed_is_refused_in_one_line(tmp_path, capsys):
    """On the digits the seed also picks the train/test split: a resumed run must keep it."""
    ck = str(tmp_path / "ck.npz")
    base = ["train", "--dataset", "digits", "--epochs", "3", "--checkpoint", ck]
    assert main(base[:4] + ["1"] + base[5:] + ["--seed", "1"]) == 0
    capsys.readouterr()
    assert main(base + ["--seed", "2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "made with seed 1, not 2" in err


@pytest.mark.parametrize(
    "argv, suggestion",
    [
        (["trian"], "did you mean 'train'?"),
        (["plot", "sigmoud", "-o", "x"], "did you mean 'sigmoid'?"),
        (["train", "--cost", "quadratik"], "did you mean 'quadratic'?"),
    ],
)
def test_a_mistyped_choice_gets_a_suggestion_in_one_line(argv, suggestion):
    code, out, err = run(argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and suggestion in err


def test_plot_sigmoid_refuses_a_png_name_and_makes_no_folder(tmp_path):
    code, out, err = run(["plot", "sigmoid", "-o", str(tmp_path / "sig.png")])
    assert code == 2 and out == "" and "takes a folder" in err and not (tmp_path / "sig.png").exists()


def test_one_epoch_is_not_plural(tmp_path):
    code, _, err = run(["train", "--dataset", "digits", "--epochs", "1", "--sizes", "64,10,10"])
    assert code == 0 and "1 epoch," in err and "1 epochs" not in err


@pytest.mark.parametrize("command", ["evaluate", "inspect", "predict"])
@pytest.mark.parametrize("field", ["dataset", "layers"])
def test_a_huge_header_field_gives_a_short_error(tmp_path, command, field):
    """A megabyte in a header field (a dataset name) or 100,000 layers: one line of at most
    300 characters, before any other output."""
    from glassnet import Network
    from glassnet.io import read_npz, save, write_npz

    path = save(Network([784, 5, 10], seed=0), tmp_path / "m.npz")
    header, arrays = read_npz(path)
    if field == "dataset":
        header["dataset"] = "x" * 1_000_000
    else:
        header.update(
            format_version=2,
            network="layers",
            spec={"layers": [{"type": "FullyConnectedLayer", "n_in": 7, "n_out": 7}] * 100_000},
        )
    write_npz(path, header, arrays)
    image = tmp_path / "digit.png"
    if command == "predict":
        pytest.importorskip("PIL.Image").new("L", (28, 28)).save(image)
    code, out, err = run([command, str(path)] + ([str(image)] if command == "predict" else []))
    if command == "inspect" and field == "dataset":  # a description, not an error: cut short
        assert code == 0 and max(map(len, out.splitlines())) <= 300, out[:400]
        return
    assert code == 2 and out == "" and err.count("\n") == 1 and len(err) <= 300, (code, out, err[:400])


@pytest.mark.parametrize(
    "argv, words",
    [
        (["reproduce", "--chapter", "6", "--n-train", "5"], "--n-train: must be >= 10"),
        (["reproduce", "--chapter", "6", "--n-train", "300000"], "at most 250,000"),
        (["reproduce", "--seeds", "0,4294967296"], "at most 4,294,967,295"),
        (["reproduce", "--chapter", "6", "--n-jobs", "512"], "at most 64"),
        (["trace", "--seed", "4294967296"], "at most 4,294,967,295"),
        (["sweep", "--seeds", "0,5000000000"], "4,294,967,295"),
        (["plot", "learning-speed", "--seed", "-1", "-o", "x.png"], "--seed"),
    ],
)
def test_each_number_is_bounded_where_it_is_typed(argv, words):
    """An option's range is the range the code below it accepts, checked when parsed."""
    code, out, err = run(argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err


def test_a_model_file_with_a_seed_no_split_takes_is_refused_in_one_line(tmp_path):
    from glassnet import Network
    from glassnet.io import save

    path = save(
        Network([64, 5, 10], seed=0), tmp_path / "m.npz", metadata={"dataset": "digits", "training": {"seed": 2**40}}
    )
    code, out, err = run(["evaluate", str(path)])
    assert code == 2 and out == "" and "0..4294967295" in err and err.count("\n") == 1, err


def test_what_glassnet_writes_it_reads_an_ensemble_too_large_is_refused_before_writing(tmp_path):
    from glassnet import Network
    from glassnet.core.ensemble import Ensemble
    from glassnet.errors import ResourceLimitError
    from glassnet.io import load, save

    net = Network([4, 3, 2], seed=0)
    with pytest.raises(ResourceLimitError, match="at most 1,023"):
        save(Ensemble([net] * 300), tmp_path / "big.npz")
    assert list(tmp_path.iterdir()) == []
    assert len(load(save(Ensemble([net] * 255), tmp_path / "ok.npz")).members) == 255


def test_train_help_groups_its_flags_and_lists_the_defaults_of_each_kind():
    """``train --help``: every flag in a named group (the book's, chapter 3, layers and presets, data,
    output, the page), and a table of each kind of network's defaults generated from FITTING."""
    from glassnet.training.runs import FITTING, KINDS

    parser = build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    groups = {g.title: [a.option_strings[0] for a in g._group_actions] for g in train._action_groups}
    assert list(groups)[2:] == [
        "the book's run (chapter 1)",
        "beyond chapter 1 (chapters 3 and 5)",
        "layer networks, presets and ensembles (chapter 6)",
        "data",
        "output",
        "the live page (needs the web extra)",
    ]
    assert groups["options"] == ["-h"] and groups["positional arguments"] == []
    assert "--eta" in groups["the book's run (chapter 1)"] and "--l2" in groups["beyond chapter 1 (chapters 3 and 5)"]
    assert {"--dataset", "--data-dir", "--cache-dir"} <= set(groups["data"])
    assert {"--watch", "--watch-port", "--watch-keep"} == set(groups["the live page (needs the web extra)"])
    code, out, _ = run(["train", "--help"])
    assert code == 0
    for kind, text in KINDS.items():
        d = FITTING["mnist"][kind]
        assert re.search(rf"^  {re.escape(text)} +eta {d['eta']:g}, L2 {d['l2']:g}, {d['epochs']} epochs ", out, re.M)


def test_preset_tutorial_trains_on_the_digits_without_dataset():
    code, out, err = run(["train", "--preset", "tutorial", "--epochs", "2"])
    assert code == 0 and "on digits (1078 training, 719 test images), 2 epochs, mini-batch 1078, eta 0.25" in err
    code, _, err = run(["train", "--preset", "tutorial", "--dataset", "mnist"])
    assert code == 2 and "--preset tutorial is a run on digits, not mnist" in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["serve", "m.npz", "--host", "256.0.0.1"], "expected an IP address"),
        (["serve", "m.npz", "--host", "0.0.0.0"], "answer this computer only"),
        (["universality", "--host", "192.168.1.5"], "answer this computer only"),
        (["serve", "m.npz", "--port", "70000"], "0..65535"),
        (["train", "--seed", "4294967296"], "at most 4,294,967,295"),
        (["train", "--members", "256"], "at most 255"),
        (["train", "--members", "2", "--n-jobs", "65"], "at most 64"),
    ],
)
def test_pages_listen_on_this_computer_and_counts_are_bounded(argv, words):
    code, out, err = run(argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err


def test_watch_with_a_bad_option_says_so_before_the_pages_address():
    code, out, err = run(["train", "--watch", "--layers", "bogus", "--epochs", "1"])
    assert code == 2 and out == "" and err.count("\n") == 1 and "cannot read layer 'bogus'" in err, err
