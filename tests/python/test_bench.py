"""`ingot bench`: the latency report, its JSON, the per-step profile and its
argument errors, on the backend under test (INGOT_TEST_BACKEND). Timings cannot be
compared with PyTorch, so these tests check what the numbers must satisfy
(order of the percentiles, one profile row per step, sums), not their size."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import BACKEND, PRECISION, assert_clean_failure, describe, run_ingot


class Block(nn.Module):
    """Conv, pointwise and a linear head: several steps of different kinds."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y = torch.relu(self.conv(x)) * 0.5 + 1.0
        return self.fc(y.mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def work(tmp_path_factory, ingot_bin):
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def engine(work):
    torch.manual_seed(0)
    program = torch.export.export(Block().eval(), (torch.randn(2, 3, 16, 16),))
    pt2 = work / "block.pt2"
    torch.export.save(program, str(pt2))
    path = work / "block.engine"
    proc = run_ingot("convert", pt2, "-o", path, "--backend", BACKEND, "--precision", PRECISION)
    assert proc.returncode == 0, describe(proc)
    return path


def check_stats(stats, count):
    assert stats["count"] == count
    values = [stats[k] for k in ("min", "median", "p90", "p99", "max")]
    assert all(math.isfinite(v) and v > 0 for v in values), stats
    assert values == sorted(values), f"percentiles out of order: {stats}"
    assert stats["min"] <= stats["mean"] <= stats["max"], stats


def test_report_json_and_profile(engine, work):
    out = work / "report.json"
    proc = run_ingot("bench", engine, "--iterations", "15", "--warmup-ms", "0", "--profile",
                     "--profile-iterations", "3", "--json", out, "--batch-label", "b2")
    assert proc.returncode == 0, describe(proc)
    for text in ("latency", "throughput", "per-step profile", "label: b2", f"wrote {out}"):
        assert text in proc.stdout, describe(proc)
    report = json.loads(out.read_text())
    assert report["backend"] == BACKEND and report["label"] == "b2" and report["batch"] == 2
    assert report["iterations"] == 15 and report["warmup_runs"] >= 2
    check_stats(report["latency_ms"], 15)
    check_stats(report["enqueue_ms"], 15)
    assert report["inputs"] == [{"name": "x", "dtype": "float32", "shape": [2, 3, 16, 16]}]
    assert report["build_options"]["precision"] == PRECISION
    assert report["throughput_samples_per_s"] == pytest.approx(2 * report["throughput_qps"])

    # One row per step, each step once, sorted by time, percentages of their sum.
    rows = report["profile"]
    assert report["profile_iterations"] == 3
    assert sorted(r["step"] for r in rows) == list(range(report["num_steps"]))
    times = [r["ms"] for r in rows]
    assert all(math.isfinite(t) and t >= 0 for t in times), rows
    assert times == sorted(times, reverse=True)
    assert sum(times) > 0
    assert sum(r["percent"] for r in rows) == pytest.approx(100.0, abs=0.5)
    assert len({r["op"] for r in rows}) >= 2, rows
    assert all(r["node"] for r in rows), rows
    if BACKEND == "cuda":
        check_stats(report["gpu_compute_ms"], 15)
        # Each step is replayed in its own CUDA graph, as the engine's graph runs
        # it, so the steps add up to about the engine's time, not to a multiple.
        total = sum(times)
        median = report["gpu_compute_ms"]["median"]
        assert total <= 2.0 * median + 0.02, f"steps sum to {total} ms for a {median} ms engine"


def test_given_input_file_is_used(engine, work):
    x = work / "x.npy"
    np.save(x, np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    proc = run_ingot("bench", engine, "--iterations", "10", "--warmup-ms", "0", "--input", f"x={x}")
    assert proc.returncode == 0, describe(proc)
    assert "timed: 10 runs" in proc.stdout, describe(proc)


@pytest.mark.parametrize("args, pattern", [
    (["--iterations", "-1"], r"--iterations must not be negative"),
    (["--duration-s", "0"], r"--duration-s must be positive"),
    (["--iterations", "3", "--warmup-ms", "-5"], r"--warmup-ms must not be negative"),
    (["--iterations", "3", "--profile", "--profile-iterations", "0"], r"--profile-iterations must be at least 1"),
    (["--iterations", "3", "--input", "y=whatever.npy"], r"no input named 'y'.*x"),
    (["--iterations", "3", "--input", "x"], r"NAME=FILE"),
    (["--iterations", "3", "--input", "x=missing.npy"], r"missing\.npy"),
])
def test_bad_arguments_are_clean_errors(engine, args, pattern):
    assert_clean_failure(run_ingot("bench", engine, *args), pattern)


def test_wrong_input_shape_names_expected_and_got(engine, work):
    bad = work / "bad.npy"
    np.save(bad, np.zeros((1, 3, 16, 16), dtype=np.float32))
    proc = run_ingot("bench", engine, "--iterations", "3", "--input", f"x={bad}")
    assert_clean_failure(proc, r"input 'x'.*\[2, ?3, ?16, ?16\]|input 'x'.*2x3x16x16")


def test_json_into_missing_directory_fails_before_measuring(engine, work):
    target = work / "no_such_dir" / "r.json"
    proc = run_ingot("bench", engine, "--iterations", "3", "--json", target)
    assert_clean_failure(proc, r"no_such_dir.*does not exist")
    assert not target.parent.exists()


def test_missing_or_damaged_engine(work):
    assert_clean_failure(run_ingot("bench", work / "absent.engine"), r"absent\.engine")
    damaged = work / "damaged.engine"
    damaged.write_bytes(b"not an engine at all" * 10)
    assert_clean_failure(run_ingot("bench", damaged), r"damaged\.engine|not an ingot engine|engine")
