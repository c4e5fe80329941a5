// Several execution contexts of one CUDA engine running at the same time, each on
// its own stream and thread with its own inputs: every context must give the
// answer the CPU engine gives for its inputs (fixture written by PyTorch 2.11),
// on the first (eager) run and on CUDA-graph replays, with device pointers bound in
// place and with host buffers. Exits 77 (skip) without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ingot/compiler.h"
#include "ingot/ingot.h"

#if defined(INGOT_WITH_CUDA)
#include <cuda_runtime.h>

namespace ingot {
namespace {

const std::string kModel = std::string(INGOT_TEST_DATA_DIR) + "/pt211/tiny_cnn_aten.pt2";

std::shared_ptr<const Engine> build(const std::string& backend) {
  BuildOptions options;
  options.backend = backend;
  auto bytes = build_engine(kModel, options);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  if (!bytes.ok()) return nullptr;
  auto engine = Engine::load_memory(bytes->data(), bytes->size());
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? engine.value() : nullptr;
}

std::vector<float> random_input(const TensorInfo& info, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : info.shape) n *= d;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<float> run_cpu(const Engine& engine, std::vector<float>& input) {
  auto ctx = engine.create_context();
  EXPECT_TRUE(ctx.ok());
  const TensorInfo& in = engine.inputs()[0];
  EXPECT_TRUE((*ctx)->bind_input(in.name, TensorView::host(input.data(), in.dtype, in.shape)).ok());
  EXPECT_TRUE((*ctx)->run().ok());
  TensorView out = (*ctx)->output(0).value();
  const float* p = static_cast<const float*>(out.data);
  return std::vector<float>(p, p + out.numel());
}

double rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(a[i])) return NAN;
    num += (a[i] - ref[i]) * double(a[i] - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

TEST(GpuConcurrency, ContextsOnOwnStreamsAgreeWithCpu) {
  auto cpu = build("cpu");
  auto gpu = build("cuda");
  ASSERT_TRUE(cpu && gpu);
  ASSERT_EQ(gpu->inputs().size(), 1u);
  const TensorInfo in = gpu->inputs()[0];
  const TensorInfo out = gpu->outputs()[0];
  constexpr int kContexts = 4, kRuns = 5;
  std::vector<std::vector<float>> inputs, expected;
  for (int c = 0; c < kContexts; ++c) {
    inputs.push_back(random_input(in, 100 + c));
    expected.push_back(run_cpu(*cpu, inputs.back()));
  }
  std::vector<double> errors(kContexts * kRuns, -1);
  std::vector<std::string> failures(kContexts);
  std::vector<std::thread> threads;
  for (int c = 0; c < kContexts; ++c) {
    threads.emplace_back([&, c] {
      cudaStream_t stream = nullptr;
      if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
        failures[c] = "cudaStreamCreate failed";
        return;
      }
      auto ctx = gpu->create_context();
      if (!ctx.ok()) { failures[c] = ctx.status().to_string(); return; }
      const size_t in_bytes = inputs[c].size() * sizeof(float), out_bytes = expected[c].size() * sizeof(float);
      void *d_in = nullptr, *d_out = nullptr;
      cudaMalloc(&d_in, in_bytes);
      cudaMalloc(&d_out, out_bytes);
      cudaMemcpy(d_in, inputs[c].data(), in_bytes, cudaMemcpyHostToDevice);
      std::vector<float> host_out(expected[c].size());
      for (int r = 0; r < kRuns; ++r) {
        // Alternate device pointers (no copies, graph replay) and host buffers.
        const bool device = r % 2 == 0;
        cudaMemsetAsync(d_out, 0xFF, out_bytes, stream);  // poison: NaN
        std::fill(host_out.begin(), host_out.end(), NAN);
        Status s = device ? (*ctx)->bind_input(in.name, TensorView::device(d_in, in.dtype, in.shape))
                          : (*ctx)->bind_input(in.name, TensorView::host(inputs[c].data(), in.dtype, in.shape));
        if (s.ok())
          s = device ? (*ctx)->bind_output(out.name, TensorView::device(d_out, out.dtype, out.shape))
                     : (*ctx)->bind_output(out.name, TensorView::host(host_out.data(), out.dtype, out.shape));
        if (s.ok()) s = (*ctx)->enqueue(stream);
        if (s.ok() && cudaStreamSynchronize(stream) != cudaSuccess) s = device_error("stream sync failed");
        if (!s.ok()) { failures[c] = s.to_string(); break; }
        if (device) cudaMemcpy(host_out.data(), d_out, out_bytes, cudaMemcpyDeviceToHost);
        errors[c * kRuns + r] = rel_error(host_out, expected[c]);
      }
      cudaFree(d_in);
      cudaFree(d_out);
      cudaStreamDestroy(stream);
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kContexts; ++c) {
    EXPECT_EQ(failures[c], "") << "context " << c;
    for (int r = 0; r < kRuns; ++r)
      EXPECT_LE(errors[c * kRuns + r], 1e-5) << "context " << c << " run " << r;  // NaN fails too
  }
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA GPU: skipping\n");
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

#else
int main() {
  std::printf("ingot was built without CUDA: skipping\n");
  return 77;
}
#endif
