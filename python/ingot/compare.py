"""ingot.compare: run a PyTorch module and an ingot engine on the same inputs and
report, per output, how far apart they are.

The verdict uses the relative L2 error ||engine - torch|| / ||torch|| against a
tolerance by precision (fp32 1e-4, fp16 1e-2, bf16 3e-2; integer and bool
outputs must match exactly). A NaN or Inf in the engine's output, or a shape
mismatch, never passes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from .errors import IngotError

TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 3e-2}


@dataclass
class OutputComparison:
    name: str
    shape: Tuple[int, ...]
    dtype: str
    max_abs_error: float
    max_rel_error: float      # max |a - b| / max(|b|, tiny) over elements
    rel_l2_error: float       # ||a - b|| / ||b||
    mean_abs_error: float
    cosine_similarity: float
    nan_count_engine: int
    inf_count_engine: int
    nan_count_torch: int
    inf_count_torch: int
    tolerance: float
    passed: bool
    note: str = ""


class Comparison(list):
    """A list of OutputComparison, one per output, printable as a table."""

    @property
    def passed(self) -> bool:
        return bool(self) and all(c.passed for c in self)

    def __str__(self) -> str:
        header = ("output", "shape", "dtype", "max abs", "max rel", "rel L2", "mean abs", "cosine",
                  "NaN/Inf ingot", "NaN/Inf torch", "tol", "result")
        rows = [header]
        for c in self:
            rows.append((c.name, "x".join(map(str, c.shape)) or "scalar", c.dtype, f"{c.max_abs_error:.3g}",
                         f"{c.max_rel_error:.3g}", f"{c.rel_l2_error:.3g}", f"{c.mean_abs_error:.3g}",
                         f"{c.cosine_similarity:.6f}", f"{c.nan_count_engine}/{c.inf_count_engine}",
                         f"{c.nan_count_torch}/{c.inf_count_torch}", f"{c.tolerance:g}",
                         ("PASS" if c.passed else "FAIL") + (f" ({c.note})" if c.note else "")))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def compare_arrays(name: str, engine_out: np.ndarray, torch_out: np.ndarray, precision: str = "fp32") -> OutputComparison:
    a, b = np.asarray(engine_out), np.asarray(torch_out)
    floating = np.issubdtype(b.dtype, np.floating)
    tol = TOLERANCE.get(precision, 1e-4) if floating else 0.0
    note = ""
    if a.shape != b.shape:
        nan = float("nan")
        return OutputComparison(name, tuple(b.shape), str(b.dtype), nan, nan, nan, nan, nan, 0, 0, 0, 0, tol, False,
                                f"shape {tuple(a.shape)} != torch {tuple(b.shape)}")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    counts = [int(np.isnan(x).sum()) for x in (a64, b64)] + [int(np.isinf(x).sum()) for x in (a64, b64)]
    diff = np.abs(a64 - b64)
    with np.errstate(invalid="ignore", divide="ignore"):
        max_abs = float(diff.max()) if diff.size else 0.0
        max_rel = float((diff / np.maximum(np.abs(b64), np.finfo(np.float64).tiny)).max()) if diff.size else 0.0
        norm_b = float(np.linalg.norm(b64))
        norm_d = float(np.linalg.norm(a64 - b64))
        rel_l2 = norm_d / norm_b if norm_b > 0 else (0.0 if norm_d == 0 else float("inf"))
        mean_abs = float(diff.mean()) if diff.size else 0.0
        norm_a = float(np.linalg.norm(a64))
        cosine = float(np.dot(a64.ravel(), b64.ravel()) / (norm_a * norm_b)) if norm_a > 0 and norm_b > 0 else (
            1.0 if norm_a == norm_b else 0.0)
    passed = rel_l2 <= tol and not np.isnan(rel_l2)
    if counts[0] or counts[2]:
        passed, note = False, "non-finite engine output"
    elif counts[1] or counts[3]:
        passed, note = False, "non-finite torch output"
    return OutputComparison(name, tuple(b.shape), str(b.dtype), max_abs, max_rel, rel_l2, mean_abs, cosine,
                            counts[0], counts[2], counts[1], counts[3], tol, bool(passed), note)


def _to_numpy(t) -> np.ndarray:
    import torch
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy()
    return np.asarray(t)


def compare(module, engine, inputs=None, method_name: str = "forward", *, kwargs=None,
            precision: Optional[str] = None) -> Comparison:
    """Runs module.<method_name> and the engine on the same inputs (tensors or ingot.Input
    specs, as convert_method_to_engine takes them) and compares every output."""
    import torch
    import torch.utils._pytree as pytree

    from .convert import example_inputs
    from .engine import Engine

    if not isinstance(engine, Engine):
        engine = Engine(engine)
    args, kw = example_inputs(inputs, kwargs)
    with torch.no_grad():
        reference = getattr(module, method_name)(*args, **kw)

    # Tensor arguments reach the engine as its inputs; other values were baked in by torch.export.
    names = {s.name for s in engine.inputs}
    engine_args = [a for a in args if isinstance(a, torch.Tensor)]
    engine_kw = {k: v for k, v in kw.items() if isinstance(v, torch.Tensor) and k in names}
    if len(engine_args) + len(engine_kw) != len(engine.inputs):
        # Nested arguments: hand the engine every tensor leaf in export's order.
        engine_args = [x for x in pytree.tree_leaves((args, kw)) if isinstance(x, torch.Tensor)]
        engine_kw = {}
    got = engine(*engine_args, **engine_kw)
    return _compare_outputs(engine, got, reference, f"{type(module).__name__}.{method_name}", precision)


def _compare_outputs(engine, got, reference, what: str, precision: Optional[str] = None) -> Comparison:
    """Compares the engine's outputs with the tensor leaves of PyTorch's result, in order."""
    import torch
    import torch.utils._pytree as pytree
    ref_leaves = [x for x in pytree.tree_leaves(reference) if isinstance(x, torch.Tensor)]
    got = list(got) if isinstance(got, tuple) else [got]
    if len(got) != len(ref_leaves):
        raise IngotError(f"the engine has {len(got)} output(s) but {what} returned {len(ref_leaves)} tensor(s)")
    if precision is None:
        precision = engine.info.get("options", {}).get("precision", "fp32")
    result = Comparison()
    for spec, out, ref in zip(engine.outputs, got, ref_leaves):
        result.append(compare_arrays(spec.name, _to_numpy(out), _to_numpy(ref), precision))
    return result


def compare_files(pt2_path, engine, inputs=None, *, seed: int = 0, torch_device: str = "cpu",
                  verify: bool = True) -> Comparison:
    """Runs the exported program of a .pt2 file in PyTorch and an engine built from it on the
    same inputs and compares every output (what `python -m ingot compare` prints).

    inputs: {engine input name: array or tensor}; inputs not given are random (seeded, as
    `ingot run` draws them). verify: first check, by content hash, that the engine was
    built from this .pt2 (a comparison with another model's engine means nothing).
    """
    import os
    import warnings

    import torch
    import torch.utils._pytree as pytree
    from torch.export.graph_signature import ConstantArgument, InputKind, TensorArgument

    from . import _ingot
    from .convert import Input, _materialize
    from .engine import Engine

    pt2_path = os.fspath(pt2_path)
    engine_path = None if isinstance(engine, (Engine, bytes, bytearray, memoryview)) else os.fspath(engine)
    if verify and engine_path is not None:
        v = _ingot.verify_engine_model(engine_path, pt2_path)
        if not v["match"]:
            raise IngotError(v["message"])
    if not isinstance(engine, Engine):
        engine = Engine(engine)
    given = {str(k): _materialize(v) for k, v in (inputs or {}).items()}
    unknown = sorted(set(given) - {s.name for s in engine.inputs})
    if unknown:
        raise IngotError(f"the engine has no input named {', '.join(unknown)}; its inputs are: "
                         f"{', '.join(s.name for s in engine.inputs)}")
    generator = torch.Generator().manual_seed(int(seed))
    # Drawn in engine order, so a seed always gives the same inputs; Input's defaults draw as
    # `ingot run` does: floats N(0, 1), integers [0, 100), bools by coin flip.
    tensors = {s.name: given[s.name] if s.name in given else Input(s.shape, s.dtype).example(generator)
               for s in engine.inputs}

    with warnings.catch_warnings():  # torch's note that it reads weights from a read-only buffer
        warnings.filterwarnings("ignore", message="The given buffer is not writable")
        program = torch.export.load(pt2_path)
    flat = []
    for s in program.graph_signature.input_specs:
        if s.kind != InputKind.USER_INPUT:
            continue
        if isinstance(s.arg, TensorArgument):
            if s.arg.name not in tensors:
                raise IngotError(f"the model's input '{s.arg.name}' is not an input of the engine")
            flat.append(tensors[s.arg.name].to(torch_device))
        elif isinstance(s.arg, ConstantArgument):
            flat.append(s.arg.value)
        else:
            raise IngotError(f"the model's input {s.arg} is neither a tensor nor a constant")
    # The engine first: it checks every input's dtype and shape and names the one that differs.
    got = engine(*[tensors[s.name] for s in engine.inputs])
    args, kwargs = pytree.tree_unflatten(flat, program.call_spec.in_spec)
    try:
        with torch.no_grad():
            reference = program.module()(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - whatever PyTorch raises, say which side failed
        raise IngotError(f"PyTorch could not run '{os.path.basename(pt2_path)}' on these inputs: "
                         f"{type(e).__name__}: {e}") from None
    return _compare_outputs(engine, got, reference, f"'{os.path.basename(pt2_path)}'")
