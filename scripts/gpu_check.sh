#!/usr/bin/env bash
# The one command for a GPU machine: builds ingot with CUDA, runs the whole test
# suite (GPU-labelled tests included) and the benchmarks, and prints a short
# summary table last. Needs .deps/ (scripts/fetch_gpu_deps.sh) when the machine
# has no package registry. Logs go to $OUT (or /tmp/ingot-gpu) for inspection.
#   bash scripts/gpu_check.sh [build|test|bench|all]   (default: all)
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
export LD_LIBRARY_PATH="${cudnn_root:+$cudnn_root/lib:}${LD_LIBRARY_PATH:-}"

if [ "$what" = all ] || [ "$what" = build ]; then
  t0=$(date +%s)
  cmake -S . -B build-gpu -G Ninja -DINGOT_CUDA=ON -DINGOT_DEPS_ROOT="$PWD/.deps" \
      ${cudnn_root:+-DINGOT_CUDNN_ROOT="$cudnn_root"} -DCMAKE_LIBRARY_PATH="$PWD/.deps/cudnn-link" \
      >"$out/configure.log" 2>&1 && ninja -C build-gpu >"$out/build.log" 2>&1
  rc=$?
  tail -30 "$out/build.log"
  note "build: rc=$rc in $(( $(date +%s) - t0 )) s"
  [ $rc -eq 0 ] || { printf '%s\n' "${summary[@]}"; exit 1; }
fi

if [ "$what" = all ] || [ "$what" = test ]; then
  ctest --test-dir build-gpu --output-on-failure -j8 >"$out/ctest.log" 2>&1
  note "ctest: rc=$? $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
  INGOT_BIN="$PWD/build-gpu/ingot" INGOT_TEST_BACKENDS="${INGOT_TEST_BACKENDS:-cpu,cuda}" \
    python3 -m pytest tests/python -q -p no:cacheprovider ${PYTEST_ARGS:-} >"$out/pytest.log" 2>&1
  note "pytest: $(tail -1 "$out/pytest.log")"
fi

if [ "$what" = all ] || [ "$what" = bench ]; then
  if [ -f bench/compare.py ]; then
    python3 bench/compare.py --ingot "$PWD/build-gpu/ingot" --out "$out/bench.md" >"$out/bench.log" 2>&1
    note "bench: rc=$? (table in bench.md)"
    cat "$out/bench.md" 2>/dev/null
  fi
fi

echo
echo "==================== summary ===================="
printf '%s\n' "${summary[@]}"
