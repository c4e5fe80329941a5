"""The benchmark models (random weights, eval mode) and their .pt2 export.

Used by compare.py's workers, and on its own to make a .pt2 for `ingot convert`:

    python bench/models.py resnet18 --batch 1 -o resnet18.pt2 [--inputs-dir DIR]

BERT models return only last_hidden_state (no pooler) and take input_ids and
attention_mask; CNNs and ViT take one NCHW float image batch of 224x224.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

MODEL_NAMES = ("resnet50", "vit_b_16", "bert_base", "resnet18", "bert_tiny")
CNN_MODELS = ("resnet50", "resnet18")


class BertLastHidden(nn.Module):
    """BertModel without pooler, returning a single tensor so the engine has one output."""

    def __init__(self, config):
        super().__init__()
        from transformers import BertModel
        self.bert = BertModel(config, add_pooling_layer=False)

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def bert_config(name):
    from transformers import BertConfig
    if name == "bert_base":
        config = BertConfig()  # 12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522
    else:  # bert_tiny (google/bert_uncased_L-2_H-128_A-2 shape)
        config = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512)
    config.hidden_dropout_prob = 0.0
    config.attention_probs_dropout_prob = 0.0
    return config


def build(name: str, batch: int, seq_len: int = 128, seed: int = 0):
    """Returns (module in eval mode on CPU in fp32, example inputs tuple, input names)."""
    torch.manual_seed(seed)
    if name in ("resnet50", "resnet18", "vit_b_16"):
        import torchvision
        model = getattr(torchvision.models, name)(weights=None)
        if name in CNN_MODELS:
            # Non-trivial batch-norm statistics (fresh ones are 0/1) so BN folding is exercised.
            with torch.no_grad():
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.running_mean.uniform_(-0.1, 0.1)
                        m.running_var.uniform_(0.5, 1.5)
        if name == "vit_b_16":
            # torchvision zero-initialises ViT's classifier: the outputs would all be 0 and
            # the agreement check would compare zeros.
            with torch.no_grad():
                for p in model.heads.parameters():
                    p.normal_(0.0, 0.02)
        inputs = (torch.randn(batch, 3, 224, 224),)
        names = ["x"]
    elif name in ("bert_base", "bert_tiny"):
        config = bert_config(name)
        model = BertLastHidden(config)
        input_ids = torch.randint(0, config.vocab_size, (batch, seq_len), dtype=torch.int64)
        attention_mask = torch.ones(batch, seq_len, dtype=torch.int64)
        if seq_len > 8:  # some padding in all but the first sequence, as in a real batch
            for b in range(1, batch):
                attention_mask[b, seq_len - (b * 7) % (seq_len // 2):] = 0
        inputs = (input_ids, attention_mask)
        names = ["input_ids", "attention_mask"]
    else:
        raise ValueError(f"unknown model '{name}'; choose from {', '.join(MODEL_NAMES)}")
    return model.eval(), inputs, names


def cast_inputs(inputs, dtype):
    return tuple(t.to(dtype) if t.is_floating_point() else t for t in inputs)


def export_pt2(model, inputs, path):
    """torch.export.export + save; returns the user input names recorded in the .pt2."""
    with torch.no_grad():
        program = torch.export.export(model, inputs)
    torch.export.save(program, path)
    from torch.export.graph_signature import InputKind
    return [s.arg.name for s in program.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]


def main(argv=None):
    p = argparse.ArgumentParser(description="Export a benchmark model to a .pt2 (random weights)")
    p.add_argument("model", choices=MODEL_NAMES)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16"), help="dtype of the exported model")
    p.add_argument("-o", "--output", required=True, help=".pt2 file to write")
    p.add_argument("--inputs-dir", default=None, help="also save the example inputs as <name>.npy here")
    args = p.parse_args(argv)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    model, inputs, _ = build(args.model, args.batch, args.seq_len)
    model, inputs = model.to(dtype), cast_inputs(inputs, dtype)
    names = export_pt2(model, inputs, args.output)
    print(f"wrote {args.output}; inputs: {', '.join(names)}")
    if args.inputs_dir:
        import numpy as np
        os.makedirs(args.inputs_dir, exist_ok=True)
        for n, t in zip(names, inputs):
            if t.dtype == torch.bfloat16:
                print(f"note: numpy has no bfloat16; {n} is not saved", file=sys.stderr)
                continue
            np.save(os.path.join(args.inputs_dir, f"{n}.npy"), t.numpy())
    return 0


if __name__ == "__main__":
    sys.exit(main())
