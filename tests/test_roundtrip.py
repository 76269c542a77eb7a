"""What glassnet writes, glassnet reads: every kind of file a glassnet command (or the library's
save) can write is read back by every command that takes a model.

Writers: ``train --save`` (the book's network; a layer network), ``train --members`` (an
ensemble), ``ensemble`` (saved models joined), ``train --checkpoint`` (a checkpoint),
``reproduce --chapter 6 --save`` (chapter 6's networks), ``network2``'s ``save`` (the book's JSON)
and ``glassnet.save`` of a fitted estimator.  Readers: ``evaluate``, ``predict``, ``inspect``,
``plot weights``, ``export``, ``ensemble`` and the drawing page's model (``serve``'s app).
Marked slow (real MNIST, a minute or two): the second tier runs it.
"""

import io
import shutil

import numpy as np
import pytest

from glassnet.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.mnist]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _written(folder, mnist):
    """name -> path of one file of every kind a glassnet command writes."""
    import glassnet
    import glassnet.network2 as network2
    from glassnet.sklearn import GlassnetClassifier

    files = {}
    small = ["--epochs", "1", "--seed", "3"]
    for name, argv in {
        "network": ["--sizes", "784-12-10"],
        "layer network": ["--layers", "conv4x5,pool2,fc12", "--activation", "relu", "--eta", "0.05"],
    }.items():
        path = folder / f"{name.replace(' ', '-')}.npz"
        code, _, err = run(["train", *argv, *small, "--save", path])
        assert code == 0, err
        files[name] = path
    members = folder / "members.npz"
    assert run(["train", "--sizes", "784-8-10", *small, "--members", "2", "--save", members])[0] == 0
    files["ensemble (train --members)"] = members
    joined = folder / "joined.npz"
    code, _, err = run(["ensemble", files["network"], files["layer network"], "--save", joined])
    assert code == 0, err
    files["ensemble (joined)"] = joined
    checkpoint = folder / "run.ckpt.npz"
    assert run(["train", "--sizes", "784-10-10", *small, "--checkpoint", checkpoint])[0] == 0
    files["checkpoint"] = checkpoint
    chapter6 = folder / "chapter6"
    code, _, err = run(
        [
            "reproduce",
            "--chapter",
            "6",
            "--rows",
            "1",
            "--seeds",
            "0",
            "--epochs",
            "1",
            "--n-train",
            "200",
            "--save",
            chapter6,
        ]
    )
    assert code == 0, err
    files["reproduce --save"] = sorted(chapter6.glob("*.npz"))[0]
    book = folder / "book.json"
    network2.Network([784, 10, 10]).save(str(book))
    files["network2 JSON"] = book
    estimator = GlassnetClassifier(hidden_layer_sizes=(10,), max_iter=1, random_state=0)
    estimator.fit(mnist.training.X[:2000], mnist.training.y[:2000])
    files["estimator"] = glassnet.save(estimator, folder / "estimator.npz")
    return files


@pytest.fixture(scope="module")
def written(tmp_path_factory, mnist):
    return _written(tmp_path_factory.mktemp("written"), mnist)


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory, mnist):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path_factory.mktemp("png") / "seven.png"
    Image.fromarray((mnist.test.X[0].reshape(28, 28) * 255).astype(np.uint8)).save(path)
    return path


KINDS = [
    "network",
    "layer network",
    "ensemble (train --members)",
    "ensemble (joined)",
    "checkpoint",
    "reproduce --save",
    "network2 JSON",
    "estimator",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "reader", ["evaluate", "predict", "inspect", "plot weights", "export", "ensemble", "serve's model"]
)
def test_every_file_glassnet_writes_every_command_reads(written, digit_png, tmp_path, kind, reader):
    path = written[kind]
    copy = tmp_path / path.name  # a reader must not need the writer's folder
    shutil.copy(path, copy)
    if reader == "serve's model":
        from glassnet.cli.common import load_model
        from glassnet.web.server import create_app

        answer = create_app(*load_model(copy)).test_client().get("/api/model")
        assert answer.status_code == 200 and answer.get_json()["sizes"][0] == 784
        return
    if reader == "export":
        pytest.importorskip("onnx")
    argv = {
        "evaluate": ["evaluate", copy],
        "predict": ["predict", copy, digit_png],
        "inspect": ["inspect", copy],
        "plot weights": ["plot", "weights", copy, "-o", tmp_path / "w.png"],
        "export": ["export", copy, tmp_path / "m.onnx"],
        "ensemble": ["ensemble", copy, written["network"], "--save", tmp_path / "e.npz"],
    }[reader]
    code, out, err = run(argv)
    assert code == 0 and "Traceback" not in err, (code, out, err)
    if reader == "evaluate":
        assert "MNIST test set:" in out
    if reader == "ensemble":
        assert run(["evaluate", tmp_path / "e.npz"])[0] == 0
