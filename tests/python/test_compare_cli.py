"""Tests of `python -m ingot compare MODEL.pt2 MODEL.engine` (python/ingot/__main__.py,
ingot.compare_files): it runs the .pt2 in PyTorch and the engine on the same inputs and
must pass an engine built from that model, fail one that computes something else, and
refuse cleanly an engine of another model, unknown or misshapen inputs and a bad
command line.

Skipped, with the reason shown, when the package is not installed (`pip install .`).
"""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import BACKEND, assert_clean_failure, describe, import_ingot_package, run_ingot

ingot, pytestmark = import_ingot_package()


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.fc = torch.nn.Linear(6, 4)
        self.emb = torch.nn.Embedding(100, 4)

    def forward(self, x, ids):
        h = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.fc(h) + self.emb(ids).sum(1), h


def export(path, seed, dynamic=False):
    torch.manual_seed(seed)
    model = Net().eval()
    inputs = (torch.randn(2, 3, 8, 8), torch.randint(0, 100, (2, 5)))
    shapes = {"x": {0: torch.export.Dim("batch", max=16)}, "ids": {0: torch.export.Dim("batch", max=16)}}
    program = torch.export.export(model, inputs, dynamic_shapes=shapes if dynamic else None)
    torch.export.save(program, path)
    return path


def compare(*args):
    return subprocess.run([sys.executable, "-m", "ingot", "compare", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    work = tmp_path_factory.mktemp("compare_cli")
    pt2 = export(work / "net.pt2", seed=0)
    other = export(work / "other.pt2", seed=1)  # same architecture and IO, other weights
    for model in (pt2, other):
        proc = run_ingot("convert", model, "-o", model.with_suffix(".engine"), "--backend", BACKEND, "--quiet")
        assert proc.returncode == 0, describe(proc)
    return pt2, other


def test_engine_of_the_model_passes(files):
    pt2, _ = files
    proc = compare(pt2, pt2.with_suffix(".engine"))
    assert proc.returncode == 0, describe(proc)
    assert "PASS: every output is within tolerance" in proc.stdout
    assert "output.0" in proc.stdout and "output.1" in proc.stdout


def test_json_reports_small_errors(files):
    pt2, _ = files
    proc = compare(pt2, pt2.with_suffix(".engine"), "--json", "--seed", "3")
    assert proc.returncode == 0, describe(proc)
    report = json.loads(proc.stdout)
    assert report["passed"] and len(report["outputs"]) == 2
    for out in report["outputs"]:
        assert out["rel_l2_error"] <= 1e-4 and out["passed"]


def test_engine_that_computes_something_else_fails(files):
    pt2, other = files
    # Without the hash check, another model's engine gives other numbers: the table must say so.
    proc = compare(pt2, other.with_suffix(".engine"), "--no-verify")
    assert proc.returncode == 1, describe(proc)
    assert "FAIL" in proc.stdout


def test_engine_of_another_model_is_refused(files):
    pt2, other = files
    proc = compare(pt2, other.with_suffix(".engine"))
    assert_clean_failure(proc, r"records model 'other.pt2' with content hash \w+, but model '[^']*net.pt2' has")


def test_inputs_from_files(files, tmp_path):
    pt2, _ = files
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32))
    ids = tmp_path / "ids.npy"
    np.save(ids, np.arange(10, dtype=np.int64).reshape(2, 5))
    proc = compare(pt2, pt2.with_suffix(".engine"), "--input", f"x={x}", "-i", f"ids={ids}")
    assert proc.returncode == 0, describe(proc)
    # The same values through the Python API give the same verdict and the same errors.
    result = ingot.compare_files(pt2, pt2.with_suffix(".engine"), {"x": np.load(x), "ids": np.load(ids)})
    assert result.passed and f"{result[0].rel_l2_error:.3g}" in proc.stdout


def test_bad_inputs_are_refused(files, tmp_path):
    pt2, _ = files
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 9, 9), dtype=np.float32))
    assert_clean_failure(compare(pt2, pt2.with_suffix(".engine"), "--input", f"x={wrong}"),
                         r"input 'x': expected float32\[2,3,8,8\], got float32\[2,3,9,9\]")
    assert_clean_failure(compare(pt2, pt2.with_suffix(".engine"), "--input", f"y={wrong}"),
                         r"no input named y; its inputs are: x, ids")
    assert_clean_failure(compare(pt2, pt2.with_suffix(".engine"), "--input", str(tmp_path / "missing.npy")),
                         r"--input expects NAME=FILE.npy")
    assert compare(pt2, pt2.with_suffix(".engine"), "--input", str(tmp_path / "missing.npy")).returncode == 2


def test_dynamic_model_built_at_another_size(tmp_path):
    pt2 = export(tmp_path / "dyn.pt2", seed=0, dynamic=True)
    engine = tmp_path / "dyn.engine"
    proc = run_ingot("convert", pt2, "-o", engine, "--backend", BACKEND, "--quiet",
                     "--input-shape", "x=5x3x8x8", "--input-shape", "ids=5x5")
    assert proc.returncode == 0, describe(proc)
    proc = compare(pt2, engine)
    assert proc.returncode == 0, describe(proc)
    assert "5x4" in proc.stdout
