"""Regenerates the example model shipped with ingot (examples/small_cnn.*).

A small CNN (conv, batch norm, relu, max pool, residual add, global average pool,
linear) with fixed random weights, exported by torch.export and saved as a .pt2,
plus one recorded input and PyTorch's output for it. scripts/setup.sh converts
the .pt2 with ingot, runs the engine on the input and compares with the output,
which needs only numpy, not torch.

    python examples/make_example.py    # writes next to this file
"""
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.block = nn.Sequential(
            nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        self.head_conv = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = torch.relu(x + self.block(x))
        x = self.head_conv(x)
        x = x.mean(dim=(2, 3))
        return self.fc(x)


def main():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    # Non-trivial batch-norm statistics so the folded BN is really exercised.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
    program = torch.export.export(model, (x,))
    torch.export.save(program, os.path.join(HERE, "small_cnn.pt2"))
    np.save(os.path.join(HERE, "small_cnn_input.npy"), x.numpy())
    np.save(os.path.join(HERE, "small_cnn_expected.npy"), expected.numpy())
    print("input names:", [s.arg.name for s in program.graph_signature.input_specs
                           if s.kind == torch.export.graph_signature.InputKind.USER_INPUT])
    print("wrote small_cnn.pt2, small_cnn_input.npy, small_cnn_expected.npy to", HERE)


if __name__ == "__main__":
    main()
