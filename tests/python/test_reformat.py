"""End-to-end tests of fold_reformat (src/passes/fold_reformat.cc) against PyTorch.

At fp16 and bf16, precision lowering casts a network's float32 input and
conv_as_gemm cuts a patch-embedding convolution's input into patches with a
reshape and a permute: the pass makes the cast and the permute one `reformat`
step. The first tests build such engines at a reduced precision whatever the
suite's INGOT_TEST_PRECISION and check that the step is there and that the output
matches the float32 PyTorch module within the precision's tolerance; fp16 and
bf16 engines need --backend cuda, so on the CPU backend (CI) they are skipped and
the GPU machine runs them (scripts/gpu_check.sh test). The last ones need no
lowering: a model that converts and permutes its own input or output gets a
reformat on any backend and precision, checked against PyTorch's output there.
The pass itself is tested on the IR and on numbers in tests/cpp/test_fold_reformat.cc.
"""
import numpy as np
import pytest
import torch
import torch.nn as nn

from conftest import BACKEND, PRECISION_TOLERANCE, converted_ops, describe, engine_ops, run_ingot


class PatchEmbed(nn.Module):
    """ViT's stem: a stride = kernel convolution, flattened to tokens, then a linear."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 32, kernel_size=8, stride=8)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self.head(tokens)


@pytest.mark.skipif(BACKEND != "cuda", reason="fp16/bf16 engines need --backend cuda")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_patch_embedding_input_is_one_reformat(harness, precision, tmp_path):
    torch.manual_seed(0)
    module = PatchEmbed().eval()
    x = torch.randn(2, 3, 32, 40)
    with torch.no_grad():
        expected = module(x).numpy()
    pt2, names = harness.export(module, [x], "training", "patch_embed")
    engine = tmp_path / f"patch_embed.{precision}.engine"
    proc = run_ingot("convert", pt2, "-o", engine, "--backend", BACKEND, "--precision", precision, "--quiet")
    assert proc.returncode == 0, describe(proc)
    ops = engine_ops(engine)
    assert "reformat" in ops, ops
    assert "permute" not in ops and ops.count("cast") == 1, ops  # only the output's cast is left
    (out,) = harness.run(engine, {names[0]: x.numpy()}, tmp_path / "out")
    assert out.shape == expected.shape and out.dtype == np.float32
    assert not np.isnan(out).any()
    rel = np.linalg.norm(out.astype(np.float64) - expected) / np.linalg.norm(expected)
    assert rel <= PRECISION_TOLERANCE[precision], f"relative error {rel:.3e}"


class HalfImageToChannelsLast(nn.Module):
    """A float16 image read as float32 channels-last (the cast, then the permute)."""

    def forward(self, x):
        return x.float().permute(0, 2, 3, 1) * 2.0


class ChannelsLastToHalf(nn.Module):
    """A float32 channels-last map handed back as float16 NCHW (the permute, then the cast)."""

    def forward(self, x):
        return (x * 2.0).permute(0, 3, 1, 2).half()


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_model_casts_and_permutes_are_one_reformat(harness, dialect):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7).half()
    harness.convert_and_run(HalfImageToChannelsLast(), [x], dialect, key="half_to_nhwc")
    assert "reformat" in converted_ops(harness, "half_to_nhwc", dialect)
    y = torch.randn(2, 5, 7, 3)
    harness.convert_and_run(ChannelsLastToHalf(), [y], dialect, key="nhwc_to_half")
    ops = converted_ops(harness, "nhwc_to_half", dialect)
    assert "reformat" in ops and "permute" not in ops, ops
