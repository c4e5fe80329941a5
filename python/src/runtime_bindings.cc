// Bindings of the runtime (ingot/ingot.h): load an engine from a file or bytes,
// read its IO signature and provenance, and drive an ExecutionContext with raw
// pointers. The Python layer (ingot/engine.py) turns torch tensors and numpy
// arrays into (pointer, dtype, shape, on-device) and keeps them alive; this file
// only validates names and dtypes and forwards to the C++ API.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.h"
#include "ingot/ingot.h"

namespace py = pybind11;

namespace ingot::python {

namespace {

DType parse_dtype(const std::string& name) {
  std::optional<DType> dtype = dtype_from_name(name);
  if (!dtype) throw StatusError(invalid_argument("ingot does not support tensors of dtype '" + name + "'"));
  return *dtype;
}

py::list tensor_infos(const std::vector<TensorInfo>& infos) {
  py::list out;
  for (const TensorInfo& t : infos)
    out.append(py::make_tuple(t.name, dtype_name(t.dtype), py::tuple(py::cast(t.shape))));
  return out;
}

py::dict engine_info(const EngineInfo& i) {
  py::dict d;
  d["format_version"] = i.format_version;
  d["ingot_version"] = i.ingot_version;
  d["model_file"] = i.model_file;
  d["model_hash"] = i.model_hash;
  d["torch_version"] = i.torch_version;
  d["backend"] = i.backend;
  d["target"] = i.target;
  d["cuda_version"] = i.cuda_version;
  d["cublas_version"] = i.cublas_version;
  d["cudnn_version"] = i.cudnn_version;
  py::dict options;
  for (const auto& [key, value] : i.options) options[py::str(key)] = value;
  d["options"] = options;
  d["arena_bytes"] = i.arena_bytes;
  d["constants_bytes"] = i.constants_bytes;
  d["num_steps"] = i.num_steps;
  return d;
}

TensorView make_view(uintptr_t data, const std::string& dtype, std::vector<int64_t> shape, bool on_device) {
  void* ptr = reinterpret_cast<void*>(data);
  return on_device ? TensorView::device(ptr, parse_dtype(dtype), std::move(shape))
                   : TensorView::host(ptr, parse_dtype(dtype), std::move(shape));
}

// Owns one ExecutionContext. Not thread-safe (neither is the C++ context); the
// Python Engine serializes calls with a lock.
struct PyContext {
  std::unique_ptr<ExecutionContext> context;

  void bind_input(const std::string& name, uintptr_t data, const std::string& dtype, std::vector<int64_t> shape,
                  bool on_device) {
    throw_if_error(context->bind_input(name, make_view(data, dtype, std::move(shape), on_device)));
  }
  void bind_output(const std::string& name, uintptr_t data, const std::string& dtype, std::vector<int64_t> shape,
                   bool on_device) {
    throw_if_error(context->bind_output(name, make_view(data, dtype, std::move(shape), on_device)));
  }
  void run() {
    Status st;
    {
      py::gil_scoped_release release;
      st = context->run();
    }
    throw_if_error(st);
  }
  void enqueue(uintptr_t stream) {
    Status st;
    {
      py::gil_scoped_release release;
      st = context->enqueue(reinterpret_cast<void*>(stream));
    }
    throw_if_error(st);
  }
};

struct PyEngine {
  std::shared_ptr<const Engine> engine;
};

}  // namespace

void bind_runtime(py::module_& m) {
  py::class_<PyContext>(m, "ExecutionContext")
      .def("bind_input", &PyContext::bind_input, py::arg("name"), py::arg("data_ptr"), py::arg("dtype"),
           py::arg("shape"), py::arg("on_device"))
      .def("bind_output", &PyContext::bind_output, py::arg("name"), py::arg("data_ptr"), py::arg("dtype"),
           py::arg("shape"), py::arg("on_device"))
      .def("run", &PyContext::run)
      .def("enqueue", &PyContext::enqueue, py::arg("cuda_stream"));

  py::class_<PyEngine>(m, "Engine")
      .def_static(
          "load_file",
          [](const std::string& path) {
            Result<std::shared_ptr<const Engine>> engine = [&] {
              py::gil_scoped_release release;
              return Engine::load_file(path);
            }();
            return PyEngine{value_or_throw(std::move(engine))};
          },
          py::arg("path"))
      .def_static(
          "load_memory",
          [](py::bytes data) {
            std::string_view view = data;  // `data` stays referenced by the caller meanwhile
            Result<std::shared_ptr<const Engine>> engine = [&] {
              py::gil_scoped_release release;
              return Engine::load_memory(view.data(), view.size());
            }();
            return PyEngine{value_or_throw(std::move(engine))};
          },
          py::arg("data"))
      .def_property_readonly("inputs", [](const PyEngine& e) { return tensor_infos(e.engine->inputs()); })
      .def_property_readonly("outputs", [](const PyEngine& e) { return tensor_infos(e.engine->outputs()); })
      .def_property_readonly("info", [](const PyEngine& e) { return engine_info(e.engine->info()); })
      .def("create_context", [](const PyEngine& e) {
        return PyContext{value_or_throw(e.engine->create_context())};
      });
}

}  // namespace ingot::python
