"""The first steps off the book's path, walked as a user walks them (issue 20, the command line):
``glassnet.cli.main([...])`` in-process, or ``python -m glassnet`` in a subprocess where a signal
or a terminal is part of the step.

* the README's ``--layers`` example learns with the defaults (>= 90% after one epoch; on the real
  MNIST marked ``mnist``, a shorter form on this run's synthetic MNIST);
* a run at chance says so in one line, with what to try;
* the digits run finishes in seconds, above the tutorial's accuracy;
* Ctrl-C with ``--save`` leaves a readable model marked interrupted;
* ``--watch``'s page outlives the run until Ctrl-C (or its Close button), by default in a terminal;
* ``glassnet watch MODEL`` serves a saved model's run;
* ``--dataset fashion`` offline names what it tried and what to do.

Subprocesses train on the digits (scikit-learn's, no download): a child process does not see
the synthetic MNIST the in-process tests read.
"""

import http.client
import io
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.io import load

pytestmark = pytest.mark.usefixtures("mnist")  # in-process runs read this run's MNIST

README_LAYERS = "conv20x5,pool2,conv40x5,pool2,fc100"


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def epochs(out):
    """``[(epoch, correct, total)]`` of a transcript."""
    return [tuple(map(int, m.groups())) for m in re.finditer(r"^Epoch (\d+): (\d+) / (\d+)$", out, re.M)]


# -- defaults that fit the network -----------------------------------------------------------------
@pytest.mark.mnist
def test_the_readme_layers_example_learns_on_mnist():
    """The README's ``glassnet train --layers conv20x5,pool2,conv40x5,pool2,fc100 --epochs 2``:
    ReLU layers, eta 0.03 and L2 0.1 by default, >= 90% after one epoch (it was chance)."""
    code, out, err = run(["train", "--layers", README_LAYERS, "--epochs", "1"])
    assert code == 0, err
    [(_, correct, total)] = epochs(out)
    assert total == 10000 and correct >= 9000, out
    assert "# defaults for a --layers network, ReLU layers (mnist): eta 0.03, L2 0.1, chosen" in err
    assert "chance" not in err


def test_the_readme_layers_example_learns_on_this_runs_mnist():
    """The same network with its defaults, shortened (one conv-pool, 12,000 images' worth of
    the run cut by --epochs 1 on the synthetic MNIST): >= 90% after its first epoch."""
    code, out, err = run(["train", "--layers", "conv20x5,pool2,fc100", "--epochs", "1"])
    assert code == 0, err
    [(_, correct, total)] = epochs(out)
    assert correct >= 0.9 * total, out
    assert "eta 0.03, L2 0.1" in err and "1 epoch," in err


def test_each_kind_of_network_is_told_its_defaults_and_the_book_is_left_alone():
    code, out, err = run(["train", "--dataset", "digits", "--activation", "relu", "--epochs", "2"])
    assert code == 0, err
    assert "# defaults for a ReLU network (digits): eta 0.1, L2 1, he init, chosen on validation data" in err
    code, out, err = run(["train", "--dataset", "digits", "--activation", "relu", "--epochs", "2", "--eta", "0.1"])
    assert "L2" not in err.splitlines()[0] and "# defaults for a ReLU network (digits): he init" in err
    code, out, err = run(["train", "--dataset", "digits", "--preset", "tutorial", "--epochs", "2"])
    assert code == 0 and "# defaults" not in err and "mini-batch 1078, eta 0.25" in err


@pytest.mark.parametrize(
    "argv, advice",
    [
        (["--eta", "0.00001"], "try a larger --eta (1 for the book's network) or more --epochs"),
        (
            ["--layers", "conv10x3,pool2,fc30", "--eta", "3"],
            "try a smaller --eta (0.3 for a --layers network, ReLU layers)",
        ),
        (["--eta", "1000"], "try a smaller --eta (1 for the book's network)"),
        (["--mini-batch-size", "1078"], "give it more epochs, or try --mini-batch-size 10"),
    ],
)
def test_a_run_at_chance_says_so_in_one_line_with_what_to_try(argv, advice):
    code, out, err = run(["train", "--dataset", "digits", "--epochs", "2", *argv])
    assert code == 0, err
    hints = [line for line in err.splitlines() if "is chance" in line]
    assert len(hints) == 1 and re.match(r"# accuracy \d+\.\d% after epoch \d+ is chance \(1 in 10\): ", hints[0])
    assert advice in hints[0], hints[0]


def test_a_run_that_learns_gets_no_hint():
    code, out, err = run(["train", "--dataset", "digits", "--epochs", "3"])
    assert code == 0 and "chance" not in err


def test_the_digits_run_finishes_in_seconds_above_the_tutorials_accuracy():
    """``glassnet train --dataset digits``: 30 epochs of mini-batches of 10, eta 1, L2 1, in well
    under 10 s (3,000 full-batch epochs took 25 s), and every seed's final accuracy above the
    tutorial's best (its full-batch run: 77.05 / 88.04 / 68.71% for seeds 0 / 1 / 2)."""
    for seed in (0, 1, 2):
        started = time.perf_counter()
        code, out, err = run(["train", "--dataset", "digits", "--seed", str(seed)])
        seconds = time.perf_counter() - started
        assert code == 0, err
        lines = epochs(out)
        assert len(lines) == 30 and seconds < 10, (len(lines), seconds)
        _, correct, total = lines[-1]
        assert correct / total > 0.8804, (seed, out)


# -- nothing lost: Ctrl-C with --save -------------------------------------------------------------
def glassnet(*argv, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "glassnet", *argv],
        stdout=subprocess.PIPE,
        stderr=kwargs.pop("stderr", subprocess.PIPE),
        text=True,
        **kwargs,
    )


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def interrupted(argv):
    """Run ``glassnet ARGV`` until its first epoch is done, then SIGINT (Ctrl-C): (code, stderr)."""
    proc = glassnet(*argv)
    first = proc.stdout.readline()  # the first epoch is done
    assert first.startswith("Epoch 0: "), first + (proc.stderr.read() if proc.poll() is not None else "")
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert "Traceback" not in err
    return code, err


def test_ctrl_c_with_save_leaves_a_readable_model_marked_interrupted(tmp_path):
    model = tmp_path / "m.npz"
    code, err = interrupted(["train", "--dataset", "digits", "--epochs", "100000", "--save", str(model)])
    assert code == 130, err
    line = next(l for l in err.splitlines() if l.startswith("# interrupted after epoch"))
    assert f"saved the network as it stands to {model} (marked interrupted)" in line
    assert "train it with --checkpoint PATH (then add --resume)" in line
    net, header = load(model, with_header=True)
    assert net.sizes == [64, 30, 10] and header["stopped"] == "interrupted"
    assert header["interrupted"]["epochs_done"] == len(header["history"]) >= 1
    code, out, err = run(["evaluate", str(model)])
    assert code == 0 and "/ 719" in out, err


def test_ctrl_c_with_a_checkpoint_keeps_the_checkpoint_for_resume(tmp_path):
    """With --checkpoint the checkpoint is what is kept (any command reads it); --save is written
    when the resumed run completes."""
    model, ck = tmp_path / "m.npz", tmp_path / "ck.npz"
    code, err = interrupted(
        ["train", "--dataset", "digits", "--epochs", "100000", "--save", str(model), "--checkpoint", str(ck)]
    )
    assert code == 130 and f"the checkpoint {ck} holds epoch" in err and "--resume to continue" in err
    assert not model.exists()
    code, out, err = run(["evaluate", str(ck)])
    assert code == 0 and "/ 719" in out, err


# -- nothing lost: the page outlives the run ---------------------------------------------------------
def get(port, path="/"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post(port, action):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST", "/api/control", body=json.dumps({"action": action}), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class Lines:
    """A child's stderr (a pipe or a terminal's file descriptor) read line by line in a thread."""

    def __init__(self, fd):
        self.lines, self.fd = [], fd
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        rest = b""
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # a terminal's other end closed
                return
            if not chunk:
                return
            rest += chunk
            *done, rest = re.split(rb"\r?\n|\r", rest)
            self.lines.extend(line.decode() for line in done)

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))


def port_of(lines):
    return int(lines.wait_for(r"# watching at http://127\.0\.0\.1:(\d+)/").group(1))


def test_the_page_outlives_the_run_until_ctrl_c():
    proc = glassnet("train", "--dataset", "digits", "--epochs", "3", "--watch", "--watch-keep")
    lines = Lines(proc.stderr.fileno())
    try:
        port = port_of(lines)
        lines.wait_for(r"# training is over; the page stays up at http://127\.0\.0\.1:\d+/ until Ctrl-C")
        for _ in range(3):  # training is over; the page is not
            status, page = get(port, "/")
            assert status == 200 and b"glassnet" in page and proc.poll() is None
            time.sleep(0.3)
        status, body = get(port, "/api/state")
        state = json.loads(body)
        assert status == 200 and [r["epoch"] for r in state["records"]] == [0, 1, 2]
        assert state["status"]["state"] == "finished" and state["meta"]["keep"] is True
        assert len(state["measures"]) >= 2 and state["measures"][-1]["epoch"] == 2
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    lines.wait_for(r"# closed the page \(Ctrl-C\)")
    assert not any("Traceback" in line for line in lines.lines)
    with pytest.raises(OSError):
        get(port)


def test_the_pages_close_button_ends_a_kept_run():
    proc = glassnet("train", "--dataset", "digits", "--epochs", "2", "--watch", "--watch-keep")
    lines = Lines(proc.stderr.fileno())
    try:
        port = port_of(lines)
        lines.wait_for(r"# training is over; the page stays up")
        assert post(port, "close") == (200, {"state": "finished", "message": None})
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    lines.wait_for("# closed from the page")


def test_ctrl_c_ends_the_kept_page_in_a_terminal_by_default():
    """stderr a terminal, no --watch-keep: the page stays; SIGINT (Ctrl-C) ends the process with 0."""
    leader, follower = pty.openpty()
    proc = glassnet("train", "--dataset", "digits", "--epochs", "2", "--watch", stderr=follower)
    os.close(follower)
    lines = Lines(leader)
    try:
        port = port_of(lines)
        lines.wait_for(r"# training is over; the page stays up")
        assert get(port, "/api/state")[0] == 200
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        lines.wait_for(r"# closed the page \(Ctrl-C\)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    assert proc.returncode == 0
    with pytest.raises(OSError):
        get(port)


def test_a_script_without_a_terminal_ends_with_its_training():
    code, out, err = run(["train", "--dataset", "digits", "--epochs", "2", "--watch"])
    assert code == 0 and "# training is over, and the page with it (stderr is not a terminal" in err


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- glassnet watch MODEL ---------------------------------------------------------------------------------
def watching(model):
    """``glassnet watch MODEL`` in a thread: ``(port, finish)``; ``finish()`` presses Close and
    returns the exit code and stderr."""
    port, result, err = free_port(), {}, io.StringIO()
    thread = threading.Thread(
        target=lambda: result.update(code=main(["watch", str(model), "--port", str(port)], out=io.StringIO(), err=err)),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 60
    while f"127.0.0.1:{port}" not in err.getvalue():
        assert thread.is_alive() and time.monotonic() < deadline, err.getvalue()
        time.sleep(0.05)

    def finish():
        assert post(port, "close")[0] == 200
        thread.join(30)
        return result["code"], err.getvalue()

    return port, finish


def test_watch_serves_a_saved_models_run(tmp_path):
    model = tmp_path / "digits.npz"
    assert run(["train", "--dataset", "digits", "--epochs", "4", "--seed", "2", "--save", str(model)])[0] == 0
    _, header = load(model, with_header=True)
    port, finish = watching(model)
    assert get(port, "/")[0] == 200
    state = json.loads(get(port, "/api/state")[1])
    assert state["meta"]["saved"] is True and state["meta"]["source"] == str(model)
    assert state["meta"]["sizes"] == [64, 30, 10] and state["meta"]["dataset"] == "digits"
    assert [r["correct"] for r in state["records"]] == [h["correct"] for h in header["history"]]
    [measured] = state["measures"]  # the saved weights, on its own test set
    assert measured["epoch"] == 3 and len(measured["per_class"]) == 10
    assert np.mean(measured["per_class"]) == pytest.approx(header["history"][-1]["accuracy"], abs=0.03)
    assert state["filters"]["count"] == 30 and state["status"] == {"state": "finished", "message": None}
    code, err = finish()
    assert code == 0 and "glassnet: stopped" in err and "(4 epochs of history)" in err, err


def test_watch_shows_a_checkpoint_as_the_run_stood(tmp_path):
    checkpoint = tmp_path / "ck.npz"
    assert run(["train", "--dataset", "digits", "--epochs", "3", "--checkpoint", str(checkpoint)])[0] == 0
    port, finish = watching(checkpoint)
    state = json.loads(get(port, "/api/state")[1])
    assert [r["epoch"] for r in state["records"]] == [0, 1, 2]
    assert state["status"]["message"] == "a checkpoint: the run as it stood after 3 epochs"
    code, err = finish()
    assert code == 0, err


def test_watch_refuses_what_it_cannot_show(tmp_path):
    from glassnet import Network
    from glassnet.core.ensemble import Ensemble
    from glassnet.io import save_ensemble

    code, _, err = run(["watch", str(tmp_path / "missing.npz")])
    assert code == 2 and "no such model file" in err
    both = tmp_path / "ensemble.npz"
    save_ensemble(Ensemble([Network([64, 8, 10], seed=0), Network([64, 9, 10], seed=1)]), both)
    code, _, err = run(["watch", str(both)])
    assert code == 2 and "watch one member's model file" in err and len(err.splitlines()) == 1


# -- data the machine does not have ------------------------------------------------------------------------
def test_fashion_offline_names_what_it_tried_and_what_to_do(tmp_path):
    from glassnet.datasets import FetchError
    from glassnet.datasets.fashion import fetch_fashion_mnist

    with pytest.raises(FetchError) as info:
        fetch_fashion_mnist(cache_dir=tmp_path / "cache", system_dir=tmp_path / "no-debian", mirrors=())
    message = str(info.value)
    assert f"not in the cache {tmp_path / 'cache' / 'fashion-mnist'}" in message
    assert f"tried folder {tmp_path / 'no-debian'}: no such folder" in message
    assert "data dir" not in message  # no --data-dir was given: none is blamed
    assert "apt-get install dataset-fashion-mnist" in message and "\n" not in message
