"""One row of bench/compare.py, run in its own process (compare.py kills it on timeout).

Stages, each recorded in result.json as it finishes so a timeout still shows how far
the row got: export -> convert -> ingot bench -> ingot run (agreement) -> torch
reference -> torch eager -> torch.compile modes. A failure in an ingot stage ends
the row with its error; a failure in one torch.compile mode becomes a note and the
other modes still run.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
import traceback

import numpy as np
import torch

import models

TOLERANCE = {"fp16": 1e-2, "bf16": 3e-2, "fp32": 1e-4}
TORCH_DTYPE = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
NUMPY_DTYPE = {"float32": np.float32, "float16": np.float16, "float64": np.float64, "int64": np.int64,
               "int32": np.int32, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}


class RowError(Exception):
    pass


def run_tool(cmd, timeout, what):
    """Runs an ingot subcommand; raises RowError with its last stderr lines on failure."""
    proc = run_killable(cmd, timeout)
    if proc is None:
        raise RowError(f"{what} timed out after {timeout:.0f} s")
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
        raise RowError(f"{what} failed (exit {proc.returncode}): " + " / ".join(lines[-3:])[-500:])
    return proc


_children = set()  # process groups of running children, killed if this worker is stopped


def _stop_children(signum, frame):
    for pgid in list(_children):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(128 + signum)


def run_killable(cmd, timeout, **popen_args):
    """subprocess.run in its own process group, with a timeout that stops the whole
    group (SIGTERM, then SIGKILL after 5 s; a worker's SIGTERM handler passes it on to
    its own children); returns None on timeout."""
    popen_args.setdefault("stdout", subprocess.PIPE)
    popen_args.setdefault("stderr", subprocess.PIPE)
    with subprocess.Popen(cmd, text=True, start_new_session=True, **popen_args) as proc:
        _children.add(proc.pid)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.communicate(timeout=grace)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
            return None
        finally:
            _children.discard(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out or "", err or "")


def rel_l2(out, ref):
    out64, ref64 = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if out64.shape != ref64.shape:
        return float("inf")
    if np.isnan(out64).any():  # NaN never passes
        return float("nan")
    return float(np.linalg.norm(out64 - ref64) / max(np.linalg.norm(ref64), 1e-30))


def time_torch(fn, inputs, device, iterations, warmup_ms, before_call=None):
    """Median milliseconds of `iterations` synchronized calls (CUDA events on GPU)."""
    def call():
        if before_call:
            before_call()
        return fn(*inputs)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    start = time.perf_counter()
    runs = 0
    while runs < 3 or (time.perf_counter() - start) * 1e3 < warmup_ms:
        call()
        runs += 1
    sync()
    times = []
    if device == "cuda":
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(iterations):
            begin.record()
            call()
            end.record()
            end.synchronize()
            times.append(begin.elapsed_time(end))
    else:
        for _ in range(iterations):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(spec):
    result = {"model": spec["model"], "batch": spec["batch"], "precision": spec["precision"], "notes": [],
              "stage": "start", "compile_ms": {}, "compile_build_s": {}}
    result_path = spec["result_path"]
    signal.signal(signal.SIGTERM, _stop_children)  # compare.py's row timeout

    def save(stage=None):
        if stage:
            result["stage"] = stage
        tmp = result_path + ".partial"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, result_path)

    try:
        run_row(spec, result, save)
        result["stage"] = "done"
    except RowError as e:
        result["error"] = str(e)
    except Exception as e:  # a row never takes the whole comparison down
        result["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    save()
    return 0


def run_row(spec, result, save):
    name, batch, precision = spec["model"], spec["batch"], spec["precision"]
    work, ingot, backend = spec["work_dir"], spec["ingot"], spec["backend"]
    device = "cuda" if backend == "cuda" else "cpu"
    dtype = TORCH_DTYPE[precision]
    if device == "cuda" and not torch.cuda.is_available():
        raise RowError("torch sees no CUDA GPU")
    if device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
    result["torch"] = torch.__version__

    # 1. model and export
    save("export")
    model, inputs, _ = models.build(name, batch, spec["seq_len"])
    export_model, export_inputs = model, inputs
    if spec["export_dtype"] == "same" and precision != "fp32":
        export_model = models.build(name, batch, spec["seq_len"])[0].to(dtype)
        export_inputs = models.cast_inputs(inputs, dtype)
    pt2 = os.path.join(work, f"{name}_b{batch}.pt2")
    t0 = time.perf_counter()
    input_names = models.export_pt2(export_model, export_inputs, pt2)
    result["export_s"] = time.perf_counter() - t0
    del export_model

    # 2. convert (timed)
    save("convert")
    engine = os.path.join(work, f"{name}_b{batch}_{precision}.engine")
    t0 = time.perf_counter()
    run_tool([ingot, "convert", pt2, "-o", engine, "--backend", backend, "--precision", precision, "-q"],
             spec["convert_timeout_s"], "ingot convert")
    result["build_s"] = time.perf_counter() - t0

    # 3. inputs as .npy in the engine's dtypes, then ingot bench on them
    save("ingot bench")
    probe = os.path.join(work, "probe.json")
    run_tool([ingot, "bench", engine, "--iterations", "1", "--warmup-ms", "0", "--json", probe], 300, "ingot bench")
    with open(probe) as f:
        engine_inputs = json.load(f)["inputs"]
    input_args, npy_ok = [], True
    by_name = dict(zip(input_names, export_inputs))
    for i, info in enumerate(engine_inputs):
        tensor = by_name.get(info["name"], export_inputs[i] if i < len(export_inputs) else None)
        np_dtype = NUMPY_DTYPE.get(info["dtype"])
        if tensor is None or np_dtype is None:
            npy_ok = False
            result["notes"].append(f"engine input '{info['name']}' ({info['dtype']}) cannot be fed from .npy; "
                                   "timed on random inputs, agreement not checked")
            break
        path = os.path.join(work, f"input_{i}.npy")
        np.save(path, tensor.detach().to(torch.float32 if tensor.is_floating_point() else tensor.dtype)
                .numpy().astype(np_dtype))
        input_args += ["--input", f"{info['name']}={path}"]
    if not npy_ok:
        input_args = []
    bench_json = os.path.join(work, "bench.json")
    run_tool([ingot, "bench", engine, *input_args, "--iterations", str(spec["iterations"]),
              "--warmup-ms", str(spec["warmup_ms"]), "--json", bench_json], 600, "ingot bench")
    with open(bench_json) as f:
        bench = json.load(f)
    result["ingot_bench"] = bench
    gpu = bench.get("gpu_compute_ms")
    result["ingot_ms"] = (gpu or bench["latency_ms"])["median"]
    result["ingot_latency_ms"] = bench["latency_ms"]["median"]
    save()

    # 4. ingot output on the same inputs
    ingot_out = None
    if npy_ok:
        save("ingot run")
        out_dir = os.path.join(work, "ingot_out")
        try:
            run_tool([ingot, "run", engine, *input_args, "-d", out_dir], 300, "ingot run")
            ingot_out = np.load(os.path.join(out_dir, "output.0.npy"))
        except RowError as e:
            result["notes"].append(f"agreement not checked: {e}")

    # 5. torch: fp32 reference (no TF32), then timings at the requested precision
    save("torch reference")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    is_cnn = name in models.CNN_MODELS
    memory_format = torch.channels_last if is_cnn else torch.contiguous_format
    ref_model = model.to(device)
    dev_inputs = tuple(t.to(device) for t in inputs)
    with torch.no_grad():
        reference = ref_model(*dev_inputs).float().cpu().numpy()
    if ingot_out is not None:
        err = rel_l2(ingot_out, reference)
        result["agreement"] = {"rel_l2": err, "tolerance": TOLERANCE[precision],
                               "ok": bool(err <= TOLERANCE[precision])}  # NaN compares False
    save()

    torch_model = ref_model.to(dtype)
    if is_cnn:
        torch_model = torch_model.to(memory_format=memory_format)
    run_inputs = tuple(t.to(dtype).contiguous(memory_format=memory_format) if t.is_floating_point() else t
                       for t in dev_inputs)
    with torch.no_grad():
        torch_out = torch_model(*run_inputs).float().cpu().numpy()
    result["torch_vs_reference_rel_l2"] = rel_l2(torch_out, reference)

    save("torch eager")
    with torch.no_grad():
        result["eager_ms"] = time_torch(torch_model, run_inputs, device, spec["iterations"], spec["warmup_ms"])
    save()

    for mode in spec["compile_modes"]:
        save(f"torch.compile {mode}")
        torch._dynamo.reset()
        try:
            compiled = torch.compile(torch_model, mode=mode)
            mark = torch.compiler.cudagraph_mark_step_begin if mode != "default" else None
            with torch.no_grad():
                t0 = time.perf_counter()
                if mark:
                    mark()
                compiled(*run_inputs)
                torch.cuda.synchronize()
                result["compile_build_s"][mode] = time.perf_counter() - t0
                result["compile_ms"][mode] = time_torch(compiled, run_inputs, device, spec["iterations"],
                                                        spec["warmup_ms"], before_call=mark)
        except Exception as e:
            result["compile_ms"][mode] = None
            result["notes"].append(f"compile {mode} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
        save()
