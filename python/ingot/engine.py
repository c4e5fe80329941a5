"""ingot.Engine: a loaded engine you call like a function.

Inputs may be torch tensors (CPU or CUDA) or numpy arrays; outputs come back as
the same kind (torch in -> torch out on the input's device, numpy in -> numpy
out). CUDA tensors are passed to the engine as device pointers without copies
and the engine runs on torch's current CUDA stream. torch is imported only when
torch tensors are given, so numpy-only use never loads it.

Each Engine object owns one C++ ExecutionContext (the activation arena); calls
on one Engine are serialized by a lock. For parallel inference from several
threads, create one Engine object per thread.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from typing import Any, Dict, List, NamedTuple, Tuple

import numpy as np

from . import _dtypes
from . import _ingot
from .errors import IngotError


class TensorSpec(NamedTuple):
    """An engine input or output: its name, dtype name ("float32") and shape."""

    name: str
    dtype: str
    shape: Tuple[int, ...]


def _is_torch_tensor(x) -> bool:
    if not _dtypes.torch_loaded():
        return False
    import torch
    return isinstance(x, torch.Tensor)


class Engine:
    """A serialized ingot engine, loaded and ready to run.

    Engine(bytes) loads from memory (what convert_method_to_engine returns);
    Engine(path) reads an engine file.
    """

    def __init__(self, engine):
        if isinstance(engine, Engine):
            engine = engine._path if engine._bytes is None else engine._bytes
        if isinstance(engine, (bytes, bytearray, memoryview)):
            self._bytes = bytes(engine)
            self._path = None
            self._impl = _ingot.Engine.load_memory(self._bytes)
        elif isinstance(engine, (str, os.PathLike)):
            self._bytes = None
            self._path = os.fspath(engine)
            self._impl = _ingot.Engine.load_file(self._path)
        else:
            raise IngotError(f"Engine() takes engine bytes or a file path, got {type(engine).__name__}")
        self._context = self._impl.create_context()
        self._lock = threading.Lock()
        self.inputs: List[TensorSpec] = [TensorSpec(n, d, tuple(s)) for n, d, s in self._impl.inputs]
        self.outputs: List[TensorSpec] = [TensorSpec(n, d, tuple(s)) for n, d, s in self._impl.outputs]

    # ------------------------------------------------------------ metadata
    @property
    def info(self) -> Dict[str, Any]:
        """Provenance: model file and content hash, versions, backend, target, build options, memory."""
        return dict(self._impl.info)

    @property
    def backend(self) -> str:
        return self._impl.info["backend"]

    def inspect(self) -> Dict[str, Any]:
        """The inspector's JSON (provenance, IO, steps with their source nodes, memory) as a dict."""
        if self._path is not None:
            return json.loads(_ingot.inspect_engine_json(self._path))
        with tempfile.TemporaryDirectory(prefix="ingot-") as tmp:
            path = os.path.join(tmp, "model.engine")
            _ingot.write_file_atomic(path, self._bytes)
            return json.loads(_ingot.inspect_engine_json(path))

    def save(self, path) -> None:
        """Writes the engine to path atomically."""
        data = self._bytes
        if data is None:
            with open(self._path, "rb") as f:
                data = f.read()
        _ingot.write_file_atomic(os.fspath(path), data)

    def __repr__(self) -> str:
        def fmt(specs):
            return ", ".join(f"{s.name}: {s.dtype}{list(s.shape)}" for s in specs)
        return f"ingot.Engine({self.backend}; inputs: {fmt(self.inputs)}; outputs: {fmt(self.outputs)})"

    # ------------------------------------------------------------ running
    def _assign(self, args, kwargs) -> List[Any]:
        """Positional arguments fill the inputs in order; keywords bind by name."""
        names = [s.name for s in self.inputs]
        if len(args) > len(names):
            raise IngotError(f"the engine takes {len(names)} input(s) ({', '.join(names) or 'none'}), "
                             f"got {len(args)} positional argument(s)")
        values: List[Any] = list(args) + [None] * (len(names) - len(args))
        given = [True] * len(args) + [False] * (len(names) - len(args))
        for key, value in kwargs.items():
            if key not in names:
                raise IngotError(f"the engine has no input named '{key}'; its inputs are: {', '.join(names)}")
            i = names.index(key)
            if given[i]:
                raise IngotError(f"input '{key}' is given twice (by position and by name)")
            values[i], given[i] = value, True
        missing = [n for n, g in zip(names, given) if not g]
        if missing:
            raise IngotError(f"missing engine input(s): {', '.join(missing)} (the engine's inputs are: {', '.join(names)})")
        return values

    def __call__(self, *args, **kwargs):
        values = self._assign(args, kwargs)
        use_torch = any(_is_torch_tensor(v) for v in values) or (not values and _dtypes.torch_loaded())
        on_cuda_engine = self.backend == "cuda"
        if use_torch:
            return self._run_torch(values, on_cuda_engine)
        return self._run_numpy(values, on_cuda_engine)

    def _run_numpy(self, values, on_cuda_engine):
        if on_cuda_engine:
            # The engine needs device memory: go through torch for the copies.
            import torch
            outs = self._run_torch([torch.from_numpy(self._as_numpy(s, v)) for s, v in zip(self.inputs, values)],
                                   True)
            outs = outs if isinstance(outs, tuple) else (outs,)
            result = tuple(o.cpu().numpy() for o in outs)
            return result[0] if len(result) == 1 else result
        arrays = [self._as_numpy(spec, v) for spec, v in zip(self.inputs, values)]
        outputs = [np.empty(s.shape, dtype=_dtypes.to_numpy(s.dtype)) for s in self.outputs]
        with self._lock:
            for spec, a in zip(self.inputs, arrays):
                self._context.bind_input(spec.name, a.ctypes.data, _dtypes.name_of(a.dtype), list(a.shape), False)
            for spec, o in zip(self.outputs, outputs):
                self._context.bind_output(spec.name, o.ctypes.data, spec.dtype, list(o.shape), False)
            self._context.run()
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    @staticmethod
    def _as_numpy(spec: TensorSpec, value) -> np.ndarray:
        if _is_torch_tensor(value):
            return value.detach().cpu().numpy()
        if not isinstance(value, np.ndarray):
            raise IngotError(f"input '{spec.name}': expected a torch.Tensor or numpy.ndarray, "
                             f"got {type(value).__name__}")
        a = np.ascontiguousarray(value)
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        return a

    def _run_torch(self, values, on_cuda_engine):
        import torch
        tensors = []
        for spec, v in zip(self.inputs, values):
            if isinstance(v, np.ndarray):
                v = torch.from_numpy(np.ascontiguousarray(v))
            if not isinstance(v, torch.Tensor):
                raise IngotError(f"input '{spec.name}': expected a torch.Tensor or numpy.ndarray, "
                                 f"got {type(v).__name__}")
            tensors.append(v.detach())
        # Results go back to the device of the first tensor input (CPU if none).
        home = tensors[0].device if tensors else torch.device("cpu")
        if on_cuda_engine:
            device = next((t.device for t in tensors if t.is_cuda), None) or torch.device("cuda", torch.cuda.current_device())
        else:
            device = torch.device("cpu")
        # Copies only where needed: another device, or a non-contiguous layout.
        tensors = [t.to(device).contiguous() for t in tensors]
        outputs = [torch.empty(s.shape, dtype=_dtypes.to_torch(s.dtype), device=device) for s in self.outputs]
        on_device = device.type == "cuda"
        with self._lock:
            for spec, t in zip(self.inputs, tensors):
                self._context.bind_input(spec.name, t.data_ptr(), _dtypes.name_of(t.dtype), list(t.shape), on_device)
            for spec, o in zip(self.outputs, outputs):
                self._context.bind_output(spec.name, o.data_ptr(), spec.dtype, list(o.shape), on_device)
            if on_device:
                with torch.cuda.device(device):
                    self._context.enqueue(torch.cuda.current_stream(device).cuda_stream)
            else:
                self._context.run()
        if home != device:
            outputs = [o.to(home) for o in outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def load_engine(path) -> Engine:
    """Loads an engine file."""
    return Engine(os.fspath(path))


def save_engine(engine, path) -> None:
    """Writes engine bytes (or an Engine) to path atomically (no half-written file on failure)."""
    if isinstance(engine, Engine):
        engine.save(path)
        return
    if not isinstance(engine, (bytes, bytearray, memoryview)):
        raise IngotError(f"save_engine takes engine bytes or an Engine, got {type(engine).__name__}")
    _ingot.write_file_atomic(os.fspath(path), bytes(engine))
