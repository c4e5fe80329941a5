// Bindings of the compiler API (ingot/compiler.h): check a .pt2 without raising
// (the SupportReport with every unsupported operator), build engine bytes,
// inspect and verify engines. Long calls release the GIL.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.h"
#include "ingot/compiler.h"

namespace py = pybind11;

namespace ingot::python {

namespace {

py::bytes build_engine_bytes(const std::string& pt2_path, const std::string& backend, const std::string& precision,
                             bool allow_tf32, bool exact_gelu, int optimization_level, const std::string& timing_cache,
                             uint64_t workspace_limit, const std::string& cuda_arch, py::object progress,
                             const std::map<std::string, std::vector<int64_t>>& input_shapes,
                             const std::vector<std::string>& disable_passes) {
  BuildOptions options;
  options.input_shapes = input_shapes;
  options.disabled_passes = disable_passes;
  options.backend = backend;
  options.precision = precision;
  options.allow_tf32 = allow_tf32;
  options.exact_gelu = exact_gelu;
  options.optimization_level = optimization_level;
  options.timing_cache = timing_cache;
  options.workspace_limit = workspace_limit;
  options.cuda_arch = cuda_arch;
  if (!progress.is_none()) {
    // Called on this thread while the GIL is released: take it back for Python.
    options.progress = [progress](const std::string& line) {
      py::gil_scoped_acquire gil;
      try {
        progress(line);
      } catch (py::error_already_set& e) {
        e.discard_as_unraisable("ingot build progress callback");
      }
    };
  }
  Result<std::vector<uint8_t>> bytes = [&] {
    py::gil_scoped_release release;
    return build_engine(pt2_path, options);
  }();
  std::vector<uint8_t> data = value_or_throw(std::move(bytes));
  return py::bytes(reinterpret_cast<const char*>(data.data()), data.size());
}

}  // namespace

void bind_compiler(py::module_& m) {
  py::class_<UnsupportedOp>(m, "UnsupportedOp")
      .def_readonly("target", &UnsupportedOp::target)
      .def_readonly("node_name", &UnsupportedOp::node_name)
      .def_readonly("location", &UnsupportedOp::location)
      .def_readonly("code", &UnsupportedOp::code)
      .def_readonly("reason", &UnsupportedOp::reason)
      .def_readonly("count", &UnsupportedOp::count);

  py::class_<SupportReport>(m, "SupportReport")
      .def_readonly("model_file", &SupportReport::model_file)
      .def_readonly("num_nodes", &SupportReport::num_nodes)
      .def_readonly("op_counts", &SupportReport::op_counts)
      .def_readonly("unsupported", &SupportReport::unsupported)
      .def("ok", &SupportReport::ok)
      .def("to_string", &SupportReport::to_string);

  m.def(
      "check_model",
      [](const std::string& pt2_path) {
        Result<SupportReport> report = [&] {
          py::gil_scoped_release release;
          return check_model(pt2_path);
        }();
        return value_or_throw(std::move(report));
      },
      py::arg("pt2_path"), "Reads a .pt2 and reports every operator ingot cannot convert (never raises for those).");

  m.def("build_engine", &build_engine_bytes, py::arg("pt2_path"), py::arg("backend") = "cpu",
        py::arg("precision") = "fp32", py::arg("allow_tf32") = false, py::arg("exact_gelu") = false,
        py::arg("optimization_level") = 3,
        py::arg("timing_cache") = "", py::arg("workspace_limit") = 0, py::arg("cuda_arch") = "",
        py::arg("progress") = py::none(), py::arg("input_shapes") = std::map<std::string, std::vector<int64_t>>{},
        py::arg("disable_passes") = std::vector<std::string>{}, "Builds an engine from a .pt2 and returns its bytes.");

  m.def(
      "inspect_engine_json",
      [](const std::string& engine_path) {
        py::gil_scoped_release release;
        return value_or_throw(inspect_engine_json(engine_path));
      },
      py::arg("engine_path"));

  m.def(
      "verify_engine_model",
      [](const std::string& engine_path, const std::string& pt2_path) {
        VerifyResult r = [&] {
          py::gil_scoped_release release;
          return value_or_throw(verify_engine_model(engine_path, pt2_path));
        }();
        py::dict d;
        d["match"] = r.match;
        d["engine_hash"] = r.engine_hash;
        d["model_hash"] = r.model_hash;
        d["message"] = r.message;
        return d;
      },
      py::arg("engine_path"), py::arg("pt2_path"));

  m.def(
      "write_file_atomic",
      [](const std::string& path, py::bytes data) {
        std::string_view view = data;
        throw_if_error(write_file_atomic(path, view.data(), view.size()));
      },
      py::arg("path"), py::arg("data"));
}

}  // namespace ingot::python
