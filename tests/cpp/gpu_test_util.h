// Shared by the GPU test programs (tests/cpp/test_gpu_*.cc): host tensors with
// exact 16-bit conversions, a CUDA stream/cuBLASLt/cuDNN/workspace environment, and
// check(), which runs one op through the CPU backend (the reference, itself tested
// against PyTorch) and the CUDA backend on the same inputs and compares. GPU outputs
// are poisoned (all bits set) before each of two runs with the same step state.
// Only included where INGOT_WITH_CUDA is defined.
#pragma once
#include <gtest/gtest.h>

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cuda/cuda_common.h"
#include "core/half.h"

namespace ingot {

// ---------------------------------------------------------------- host tensors

inline bool is_half_like(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }
inline bool is_float(DType t) { return t == DType::kFloat32 || t == DType::kFloat64 || is_half_like(t); }

struct HostTensor {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;

  HostTensor() = default;
  HostTensor(DType t, std::vector<int64_t> s) : dtype(t), shape(std::move(s)) {
    bytes.assign(std::max<int64_t>(numel(), 1) * dtype_size(t), 0xFF);
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  void set(int64_t i, double v) {
    void* p = bytes.data() + i * dtype_size(dtype);
    auto put = [&](auto x) { std::memcpy(p, &x, sizeof(x)); };
    switch (dtype) {
      case DType::kFloat32: put(static_cast<float>(v)); break;
      case DType::kFloat16: put(Half(static_cast<float>(v)).bits); break;
      case DType::kBFloat16: put(BFloat16(static_cast<float>(v)).bits); break;
      case DType::kFloat64: put(v); break;
      // Integers wrap (through int64, never an out-of-range float conversion).
      case DType::kInt64: put(static_cast<int64_t>(v)); break;
      case DType::kInt32: put(static_cast<int32_t>(static_cast<int64_t>(v))); break;
      case DType::kInt16: put(static_cast<int16_t>(static_cast<int64_t>(v))); break;
      case DType::kInt8: put(static_cast<int8_t>(static_cast<int64_t>(v))); break;
      case DType::kUInt8: put(static_cast<uint8_t>(static_cast<int64_t>(v))); break;
      case DType::kBool: put(static_cast<uint8_t>(v != 0)); break;
    }
  }
  double get(int64_t i) const {
    const void* p = bytes.data() + i * dtype_size(dtype);
    auto take = [&](auto x) {
      std::memcpy(&x, p, sizeof(x));
      return x;
    };
    switch (dtype) {
      case DType::kFloat32: return take(float{});
      case DType::kFloat16: return Half::from_bits(take(uint16_t{}));
      case DType::kBFloat16: return BFloat16::from_bits(take(uint16_t{}));
      case DType::kFloat64: return take(double{});
      case DType::kInt64: return static_cast<double>(take(int64_t{}));
      case DType::kInt32: return take(int32_t{});
      case DType::kInt16: return take(int16_t{});
      case DType::kInt8: return take(int8_t{});
      case DType::kUInt8: return take(uint8_t{});
      case DType::kBool: return take(uint8_t{}) ? 1.0 : 0.0;
    }
    return 0;
  }
  // The same values as another dtype (used to widen 16-bit floats to float32 exactly).
  HostTensor as(DType t) const {
    HostTensor r(t, shape);
    for (int64_t i = 0; i < numel(); ++i) r.set(i, get(i));
    return r;
  }
};

// Uniform values in [lo, hi] (integers for integer dtypes), rounded to the dtype.
inline HostTensor rand_tensor(DType t, std::vector<int64_t> shape, uint32_t seed, double lo = -2, double hi = 2) {
  HostTensor r(t, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  for (int64_t i = 0; i < r.numel(); ++i) {
    double v = dist(rng);
    if (!is_float(t)) v = std::floor(v + 0.5);
    if (t == DType::kBool) v = (rng() & 1) ? 1 : 0;
    r.set(i, v);
  }
  return r;
}

inline HostTensor values(DType t, std::vector<int64_t> shape, const std::vector<double>& v) {
  HostTensor r(t, std::move(shape));
  for (int64_t i = 0; i < r.numel(); ++i) r.set(i, v[i % v.size()]);
  return r;
}

// ---------------------------------------------------------------- GPU environment

struct GpuEnv {
  cudaStream_t stream = nullptr;
  cuda::Handles handles;
  void* workspace = nullptr;
  size_t workspace_bytes = size_t{32} << 20;
};
inline GpuEnv* g_env = nullptr;

struct DeviceBuf {
  void* p = nullptr;
  explicit DeviceBuf(size_t n) { EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(n, 16)), cudaSuccess); }
  ~DeviceBuf() { cudaFree(p); }
  DeviceBuf(const DeviceBuf&) = delete;
  DeviceBuf& operator=(const DeviceBuf&) = delete;
};

struct OutSpec {
  DType dtype;
  std::vector<int64_t> shape;
};

inline double tolerance_for(DType t, double tol) {
  if (t == DType::kFloat16) return std::max(tol, 1e-2);
  if (t == DType::kBFloat16) return std::max(tol, 3e-2);
  return tol;
}

// Compares a GPU output with the CPU reference: exact for integers and bool, else the
// error norm relative to the reference norm; NaN and inf must appear in the same places.
inline void compare(const std::string& label, const HostTensor& ref, const HostTensor& got, double tol) {
  ASSERT_EQ(ref.numel(), got.numel()) << label;
  const bool exact = !is_float(got.dtype) || tol == 0;
  double err = 0, norm = 0;
  int reported = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.get(i), g = got.get(i);
    if (std::isnan(r) || std::isnan(g) || std::isinf(r) || std::isinf(g)) {
      const bool same = (std::isnan(r) && std::isnan(g)) || r == g;
      if (!same && reported++ < 5) ADD_FAILURE() << label << ": element " << i << " got " << g << ", want " << r;
      continue;
    }
    if (exact) {
      if (r != g && reported++ < 5) ADD_FAILURE() << label << ": element " << i << " got " << g << ", want " << r;
      continue;
    }
    err += (r - g) * (r - g);
    norm += r * r;
  }
  if (!exact) {
    EXPECT_LE(std::sqrt(err), tol * std::max(std::sqrt(norm), 1e-3))
        << label << ": relative error " << std::sqrt(err) / std::max(std::sqrt(norm), 1e-30) << " above " << tol;
  }
}

// Points a step's arguments at the test environment's stream, libraries and workspace.
inline void bind_test_env(cuda::KernelArgs& args, std::unique_ptr<cuda::StepState>* state) {
  args.stream = g_env->stream;
  args.handles = &g_env->handles;
  args.workspace = g_env->workspace;
  args.workspace_bytes = g_env->workspace_bytes;
  args.state = state;
}

// Runs attrs once on uninitialised GPU buffers of these shapes with the given tactic
// and returns the status (for error cases; numbers are checked through check()).
inline Status run_with_tactic(const OpAttrs& attrs, DType t, const std::vector<std::vector<int64_t>>& in_shapes,
                              const std::vector<int64_t>& out_shape, const std::string& tactic) {
  std::vector<std::unique_ptr<DeviceBuf>> bufs;
  auto tensor = [&](const std::vector<int64_t>& shape) {
    cuda::DeviceTensor d{nullptr, t, shape};
    bufs.push_back(std::make_unique<DeviceBuf>(static_cast<size_t>(d.numel()) * dtype_size(t)));
    d.data = bufs.back()->p;
    return d;
  };
  std::vector<cuda::DeviceTensor> din;
  for (const auto& s : in_shapes) din.push_back(tensor(s));
  cuda::DeviceTensor dout = tensor(out_shape);
  cuda::KernelArgs args;
  for (auto& d : din) args.in.push_back(&d);
  args.out = {&dout};
  std::unique_ptr<cuda::StepState> state;
  bind_test_env(args, &state);
  args.tactic = tactic;
  args.strict_tactic = !tactic.empty();  // as the tuner asks: no silent fallback
  Status st = cuda::run_kernel(attrs, args);
  cudaStreamSynchronize(g_env->stream);
  return st;
}

// Runs attrs on the CPU and the GPU and compares every output. A case the CPU backend
// calls unsupported is skipped. fp32_reference: widen 16-bit float tensors to float32
// for the CPU run.
inline void check(const std::string& label, const OpAttrs& attrs, const std::vector<const HostTensor*>& in,
           const std::vector<OutSpec>& outs, double tol = 1e-5, bool fp32_reference = true,
                  const std::string& tactic = "") {
  SCOPED_TRACE(label);
  // CPU reference.
  std::vector<HostTensor> cpu_in(in.size()), cpu_out;
  std::vector<cpu::TensorRef> in_refs(in.size()), out_refs(outs.size());
  cpu::KernelArgs cargs;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i]) {
      cargs.in.push_back(nullptr);
      continue;
    }
    cpu_in[i] = fp32_reference && is_half_like(in[i]->dtype) ? in[i]->as(DType::kFloat32) : *in[i];
    in_refs[i] = {cpu_in[i].bytes.data(), cpu_in[i].dtype, cpu_in[i].shape};
    cargs.in.push_back(&in_refs[i]);
  }
  for (const OutSpec& o : outs)
    cpu_out.emplace_back(fp32_reference && is_half_like(o.dtype) ? DType::kFloat32 : o.dtype, o.shape);
  for (size_t i = 0; i < outs.size(); ++i) {
    out_refs[i] = {cpu_out[i].bytes.data(), cpu_out[i].dtype, cpu_out[i].shape};
    cargs.out.push_back(&out_refs[i]);
  }
  Status cst = cpu::run_kernel(attrs, cargs);
  if (cst.code() == StatusCode::kUnsupported) return;
  ASSERT_TRUE(cst.ok()) << "cpu: " << cst.to_string();

  // GPU run.
  std::vector<std::unique_ptr<DeviceBuf>> bufs;
  std::vector<cuda::DeviceTensor> din(in.size()), dout(outs.size());
  cuda::KernelArgs gargs;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i]) {
      gargs.in.push_back(nullptr);
      continue;
    }
    bufs.push_back(std::make_unique<DeviceBuf>(in[i]->bytes.size()));
    ASSERT_EQ(cudaMemcpy(bufs.back()->p, in[i]->bytes.data(), in[i]->bytes.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
    din[i] = {bufs.back()->p, in[i]->dtype, in[i]->shape};
    gargs.in.push_back(&din[i]);
  }
  std::vector<HostTensor> gpu_out;
  for (size_t i = 0; i < outs.size(); ++i) {
    gpu_out.emplace_back(outs[i].dtype, outs[i].shape);
    bufs.push_back(std::make_unique<DeviceBuf>(gpu_out[i].bytes.size()));
    dout[i] = {bufs.back()->p, outs[i].dtype, outs[i].shape};
    gargs.out.push_back(&dout[i]);
  }
  std::unique_ptr<cuda::StepState> state;
  bind_test_env(gargs, &state);
  gargs.tactic = tactic;
  gargs.strict_tactic = !tactic.empty();
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < outs.size(); ++i)
      ASSERT_EQ(cudaMemsetAsync(dout[i].data, 0xFF, gpu_out[i].bytes.size(), g_env->stream), cudaSuccess);
    Status gst = cuda::run_kernel(attrs, gargs);
    ASSERT_TRUE(gst.ok()) << "cuda: " << gst.to_string();
    ASSERT_EQ(cudaStreamSynchronize(g_env->stream), cudaSuccess) << cudaGetErrorString(cudaGetLastError());
    for (size_t i = 0; i < outs.size(); ++i) {
      ASSERT_EQ(cudaMemcpy(gpu_out[i].bytes.data(), dout[i].data, gpu_out[i].bytes.size(), cudaMemcpyDeviceToHost),
                cudaSuccess);
      compare(label + " pass " + std::to_string(pass) + " output " + std::to_string(i), cpu_out[i], gpu_out[i],
              tolerance_for(outs[i].dtype, tol));
    }
  }
}

inline std::string shape_label(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

inline const DType kFloatTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
inline const DType kIntTypes[] = {DType::kInt64, DType::kInt32, DType::kInt8, DType::kUInt8};

// Torch's broadcast of two shapes (test-side, for output shapes).
inline std::vector<int64_t> broadcast(std::vector<int64_t> a, std::vector<int64_t> b) {
  if (a.size() < b.size()) std::swap(a, b);
  b.insert(b.begin(), a.size() - b.size(), 1);
  for (size_t i = 0; i < a.size(); ++i) a[i] = a[i] == 1 ? b[i] : a[i];
  return a;
}

// The main() of a GPU test program: exits with 77 (skip) where there is no GPU.
inline int run_gpu_tests(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA device: skipping the GPU backend tests\n");
    return 77;
  }
  GpuEnv env;
  if (cudaStreamCreate(&env.stream) != cudaSuccess || cublasLtCreate(&env.handles.cublaslt) != CUBLAS_STATUS_SUCCESS ||
      cudnnCreate(&env.handles.cudnn) != CUDNN_STATUS_SUCCESS ||
      cudaMalloc(&env.workspace, env.workspace_bytes) != cudaSuccess) {
    std::printf("cannot set up the CUDA stream, cuBLASLt, cuDNN or the workspace\n");
    return 1;
  }
  g_env = &env;
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  cudnnDestroy(env.handles.cudnn);
  cublasLtDestroy(env.handles.cublaslt);
  cudaFree(env.workspace);
  cudaStreamDestroy(env.stream);
  return rc;
}

}  // namespace ingot
