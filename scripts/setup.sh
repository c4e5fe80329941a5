#!/usr/bin/env bash
# Sets up ingot on a fresh Debian/Ubuntu machine and shows it working:
#   1. installs the build tools and libraries (apt) and the Python test stack (pip),
#      each only if missing, so running it again is quick and changes nothing;
#   2. configures and builds ingot into build/ (the CUDA backend is added
#      automatically where nvcc exists);
#   3. converts the example model in examples/, runs the engine on the recorded
#      input and compares the result with PyTorch's recorded output.
# Environment: PYTHON (default python3), INGOT_SKIP_DEPS=1 to skip step 1,
# INGOT_TORCH_INDEX to choose the wheel index for torch/torchvision,
# INGOT_BUILD_DIR (default build) for the build tree.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
step() { echo; echo "==> $*"; }

# ------------------------------------------------------------------ 1. dependencies
APT_PACKAGES=(build-essential cmake ninja-build libminizip-dev nlohmann-json3-dev libflatbuffers-dev
              flatbuffers-compiler libxxhash-dev libcli11-dev libeigen3-dev libgtest-dev python3-pip
              clang-14 libclang-rt-14-dev)
PIP_PINS=(torch==2.10.0 torchvision==0.25.0 transformers==5.17.0 numpy pytest scikit-build-core pybind11)
# Header-only C++ graph API of cuDNN (its include/ lands in site-packages); only
# its headers are used, so none of its Python dependencies are installed.
PIP_NO_DEPS_PINS=(nvidia-cudnn-frontend==1.32.0)

install_apt_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present"
    return
  fi
  echo "system packages: installing ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
}

# Prints the pins that the Python environment does not satisfy.
missing_python_packages() { missing_python_packages_of "${PIP_PINS[@]}"; }
missing_python_packages_of() {
  "$PYTHON" - "$@" <<'PY'
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, _, wanted = pin.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        print(pin)
        continue
    if wanted and have.split("+")[0] != wanted:
        print(pin)
PY
}

PIP_INSTALL=("$PYTHON" -m pip install --quiet)
# Debian's system Python refuses pip installs unless told otherwise (PEP 668).
if "$PYTHON" -c 'import sys, sysconfig, os; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null; then
  PIP_INSTALL+=(--break-system-packages)
fi

install_python_packages() {
  local missing
  missing=$(missing_python_packages)
  if [ -z "$missing" ]; then
    echo "python packages: all present ($("$PYTHON" -c 'import torch; print("torch", torch.__version__)'))"
    return
  fi
  echo "python packages: installing" $missing
  local pip=("${PIP_INSTALL[@]}")
  local torch_pins=() other_pins=()
  for pin in $missing; do
    case "$pin" in torch==*|torchvision==*) torch_pins+=("$pin") ;; *) other_pins+=("$pin") ;; esac
  done
  if [ ${#torch_pins[@]} -gt 0 ]; then "${pip[@]}" "${torch_pins[@]}"; fi
  if [ ${#other_pins[@]} -gt 0 ]; then "${pip[@]}" "${other_pins[@]}"; fi
}

install_header_packages() {
  local missing
  missing=$(missing_python_packages_of "${PIP_NO_DEPS_PINS[@]}")
  if [ -z "$missing" ]; then echo "header packages: all present"; return; fi
  echo "header packages: installing" $missing
  "${PIP_INSTALL[@]}" --no-deps $missing
}

if [ "${INGOT_SKIP_DEPS:-0}" != "1" ]; then
  step "installing dependencies"
  install_apt_packages
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    echo "error: $PYTHON has no pip; install python3-pip or set PYTHON" >&2
    exit 1
  fi
  install_python_packages
  install_header_packages
fi
# Where the Python environment keeps the cuDNN frontend's headers (if anywhere).
FRONTEND_ROOT=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')/include

# ------------------------------------------------------------------ 2. build
BUILD=${INGOT_BUILD_DIR:-build}
step "building ingot ($BUILD/)"
# shellcheck source=find_cmake.sh
source scripts/find_cmake.sh
if [ "${INGOT_SKIP_DEPS:-0}" != "1" ]; then INGOT_INSTALL_CMAKE=1; fi
ingot_find_cmake
echo "using $CMAKE ($("$CMAKE" --version | head -n1))"
# Configuring again is cheap and picks up a newer CMake or new source files.
"$CMAKE" -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DINGOT_CUDNN_FRONTEND_ROOT="$FRONTEND_ROOT"
"$CMAKE" --build "$BUILD" -j "$(nproc)"

# ------------------------------------------------------------------ 3. the Python package
# `import ingot` (docs/python.md). Without an NVIDIA GPU the extension is built
# without CUDA: the same compiler and CPU runtime, half the build time.
step "installing the Python package (pip install .)"
py_cuda=AUTO
if ! nvidia-smi -L >/dev/null 2>&1; then py_cuda=OFF; fi
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "${PIP_INSTALL[@]}" --no-build-isolation -Cbuild-dir="$BUILD/python" \
  -Ccmake.define.INGOT_CUDA=$py_cuda -Ccmake.define.INGOT_CUDNN_FRONTEND_ROOT="$FRONTEND_ROOT" .
"$PYTHON" -c "import ingot; print('python package:', ingot.__name__, ingot.__version__ if hasattr(ingot, '__version__') else '')"

# ------------------------------------------------------------------ 4. the example
step "converting and running the example model (examples/small_cnn.pt2)"
INGOT=$BUILD/ingot
OUT=$BUILD/example
rm -rf "$OUT"
mkdir -p "$OUT"
"$INGOT" --version
"$INGOT" check examples/small_cnn.pt2
"$INGOT" convert examples/small_cnn.pt2 -o "$OUT/small_cnn.engine" --backend cpu
"$INGOT" inspect "$OUT/small_cnn.engine"
"$INGOT" verify "$OUT/small_cnn.engine" examples/small_cnn.pt2
"$INGOT" run "$OUT/small_cnn.engine" --input x=examples/small_cnn_input.npy --output-dir "$OUT"
"$PYTHON" examples/compare.py "$OUT/output.0.npy" examples/small_cnn_expected.npy --print-values
# The README's C++ quick start, on the same engine.
"$BUILD/examples/cpp/ingot_quickstart" "$OUT/small_cnn.engine"

step "set-up complete: 'bash scripts/test.sh' runs the test suites"
