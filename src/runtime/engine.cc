// Engine: loading and verifying an engine file, and the information it exposes.
// Also the few free functions of the public API (version_string, TensorView).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>

#include "engine/engine_format.h"
#include "runtime/engine_impl.h"

#ifndef INGOT_VERSION
#error "INGOT_VERSION must be defined by the build"
#endif

namespace ingot {

const char* version_string() { return INGOT_VERSION; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t TensorView::nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }

std::string describe_tensor(DType dtype, const std::vector<int64_t>& shape) {
  std::string s = std::string(dtype_name(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

std::vector<TensorInfo> tensor_infos(const Plan& plan, const std::vector<int32_t>& ids) {
  std::vector<TensorInfo> infos;
  for (int32_t id : ids) {
    const PlanTensor& t = plan.tensors[static_cast<size_t>(id)];
    infos.push_back({t.name, t.dtype, t.shape});
  }
  return infos;
}

EngineInfo engine_info(const Plan& plan, const EngineHeader& header) {
  const BuildInfo& b = plan.build;
  EngineInfo info;
  info.format_version = std::to_string(header.format_major) + "." + std::to_string(header.format_minor);
  info.ingot_version = b.ingot_version;
  info.model_file = b.model_file;
  info.model_hash = b.model_hash;
  info.torch_version = b.torch_version;
  info.backend = b.backend;
  info.target = b.target;
  info.cuda_version = b.cuda_version;
  info.cublas_version = b.cublas_version;
  info.cudnn_version = b.cudnn_version;
  info.options = b.options;
  info.arena_bytes = plan.arena_bytes;
  info.constants_bytes = plan.constants.size();
  info.num_steps = plan.steps.size();
  return info;
}

}  // namespace

Engine::Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::shared_ptr<const Engine>> Engine::load_memory(const void* data, size_t size) {
  try {
    INGOT_ASSIGN_OR_RETURN(EngineHeader header, read_engine_header(data, size));
    INGOT_ASSIGN_OR_RETURN(Plan plan, deserialize_plan(data, size));
    auto impl = std::make_shared<Impl>();
    impl->plan = std::move(plan);
    // The backend keeps references into impl->plan, which no longer moves.
    INGOT_ASSIGN_OR_RETURN(impl->backend, make_backend(impl->plan));
    impl->inputs = tensor_infos(impl->plan, impl->plan.inputs);
    impl->outputs = tensor_infos(impl->plan, impl->plan.outputs);
    impl->info = engine_info(impl->plan, header);
    return std::shared_ptr<const Engine>(std::make_shared<Engine>(std::move(impl)));
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kIoError, "out of memory while loading the engine");
  }
}

Result<std::shared_ptr<const Engine>> Engine::load_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return invalid_argument("engine file '" + path + "' is a directory");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) {
    int err = errno;
    if (err == ENOENT) return not_found("engine file '" + path + "' does not exist");
    return io_error("cannot open engine file '" + path + "': " + std::strerror(err));
  }
  std::streamoff size = file.tellg();
  if (size < 0) return io_error("cannot read engine file '" + path + "'");
  std::vector<uint8_t> bytes;
  try {
    bytes.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc&) {
    return io_error("engine file '" + path + "' is too large to load (" + std::to_string(size) + " bytes)");
  }
  file.seekg(0);
  if (size > 0 && !file.read(reinterpret_cast<char*>(bytes.data()), size))
    return io_error("error reading engine file '" + path + "'");
  auto engine = load_memory(bytes.data(), bytes.size());
  if (!engine.ok()) return engine.status().with_context("engine '" + path + "'");
  return engine;
}

const std::vector<TensorInfo>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Engine::outputs() const { return impl_->outputs; }
const EngineInfo& Engine::info() const { return impl_->info; }

}  // namespace ingot
