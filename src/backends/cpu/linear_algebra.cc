// CPU kernels for matmul (batched, broadcast batch dims) and gemm (alpha, beta,
// trans_b, broadcast bias, and the fused epilogue: residual input and activation).
// The products are Eigen GEMMs over row-major maps;
// Eigen parallelizes them with OpenMP. Integer products use Eigen's generic
// (slow but exact) path; fp16/bf16 are staged through float32.
#include <type_traits>

#include "backends/cpu/nn_util.h"

namespace ingot::cpu {
namespace {

using nn::ConstMatMap;
using nn::MatMap;
using nn::shape_string;

// Row-major strides of `shape` right-aligned to an output of rank `out_rank`, with
// 0 for broadcast (size-1 or missing) dims.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape) {
  size_t out_rank = out_shape.size();
  std::vector<int64_t> strides(out_rank, 0);
  int64_t stride = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    size_t d = shape.size() - 1 - i, od = out_rank - 1 - i;
    strides[od] = (shape[d] == 1 && out_shape[od] != 1) ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

bool broadcastable(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape) {
  if (shape.size() > out_shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t s = shape[shape.size() - 1 - i], o = out_shape[out_shape.size() - 1 - i];
    if (s != 1 && s != o) return false;
  }
  return true;
}

template <typename T>
Status matmul(const KernelArgs& args) {
  const TensorRef &a = *args.in[0], &b = *args.in[1];
  TensorRef& out = *args.out[0];
  if (a.rank() < 2 || b.rank() < 2 || out.rank() < 2)
    return invalid_argument("matmul: operands must have rank >= 2, got " + shape_string(a.shape) + " and " +
                            shape_string(b.shape));
  int64_t m = a.shape[a.rank() - 2], k = a.shape[a.rank() - 1], n = b.shape[b.rank() - 1];
  if (b.shape[b.rank() - 2] != k || out.shape[out.rank() - 2] != m || out.shape[out.rank() - 1] != n)
    return invalid_argument("matmul: shapes " + shape_string(a.shape) + " x " + shape_string(b.shape) + " -> " +
                            shape_string(out.shape) + " do not agree");
  std::vector<int64_t> out_batch(out.shape.begin(), out.shape.end() - 2);
  std::vector<int64_t> a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  if (!broadcastable(a_batch, out_batch) || !broadcastable(b_batch, out_batch))
    return invalid_argument("matmul: batch dims of " + shape_string(a.shape) + " and " + shape_string(b.shape) +
                            " do not broadcast to " + shape_string(out.shape));
  int64_t batches = nn::product(out_batch, 0, out_batch.size());
  const T* ad = a.as<T>();
  const T* bd = b.as<T>();
  T* od = out.as<T>();
  int64_t b_batch_count = nn::product(b_batch, 0, b_batch.size());
  int64_t a_batch_count = nn::product(a_batch, 0, a_batch.size());
  if (b_batch_count == 1 && a_batch_count == batches) {
    // b is shared by every batch and a's batches are contiguous: one tall GEMM.
    MatMap<T>(od, batches * m, n).noalias() = ConstMatMap<T>(ad, batches * m, k) * ConstMatMap<T>(bd, k, n);
    return Status::ok_status();
  }
  std::vector<int64_t> as = broadcast_strides(a_batch, out_batch), bs = broadcast_strides(b_batch, out_batch);
  size_t rank = out_batch.size();
  auto run_one = [&](int64_t bi) {
    int64_t rem = bi, a_off = 0, b_off = 0;
    for (size_t d = rank; d-- > 0;) {
      int64_t idx = rem % out_batch[d];
      rem /= out_batch[d];
      a_off += idx * as[d];
      b_off += idx * bs[d];
    }
    MatMap<T>(od + bi * m * n, m, n).noalias() =
        ConstMatMap<T>(ad + a_off * m * k, m, k) * ConstMatMap<T>(bd + b_off * k * n, k, n);
  };
  // Many small products: spread batches over threads (Eigen then runs each on one).
  if (batches >= 2 && m * n * k < (1 << 18)) {
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < batches; ++bi) run_one(bi);
  } else {
    for (int64_t bi = 0; bi < batches; ++bi) run_one(bi);
  }
  return Status::ok_status();
}

template <typename T>
Status gemm(const GemmAttrs& attrs, const KernelArgs& args) {
  const TensorRef &a = *args.in[0], &b = *args.in[1];
  const TensorRef* bias = args.in.size() > 2 ? args.in[2] : nullptr;
  const TensorRef* residual = args.in.size() > 3 ? args.in[3] : nullptr;
  TensorRef& out = *args.out[0];
  if (a.rank() < 1 || b.rank() != 2 || out.rank() < 1)
    return invalid_argument("gemm: expects a [..., K] and b 2-d, got " + shape_string(a.shape) + " and " +
                            shape_string(b.shape));
  int64_t k = a.shape.back(), m = k ? a.numel() / k : 0;
  int64_t n = attrs.trans_b ? b.shape[0] : b.shape[1];
  int64_t bk = attrs.trans_b ? b.shape[1] : b.shape[0];
  if (bk != k || out.shape.back() != n || out.numel() != m * n)
    return invalid_argument("gemm: shapes " + shape_string(a.shape) + " x " + shape_string(b.shape) +
                            (attrs.trans_b ? "^T" : "") + " -> " + shape_string(out.shape) + " do not agree");
  MatMap<T> c(out.as<T>(), m, n);
  const T alpha = static_cast<T>(attrs.alpha), beta = static_cast<T>(attrs.beta);
  bool accumulate = bias && attrs.beta != 0.0;
  if (accumulate) {
    if (!broadcastable(bias->shape, out.shape))
      return invalid_argument("gemm: bias " + shape_string(bias->shape) + " does not broadcast to " +
                              shape_string(out.shape));
    const T* bd = bias->as<T>();
    if (bias->numel() == n && (bias->rank() == 0 || bias->shape.back() == n)) {
      Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> row(bd, n);
      c = (row * beta).replicate(m, 1);
    } else if (bias->numel() == m * n) {
      c = ConstMatMap<T>(bd, m, n) * beta;
    } else {
      std::vector<int64_t> strides = broadcast_strides(bias->shape, out.shape);
      T* od = out.as<T>();
      int64_t total = out.numel();
      for (int64_t i = 0; i < total; ++i) {
        int64_t rem = i, off = 0;
        for (size_t d = out.shape.size(); d-- > 0;) {
          off += (rem % out.shape[d]) * strides[d];
          rem /= out.shape[d];
        }
        od[i] = bd[off] * beta;
      }
    }
  }
  ConstMatMap<T> am(a.as<T>(), m, k);
  if (attrs.trans_b) {
    ConstMatMap<T> bm(b.as<T>(), n, k);
    if (accumulate) c.noalias() += alpha * (am * bm.transpose());
    else c.noalias() = alpha * (am * bm.transpose());
  } else {
    ConstMatMap<T> bm(b.as<T>(), k, n);
    if (accumulate) c.noalias() += alpha * (am * bm);
    else c.noalias() = alpha * (am * bm);
  }
  if (residual) {
    // Added before the activation, in the accumulation type: act(a@b + bias + residual).
    if (residual->numel() != out.numel())
      return invalid_argument("gemm: residual " + shape_string(residual->shape) + " differs from the output " +
                              shape_string(out.shape));
    c += ConstMatMap<T>(residual->as<T>(), m, n);
  }
  return Status::ok_status();
}

// The fused activation, applied in place by the elementwise family's unary kernel
// so that a fused Gemm computes exactly what the unfused Unary op would.
Status apply_activation(const GemmAttrs& attrs, TensorRef& out) {
  if (attrs.activation < 0) return Status::ok_status();
  if (!unary_fn_valid(attrs.activation))
    return invalid_argument("gemm: unknown activation " + std::to_string(attrs.activation));
  UnaryAttrs act;
  act.fn = attrs.activation;
  act.alpha = attrs.activation_alpha;
  act.beta = attrs.activation_beta;
  KernelArgs in_place;
  in_place.in = {&out};
  in_place.out = {&out};
  return elementwise(act, in_place);
}

template <typename T>
Status dispatch(const OpAttrs& attrs, const KernelArgs& args) {
  if (op_kind(attrs) == OpKind::kMatMul) return matmul<T>(args);
  const auto& g = std::get<GemmAttrs>(attrs);
  INGOT_RETURN_IF_ERROR(gemm<T>(g, args));
  return apply_activation(g, *args.out[0]);
}

}  // namespace

Status linear_algebra(const OpAttrs& attrs, const KernelArgs& args) {
  OpKind kind = op_kind(attrs);
  if (kind != OpKind::kMatMul && kind != OpKind::kGemm)
    return internal_error(std::string("linear_algebra: not a linear algebra op: ") + op_name(kind));
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1)
    return internal_error(std::string(op_name(kind)) + ": expects two inputs and one output");
  return nn::run_in_float(args, [&](const KernelArgs& a) -> Status {
    DType t = a.in[0]->dtype;
    for (const TensorRef* r : a.in)
      if (r && r->dtype != t)
        return unsupported(std::string(op_name(kind)) + ": mixed dtypes " + dtype_name(t) + " and " +
                           dtype_name(r->dtype));
    switch (t) {
      case DType::kFloat32: return dispatch<float>(attrs, a);
      case DType::kFloat64: return dispatch<double>(attrs, a);
      case DType::kInt32: return dispatch<int32_t>(attrs, a);
      case DType::kInt64: return dispatch<int64_t>(attrs, a);
      default:
        return unsupported(std::string(op_name(kind)) + ": dtype " + dtype_name(t) + " is not supported on cpu");
    }
  });
}

}  // namespace ingot::cpu
