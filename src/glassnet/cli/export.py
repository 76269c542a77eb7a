"""``glassnet export MODEL OUT.onnx``: a saved model as an ONNX graph for any ONNX runtime."""

from __future__ import annotations

from .common import EXIT_OK, CLIError, at_least, describe_network, load_model, writable

NAME = "export"
HELP = "write a saved model as ONNX (onnxruntime, browsers, phones)"


def add_arguments(p):
    p.description = (
        "Write a model saved by 'glassnet train --save' as an ONNX file: input \"input\", "
        "output \"output\" (N, n_out), the same numbers as glassnet's forward pass. The input "
        "is (N, n_in) rows, or (N, c, h, w) images for a network whose input is images (a "
        "convolutional layer network; --flat-input reads rows of c*h*w values instead). An "
        "ensemble outputs the mean of its members' probabilities: for one that answers by "
        "majority vote, the argmax of that mean may differ from the vote. "
        "The graph is checked with onnx.checker. Needs the 'onnx' extra: "
        "pip install 'glassnet[onnx]'. (A scikit-learn Pipeline ending in a GlassnetClassifier "
        "is exported from Python: glassnet.io.onnx.export_onnx(pipeline, path).)"
    )
    p.add_argument("model", metavar="MODEL", help="a model file (.npz) written by glassnet train --save")
    p.add_argument("output", metavar="OUT", help="the ONNX file to write (e.g. model.onnx)")
    p.add_argument("--opset", type=at_least(int, 13, high=99), help="ONNX opset (default 17)")
    p.add_argument(
        "--batch",
        type=at_least(int, 1, high=1 << 30),
        help="a fixed batch size (default: any, the batch axis is dynamic)",
    )
    p.add_argument(
        "--flat-input",
        action="store_true",
        help="read images as rows (N, c*h*w) rather than (N, c, h, w) (a convolutional network)",
    )


def run(args, out, err):
    output = writable(args.output)
    net, header = load_model(args.model)
    try:
        from ..io.onnx import export_onnx

        path = export_onnx(net, output, opset=args.opset, batch=args.batch, flat=args.flat_input)
    except ModuleNotFoundError as e:
        raise CLIError(f"glassnet export needs the 'onnx' extra ({e}): pip install 'glassnet[onnx]'") from None
    shape = (net.n_in,) if args.flat_input else tuple(net.input_shape)
    print(
        f"# wrote {describe_network(net)} ({header.get('dataset', 'unknown data')}) to {path}; its input is "
        f"(N, {', '.join(map(str, shape))})",
        file=err,
    )
    print(path, file=out)
    return EXIT_OK
