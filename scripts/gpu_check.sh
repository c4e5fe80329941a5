#!/usr/bin/env bash
# The one command for a GPU machine: builds ingot with CUDA, runs the whole test
# suite (GPU-labelled tests included) and the benchmarks, and prints a short
# summary table last. Needs .deps/ (scripts/fetch_gpu_deps.sh) when the machine
# has no package registry. Logs go to $OUT (or /tmp/ingot-gpu) for inspection.
#   bash scripts/gpu_check.sh [build|test|profile|bench|all]   (default: all; profile also
#   runs the kernel micro-benchmark)
# Environment: GPU_TEST_TIMEOUT (s per suite), GPU_TEST_PRECISIONS, GPU_TEST_SHARDS, PYTEST_ARGS,
# PROFILE_MODELS, PROFILE_BATCHES, BENCH_ARGS (extra bench/compare.py options), GPU_BUILD_PYTHON=0.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
out=${OUT:-/tmp/ingot-gpu}
mkdir -p "$out"
summary=()
note() { summary+=("$1"); echo "== $1"; }

cudnn_root=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null || true)
if [ -n "$cudnn_root" ] && [ ! -e "$cudnn_root/lib/libcudnn.so" ]; then
  # The wheel ships only libcudnn.so.9; the linker wants the plain name.
  mkdir -p .deps/cudnn-link && ln -sf "$cudnn_root/lib/libcudnn.so.9" .deps/cudnn-link/libcudnn.so
fi
# cuDNN builds some engines at run time with NVRTC: the Python environment's copy
# (nvidia/cu13/lib or nvidia/cuda_nvrtc/lib) where there is one.
nvrtc_dir=$(python3 -c "
import glob, os, site
hits = [h for p in site.getsitepackages() for h in glob.glob(p + '/nvidia/*/lib/libnvrtc.so.*')]
print(os.path.dirname(hits[0]) if hits else '')" 2>/dev/null || true)
export LD_LIBRARY_PATH="${cudnn_root:+$cudnn_root/lib:}${nvrtc_dir:+$nvrtc_dir:}${LD_LIBRARY_PATH:-}"

# pybind11 for the Python extension: the machine's, else the copy in .deps/py.
python3 -c "import pybind11" 2>/dev/null || export PYTHONPATH="$PWD/.deps/py${PYTHONPATH:+:$PYTHONPATH}"

if [ "$what" = all ] || [ "$what" = build ]; then
  t0=$(date +%s)
  cmake -S . -B build-gpu -G Ninja -DINGOT_CUDA=ON -DINGOT_DEPS_ROOT="$PWD/.deps" \
      ${cudnn_root:+-DINGOT_CUDNN_ROOT="$cudnn_root"} -DCMAKE_LIBRARY_PATH="$PWD/.deps/cudnn-link" \
      -DINGOT_CUDNN_FRONTEND_ROOT="$PWD/.deps/cudnn-frontend" >"$out/configure.log" 2>&1 && ninja -C build-gpu >"$out/build.log" 2>&1
  rc=$?
  # The Python extension as pip builds it (private libstdc++, see python/CMakeLists.txt);
  # GPU_BUILD_PYTHON=0 skips it (a quicker build when only the C++ side is checked).
  if [ $rc -eq 0 ] && [ "${GPU_BUILD_PYTHON:-1}" != 0 ]; then
    cmake -S . -B build-gpu-py -G Ninja -DINGOT_CUDA=ON -DINGOT_BUILD_PYTHON=ON -DINGOT_BUILD_TESTS=OFF \
      -DINGOT_PRIVATE_CXX_RUNTIME=ON -DINGOT_DEPS_ROOT="$PWD/.deps" ${cudnn_root:+-DINGOT_CUDNN_ROOT="$cudnn_root"} \
      -DINGOT_CUDNN_FRONTEND_ROOT="$PWD/.deps/cudnn-frontend" -DCMAKE_LIBRARY_PATH="$PWD/.deps/cudnn-link" >>"$out/configure.log" 2>&1 && ninja -C build-gpu-py _ingot >>"$out/build.log" 2>&1
    rc=$?
  fi
  tail -30 "$out/build.log"
  note "build: rc=$rc in $(( $(date +%s) - t0 )) s"
  [ $rc -eq 0 ] || { tail -30 "$out/configure.log"; printf '%s\n' "${summary[@]}"; exit 1; }
  # An importable `ingot` package from this build (the extension's RPATH finds the runtime).
  if [ "${GPU_BUILD_PYTHON:-1}" != 0 ]; then
    rm -rf build-gpu/pyroot && mkdir -p build-gpu/pyroot && cp -r python/ingot build-gpu/pyroot/ &&
      cp build-gpu-py/python/_ingot*.so build-gpu/pyroot/ingot/
  fi
fi

# The pytest suites against PyTorch on the GPU, one process per precision in parallel
# (one GPU is plenty for three processes), each bounded by GPU_TEST_TIMEOUT seconds.
run_pytest() {  # label, precision, extra args...
  local label=$1 precision=$2; shift 2
  INGOT_BIN="$PWD/build-gpu/ingot" INGOT_TEST_BACKEND=cuda INGOT_TEST_PRECISION=$precision \
    PYTHONPATH="$PWD/build-gpu/pyroot${PYTHONPATH:+:$PYTHONPATH}" \
    timeout "${GPU_TEST_TIMEOUT:-400}" python3 -m pytest -q -p no:cacheprovider "$@" >"$out/pytest-$label.log" 2>&1
  echo "$label: rc=$? $(tail -1 "$out/pytest-$label.log")" >"$out/pytest-$label.summary"
  grep -E "^FAILED" "$out/pytest-$label.log" | cut -c1-400 >>"$out/pytest-$label.summary"
}

if [ "$what" = all ] || [ "$what" = test ]; then
  ctest --test-dir build-gpu --output-on-failure -j4 >"$out/ctest.log" 2>&1
  note "ctest: rc=$? $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
  grep -E "^ *[0-9]+/[0-9]+ Test" "$out/ctest.log" | grep -i gpu
  # compute-sanitizer memcheck over the per-op GPU tests, in the background meanwhile.
  ( timeout "${GPU_TEST_TIMEOUT:-400}" compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
      build-gpu/tests/cpp/test_gpu_backend_ops >"$out/memcheck.log" 2>&1
    echo "memcheck (test_gpu_backend_ops): rc=$? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' "$out/memcheck.log" | tail -2 | tr '\n' ' ')" \
      >"$out/memcheck.summary" ) &
  run_pytest api fp32 tests/python/test_python_api.py tests/python/test_tuning.py tests/python/test_reformat.py &
  shards=${GPU_TEST_SHARDS:-2}
  for precision in ${GPU_TEST_PRECISIONS:-fp32 fp16 bf16}; do
    for ((i = 0; i < shards; i++)); do
      INGOT_TEST_SHARD="$i/$shards" run_pytest "models-$precision-$i" "$precision" -rf \
        tests/python/test_models.py tests/python/test_fusion_conv.py tests/python/test_fusion_gemm.py \
        tests/python/test_fusion_pointwise.py tests/python/test_ops_nn.py tests/python/test_ops_data.py \
        ${PYTEST_ARGS:-} &
    done
  done
  wait
  for f in "$out"/memcheck.summary "$out"/pytest-*.summary; do [ -f "$f" ] && note "$(cat "$f")"; done
fi

if [ "$what" = all ] || [ "$what" = profile ]; then
  # Per-step profiles of the benchmark models (where an engine spends its time); each
  # model's timing cache keeps every candidate's time (what the tuner chose from).
  prof="$out/profile" && mkdir -p "$prof"
  for model in ${PROFILE_MODELS:-resnet50 vit_b_16 bert_base}; do
    for batch in ${PROFILE_BATCHES:-1 32}; do
      tag="$model-b$batch"
      python3 bench/models.py "$model" --batch "$batch" -o "$prof/$tag.pt2" >/dev/null 2>&1 &&
        build-gpu/ingot convert "$prof/$tag.pt2" -o "$prof/$tag.engine" --backend cuda --precision fp16 \
          --timing-cache "$prof/$tag.timing.json" >"$prof/$tag.convert.log" 2>&1 &&
        build-gpu/ingot bench "$prof/$tag.engine" --profile --duration-s 1 >"$prof/$tag.profile.txt" 2>&1
      note "profile $tag: rc=$? $(grep -m1 -E 'median' "$prof/$tag.profile.txt")"
      rm -f "$prof/$tag.pt2" "$prof/$tag.engine"
    done
  done
  tar -C "$out" -czf "$out/profile.tgz" profile && rm -rf "$prof"
  # The memory-bound kernels against what bandwidth allows (bench/kernel_bench.cu).
  if [ -x build-gpu/ingot_kernel_bench ]; then
    build-gpu/ingot_kernel_bench >"$out/kernel_bench.txt" 2>&1
    note "kernel bench: rc=$? (microseconds per launch in kernel_bench.txt)"
    cat "$out/kernel_bench.txt"
  fi
fi

if [ "$what" = all ] || [ "$what" = bench ]; then
  if [ -f bench/compare.py ]; then
    python3 bench/compare.py --ingot "$PWD/build-gpu/ingot" --out "$out/bench.md" ${BENCH_ARGS:-} >"$out/bench.log" 2>&1
    note "bench: rc=$? (table in bench.md)"
    cat "$out/bench.md" 2>/dev/null
  fi
fi

echo
echo "==================== summary ===================="
printf '%s\n' "${summary[@]}"
