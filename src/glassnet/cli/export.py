"""``glassnet export MODEL OUT.onnx``: a saved model as an ONNX graph for any ONNX runtime."""
from __future__ import annotations

from .common import EXIT_OK, CLIError, at_least, describe_network, load_model, writable

NAME = "export"
HELP = "write a saved model as ONNX (onnxruntime, browsers, phones)"


def add_arguments(p):
    p.description = ("Write a model saved by 'glassnet train --save' as an ONNX file: input \"input\" "
                     "(N, n_in), output \"output\" (N, n_out), the same numbers as glassnet's forward pass "
                     "(a chapter-6 layer network takes its images flattened, c*h*w values a row; an "
                     "ensemble outputs the mean of its members' probabilities: for one that answers by "
                     "majority vote, the argmax of that mean may differ from the vote). "
                     "The graph is checked with onnx.checker. Needs the 'onnx' extra: "
                     "pip install 'glassnet[onnx]'.")
    p.add_argument("model", metavar="MODEL", help="a model file (.npz) written by glassnet train --save")
    p.add_argument("output", metavar="OUT", help="the ONNX file to write (e.g. model.onnx)")
    p.add_argument("--opset", type=at_least(int, 13, high=99), help="ONNX opset (default 17)")
    p.add_argument("--batch", type=at_least(int, 1, high=1 << 30),
                   help="a fixed batch size (default: any, the batch axis is dynamic)")


def run(args, out, err):
    output = writable(args.output)
    net, header = load_model(args.model)
    try:
        from ..io.onnx import export_onnx
        path = export_onnx(net, output, opset=args.opset, batch=args.batch)
    except ModuleNotFoundError as e:
        raise CLIError(f"glassnet export needs the 'onnx' extra ({e}): pip install 'glassnet[onnx]'") from None
    print(f"# wrote {describe_network(net)} ({header.get('dataset', 'unknown data')}) to {path}", file=err)
    print(path, file=out)
    return EXIT_OK
