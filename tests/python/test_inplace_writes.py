"""In-place writes through views in the plain torch.export IR, which keeps them as
copy_ / fill_ / zero_ nodes on select/slice views (run_decompositions() turns them
into slice_scatter). Ingot makes them functional: the written tensor's name is
rebound to its new value, so later readers see the write. Every case is compared
with PyTorch's own output, in both IR dialects.

Written tensors come from creation ops (zeros, full, empty_like().zero_()), from
arithmetic, from clone() and from contiguous() of a permuted tensor (which
PyTorch copies). A view of the written tensor that is read again after the write
would hold stale values in ingot: that model is refused with a clear message
instead, as is a write into a view of a model input.
"""
import pytest
import torch

from conftest import assert_clean_failure, run_ingot


class SelectWriteIntoZeros(torch.nn.Module):
    def forward(self, k):
        out = torch.zeros_like(k)
        out[:, 0] = k[:, 0] * 2
        return out


class LoopWrites(torch.nn.Module):
    """RWKV's time loop: one row of the output written per step, reading the state."""

    def forward(self, k, v):
        out = torch.zeros_like(k)
        state = torch.zeros_like(k[:, 0])
        for t in range(k.shape[1]):
            state = state * 0.5 + k[:, t] * v[:, t]
            out[:, t] = state
        return out


class SliceWriteAndFill(torch.nn.Module):
    def forward(self, k):
        out = torch.full(k.shape, 3.0)
        out[:, 2:5] = k[:, 2:5]
        out[1, :, ::2] = -1.0
        return out * 2


class WholeTensorWrites(torch.nn.Module):
    def forward(self, k):
        out = torch.empty_like(k).zero_()
        out[:, 0] = k[:, 0]
        buf = k.new_zeros(k.shape)
        buf.copy_(k + 1)
        buf[0, 1] = 7.0
        return out, buf


class WriteIntoComputedAndClone(torch.nn.Module):
    def forward(self, k):
        y = k * 2 + 1
        before = y.sum(dim=-1)      # read before the write: sees the old values
        y[:, 1] = 0.0
        c = k.clone()
        c[0] = c[1]                 # the input itself must stay unchanged
        return y, before, c, k + 0


class BeitRelativeIndex(torch.nn.Module):
    """BEiT's relative position index: writes into a contiguous() copy of a permute."""

    def forward(self, table):
        coords = torch.stack(torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij")).flatten(1)
        rel = coords[:, :, None] - coords[:, None, :]
        rel = rel.permute(1, 2, 0).contiguous()
        rel[:, :, 0] += 2
        rel[:, :, 1] += 2
        rel[:, :, 0] *= 5
        index = torch.zeros(10, 10, dtype=rel.dtype)
        index[1:, 1:] = rel.sum(-1)
        index[0, 0:] = 25
        return table[index.view(-1)].view(10, 10, -1)


class ReshapeCopyWrite(torch.nn.Module):
    """reshape() of a transposed tensor copies in PyTorch: the write must not reach k2."""

    def forward(self, k):
        k2 = k * 1.5
        flat = k2.transpose(1, 2).reshape(k.shape[0], -1)
        flat[:, 0] = 100.0
        return flat, k2


X = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(0))
V = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(1))
CASES = {
    "select_write_into_zeros": (SelectWriteIntoZeros(), (X,)),
    "loop_writes": (LoopWrites(), (X, V)),
    "slice_write_and_fill": (SliceWriteAndFill(), (X,)),
    "whole_tensor_writes": (WholeTensorWrites(), (X,)),
    "write_into_computed_and_clone": (WriteIntoComputedAndClone(), (X,)),
    "beit_relative_index": (BeitRelativeIndex(), (torch.randn(26, 4, generator=torch.Generator().manual_seed(2)),)),
    "reshape_copy_write": (ReshapeCopyWrite(), (X,)),
}


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_write_matches_pytorch(name, dialect, convert_and_run):
    module, inputs = CASES[name]
    convert_and_run(module, inputs, dialect, key=f"inplace-{name}")


class StaleViewRead(torch.nn.Module):
    """A view taken before the write and read after it: ingot refuses (it would be stale)."""

    def forward(self, k):
        out = torch.zeros_like(k)
        row = out[:, 1]
        out[:, 1] = k[:, 1]
        return row * 2


class WriteIntoInputView(torch.nn.Module):
    def forward(self, k):
        view = k.detach()[:, 0]
        view.fill_(1.0)
        return k * 2


@pytest.mark.parametrize("module,pattern", [
    (StaleViewRead(), r"view or alias of 'zeros_like'.*written in place"),
    (WriteIntoInputView(), r"in place|in-place"),
], ids=["stale_view_read", "write_into_input_view"])
def test_unsafe_inplace_writes_are_refused(module, pattern, harness):
    try:
        pt2, _ = harness.export(module, (X,), "training", f"inplace-refused-{type(module).__name__}")
    except Exception as e:  # PyTorch itself may refuse to export an input mutation
        pytest.skip(f"torch.export refuses this model: {e}")
    proc = run_ingot("convert", pt2, "-o", pt2.with_suffix(".engine"), "--backend", "cpu")
    assert_clean_failure(proc, pattern)
