"""More torchvision models through ingot, as a new user would bring them.

Complements test_models.py (ResNet, MobileNet v2/v3, EfficientNet-B0, ConvNeXt-T,
RegNet-Y, ViT-B, Swin-T, DeepLabV3) with the rest of the torchvision classification
zoo and two segmentation models. Each model is built with random weights (fixed
seed, BatchNorm statistics calibrated on random images, eval mode), exported in
both IR dialects, converted with `ingot convert`, run with `ingot run` and compared
with PyTorch's own output (conftest.py's harness: relative error <= 1e-4 in fp32).

Inputs are 64x64 where the architecture allows it (Inception-v3 needs 75x75 or
more, MaxViT a partition size that divides every stage). Models with more than
LARGE_PARAMS parameters (AlexNet, VGG, Wide-ResNet, ConvNeXt-S, ViT-L, FCN), and
EfficientNet-V2-S (many layers), take long to export and convert on a small
machine; they run only with INGOT_TEST_LARGE_MODELS=1 (the default run stays
under 3 minutes on two cores).
"""
import os

import pytest
import torch

LARGE_PARAMS = 30_000_000
RUN_LARGE = os.environ.get("INGOT_TEST_LARGE_MODELS") == "1"


def _calibrate_batchnorm(model, image_shape):
    """Running statistics measured on random images (as a trained network has);
    freshly initialised ones (mean 0, var 1) shrink activations layer after layer."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    if norms:
        model.train()
        with torch.no_grad():
            model(torch.randn(4, *image_shape[1:]))
    return model.eval()


def _randomize_zero_heads(model):
    """torchvision initialises some classifier heads (ViT) to exactly zero, which
    would make the comparison vacuous (0 == 0); give them random weights."""
    for m in model.modules():
        if isinstance(m, torch.nn.Linear) and not m.weight.detach().any():
            torch.nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                torch.nn.init.normal_(m.bias, std=0.02)
    return model


def _vision(factory, size=64, batch=2, **kwargs):
    def build():
        import torchvision
        torch.manual_seed(0)
        model = factory(torchvision)(weights=None, **kwargs)
        image_shape = (batch, 3, size, size)
        model = _calibrate_batchnorm(_randomize_zero_heads(model), image_shape)
        torch.manual_seed(1)
        return model, (torch.randn(*image_shape),)
    return build


def _classifier(name, **kwargs):
    return _vision(lambda tv: getattr(tv.models, name), **kwargs)


def _segmentation(name, **kwargs):
    return _vision(lambda tv: getattr(tv.models.segmentation, name), weights_backbone=None, **kwargs)


def _small_vit():
    """torchvision's VisionTransformer code at a small size (ViT-L itself is 300M parameters)."""
    def build():
        from torchvision.models.vision_transformer import VisionTransformer
        torch.manual_seed(0)
        model = VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=4, hidden_dim=64,
                                  mlp_dim=128)
        model = _randomize_zero_heads(model).eval()
        torch.manual_seed(1)
        return model, (torch.randn(2, 3, 64, 64),)
    return build


def _small_maxvit():
    """maxvit_t's configuration with one block per stage; its window and grid
    partitions must divide every stage (16, 8, 4, 2 at 64x64), hence partition 2.
    Its training IR keeps torch.einsum (the attention scores)."""
    def build():
        from torchvision.models.maxvit import MaxVit
        torch.manual_seed(0)
        model = MaxVit(input_size=(64, 64), stem_channels=64, partition_size=2, block_channels=[64, 128, 256, 512],
                       block_layers=[1, 1, 1, 1], head_dim=32, stochastic_depth_prob=0.2)
        model = _calibrate_batchnorm(model, (2, 3, 64, 64))
        torch.manual_seed(1)
        return model, (torch.randn(2, 3, 64, 64),)
    return build


MODELS = {
    "squeezenet1_1": _classifier("squeezenet1_1"),
    "mobilenet_v3_small": _classifier("mobilenet_v3_small"),
    "shufflenet_v2_x1_0": _classifier("shufflenet_v2_x1_0"),
    "mnasnet1_0": _classifier("mnasnet1_0"),
    "googlenet": _classifier("googlenet", aux_logits=False, init_weights=True),
    "inception_v3": _classifier("inception_v3", size=80, aux_logits=False, init_weights=True),
    "densenet121": _classifier("densenet121"),
    "regnet_x_400mf": _classifier("regnet_x_400mf"),
    "resnext50_32x4d": _classifier("resnext50_32x4d"),
    "swin_v2_t": _classifier("swin_v2_t"),
    "maxvit": _small_maxvit(),
    "vit_small": _small_vit(),
    "lraspp_mobilenet_v3_large": _segmentation("lraspp_mobilenet_v3_large"),
    # Large ones (INGOT_TEST_LARGE_MODELS=1).
    "efficientnet_v2_s": _classifier("efficientnet_v2_s"),  # 21M, but slow to export and run
    "alexnet": _classifier("alexnet", batch=1),
    "vgg11_bn": _classifier("vgg11_bn", batch=1),
    "wide_resnet50_2": _classifier("wide_resnet50_2", batch=1),
    "convnext_small": _classifier("convnext_small", batch=1),
    "fcn_resnet50": _segmentation("fcn_resnet50", batch=1, aux_loss=False),
    "vit_l_16": _classifier("vit_l_16", size=224, batch=1),
}
LARGE = {"efficientnet_v2_s", "alexnet", "vgg11_bn", "wide_resnet50_2", "convnext_small", "fcn_resnet50", "vit_l_16"}

_built = {}


def _build(name):
    if name not in _built:
        model, inputs = MODELS[name]()
        params = sum(p.numel() for p in model.parameters())
        # The size check keeps the default run short; the LARGE list says which to expect.
        _built[name] = (model, inputs, params)
    return _built[name]


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", list(MODELS))
def test_vision_model_matches_pytorch(name, dialect, convert_and_run):
    if name in LARGE and not RUN_LARGE:
        pytest.skip(f"{name} is large or slow on a small machine; set INGOT_TEST_LARGE_MODELS=1")
    model, inputs, params = _build(name)
    if params > LARGE_PARAMS and not RUN_LARGE:
        pytest.skip(f"{name} has {params:,} parameters; set INGOT_TEST_LARGE_MODELS=1")
    convert_and_run(model, inputs, dialect, key=f"zoo-{name}")


class EinsumZoo(torch.nn.Module):
    """torch.einsum forms found in vision and language models (attention scores and
    values with named batch dims, bilinear forms, ellipsis, implicit output, a
    reduction-only operand, three operands)."""

    def forward(self, q, k, v, w):
        scores = torch.einsum("B G H I D, B G H J D -> B G H I J", q, k)  # MaxViT
        attn = torch.einsum("bghij,bghjd->bghid", scores.softmax(-1), v)
        x = torch.einsum("...id,de->...ie", attn, w)
        trace_like = torch.einsum("bghid->bi", attn)
        outer = torch.einsum("i,j", w[0], w[:, 1])
        chain = torch.einsum("bghid,de,ef->bghif", attn, w, w)
        transposed = torch.einsum("bghij->bgjih", scores)
        return x, trace_like, outer, chain, transposed


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_einsum_forms_match_pytorch(dialect, convert_and_run):
    torch.manual_seed(0)
    inputs = (torch.randn(2, 3, 4, 5, 8), torch.randn(2, 3, 4, 6, 8), torch.randn(2, 3, 4, 6, 8),
              torch.randn(8, 8))
    convert_and_run(EinsumZoo(), inputs, dialect, key="einsum-zoo")


class TensorSplits(torch.nn.Module):
    """torch.tensor_split by indices (MViT's class-token split) and by sections
    (uneven: 5 into 2 + 2 + 1), with an unused piece."""

    def forward(self, x):
        cls, rest = torch.tensor_split(x, (1,), dim=2)
        a, b, c = torch.tensor_split(rest, 3, dim=3)
        _, tail = torch.tensor_split(x, [-2], dim=1)
        return cls * 3, a, b * 2, c, tail


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_tensor_split_matches_pytorch(dialect, convert_and_run):
    torch.manual_seed(0)
    convert_and_run(TensorSplits(), (torch.randn(2, 3, 5, 5),), dialect, key="tensor-split")


class WriteIntoComputedSlice(torch.nn.Module):
    """MViT's relative position bias: `attn[:, :, 1:, 1:] = ... + bias` then `attn` is read."""

    def forward(self, x, bias):
        attn = x.softmax(-1) * 2.0
        attn[:, :, 1:, 1:] = attn[:, :, 1:, 1:] + bias
        return attn


@pytest.mark.parametrize("dialect", ["training", "aten"])
def test_write_into_computed_slice(harness, dialect):
    """The decomposed dialect functionalizes the write itself (slice_scatter); in the
    training IR ingot does (tests/python/test_inplace_writes.py): both match PyTorch."""
    torch.manual_seed(0)
    inputs = (torch.randn(2, 3, 5, 5), torch.randn(4, 4))
    harness.convert_and_run(WriteIntoComputedSlice(), inputs, dialect, key="computed-slice-write")
