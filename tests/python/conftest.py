"""Shared fixtures of ingot's Python end-to-end tests.

Every test here drives the real `ingot` command (env INGOT_BIN, else build/ingot)
and compares what its engines compute with what PyTorch itself computes on the
same inputs; nothing is compared with numbers produced by ingot alone. When the
binary is missing every test is skipped, with the reason shown.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]

# Relative error bound ||out - ref|| / ||ref|| by dtype (fp32 kernels may sum in a
# different order than PyTorch, nothing more).
# Which backend and precision the end-to-end tests build engines for. CI uses the
# defaults (cpu, fp32); scripts/gpu_check.sh sets cuda and each precision in turn.
BACKEND = os.environ.get("INGOT_TEST_BACKEND", "cpu")
PRECISION = os.environ.get("INGOT_TEST_PRECISION", "fp32")
# Relative-error bound for an engine built at a reduced precision, against the
# fp32 PyTorch reference (DESIGN.md: fp16 about 1e-2, bf16 about 3e-2).
PRECISION_TOLERANCE = {"fp32": 0.0, "fp16": 1e-2, "bf16": 3e-2}
TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10,
             np.dtype(np.float16): 1e-2}
if BACKEND == "cuda":
    # The CUDA backend has no float64 kernels: float64 values are computed in
    # float32 (the build says so), so float64 outputs carry float32 rounding.
    TOLERANCE[np.dtype(np.float64)] = 1e-6

TORCH_TO_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16,
                  torch.int64: np.int64, torch.int32: np.int32, torch.int16: np.int16,
                  torch.int8: np.int8, torch.uint8: np.uint8, torch.bool: np.bool_}


def _find_ingot():
    env = os.environ.get("INGOT_BIN")
    path = Path(env) if env else REPO_ROOT / "build" / "ingot"
    return path if path.is_file() and os.access(path, os.X_OK) else None


INGOT = _find_ingot()


def pytest_collection_modifyitems(config, items):
    # INGOT_TEST_SHARD="i/n" keeps every n-th test starting at i, so that the GPU
    # script can run one suite in several processes side by side.
    shard = os.environ.get("INGOT_TEST_SHARD")
    if shard:
        index, count = (int(x) for x in shard.split("/"))
        kept = [item for i, item in enumerate(items) if i % count == index]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    if INGOT is None:
        skip = pytest.mark.skip(reason="the ingot binary was not found (build it, or set INGOT_BIN)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ingot_bin():
    if INGOT is None:
        pytest.skip("the ingot binary was not found (build it, or set INGOT_BIN)")
    return INGOT


def run_ingot(*args, timeout=900):
    """Runs `ingot ARGS...` and returns the CompletedProcess (text mode)."""
    assert INGOT is not None
    return subprocess.run([str(INGOT), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def describe(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def assert_clean_failure(proc, pattern):
    """A refusal: non-zero exit, no signal, no crash text, and a message matching pattern."""
    assert proc.returncode != 0, "expected a failure\n" + describe(proc)
    assert proc.returncode > 0, "killed by a signal (crash)\n" + describe(proc)
    assert proc.returncode not in (134, 136, 139), "crash-like exit code\n" + describe(proc)
    text = proc.stdout + proc.stderr
    for crash in ("Segmentation fault", "terminate called", "Aborted", "core dumped", "Traceback"):
        assert crash not in text, f"crash output ({crash})\n" + describe(proc)
    assert re.search(pattern, text, re.IGNORECASE), f"message does not match /{pattern}/\n" + describe(proc)


def import_ingot_package():
    """(the `ingot` Python package or None, a pytest mark that skips a module's tests when it
    cannot be imported, with the reason shown): the package is installed by `pip install .`."""
    try:
        import ingot
        return ingot, pytest.mark.skipif(False, reason="")
    except Exception as e:  # noqa: BLE001 - any import failure means "not installed here"
        return None, pytest.mark.skip(reason=f"`import ingot` failed ({type(e).__name__}: {e}); run `pip install .`")


def export_program(module, inputs, dialect):
    """torch.export with the given IR dialect: "training" (plain export) or "aten" (decomposed)."""
    args, kwargs = (tuple(inputs), {}) if not isinstance(inputs, dict) else ((), dict(inputs))
    program = torch.export.export(module, args, kwargs)
    if dialect == "aten":
        program = program.run_decompositions()
    elif dialect != "training":
        raise ValueError(f"unknown dialect {dialect!r}")
    return program


def small_bert(max_position_embeddings=128):
    """A 2-layer transformers BertModel (hidden 32, 4 heads, MLP 64, vocabulary 100, no
    pooler) wrapped to take (input_ids, attention_mask) and return last_hidden_state;
    skips the test where transformers is not installed."""
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, max_position_embeddings=max_position_embeddings)

    class Bert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = transformers.BertModel(config, add_pooling_layer=False)

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return Bert()


def user_input_names(program):
    return list(program.graph_signature.user_inputs)


def flat_tensors(value):
    return [t for t in torch.utils._pytree.tree_leaves(value) if isinstance(t, torch.Tensor)]


def to_numpy(t):
    return t.detach().cpu().contiguous().numpy()


def assert_matches(out, ref, what="output", allowed=0.0):
    """ingot output vs PyTorch reference: same shape and dtype; floats within the
    relative tolerance (NaN always fails); integers and bools exactly equal.
    `allowed` raises the float tolerance (see torch_reduced_precision_error)."""
    assert out.shape == ref.shape, f"{what}: shape {out.shape}, PyTorch gives {ref.shape}"
    assert out.dtype == ref.dtype, f"{what}: dtype {out.dtype}, PyTorch gives {ref.dtype}"
    if ref.dtype.kind == "f":
        assert not np.isnan(out).any(), f"{what}: ingot output has NaN"
        assert np.isfinite(ref).all(), f"{what}: the PyTorch reference is not finite (bad test)"
        out64, ref64 = out.astype(np.float64), ref.astype(np.float64)
        err = np.linalg.norm(out64 - ref64)
        norm = np.linalg.norm(ref64)
        tol = max(TOLERANCE[ref.dtype], PRECISION_TOLERANCE[PRECISION], allowed)
        rel = err / norm if norm > 0 else err
        assert rel <= tol, (f"{what}: relative error {rel:.3e} > {tol:g} "
                            f"(max abs diff {np.abs(out64 - ref64).max():.3e})")
    else:
        mismatched = int((out != ref).sum())
        assert mismatched == 0, f"{what}: {mismatched} of {ref.size} elements differ"


def torch_reduced_precision_error(module, inputs, expected):
    """PyTorch's own relative error per output when it runs the model at the engine's
    precision (fp16/bf16, on the GPU), against its float32 output. Some randomly
    initialised models are ill-conditioned (BatchNorm statistics with near-zero
    variance amplify rounding), so at reduced precision an engine is held to
    max(the DESIGN.md tolerance, twice PyTorch's own error at that precision).
    None where PyTorch cannot run it (no GPU)."""
    if PRECISION == "fp32" or not torch.cuda.is_available():
        return None
    import copy
    dtype = torch.float16 if PRECISION == "fp16" else torch.bfloat16
    low = copy.deepcopy(module).to("cuda", dtype)
    cast = lambda t: t.to("cuda", dtype) if t.is_floating_point() else t.to("cuda")
    with torch.no_grad():
        args = {k: cast(v) for k, v in inputs.items()} if isinstance(inputs, dict) else [cast(t) for t in inputs]
        got = flat_tensors(low(**args) if isinstance(args, dict) else low(*args))
    errors = []
    for g, ref in zip(got, expected):
        if not ref.is_floating_point():
            errors.append(0.0)
            continue
        g64, r64 = g.double().cpu(), ref.double()
        errors.append(float((g64 - r64).norm() / max(float(r64.norm()), 1e-300)))
    return errors


class Harness:
    """Exports, converts and runs models through the real `ingot` command. Exports
    and engines are cached per (key, dialect) in one session directory."""

    def __init__(self, root: Path):
        self.root = root
        self.counter = 0

    def export(self, module, inputs, dialect, key):
        pt2 = self.root / f"{key}-{dialect}.pt2"
        names_file = pt2.with_suffix(".inputs")
        if not pt2.exists():
            if isinstance(module, torch.export.ExportedProgram):
                program = module.run_decompositions() if dialect == "aten" else module
            else:
                program = export_program(module, inputs, dialect)
            torch.export.save(program, str(pt2))
            names_file.write_text("\n".join(user_input_names(program)))
        return pt2, names_file.read_text().split("\n")

    def convert(self, pt2, engine=None, *extra):
        engine = Path(engine) if engine else pt2.with_suffix(f".{BACKEND}.{PRECISION}.engine")
        if not engine.exists():
            proc = run_ingot("convert", pt2, "-o", engine, "--backend", BACKEND, "--precision", PRECISION,
                             "--quiet", *extra)
            if proc.returncode != 0:
                pytest.fail(f"ingot convert {pt2.name} failed\n" + describe(proc), pytrace=False)
        return engine

    def run(self, engine, named_inputs, out_dir):
        """Runs the engine on {name: np.ndarray}; returns the list of output arrays."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        args = ["run", engine, "--output-dir", out_dir]
        for name, array in named_inputs.items():
            path = out_dir / f"input.{name}.npy"
            np.save(path, array)
            args += ["--input", f"{name}={path}"]
        proc = run_ingot(*args)
        if proc.returncode != 0:
            pytest.fail(f"ingot run {Path(engine).name} failed\n" + describe(proc), pytrace=False)
        outputs = []
        while (out_dir / f"output.{len(outputs)}.npy").exists():
            outputs.append(np.load(out_dir / f"output.{len(outputs)}.npy"))
        return outputs

    def convert_and_run(self, module_or_program, inputs, dialect, key=None):
        """The whole job: export (dialect "training" or "aten"), convert with
        --backend $INGOT_TEST_BACKEND (cpu), run on the same inputs, and compare every output with the
        PyTorch module's own output. Accepts an nn.Module or an ExportedProgram."""
        if key is None:
            self.counter += 1
            key = f"model{self.counter}"
        module = module_or_program
        if isinstance(module_or_program, torch.export.ExportedProgram):
            module = module_or_program.module()
        else:
            module = module.eval()
        with torch.no_grad():
            expected = flat_tensors(module(**inputs) if isinstance(inputs, dict) else module(*inputs))
        pt2, names = self.export(module_or_program, inputs, dialect, key)
        engine = self.convert(pt2)
        flat_inputs = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
        assert len(names) == len(flat_inputs), f"export has inputs {names}, the test gave {len(flat_inputs)}"
        outputs = self.run(engine, {n: to_numpy(t) for n, t in zip(names, flat_inputs)},
                           self.root / f"{key}-{dialect}-out")
        assert len(outputs) == len(expected), (
            f"ingot wrote {len(outputs)} outputs, PyTorch returns {len(expected)}")
        torch_errors = None
        for i, (out, ref) in enumerate(zip(outputs, expected)):
            try:
                assert_matches(out, to_numpy(ref), f"{key} ({dialect}) output {i}")
            except AssertionError as e:
                if torch_errors is None:
                    torch_errors = torch_reduced_precision_error(module, inputs, expected) or []
                if i >= len(torch_errors):
                    raise
                assert_matches(out, to_numpy(ref), f"{key} ({dialect}) output {i} [{e}; PyTorch's own "
                               f"{PRECISION} error {torch_errors[i]:.3e}]", allowed=2 * torch_errors[i])
                import warnings
                warnings.warn(f"{key} ({dialect}) output {i}: passes only within twice PyTorch's own {PRECISION} "
                              f"error ({torch_errors[i]:.3e}): {e}")
        return outputs


@pytest.fixture(scope="session")
def harness(tmp_path_factory, ingot_bin):
    return Harness(tmp_path_factory.mktemp("ingot-e2e"))


@pytest.fixture(scope="session")
def convert_and_run(harness):
    return harness.convert_and_run


def engine_ops(engine):
    """The engine's steps (`ingot inspect`), as a list of op names."""
    proc = run_ingot("inspect", engine, "--json")
    assert proc.returncode == 0, describe(proc)
    data = json.loads(proc.stdout)
    return [step.get("op") for step in data.get("steps", [])]


def converted_ops(harness, key, dialect):
    return engine_ops(harness.convert(harness.root / f"{key}-{dialect}.pt2"))
