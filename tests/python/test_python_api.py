"""Tests of the `ingot` Python package (python/ingot): conversion through
torch.export and the C++ compiler, running engines on torch tensors and numpy
arrays, errors, and ingot.compare. Every numeric check compares the engine with
PyTorch's own output on the same inputs.

Skipped, with the reason shown, when the package is not installed (`pip install .`).
"""
import copy
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import BACKEND, import_ingot_package

ingot, pytestmark = import_ingot_package()

FP32_TOL = 1e-4


def rel_l2(got, ref):
    got = torch.as_tensor(np.asarray(got)) if not isinstance(got, torch.Tensor) else got
    got, ref = got.detach().double(), ref.detach().double()
    assert torch.isfinite(got).all(), "non-finite engine output"
    return float((got - ref).norm() / ref.norm())


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv1(x)))
        y = torch.nn.functional.max_pool2d(y, 2)
        y = torch.relu(self.conv2(y))
        return self.fc(y.mean(dim=(2, 3)))


class Encoder(torch.nn.Module):
    """A module whose interesting method is not forward."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(12, 16)
        self.head = torch.nn.Linear(16, 3)

    def encode(self, x, scale: float = 2.0):
        return torch.tanh(self.proj(x)) * scale

    def forward(self, x):
        return self.head(self.encode(x))


class TwoOutputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 4)

    def forward(self, x, y):
        h = self.lin(x)
        return h + y, torch.sigmoid(h).sum(dim=-1)


class Unsupported(torch.nn.Module):
    def forward(self, x):
        y = torch.relu(x)
        d = torch.linalg.det(y)  # UNSUPPORTED-DET
        v = torch.linalg.inv(y)  # UNSUPPORTED-INV
        return d.unsqueeze(-1) + v.sum(-1)


def _line_of(marker):
    lines, start = inspect.getsourcelines(Unsupported)
    for offset, line in enumerate(lines):
        if marker in line:
            return start + offset
    raise AssertionError(marker)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    with torch.no_grad():  # non-trivial running statistics so BatchNorm folding is really checked
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 32, 32)
    return model, x, ingot.convert_method_to_engine(model, "forward", inputs=(x,), backend=BACKEND)


def test_import_does_not_need_torch():
    code = "import sys, ingot; assert 'torch' not in sys.modules, 'ingot imported torch'; print(ingot.__version__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ingot.__version__


def test_cnn_matches_pytorch(cnn):
    model, _, engine_bytes = cnn
    assert isinstance(engine_bytes, bytes) and len(engine_bytes) > 0
    engine = ingot.Engine(engine_bytes)
    assert [(s.name, s.dtype, s.shape) for s in engine.inputs] == [("x", "float32", (2, 3, 32, 32))]
    assert engine.outputs[0].dtype == "float32" and engine.outputs[0].shape == (2, 10)
    x = torch.randn(2, 3, 32, 32)  # fresh data, not the export example
    got = engine(x)
    assert isinstance(got, torch.Tensor) and got.device.type == "cpu" and got.shape == (2, 10)
    with torch.no_grad():
        assert rel_l2(got, model(x)) <= FP32_TOL


def test_numpy_in_numpy_out(cnn):
    model, _, engine_bytes = cnn
    engine = ingot.Engine(engine_bytes)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    got = engine(x)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (2, 10)
    with torch.no_grad():
        assert rel_l2(got, model(torch.from_numpy(x))) <= FP32_TOL


def test_non_contiguous_input(cnn):
    model, _, engine_bytes = cnn
    engine = ingot.Engine(engine_bytes)
    x = torch.randn(2, 32, 32, 3).permute(0, 3, 1, 2)  # a non-contiguous NCHW view
    assert not x.is_contiguous()
    with torch.no_grad():
        assert rel_l2(engine(x), model(x)) <= FP32_TOL
    xn = np.asfortranarray(np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32))
    with torch.no_grad():
        assert rel_l2(engine(xn), model(torch.from_numpy(np.ascontiguousarray(xn)))) <= FP32_TOL


def test_bytes_and_path_are_bit_identical(cnn, tmp_path):
    _, _, engine_bytes = cnn
    path = tmp_path / "cnn.engine"
    ingot.save_engine(engine_bytes, path)
    assert path.read_bytes() == engine_bytes
    x = torch.randn(2, 3, 32, 32)
    a = ingot.Engine(engine_bytes)(x)
    b = ingot.Engine(str(path))(x)
    c = ingot.load_engine(path)(x)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_inspect_and_info_have_provenance(cnn, tmp_path):
    _, _, engine_bytes = cnn
    engine = ingot.Engine(engine_bytes)
    report = engine.inspect()
    assert isinstance(report, dict)
    prov = report["provenance"]
    assert prov["ingot_version"] == ingot.__version__
    assert prov["model_hash"] and prov["model_file"].endswith(".pt2")
    assert prov["torch_version"].split("+")[0] == torch.__version__.split("+")[0]
    assert report["steps"], "the inspector lists no steps"
    info = engine.info
    assert info["model_hash"] == prov["model_hash"] and info["backend"] == BACKEND
    assert info["options"]["precision"] == "fp32"
    # The same report from an engine file.
    path = tmp_path / "cnn.engine"
    ingot.save_engine(engine_bytes, path)
    assert ingot.Engine(path).inspect()["provenance"] == prov


def test_input_specs(cnn):
    model = cnn[0]
    engine_bytes = ingot.convert_method_to_engine(model, inputs=[ingot.Input(shape=(1, 3, 16, 16), dtype=torch.float32)],
                                                  backend=BACKEND)
    engine = ingot.Engine(engine_bytes)
    assert engine.inputs[0].shape == (1, 3, 16, 16)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert rel_l2(engine(x), model(x)) <= FP32_TOL


def test_wrong_shape_and_dtype_raise_ingot_error(cnn):
    engine = ingot.Engine(cnn[2])
    with pytest.raises(ingot.IngotError, match=r"input 'x'.*expected float32\[2,3,32,32\].*\[1,3,32,32\]"):
        engine(torch.randn(1, 3, 32, 32))
    with pytest.raises(ingot.IngotError, match=r"input 'x'.*float64"):
        engine(torch.randn(2, 3, 32, 32, dtype=torch.float64))
    with pytest.raises(ingot.IngotError, match=r"no input named 'y'"):
        engine(y=torch.randn(2, 3, 32, 32))
    with pytest.raises(ingot.IngotError, match=r"missing engine input"):
        engine()
    with pytest.raises(ingot.IngotError, match=r"expected a torch.Tensor or numpy.ndarray"):
        engine([1.0, 2.0])


def test_bad_engine_bytes_raise_ingot_error(tmp_path):
    with pytest.raises(ingot.IngotError):
        ingot.Engine(b"not an engine at all")
    with pytest.raises(ingot.IngotError, match="does not exist"):
        ingot.Engine(str(tmp_path / "missing.engine"))


def test_non_forward_method_shares_parameters():
    torch.manual_seed(1)
    model = Encoder().eval()
    params_before = {k: v.data_ptr() for k, v in model.state_dict().items()}
    engine = ingot.Engine(ingot.convert_method_to_engine(model, "encode", inputs=(torch.randn(5, 12),),
                                                         backend=BACKEND))
    assert {k: v.data_ptr() for k, v in model.state_dict().items()} == params_before
    assert [s.name for s in engine.inputs] == ["x"]  # the method's own argument name
    x = torch.randn(5, 12)
    with torch.no_grad():
        assert rel_l2(engine(x), model.encode(x)) <= FP32_TOL
    # Weights changed after conversion are not seen: the engine holds a snapshot of them.
    result = ingot.compare(model, engine, (x,), method_name="encode")
    assert result.passed, str(result)


def test_multiple_outputs_and_kwargs():
    torch.manual_seed(2)
    model = TwoOutputs().eval()
    x, y = torch.randn(3, 6), torch.randn(3, 4)
    engine = ingot.Engine(ingot.convert_method_to_engine(model, inputs={"x": x, "y": y}, backend=BACKEND))
    assert [s.name for s in engine.inputs] == ["x", "y"]
    a, b = engine(x=x, y=y)
    with torch.no_grad():
        ra, rb = model(x, y)
    assert rel_l2(a, ra) <= FP32_TOL and rel_l2(b, rb) <= FP32_TOL
    a2, b2 = engine(x, y=y)
    assert torch.equal(a, a2) and torch.equal(b, b2)
    with pytest.raises(ingot.IngotError, match="given twice"):
        engine(x, x=x)


def test_small_bert_with_kwargs():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, max_position_embeddings=32)
    model = transformers.BertModel(config).eval()
    inputs = {"input_ids": ingot.Input((2, 16), torch.int64, high=100),
              "attention_mask": torch.ones(2, 16, dtype=torch.int64)}
    engine = ingot.Engine(ingot.convert_method_to_engine(model, inputs=inputs, backend=BACKEND))
    assert {s.name for s in engine.inputs} == {"input_ids", "attention_mask"}
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    got = engine(input_ids=ids, attention_mask=mask)
    got = got if isinstance(got, tuple) else (got,)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask)
    assert rel_l2(got[0], ref.last_hidden_state) <= FP32_TOL
    assert rel_l2(got[1], ref.pooler_output) <= FP32_TOL
    result = ingot.compare(model, engine, {"input_ids": ids, "attention_mask": mask})
    assert result.passed, str(result)
    assert len(result) == 2 and all(c.cosine_similarity > 0.9999 for c in result)


def test_unsupported_operator_lists_every_op_with_source_line():
    model = Unsupported()
    with pytest.raises(ingot.UnsupportedOperatorError) as info:
        ingot.convert_method_to_engine(model, inputs=(torch.randn(2, 3, 3),), backend=BACKEND)
    err = info.value
    assert isinstance(err, ingot.IngotError)
    targets = {u.target for u in err.unsupported}
    assert any("det" in t for t in targets), targets
    assert any("inv" in t for t in targets), targets
    this_file = os.path.basename(__file__)
    for marker, op in (("UNSUPPORTED-DET", "det"), ("UNSUPPORTED-INV", "inv")):
        record = next(u for u in err.unsupported if op in u.target)
        assert record.location == f"{this_file}:{_line_of(marker)}", record
        assert marker in record.code
        assert record.count >= 1 and record.reason and record.node_name
        assert f"{this_file}:{_line_of(marker)}" in str(err)


def test_check_method_op_support(cnn, capsys):
    assert ingot.check_method_op_support(cnn[0], "forward", (torch.randn(1, 3, 16, 16),)) is True
    assert "supported" in capsys.readouterr().out
    assert ingot.check_method_op_support(Unsupported(), "forward", (torch.randn(2, 3, 3),)) is False
    out = capsys.readouterr().out
    assert "det" in out and "inv" in out and os.path.basename(__file__) in out


def test_compare_reports_stats_and_catches_a_wrong_engine(cnn):
    model, _, engine_bytes = cnn
    result = ingot.compare(model, engine_bytes, (ingot.Input((2, 3, 32, 32)),))
    assert result.passed and len(result) == 1
    c = result[0]
    assert c.rel_l2_error <= FP32_TOL and c.nan_count_engine == 0 and c.inf_count_torch == 0
    assert "PASS" in str(result) and "rel L2" in str(result)
    # A different model with the same signature must fail the comparison.
    other = SmallCNN().eval()
    bad = ingot.compare(other, engine_bytes, (ingot.Input((2, 3, 32, 32)),))
    assert not bad.passed and "FAIL" in str(bad)


def test_compare_flags_nan():
    from ingot.compare import compare_arrays
    ref = np.ones((4,), np.float32)
    got = ref.copy()
    got[1] = np.nan
    assert not compare_arrays("y", got, ref).passed
    assert compare_arrays("y", ref, ref).passed


def test_convert_exported_program(cnn):
    model = cnn[0]
    x = torch.randn(1, 3, 16, 16)
    program = torch.export.export(model, (x,))
    engine = ingot.Engine(ingot.convert_exported_program(program, backend=BACKEND))
    with torch.no_grad():
        assert rel_l2(engine(x), model(x)) <= FP32_TOL


def test_bad_options_raise_ingot_error(cnn):
    with pytest.raises(ingot.IngotError, match="unknown precision"):
        ingot.convert_method_to_engine(cnn[0], inputs=(torch.randn(1, 3, 8, 8),), precision="int3", backend=BACKEND)
    with pytest.raises(ingot.IngotError, match="backend"):
        ingot.convert_method_to_engine(cnn[0], inputs=(torch.randn(1, 3, 8, 8),), backend="tpu")
    with pytest.raises(ingot.IngotError, match="no method 'decode'"):
        ingot.convert_method_to_engine(cnn[0], "decode", inputs=(torch.randn(1, 3, 8, 8),))


def test_disable_passes_is_applied_and_recorded(cnn):
    """disable_passes= skips optimizer passes (here the conv fusion: the engine then has
    separate relu steps), still matches PyTorch, and the engine records what was skipped;
    an unknown pass name is an error naming the passes that can be disabled."""
    model, x = cnn[0], torch.randn(2, 3, 8, 8)
    fused = ingot.Engine(ingot.convert_method_to_engine(model, inputs=(x,), backend=BACKEND))
    plain = ingot.Engine(ingot.convert_method_to_engine(model, inputs=(x,), backend=BACKEND,
                                                        disable_passes=["fuse_conv", "fuse_pointwise"]))
    ops = lambda e: [step["op"] for step in e.inspect()["steps"]]  # noqa: E731
    assert len(ops(plain)) > len(ops(fused)), (ops(plain), ops(fused))
    with torch.no_grad():
        assert rel_l2(plain(x), model(x)) <= FP32_TOL
    assert plain.inspect()["provenance"]["build_options"]["disabled_passes"] == "fuse_conv,fuse_pointwise"
    assert "disabled_passes" not in fused.inspect()["provenance"]["build_options"]
    with pytest.raises(ingot.IngotError, match="cannot disable pass 'fuse_everything'.*fuse_gemm"):
        ingot.convert_method_to_engine(model, inputs=(x,), backend=BACKEND, disable_passes="fuse_everything")


@pytest.mark.skipif(not (torch.cuda.is_available() and ingot is not None and ingot.has_cuda),
                    reason="needs a GPU and an ingot built with CUDA")
def test_cuda_tensors_stay_on_device(cnn):
    model = copy.deepcopy(cnn[0]).cuda()  # the shared fixture's model stays on the CPU
    x = torch.randn(2, 3, 32, 32, device="cuda")
    engine = ingot.Engine(ingot.convert_method_to_engine(model, inputs=(x,), backend="cuda"))
    got = engine(x)
    assert got.device == x.device
    with torch.no_grad():  # reference on the CPU: PyTorch's own CUDA convolutions may use TF32
        assert rel_l2(got.cpu(), cnn[0](x.cpu())) <= FP32_TOL


def test_same_model_and_inputs_give_identical_engines():
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    x = torch.randn(3, 4)
    assert ingot.convert_method_to_engine(model, inputs=(x,), backend=BACKEND) == \
        ingot.convert_method_to_engine(model, inputs=(x,), backend=BACKEND)
