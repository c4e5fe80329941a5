"""Pointwise fusion end to end: chains of elementwise ops written out by hand
(GPT-2's tanh gelu, x * sigmoid(x), bias/scale chains with broadcast operands and
scalar constants, clamps and powers) exported from PyTorch, converted by the real
`ingot` command (whose pipeline runs the fuse_pointwise pass), run, and compared
with PyTorch's own output (conftest.Harness; backend and precision from
INGOT_TEST_BACKEND / INGOT_TEST_PRECISION). A second check reads the engine's
steps (`ingot inspect`) to make sure the chains really became Pointwise steps.
"""
import json
import math

import pytest
import torch
import torch.nn as nn

from conftest import describe, run_ingot


class Fn(nn.Module):
    """Wraps a function of the inputs; keyword tensors become parameters (constants)."""

    def __init__(self, fn, **params):
        super().__init__()
        self.fn = fn
        for name, value in params.items():
            self.register_parameter(name, nn.Parameter(value, requires_grad=False))

    def forward(self, *xs):
        return self.fn(self, *xs)


def gelu_tanh_gpt2(m, x):
    # transformers' NewGELUActivation, as GPT-2 writes it
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_tanh_cube_as_mul(m, x):
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def swish(m, x):
    return x * torch.sigmoid(x)


def bias_scale_chain(m, x):
    # broadcast bias [C], a per-row scale [N, 1, 1] parameter, scalar constants, clamp
    y = (x + m.bias) * 0.125 - 1.5
    return torch.clamp(y * m.scale, -2.0, 3.0) / 2.0


def mixed_ops(m, x, y):
    # two inputs broadcasting to [B, L, D], max/min, abs, sqrt, exp, division
    a = torch.maximum(x, y) * 2.0 + torch.minimum(x, y)
    return torch.sqrt(a.abs() + 1.0) * torch.exp(-0.5 * y) / (1.0 + x * x)


def chain_with_side_output(m, x):
    # an intermediate is also returned: it must stay materialized
    t = x * 3.0 + 1.0
    return torch.tanh(t) * 0.5, t


def silu_mlp(m, x):
    # llama-style gated MLP without the linears' epilogues taking the whole chain
    g = x @ m.w_gate
    u = x @ m.w_up
    return (g * torch.sigmoid(g)) * u


CASES = {
    "gelu_tanh_gpt2": (gelu_tanh_gpt2, {}, lambda: [torch.randn(2, 5, 32)]),
    "gelu_tanh_mul": (gelu_tanh_cube_as_mul, {}, lambda: [torch.randn(3, 40)]),
    "swish": (swish, {}, lambda: [torch.randn(4, 8, 6)]),
    "bias_scale_chain": (bias_scale_chain, {"bias": torch.randn(16), "scale": torch.rand(3, 1, 1) + 0.5},
                         lambda: [torch.randn(3, 7, 16)]),
    "mixed_ops": (mixed_ops, {}, lambda: [torch.randn(2, 6, 8), torch.randn(6, 1)]),
    "side_output": (chain_with_side_output, {}, lambda: [torch.randn(5, 9)]),
    "silu_mlp": (silu_mlp, {"w_gate": torch.randn(16, 24) * 0.3, "w_up": torch.randn(16, 24) * 0.3},
                 lambda: [torch.randn(2, 3, 16)]),
}


def steps_of(engine):
    """The engine's steps (`ingot inspect`), as a list of op names."""
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    data = json.loads(proc.stdout)
    return [step.get("op") for step in data.get("steps", [])]


def build_case(name):
    torch.manual_seed(sum(map(ord, name)))
    fn, params, make_inputs = CASES[name]
    return Fn(fn, **params), make_inputs()


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", list(CASES))
def test_fused_chain_matches_pytorch(harness, name, dialect):
    model, inputs = build_case(name)
    harness.convert_and_run(model, inputs, dialect, key=f"pw_{name}")


# Cases whose whole elementwise chain must end up in Pointwise steps.
FULLY_FUSED = ["gelu_tanh_mul", "swish", "bias_scale_chain", "mixed_ops"]


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", FULLY_FUSED)
def test_chains_become_pointwise_steps(harness, name, dialect):
    model, inputs = build_case(name)
    harness.convert_and_run(model, inputs, dialect, key=f"pw_{name}")
    engine = harness.convert(harness.root / f"pw_{name}-{dialect}.pt2")
    ops = steps_of(engine)
    assert "pointwise" in ops, ops
    assert "unary" not in ops and "binary" not in ops, ops


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_written_out_gelu_becomes_one_op(harness, dialect):
    """GPT-2's hand-written tanh GELU is recognized (recognize_gelu) as one gelu_tanh
    step rather than an eight-instruction pointwise program."""
    model, inputs = build_case("gelu_tanh_gpt2")
    harness.convert_and_run(model, inputs, dialect, key="pw_gelu_tanh_gpt2")
    ops = steps_of(harness.convert(harness.root / f"pw_gelu_tanh_gpt2-{dialect}.pt2"))
    assert ops == ["unary"], ops


def test_side_output_keeps_intermediate(harness):
    model, inputs = build_case("side_output")
    harness.convert_and_run(model, inputs, "training", key="pw_side_output")
    engine = harness.convert(harness.root / "pw_side_output-training.pt2")
    ops = steps_of(engine)
    # x * 3 + 1 fuses into one step and tanh(t) * 0.5 into another
    assert ops.count("pointwise") == 2, ops
