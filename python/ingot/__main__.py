"""`python -m ingot compare MODEL.pt2 MODEL.engine`: the engine against PyTorch's own
output, for users of the `ingot` command who would otherwise write Python for it.

The `ingot` command itself links no PyTorch (engines run without it), so the
comparison, which must run the model in PyTorch, lives in the Python package.
Exit status: 0 every output within tolerance, 1 a mismatch or a refused input,
2 a bad command line (argparse's own).
"""
import argparse
import json
import sys


def _load_inputs(pairs):
    import numpy as np
    return {name: np.load(path) for name, path in pairs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingot", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="run a .pt2 in PyTorch and its engine on the same inputs and compare")
    cmp.add_argument("pt2", help="the .pt2 the engine was built from")
    cmp.add_argument("engine", help="the engine file")
    cmp.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE.npy",
                     help="an input from a .npy file (repeatable); inputs not given are random, "
                          "as `ingot run` draws them")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    cmp.add_argument("--torch-device", default="cpu", help="where PyTorch runs the model (default cpu, in its dtypes)")
    cmp.add_argument("--no-verify", action="store_true",
                     help="skip the check that the engine was built from this .pt2")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    pairs = []
    for item in args.input:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--input expects NAME=FILE.npy, got '{item}'")
        pairs.append((name, path))

    from . import IngotError
    from .compare import compare_files
    try:
        result = compare_files(args.pt2, args.engine, _load_inputs(pairs), seed=args.seed,
                               torch_device=args.torch_device, verify=not args.no_verify)
    except (IngotError, OSError, ValueError) as e:
        print(f"ingot compare: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"passed": result.passed, "outputs": [vars(c) for c in result]}, indent=2))
    else:
        print(result)
        print("PASS: every output is within tolerance" if result.passed else "FAIL: see the table above")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
