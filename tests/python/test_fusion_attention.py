"""Attention fusion end to end: eager attention written out by hand (GPT-2 style
q @ k^T / sqrt(d) + additive mask, T5 style q @ k^T + position bias with the
softmax in float) exported from PyTorch, converted by the real `ingot` command
(whose pipeline runs the fuse_attention pass), run, and compared with PyTorch's
own output (conftest.Harness; backend and precision from INGOT_TEST_BACKEND /
INGOT_TEST_PRECISION). A second check reads the engine's steps (`ingot inspect`)
to make sure the pattern became one attention step, and that a block returning
its attention probabilities (which must stay materialized) did not.
"""
import math

import pytest
import torch
import torch.nn as nn

from conftest import converted_ops


class Gpt2StyleAttention(nn.Module):
    """Fused qkv projection, heads split, q @ k^T / sqrt(d) + additive mask, softmax, @ v."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)

    def split(self, x):
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.c_attn(x).split(x.shape[-1], dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        w = w + mask
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(x.shape)
        return self.c_proj(o)


class T5StyleAttention(nn.Module):
    """transformers' T5Attention core: no scaling, position bias (with the mask folded
    in) added to the scores, softmax computed in float and cast back."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)

    def shape(self, x):
        b, t, d = x.shape
        return x.view(b, -1, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, hidden, position_bias):
        q, k, v = self.shape(self.q(hidden)), self.shape(self.k(hidden)), self.shape(self.v(hidden))
        scores = torch.matmul(q, k.transpose(3, 2))
        scores += position_bias
        attn = nn.functional.softmax(scores.float(), dim=-1).type_as(scores)
        out = torch.matmul(attn, v).transpose(1, 2).contiguous().view(hidden.shape)
        return self.o(out)


class ReturnsProbabilities(nn.Module):
    """Eager attention that also returns its probabilities (output_attentions=True):
    the softmax output is a graph output, so the scores must not be fused away."""

    def forward(self, q, k, v):
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * 0.25, dim=-1)
        return torch.matmul(p, v), p




# Positive cases in the training dialect only: the aten dialect decomposes matmul
# into reshapes around a rank-3 bmm, a form fuse_attention does not match yet.
@pytest.mark.parametrize("dialect", ["training"])
def test_gpt2_style_block(harness, dialect):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 32)
    mask = torch.zeros(2, 1, 1, 6)
    mask[1, :, :, 4:] = -1e4  # padding of the second sequence
    harness.convert_and_run(Gpt2StyleAttention(), [x, mask], dialect, key="attn_gpt2")
    ops = converted_ops(harness, "attn_gpt2", dialect)
    assert ops.count("attention") == 1, ops
    assert "softmax" not in ops, ops


@pytest.mark.parametrize("dialect", ["training"])
def test_t5_style_block_with_position_bias(harness, dialect):
    torch.manual_seed(1)
    hidden = torch.randn(2, 7, 32)
    position_bias = torch.randn(1, 4, 7, 7)
    harness.convert_and_run(T5StyleAttention(), [hidden, position_bias], dialect, key="attn_t5")
    ops = converted_ops(harness, "attn_t5", dialect)
    assert ops.count("attention") == 1, ops
    assert "softmax" not in ops, ops


def test_transformers_t5_eager(harness):
    """The real transformers T5Model with eager attention (matmul * 1.0, + position
    bias, + mask, softmax, matmul): every self- and cross-attention becomes one step."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.T5Config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
                                vocab_size=100, use_cache=False)
    cfg._attn_implementation = "eager"
    torch.manual_seed(3)
    model = transformers.T5Model(cfg).eval()
    inputs = {"input_ids": torch.randint(0, 100, (2, 9)), "attention_mask": torch.ones(2, 9, dtype=torch.long),
              "decoder_input_ids": torch.randint(0, 100, (2, 5))}
    inputs["attention_mask"][1, 6:] = 0

    class LastHidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, decoder_input_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              decoder_input_ids=decoder_input_ids).last_hidden_state

    harness.convert_and_run(LastHidden(), inputs, "training", key="attn_t5_eager")
    ops = converted_ops(harness, "attn_t5_eager", "training")
    # 2 encoder self-attentions, 2 decoder self-attentions, 2 cross-attentions.
    assert ops.count("attention") == 6, ops
    assert "softmax" not in ops, ops


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_returned_probabilities_do_not_fuse(harness, dialect):
    torch.manual_seed(2)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 8)
    harness.convert_and_run(ReturnsProbabilities(), [q, k, v], dialect, key="attn_probs")
    ops = converted_ops(harness, "attn_probs", dialect)
    assert "attention" not in ops, ops
    assert ops.count("softmax") == 1, ops
