# Third-party dependencies, each as an imported ingot::<name> target.
# All come from Debian packages (scripts/setup.sh installs them). On the GPU
# machine, which reaches no registry, scripts/gpu_check.sh unpacks the same
# packages into .deps/ and INGOT_DEPS_ROOT points there.
set(INGOT_DEPS_ROOT "${CMAKE_CURRENT_SOURCE_DIR}/.deps" CACHE PATH "Unpacked Debian packages (optional)")
set(_ingot_inc_hints ${INGOT_DEPS_ROOT}/usr/include)
set(_ingot_lib_hints ${INGOT_DEPS_ROOT}/usr/lib/x86_64-linux-gnu ${INGOT_DEPS_ROOT}/usr/lib)

find_package(OpenMP REQUIRED)
if(EXISTS ${INGOT_DEPS_ROOT}/usr/lib/x86_64-linux-gnu/libgtest.a)
  set(GTest_ROOT ${INGOT_DEPS_ROOT}/usr)
endif()
find_package(Threads REQUIRED)

function(ingot_header_dep name header)
  find_path(_dir ${header} HINTS ${_ingot_inc_hints} ${ARGN} NO_CACHE)
  if(NOT _dir)
    message(FATAL_ERROR "ingot: ${name} not found (${header}); run scripts/setup.sh")
  endif()
  add_library(ingot::${name} INTERFACE IMPORTED GLOBAL)
  target_include_directories(ingot::${name} SYSTEM INTERFACE ${_dir})
endfunction()

ingot_header_dep(json nlohmann/json.hpp)
ingot_header_dep(flatbuffers flatbuffers/flatbuffers.h)
ingot_header_dep(xxhash xxhash.h)
target_compile_definitions(ingot::xxhash INTERFACE XXH_INLINE_ALL)
ingot_header_dep(cli11 CLI/CLI.hpp)
find_path(_eigen_dir Eigen/Core HINTS ${_ingot_inc_hints}/eigen3 PATH_SUFFIXES eigen3 NO_CACHE)
if(NOT _eigen_dir)
  message(FATAL_ERROR "ingot: Eigen not found; run scripts/setup.sh")
endif()
add_library(ingot::eigen INTERFACE IMPORTED GLOBAL)
target_include_directories(ingot::eigen SYSTEM INTERFACE ${_eigen_dir})

find_path(_minizip_inc minizip/unzip.h HINTS ${_ingot_inc_hints} NO_CACHE)
# Static first: the compiler then needs no libminizip.so where it runs.
find_library(_minizip_lib NAMES libminizip.a minizip HINTS ${_ingot_lib_hints} NO_CACHE)
if(NOT _minizip_inc OR NOT _minizip_lib)
  message(FATAL_ERROR "ingot: minizip not found; run scripts/setup.sh")
endif()
if(EXISTS ${INGOT_DEPS_ROOT}/usr/include/zlib.h)
  set(ZLIB_ROOT ${INGOT_DEPS_ROOT}/usr)
  set(ZLIB_USE_STATIC_LIBS ON)
endif()
find_package(ZLIB REQUIRED)
add_library(ingot::minizip INTERFACE IMPORTED GLOBAL)
target_include_directories(ingot::minizip SYSTEM INTERFACE ${_minizip_inc})
target_link_libraries(ingot::minizip INTERFACE ${_minizip_lib} ZLIB::ZLIB)

# cuDNN: in /usr/local/cuda here; inside the Python environment's nvidia/cudnn
# package on the GPU machine (only libcudnn.so.9 names exist there).
set(INGOT_CUDNN_ROOT "" CACHE PATH "cuDNN root with include/ and lib/")
function(ingot_find_cudnn)
  find_path(_cudnn_inc cudnn.h HINTS ${INGOT_CUDNN_ROOT}/include /usr/local/cuda/include /usr/include NO_CACHE)
  find_library(_cudnn_lib NAMES cudnn libcudnn.so.9 HINTS ${INGOT_CUDNN_ROOT}/lib /usr/local/cuda/lib64 NO_CACHE)
  if(NOT _cudnn_inc OR NOT _cudnn_lib)
    message(FATAL_ERROR "ingot: cuDNN not found; set INGOT_CUDNN_ROOT")
  endif()
  add_library(ingot::cudnn INTERFACE IMPORTED GLOBAL)
  target_include_directories(ingot::cudnn SYSTEM INTERFACE ${_cudnn_inc})
  target_link_libraries(ingot::cudnn INTERFACE ${_cudnn_lib})
endfunction()

# The cuDNN frontend (header-only C++ graph API over cuDNN, PyPI package
# nvidia-cudnn-frontend, which installs include/ into site-packages): optional,
# it adds cuDNN's fused attention as a tuning candidate. Sets
# INGOT_CUDNN_FRONTEND_INCLUDE in the caller when found.
set(INGOT_CUDNN_FRONTEND_ROOT "" CACHE PATH "directory holding cudnn_frontend.h (default: the Python environment's)")
function(ingot_find_cudnn_frontend)
  set(_hints ${INGOT_CUDNN_FRONTEND_ROOT} ${INGOT_CUDNN_FRONTEND_ROOT}/include)
  find_program(_py NAMES python3 python NO_CACHE)
  if(_py)
    execute_process(COMMAND ${_py} -c "import sysconfig; print(sysconfig.get_paths()['platlib'])"
                    OUTPUT_VARIABLE _platlib OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND _hints ${_platlib}/include)
  endif()
  find_path(_fe_inc cudnn_frontend.h HINTS ${_hints} NO_CACHE NO_DEFAULT_PATH)
  if(_fe_inc)
    message(STATUS "ingot: cuDNN frontend in ${_fe_inc} (cuDNN fused attention tactic on)")
  else()
    message(STATUS "ingot: cuDNN frontend not found (pip install nvidia-cudnn-frontend --no-deps); "
                   "the cudnn attention tactic is off")
  endif()
  set(INGOT_CUDNN_FRONTEND_INCLUDE ${_fe_inc} PARENT_SCOPE)
endfunction()
