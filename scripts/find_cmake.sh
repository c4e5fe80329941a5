# Sourced by setup.sh and test.sh: sets CMAKE and CTEST to a CMake at least as new
# as CMakeLists.txt's cmake_minimum_required. Debian 12 ships CMake 3.25, older
# than that, so when the CMake on PATH is too old this uses (or, with
# INGOT_INSTALL_CMAKE=1, pip-installs) the `cmake` wheel from PyPI, which is an
# official Kitware build.
ingot_required_cmake=$(sed -n 's/^cmake_minimum_required(VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt | head -n1)

ingot_cmake_new_enough() {  # $1: a cmake executable
  local have
  have=$("$1" --version 2>/dev/null | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')
  [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$ingot_required_cmake" "$have" | sort -V | head -n1)" = "$ingot_required_cmake" ]
}

ingot_wheel_cmake() {
  "${PYTHON:-python3}" -c 'import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, "cmake"))' 2>/dev/null
}

ingot_find_cmake() {
  local candidate
  for candidate in "$(command -v cmake 2>/dev/null)" /usr/bin/cmake "$(ingot_wheel_cmake)"; do
    if [ -n "$candidate" ] && ingot_cmake_new_enough "$candidate"; then CMAKE=$candidate; break; fi
  done
  if [ -z "${CMAKE:-}" ] && [ "${INGOT_INSTALL_CMAKE:-0}" = "1" ]; then
    echo "CMake >= $ingot_required_cmake needed; installing the cmake wheel with pip"
    "${PIP_INSTALL[@]}" "cmake>=$ingot_required_cmake"
    candidate=$(ingot_wheel_cmake)
    if [ -n "$candidate" ] && ingot_cmake_new_enough "$candidate"; then CMAKE=$candidate; fi
  fi
  if [ -z "${CMAKE:-}" ]; then
    echo "error: CMake >= $ingot_required_cmake not found (run scripts/setup.sh)" >&2
    return 1
  fi
  CTEST="$(dirname "$CMAKE")/ctest"
  [ -x "$CTEST" ] || CTEST=ctest
}
