"""Hugging Face transformers models as a new user brings them, through ingot.

Encoders (ALBERT, ELECTRA, XLM-R, DeBERTa-v2, MPNet, BART/Marian/mBART/Whisper
encoders, wav2vec2), encoder-decoders (BART, T5 with decoder_input_ids), vision
transformers and CNNs (CLIP, SigLIP, ViT-MAE, DINOv2, BEiT, ConvNeXt, SegFormer)
and decoder-only LMs (Mistral, Qwen2, Phi-3, Gemma, Falcon, GPT-NeoX, OPT, BLOOM,
Mixtral with its MoE experts). Each is built from its Config with tiny sizes and
random weights (no download), put in eval mode with use_cache=False and the sdpa
attention where the model has it, exported with torch.export, converted with
`ingot convert`, run with `ingot run` and every output compared with PyTorch's
(conftest's harness: relative L2 error <= 1e-4 in float32).

Every model runs in the plain export ("training" IR, what torch.export.export
gives a user) and in the run_decompositions() ("aten") IR (BEiT's plain export
writes in place into views of a tensor it computed). Small op-level cases pin down the composed converters (sort, topk,
histc, index_put, meshgrid, weight norm) on inputs with known edge cases.
"""
import pytest
import torch

from conftest import assert_clean_failure, run_ingot

VOCAB = 1000
SEQ = 16


class Outputs(torch.nn.Module):
    """Calls a transformers model with named inputs given positionally and returns
    the chosen fields of its output object as plain tensors."""

    def __init__(self, model, input_names, fields=("last_hidden_state",), encoder_only=False):
        super().__init__()
        self.model = model.get_encoder() if encoder_only else model
        self.input_names = list(input_names)
        self.fields = list(fields)

    def forward(self, *args):
        out = self.model(**dict(zip(self.input_names, args)))
        values = tuple(getattr(out, f) for f in self.fields)
        return values if len(values) > 1 else values[0]


def _tokens(decoder=False):
    torch.manual_seed(1)
    inputs = {"input_ids": torch.randint(3, VOCAB, (2, SEQ))}
    mask = torch.ones(2, SEQ, dtype=torch.int64)
    mask[1, SEQ - 5:] = 0  # padding in the second sequence: the mask matters
    inputs["attention_mask"] = mask
    if decoder:
        inputs["decoder_input_ids"] = torch.randint(3, VOCAB, (2, 8))
    return inputs


def _image(noise=False):
    torch.manual_seed(1)
    inputs = {"pixel_values": torch.randn(2, 3, 64, 64)}
    if noise:  # ViT-MAE shuffles patches by this noise (torch.rand otherwise)
        inputs["noise"] = torch.rand(2, 16)
    return inputs


def _features():
    torch.manual_seed(1)
    return {"input_features": torch.randn(2, 16, 64)}


def _waveform():
    torch.manual_seed(1)
    return {"input_values": torch.randn(2, 800)}


def _hf(model_class, config_class, inputs, fields=("last_hidden_state",), attn="sdpa", encoder_only=False,
        **config):
    def build():
        import transformers
        cfg = getattr(transformers, config_class)(**config)
        cfg.use_cache = False
        torch.manual_seed(0)
        model = getattr(transformers, model_class)._from_config(cfg, attn_implementation=attn).eval()
        values = inputs()
        return Outputs(model, values.keys(), fields, encoder_only), tuple(values.values())
    return build


BERT = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
            max_position_embeddings=64, vocab_size=VOCAB)
DECODER = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=64, vocab_size=VOCAB)
BART = dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
            encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=64, vocab_size=VOCAB)
VISION = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=64,
              patch_size=16)
POOLED = ("last_hidden_state", "pooler_output")

MODELS = {
    # Encoders (sdpa where the model has it; DeBERTa-v2 and MPNet only have eager attention).
    "albert": _hf("AlbertModel", "AlbertConfig", _tokens, embedding_size=32, **BERT),
    "electra": _hf("ElectraModel", "ElectraConfig", _tokens, embedding_size=32, **BERT),
    "xlm_roberta": _hf("XLMRobertaModel", "XLMRobertaConfig", _tokens, **BERT),
    "deberta_v2": _hf("DebertaV2Model", "DebertaV2Config", _tokens, attn="eager", **BERT),
    "mpnet": _hf("MPNetModel", "MPNetConfig", _tokens, attn="eager", **BERT),
    "bart_encoder": _hf("BartModel", "BartConfig", _tokens, encoder_only=True, **BART),
    "marian_encoder": _hf("MarianModel", "MarianConfig", _tokens, encoder_only=True, pad_token_id=1,
                          decoder_start_token_id=1, eos_token_id=2, **BART),
    "mbart_encoder": _hf("MBartModel", "MBartConfig", _tokens, encoder_only=True, **BART),
    "whisper_encoder": _hf("WhisperModel", "WhisperConfig", _features, encoder_only=True, d_model=64,
                           encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                           encoder_ffn_dim=128, decoder_ffn_dim=128, num_mel_bins=16, max_source_positions=32,
                           max_target_positions=64, vocab_size=VOCAB, pad_token_id=1, bos_token_id=2,
                           eos_token_id=2, decoder_start_token_id=2),
    # Convolutional feature extractor + weight-normed positional conv.
    "wav2vec2": _hf("Wav2Vec2Model", "Wav2Vec2Config", _waveform, hidden_size=64, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=128, conv_dim=(32, 32, 32), conv_stride=(5, 2, 2),
                    conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                    vocab_size=VOCAB),
    # Encoder-decoders with decoder_input_ids.
    "bart": _hf("BartModel", "BartConfig", lambda: _tokens(decoder=True), **BART),
    "t5": _hf("T5Model", "T5Config", lambda: _tokens(decoder=True), d_model=64, d_kv=16, d_ff=128, num_layers=2,
              num_heads=4, vocab_size=VOCAB),
    # Vision.
    "clip_vision": _hf("CLIPVisionModel", "CLIPVisionConfig", _image, POOLED, **VISION),
    "clip_text": _hf("CLIPTextModel", "CLIPTextConfig", _tokens, POOLED, hidden_size=64, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=128, max_position_embeddings=64, vocab_size=VOCAB),
    "siglip_vision": _hf("SiglipVisionModel", "SiglipVisionConfig", _image, POOLED, **VISION),
    "vit_mae": _hf("ViTMAEModel", "ViTMAEConfig", lambda: _image(noise=True),
                   ("last_hidden_state", "mask", "ids_restore"), **VISION),
    "dinov2": _hf("Dinov2Model", "Dinov2Config", _image, POOLED, **VISION),
    "beit": _hf("BeitModel", "BeitConfig", _image, POOLED, use_relative_position_bias=True, **VISION),
    "convnext": _hf("ConvNextModel", "ConvNextConfig", _image, POOLED, attn="eager", hidden_sizes=[16, 32, 48, 64],
                    depths=[1, 1, 1, 1]),
    "segformer": _hf("SegformerModel", "SegformerConfig", _image, num_encoder_blocks=2, depths=[1, 1],
                     sr_ratios=[2, 1], hidden_sizes=[16, 32], num_attention_heads=[1, 2], patch_sizes=[7, 3],
                     strides=[4, 2], mlp_ratios=[2, 2]),
    # Decoder-only LMs.
    "mistral": _hf("MistralModel", "MistralConfig", _tokens, **DECODER),
    "qwen2": _hf("Qwen2Model", "Qwen2Config", _tokens, **DECODER),
    "phi3": _hf("Phi3Model", "Phi3Config", _tokens, pad_token_id=0, **DECODER),
    "gemma": _hf("GemmaModel", "GemmaConfig", _tokens, head_dim=16, **DECODER),
    "falcon": _hf("FalconModel", "FalconConfig", _tokens, hidden_size=64, num_hidden_layers=2,
                  num_attention_heads=4, vocab_size=VOCAB),
    "gpt_neox": _hf("GPTNeoXModel", "GPTNeoXConfig", _tokens, hidden_size=64, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=128, max_position_embeddings=64, vocab_size=VOCAB),
    "opt": _hf("OPTModel", "OPTConfig", _tokens, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
               ffn_dim=128, max_position_embeddings=64, word_embed_proj_dim=64, vocab_size=VOCAB),
    # BLOOM (ALiBi) has only the eager attention.
    "bloom": _hf("BloomModel", "BloomConfig", _tokens, attn="eager", hidden_size=64, n_layer=2, n_head=4, vocab_size=VOCAB),
    # MoE: router top-k, expert sort, histc offsets, grouped expert GEMMs, inverse permutation.
    "mixtral": _hf("MixtralModel", "MixtralConfig", _tokens, num_local_experts=4, num_experts_per_tok=2, **DECODER),
}

# BEiT writes its relative-position index in place into slices of a tensor it
# computed (the plain export keeps those copy_ nodes; ingot makes them functional).
CASES = [(name, "training") for name in MODELS]
CASES += [(name, "aten") for name in MODELS]

_built = {}


def _build(name):
    if name not in _built:
        _built[name] = MODELS[name]()
    return _built[name]


@pytest.mark.parametrize("name,dialect", CASES)
def test_transformers_model_matches_pytorch(name, dialect, convert_and_run):
    model, inputs = _build(name)
    convert_and_run(model, inputs, dialect, key=f"zoo-{name}")


# ---------------------------------------------------------------- composed converters


class Sorts(torch.nn.Module):
    def forward(self, x, ids):
        values, indices = torch.sort(x, dim=1, descending=True)
        top_values, top_indices = torch.topk(x, 3, dim=-1)
        small_values, small_indices = torch.topk(x, 2, dim=0, largest=False)
        id_values, id_order = torch.sort(ids)  # repeated values: the stable order
        return values, indices, top_values, top_indices, small_values, small_indices, id_values, id_order, \
            torch.argsort(x, dim=-1)


class Histogram(torch.nn.Module):
    def forward(self, x):
        # Values below min and above max are dropped; max itself counts in the last bin.
        return torch.histc(x, bins=5, min=-1.0, max=1.5), torch.histc(x.clamp(0, 3).round(), bins=4, min=0, max=3)


class InversePermutation(torch.nn.Module):
    def forward(self, perm, rows, values):
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel())
        out = rows.clone()
        out[:, torch.tensor([3, 0])] = values
        acc = rows.index_put((torch.tensor([1, 1, 4]),), torch.ones(3, 6), accumulate=True)
        return inverse, out, acc


class Grid(torch.nn.Module):
    def forward(self, a, b):
        gi, gj = torch.meshgrid(a, b, indexing="ij")
        gx, gy = torch.meshgrid(a, b, indexing="xy")
        return gi + 2 * gj, gx * gy, a.reshape(2, 2).T


def _sort_inputs():
    torch.manual_seed(4)
    return (torch.randn(3, 7), torch.tensor([3, 1, 2, 1, 0, 3, 3, 2]))


def _hist_inputs():
    torch.manual_seed(5)
    x = torch.randn(40) * 1.5
    x[0], x[1], x[2] = 1.5, -1.0, 2.0  # the edges and one value past max
    return (x,)


def _perm_inputs():
    torch.manual_seed(6)
    return (torch.randperm(9), torch.randn(5, 6), torch.randn(5, 2))


def _weight_norm_module():
    torch.manual_seed(7)
    conv = torch.nn.utils.weight_norm(torch.nn.Conv1d(4, 6, 3, padding=1), dim=2)
    return conv.eval(), (torch.randn(2, 4, 10),)


OPS = {
    "sort_topk_argsort": lambda: (Sorts(), _sort_inputs()),
    "histc": lambda: (Histogram(), _hist_inputs()),
    "index_put": lambda: (InversePermutation(), _perm_inputs()),
    "meshgrid_numpy_T": lambda: (Grid(), (torch.arange(4.0), torch.arange(3.0) + 1)),
    "weight_norm": _weight_norm_module,
}


@pytest.mark.parametrize("dialect", ["training", "aten"])
@pytest.mark.parametrize("name", list(OPS))
def test_composed_converter_matches_pytorch(name, dialect, convert_and_run):
    module, inputs = OPS[name]()
    convert_and_run(module, inputs, dialect, key=f"zoo-op-{name}")


class UsesRandomNumbers(torch.nn.Module):
    def forward(self, x):
        return x + torch.rand(x.shape)


def test_used_random_numbers_are_refused_cleanly(harness):
    """A random draw the model reads cannot match PyTorch's generator: refused with
    the way out (pass it as an input). An unused draw (wav2vec2's LayerDrop above)
    converts."""
    pt2, _ = harness.export(UsesRandomNumbers(), (torch.ones(2, 3),), "training", "zoo-op-rand")
    proc = run_ingot("convert", pt2, "-o", pt2.with_suffix(".engine"), "--backend", "cpu")
    assert_clean_failure(proc, r"random numbers are used by the model.*as a model input")
