// The `ingot._ingot` extension module: version, build features, and the
// compiler and runtime bindings (compiler_bindings.cc, runtime_bindings.cc).
#include <pybind11/pybind11.h>

#include "errors.h"
#include "ingot/ingot.h"

namespace py = pybind11;

namespace ingot::python {
void bind_compiler(py::module_& m);
void bind_runtime(py::module_& m);
}  // namespace ingot::python

PYBIND11_MODULE(_ingot, m) {
  m.doc() = "ingot C++ bindings (use the `ingot` package, not this module)";
  m.attr("__version__") = ingot::version_string();
#ifdef INGOT_WITH_CUDA
  m.attr("has_cuda") = true;
#else
  m.attr("has_cuda") = false;
#endif
  ingot::python::register_error_translator(m);
  ingot::python::bind_compiler(m);
  ingot::python::bind_runtime(m);
}
