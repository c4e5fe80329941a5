"""Models exported with dynamic dims (torch.export.Dim) and `ingot convert
--input-shape`: the engine is built at the size asked for, every symbolic size of
the graph re-evaluated, and computes what PyTorch computes at that size. Sizes the
export does not allow are refused with a message naming the input and dim."""
import json

import pytest
import torch
from torch import nn
from torch.export import Dim

from conftest import assert_clean_failure, assert_matches, describe, run_ingot, small_bert, to_numpy
from test_cli import SmallNet as ConvHead  # conv, relu, mean, linear


class TokenMixer(nn.Module):
    """Shapes that depend on the sequence symbol: a view with s*2, position ids
    from arange(s), a slice of a table by s, a concat that makes s + 1 rows."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.pos = nn.Parameter(torch.randn(64, 16))
        self.proj = nn.Linear(16, 16)
        self.cls = nn.Parameter(torch.randn(1, 1, 16))

    def forward(self, ids):
        b, s = ids.shape
        h = self.embed(ids) + self.pos[:s]
        h = h + torch.arange(s, dtype=torch.float32).view(1, s, 1) * 0.01
        h = torch.cat([self.cls.expand(b, 1, 16), h], dim=1)  # s + 1 rows
        h = self.proj(h).view(b, (s + 1) * 2, 8)
        return torch.softmax(h, dim=-1).sum(dim=1)


@pytest.fixture(scope="module")
def work(tmp_path_factory, ingot_bin):
    return tmp_path_factory.mktemp("dynamic")


def export(model, args, dynamic_shapes, path):
    torch.export.save(torch.export.export(model.eval(), args, dynamic_shapes=dynamic_shapes), str(path))
    return path


@pytest.fixture(scope="module")
def conv_pt2(work):
    torch.manual_seed(0)
    return export(ConvHead(), (torch.randn(2, 3, 8, 8),), {"x": {0: Dim("batch", min=1, max=64)}}, work / "conv.pt2")


@pytest.fixture(scope="module")
def mixer(work):
    torch.manual_seed(0)
    model = TokenMixer().eval()
    seq = Dim("seq", min=2, max=60)
    ids = torch.randint(0, 50, (2, 5))
    return model, export(model, (ids,), {"ids": {0: Dim("batch", max=16), 1: seq}}, work / "mixer.pt2")


def build(pt2, work, name, *shapes):
    engine = work / f"{name}.engine"
    args = [a for s in shapes for a in ("--input-shape", s)]
    proc = run_ingot("convert", pt2, "-o", engine, "--backend", "cpu", *args)
    assert proc.returncode == 0, describe(proc)
    return engine, proc


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_batch_chosen_at_build_time_matches_pytorch(conv_pt2, harness, work, batch):
    torch.manual_seed(0)
    model = ConvHead().eval()
    engine, proc = build(conv_pt2, work, f"conv{batch}", f"x={batch}x3x8x8")
    assert f"takes size {batch} (--input-shape)" in proc.stderr
    info = json.loads(run_ingot("inspect", engine, "--json").stdout)
    assert info["inputs"][0]["shape"] == [batch, 3, 8, 8]
    x = torch.randn(batch, 3, 8, 8, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        expected = model(x)
    out = harness.run(engine, {"x": to_numpy(x)}, work / f"run-conv{batch}")
    assert_matches(out[0], to_numpy(expected))


@pytest.mark.parametrize("shape", ["ids=3x17", "ids:1,60", "ids=16x2"])
def test_sequence_dependent_shapes_are_reevaluated(mixer, harness, work, shape):
    model, pt2 = mixer
    dims = [int(d) for d in shape.split("=" if "=" in shape else ":")[1].replace(",", "x").split("x")]
    engine, _ = build(pt2, work, "mixer" + "_".join(map(str, dims)), shape)
    ids = torch.randint(0, 50, tuple(dims), generator=torch.Generator().manual_seed(sum(dims)))
    with torch.no_grad():
        expected = model(ids)
    out = harness.run(engine, {"ids": to_numpy(ids)}, work / ("run-mixer" + "_".join(map(str, dims))))
    assert_matches(out[0], to_numpy(expected))


def test_the_recorded_options_name_the_shapes(conv_pt2, work):
    engine, _ = build(conv_pt2, work, "conv-recorded", "x=3x3x8x8")
    info = json.loads(run_ingot("inspect", engine, "--json").stdout)
    assert info["provenance"]["build_options"]["input_shapes"] == "x=3x3x8x8", info["provenance"]


@pytest.mark.parametrize("shape,pattern", [
    ("x=65x3x8x8", r"dim 0 of 'x' \(\w+\) must be in \[1, 64\] as exported, not 65"),
    ("x=4x3x9x8", r"dim 2 of 'x' is static \(8\) in the exported model, not 9"),
    ("x=4x3x8", r"'x' has 4 dims in the model \(2x3x8x8\), not 3"),
    ("image=4x3x8x8", r"the model has no tensor input 'image' \(its inputs: x\)"),
])
def test_sizes_the_export_does_not_allow_are_refused(conv_pt2, work, shape, pattern):
    engine = work / "refused.engine"
    proc = run_ingot("convert", conv_pt2, "-o", engine, "--backend", "cpu", "--input-shape", shape)
    assert_clean_failure(proc, pattern)
    assert proc.returncode == 1
    assert not engine.exists()


def test_one_symbol_asked_two_sizes_is_refused(work):
    class Pair(nn.Module):
        def forward(self, a, b):
            return a + b

    n = Dim("n", max=32)
    pt2 = export(Pair(), (torch.randn(4, 3), torch.randn(4, 3)), {"a": {0: n}, "b": {0: n}}, work / "pair.pt2")
    proc = run_ingot("convert", pt2, "-o", work / "pair.engine", "--input-shape", "a=5x3", "--input-shape", "b=6x3")
    assert_clean_failure(proc, r"dim 0 of '\w' and dim 0 of '\w' are the same dynamic dim")
    engine, _ = build(pt2, work, "pair", "a=5x3", "b=5x3")
    info = json.loads(run_ingot("inspect", engine, "--json").stdout)
    assert [i["shape"] for i in info["inputs"]] == [[5, 3], [5, 3]]


@pytest.mark.parametrize("shape", ["x=4xx3x8x8", "x", "=4x3", "x=4x-3x8x8"])
def test_malformed_input_shape_is_a_usage_error(conv_pt2, work, shape):
    proc = run_ingot("convert", conv_pt2, "-o", work / "usage.engine", "--input-shape", shape)
    assert proc.returncode == 2, describe(proc)
    assert "--input-shape" in proc.stderr
    assert not (work / "usage.engine").exists()


def test_python_build_pt2_takes_input_shapes(conv_pt2):
    import ingot
    torch.manual_seed(0)
    model = ConvHead().eval()
    engine = ingot.Engine(ingot.build_pt2(conv_pt2, backend="cpu", input_shapes={"x": (6, 3, 8, 8)}))
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = model(x)
    assert_matches(to_numpy(engine(x)), to_numpy(expected))
    with pytest.raises(ingot.IngotError, match=r"must be in \[1, 64\]"):
        ingot.build_pt2(conv_pt2, backend="cpu", input_shapes={"x": (65, 3, 8, 8)})


def test_transformers_bert_with_dynamic_batch_and_sequence(harness, work):
    torch.manual_seed(0)
    model = small_bert().eval()
    batch, seq = Dim("batch", max=32), Dim("seq", min=2, max=128)
    example = (torch.randint(0, 100, (2, 16)), torch.ones(2, 16, dtype=torch.int64))
    pt2 = export(model, example, {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                 work / "bert.pt2")
    engine, _ = build(pt2, work, "bert3x40", "input_ids=3x40", "attention_mask=3x40")
    ids = torch.randint(0, 100, (3, 40), generator=torch.Generator().manual_seed(3))
    mask = torch.ones(3, 40, dtype=torch.int64)
    mask[1, 30:] = 0
    with torch.no_grad():
        expected = model(ids, mask)
    out = harness.run(engine, {"input_ids": to_numpy(ids), "attention_mask": to_numpy(mask)}, work / "run-bert")
    assert_matches(out[0], to_numpy(expected))


def test_a_size_ingot_cannot_recompute_is_refused_not_called_damage(conv_pt2, work):
    """An intermediate size whose expression uses a function the evaluator does not
    know (edited into the archive): refused as unsupported, naming the expression."""
    import zipfile
    damaged = work / "odd-expr.pt2"
    with zipfile.ZipFile(conv_pt2) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith(".json") and b'"tensor_values"' in data:
                doc = json.loads(data)
                graph = doc["graph_module"]["graph"]
                inputs = {a["as_tensor"]["name"] for a in graph["inputs"] if "as_tensor" in a}
                name = next(n for n, meta in graph["tensor_values"].items()
                            if n not in inputs and "as_expr" in meta["sizes"][0])
                expr = graph["tensor_values"][name]["sizes"][0]["as_expr"]
                expr["expr_str"] = "Sin(" + expr["expr_str"] + ")"
                data = json.dumps(doc).encode()
            dst.writestr(item, data)
    engine = work / "odd-expr.engine"
    proc = run_ingot("convert", damaged, "-o", engine, "--input-shape", "x=4x3x8x8")
    assert_clean_failure(proc, r"--input-shape: cannot evaluate the symbolic size 'Sin\(.*unknown function 'Sin'.*"
                               r"cannot be recomputed")
    assert "damaged" not in proc.stderr and not engine.exists()
    # Without --input-shape the hints recorded at export are used, as before.
    proc = run_ingot("convert", damaged, "-o", engine, "--backend", "cpu")
    assert proc.returncode == 0, describe(proc)


def test_input_shape_flags_anywhere_on_the_command_line(conv_pt2, work):
    engine = work / "flag-first.engine"
    proc = run_ingot("convert", "--input-shape", "x=5x3x8x8", conv_pt2, "-o", engine, "--backend", "cpu")
    assert proc.returncode == 0, describe(proc)
    assert json.loads(run_ingot("inspect", engine, "--json").stdout)["inputs"][0]["shape"] == [5, 3, 8, 8]
    proc = run_ingot("convert", conv_pt2, "-o", engine, "--input-shape", "x=4x3x8x8", "--input-shape", "x=5x3x8x8")
    assert proc.returncode == 2 and "given twice" in proc.stderr, describe(proc)
