"""The `ingot` command's behaviour: check, convert, inspect, verify, run, list-ops
and argument errors. Numbers are always compared with PyTorch's own output."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from conftest import REPO_ROOT, assert_matches, describe, run_ingot, to_numpy


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(y.mean(dim=(2, 3)))


class UsesUnsupportedOps(nn.Module):
    """Two operators ingot does not have, on two lines this test looks up."""

    def forward(self, x):
        a = torch.linalg.inv(x)  # ingot-test: unsupported-1
        b = torch.histc(x, bins=4)  # ingot-test: unsupported-2
        return a.sum() + b.sum()


class MixedOutputs(nn.Module):
    """Float, int64 and bool outputs, to check output order and exact int/bool results."""

    def forward(self, x):
        return x * 2 + 1, x.argmax(dim=1), x > 0


class TokenModel(nn.Module):
    """Takes int64 token ids: random inputs must be valid ids (vocabulary of 100)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 8)

    def forward(self, ids):
        return self.embedding(ids).sum(dim=1)


def marker_line(marker):
    for number, line in enumerate(Path(__file__).read_text().splitlines(), start=1):
        if line.rstrip().endswith(marker):
            return number
    raise AssertionError(f"marker {marker} not found")


IMAGE = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def save_export(module, args, path):
    torch.manual_seed(0)
    program = torch.export.export(module.eval(), args)
    torch.export.save(program, str(path))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory, ingot_bin):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def good_pt2(work):
    torch.manual_seed(0)
    return save_export(SmallNet(), (IMAGE,), work / "good.pt2")


@pytest.fixture(scope="module")
def other_pt2(work):
    torch.manual_seed(123)  # same architecture, other weights: another model
    return save_export(SmallNet(), (IMAGE,), work / "other.pt2")


@pytest.fixture(scope="module")
def unsupported_pt2(work):
    return save_export(UsesUnsupportedOps(), (torch.randn(4, 4) + 4 * torch.eye(4),), work / "unsupported.pt2")


@pytest.fixture(scope="module")
def good_engine(work, good_pt2):
    engine = work / "good.engine"
    proc = run_ingot("convert", good_pt2, "-o", engine, "--backend", "cpu")
    assert proc.returncode == 0, describe(proc)
    return engine


def test_version():
    proc = run_ingot("--version")
    assert proc.returncode == 0, describe(proc)
    assert re.search(r"\d+\.\d+\.\d+", proc.stdout), describe(proc)


def test_check_supported_model(good_pt2):
    proc = run_ingot("check", good_pt2)
    assert proc.returncode == 0, describe(proc)
    assert "supported" in proc.stdout, describe(proc)


def test_check_lists_every_unsupported_op_with_its_line(unsupported_pt2):
    proc = run_ingot("check", unsupported_pt2)
    assert proc.returncode == 1, describe(proc)
    text = proc.stdout + proc.stderr
    for marker in ("unsupported-1", "unsupported-2"):
        assert f"test_cli.py:{marker_line('# ingot-test: ' + marker)}" in text, describe(proc)
    assert "inv" in text and "histc" in text, describe(proc)


def test_convert_refuses_unsupported_model_and_writes_nothing(unsupported_pt2, work):
    engine = work / "unsupported.engine"
    proc = run_ingot("convert", unsupported_pt2, "-o", engine)
    assert proc.returncode == 1, describe(proc)
    assert f"test_cli.py:{marker_line('# ingot-test: unsupported-1')}" in proc.stdout + proc.stderr
    assert not engine.exists()
    assert not [p for p in work.iterdir() if p.name.startswith("unsupported.engine")]


def test_convert_is_deterministic(good_pt2, good_engine, work):
    again = work / "good-again.engine"
    proc = run_ingot("convert", good_pt2, "-o", again, "--backend", "cpu", "--quiet")
    assert proc.returncode == 0, describe(proc)
    assert proc.stderr == "", "--quiet should print nothing on success"
    assert again.read_bytes() == good_engine.read_bytes()


def test_convert_prints_progress(good_pt2, work):
    proc = run_ingot("convert", good_pt2, "-o", work / "progress.engine", "--backend", "cpu")
    assert proc.returncode == 0, describe(proc)
    assert proc.stderr.strip(), "convert should report progress on stderr"


def test_dynamic_batch_is_built_at_the_example_size_and_said(harness, work):
    """A .pt2 exported with a dynamic batch (torch.export.Dim) builds a static engine at
    the example's batch, says so on stderr, and computes what PyTorch does."""
    torch.manual_seed(0)
    model = SmallNet().eval()
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    program = torch.export.export(model, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=64)}})
    pt2 = work / "dynamic.pt2"
    torch.export.save(program, str(pt2))
    engine = work / "dynamic.engine"
    proc = run_ingot("convert", pt2, "-o", engine, "--backend", "cpu")
    assert proc.returncode == 0, describe(proc)
    assert re.search(r"input 'x' dim 0 is dynamic in the model \(\w+, 1\.\.64\).* takes size 3", proc.stderr), proc.stderr
    info = json.loads(run_ingot("inspect", engine, "--json").stdout)
    assert info["inputs"][0]["shape"] == [3, 3, 8, 8]
    with torch.no_grad():
        expected = model(x)
    outputs = harness.run(engine, {"x": to_numpy(x)}, work / "run-dynamic")
    assert_matches(outputs[0], to_numpy(expected))


def test_inspect_table(good_engine):
    proc = run_ingot("inspect", good_engine)
    assert proc.returncode == 0, describe(proc)
    assert "good.pt2" in proc.stdout, describe(proc)
    assert re.search(r"\bx\b", proc.stdout), "the input 'x' should be listed\n" + describe(proc)


def _json_strings(value):
    """Every key and scalar in a JSON document, as strings."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)
    else:
        yield str(value)


def test_inspect_json_records_provenance(good_engine, good_pt2):
    proc = run_ingot("inspect", good_engine, "--json")
    assert proc.returncode == 0, describe(proc)
    doc = json.loads(proc.stdout)
    strings = list(_json_strings(doc))
    blob = "\n".join(strings)
    assert any("good.pt2" in s for s in strings), "model file name missing"
    assert "precision" in blob and "fp32" in blob, "build options missing"
    version = run_ingot("--version").stdout.split()[-1]
    assert version in blob, "ingot version missing"
    verify = run_ingot("verify", good_engine, good_pt2)
    match = re.search(r"hash (\S+?)\)", verify.stdout)
    assert match, describe(verify)
    assert match.group(1) in blob, "model hash missing"


def test_verify(good_engine, good_pt2, other_pt2):
    proc = run_ingot("verify", good_engine, good_pt2)
    assert proc.returncode == 0, describe(proc)
    proc = run_ingot("verify", good_engine, other_pt2)
    assert proc.returncode == 1, describe(proc)
    assert "MISMATCH" in proc.stdout, describe(proc)


def test_run_with_input_matches_pytorch(good_engine, harness, work):
    torch.manual_seed(0)
    model = SmallNet().eval()
    with torch.no_grad():
        expected = model(IMAGE)
    outputs = harness.run(good_engine, {"x": to_numpy(IMAGE)}, work / "run-with-input")
    assert len(outputs) == 1
    assert_matches(outputs[0], to_numpy(expected))


def test_run_random_inputs_are_seeded(good_engine, work):
    results = []
    for seed, name in ((3, "a"), (3, "b"), (4, "c")):
        out_dir = work / f"random-{name}"
        proc = run_ingot("run", good_engine, "--seed", seed, "--output-dir", out_dir, "--iterations", 2)
        assert proc.returncode == 0, describe(proc)
        assert "float32" in proc.stdout and "[2, 10]" in proc.stdout, describe(proc)
        assert re.search(r"\bms\b", proc.stdout), "run time missing\n" + describe(proc)
        out = np.load(out_dir / "output.0.npy")
        assert out.shape == (2, 10) and out.dtype == np.float32 and np.isfinite(out).all()
        results.append(out)
    assert np.array_equal(results[0], results[1]), "the same seed must give the same inputs"
    assert not np.array_equal(results[0], results[2]), "another seed must give other inputs"


def test_run_without_output_dir_writes_nothing(good_engine, work):
    before = set(work.iterdir())
    proc = run_ingot("run", good_engine)
    assert proc.returncode == 0, describe(proc)
    assert set(work.iterdir()) == before


def test_outputs_in_model_order_with_exact_ints_and_bools(convert_and_run):
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(7))
    convert_and_run(MixedOutputs(), (x,), "training", key="mixed_outputs")


def test_random_token_ids_are_valid(work):
    pt2 = save_export(TokenModel(), (torch.randint(0, 100, (2, 6)),), work / "tokens.pt2")
    engine = work / "tokens.engine"
    proc = run_ingot("convert", pt2, "-o", engine, "--quiet")
    assert proc.returncode == 0, describe(proc)
    proc = run_ingot("run", engine, "--output-dir", work / "tokens-out")
    assert proc.returncode == 0, describe(proc)
    assert np.isfinite(np.load(work / "tokens-out" / "output.0.npy")).all()


def test_list_ops():
    proc = run_ingot("list-ops")
    assert proc.returncode == 0, describe(proc)
    ops = proc.stdout.split()
    assert "aten.convolution.default" in ops and ops == sorted(ops), describe(proc)
    proc = run_ingot("list-ops", "--markdown")
    assert proc.returncode == 0 and proc.stdout.startswith("# Supported operators"), describe(proc)


def test_operator_docs_are_current():
    """docs/operators.md is generated from the converter table; regenerate it with
    `ingot list-ops --markdown > docs/operators.md` after adding converters."""
    proc = run_ingot("list-ops", "--markdown")
    assert proc.returncode == 0, describe(proc)
    docs = REPO_ROOT / "docs" / "operators.md"
    assert docs.read_text() == proc.stdout, "docs/operators.md is stale: regenerate it with ingot list-ops --markdown"


@pytest.mark.parametrize("args, pattern", [
    ([], r"subcommand"),
    (["frobnicate"], r"frobnicate|subcommand"),
    (["convert", "model.pt2"], r"--output|required"),
    (["convert", "model.pt2", "-o", "x.engine", "--backend", "tpu"], r"tpu|backend"),
    (["convert", "model.pt2", "-o", "x.engine", "--precision", "fp8"], r"fp8|precision"),
    (["convert", "model.pt2", "-o", "x.engine", "--optimization-level", "9"], r"optimization|range|9"),
    (["run"], r"engine|required"),
    (["inspect", "a", "b"], r"argument|extra|b"),
    (["check", "--bogus", "m.pt2"], r"bogus"),
])
def test_bad_arguments(args, pattern):
    proc = run_ingot(*args)
    assert proc.returncode > 0, describe(proc)
    assert re.search(pattern, proc.stdout + proc.stderr, re.IGNORECASE), describe(proc)
