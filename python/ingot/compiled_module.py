"""ingot.compile: a module's method compiled into an engine and wrapped back into a
torch.nn.Module that is called like the method and returns what the method returns.

An engine takes and returns flat lists of tensors. A model's method takes named
arguments, some of them nested (lists, dicts) or not tensors at all (flags,
scales), and returns nested structures (tuples, dicts, transformers' ModelOutput)
that may hold non-tensor values (None, ints). ingot.compile bridges the two so that
a compiled module can replace the original in the user's code, or a submodule of a
larger model (`model.backbone = ingot.compile(model.backbone, inputs=...)`).

How: every call, the example's at build time and each later one, is bound to the
method's signature (defaults applied) and flattened with torch's pytree, so the
engine's inputs are the tensor leaves in one fixed order whatever mix of positional
and keyword arguments the caller uses. The method is exported through a wrapper
that returns only the tensor leaves of its result; the output's structure and its
non-tensor leaves are recorded while torch.export traces it, and each call puts the
engine's outputs back into that structure. torch.export fixes non-tensor arguments
at their example values, so a call that passes other values is refused rather than
silently computing with the old ones.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional

import torch
from torch.utils import _pytree as pytree

from .convert import _method_module, _model_name, convert_exported_program, example_inputs
from .engine import Engine
from .errors import IngotError

_NAMED = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _CallConvention:
    """The method's parameters in one fixed order, and how a call maps onto them."""

    def __init__(self, method, example_args, example_kwargs):
        self.signature = inspect.signature(method)
        params = list(self.signature.parameters.values())
        self.var_keyword = next((p.name for p in params if p.kind == inspect.Parameter.VAR_KEYWORD), None)
        self.var_positional = next((p.name for p in params if p.kind == inspect.Parameter.VAR_POSITIONAL), None)
        self.names = [p.name for p in params if p.kind in _NAMED]
        # Keywords the method takes through **kwargs become parameters of their own.
        bound = self._bind(example_args, example_kwargs)
        self.extra = sorted(bound.arguments.get(self.var_keyword, {})) if self.var_keyword else []

    def _bind(self, args, kwargs) -> inspect.BoundArguments:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise IngotError(f"the arguments do not fit the method's signature {self.signature}: {e}") from None
        if self.var_positional and bound.arguments.get(self.var_positional):
            raise IngotError(f"ingot.compile cannot bind values to *{self.var_positional}: pass them as named "
                             "arguments, or use convert_method_to_engine")
        bound.apply_defaults()
        return bound

    def values(self, args, kwargs) -> List[Any]:
        """The call's argument values in the fixed order (named parameters, then **kwargs keywords)."""
        bound = self._bind(args, kwargs)
        given = bound.arguments.get(self.var_keyword, {}) if self.var_keyword else {}
        unknown = sorted(set(given) - set(self.extra))
        if unknown:
            raise IngotError(f"keyword argument(s) {', '.join(unknown)} were not given when the engine was built; "
                             f"it was built for: {', '.join(self.names + self.extra)}")
        return [bound.arguments[n] for n in self.names] + [given.get(n) for n in self.extra]

    def leaf_names(self, values) -> List[str]:
        """A name for each pytree leaf of values: the parameter's, with the leaf's index when it has several."""
        names = []
        for name, value in zip(self.names + self.extra, values):
            n = len(pytree.tree_leaves(value))
            names += [name] if n == 1 else [f"{name} (leaf {i} of {n})" for i in range(n)]
        return names

    def call(self, method, values):
        """Calls the method with values in the fixed order."""
        # By keyword wherever the signature allows, and defaults left out: decorators
        # (transformers' among them) read some arguments from **kwargs and would see
        # a positional one twice.
        positional, keywords = [], {}
        for name, value in zip(self.names, values):
            param = self.signature.parameters[name]
            if param.kind == inspect.Parameter.POSITIONAL_ONLY:
                positional.append(value)
            elif value is not param.default:
                keywords[name] = value
        for name, value in zip(self.extra, values[len(self.names):]):
            if value is not None:
                keywords[name] = value
        return method(*positional, **keywords)


def _is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


class CompiledModule(torch.nn.Module):
    """A module's method compiled by ingot.compile: call it like the method.

    Attributes: `engine` (the ingot.Engine it runs; `engine.save(path)` writes the
    engine file, which the C++ runtime and `ingot` command run as any other).
    """

    def __init__(self, engine: Engine, convention: _CallConvention, in_spec, in_template, out_spec, out_template,
                 method_name: str):
        super().__init__()
        self.engine = engine
        self._convention = convention
        self._in_spec, self._in_template = in_spec, in_template
        self._out_spec, self._out_template = out_spec, out_template
        self._method_name = method_name

    def forward(self, *args, **kwargs):
        values = self._convention.values(args, kwargs)
        leaves, spec = pytree.tree_flatten(values)
        if spec != self._in_spec:
            raise IngotError(f"the arguments are structured differently from the example the engine was built "
                             f"with:\n  built with: {self._in_spec}\n  given:      {spec}")
        tensors = []
        for name, leaf, fixed in zip(self._convention.leaf_names(values), leaves, self._in_template):
            if fixed is _TENSOR:
                if not _is_tensor(leaf):
                    raise IngotError(f"argument '{name}' must be a tensor (the engine was built with one), "
                                     f"got {type(leaf).__name__}")
                tensors.append(leaf)
            elif not _same_constant(leaf, fixed):
                raise IngotError(f"argument '{name}' is {leaf!r}, but the engine was built with {fixed!r}: "
                                 "torch.export fixes non-tensor arguments at their example values; build "
                                 "another engine for this value")
        outputs = self.engine(*tensors)
        outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
        flat = [outputs.pop(0) if leaf is _TENSOR else leaf for leaf in self._out_template]
        return pytree.tree_unflatten(flat, self._out_spec)

    def extra_repr(self) -> str:
        return f"method={self._method_name!r}, engine={self.engine!r}"


class _TensorMarker:
    def __repr__(self):
        return "<tensor>"


_TENSOR = _TensorMarker()


def _same_constant(a, b) -> bool:
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return a is b


def compile(module, inputs=None, *, method_name: str = "forward", kwargs: Optional[Dict[str, Any]] = None,
            **options) -> CompiledModule:
    """Compiles module.<method_name> into an ingot engine; returns a CompiledModule
    that takes the method's arguments and returns the method's output structure.

    inputs / kwargs: example arguments, as for convert_method_to_engine (tensors or
    ingot.Input specs). options: those of convert_method_to_engine (precision,
    backend, optimization_level, timing_cache, ...).
    """
    args, kw = example_inputs(inputs, kwargs)
    target = _method_module(module, method_name)
    convention = _CallConvention(target.forward, args, kw)
    values = convention.values(args, kw)
    in_leaves, in_spec = pytree.tree_flatten(values)
    in_template = [_TENSOR if _is_tensor(x) else x for x in in_leaves]

    recorded: Dict[str, Any] = {}

    class TensorLeaves(torch.nn.Module):
        """The method with its arguments in the fixed order, returning its tensor leaves only."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner  # a submodule: parameters are shared, not copied

    wrapper = TensorLeaves(target)

    def forward(*ordered):
        out = convention.call(wrapper.inner.forward, list(ordered))
        leaves, spec = pytree.tree_flatten(out)
        recorded["spec"] = spec
        recorded["template"] = [_TENSOR if _is_tensor(x) else x for x in leaves]
        return tuple(x for x in leaves if _is_tensor(x))

    # The engine's inputs are named after the parameters.
    forward.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in convention.names + convention.extra])
    wrapper.forward = forward
    program = torch.export.export(wrapper, tuple(values))
    if not any(leaf is _TENSOR for leaf in recorded["template"]):
        raise IngotError(f"{type(module).__name__}.{method_name} returns no tensor; there is nothing to compile")
    engine = Engine(convert_exported_program(program, name=_model_name(module, method_name), **options))
    n_tensors = sum(1 for leaf in recorded["template"] if leaf is _TENSOR)
    if len(engine.outputs) != n_tensors or len(engine.inputs) != sum(1 for x in in_template if x is _TENSOR):
        raise IngotError(f"internal: the engine has {len(engine.inputs)} inputs and {len(engine.outputs)} outputs, "
                         f"the method {sum(1 for x in in_template if x is _TENSOR)} tensor arguments and "
                         f"{n_tensors} tensor results")
    return CompiledModule(engine, convention, in_spec, in_template, recorded["spec"], recorded["template"],
                          method_name)
