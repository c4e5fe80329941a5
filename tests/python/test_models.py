"""Whole models through ingot, in both IR dialects, compared with PyTorch.

Each model is built with random weights (fixed seed, eval mode), exported with
torch.export (plain "training" IR and run_decompositions() "aten" IR), converted
with `ingot convert --backend cpu`, run with `ingot run` on the same inputs, and
every output is compared with the eager PyTorch module's output (relative error
<= 1e-4 for float32; NaN fails; shapes and dtypes must match).

Inputs are kept small (64x64 images, 16 tokens, tiny transformer configs) so the
whole file runs in minutes on two CPU cores.
"""
import pytest
import torch

IMAGE = (2, 3, 64, 64)
SEQ = 16
VOCAB = 1000


def _image_input():
    torch.manual_seed(1)
    return (torch.randn(*IMAGE),)


def _calibrate_batchnorm(model):
    """Gives the BatchNorm layers running statistics measured on random images, as a
    trained network has. With the freshly initialised statistics (mean 0, var 1)
    activations shrink layer after layer (MobileNet logits end near 1e-10), which
    no reduced-precision engine can represent; calibrated, they stay near unit scale."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, *IMAGE[1:]))
    return model.eval()


def _torchvision(name, **kwargs):
    def build():
        import torchvision
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None, **kwargs)
        return _calibrate_batchnorm(model), _image_input()
    return build


def _segmentation(name):
    def build():
        import torchvision
        torch.manual_seed(0)
        model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None)
        return _calibrate_batchnorm(model), _image_input()
    return build


class LastHiddenState(torch.nn.Module):
    """Returns the tensors of a transformers model output (its last hidden state)
    so the export's outputs are plain tensors in a known order."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _token_inputs():
    torch.manual_seed(1)
    input_ids = torch.randint(0, VOCAB, (2, SEQ), dtype=torch.int64)
    attention_mask = torch.ones(2, SEQ, dtype=torch.int64)
    attention_mask[1, SEQ - 5:] = 0  # padding in the second sequence: the mask matters
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _transformers(model_class, config_class, attn_implementation="sdpa", **config):
    def build():
        import transformers
        config_kwargs = dict(config, vocab_size=VOCAB)
        cfg = getattr(transformers, config_class)(**config_kwargs)
        cfg.use_cache = False
        torch.manual_seed(0)
        model = getattr(transformers, model_class)._from_config(cfg, attn_implementation=attn_implementation)
        return LastHiddenState(model), _token_inputs()
    return build


BERT_LIKE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                 max_position_embeddings=64)

MODELS = {
    "resnet18": _torchvision("resnet18"),
    "resnet50": _torchvision("resnet50"),
    "mobilenet_v2": _torchvision("mobilenet_v2"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large"),
    "efficientnet_b0": _torchvision("efficientnet_b0"),
    "convnext_tiny": _torchvision("convnext_tiny"),
    "regnet_y_400mf": _torchvision("regnet_y_400mf"),
    # Without pretrained weights torchvision's ViT takes any image size divisible
    # by the patch size; 64x64 gives 16 patches + the class token.
    "vit_b_16": _torchvision("vit_b_16", image_size=64),
    # Swin pads to whole windows, so 64x64 works (the last stage is 2x2).
    "swin_t": _torchvision("swin_t"),
    "deeplabv3_mobilenet_v3_large": _segmentation("deeplabv3_mobilenet_v3_large"),
    "bert": _transformers("BertModel", "BertConfig", **BERT_LIKE),
    "distilbert": _transformers("DistilBertModel", "DistilBertConfig", dim=64, n_layers=2, n_heads=4,
                                hidden_dim=128, max_position_embeddings=64),
    "roberta": _transformers("RobertaModel", "RobertaConfig", **BERT_LIKE),
    # GPT-2 with "sdpa" cannot be decomposed by torch 2.10 itself (run_decompositions
    # fails on a view of the attention output), so it uses the eager attention.
    "gpt2": _transformers("GPT2Model", "GPT2Config", attn_implementation="eager", n_embd=64, n_layer=2, n_head=4, n_positions=64),
    "llama": _transformers("LlamaModel", "LlamaConfig", hidden_size=64, intermediate_size=128,
                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           max_position_embeddings=64),
    "t5_encoder": _transformers("T5EncoderModel", "T5Config", d_model=64, d_kv=16, d_ff=128, num_layers=2,
                                num_heads=4),
}

# One model instance per name for the whole session: both dialects share it.
_built = {}


def _build(name):
    if name not in _built:
        _built[name] = MODELS[name]()
    return _built[name]


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", list(MODELS))
def test_model_matches_pytorch(name, dialect, convert_and_run):
    model, inputs = _build(name)
    convert_and_run(model, inputs, dialect, key=name)
