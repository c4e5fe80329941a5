"""Tests of ingot.compile (python/ingot/compiled_module.py): a method compiled into an
engine and called like the method, returning the method's own output structure
(dicts, tuples, transformers' ModelOutput, None and int leaves). Every number is
compared with PyTorch's output on the same inputs; every refusal is checked for a
message that names the argument.

Skipped, with the reason shown, when the package is not installed (`pip install .`).
"""

import pytest
import torch
from conftest import BACKEND, import_ingot_package

ingot, pytestmark = import_ingot_package()

FP32_TOL = 1e-4


def assert_close(got, ref):
    assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
    assert got.shape == ref.shape and got.dtype == ref.dtype
    got, ref = got.detach().double().cpu(), ref.detach().double().cpu()
    assert torch.isfinite(got).all(), "non-finite engine output"
    err = float((got - ref).norm() / ref.norm())
    assert err <= FP32_TOL, f"rel L2 error {err:.2e} > {FP32_TOL}"


class Structured(torch.nn.Module):
    """Keyword-only and defaulted arguments, a non-tensor argument, nested output with None and an int."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 4)

    def forward(self, x, scale: float = 2.0, *, bias=None, pair=None):
        h = self.lin(x) * scale
        if bias is not None:
            h = h + bias
        extra = pair[0] * pair[1] if pair is not None else None
        return {"h": h, "stats": (h.sum(-1), x.shape[0], None), "extra": extra}


def structured_inputs():
    torch.manual_seed(0)
    return torch.randn(3, 8), torch.randn(4), [torch.randn(2, 2), torch.randn(2, 2)]


@pytest.fixture(scope="module")
def structured():
    model = Structured().eval()
    x, bias, pair = structured_inputs()
    compiled = ingot.compile(model, inputs=(x,), kwargs={"bias": bias, "pair": pair}, backend=BACKEND)
    return model, compiled


def test_output_structure_and_numbers_match_pytorch(structured):
    model, compiled = structured
    torch.manual_seed(1)
    x, bias, pair = torch.randn(3, 8), torch.randn(4), [torch.randn(2, 2), torch.randn(2, 2)]
    with torch.no_grad():
        ref = model(x, bias=bias, pair=pair)
        got = compiled(x, bias=bias, pair=pair)
    assert isinstance(got, dict) and list(got) == ["h", "stats", "extra"]
    assert_close(got["h"], ref["h"])
    assert isinstance(got["stats"], tuple) and len(got["stats"]) == 3
    assert_close(got["stats"][0], ref["stats"][0])
    assert got["stats"][1] == 3 and got["stats"][2] is None
    assert_close(got["extra"], ref["extra"])


def test_any_mix_of_positional_and_keyword_arguments(structured):
    model, compiled = structured
    x, bias, pair = structured_inputs()
    with torch.no_grad():
        ref = model(x, 2.0, bias=bias, pair=pair)["h"]
        for got in (compiled(x, bias=bias, pair=pair), compiled(x=x, scale=2.0, pair=pair, bias=bias),
                    compiled(x, 2.0, bias=bias, pair=pair)):
            assert_close(got["h"], ref)


def test_another_non_tensor_value_is_refused(structured):
    _, compiled = structured
    x, bias, pair = structured_inputs()
    with pytest.raises(ingot.IngotError, match=r"argument 'scale' is 3.0, but the engine was built with 2.0"):
        compiled(x, 3.0, bias=bias, pair=pair)


def test_missing_tensor_argument_is_refused(structured):
    _, compiled = structured
    x, _, pair = structured_inputs()
    with pytest.raises(ingot.IngotError, match=r"argument 'bias' must be a tensor .* got NoneType"):
        compiled(x, pair=pair)


def test_unknown_keyword_and_other_structure_are_refused(structured):
    _, compiled = structured
    x, bias, pair = structured_inputs()
    with pytest.raises(ingot.IngotError, match=r"do not fit the method's signature.*'colour'"):
        compiled(x, bias=bias, pair=pair, colour=1)
    with pytest.raises(ingot.IngotError, match="structured differently"):
        compiled(x, bias=bias, pair=pair + [torch.randn(2, 2)])


def test_other_shape_or_dtype_is_refused(structured):
    _, compiled = structured
    _, bias, pair = structured_inputs()
    with pytest.raises(ingot.IngotError, match=r"argument 'x' is float32\[5, 8\], but the engine was built for "
                                               r"float32\[3, 8\].*recompile=True"):
        compiled(torch.randn(5, 8), bias=bias, pair=pair)
    with pytest.raises(ingot.IngotError, match=r"argument 'bias' is float64\[4\]"):
        compiled(torch.randn(3, 8), bias=bias.double(), pair=pair)


def test_transformers_model_output_is_rebuilt():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=100, max_position_embeddings=32)
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 11:] = 0
    compiled = ingot.compile(model, inputs={"input_ids": ids, "attention_mask": mask}, backend=BACKEND)
    ids2 = torch.randint(0, 100, (2, 16))
    with torch.no_grad():
        ref = model(input_ids=ids2, attention_mask=mask)
        got = compiled(ids2, attention_mask=mask)
    assert type(got) is type(ref)
    assert list(got.keys()) == list(ref.keys())
    assert_close(got.last_hidden_state, ref.last_hidden_state)
    assert_close(got.pooler_output, ref.pooler_output)


def test_compiled_submodule_replaces_the_original():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                                torch.nn.Conv2d(8, 8, 3, stride=2))
            self.head = torch.nn.Linear(8, 5)

        def forward(self, x):
            return self.head(self.backbone(x).mean(dim=(2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = net(x)
        net.backbone = ingot.compile(net.backbone, inputs=(x,), backend=BACKEND)
        got = net(x)
    assert isinstance(net.backbone, ingot.CompiledModule)
    assert_close(got, ref)


def test_other_method_and_saved_engine(tmp_path):
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(6, 5)

        def encode(self, x, y):
            h = torch.tanh(self.proj(x))
            return h, h * y

        def forward(self, x):
            return self.encode(x, x[..., :5])[0]

    torch.manual_seed(0)
    model = Encoder().eval()
    x, y = torch.randn(4, 6), torch.randn(4, 5)
    compiled = ingot.compile(model, inputs=(x, y), method_name="encode", backend=BACKEND)
    with torch.no_grad():
        ref = model.encode(x, y)
        got = compiled(x, y)
    assert isinstance(got, tuple) and len(got) == 2
    for g, r in zip(got, ref):
        assert_close(g, r)
    # The saved engine is an ordinary engine: flat outputs, same numbers.
    path = tmp_path / "encode.engine"
    compiled.engine.save(path)
    flat = ingot.load_engine(path)(x, y)
    for g, r in zip(flat, ref):
        assert_close(g, r)


def test_methods_without_tensor_results_or_with_star_args_are_refused():
    class NoTensor(torch.nn.Module):
        def forward(self, x):
            return x.shape[0]

    class StarArgs(torch.nn.Module):
        def forward(self, *xs):
            return xs[0] + xs[1]

    with pytest.raises(ingot.IngotError, match="returns no tensor"):
        ingot.compile(NoTensor(), inputs=(torch.randn(2),), backend=BACKEND)
    with pytest.raises(ingot.IngotError, match=r"cannot bind values to \*xs"):
        ingot.compile(StarArgs(), inputs=(torch.randn(2), torch.randn(2)), backend=BACKEND)


def test_recompile_builds_an_engine_per_new_call():
    torch.manual_seed(0)
    model = Structured().eval()
    x, bias, pair = structured_inputs()
    compiled = ingot.compile(model, inputs=(x,), kwargs={"bias": bias, "pair": pair}, backend=BACKEND,
                             recompile=True, max_engines=3)
    calls = [((torch.randn(5, 8),), {"bias": bias, "pair": pair}),        # another batch size
             ((torch.randn(3, 8), 0.5), {"bias": bias, "pair": pair}),   # another scale
             ((torch.randn(3, 8),), {"bias": bias, "pair": pair})]       # the first engine's call
    with torch.no_grad():
        for args, kwargs in calls:
            got, ref = compiled(*args, **kwargs), model(*args, **kwargs)
            assert_close(got["h"], ref["h"])
            assert_close(got["extra"], ref["extra"])
    assert len(compiled.engines) == 3
    assert [e.inputs[0].shape for e in compiled.engines] == [(3, 8), (5, 8), (3, 8)]
    with pytest.raises(ingot.IngotError, match=r"3 engines \(max_engines\) are built already"):
        compiled(torch.randn(7, 8), bias=bias, pair=pair)


def test_convert_refuses_non_tensor_results_and_points_to_compile():
    class WithNone(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x), None

    x = torch.randn(2, 3)
    with pytest.raises(ingot.UnsupportedOperatorError, match=r"user output 1 is None, not a tensor.*ingot.compile"):
        ingot.convert_method_to_engine(WithNone(), inputs=(x,), backend=BACKEND)
    compiled = ingot.compile(WithNone(), inputs=(x,), backend=BACKEND)
    got = compiled(x)
    assert got[1] is None and torch.equal(got[0], torch.relu(x))
