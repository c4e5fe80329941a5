"""From a PyTorch module to engine bytes: torch.export, save the .pt2, and build
through the C++ compiler (no second implementation here).

A method other than forward is exported through a small wrapper module whose
forward calls that method; the wrapper holds the user's module as a submodule,
so parameters and buffers are shared, never copied, and it carries the method's
signature so the engine's inputs keep the user's argument names.
"""
from __future__ import annotations

import inspect
import os
import re
import tempfile
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from . import _dtypes
from . import _ingot
from .errors import IngotError, UnsupportedOperator, UnsupportedOperatorError

_PRECISIONS = {"fp32": "fp32", "float32": "fp32", "fp16": "fp16", "float16": "fp16", "half": "fp16",
               "bf16": "bf16", "bfloat16": "bf16"}


class Input:
    """A description of one input, from which a random example tensor is made.

    ingot.Input(shape=(1, 3, 224, 224), dtype=torch.float32). Floating inputs are
    drawn from N(0, 1); integer inputs uniformly from [low, high) (default
    [0, 100), valid token ids for most vocabularies); bool inputs are coin flips.
    """

    def __init__(self, shape: Sequence[int], dtype: Any = "float32", *, low: int = 0, high: int = 100,
                 device: Any = None):
        self.shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in self.shape):
            raise IngotError(f"Input shape {self.shape} has a negative dimension")
        self.dtype = _dtypes.name_of(dtype)
        self.low, self.high, self.device = int(low), int(high), device

    def example(self, generator=None):
        import torch
        dtype = _dtypes.to_torch(self.dtype)
        if dtype.is_floating_point:
            t = torch.randn(self.shape, generator=generator, dtype=torch.float32).to(dtype)
        elif dtype == torch.bool:
            t = torch.randint(0, 2, self.shape, generator=generator).bool()
        else:
            t = torch.randint(self.low, self.high, self.shape, generator=generator, dtype=dtype)
        return t if self.device is None else t.to(self.device)

    def __repr__(self) -> str:
        return f"ingot.Input(shape={self.shape}, dtype={self.dtype})"


def _materialize(value, generator=None):
    """Replaces Input specs (at any depth) with example tensors and numpy arrays with tensors."""
    import numpy as np
    import torch
    if isinstance(value, Input):
        return value.example(generator)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_materialize(v, generator) for v in value)
    if isinstance(value, dict):
        return {k: _materialize(v, generator) for k, v in value.items()}
    return value


def example_inputs(inputs, kwargs: Optional[Dict[str, Any]] = None, generator=None) -> Tuple[tuple, dict]:
    """(args, kwargs) of example tensors from what `inputs=` accepts: a tensor or Input
    (one argument), a tuple/list (positional arguments) or a dict (keyword arguments)."""
    if inputs is None:
        args, kw = (), {}
    elif isinstance(inputs, dict):
        args, kw = (), dict(inputs)
    elif isinstance(inputs, (list, tuple)):
        args, kw = tuple(inputs), {}
    else:
        args, kw = (inputs,), {}
    kw.update(kwargs or {})
    return tuple(_materialize(a, generator) for a in args), {k: _materialize(v, generator) for k, v in kw.items()}


def _method_module(module, method_name: str):
    """The module whose forward is module.<method_name>."""
    import torch
    if not isinstance(module, torch.nn.Module):
        raise IngotError(f"expected a torch.nn.Module, got {type(module).__name__}")
    method = getattr(module, method_name, None)
    if method is None or not callable(method):
        raise IngotError(f"{type(module).__name__} has no method '{method_name}'")
    if method_name == "forward":
        return module

    class MethodAsForward(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.module = inner  # a submodule: parameters are shared, not copied

    wrapper = MethodAsForward(module)

    def forward(*args, **kwargs):
        return getattr(wrapper.module, method_name)(*args, **kwargs)

    # torch.export names the engine's inputs after the forward signature.
    forward.__signature__ = inspect.signature(method)
    wrapper.forward = forward
    return wrapper


def export_method(module, method_name: str = "forward", inputs=None, kwargs=None):
    """torch.export of module.<method_name> on the example inputs; returns the ExportedProgram."""
    import torch
    args, kw = example_inputs(inputs, kwargs)
    return torch.export.export(_method_module(module, method_name), args, kw)


def _default_backend() -> str:
    if _ingot.has_cuda:
        import torch
        if torch.cuda.is_available():
            return "cuda"
    return "cpu"


def _model_name(module, method_name: str) -> str:
    name = f"{type(module).__name__}" + ("" if method_name == "forward" else f"_{method_name}")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _unsupported_error(report) -> UnsupportedOperatorError:
    records = [UnsupportedOperator(u.target, u.node_name, u.location, u.code, u.count, u.reason)
               for u in report.unsupported]
    return UnsupportedOperatorError(report.to_string().rstrip(), records, report)


def build_pt2(pt2_path, *, precision="fp32", backend: Optional[str] = None, allow_tf32: bool = False,
              exact_gelu: bool = False, optimization_level: int = 3, timing_cache=None, workspace_limit: int = 0, cuda_arch: str = "",
              progress=None, input_shapes=None, disable_passes=()) -> bytes:
    """Builds engine bytes from a .pt2 file (what `ingot convert` does). `input_shapes`
    ({"x": (8, 3, 224, 224)}) builds a model exported with dynamic dims at those sizes
    (`ingot convert --input-shape`); `disable_passes` names optimizer passes to skip
    (`ingot convert --disable-pass`, docs/optimizer.md)."""
    pt2_path = os.fspath(pt2_path)
    if isinstance(precision, str):
        key = precision.lower()
    else:
        key = _dtypes.name_of(precision)
    if key not in _PRECISIONS:
        raise IngotError(f"unknown precision {precision!r} (expected fp32, fp16 or bf16)")
    try:
        return _ingot.build_engine(
            pt2_path, backend=backend or _default_backend(), precision=_PRECISIONS[key],
            allow_tf32=bool(allow_tf32), exact_gelu=bool(exact_gelu), optimization_level=int(optimization_level),
            timing_cache="" if timing_cache is None else os.fspath(timing_cache),
            workspace_limit=int(workspace_limit), cuda_arch=cuda_arch, progress=progress,
            input_shapes={str(k): [int(d) for d in v] for k, v in (input_shapes or {}).items()},
            disable_passes=[disable_passes] if isinstance(disable_passes, str) else [str(n) for n in disable_passes])
    except IngotError as e:
        if e.code != "unsupported":
            raise
        # Rebuild the report as data (check_model never raises for unsupported ops).
        report = _ingot.check_model(pt2_path)
        if report.ok():
            raise
        raise _unsupported_error(report) from None


def convert_exported_program(exported_program, *, name: str = "model", **options) -> bytes:
    """Builds engine bytes from a torch.export ExportedProgram (options as in convert_method_to_engine)."""
    import torch
    with tempfile.TemporaryDirectory(prefix="ingot-") as tmp:
        # A fixed file name: the archive (and so the recorded content hash) does not
        # depend on the temporary folder.
        path = os.path.join(tmp, f"{name}.pt2")
        torch.export.save(exported_program, path)
        return build_pt2(path, **options)


def convert_method_to_engine(module, method_name: str = "forward", inputs=None, *, precision="fp32",
                             backend: Optional[str] = None, allow_tf32: bool = False, exact_gelu: bool = False,
                             optimization_level: int = 3, timing_cache=None, workspace_limit: int = 0, kwargs: Optional[Dict[str, Any]] = None,
                             cuda_arch: str = "", progress=None, disable_passes=()) -> bytes:
    """Exports module.<method_name> with torch.export and compiles it into engine bytes.

    inputs: example tensors or ingot.Input specs; a tuple/list for positional
    arguments, a dict for keyword arguments (kwargs= adds more keyword arguments).
    backend: "cpu" or "cuda" (default: cuda when torch sees a GPU and ingot was
    built with CUDA, else cpu). Raises UnsupportedOperatorError listing every
    operator ingot cannot convert, with the source line that uses it.
    """
    program = export_method(module, method_name, inputs, kwargs)
    return convert_exported_program(program, name=_model_name(module, method_name), precision=precision,
                                    backend=backend, allow_tf32=allow_tf32, exact_gelu=exact_gelu,
                                    optimization_level=optimization_level,
                                    timing_cache=timing_cache, workspace_limit=workspace_limit, cuda_arch=cuda_arch,
                                    progress=progress, disable_passes=disable_passes)


def check_method_op_support(module, method_name: str = "forward", inputs=None, *, kwargs=None,
                            verbose: bool = True) -> bool:
    """Whether ingot can convert every operator of module.<method_name>; prints the report."""
    import torch
    program = export_method(module, method_name, inputs, kwargs)
    with tempfile.TemporaryDirectory(prefix="ingot-") as tmp:
        path = os.path.join(tmp, f"{_model_name(module, method_name)}.pt2")
        torch.export.save(program, path)
        report = _ingot.check_model(path)
    if verbose:
        print(report.to_string(), end="")
    return report.ok()
