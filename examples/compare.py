"""Compares an ingot output .npy with PyTorch's recorded output (numpy only).

    python examples/compare.py OUTPUT.npy EXPECTED.npy [--tolerance 1e-4] [--print-values]

Prints the relative error ||out - ref|| / ||ref|| and the largest absolute
difference; exits 1 when shapes or dtypes differ, any value is NaN, or the
relative error exceeds the tolerance.
"""
import argparse
import sys

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("expected")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--print-values", action="store_true", help="print both arrays")
    args = parser.parse_args()
    out, ref = np.load(args.output), np.load(args.expected)
    if out.shape != ref.shape or out.dtype != ref.dtype:
        print(f"MISMATCH: ingot gave {out.dtype}{list(out.shape)}, PyTorch {ref.dtype}{list(ref.shape)}")
        return 1
    if np.isnan(out).any():
        print("MISMATCH: ingot's output contains NaN")
        return 1
    if args.print_values:
        with np.printoptions(precision=5, suppress=True, linewidth=120):
            print("ingot:\n", out, "\nPyTorch:\n", ref, sep="")
    out64, ref64 = out.astype(np.float64), ref.astype(np.float64)
    rel = np.linalg.norm(out64 - ref64) / max(np.linalg.norm(ref64), 1e-30)
    max_abs = np.abs(out64 - ref64).max() if out.size else 0.0
    print(f"ingot vs PyTorch: relative error {rel:.3e}, max abs difference {max_abs:.3e} "
          f"(tolerance {args.tolerance:g})")
    if not rel <= args.tolerance:
        print("MISMATCH")
        return 1
    print("MATCH")
    return 0


if __name__ == "__main__":
    sys.exit(main())
