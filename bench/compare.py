"""Compares ingot engines with PyTorch eager and torch.compile on the same GPU, in the same run.

For each model, batch size and precision it:
  1. builds the torch model with random weights (eval mode; torchvision / transformers),
  2. exports it with torch.export.export and saves the .pt2,
  3. converts it with `ingot convert --backend cuda --precision P` (the build is timed),
  4. benchmarks the engine with `ingot bench --json` on saved inputs, and runs it once
     with `ingot run` on the same inputs to check its output,
  5. times PyTorch eager and torch.compile (mode "default", "reduce-overhead" and, with
     --max-autotune, "max-autotune") at the same precision with CUDA events,
  6. prints one markdown table row: build time, median latencies, the best
     torch.compile / ingot ratio (> 1 means ingot is faster) and output agreement.

Every (model, batch, precision) row runs in its own worker process with a timeout, so
a failed conversion, a crash or a hang gives a row with the error instead of stopping
the run. Timing method (the same for ingot and PyTorch): each iteration is synchronized
and timed with CUDA events around the call (for ingot: `ingot bench`'s "gpu compute"
series, events around enqueue with inputs and outputs in GPU memory); the median of
>= 100 iterations after a warm-up is reported.

    python bench/compare.py --ingot build/ingot                       # resnet50, vit_b_16, bert_base; batch 1, 32; fp16
    python bench/compare.py --ingot build/ingot --quick               # resnet18 and bert_tiny, batch 1
    python bench/compare.py --models resnet50 --batches 1,8 --precision bf16 --max-autotune --out results.md
    python bench/compare.py --ingot build/ingot --backend cpu --quick  # CPU smoke test (eager only)

Needs torch, torchvision, transformers and numpy. No network: random weights only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MODELS = ("resnet50", "vit_b_16", "bert_base", "resnet18", "bert_tiny")
DEFAULT_MODELS = "resnet50,vit_b_16,bert_base"
QUICK_MODELS = "resnet18,bert_tiny"
PRECISIONS = ("fp16", "bf16", "fp32")
# Relative L2 error of ingot's output against an fp32 PyTorch reference.
TOLERANCE = {"fp16": 1e-2, "bf16": 3e-2, "fp32": 1e-4}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--models", default=None,
                   help=f"comma-separated, from {', '.join(MODELS)} (default {DEFAULT_MODELS}; --quick: {QUICK_MODELS})")
    p.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,32; --quick: 1)")
    p.add_argument("--precision", default="fp16", help="comma-separated, from fp16, bf16, fp32 (default fp16)")
    p.add_argument("--ingot", default=None, help="path of the ingot executable (default: $INGOT_BIN or `ingot` on PATH)")
    p.add_argument("--out", default=None, help="also write the markdown table (and a .json of all numbers) here")
    p.add_argument("--quick", action="store_true", help="small models, batch 1: a fast end-to-end check")
    p.add_argument("--max-autotune", action="store_true", help='also time torch.compile(mode="max-autotune") (minutes)')
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (eager only)")
    p.add_argument("--compile-modes", default=None,
                   help="comma-separated torch.compile modes to time (default: default,reduce-overhead, "
                        "plus max-autotune with --max-autotune)")
    p.add_argument("--iterations", type=int, default=200, help="timed iterations per measurement (at least 100)")
    p.add_argument("--warmup-ms", type=float, default=500, help="warm-up time per measurement")
    p.add_argument("--backend", default="cuda", choices=("cuda", "cpu"),
                   help="cpu: a smoke test of the whole pipeline without a GPU (fp32, eager only)")
    p.add_argument("--export-dtype", default="fp32", choices=("fp32", "same"),
                   help="fp32: export the fp32 model and let `ingot convert --precision` lower it (the default, "
                        "TensorRT's workflow); same: export the model already cast to the precision")
    p.add_argument("--seq-len", type=int, default=128, help="sequence length of the BERT models")
    p.add_argument("--row-timeout-s", type=float, default=900, help="kill a row's worker after this long")
    p.add_argument("--convert-timeout-s", type=float, default=600, help="kill `ingot convert` after this long")
    p.add_argument("--budget-s", type=float, default=0,
                   help="skip the remaining rows once this much time has passed (0 = no limit)")
    p.add_argument("--keep", default=None, help="keep the .pt2, engines, inputs and logs in this directory")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: one row, JSON spec
    args = p.parse_args(argv)

    args.models = [m for m in (args.models or (QUICK_MODELS if args.quick else DEFAULT_MODELS)).split(",") if m]
    for m in args.models:
        if m not in MODELS:
            p.error(f"unknown model '{m}'; choose from {', '.join(MODELS)}")
    try:
        args.batches = [int(b) for b in (args.batches or ("1" if args.quick else "1,32")).split(",") if b]
    except ValueError:
        p.error(f"--batches expects comma-separated integers, got '{args.batches}'")
    if not args.batches or any(b < 1 for b in args.batches):
        p.error("--batches must list positive integers")
    args.precisions = [x for x in args.precision.split(",") if x]
    for x in args.precisions:
        if x not in PRECISIONS:
            p.error(f"unknown precision '{x}'; choose from {', '.join(PRECISIONS)}")
    if args.backend == "cpu" and args.precisions != ["fp32"]:
        if args.precision != "fp16":  # fp16 is only the default; an explicit request is an error
            p.error("--backend cpu measures fp32 only")
        args.precisions = ["fp32"]
    if args.iterations < 100:
        p.error("--iterations must be at least 100 (medians of fewer runs are too noisy)")
    return args


def find_ingot(path):
    candidate = path or os.environ.get("INGOT_BIN") or shutil.which("ingot")
    if not candidate:
        return None
    return os.path.abspath(candidate)


# ---------------------------------------------------------------------------- the table

def fmt_ms(value):
    return "—" if value is None else f"{value:.3f}"


def chosen_compile_modes(args):
    if args.no_compile or args.backend == "cpu":
        return []
    if args.compile_modes:
        modes = [m.strip() for m in args.compile_modes.split(",") if m.strip()]
        unknown = [m for m in modes if m not in COMPILE_MODES]
        if unknown:
            raise SystemExit(f"--compile-modes: unknown mode(s) {', '.join(unknown)} (from {', '.join(COMPILE_MODES)})")
        return modes
    return [m for m in COMPILE_MODES if m != "max-autotune" or args.max_autotune]


def table_header(compile_modes):
    cols = ["model", "batch", "precision", "build s", "ingot ms", "eager ms"]
    cols += [f"compile {m} ms" for m in compile_modes]
    cols += ["best compile / ingot", "agreement (rel L2)", "notes"]
    return "| " + " | ".join(cols) + " |\n|" + "|".join("---" for _ in cols) + "|"


def table_row(r, compile_modes):
    compile_ms = r.get("compile_ms", {})
    cells = [r["model"], str(r["batch"]), r["precision"],
             "—" if r.get("build_s") is None else f"{r['build_s']:.1f}",
             fmt_ms(r.get("ingot_ms")), fmt_ms(r.get("eager_ms"))]
    cells += [fmt_ms(compile_ms.get(m)) for m in compile_modes]
    best = [v for v in compile_ms.values() if v is not None]
    ratio = min(best) / r["ingot_ms"] if best and r.get("ingot_ms") else None
    cells.append("—" if ratio is None else f"{ratio:.2f}x")
    agree = r.get("agreement")
    if agree is None:
        cells.append("—")
    else:
        cells.append(f"{'ok' if agree['ok'] else 'MISMATCH'} {agree['rel_l2']:.1e}")
    notes = list(r.get("notes", []))
    if r.get("error"):
        notes.insert(0, "ERROR: " + r["error"])
    cells.append("; ".join(n.replace("|", "/").replace("\n", " ") for n in notes)[:300])
    return "| " + " | ".join(cells) + " |"


# ---------------------------------------------------------------------------- driver

def run_row(args, ingot, model, batch, precision, work_dir, time_left):
    spec = {"model": model, "batch": batch, "precision": precision, "ingot": ingot, "work_dir": work_dir,
            "backend": args.backend, "export_dtype": args.export_dtype, "seq_len": args.seq_len,
            "iterations": args.iterations, "warmup_ms": args.warmup_ms,
            "compile_modes": chosen_compile_modes(args),
            "convert_timeout_s": args.convert_timeout_s}
    os.makedirs(work_dir, exist_ok=True)
    result_path = os.path.join(work_dir, "result.json")
    spec["result_path"] = result_path
    if os.path.exists(result_path):  # a stale row from an earlier --keep run must not be reported
        os.remove(result_path)
    row = {"model": model, "batch": batch, "precision": precision, "notes": []}
    timeout = min(args.row_timeout_s, time_left) if time_left is not None else args.row_timeout_s
    log_path = os.path.join(work_dir, "worker.log")
    import bench_worker
    with open(log_path, "w") as log:
        proc = bench_worker.run_killable([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                                         timeout, stdout=log, stderr=subprocess.STDOUT)
    if os.path.exists(result_path):  # complete, or the stages finished before a timeout
        with open(result_path) as f:
            row = json.load(f)
    if proc is None:
        row["error"] = f"timed out after {timeout:.0f} s (at: {row.get('stage', 'start')})"
    elif proc.returncode != 0 and not row.get("error"):
        row["error"] = f"worker exited with code {proc.returncode}: {tail(log_path)}"
    return row


def tail(path, lines=3):
    try:
        with open(path, errors="replace") as f:
            text = [l.strip() for l in f.read().splitlines() if l.strip()]
        return " / ".join(text[-lines:])[-400:]
    except OSError:
        return "(no log)"


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        import bench_worker
        return bench_worker.main(json.loads(args.worker))
    ingot = find_ingot(args.ingot)
    if not ingot or not os.path.exists(ingot):
        print(f"error: the ingot executable was not found ({args.ingot or '$INGOT_BIN / PATH'}); pass --ingot PATH",
              file=sys.stderr)
        return 2

    compile_modes = chosen_compile_modes(args)
    keep = args.keep is not None
    root = os.path.abspath(args.keep) if keep else tempfile.mkdtemp(prefix="ingot-bench-")
    os.makedirs(root, exist_ok=True)
    start = time.monotonic()
    rows = []
    print(table_header(compile_modes), flush=True)
    try:
        for model in args.models:
            for batch in args.batches:
                for precision in args.precisions:
                    elapsed = time.monotonic() - start
                    time_left = None if args.budget_s <= 0 else args.budget_s - elapsed
                    if time_left is not None and time_left < 30:
                        row = {"model": model, "batch": batch, "precision": precision,
                               "error": f"skipped: the --budget-s {args.budget_s:.0f} s is spent"}
                    else:
                        work = os.path.join(root, f"{model}_b{batch}_{precision}")
                        row = run_row(args, ingot, model, batch, precision, work, time_left)
                    rows.append(row)
                    print(table_row(row, compile_modes), flush=True)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

    table = table_header(compile_modes) + "\n" + "\n".join(table_row(r, compile_modes) for r in rows) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(rows, f, indent=2)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(not r.get("error") and (r.get("agreement") or {}).get("ok", False) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
