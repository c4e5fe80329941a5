"""RMSNorm fusion end to end: the hand-written RMSNorm of HF LLaMA/Mistral/Qwen
(LlamaRMSNorm), T5 (T5LayerNorm) and Gemma ((1 + weight) scale) exported from
PyTorch, converted by the real `ingot` command (whose pipeline runs the fuse_norm
pass), run, and compared with PyTorch's own output (conftest.Harness; backend and
precision from INGOT_TEST_BACKEND / INGOT_TEST_PRECISION). A second check reads the
engine's steps (`ingot inspect`) to make sure the pattern became one rms_norm step,
and that a look-alike that is not an RMSNorm did not.
"""

import pytest
import torch
import torch.nn as nn

from conftest import converted_ops


class LlamaRMSNorm(nn.Module):
    """transformers' LlamaRMSNorm (also Mistral, Qwen2, Phi-3)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.3 * torch.randn(dim))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class T5LayerNorm(nn.Module):
    """transformers' T5LayerNorm: no mean subtraction, no bias."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.3 * torch.randn(dim))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in [torch.float16, torch.bfloat16]:
            hidden_states = hidden_states.to(self.weight.dtype)
        return self.weight * hidden_states


class GemmaRMSNorm(nn.Module):
    """transformers' GemmaRMSNorm: scale by (1 + weight), computed in float32."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(0.3 * torch.randn(dim))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        output = self._norm(x.float())
        output = output * (1.0 + self.weight.float())
        return output.type_as(x)


class UnweightedDivNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) without a weight (the x / sqrt spelling)."""

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)


class MeanSquareAlsoReturned(nn.Module):
    """Looks like an RMSNorm, but the mean square is an output too, and a second
    norm-like chain (of another input) reduces over the sequence dim instead of the features: neither
    must become an rms_norm step."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.3 * torch.randn(dim))

    def forward(self, x, y):
        ms = x.pow(2).mean(-1, keepdim=True)
        normed = self.weight * (x * torch.rsqrt(ms + 1e-6))
        over_seq = y * torch.rsqrt(y.pow(2).mean(1, keepdim=True) + 1e-6)
        return normed, ms, over_seq


class DecoderBlock(nn.Module):
    """Pre-norm residual MLP block around a norm, as in a decoder layer."""

    def __init__(self, norm_cls, dim=32, hidden=64):
        super().__init__()
        self.input_norm = norm_cls(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.final_norm = norm_cls(dim)

    def forward(self, x):
        h = x + self.fc2(torch.nn.functional.silu(self.fc1(self.input_norm(x))))
        return self.final_norm(h)


NORMS = {"llama": LlamaRMSNorm, "t5": T5LayerNorm, "gemma": GemmaRMSNorm}




@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("norm", sorted(NORMS))
def test_norm_alone(harness, norm, dialect):
    torch.manual_seed(0)
    key = f"rms_{norm}"
    harness.convert_and_run(NORMS[norm](48), [torch.randn(2, 7, 48)], dialect, key=key)
    ops = converted_ops(harness, key, dialect)
    assert ops == ["rms_norm"], ops


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("norm", sorted(NORMS))
def test_norm_in_decoder_block(harness, norm, dialect):
    torch.manual_seed(1)
    key = f"rms_block_{norm}"
    harness.convert_and_run(DecoderBlock(NORMS[norm]), [torch.randn(3, 5, 32)], dialect, key=key)
    ops = converted_ops(harness, key, dialect)
    assert ops.count("rms_norm") == 2, ops
    assert "reduce" not in ops, ops


def test_unweighted_div_spelling(harness):
    torch.manual_seed(2)
    harness.convert_and_run(UnweightedDivNorm(), [torch.randn(4, 24)], "training", key="rms_div")
    assert converted_ops(harness, "rms_div", "training") == ["rms_norm"]


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_look_alikes_do_not_fuse(harness, dialect):
    torch.manual_seed(3)
    harness.convert_and_run(MeanSquareAlsoReturned(16), [torch.randn(2, 6, 16), torch.randn(2, 6, 16)], dialect, key="rms_not")
    ops = converted_ops(harness, "rms_not", dialect)
    assert "rms_norm" not in ops, ops
    assert ops.count("reduce") == 2, ops
