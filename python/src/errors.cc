// The StatusError -> ingot.errors translator (see errors.h). The Python classes
// live in ingot/errors.py so that users can catch and subclass them normally.
#include "errors.h"

namespace py = pybind11;

namespace ingot::python {

const char* status_code_key(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kDeviceError: return "device_error";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

void register_error_translator(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      // ingot.errors is pure Python and imported by ingot/__init__.py before
      // the extension is used, so this import is a dictionary lookup.
      py::object make = py::module_::import("ingot.errors").attr("error_from_status");
      py::object exc = make(status_code_key(e.status().code()), e.status().message());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

}  // namespace ingot::python
