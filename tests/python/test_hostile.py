"""Hostile input never crashes ingot: corrupt, truncated, wrong-version and
foreign engine files, broken .pt2 archives, and wrong inputs at `ingot run`.
Each must end with a non-zero exit (not a signal), a message naming the problem,
no crash output, and no output file left behind."""
import random
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from conftest import assert_clean_failure, describe, run_ingot

SHAPE = (2, 3, 8, 8)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).sum(dim=(2, 3))


@pytest.fixture(scope="module")
def work(tmp_path_factory, ingot_bin):
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def model_pt2(work):
    torch.manual_seed(0)
    path = work / "tiny.pt2"
    torch.export.save(torch.export.export(Tiny().eval(), (torch.randn(*SHAPE),)), str(path))
    return path


@pytest.fixture(scope="module")
def engine_bytes(work, model_pt2):
    path = work / "tiny.engine"
    proc = run_ingot("convert", model_pt2, "-o", path, "--backend", "cpu", "--quiet")
    assert proc.returncode == 0, describe(proc)
    return path.read_bytes()


def _flip(data, position):
    data = bytearray(data)
    data[position] ^= 0x10
    return bytes(data)


def _wrong_major(data):
    data = bytearray(data)
    data[8:10] = (99).to_bytes(2, "little")  # header: uint16 format major at offset 8
    return bytes(data)


ENGINE_CORRUPTIONS = {
    "empty": (lambda d: b"", r"empty|small|short|truncat|size|corrupt|magic"),
    "truncated-header": (lambda d: d[:20], r"small|short|truncat|size|corrupt"),
    "truncated-half": (lambda d: d[:len(d) // 2], r"small|short|truncat|size|corrupt"),
    "truncated-checksum": (lambda d: d[:-3], r"small|short|truncat|size|corrupt|checksum"),
    "bitflip-metadata": (lambda d: _flip(d, 100), r"checksum|corrupt"),
    "bitflip-middle": (lambda d: _flip(d, len(d) // 2), r"checksum|corrupt"),
    "bitflip-checksum": (lambda d: _flip(d, len(d) - 1), r"checksum|corrupt"),
    "bitflip-magic": (lambda d: _flip(d, 0), r"magic|not an ingot engine|corrupt"),
    "wrong-major-version": (_wrong_major, r"version"),
    "random-bytes": (lambda d: random.Random(5).randbytes(4096), r"magic|not an ingot engine|corrupt"),
}


@pytest.mark.parametrize("command", ["inspect", "run"])
@pytest.mark.parametrize("corruption", list(ENGINE_CORRUPTIONS))
def test_corrupt_engine_is_refused(corruption, command, engine_bytes, work):
    make, pattern = ENGINE_CORRUPTIONS[corruption]
    path = work / f"{corruption}.engine"
    path.write_bytes(make(engine_bytes))
    out_dir = work / f"out-{corruption}-{command}"
    args = [command, path] + (["--output-dir", out_dir] if command == "run" else [])
    assert_clean_failure(run_ingot(*args), pattern)
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_missing_engine_file(work):
    assert_clean_failure(run_ingot("run", work / "does-not-exist.engine"), r"no such file|not found|cannot open|exist")


def test_model_loaded_as_engine(model_pt2):
    assert_clean_failure(run_ingot("inspect", model_pt2), r"magic|not an ingot engine|corrupt")
    assert_clean_failure(run_ingot("run", model_pt2), r"magic|not an ingot engine|corrupt")


def _not_a_zip(work, engine_bytes, model_pt2):
    path = work / "text.pt2"
    path.write_text("this is not a zip archive\n")
    return path


def _engine_as_model(work, engine_bytes, model_pt2):
    path = work / "engine-as-model.pt2"
    path.write_bytes(engine_bytes)
    return path


def _zip_without_model_json(work, engine_bytes, model_pt2):
    path = work / "nomodel.pt2"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("nomodel/archive_format", "pt2")
        z.writestr("nomodel/archive_version", "0")
        z.writestr("nomodel/byteorder", "little")
    return path


def _truncated_archive(work, engine_bytes, model_pt2):
    path = work / "truncated.pt2"
    data = model_pt2.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def _broken_model_json(work, engine_bytes, model_pt2):
    path = work / "badjson.pt2"
    with zipfile.ZipFile(model_pt2) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("models/model.json"):
                data = data[: len(data) // 3]  # cut mid-document
            dst.writestr(info.filename.replace("tiny/", "badjson/", 1), data)
    return path


MODEL_CORRUPTIONS = {
    "not-a-zip": (_not_a_zip, r"zip|archive"),
    "engine-as-model": (_engine_as_model, r"zip|archive"),
    "zip-without-model-json": (_zip_without_model_json, r"model\.json|models/|no model|not found"),
    "truncated-archive": (_truncated_archive, r"zip|archive|truncat|corrupt"),
    "broken-model-json": (_broken_model_json, r"json|parse"),
}


@pytest.mark.parametrize("command", ["check", "convert"])
@pytest.mark.parametrize("corruption", list(MODEL_CORRUPTIONS))
def test_broken_model_is_refused(corruption, command, work, engine_bytes, model_pt2):
    make, pattern = MODEL_CORRUPTIONS[corruption]
    path = make(work, engine_bytes, model_pt2)
    engine = work / f"{corruption}-{command}.engine"
    args = [command, path] + (["-o", engine] if command == "convert" else [])
    assert_clean_failure(run_ingot(*args), pattern)
    assert not engine.exists()
    assert not [p for p in work.iterdir() if engine.name in p.name], "temporary file left behind"


def test_missing_model_file(work):
    engine = work / "missing.engine"
    assert_clean_failure(run_ingot("convert", work / "nope.pt2", "-o", engine), r"no such file|not found|cannot open|exist")
    assert not engine.exists()


def _input_cases(work):
    good = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    cases = {
        "wrong-shape": ("x", good[:1], r"shape"),
        "wrong-rank": ("x", good.reshape(2, 3, 64), r"shape"),
        "wrong-dtype": ("x", good.astype(np.float64), r"dtype"),
        "int-dtype": ("x", good.astype(np.int64), r"dtype"),
        "wrong-name": ("y", good, r"no input named 'y'"),
    }
    return cases


@pytest.mark.parametrize("case", ["wrong-shape", "wrong-rank", "wrong-dtype", "int-dtype", "wrong-name"])
def test_wrong_input_at_run(case, work, engine_bytes):
    engine = work / "tiny.engine"
    name, array, pattern = _input_cases(work)[case]
    npy = work / f"{case}.npy"
    np.save(npy, array)
    out_dir = work / f"out-{case}"
    assert_clean_failure(run_ingot("run", engine, "--input", f"{name}={npy}", "--output-dir", out_dir), pattern)
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_input_spec_without_equals(work, engine_bytes):
    assert_clean_failure(run_ingot("run", work / "tiny.engine", "--input", "x"), r"NAME=FILE")


def test_input_file_not_npy(work, engine_bytes):
    bogus = work / "bogus.npy"
    bogus.write_bytes(b"definitely not numpy data")
    out_dir = work / "out-bogus"
    assert_clean_failure(run_ingot("run", work / "tiny.engine", "--input", f"x={bogus}", "--output-dir", out_dir),
                         r"npy|magic|format")
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_input_given_twice(work, engine_bytes):
    npy = work / "twice.npy"
    np.save(npy, np.zeros(SHAPE, dtype=np.float32))
    assert_clean_failure(run_ingot("run", work / "tiny.engine", "--input", f"x={npy}", "--input", f"x={npy}"),
                         r"twice")
