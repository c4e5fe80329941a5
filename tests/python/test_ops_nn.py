"""Neural-network converters, op by op: activations, elementwise arithmetic and
comparisons, casts, matrix products, convolutions, normalizations, pooling,
resizing and attention.

Each case is a tiny module exported in both IR dialects (plain torch.export
"training" IR and run_decompositions() core ATen), converted with
`ingot convert --backend cpu`, run with `ingot run`, and compared with the eager
module's own output (conftest.Harness: fp32 relative error <= 1e-4, NaN fails,
integers and bools exact, shapes and dtypes equal). Skipped without the binary.
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F


class Fn(nn.Module):
    """Wraps a function of the inputs; `modules` become submodules (their weights constants)."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, module in modules.items():
            self.add_module(name, module)

    def forward(self, *xs):
        return self.fn(self, *xs)


def rand(*shape):
    return torch.randn(*shape)


def ints(*shape, high=10):
    return torch.randint(-high, high, shape)


def _inplace_acts(m, x):
    y = x.clone()
    y.relu_()
    z = x * 1
    F.hardswish(z, inplace=True)
    w = x + 0
    F.silu(w, inplace=True)
    v = x - 0
    F.hardtanh(v, -0.5, 0.5, inplace=True)
    y += z
    y.mul_(2)
    return y, w, v


CASES = {
    # --- activation ----------------------------------------------------------------
    "relu_family": (lambda m, x: (F.relu(x), F.relu6(x * 4), F.leaky_relu(x, 0.2), F.elu(x, 0.7), F.selu(x),
                                  F.hardtanh(x, -0.3, 0.6)), [rand(2, 3, 4)]),
    "smooth_acts": (lambda m, x: (F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), torch.sigmoid(x),
                                  torch.tanh(x), F.mish(x), F.softplus(x, beta=2, threshold=3)), [rand(2, 3, 4)]),
    "hard_acts": (lambda m, x: (F.hardswish(x * 3), F.hardsigmoid(x * 3)), [rand(2, 3, 4)]),
    "inplace_acts": (_inplace_acts, [rand(2, 8)]),
    "math_fns": (lambda m, x: (torch.exp(x), torch.log(x.abs() + 0.1), torch.sqrt(x.abs()), torch.rsqrt(x.abs() + 0.5),
                               -x, torch.reciprocal(x + 3), torch.sin(x), torch.cos(x), torch.erf(x),
                               torch.log1p(x.abs()), torch.expm1(x)), [rand(3, 5)]),
    "rounding": (lambda m, x: (torch.floor(x * 3), torch.ceil(x * 3), torch.round(x * 3), torch.trunc(x * 3),
                               torch.sign(x), torch.round(x, decimals=1)), [rand(4, 5)]),
    "predicates": (lambda m, x: (torch.isnan(x), torch.logical_not(x > 0), torch.isinf(x / (x > 0))), [rand(3, 4)]),
    "int_to_float_fn": (lambda m, i: (torch.sigmoid(i), torch.exp(i.float() / 10), i.abs(), -i), [ints(3, 4)]),
    "bitwise_not": (lambda m, i: (~i, ~(i > 0)), [ints(3, 4)]),
    "clamps": (lambda m, x, lo: (x.clamp(-0.5, 0.5), x.clamp(min=0.1), x.clamp(max=-0.1), x.clamp(min=lo),
                                 torch.clamp(x, lo, lo + 1), x.clamp_min(0.0)), [rand(3, 4), rand(4)]),
    "int_clamp": (lambda m, i: i.clamp(-3, 4), [ints(3, 4)]),
    "pow": (lambda m, x, e: (x ** 2, x.abs() ** 0.5, x ** 3, 2.0 ** x, x.abs() ** e), [rand(3, 4), rand(3, 4)]),
    # --- elementwise ------------------------------------------------------------------
    "arith": (lambda m, a, b: (a + b, a - b, a * b, a / b, torch.add(a, b, alpha=2), torch.sub(a, b, alpha=0.5),
                               a + 1, 2 - a, a * 3, a / 4, torch.rsub(a, b)), [rand(3, 4), rand(4)]),
    "int_arith": (lambda m, i, j: (i + j, i * j, i - 3, i / (j.abs() + 1), i // (j.abs() + 1), i % 3,
                                   torch.fmod(i, 3), i * 1.5), [ints(3, 4), ints(3, 4)]),
    "div_modes": (lambda m, a, b: (torch.div(a, b, rounding_mode="floor"), torch.div(a, b, rounding_mode="trunc"),
                                   torch.div(a, 0.7, rounding_mode="floor"), torch.remainder(a, 0.7),
                                   torch.fmod(a, b), torch.floor_divide(a, 0.7)), [rand(3, 4), rand(3, 4) + 3]),
    "min_max": (lambda m, a, b: (torch.maximum(a, b), torch.minimum(a, b), torch.min(a, b)), [rand(3, 4), rand(3, 4)]),
    "comparisons": (lambda m, a, b, i: (a == b, a != b, a < b, a <= 0.5, a > 0, a >= b, i == 2, i < 1.5, i > a),
                    [rand(3, 4), torch.randn(3, 4).round(), ints(3, 4)]),
    "logical_bitwise": (lambda m, a, b, i, j: (torch.logical_and(a > 0, b > 0), torch.logical_or(a > 0, b),
                                               torch.logical_xor(a > 0, b > 0), i & j, i | j, i ^ j, (a > 0) & (b > 0),
                                               i & 3), [rand(3, 4), rand(3, 4), ints(3, 4), ints(3, 4)]),
    "where_masked_fill": (lambda m, a, b: (torch.where(a > 0, a, b), torch.where(a > 0, 1.0, b),
                                           torch.where(a > 0, a, 0.0), a.masked_fill(b > 0, -1e4),
                                           a.masked_fill(b > 0, torch.tensor(2.0))), [rand(3, 4), rand(3, 4)]),
    "casts": (lambda m, a, i: (a.to(torch.int64), i.float(), (a > 0).to(torch.float32), a.double() * 2,
                               i.type_as(a), a.to(torch.float32) + 1), [rand(3, 4) * 10, ints(3, 4)]),
    "lerp_addcmul": (lambda m, a, b: (torch.lerp(a, b, 0.3), torch.addcmul(a, a, b, value=0.5),
                                      torch.addcdiv(a, a, b.abs() + 1)), [rand(3, 4), rand(3, 4)]),
    # --- linear ---------------------------------------------------------------------------
    "linear_layers": (lambda m, x: (m.fc(x), m.fc_nobias(x), m.fc(x[0, 0])),
                      [rand(2, 3, 16)], dict(fc=nn.Linear(16, 8), fc_nobias=nn.Linear(16, 5, bias=False))),
    "matmul_ranks": (lambda m, a, b, v: (a @ b, a[0] @ b[0], v @ b[0], a[0] @ v,
                                         v @ v, a @ b[0], torch.mm(a[0], b[0]), torch.bmm(a, b)),
                     [rand(2, 3, 5), rand(2, 5, 4), rand(5)]),
    "addmm_baddbmm": (lambda m, c, a, b, c3, a3, b3: (torch.addmm(c, a, b), torch.addmm(c, a, b, beta=0.5, alpha=2),
                                                      torch.baddbmm(c3, a3, b3, beta=0.3, alpha=1.5),
                                                      torch.mv(a, b[:, 0])),
                      [rand(3, 4), rand(3, 5), rand(5, 4), rand(2, 3, 4), rand(2, 3, 5), rand(2, 5, 4)]),
    # --- conv --------------------------------------------------------------------------------
    "conv2d": (lambda m, x: (m.c(x), m.dw(x), m.strided(x), m.dilated(x)),
               [rand(2, 4, 9, 9)],
               dict(c=nn.Conv2d(4, 6, 3, padding=1), dw=nn.Conv2d(4, 4, 3, groups=4, bias=False),
                    strided=nn.Conv2d(4, 2, (3, 2), stride=(2, 1), padding=(1, 0)),
                    dilated=nn.Conv2d(4, 3, 3, dilation=2, padding=2))),
    "conv_same_valid": (lambda m, x, w: (m.same_odd(x), m.same_even(x), m.valid(x), m.c1(w), m.c1same(w)),
                        [rand(1, 4, 7, 8), rand(2, 4, 10)],
                        dict(same_odd=nn.Conv2d(4, 3, 3, padding="same"), same_even=nn.Conv2d(4, 3, 4, padding="same"),
                             valid=nn.Conv2d(4, 3, 3, padding="valid"), c1=nn.Conv1d(4, 5, 3, stride=2),
                             c1same=nn.Conv1d(4, 5, 4, padding="same", dilation=2))),
    "conv_transpose": (lambda m, x, w: (m.t2(x), m.t1(w)),
                       [rand(2, 4, 5, 5), rand(2, 4, 7)],
                       dict(t2=nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
                            t1=nn.ConvTranspose1d(4, 3, 3, stride=2))),
    "conv_unbatched": (lambda m, x: m.c(x), [rand(4, 6, 6)], dict(c=nn.Conv2d(4, 3, 3))),
    # --- norm -------------------------------------------------------------------------------------
    "batch_norm": (lambda m, x, y: (m.bn(x), m.bn1(y)), [rand(2, 4, 5, 5), rand(3, 4)],
                   dict(bn=nn.BatchNorm2d(4), bn1=nn.BatchNorm1d(4))),
    "layer_norm": (lambda m, x: (m.ln(x), m.ln2(x), F.layer_norm(x, (6,))), [rand(2, 3, 5, 6)],
                   dict(ln=nn.LayerNorm(6), ln2=nn.LayerNorm((5, 6), elementwise_affine=False))),
    "group_instance_norm": (lambda m, x: (m.gn(x), m.inn(x), m.inn_plain(x)), [rand(2, 6, 4, 5)],
                            dict(gn=nn.GroupNorm(3, 6), inn=nn.InstanceNorm2d(6, affine=True),
                                 inn_plain=nn.InstanceNorm2d(6))),
    "rms_norm": (lambda m, x: (m.rms(x), m.rms_eps(x), F.rms_norm(x, (8,))), [rand(2, 3, 8)],
                 dict(rms=nn.RMSNorm(8), rms_eps=nn.RMSNorm(8, eps=1e-3))),
    # --- pool -------------------------------------------------------------------------------------------
    "max_pool": (lambda m, x: (F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1), F.max_pool2d(x, 3, 2, ceil_mode=True),
                               F.max_pool2d(x, 2, 1, dilation=2), F.max_pool1d(x.flatten(2), 3)), [rand(2, 3, 9, 9)]),
    "avg_pool": (lambda m, x: (F.avg_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                               F.avg_pool2d(x, 3, 2, ceil_mode=True), F.avg_pool2d(x, 2, divisor_override=3),
                               F.avg_pool1d(x.flatten(2), 4)), [rand(2, 3, 9, 9)]),
    "adaptive_pool": (lambda m, x: (F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (3, 4)),
                                    F.adaptive_max_pool2d(x, 2), F.adaptive_avg_pool1d(x.flatten(2), 5)),
                      [rand(2, 3, 9, 7)]),
    "upsample": (lambda m, x: (F.interpolate(x, scale_factor=2, mode="nearest"), F.interpolate(x, size=(7, 9)),
                               F.interpolate(x, scale_factor=2, mode="bilinear"),
                               F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True),
                               F.interpolate(x, scale_factor=1.5, mode="nearest-exact"),
                               F.interpolate(x, scale_factor=2, mode="bicubic")), [rand(1, 2, 4, 5)]),
    # --- attention -----------------------------------------------------------------------------------------
    "sdpa": (lambda m, q, k, v: (F.scaled_dot_product_attention(q, k, v),
                                 F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                 F.scaled_dot_product_attention(q, k, v, scale=0.3)),
             [rand(2, 3, 5, 8), rand(2, 3, 5, 8), rand(2, 3, 5, 6)]),
    "sdpa_masks": (lambda m, q, k, v, bias: (F.scaled_dot_product_attention(q, k, v, attn_mask=bias),
                                             F.scaled_dot_product_attention(q, k, v, attn_mask=bias > -0.5)),
                   [rand(2, 3, 4, 8), rand(2, 3, 6, 8), rand(2, 3, 6, 8), rand(2, 1, 4, 6)]),
    "sdpa_gqa": (lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                 [rand(1, 4, 5, 8), rand(1, 2, 5, 8), rand(1, 2, 5, 8)]),
    "mha_module": (lambda m, x: m.mha(x, x, x, need_weights=False)[0], [rand(2, 5, 16)],
                   dict(mha=nn.MultiheadAttention(16, 2, batch_first=True))),
}

# F.grid_sample in every mode, padding mode and corner convention; the grid reaches
# past [-1, 1] so that zeros, border clamping and reflection all matter.
GRID = torch.rand(2, 5, 7, 2, generator=torch.Generator().manual_seed(3)) * 2.6 - 1.3
for _mode in ("bilinear", "nearest", "bicubic"):
    for _padding in ("zeros", "border", "reflection"):
        for _ac in (False, True):
            CASES[f"grid_sample_{_mode}_{_padding}_{int(_ac)}"] = (
                lambda m, x, g, _mode=_mode, _padding=_padding, _ac=_ac:
                    F.grid_sample(x, g, mode=_mode, padding_mode=_padding, align_corners=_ac),
                [rand(2, 3, 6, 9), GRID])


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", list(CASES))
def test_nn_op_matches_pytorch(name, dialect, convert_and_run):
    fn, inputs, *modules = CASES[name]
    torch.manual_seed(0)
    module = Fn(fn, **(modules[0] if modules else {}))
    if name in ("batch_norm",):
        # Non-trivial running statistics, so an ignored mean/var would show.
        for bn in (module.bn, module.bn1):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    convert_and_run(module, tuple(inputs), dialect, key=f"nn_{name}")


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_max_pool_indices_refused(dialect, harness):
    """Pooling indices are not supported: the converter must refuse with a clear message."""
    from conftest import assert_clean_failure, run_ingot

    module = Fn(lambda m, x: F.max_pool2d(x, 2, return_indices=True)[1] + 0).eval()
    pt2, _ = harness.export(module, (rand(1, 2, 4, 4),), dialect, "nn_pool_indices")
    proc = run_ingot("convert", pt2, "-o", pt2.with_suffix(".engine"), "--backend", "cpu")
    assert_clean_failure(proc, r"indices")


def test_grid_sample_is_refused_on_cuda_before_building(harness):
    """grid_sample has a CPU kernel only: a cuda build is refused up front, naming the node."""
    from conftest import assert_clean_failure, run_ingot

    module = Fn(lambda m, x, g: F.grid_sample(x, g, align_corners=False)).eval()
    pt2, _ = harness.export(module, (rand(1, 2, 4, 4), GRID[:1]), "training", "nn_grid_sample_cuda")
    engine = pt2.with_suffix(".cuda.engine")
    proc = run_ingot("convert", pt2, "-o", engine, "--backend", "cuda", "--cuda-arch", "sm_90")
    if "needs an ingot built with CUDA" in proc.stdout + proc.stderr:
        pytest.skip("this ingot has no CUDA backend")
    assert_clean_failure(proc, r"no CUDA kernel[\s\S]*grid_sampler")
    assert not engine.exists()
