// CUDA kernels for the normalization family: layer_norm, rms_norm, group_norm and
// inference batch_norm, for float32, float16 and bfloat16 (statistics in fp32).
// Layer/rms norm give each row to a warp (short rows) or a block (long rows);
// group norm gives each (sample, group) to a block. Statistics take two passes
// (mean, then centered variance), which stays accurate when |mean| >> std, as the
// CPU backend's double-precision reference does.
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

constexpr int kBlock = 256;

// Sum across a group of `group` threads (32 = warp, else the whole block); all get the result.
__device__ __forceinline__ float group_sum(float v, int group, float* smem) {
  auto add = [](float a, float b) { return a + b; };
  return group > 32 ? block_all_reduce(v, add, smem) : warp_all_reduce(v, add);  // the block version does the warp step
}

template <typename T>
__global__ void __launch_bounds__(kBlock) row_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                                          int64_t inner, const T* __restrict__ w,
                                                          const T* __restrict__ b, float eps, bool rms, int group) {
  __shared__ float smem[32];
  const int per_block = blockDim.x / group, sub = threadIdx.x / group, lane = threadIdx.x % group;
  for (int64_t base = int64_t(blockIdx.x) * per_block; base < rows; base += int64_t(gridDim.x) * per_block) {
    const int64_t row = base + sub;
    const bool active = row < rows;
    const T* xr = x + (active ? row : 0) * inner;
    T* yr = y + (active ? row : 0) * inner;
    float mean = 0.f;
    if (!rms) {
      float s = 0.f;
      if (active)
        for (int64_t i = lane; i < inner; i += group) s += widen(xr[i]);
      mean = group_sum(s, group, smem) / static_cast<float>(inner);
    }
    float sq = 0.f;
    if (active)
      for (int64_t i = lane; i < inner; i += group) {
        const float d = widen(xr[i]) - mean;
        sq += d * d;
      }
    const float var = group_sum(sq, group, smem) / static_cast<float>(inner);
    const float inv = rsqrtf(var + eps);
    if (active)
      for (int64_t i = lane; i < inner; i += group) {
        float v = (widen(xr[i]) - mean) * inv;
        if (w) v *= widen(w[i]);
        if (b) v += widen(b[i]);
        yr[i] = cast_value<T>(v);
      }
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlock) group_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t count,
                                                            int64_t groups, int64_t cpg, int64_t spatial,
                                                            const T* __restrict__ w, const T* __restrict__ b,
                                                            float eps) {
  __shared__ float smem[32];
  const int64_t group_size = cpg * spatial;
  for (int64_t ng = blockIdx.x; ng < count; ng += gridDim.x) {
    const T* xg = x + ng * group_size;
    T* yg = y + ng * group_size;
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < group_size; i += blockDim.x) s += widen(xg[i]);
    const float mean = group_sum(s, blockDim.x, smem) / static_cast<float>(group_size);
    float sq = 0.f;
    for (int64_t i = threadIdx.x; i < group_size; i += blockDim.x) {
      const float d = widen(xg[i]) - mean;
      sq += d * d;
    }
    const float inv = rsqrtf(group_sum(sq, blockDim.x, smem) / static_cast<float>(group_size) + eps);
    const int64_t c0 = (ng % groups) * cpg;
    for (int64_t i = threadIdx.x; i < group_size; i += blockDim.x) {
      const int64_t c = c0 + i / spatial;
      const float scale = inv * (w ? widen(w[c]) : 1.f);
      const float shift = (b ? widen(b[c]) : 0.f) - mean * scale;
      yg[i] = cast_value<T>(widen(xg[i]) * scale + shift);
    }
  }
}

template <typename T>
__global__ void batch_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, int64_t channels,
                                  int64_t spatial, const T* __restrict__ w, const T* __restrict__ b,
                                  const T* __restrict__ mean, const T* __restrict__ var, double eps) {
  INGOT_GRID_STRIDE(i, n) {
    const int64_t c = (i / spatial) % channels;
    // Same rounding as the CPU kernel: scale and shift in double, rounded to float.
    double s = 1.0 / sqrt(static_cast<double>(widen(var[c])) + eps);
    if (w) s *= static_cast<double>(widen(w[c]));
    const float scale = static_cast<float>(s);
    const float shift = static_cast<float>((b ? static_cast<double>(widen(b[c])) : 0.0) -
                                           static_cast<double>(widen(mean[c])) * s);
    y[i] = cast_value<T>(widen(x[i]) * scale + shift);
  }
}

Status check_param(const DeviceTensor* p, int64_t expected, DType dtype, const char* what, const char* op) {
  if (!p) return {};
  if (p->numel() != expected)
    return invalid_argument(std::string("[cuda ") + op + "] " + what + " has shape " + shape_str(p->shape) +
                            ", expected " + std::to_string(expected) + " elements");
  if (p->dtype != dtype)
    return unsupported(std::string("[cuda ") + op + "] mixed dtypes " + dtype_name(dtype) + " and " +
                       dtype_name(p->dtype));
  return {};
}

template <typename T> const T* ptr(const DeviceTensor* t) { return t ? static_cast<const T*>(t->data) : nullptr; }

template <typename T>
Status run_typed(const OpAttrs& attrs, const KernelArgs& args) {
  const DeviceTensor& x = *args.in[0];
  DeviceTensor& out = *args.out[0];
  const char* op = op_name(op_kind(attrs));
  auto opt = [&](size_t i) -> const DeviceTensor* { return args.in.size() > i ? args.in[i] : nullptr; };
  if (out.numel() != x.numel() || out.dtype != x.dtype)
    return invalid_argument(std::string("[cuda ") + op + "] output " + shape_str(out.shape) + " does not match input " +
                            shape_str(x.shape));
  const T* xd = static_cast<const T*>(x.data);
  T* yd = static_cast<T*>(out.data);
  switch (op_kind(attrs)) {
    case OpKind::kLayerNorm:
    case OpKind::kRmsNorm: {
      const bool rms = op_kind(attrs) == OpKind::kRmsNorm;
      const int64_t ndim = rms ? std::get<RmsNormAttrs>(attrs).normalized_ndim
                               : std::get<LayerNormAttrs>(attrs).normalized_ndim;
      const double eps = rms ? std::get<RmsNormAttrs>(attrs).eps : std::get<LayerNormAttrs>(attrs).eps;
      if (ndim < 0 || ndim > x.rank())
        return invalid_argument(std::string("[cuda ") + op + "] normalized_ndim " + std::to_string(ndim) +
                                " exceeds input rank " + std::to_string(x.rank()));
      const int64_t inner = product(x.shape, x.shape.size() - ndim, x.shape.size());
      const int64_t rows = inner ? x.numel() / inner : 0;
      const DeviceTensor* w = opt(1);
      const DeviceTensor* b = rms ? nullptr : opt(2);
      INGOT_RETURN_IF_ERROR(check_param(w, inner, x.dtype, "weight", op));
      INGOT_RETURN_IF_ERROR(check_param(b, inner, x.dtype, "bias", op));
      if (rows == 0) return {};
      const int group = inner > 1024 ? kBlock : 32;
      int64_t blocks = (rows + kBlock / group - 1) / (kBlock / group);
      if (blocks > (1 << 20)) blocks = 1 << 20;
      row_norm_kernel<T><<<static_cast<unsigned>(blocks), kBlock, 0, args.stream>>>(
          xd, yd, rows, inner, ptr<T>(w), ptr<T>(b), static_cast<float>(eps), rms, group);
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
    case OpKind::kGroupNorm: {
      const auto& a = std::get<GroupNormAttrs>(attrs);
      if (x.rank() < 2)
        return invalid_argument("[cuda group_norm] input must be [N, C, *], got " + shape_str(x.shape));
      const int64_t n = x.shape[0], c = x.shape[1], spatial = product(x.shape, 2, x.shape.size());
      if (a.groups <= 0 || c % a.groups != 0)
        return invalid_argument("[cuda group_norm] groups=" + std::to_string(a.groups) + " does not divide channels=" +
                                std::to_string(c));
      INGOT_RETURN_IF_ERROR(check_param(opt(1), c, x.dtype, "weight", op));
      INGOT_RETURN_IF_ERROR(check_param(opt(2), c, x.dtype, "bias", op));
      const int64_t count = n * a.groups;
      if (count == 0 || spatial == 0) return {};
      group_norm_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(count, 1 << 20)), kBlock, 0, args.stream>>>(
          xd, yd, count, a.groups, c / a.groups, spatial, ptr<T>(opt(1)), ptr<T>(opt(2)), static_cast<float>(a.eps));
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
    case OpKind::kBatchNorm: {
      const auto& a = std::get<BatchNormAttrs>(attrs);
      if (x.rank() < 2)
        return invalid_argument("[cuda batch_norm] input must be [N, C, *], got " + shape_str(x.shape));
      if (args.in.size() < 5 || !args.in[3] || !args.in[4])
        return invalid_argument("[cuda batch_norm] running_mean and running_var are required for inference");
      const int64_t c = x.shape[1], spatial = product(x.shape, 2, x.shape.size());
      INGOT_RETURN_IF_ERROR(check_param(args.in[1], c, x.dtype, "weight", op));
      INGOT_RETURN_IF_ERROR(check_param(args.in[2], c, x.dtype, "bias", op));
      INGOT_RETURN_IF_ERROR(check_param(args.in[3], c, x.dtype, "running_mean", op));
      INGOT_RETURN_IF_ERROR(check_param(args.in[4], c, x.dtype, "running_var", op));
      const int64_t n = x.numel();
      if (n == 0) return {};
      batch_norm_kernel<T><<<blocks_for(n), kThreads, 0, args.stream>>>(xd, yd, n, c, spatial, ptr<T>(args.in[1]),
                                                                        ptr<T>(args.in[2]), ptr<T>(args.in[3]),
                                                                        ptr<T>(args.in[4]), a.eps);
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
    default:
      return internal_error(std::string("[cuda normalization] not a normalization op: ") + op);
  }
}

}  // namespace

Status normalization(const OpAttrs& attrs, const KernelArgs& args) {
  if (args.in.empty() || !args.in[0] || args.out.size() != 1 || !args.out[0])
    return invalid_argument(std::string("[cuda ") + op_name(op_kind(attrs)) + "] expects an input and one output");
  switch (args.in[0]->dtype) {
    case DType::kFloat32: return run_typed<float>(attrs, args);
    case DType::kFloat16: return run_typed<__half>(attrs, args);
    case DType::kBFloat16: return run_typed<__nv_bfloat16>(attrs, args);
    default:
      return unsupported(std::string("[cuda ") + op_name(op_kind(attrs)) + "] dtype " +
                         dtype_name(args.in[0]->dtype) + " is not supported on cuda");
  }
}

}  // namespace ingot::cuda
