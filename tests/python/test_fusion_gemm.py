"""GEMM fusion end to end: transformer linear layers (bias, residual add, activation,
3-d [B, L, K] inputs, matmul with a constant weight, the sequence-first transposes
of nn.MultiheadAttention) exported from PyTorch, converted by the real `ingot`
command (whose pipeline runs the fuse_gemm pass), run, and compared with PyTorch's
own output (conftest.Harness; backend and precision from INGOT_TEST_BACKEND /
INGOT_TEST_PRECISION). A second check reads the engine's steps (`ingot inspect`)
to make sure the epilogues were really fused, not just computed correctly.
"""
import json
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import describe, run_ingot

def new_gelu(x):
    """GELU's tanh approximation written out, as HF transformers' NewGELUActivation
    (GPT-2) does: the recognize_gelu pass turns it back into one gelu_tanh."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "new_gelu": new_gelu,
    "silu": F.silu,
}


class MlpBlock(nn.Module):
    """Pre-norm transformer MLP: x + fc2(act(fc1(layer_norm(x))))."""

    def __init__(self, act, dim=32, hidden=64):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = ACTIVATIONS[act]

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


class LinearResidualAct(nn.Module):
    """act(linear(x) + r), the residual given as a second input (either operand order)."""

    def __init__(self, act, residual_first):
        super().__init__()
        self.fc = nn.Linear(24, 16)
        self.act = ACTIVATIONS[act]
        self.residual_first = residual_first

    def forward(self, x, r):
        y = self.fc(x)
        return self.act(r + y if self.residual_first else y + r)


class ConstantMatmul(nn.Module):
    """x @ W + b with W a parameter (2-d, or [1, K, N]) and b a parameter: MatMul with a
    constant right operand becomes one Gemm with the bias and activation fused."""

    def __init__(self, batched_weight):
        super().__init__()
        shape = (1, 24, 16) if batched_weight else (24, 16)
        self.w = nn.Parameter(torch.randn(*shape) * 0.2)
        self.b = nn.Parameter(torch.randn(16))

    def forward(self, x):
        return F.silu(torch.matmul(x, self.w) + self.b)


def gemm_steps(engine):
    """The engine's steps (`ingot inspect`), as a list of op names."""
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    data = json.loads(proc.stdout)
    return [step.get("op") for step in data.get("steps", [])]


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_mlp_block(harness, act, dialect):
    torch.manual_seed(0)
    harness.convert_and_run(MlpBlock(act), [torch.randn(2, 7, 32)], dialect, key=f"mlp_{act}")


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("residual_first", [False, True])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_linear_residual_activation(harness, act, residual_first, dialect):
    torch.manual_seed(1)
    model = LinearResidualAct(act, residual_first)
    harness.convert_and_run(model, [torch.randn(3, 5, 24), torch.randn(3, 5, 16)], dialect,
                            key=f"lin_res_{act}_{int(residual_first)}")


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("batched_weight", [False, True])
def test_matmul_constant_weight(harness, batched_weight, dialect):
    torch.manual_seed(2)
    harness.convert_and_run(ConstantMatmul(batched_weight), [torch.randn(2, 6, 24)], dialect,
                            key=f"const_mm_{int(batched_weight)}")


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("batch", [1, 3])
def test_vit_encoder_block(harness, batch, dialect):
    """torchvision's ViT encoder block (nn.MultiheadAttention, sequence-first
    transposes around the projections): at batch 1 they only move a size-1 dim and
    the out-projection takes the residual; at batch 3 they are real transposes."""
    from torchvision.models.vision_transformer import EncoderBlock
    torch.manual_seed(3)
    block = EncoderBlock(num_heads=2, hidden_dim=32, mlp_dim=64, dropout=0.0, attention_dropout=0.0)
    harness.convert_and_run(block, [torch.randn(batch, 9, 32)], dialect, key=f"vit_block_b{batch}")


@pytest.mark.parametrize("act", ["gelu", "new_gelu"])
def test_epilogues_are_fused(harness, act):
    """The MLP block's engine has two gemm steps and no separate activation or add
    (only the layer norm besides), also with GPT-2's hand-written GELU; the numbers
    are checked against PyTorch too."""
    torch.manual_seed(4)
    model = MlpBlock(act)
    harness.convert_and_run(model, [torch.randn(2, 7, 32)], "training", key=f"mlp_fused_check_{act}")
    engine = harness.convert(harness.root / f"mlp_fused_check_{act}-training.pt2")
    ops = gemm_steps(engine)
    assert ops.count("gemm") == 2, ops
    assert "unary" not in ops and "binary" not in ops and "pointwise" not in ops, ops


class FlattenedInputLinear(nn.Module):
    """A linear layer reading the model's input reshaped ([B, 4, 6] -> [B, 24]): the
    planner makes the reshape a view of the bound input (no copy step), which the
    GEMM (a tuned step on the GPU) reads in place."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(24, 16)

    def forward(self, x):
        return torch.relu(self.fc(x.reshape(x.shape[0], 24)))


def test_reshaped_input_is_read_in_place(harness):
    torch.manual_seed(5)
    harness.convert_and_run(FlattenedInputLinear(), [torch.randn(3, 4, 6)], "training", key="flat_input")
    ops = gemm_steps(harness.convert(harness.root / "flat_input-training.pt2"))
    assert ops == ["gemm"], ops


class RankedBiasThenSelect(nn.Module):
    """linear(x) + p with p [1, 1, N] (a bias of higher rank than the Gemm's 2-d
    output once the select below reshapes it away), then x[0]."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8, bias=False)
        self.p = nn.Parameter(torch.randn(1, 1, 8))

    def forward(self, x):
        return (self.fc(x) + self.p)[0]


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_bias_of_higher_rank_than_the_output(harness, dialect):
    torch.manual_seed(5)
    harness.convert_and_run(RankedBiasThenSelect(), [torch.randn(1, 7, 8)], dialect, key="ranked_bias")
