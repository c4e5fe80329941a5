"""Slice hoisting end to end (src/passes/hoist_slices.cc): a model that keeps only
some rows of its last hidden state (ViT's class token x[:, 0], an LM's last
position x[:, -1], a strided x[:, 1:6:2], a BERT [CLS] pooler) lets the
hoist_slices pass move the slice above the row-wise ops that produce it (gemm
with its residual, layer norm, elementwise ops, views, and attention's query
rows unless causal), so they compute only the kept rows. Small transformers are
exported from PyTorch, converted by the real `ingot` command, run, and compared
with PyTorch's own output (conftest.Harness; backend and precision from
INGOT_TEST_BACKEND / INGOT_TEST_PRECISION). A second check reads the engine's
steps (`ingot inspect --json`): where the pass must fire, the steps reading the
last block's parameters produce only the kept rows; where it must not (causal
attention, a value that is also an output or read in full elsewhere), they keep
every row. A wrong narrowing shows up as wrong numbers; a missing one only in
the step shapes, hence both checks.
"""
import json
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import assert_matches, describe, run_ingot, to_numpy

DIM, HEADS, MLP = 32, 2, 64


def engine_steps(harness, key, dialect):
    """The steps of the engine built for (key, dialect), as `ingot inspect --json` lists them."""
    engine = harness.convert(harness.root / f"{key}-{dialect}.pt2")
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)["steps"]


def distinct_parameters(module):
    """Gives every constant-valued parameter (layer norm ones and zeros, attention
    biases) some noise, so that no two parameters hold equal values: the converter
    shares equal constants, and the checks below find steps by parameter name."""
    with torch.no_grad():
        for p in module.parameters():
            if bool((p == p.flatten()[0]).all()):
                p.add_(0.1 * torch.randn_like(p))
    return module


def reads(step, param):
    """Whether the step reads the parameter (constant) named param (the name may
    carry a suffix a precision lowering adds)."""
    pattern = re.compile(r"(^|\.)" + re.escape(param) + r"($|[^a-zA-Z0-9])")
    return any(t and t.get("storage") == "constant" and pattern.search(t["name"]) for t in step["inputs"])


def step_reading(steps, param, op=None):
    """The last step that reads the named parameter (and has the given op, if any)."""
    found = [s for s in steps if reads(s, param) and (op is None or s["op"] == op)]
    assert found, f"no {op or ''} step reads {param}: " + describe_steps(steps)
    return found[-1]


def out_shape(step):
    return step["outputs"][0]["shape"]


def describe_steps(steps):
    lines = []
    for s in steps:
        ins = [t["shape"] if t else None for t in s["inputs"]]
        outs = [o["shape"] for o in s["outputs"]]
        lines.append(f"  {s['index']:3d} {s['op']:<12} {ins} -> {outs}  {s['attrs']}")
    return "\n" + "\n".join(lines)


def assert_rows(steps, param, rows, dim=1, op=None):
    """The last step reading `param` computes `rows` rows along `dim` of its output."""
    step = step_reading(steps, param, op)
    shape = out_shape(step)
    assert len(shape) > dim and shape[dim] == rows, (
        f"step {step['index']} ({step['op']}, reads {param}) has output {shape}, expected {rows} rows "
        f"in dim {dim}" + describe_steps(steps))


def attention_query_rows(steps):
    """The query length of every attention step, in order: dims[3] of a strided
    attention (views into the qkv projection), else its dense [.., L, E] output's L."""
    rows = []
    for s in steps:
        if s["op"] == "attention":
            dims = s["attrs"].split("dims=[", 1)[1].split("]", 1)[0]
            rows.append(int(dims.split(",")[3]) if dims else out_shape(s)[-2])
    return rows


class SelfAttention(nn.Module):
    """Multi-head self attention: nn.MultiheadAttention (batch_first), or a hand-rolled
    fused qkv Linear + F.scaled_dot_product_attention + out projection."""

    def __init__(self, kind, causal=False):
        super().__init__()
        self.kind, self.causal = kind, causal
        if kind == "mha":
            self.mha = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
        else:
            self.qkv = nn.Linear(DIM, 3 * DIM)
            self.proj = nn.Linear(DIM, DIM)

    def forward(self, x, mask=None):
        if self.kind == "mha":
            assert mask is None and not self.causal
            return self.mha(x, x, x, need_weights=False)[0]
        b, s, d = x.shape
        q, k, v = self.qkv(x).reshape(b, s, 3, HEADS, d // HEADS).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)
        return self.proj(o.transpose(1, 2).reshape(b, s, d))


class PreNormBlock(nn.Module):
    """ViT encoder block: x + attn(ln1(x)); x + mlp(ln2(x)) with a GELU MLP."""

    def __init__(self, kind, causal=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(DIM)
        self.attn = SelfAttention(kind, causal)
        self.ln2 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, MLP)
        self.fc2 = nn.Linear(MLP, DIM)

    def forward(self, x, mask=None):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


POOLS = {
    "cls": lambda h: h[:, 0],
    "last": lambda h: h[:, -1],
    "strided": lambda h: h[:, 1:6:2],
}
POOL_ROWS = {"cls": 1, "last": 1, "strided": 3}


class VitLike(nn.Module):
    """Two pre-norm blocks, a final layer norm, a row pool and a linear head."""

    def __init__(self, kind, pool, causal=False):
        super().__init__()
        self.blocks = nn.ModuleList([PreNormBlock(kind, causal) for _ in range(2)])
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, 10)
        self.pool = pool

    def forward(self, x, mask=None):
        for block in self.blocks:
            x = block(x, mask)
        return self.head(POOLS[self.pool](self.norm(x)))


def assert_last_block_narrowed(steps, rows, dialect):
    """The final norm computes `rows` rows per image; in the training dialect so do the
    last block's MLP (both gemms) and its second layer norm. (The aten dialect writes
    a linear layer as view -> addmm on [B*S, K] -> view, a gemm whose 2-d operand
    does not share the output's leading dims: the slice stops at the last one.)"""
    assert_rows(steps, "norm.weight", rows, op="layer_norm")
    if dialect == "training":
        # (read by the final norm, which adds it: fold_gemm_bias_into_norm)
        assert_rows(steps, "blocks.1.fc2.bias", rows)
        assert_rows(steps, "blocks.1.fc1.bias", rows, op="gemm")
        assert_rows(steps, "blocks.1.ln2.weight", rows, op="layer_norm")


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("kind", ["mha", "sdpa"])
def test_vit_class_token(harness, kind, dialect):
    """ViT-like encoder read at x[:, 0]: the last block's MLP and norms run on one row,
    the first block (whose output the last attention reads in full) on all nine."""
    torch.manual_seed(10)
    key = f"hoist_vit_cls_{kind}"
    model = distinct_parameters(VitLike(kind, "cls"))
    harness.convert_and_run(model, [torch.randn(2, 9, DIM)], dialect, key=key)
    steps = engine_steps(harness, key, dialect)
    assert_last_block_narrowed(steps, 1, dialect)
    if dialect == "training":
        assert_rows(steps, "blocks.0.fc2.bias", 9, op="gemm")
        assert_rows(steps, "blocks.0.ln2.weight", 9, op="layer_norm")
    rows = attention_query_rows(steps)
    if rows:  # one attention step per block (the aten dialect may leave it unfused)
        assert rows == [9, 1], describe_steps(steps)


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("pool", ["last", "strided"])
@pytest.mark.parametrize("kind", ["mha", "sdpa"])
def test_vit_last_and_strided_rows(harness, kind, pool, dialect):
    """The same encoder read at x[:, -1] (last token) and x[:, 1:6:2] (three rows, step 2)."""
    torch.manual_seed(11)
    key = f"hoist_vit_{pool}_{kind}"
    model = distinct_parameters(VitLike(kind, pool))
    harness.convert_and_run(model, [torch.randn(2, 9, DIM)], dialect, key=key)
    steps = engine_steps(harness, key, dialect)
    assert_last_block_narrowed(steps, POOL_ROWS[pool], dialect)
    rows = attention_query_rows(steps)
    if rows:
        assert rows == [9, POOL_ROWS[pool]], describe_steps(steps)


class BertLike(nn.Module):
    """Post-norm BERT layer (attention with a mask built from an input, residual, layer
    norm; GELU MLP, residual, layer norm) and the [CLS] pooler tanh(dense(h[:, 0])).
    mask "padding": bool [B, 1, 1, S] from an attention_mask [B, S] of 0/1;
    mask "rows": an additive float [B, 1, S, S] mask, whose row dim the pass slices."""

    def __init__(self, mask_kind):
        super().__init__()
        self.mask_kind = mask_kind
        self.attn = SelfAttention("sdpa")
        self.ln1 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, MLP)
        self.fc2 = nn.Linear(MLP, DIM)
        self.ln2 = nn.LayerNorm(DIM)
        self.pooler = nn.Linear(DIM, DIM)

    def forward(self, x, attention_mask):
        if self.mask_kind == "padding":
            mask = attention_mask[:, None, None, :] > 0
        else:
            mask = attention_mask[:, None, :, :]
        x = self.ln1(x + self.attn(x, mask))
        x = self.ln2(x + self.fc2(F.gelu(self.fc1(x))))
        return torch.tanh(self.pooler(x[:, 0]))


@pytest.mark.parametrize("mask_kind", ["padding", "rows"])
def test_bert_cls_pooler_with_mask(harness, mask_kind):
    """[CLS] pooling of a masked BERT layer: both layer norms, the MLP, the out
    projection and the attention (one query row, the mask's rows sliced where it has
    them) run on the first row alone."""
    torch.manual_seed(12)
    b, s = 2, 8
    if mask_kind == "padding":
        mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.int64)
    else:  # distinct rows, so slicing the wrong mask rows changes the result
        mask = torch.randn(b, s, s)
    key = f"hoist_bert_{mask_kind}"
    model = distinct_parameters(BertLike(mask_kind))
    harness.convert_and_run(model, [torch.randn(b, s, DIM), mask], "training", key=key)
    steps = engine_steps(harness, key, "training")
    assert_rows(steps, "ln2.weight", 1, op="layer_norm")
    assert_rows(steps, "fc1.bias", 1, op="gemm")
    # fc2's and the out-projection's biases are added in the layer norms that follow
    # (fold_gemm_bias_into_norm): the last step reading each must be narrowed.
    assert_rows(steps, "fc2.bias", 1)
    assert_rows(steps, "ln1.weight", 1, op="layer_norm")
    assert_rows(steps, "attn.proj.bias", 1)
    assert attention_query_rows(steps) == [1], describe_steps(steps)


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_causal_attention_keeps_query_rows(harness, dialect):
    """is_causal=True then x[:, -1]: row i of a causal attention sees keys 0..i, so
    the attention keeps all nine query rows; what follows it still narrows."""
    torch.manual_seed(13)
    key = "hoist_causal_last"
    model = distinct_parameters(VitLike("sdpa", "last", causal=True))
    harness.convert_and_run(model, [torch.randn(2, 9, DIM)], dialect, key=key)
    steps = engine_steps(harness, key, dialect)
    rows = attention_query_rows(steps)
    if rows or dialect == "training":  # the aten dialect leaves this attention unfused
        assert rows == [9, 9], describe_steps(steps)
    if dialect == "training":
        assert_rows(steps, "blocks.1.attn.qkv.bias", 9, op="gemm")
    assert_last_block_narrowed(steps, 1, dialect)


def test_explicit_causal_mask_is_sliced(harness):
    """The same causal model written with an explicit bool [S, S] mask instead of
    is_causal: the mask has a row per query, so the pass narrows the last attention
    to the last query row and takes that row of the mask."""
    torch.manual_seed(14)
    s = 9
    mask = torch.ones(s, s, dtype=torch.bool).tril()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = VitLike("sdpa", "last")

        def forward(self, x):
            return self.inner(x, mask)

    key = "hoist_causal_mask_last"
    harness.convert_and_run(distinct_parameters(Model()), [torch.randn(2, s, DIM)], "training", key=key)
    steps = engine_steps(harness, key, "training")
    assert attention_query_rows(steps) == [9, 1], describe_steps(steps)
    assert_rows(steps, "inner.blocks.1.fc2.bias", 1)


def test_dynamic_sequence_built_at_another_size(harness):
    """Exported with a dynamic batch and sequence (torch.export.Dim) at 2 x 9 and
    built at 3 x 12 (--input-shape): x[:, -1] is the last of 12 rows, and the
    narrowed ops are sized for the built shape."""
    torch.manual_seed(17)
    model = distinct_parameters(VitLike("sdpa", "last")).eval()
    dims = {"x": {0: torch.export.Dim("batch", max=16), 1: torch.export.Dim("seq", min=4, max=64)}}
    program = torch.export.export(model, (torch.randn(2, 9, DIM),), dynamic_shapes=dims)
    pt2 = harness.root / "hoist_dynamic_seq.pt2"
    torch.export.save(program, str(pt2))
    engine = harness.convert(pt2, None, "--input-shape", f"x=3x12x{DIM}")
    x = torch.randn(3, 12, DIM)
    with torch.no_grad():
        expected = model(x)
    (out,) = harness.run(engine, {"x": to_numpy(x)}, harness.root / "hoist_dynamic_seq-out")
    assert_matches(out, to_numpy(expected), "dynamic-sequence output")
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    steps = json.loads(proc.stdout)["steps"]
    assert_last_block_narrowed(steps, 1, "training")
    assert attention_query_rows(steps) == [12, 1], describe_steps(steps)


class FullAndSliced(nn.Module):
    """An encoder block whose final hidden state is returned in full and also sliced:
    "output" returns (hidden, hidden[:, 0]); "mean" returns
    (hidden.mean(1), head(hidden[:, 0])), the full value read inside the graph;
    "two_slices" returns (head(hidden[:, 0]), head(hidden[:, -1])), two different
    slices of one value, which no single narrowing serves."""

    def __init__(self, use):
        super().__init__()
        self.use = use
        self.block = PreNormBlock("sdpa")
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, 10)

    def forward(self, x):
        hidden = self.norm(self.block(x))
        if self.use == "output":
            return hidden, hidden[:, 0]
        if self.use == "two_slices":
            return self.head(hidden[:, 0]), self.head(hidden[:, -1])
        return hidden.mean(1), self.head(hidden[:, 0])


@pytest.mark.parametrize("use", ["output", "mean", "two_slices"])
def test_value_read_in_full_and_sliced(harness, use):
    """The slice may not move while other ops (or the graph outputs) read the value
    in full: every output matches, and the final norm, the MLP and the attention
    keep all nine rows."""
    torch.manual_seed(15)
    key = f"hoist_full_and_sliced_{use}"
    model = distinct_parameters(FullAndSliced(use))
    outputs = harness.convert_and_run(model, [torch.randn(2, 9, DIM)], "training", key=key)
    if use == "output":
        assert list(outputs[0].shape) == [2, 9, DIM] and list(outputs[1].shape) == [2, DIM]
    steps = engine_steps(harness, key, "training")
    assert_rows(steps, "norm.weight", 9, op="layer_norm")
    assert_rows(steps, "block.fc2.bias", 9)  # in the final norm: fold_gemm_bias_into_norm
    assert_rows(steps, "block.fc1.bias", 9, op="gemm")
    assert attention_query_rows(steps) == [9], describe_steps(steps)


class BroadcastAlongRows(nn.Module):
    """gelu(linear(x) * scale[None, :, None] + bias)[:, 2], scale [S] and bias [S, D]
    varying along the sliced dim (they must be sliced with it), offset [D] not."""

    def __init__(self, s):
        super().__init__()
        self.fc = nn.Linear(DIM, DIM)
        self.scale = nn.Parameter(torch.randn(s))
        self.bias = nn.Parameter(torch.randn(s, DIM))
        self.offset = nn.Parameter(torch.randn(DIM))

    def forward(self, x):
        y = self.fc(x) * self.scale[None, :, None] + self.bias
        return F.gelu(y - self.offset)[:, 2]


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_elementwise_broadcast_along_sliced_dim(harness, dialect):
    """The parameters broadcast along the sliced dim are sliced with it (a wrong row
    of scale or bias changes the numbers); no step computes all seven rows."""
    torch.manual_seed(16)
    key = "hoist_broadcast"
    model = distinct_parameters(BroadcastAlongRows(7))
    harness.convert_and_run(model, [torch.randn(2, 7, DIM)], dialect, key=key)
    steps = engine_steps(harness, key, dialect)
    # The slice reached the gemm only by passing the elementwise ops.
    assert_rows(steps, "fc.bias", 1, op="gemm")
    for step in steps:
        for out in step["outputs"]:
            assert out["shape"][:2] != [2, 7], f"step {step['index']} computes all rows" + describe_steps(steps)
