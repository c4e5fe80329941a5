#!/usr/bin/env bash
# Unpacks the Debian packages ingot builds with into .deps/ (ignored by git), so
# that they can travel to a machine without a package registry (the GPU test
# machine): `device run` carries .deps and CMake finds it through INGOT_DEPS_ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(nlohmann-json3-dev libflatbuffers-dev libxxhash-dev libcli11-dev libeigen3-dev
      libminizip-dev libminizip1 zlib1g-dev libgtest-dev)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "${pkgs[@]}" >/dev/null 2>&1) || {
  echo "apt-get download failed; run 'apt-get update' first" >&2; exit 1; }
rm -rf .deps && mkdir -p .deps
for f in "$tmp"/*.deb; do dpkg -x "$f" .deps; done
rm -rf .deps/usr/share/doc .deps/usr/share/man
# pybind11 (header-only, from PyPI) for the Python extension, importable through
# PYTHONPATH=.deps/py where the machine's Python lacks it.
(cd "$tmp" && pip download -q pybind11 --no-deps -d "$tmp/py") && mkdir -p .deps/py &&
  (cd .deps/py && unzip -qo "$tmp"/py/pybind11-*.whl)
# The cuDNN frontend's headers (the cudnn attention tactic), from its PyPI wheel.
(cd "$tmp" && pip download -q nvidia-cudnn-frontend==1.32.0 --no-deps -d "$tmp/fe") && mkdir -p .deps/cudnn-frontend &&
  (cd .deps/cudnn-frontend && unzip -qo "$tmp"/fe/nvidia_cudnn_frontend-*.whl 'include/*')
echo "unpacked ${#pkgs[@]} packages into .deps ($(du -sh .deps | cut -f1))"
