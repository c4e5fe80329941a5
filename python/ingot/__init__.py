"""ingot: compile PyTorch modules into standalone inference engines, and run them.

    import torch, ingot
    engine_bytes = ingot.convert_method_to_engine(model, "forward", inputs=(torch.randn(1, 3, 224, 224),))
    engine = ingot.Engine(engine_bytes)
    y = engine(x)

Importing ingot does not import torch: ingot.Engine runs on numpy arrays alone.
Conversion and comparison (which need torch.export) import torch when called.
"""
import os as _os
import sys as _sys

from . import errors  # first: the extension raises these classes


def _load_extension():
    """Imports the C++ extension with RTLD_DEEPBIND on Linux: its C++ runtime
    symbols then bind to the libstdc++ it was linked against, not to copies that
    modules imported earlier (PyTorch's CUDA wheels) put in the global scope.
    Without it, a conversion in a process that imported torch first crashed in
    libstdc++'s stream code (measured on the GPU machine, gcc 13 build)."""
    deepbind = getattr(_os, "RTLD_DEEPBIND", 0)
    if not deepbind or _os.environ.get("INGOT_NO_DEEPBIND"):
        from . import _ingot
        return _ingot
    flags = _sys.getdlopenflags()
    _sys.setdlopenflags(flags | deepbind)
    try:
        from . import _ingot
    finally:
        _sys.setdlopenflags(flags)
    return _ingot


_load_extension()
from ._ingot import __version__, has_cuda  # noqa: E402
from .compare import Comparison, OutputComparison, compare, compare_files
from .convert import (Input, build_pt2, check_method_op_support, convert_exported_program, convert_method_to_engine,
                      example_inputs, export_method)
from .engine import Engine, TensorSpec, load_engine, save_engine
from .errors import IngotError, UnsupportedOperator, UnsupportedOperatorError


def compile(module, inputs=None, **options):
    """Compiles module.<method_name> (default forward) into an engine and returns a
    torch.nn.Module called like the method, returning the method's output structure
    (ingot.compiled_module.compile has the details). Imports torch."""
    from .compiled_module import compile as _compile
    return _compile(module, inputs, **options)


def __getattr__(name):
    if name == "CompiledModule":  # a torch.nn.Module: defined only once torch is wanted
        from .compiled_module import CompiledModule
        return CompiledModule
    raise AttributeError(f"module 'ingot' has no attribute {name!r}")


__all__ = [
    "__version__", "has_cuda", "IngotError", "UnsupportedOperatorError", "UnsupportedOperator", "Input", "Engine",
    "TensorSpec", "convert_method_to_engine", "convert_exported_program", "check_method_op_support", "build_pt2",
    "export_method", "example_inputs", "save_engine", "load_engine", "compare", "compare_files", "Comparison",
    "OutputComparison", "compile",
]
