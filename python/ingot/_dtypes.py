"""Dtype names shared by the engine (the C++ names), torch and numpy.

torch is imported only when a torch dtype is asked for, so that numpy-only
users of ingot.Engine never load it.
"""
from __future__ import annotations

import sys

import numpy as np

from .errors import IngotError

# The names ingot's engines use (include/ingot/dtype.h); identical to torch's and numpy's.
NAMES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


def torch_loaded() -> bool:
    return "torch" in sys.modules


def to_torch(name: str):
    import torch
    return getattr(torch, name)


def to_numpy(name: str) -> np.dtype:
    if name == "bfloat16":
        raise IngotError("numpy has no bfloat16 dtype; pass torch tensors to a bfloat16 engine")
    return np.dtype("bool" if name == "bool" else name)


def name_of(dtype) -> str:
    """The ingot name of a torch dtype, numpy dtype or dtype name."""
    if isinstance(dtype, str):
        name = dtype
    elif torch_loaded() and _is_torch_dtype(dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise IngotError(f"not a dtype: {dtype!r}") from None
    if name == "bool_":
        name = "bool"
    if name not in NAMES:
        raise IngotError(f"ingot does not support tensors of dtype '{name}' (supported: {', '.join(NAMES)})")
    return name


def _is_torch_dtype(dtype) -> bool:
    import torch
    return isinstance(dtype, torch.dtype)
