#!/usr/bin/env bash
# Runs ingot's test suites: builds build/ if needed, then the C++ tests (ctest;
# tests labelled "gpu" are left out where no NVIDIA GPU is present) and the Python
# end-to-end tests (pytest tests/python, which compare engines with PyTorch).
# Both suites always run and print their summaries; the exit status is non-zero
# if either failed. Extra arguments go to pytest (e.g. -k resnet).
# Environment: PYTHON (default python3), INGOT_BUILD_DIR (default build).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
JOBS=$(nproc)
BUILD=${INGOT_BUILD_DIR:-build}

echo "==> building ($BUILD/)"
# shellcheck source=find_cmake.sh
source scripts/find_cmake.sh
ingot_find_cmake || exit 1
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  "$CMAKE" -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release || exit 1
fi
"$CMAKE" --build "$BUILD" -j "$JOBS" || { echo "build failed" >&2; exit 1; }

echo
echo "==> C++ tests (ctest)"
ctest_args=(--test-dir "$BUILD" --output-on-failure -j "$JOBS")
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no NVIDIA GPU: running the tests labelled 'cpu' only"
  ctest_args+=(-L cpu)
fi
"$CTEST" "${ctest_args[@]}"
ctest_status=$?

echo
echo "==> fuzzing the engine and .npy readers briefly (libFuzzer)"
fuzz_status=0
if command -v clang++-14 >/dev/null 2>&1; then
  # The configure and build output is kept quiet, but shown when they fail.
  fuzz_log=$(mktemp)
  "$CMAKE" -S tests/fuzz -B "$BUILD/fuzz" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
      -DINGOT_FUZZ_SECONDS="${INGOT_FUZZ_SECONDS:-15}" >"$fuzz_log" 2>&1 &&
    "$CMAKE" --build "$BUILD/fuzz" -j "$JOBS" >>"$fuzz_log" 2>&1 ||
    { tail -n 40 "$fuzz_log"; false; } &&
    "$CTEST" --test-dir "$BUILD/fuzz" -L fuzz --output-on-failure
  fuzz_status=$?
  rm -f "$fuzz_log"
else
  echo "clang++-14 not found: fuzz run skipped (scripts/setup.sh installs it)"
fi

echo
echo "==> fixtures written by PyTorch 2.11 (no torch needed)"
"$PYTHON" tests/fixtures/check_fixtures.py --ingot "$BUILD/ingot"
fixtures_status=$?

echo
echo "==> Python end-to-end tests (pytest tests/python)"
INGOT_BIN=${INGOT_BIN:-$(cd "$BUILD" && pwd)/ingot} "$PYTHON" -m pytest tests/python -q -rfEs "$@"
pytest_status=$?

echo
echo "ctest: $([ $ctest_status -eq 0 ] && echo passed || echo "FAILED (exit $ctest_status)")"
echo "pytest: $([ $pytest_status -eq 0 ] && echo passed || echo "FAILED (exit $pytest_status)")"
echo "fuzz: $([ $fuzz_status -eq 0 ] && echo passed || echo "FAILED (exit $fuzz_status)")"
echo "fixtures: $([ $fixtures_status -eq 0 ] && echo passed || echo "FAILED (exit $fixtures_status)")"
[ $ctest_status -eq 0 ] && [ $pytest_status -eq 0 ] && [ $fuzz_status -eq 0 ] && [ $fixtures_status -eq 0 ]
