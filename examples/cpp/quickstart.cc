// The C++ quick start of the README: load an engine, bind every input, run, print
// the outputs. Built as `ingot_quickstart`; links only the runtime library.
//   build/examples/cpp/ingot_quickstart build/example/small_cnn.engine
#include <iostream>
#include <vector>

#include "ingot/ingot.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " MODEL.engine\n";
    return 2;
  }
  auto engine = ingot::Engine::load_file(argv[1]);  // checks magic, version, checksum, every table
  if (!engine.ok()) {
    std::cerr << engine.status().to_string() << "\n";
    return 1;
  }
  auto context = (*engine)->create_context();  // one per thread/stream; owns the activations
  if (!context.ok()) {
    std::cerr << context.status().to_string() << "\n";
    return 1;
  }
  // One buffer per input, of the recorded dtype and shape (zeros here; your data in practice).
  std::vector<std::vector<char>> buffers;
  for (const ingot::TensorInfo& in : (*engine)->inputs()) {
    int64_t n = 1;
    for (int64_t d : in.shape) n *= d;
    buffers.emplace_back(static_cast<size_t>(n) * ingot::dtype_size(in.dtype));
    ingot::Status s = (*context)->bind_input(in.name, ingot::TensorView::host(buffers.back().data(), in.dtype, in.shape));
    if (!s.ok()) {
      std::cerr << s.to_string() << "\n";
      return 1;
    }
  }
  if (ingot::Status s = (*context)->run(); !s.ok()) {
    std::cerr << s.to_string() << "\n";
    return 1;
  }
  for (size_t i = 0; i < (*engine)->outputs().size(); ++i) {
    ingot::TensorView out = (*context)->output(i).value();
    std::cout << (*engine)->outputs()[i].name << ": " << ingot::dtype_name(out.dtype) << " with " << out.numel()
              << " elements";
    if (out.dtype == ingot::DType::kFloat32 && out.numel() > 0)
      std::cout << ", first " << static_cast<const float*>(out.data)[0];
    std::cout << "\n";
  }
  return 0;
}
