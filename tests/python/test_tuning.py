"""Build-time kernel tuning, the timing cache and memory reporting, through the
real `ingot` command.

Everywhere: the timing cache's path never reaches the engine (builds with and
without --timing-cache are byte-identical), inspect reports the arena, the
workspace and the kernel choices. On a GPU (skipped elsewhere): two cuda builds
that share a timing cache write byte-identical engines, the second without
timing anything; the tuned engine's output matches PyTorch; optimization level 1
chooses no tactics; --workspace-limit caps the recorded workspace.
"""
import json
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from conftest import describe, run_ingot, to_numpy


class SmallCnn(nn.Module):
    """Convolutions (cuDNN candidates) and a two-layer MLP head (cuBLASLt candidates)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.conv2(y))
        y = y.mean(dim=(2, 3))
        return self.fc2(torch.relu(self.fc1(y)))


IMAGES = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 3e-2}


@pytest.fixture(scope="module")
def work(tmp_path_factory, ingot_bin):
    return tmp_path_factory.mktemp("tuning")


@pytest.fixture(scope="module")
def model_and_pt2(work):
    torch.manual_seed(0)
    model = SmallCnn().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        model.bn1.running_mean.uniform_(-0.5, 0.5)
        model.bn1.running_var.uniform_(0.5, 2.0)
    program = torch.export.export(model, (IMAGES,))
    path = work / "small_cnn.pt2"
    torch.export.save(program, str(path))
    return model, path


def convert(pt2, engine, *extra):
    proc = run_ingot("convert", pt2, "-o", engine, *extra)
    assert proc.returncode == 0, describe(proc)
    return proc


def inspect_json(engine):
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)


def run_engine(engine, x, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "x.npy", to_numpy(x))
    proc = run_ingot("run", engine, "--input", f"x={out_dir / 'x.npy'}", "--output-dir", out_dir)
    assert proc.returncode == 0, describe(proc)
    return np.load(out_dir / "output.0.npy")


def assert_close(out, ref, tol, what):
    assert out.shape == ref.shape, f"{what}: shape {out.shape}, PyTorch gives {ref.shape}"
    assert not np.isnan(out).any(), f"{what}: NaN in ingot's output"
    out64, ref64 = out.astype(np.float64), ref.astype(np.float64)
    rel = np.linalg.norm(out64 - ref64) / np.linalg.norm(ref64)
    assert rel <= tol, f"{what}: relative error {rel:.3e} > {tol:g}"


# ------------------------------------------------------------------ everywhere

def test_cache_path_is_not_recorded_and_cpu_builds_ignore_it(model_and_pt2, work):
    _, pt2 = model_and_pt2
    plain, cached = work / "plain.engine", work / "cached.engine"
    cache = work / "cpu-cache.json"
    convert(pt2, plain, "--backend", "cpu", "--quiet")
    convert(pt2, cached, "--backend", "cpu", "--quiet", "--timing-cache", cache)
    assert plain.read_bytes() == cached.read_bytes()
    assert not cache.exists(), "a cpu build has nothing to tune and should not write a timing cache"
    options = inspect_json(cached)["provenance"]["build_options"]
    assert "timing_cache" not in options
    assert options["optimization_level"] == "3"


def test_inspect_reports_memory_and_tuning(model_and_pt2, work):
    _, pt2 = model_and_pt2
    engine = work / "report.engine"
    proc = convert(pt2, engine, "--backend", "cpu")
    assert "activation arena" in proc.stderr, describe(proc)
    info = inspect_json(engine)
    memory = info["memory"]
    assert memory["arena_bytes"] > 0
    assert memory["activations"] > 0
    # Packing by lifetime never needs more than one buffer per activation.
    assert memory["arena_bytes"] <= memory["activation_bytes_unpacked"] + 256 * memory["activations"]
    assert "tuning" in info and info["tuning"]["steps_with_tactic"] == 0
    table = run_ingot("inspect", engine)
    assert table.returncode == 0, describe(table)
    assert "arena_bytes" in table.stdout and "workspace_bytes" in table.stdout, table.stdout
    assert "Kernel tuning" in table.stdout, table.stdout


def _cuda_build_possible():
    """(binary has the CUDA backend, reason if not)."""
    from conftest import INGOT
    if INGOT is None:
        return False
    proc = run_ingot("convert", "no-such.pt2", "-o", "/dev/null", "--backend", "cuda", "--cuda-arch", "sm_90")
    return "needs an ingot built with CUDA" not in proc.stdout + proc.stderr


def test_without_a_gpu_tuning_is_skipped_with_a_note(model_and_pt2, work):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU (the GPU tests below cover tuning)")
    if not _cuda_build_possible():
        pytest.skip("this ingot has no CUDA backend")
    _, pt2 = model_and_pt2
    cache = work / "no-gpu-cache.json"
    proc = convert(pt2, work / "no-gpu.engine", "--backend", "cuda", "--cuda-arch", "sm_90",
                   "--timing-cache", cache)
    assert "tuning skipped" in proc.stderr, describe(proc)
    assert not cache.exists()


# ------------------------------------------------------------------ on a GPU

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_shared_timing_cache_gives_identical_engines(model_and_pt2, work, precision):
    if not _cuda_build_possible():
        pytest.skip("this ingot has no CUDA backend")
    model, pt2 = model_and_pt2
    cache = work / f"cache-{precision}.json"
    first, second, renamed = (work / f"{name}-{precision}.engine" for name in ("first", "second", "renamed"))
    args = ("--backend", "cuda", "--precision", precision)

    p1 = convert(pt2, first, *args, "--timing-cache", cache)
    assert cache.exists(), "a cuda build with --timing-cache must write the cache\n" + describe(p1)
    data = json.loads(cache.read_text())
    assert data["format"] == "ingot-timing-cache" and data["entries"], data

    p2 = convert(pt2, second, *args, "--timing-cache", cache)
    assert first.read_bytes() == second.read_bytes(), "builds sharing a timing cache differ\n" + describe(p2)
    assert "tuning step" not in p2.stderr, "the second build timed steps despite the cache\n" + describe(p2)
    assert " 0 timed" in p2.stderr, describe(p2)

    other = work / f"other-name-{precision}.json"
    shutil.copy(cache, other)
    convert(pt2, renamed, *args, "--timing-cache", other, "--quiet")
    assert renamed.read_bytes() == first.read_bytes(), "the cache's file name leaked into the engine"

    # Every chosen tactic is one the cache recorded as a choice.
    chosen = {e["tactic"] for e in data["entries"].values() if e["tactic"]}
    info = inspect_json(first)
    for step in info["steps"]:
        if step["tactic"]:
            assert step["tactic"] in chosen, step
    assert info["memory"]["workspace_bytes"] > 0

    with torch.no_grad():
        ref = to_numpy(model(IMAGES))
    out = run_engine(first, IMAGES, work / f"out-{precision}")
    assert_close(out, ref, TOLERANCE[precision], f"tuned {precision} engine")


@needs_gpu
def test_level_one_chooses_no_tactics_and_workspace_limit_is_recorded(model_and_pt2, work):
    if not _cuda_build_possible():
        pytest.skip("this ingot has no CUDA backend")
    model, pt2 = model_and_pt2
    untuned = work / "level1.engine"
    proc = convert(pt2, untuned, "--backend", "cuda", "--optimization-level", "1")
    assert "tuning is off" in proc.stderr, describe(proc)
    info = inspect_json(untuned)
    assert all(step["tactic"] == "" for step in info["steps"])
    assert info["provenance"]["build_options"]["optimization_level"] == "1"

    limited = work / "limited.engine"
    limit = 1 << 20
    convert(pt2, limited, "--backend", "cuda", "--workspace-limit", str(limit), "--quiet")
    info = inspect_json(limited)
    assert 0 < info["memory"]["workspace_bytes"] <= limit
    with torch.no_grad():
        ref = to_numpy(model(IMAGES))
    assert_close(run_engine(limited, IMAGES, work / "out-limited"), ref, TOLERANCE["fp32"], "workspace-limited engine")


class GeluMlp(nn.Module):
    """A transformer MLP block (exact-GELU fc1, fc2 + residual) and a bottleneck of
    1x1 convolutions: the shapes the lt-tanh and gemm/ tactics exist for."""

    def __init__(self):
        super().__init__()
        self.reduce = nn.Conv2d(64, 32, 1)
        self.expand = nn.Conv2d(32, 64, 1)
        self.fc1 = nn.Linear(64, 256)
        self.fc2 = nn.Linear(256, 64)

    def forward(self, x):
        y = torch.relu(self.expand(torch.relu(self.reduce(x))) + x)  # [B, 64, H, W]
        t = y.flatten(2).transpose(1, 2)                              # [B, H*W, 64]
        return t + self.fc2(nn.functional.gelu(self.fc1(t)))


def test_exact_gelu_is_recorded(work):
    torch.manual_seed(3)
    pt2 = work / "gelu_mlp.pt2"
    torch.export.save(torch.export.export(GeluMlp().eval(), (torch.randn(2, 64, 8, 8),)), str(pt2))
    engine = work / "gelu-cpu.engine"
    convert(pt2, engine, "--backend", "cpu", "--exact-gelu", "--quiet")
    assert inspect_json(engine)["provenance"]["build_options"]["exact_gelu"] == "true"
    convert(pt2, engine, "--backend", "cpu", "--quiet")
    assert inspect_json(engine)["provenance"]["build_options"]["exact_gelu"] == "false"


@needs_gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_tanh_gelu_and_pointwise_conv_tactics_match_pytorch(work, precision):
    """Both builds match PyTorch at the precision's tolerance; --exact-gelu never
    chooses a tanh-gelu tactic (and says so in the recorded options)."""
    if not _cuda_build_possible():
        pytest.skip("this ingot has no CUDA backend")
    torch.manual_seed(4)
    model = GeluMlp().eval()
    x = torch.randn(8, 64, 16, 16, generator=torch.Generator().manual_seed(5))
    pt2 = work / f"gelu_mlp_{precision}.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(pt2))
    with torch.no_grad():
        ref = to_numpy(model(x))
    for exact in (False, True):
        engine = work / f"gelu-{precision}-{exact}.engine"
        convert(pt2, engine, "--backend", "cuda", "--precision", precision, "--quiet",
                *(["--exact-gelu"] if exact else []))
        info = inspect_json(engine)
        tactics = [step["tactic"] for step in info["steps"]]
        assert info["provenance"]["build_options"]["exact_gelu"] == ("true" if exact else "false")
        if exact:
            assert not any("lt-tanh" in t for t in tactics), tactics
        out = run_engine(engine, x, work / f"out-gelu-{precision}-{exact}")
        assert_close(out, ref, TOLERANCE[precision], f"{precision} engine (exact_gelu={exact}, tactics {tactics})")
