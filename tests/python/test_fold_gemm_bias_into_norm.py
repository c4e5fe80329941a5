"""Gemm bias into the following layer norm, end to end (src/passes/
fold_gemm_bias_into_norm.cc): in a post-norm block, LayerNorm(x @ W^T + b + r),
the linear layer's bias and the residual move out of the Gemm's epilogue into the
layer norm, which adds them to the row it reads anyway. Models are exported from
PyTorch, converted by the real `ingot` command, run, and compared with PyTorch's
own output (conftest.Harness; backend and precision from INGOT_TEST_BACKEND /
INGOT_TEST_PRECISION). The engine's steps (`ingot inspect --json`) then say
whether the pass fired: the bias is read by the layer_norm step and the gemm reads
no bias. Where it must not fire (pre-norm blocks, whose sum is read twice; a sum
that is also an output; an activation between; a norm over two dims), the gemm
keeps its bias and the layer norm its three inputs.
"""
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import assert_clean_failure, assert_matches, describe, run_ingot, small_bert, to_numpy
from test_hoist_slices import DIM, MLP, PreNormBlock, SelfAttention, describe_steps, distinct_parameters, \
    engine_steps, reads


def steps_reading(steps, param):
    return [s for s in steps if reads(s, param)]


def assert_bias_in_norm(steps, param):
    """The bias `param` is read by a layer_norm step (as its 5th input) and by no gemm."""
    found = steps_reading(steps, param)
    assert found and all(s["op"] == "layer_norm" for s in found), (
        f"{param} should be read by layer norms only:" + describe_steps(steps))
    for s in found:
        assert len(s["inputs"]) == 5, f"step {s['index']} reads {param} but has {len(s['inputs'])} inputs"


def assert_bias_in_gemm(steps, param):
    found = steps_reading(steps, param)
    assert found and all(s["op"] == "gemm" for s in found), (
        f"{param} should stay in its gemm:" + describe_steps(steps))


class PostNormLayer(nn.Module):
    """BERT's encoder layer: LN(x + attn(x)), then LN(h + fc2(gelu(fc1(h))))."""

    def __init__(self):
        super().__init__()
        self.attn = SelfAttention("sdpa")
        self.ln1 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, MLP)
        self.fc2 = nn.Linear(MLP, DIM)
        self.ln2 = nn.LayerNorm(DIM)

    def forward(self, x, mask=None):
        h = self.ln1(x + self.attn(x, mask))
        return self.ln2(h + self.fc2(F.gelu(self.fc1(h))))


class PostNormEncoder(nn.Module):
    def __init__(self, layers=2):
        super().__init__()
        self.layers = nn.ModuleList([PostNormLayer() for _ in range(layers)])

    def forward(self, x, attention_mask):
        mask = attention_mask[:, None, None, :] > 0
        for layer in self.layers:
            x = layer(x, mask)
        return x


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_post_norm_encoder(harness, dialect):
    """Two post-norm layers with a padding mask: every out-projection and fc2 bias is
    added in the layer norm that follows, and the output matches PyTorch. (The aten
    dialect writes the out-projection as bmm(x, expand(W^T)) + bias, which fuse_gemm
    now takes as a Gemm too.)"""
    torch.manual_seed(21)
    key = "fold_bias_post_norm"
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.int64)
    model = distinct_parameters(PostNormEncoder())
    harness.convert_and_run(model, [torch.randn(2, 8, DIM), mask], dialect, key=key)
    steps = engine_steps(harness, key, dialect)
    assert not any(s["op"] == "matmul" and any(t and t.get("storage") == "constant" for t in s["inputs"])
                   for s in steps), "a matmul still reads a constant weight:" + describe_steps(steps)
    for i in range(2):
        assert_bias_in_norm(steps, f"layers.{i}.attn.proj.bias")
        assert_bias_in_norm(steps, f"layers.{i}.fc2.bias")
        # fc1 keeps its bias: a GELU follows it, not a norm.
        assert any(s["op"] == "gemm" for s in steps_reading(steps, f"layers.{i}.fc1.bias")), describe_steps(steps)


def test_large_mean_rows(harness):
    """Rows whose sum has a large common offset (residual around 300, bias around 50):
    the norm adds before it takes statistics, as PyTorch does."""
    torch.manual_seed(22)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(DIM, DIM)
            self.ln = nn.LayerNorm(DIM)
            with torch.no_grad():
                self.fc.bias.add_(50.0)

        def forward(self, x, r):
            return self.ln(self.fc(x) + r)

    key = "fold_bias_large_mean"
    model = distinct_parameters(Model())
    harness.convert_and_run(model, [torch.randn(3, 5, DIM), 300 + torch.randn(3, 5, DIM)], "training", key=key)
    assert_bias_in_norm(engine_steps(harness, key, "training"), "fc.bias")


def test_bias_without_residual_and_2d_input(harness):
    """LN(linear(x)) on a 2-d input: the bias alone moves (no residual)."""
    torch.manual_seed(23)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(DIM, 48)
            self.ln = nn.LayerNorm(48)

        def forward(self, x):
            return self.ln(self.fc(x))

    key = "fold_bias_no_residual"
    harness.convert_and_run(distinct_parameters(Model()), [torch.randn(7, DIM)], "training", key=key)
    assert_bias_in_norm(engine_steps(harness, key, "training"), "fc.bias")


def test_pre_norm_block_keeps_bias(harness):
    """ViT's pre-norm blocks: the first block's sum x + fc2(..) is read by the next
    norm and by the next residual add, so its bias stays in the gemm; the last
    block's sum feeds only the final norm, which takes its bias and residual."""
    torch.manual_seed(24)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([PreNormBlock("sdpa") for _ in range(2)])
            self.norm = nn.LayerNorm(DIM)

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.norm(x)

    key = "fold_bias_pre_norm"
    harness.convert_and_run(distinct_parameters(Model()), [torch.randn(2, 9, DIM)], "training", key=key)
    steps = engine_steps(harness, key, "training")
    assert_bias_in_gemm(steps, "blocks.0.fc2.bias")
    assert_bias_in_gemm(steps, "blocks.1.attn.proj.bias")
    assert_bias_in_norm(steps, "blocks.1.fc2.bias")


@pytest.mark.parametrize("case", ["sum_is_output", "activation", "two_dims"])
def test_cases_that_keep_the_bias(harness, case):
    """sum_is_output: the pre-norm sum is also returned; activation: LN(relu(linear));
    two_dims: a norm over the last two dims (the bias is no row vector of it)."""
    torch.manual_seed(25)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(DIM, DIM)
            self.ln = nn.LayerNorm((5, DIM) if case == "two_dims" else DIM)

        def forward(self, x, r):
            s = self.fc(x) + r
            if case == "sum_is_output":
                return self.ln(s), s
            if case == "activation":
                return self.ln(torch.relu(self.fc(x)) + r)
            return self.ln(s)

    key = f"fold_bias_keep_{case}"
    harness.convert_and_run(distinct_parameters(Model()), [torch.randn(3, 5, DIM), torch.randn(3, 5, DIM)],
                            "training", key=key)
    assert_bias_in_gemm(engine_steps(harness, key, "training"), "fc.bias")


def test_transformers_bert(harness):
    """A small transformers BertModel (post-norm, padding mask): its self-output and
    output dense biases are added in the layer norms."""
    torch.manual_seed(26)
    model = small_bert(max_position_embeddings=64)
    ids = torch.randint(0, 100, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.int64)
    mask[1, 7:] = 0
    key = "fold_bias_hf_bert"
    harness.convert_and_run(distinct_parameters(model), [ids, mask], "training", key=key)
    steps = engine_steps(harness, key, "training")
    for i in range(2):
        assert_bias_in_norm(steps, f"bert.encoder.layer.{i}.attention.output.dense.bias")
        assert_bias_in_norm(steps, f"bert.encoder.layer.{i}.output.dense.bias")


def test_addmm_with_beta_keeps_the_bias(harness):
    """LN(addmm(b, x, W, beta=0.5)): beta scales the bias, which the norm would add
    unscaled, so the bias stays in the gemm (numbers against PyTorch)."""
    torch.manual_seed(27)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(DIM, 24) * 0.2)
            self.b = nn.Parameter(torch.randn(24))

        def forward(self, x):
            return F.layer_norm(torch.addmm(self.b, x, self.w, beta=0.5), (24,))

    key = "fold_bias_addmm_beta"
    harness.convert_and_run(Model(), [torch.randn(6, DIM)], "training", key=key)
    steps = engine_steps(harness, key, "training")
    assert all(len(s["inputs"]) <= 3 for s in steps if s["op"] == "layer_norm"), describe_steps(steps)


def test_disable_pass_from_the_command_line(harness):
    """`ingot convert --disable-pass fold_gemm_bias_into_norm` builds the same model with
    the biases in the gemms (same numbers, recorded in the engine); an unknown pass
    name fails cleanly and writes no engine."""
    torch.manual_seed(28)
    key = "fold_bias_disabled"
    mask = torch.tensor([[1] * 8, [1] * 6 + [0] * 2], dtype=torch.int64)
    model = distinct_parameters(PostNormEncoder(layers=1)).eval()
    x = torch.randn(2, 8, DIM)
    pt2, _ = harness.export(model, [x, mask], "training", key)
    engine = harness.convert(pt2, harness.root / f"{key}.engine", "--disable-pass", "fold_gemm_bias_into_norm")
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    info = json.loads(proc.stdout)
    assert info["provenance"]["build_options"]["disabled_passes"] == "fold_gemm_bias_into_norm"
    assert_bias_in_gemm(info["steps"], "layers.0.fc2.bias")
    assert_bias_in_gemm(info["steps"], "layers.0.attn.proj.bias")
    (out,) = harness.run(engine, {"x": to_numpy(x), "attention_mask": to_numpy(mask)}, harness.root / f"{key}-out")
    with torch.no_grad():
        assert_matches(out, to_numpy(model(x, mask)), "output with the pass disabled")
    bad = harness.root / f"{key}-bad.engine"
    proc = run_ingot("convert", pt2, "-o", bad, "--disable-pass", "fold_everything")
    assert_clean_failure(proc, r"cannot disable pass 'fold_everything'.*fold_gemm_bias_into_norm")
    assert not bad.exists()
