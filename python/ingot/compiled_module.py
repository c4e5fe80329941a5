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
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch.utils import _pytree as pytree

from . import _dtypes
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


class _Specialization:
    """One engine and the call it was built for: the argument structure, which leaves are
    tensors (their shapes and dtypes are the engine's inputs) and the fixed non-tensor
    values; and the structure of the result with its non-tensor leaves."""

    def __init__(self, engine: Engine, in_spec, in_template, out_spec, out_template):
        self.engine = engine
        self.in_spec, self.in_template = in_spec, in_template
        self.out_spec, self.out_template = out_spec, out_template

    def mismatch(self, leaves, spec) -> Optional[Tuple[Optional[int], str]]:
        """Why a call (its flattened arguments) cannot run on this engine, or None if it can:
        (the leaf at fault or None, a message with "{name}" standing for that leaf's name,
        which only a refused call spends time working out)."""
        if spec != self.in_spec:
            return None, (f"the arguments are structured differently from the example the engine was built "
                          f"with:\n  built with: {self.in_spec}\n  given:      {spec}")
        inputs = iter(self.engine.inputs)
        for i, (leaf, fixed) in enumerate(zip(leaves, self.in_template)):
            if fixed is _TENSOR:
                if not _is_tensor(leaf):
                    return i, (f"argument '{{name}}' must be a tensor (the engine was built with one), "
                               f"got {type(leaf).__name__}")
                want = next(inputs)
                got = (_dtypes.name_of(leaf.dtype), tuple(leaf.shape))
                if got != (want.dtype, tuple(want.shape)):
                    return i, (f"argument '{{name}}' is {got[0]}{list(got[1])}, but the engine was built for "
                               f"{want.dtype}{list(want.shape)}")
            elif not _same_constant(leaf, fixed):
                return i, (f"argument '{{name}}' is {leaf!r}, but the engine was built with {fixed!r}: torch.export "
                           "fixes non-tensor arguments at their example values")
        return None

    def run(self, leaves):
        outputs = self.engine(*[x for x, fixed in zip(leaves, self.in_template) if fixed is _TENSOR])
        outputs = iter(outputs if isinstance(outputs, tuple) else (outputs,))
        flat = [next(outputs) if leaf is _TENSOR else leaf for leaf in self.out_template]
        return pytree.tree_unflatten(flat, self.out_spec)


class CompiledModule(torch.nn.Module):
    """A module's method compiled by ingot.compile: call it like the method.

    Attributes: `engine` (the ingot.Engine built from the example; `engine.save(path)`
    writes the engine file, which the C++ runtime and `ingot` command run as any other)
    and `engines` (every engine built so far, more than one with recompile=True).
    """

    def __init__(self, module, method_name: str, convention: _CallConvention, first: _Specialization,
                 options: Dict[str, Any], recompile: bool, max_engines: int):
        super().__init__()
        # Kept only to recompile, and not as a submodule: the compiled module neither
        # owns nor exposes the original's parameters, and without recompile it holds no
        # reference, so replacing a model by its compiled form can free the original.
        self.__dict__["_original"] = module if recompile else None
        self._method_name = method_name
        self._convention = convention
        self._specializations = [first]
        self._options = options
        self._recompile, self._max_engines = recompile, max_engines

    @property
    def engine(self) -> Engine:
        return self._specializations[0].engine

    @property
    def engines(self) -> List[Engine]:
        return [s.engine for s in self._specializations]

    def forward(self, *args, **kwargs):
        values = self._convention.values(args, kwargs)
        leaves, spec = pytree.tree_flatten(values)
        first_reason = None
        for specialization in self._specializations:
            reason = specialization.mismatch(leaves, spec)
            if reason is None:
                return specialization.run(leaves)
            first_reason = first_reason or reason
        leaf, text = first_reason
        if leaf is not None:
            text = text.replace("{name}", self._convention.leaf_names(values)[leaf])
        if not self._recompile:
            raise IngotError(text + "; build another engine for this call, or compile with recompile=True")
        if len(self._specializations) >= self._max_engines:
            raise IngotError(f"{text}; and {len(self._specializations)} engines (max_engines) are built already")
        specialization = _specialize(self._original, self._method_name, self._convention, values, self._options)
        self._specializations.append(specialization)
        return specialization.run(leaves)

    def extra_repr(self) -> str:
        return f"method={self._method_name!r}, engines={len(self._specializations)}, engine={self.engine!r}"


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


def _specialize(module, method_name: str, convention: _CallConvention, values: List[Any],
                options: Dict[str, Any]) -> _Specialization:
    """Exports the method for these argument values (returning its tensor leaves only) and builds its engine."""
    in_leaves, in_spec = pytree.tree_flatten(values)
    in_template = [_TENSOR if _is_tensor(x) else x for x in in_leaves]
    recorded: Dict[str, Any] = {}

    class TensorLeaves(torch.nn.Module):
        """The method with its arguments in the fixed order, returning its tensor leaves only."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner  # a submodule: parameters are shared, not copied

    wrapper = TensorLeaves(_method_module(module, method_name))

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
    n_results = sum(1 for leaf in recorded["template"] if leaf is _TENSOR)
    if n_results == 0:
        raise IngotError(f"{type(module).__name__}.{method_name} returns no tensor; there is nothing to compile")
    engine = Engine(convert_exported_program(program, name=_model_name(module, method_name), **options))
    n_arguments = sum(1 for x in in_template if x is _TENSOR)
    if len(engine.outputs) != n_results or len(engine.inputs) != n_arguments:
        raise IngotError(f"internal: the engine has {len(engine.inputs)} inputs and {len(engine.outputs)} outputs, "
                         f"the method {n_arguments} tensor arguments and {n_results} tensor results")
    return _Specialization(engine, in_spec, in_template, recorded["spec"], recorded["template"])


def compile(module, inputs=None, *, method_name: str = "forward", kwargs: Optional[Dict[str, Any]] = None,
            recompile: bool = False, max_engines: int = 8, **options) -> CompiledModule:
    """Compiles module.<method_name> into an ingot engine; returns a CompiledModule
    that takes the method's arguments and returns the method's output structure.

    inputs / kwargs: example arguments, as for convert_method_to_engine (tensors or
    ingot.Input specs). options: those of convert_method_to_engine (precision,
    backend, optimization_level, timing_cache, ...). recompile: a call whose tensor
    shapes or dtypes, or non-tensor values, differ from every engine built so far
    builds another engine for it (at most max_engines); without it such a call is
    refused with the difference named.
    """
    if int(max_engines) < 1:
        raise IngotError(f"max_engines must be at least 1, got {max_engines}")
    args, kw = example_inputs(inputs, kwargs)
    convention = _CallConvention(_method_module(module, method_name).forward, args, kw)
    first = _specialize(module, method_name, convention, convention.values(args, kw), options)
    return CompiledModule(module, method_name, convention, first, dict(options), bool(recompile), int(max_engines))
