#!/usr/bin/env bash
# Packs this machine's CUDA build (build/: the ingot command, the runtime library,
# the GPU test programs and the kernel micro-benchmark) into .prebuilt/ (ignored by
# git), with the studies in bench/studies, so that a GPU machine without time to compile can run them as they are:
# carry .prebuilt and run
#   ln -sfn .prebuilt build-gpu && export LD_LIBRARY_PATH=$PWD/.prebuilt  (+ cuDNN's lib)
# then scripts/gpu_check.sh profile|bench, or .prebuilt/test_gpu_* directly. Builds
# for sm_90 (INGOT_CUDA_ARCHITECTURES); the GPU machine needs CUDA 13 and cuDNN 9.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/CMakeCache.txt ] || { echo "no build/ here: run scripts/setup.sh first" >&2; exit 1; }
grep -q "INGOT_WITH_CUDA" build/build.ninja || { echo "build/ has no CUDA backend (no nvcc?)" >&2; exit 1; }
ninja -C build ingot ingot_kernel_bench ingot_layer_norm_study ingot_gemm_study $(cd build && ls tests/cpp/ | grep -E '^test_gpu_[a-z_]+$' | sed 's|^|tests/cpp/|') >/dev/null
rm -rf .prebuilt && mkdir -p .prebuilt
cp build/ingot build/libingot_runtime.so build/ingot_kernel_bench build/ingot_layer_norm_study build/ingot_gemm_study .prebuilt/
cp build/tests/cpp/test_gpu_* .prebuilt/ 2>/dev/null || true
strip -g .prebuilt/* 2>/dev/null || true
echo "packed $(ls .prebuilt | wc -l) files into .prebuilt ($(du -sh .prebuilt | cut -f1))"
