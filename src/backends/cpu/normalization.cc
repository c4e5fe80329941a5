// CPU kernels for the normalization family: layer_norm, rms_norm, group_norm and
// inference batch_norm. Statistics are accumulated in double for float32 inputs
// (rows are short, the cost is small, and it keeps us within torch's rounding).
// fp16/bf16 run through float32 staging like torch's own CPU upcasting.
#include <cmath>
#include <type_traits>
#include <vector>

#include "backends/cpu/nn_util.h"

namespace ingot::cpu {
namespace {

using nn::run_in_float;
using nn::shape_string;

// Normalizes `rows` rows of `inner` elements each; weight/bias index by position
// within the row (may be null). rms: no mean subtraction, no bias.
template <typename T>
void normalize_rows(const T* x, T* y, int64_t rows, int64_t inner, const T* weight, const T* bias, double eps,
                    bool rms) {
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * inner;
    T* yr = y + r * inner;
    double mean = 0;
    if (!rms) {
      for (int64_t i = 0; i < inner; ++i) mean += xr[i];
      mean /= static_cast<double>(inner);
    }
    double var = 0;
    for (int64_t i = 0; i < inner; ++i) {
      double d = xr[i] - mean;
      var += d * d;
    }
    var /= static_cast<double>(inner);
    double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < inner; ++i) {
      double v = (xr[i] - mean) * inv;
      if (weight) v *= weight[i];
      if (bias) v += bias[i];
      yr[i] = static_cast<T>(v);
    }
  }
}

Status check_param(const TensorRef* p, int64_t expected, const char* what, const char* op) {
  if (p && p->numel() != expected)
    return invalid_argument(std::string(op) + ": " + what + " has shape " + shape_string(p->shape) + ", expected " +
                            std::to_string(expected) + " elements");
  return Status::ok_status();
}

template <typename T>
Status layer_or_rms(const KernelArgs& args, int64_t normalized_ndim, double eps, bool rms) {
  const char* op = rms ? "rms_norm" : "layer_norm";
  const TensorRef& x = *args.in[0];
  if (normalized_ndim < 0 || normalized_ndim > x.rank())
    return invalid_argument(std::string(op) + ": normalized_ndim " + std::to_string(normalized_ndim) +
                            " exceeds input rank " + std::to_string(x.rank()));
  int64_t inner = nn::product(x.shape, x.shape.size() - normalized_ndim, x.shape.size());
  int64_t rows = inner ? x.numel() / inner : 0;
  auto opt = [&](size_t i) -> const TensorRef* { return args.in.size() > i ? args.in[i] : nullptr; };
  const TensorRef* w = opt(1);
  const TensorRef* b = rms ? nullptr : opt(2);
  INGOT_RETURN_IF_ERROR(check_param(w, inner, "weight", op));
  INGOT_RETURN_IF_ERROR(check_param(b, inner, "bias", op));
  // Layer norm's optional pre-adds (fold_gemm_bias_into_norm): it normalizes
  // x + residual + input_bias, summed in T as the Gemm epilogue they come from did.
  const TensorRef* residual = rms ? nullptr : opt(3);
  const TensorRef* input_bias = rms ? nullptr : opt(4);
  if (residual && residual->shape != x.shape)
    return invalid_argument(std::string(op) + ": residual has shape " + shape_string(residual->shape) +
                            ", expected the input's " + shape_string(x.shape));
  INGOT_RETURN_IF_ERROR(check_param(input_bias, inner, "input bias", op));
  const T* xd = x.as<T>();
  std::vector<T> sum;
  if (residual || input_bias) {
    sum.assign(xd, xd + x.numel());
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (residual) sum[static_cast<size_t>(i)] += residual->as<T>()[i];
      if (input_bias) sum[static_cast<size_t>(i)] += input_bias->as<T>()[i % inner];
    }
    xd = sum.data();
  }
  normalize_rows<T>(xd, args.out[0]->as<T>(), rows, inner, w ? w->as<T>() : nullptr, b ? b->as<T>() : nullptr, eps,
                    rms);
  return Status::ok_status();
}

template <typename T>
Status group_norm(const KernelArgs& args, int64_t groups, double eps) {
  const TensorRef& x = *args.in[0];
  if (x.rank() < 2) return invalid_argument("group_norm: input must be [N, C, *], got " + shape_string(x.shape));
  int64_t n = x.shape[0], c = x.shape[1], spatial = nn::product(x.shape, 2, x.shape.size());
  if (groups <= 0 || c % groups != 0)
    return invalid_argument("group_norm: groups=" + std::to_string(groups) + " does not divide channels=" +
                            std::to_string(c));
  const TensorRef* w = args.in.size() > 1 ? args.in[1] : nullptr;
  const TensorRef* b = args.in.size() > 2 ? args.in[2] : nullptr;
  INGOT_RETURN_IF_ERROR(check_param(w, c, "weight", "group_norm"));
  INGOT_RETURN_IF_ERROR(check_param(b, c, "bias", "group_norm"));
  const T* xd = x.as<T>();
  T* yd = args.out[0]->as<T>();
  int64_t cpg = c / groups, group_size = cpg * spatial;
#pragma omp parallel for schedule(static) if (x.numel() > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const T* xg = xd + ng * group_size;
    T* yg = yd + ng * group_size;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < group_size; ++i) mean += xg[i];
    mean /= static_cast<double>(group_size);
    for (int64_t i = 0; i < group_size; ++i) var += (xg[i] - mean) * (xg[i] - mean);
    var /= static_cast<double>(group_size);
    double inv = 1.0 / std::sqrt(var + eps);
    int64_t c0 = (ng % groups) * cpg;
    for (int64_t ci = 0; ci < cpg; ++ci) {
      double scale = inv * (w ? static_cast<double>(w->as<T>()[c0 + ci]) : 1.0);
      double shift = (b ? static_cast<double>(b->as<T>()[c0 + ci]) : 0.0) - mean * scale;
      for (int64_t s = 0; s < spatial; ++s) yg[ci * spatial + s] = static_cast<T>(xg[ci * spatial + s] * scale + shift);
    }
  }
  return Status::ok_status();
}

template <typename T>
Status batch_norm(const KernelArgs& args, double eps) {
  const TensorRef& x = *args.in[0];
  if (x.rank() < 2) return invalid_argument("batch_norm: input must be [N, C, *], got " + shape_string(x.shape));
  if (args.in.size() < 5 || !args.in[3] || !args.in[4])
    return invalid_argument("batch_norm: running_mean and running_var are required for inference");
  int64_t n = x.shape[0], c = x.shape[1], spatial = nn::product(x.shape, 2, x.shape.size());
  const TensorRef *w = args.in[1], *b = args.in[2], *mean = args.in[3], *var = args.in[4];
  INGOT_RETURN_IF_ERROR(check_param(w, c, "weight", "batch_norm"));
  INGOT_RETURN_IF_ERROR(check_param(b, c, "bias", "batch_norm"));
  INGOT_RETURN_IF_ERROR(check_param(mean, c, "running_mean", "batch_norm"));
  INGOT_RETURN_IF_ERROR(check_param(var, c, "running_var", "batch_norm"));
  std::vector<T> scale(c), shift(c);
  for (int64_t ci = 0; ci < c; ++ci) {
    double s = 1.0 / std::sqrt(static_cast<double>(var->as<T>()[ci]) + eps);
    if (w) s *= w->as<T>()[ci];
    scale[ci] = static_cast<T>(s);
    shift[ci] = static_cast<T>((b ? static_cast<double>(b->as<T>()[ci]) : 0.0) - mean->as<T>()[ci] * s);
  }
  const T* xd = x.as<T>();
  T* yd = args.out[0]->as<T>();
#pragma omp parallel for schedule(static) if (x.numel() > 32768)
  for (int64_t nc = 0; nc < n * c; ++nc) {
    T sc = scale[nc % c], sh = shift[nc % c];
    const T* xp = xd + nc * spatial;
    T* yp = yd + nc * spatial;
    for (int64_t s = 0; s < spatial; ++s) yp[s] = xp[s] * sc + sh;
  }
  return Status::ok_status();
}

template <typename T>
Status dispatch(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kLayerNorm: {
      const auto& a = std::get<LayerNormAttrs>(attrs);
      return layer_or_rms<T>(args, a.normalized_ndim, a.eps, false);
    }
    case OpKind::kRmsNorm: {
      const auto& a = std::get<RmsNormAttrs>(attrs);
      return layer_or_rms<T>(args, a.normalized_ndim, a.eps, true);
    }
    case OpKind::kGroupNorm: {
      const auto& a = std::get<GroupNormAttrs>(attrs);
      return group_norm<T>(args, a.groups, a.eps);
    }
    case OpKind::kBatchNorm:
      return batch_norm<T>(args, std::get<BatchNormAttrs>(attrs).eps);
    default:
      return internal_error(std::string("normalization: not a normalization op: ") + op_name(op_kind(attrs)));
  }
}

}  // namespace

Status normalization(const OpAttrs& attrs, const KernelArgs& args) {
  if (args.in.empty() || !args.in[0] || args.out.size() != 1)
    return internal_error(std::string(op_name(op_kind(attrs))) + ": expects an input and one output");
  return run_in_float(args, [&](const KernelArgs& a) -> Status {
    for (const TensorRef* t : a.in)
      if (t && t->dtype != a.in[0]->dtype)
        return unsupported(std::string(op_name(op_kind(attrs))) + ": mixed dtypes " + dtype_name(a.in[0]->dtype) +
                           " and " + dtype_name(t->dtype));
    switch (a.in[0]->dtype) {
      case DType::kFloat32: return dispatch<float>(attrs, a);
      case DType::kFloat64: return dispatch<double>(attrs, a);
      default:
        return unsupported(std::string(op_name(op_kind(attrs))) + ": dtype " + dtype_name(a.in[0]->dtype) +
                           " is not supported on cpu");
    }
  });
}

}  // namespace ingot::cpu
