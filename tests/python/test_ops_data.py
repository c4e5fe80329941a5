"""Data-movement, reduction, indexing, creation and misc converters, op by op.

Each case is a tiny module exported in both IR dialects (plain torch.export
"training" IR and run_decompositions() core ATen), converted with
`ingot convert --backend cpu`, run with `ingot run`, and compared with the eager
module's own output (conftest.Harness: fp32 relative error <= 1e-4, NaN fails,
integers and bools exact, shapes and dtypes equal). Skipped without the binary.
"""
import pytest
import torch
import torch.nn.functional as F


class Fn(torch.nn.Module):
    """Wraps a function of the inputs; `buffers` become module buffers (constants)."""

    def __init__(self, fn, **buffers):
        super().__init__()
        self.fn = fn
        for name, value in buffers.items():
            self.register_buffer(name, value)

    def forward(self, *xs):
        return self.fn(self, *xs)


def rand(*shape):
    return torch.randn(*shape)


def ints(*shape, high=10):
    return torch.randint(-high, high, shape)


def _swin_style_mask(m, x):
    # In-place writes into slices of a fresh tensor (torchvision swin's attention mask).
    mask = x.new_zeros((6, 6))
    count = 0
    for h in (slice(0, -3), slice(-3, -1), slice(-1, None)):
        for w in (slice(0, -3), slice(-3, -1), slice(-1, None)):
            mask[h, w] = count
            count += 1
    return x + mask


def _fill_whole(m, x):
    y = x * 2
    y.fill_(3.0)
    return y + x


CASES = {
    # --- reduction ---------------------------------------------------------------
    "sum_all": (lambda m, x: x.sum(), [rand(3, 4)]),
    "sum_dim_keepdim": (lambda m, x: x.sum(dim=(0, 2), keepdim=True), [rand(3, 4, 5)]),
    "sum_int_promotes": (lambda m, x: x.sum(dim=1), [ints(3, 4)]),
    "sum_dtype": (lambda m, x: x.sum(dim=-1, dtype=torch.float64), [rand(3, 4)]),
    "mean_dim": (lambda m, x: x.mean(dim=[-1, -2], keepdim=True), [rand(2, 3, 4, 5)]),
    "mean_all": (lambda m, x: x.mean(), [rand(2, 3)]),
    "amax_amin": (lambda m, x: torch.amax(x, dim=1) - torch.amin(x, dim=(0, 2)).sum(), [rand(3, 4, 5)]),
    "max_dim": (lambda m, x: tuple(torch.max(x, dim=1)), [rand(3, 7)]),
    "min_dim_keepdim": (lambda m, x: tuple(torch.min(x, dim=0, keepdim=True)), [rand(3, 7)]),
    "max_full": (lambda m, x: x.max() + x.min(), [rand(3, 7)]),
    "any_all": (lambda m, x: ((x > 0).any(dim=1), (x > -3).all(), (x > 0).any()), [rand(4, 5)]),
    "prod_dim": (lambda m, x: x.prod(dim=1), [rand(3, 4)]),
    "argmax_argmin": (lambda m, x: (x.argmax(dim=1), x.argmin(), x.argmax(dim=0, keepdim=True)), [rand(4, 6)]),
    "var_std": (lambda m, x: (x.var(dim=1), x.std(dim=1, correction=0), x.var(unbiased=False)), [rand(4, 6)]),
    "var_mean": (lambda m, x: torch.var_mean(x, dim=-1, keepdim=True), [rand(4, 6)]),
    "softmax": (lambda m, x: (F.softmax(x, dim=-1), F.log_softmax(x, dim=1)), [rand(2, 5, 7)]),
    "softmax_dtype": (lambda m, x: F.softmax(x, dim=0, dtype=torch.float64), [rand(5, 3)]),
    "cumsum_cumprod": (lambda m, x, i: (x.cumsum(1), i.cumsum(0), (x * 0.5).cumprod(dim=-1)),
                       [rand(3, 5), ints(4, 3)]),
    "norm": (lambda m, x: (x.norm(dim=1), torch.linalg.vector_norm(x, ord=1, dim=0)), [rand(4, 5)]),
    "logsumexp": (lambda m, x: torch.logsumexp(x, dim=1), [rand(4, 5)]),
    # --- shape -------------------------------------------------------------------
    "views": (lambda m, x: (x.view(4, 6) + 1, x.reshape(-1, 2) * 2, x.flatten(1) - 1,
                            x.unflatten(2, (2, 2)) * 3), [rand(2, 3, 4)]),
    "permute_transpose": (lambda m, x: (x.permute(2, 0, 1) + 0, x.transpose(0, 2).contiguous() * 2,
                                        x[0].t() + 1, torch.movedim(x, 0, -1) * 1), [rand(2, 3, 4)]),
    "expand": (lambda m, x, y: (x.expand(3, 4, 5) + 0, y.expand(4, 5) * 1, y.expand_as(x.expand(4, 5)) + 1),
               [rand(4, 1), rand(1, 5)]),
    "squeeze_unsqueeze": (lambda m, x: (x.squeeze() + 1, x.squeeze(1) * 2, x.unsqueeze(0) - 1,
                                        x.unsqueeze(-1) * 3), [rand(3, 1, 4, 1)]),
    "cat_stack": (lambda m, x, y, i: (torch.cat([x, y], dim=1), torch.stack([x, x * 2], dim=1),
                                      torch.cat([x, i], dim=0)), [rand(2, 3), rand(2, 4), ints(1, 3)]),
    "split_chunk": (lambda m, x: (*torch.split(x, 3, dim=1), *torch.split(x, [1, 4, 2], dim=1),
                                  *x.chunk(3, dim=0)), [rand(5, 7)]),
    "unbind": (lambda m, x: [t * 2 for t in x.unbind(1)], [rand(2, 3, 4)]),
    "slice": (lambda m, x: (x[:, 1:-1] * 1, x[::2, -3:] + 0, x[1:, :100:3] - 0, x[-100:2] * 2), [rand(5, 7)]),
    "select_narrow": (lambda m, x: (x[:, -1] * 1, x[2] + 1, x.narrow(1, 2, 3) * 2), [rand(4, 6)]),
    "pad_modes": (lambda m, x: (F.pad(x, (1, 2)), F.pad(x, (1, 1, 2, 0), value=-1.5),
                                F.pad(x, (2, 1, 1, 2), mode="reflect"), F.pad(x, (1, 2, 2, 1), mode="replicate"),
                                F.pad(x, (1, 1, 1, 1), mode="circular")), [rand(1, 2, 4, 5)]),
    "repeat_tile": (lambda m, x: (x.repeat(2, 1, 3), x.tile((2,)), x.repeat(2, 2) * 1), [rand(2, 3)]),
    # F.unfold (im2col): ConvBERT's span convolution, with padding, stride, dilation, unbatched.
    "unfold_im2col": (lambda m, x: (F.unfold(x, kernel_size=[9, 1], padding=[4, 0]) * 1,
                                    F.unfold(x, 3, dilation=2, padding=1, stride=2) + 0,
                                    F.unfold(x[0], (2, 3)) * 2), [rand(2, 3, 10, 7)]),
    # GPT-J / CodeGen rotary embeddings: repeat_interleave with an int count (plain export IR).
    "repeat_interleave": (lambda m, x: (torch.repeat_interleave(x, 2, dim=3), x.repeat_interleave(3, dim=-3) * 1,
                                        x.repeat_interleave(2)), [rand(2, 3, 1, 4)]),
    "flip_roll": (lambda m, x: (x.flip(0, 2), torch.roll(x, shifts=(1, -2), dims=(1, 2)), torch.roll(x, 5)),
                  [rand(2, 3, 4)]),
    "as_strided": (lambda m, x: x.as_strided((3, 2), (1, 3)) + 0, [rand(2, 3)]),
    # --- indexing ----------------------------------------------------------------
    "embedding": (lambda m, i: F.embedding(i, m.table), [torch.randint(0, 10, (2, 5))],
                  dict(table=torch.randn(10, 4))),
    "index_select_gather": (lambda m, x, i: (x.index_select(1, i[0].clamp(0, 4)),
                                             torch.gather(x, 1, i.clamp(0, 4))),
                            [rand(3, 5), torch.randint(0, 5, (3, 2))]),
    "index_tensor": (lambda m, x, i: (x[:, i] * 1, x[i, :, i] + 0, x[:, :, i[:2]] * 2),
                     [rand(3, 3, 4), torch.tensor([2, 0, 1])]),
    "scatters": (lambda m, x, s, r: (torch.slice_scatter(x, s, dim=1, start=1, end=5, step=2),
                                     torch.select_scatter(x, r, 0, -1)),
                 [rand(3, 6), rand(3, 2), rand(6)]),
    # --- creation ----------------------------------------------------------------
    "arange": (lambda m, x: (x + torch.arange(4), torch.arange(1, 3, 0.5), torch.arange(2, 11, 3) * 1),
               [rand(3, 4)]),
    "full_like": (lambda m, x: (x + torch.full((3, 4), 2.5), torch.zeros_like(x) + 1, torch.ones_like(x, dtype=torch.int64),
                                x.new_zeros((2,)) + 3, x.new_ones((2, 2)) * 2, x.new_full((3,), 7) + 1,
                                torch.full_like(x, -1) * x), [rand(3, 4)]),
    "eye_linspace": (lambda m, x: (x + torch.eye(3, 4), torch.linspace(-1, 2, 7) * 2), [rand(3, 4)]),
    "tril_triu": (lambda m, x: (torch.tril(x), torch.triu(x, diagonal=1),
                                torch.tril(torch.ones(4, 4, dtype=torch.bool)) & (x[0] > 0)), [rand(4, 4)]),
    # --- misc --------------------------------------------------------------------
    "dropout_clone": (lambda m, x: F.dropout(x, 0.5, training=False).clone().detach() * 2, [rand(3, 4)]),
    "swin_style_mask": (_swin_style_mask, [rand(6, 6)]),
    "fill_whole": (_fill_whole, [rand(2, 3)]),
}


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", list(CASES))
def test_op_matches_pytorch(name, dialect, convert_and_run):
    fn, inputs, *buffers = CASES[name]
    torch.manual_seed(0)
    module = Fn(fn, **(buffers[0] if buffers else {}))
    convert_and_run(module, tuple(inputs), dialect, key=f"ops_{name}")
