"""ingot: compile PyTorch modules into standalone inference engines, and run them.

    import torch, ingot
    engine_bytes = ingot.convert_method_to_engine(model, "forward", inputs=(torch.randn(1, 3, 224, 224),))
    engine = ingot.Engine(engine_bytes)
    y = engine(x)

Importing ingot does not import torch: ingot.Engine runs on numpy arrays alone.
Conversion and comparison (which need torch.export) import torch when called.
"""
from . import errors  # first: the extension raises these classes
from ._ingot import __version__, has_cuda
from .compare import Comparison, OutputComparison, compare
from .convert import (Input, build_pt2, check_method_op_support, convert_exported_program, convert_method_to_engine,
                      example_inputs, export_method)
from .engine import Engine, TensorSpec, load_engine, save_engine
from .errors import IngotError, UnsupportedOperator, UnsupportedOperatorError

__all__ = [
    "__version__", "has_cuda", "IngotError", "UnsupportedOperatorError", "UnsupportedOperator", "Input", "Engine",
    "TensorSpec", "convert_method_to_engine", "convert_exported_program", "check_method_op_support", "build_pt2",
    "export_method", "example_inputs", "save_engine", "load_engine", "compare", "Comparison", "OutputComparison",
]
