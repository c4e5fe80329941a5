// Converters for matrix products: linear, addmm, mm, bmm, matmul (every rank,
// including 1-D operands), baddbmm, mv and dot. A product whose right operand is
// a 2-D matrix becomes Gemm (leading dims of the left operand are flattened by
// the op, and the bias and scaling fold into it); batched products become MatMul.
// 1-D operands are lifted to matrices exactly as torch.matmul documents and the
// result is reshaped back to the recorded output shape.
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

// a [..., K] x b [K, N] (or [N, K] when trans_b) -> [..., N]
ValueId gemm(ConvertContext& ctx, ValueId a, ValueId b, ValueId bias, bool trans_b, double alpha = 1.0,
             double beta = 1.0) {
  std::vector<int64_t> shape = ctx.value(a).shape;
  const std::vector<int64_t> bs = ctx.value(b).shape;
  shape.back() = trans_b ? bs[0] : bs[1];
  GemmAttrs attrs;
  attrs.trans_b = trans_b;
  attrs.alpha = alpha;
  attrs.beta = beta;
  return ctx.add_node(attrs, {a, b, bias}, ctx.value(a).dtype, shape);
}

// a [..., M, K] x b [..., K, N] with broadcast batch dims.
Result<ValueId> batched_matmul(ConvertContext& ctx, ValueId a, ValueId b) {
  const std::vector<int64_t> as = ctx.value(a).shape;
  const std::vector<int64_t> bs = ctx.value(b).shape;
  if (as.size() < 2 || bs.size() < 2) return ctx.error("matmul operands must have rank >= 2 here");
  if (as.back() != bs[bs.size() - 2]) {
    return ctx.error("matmul inner dimensions differ: " + std::to_string(as.back()) + " vs " +
                     std::to_string(bs[bs.size() - 2]));
  }
  std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  std::optional<std::vector<int64_t>> batch = broadcast_shapes(a_batch, b_batch);
  if (!batch) return ctx.error("matmul batch dimensions do not broadcast");
  std::vector<int64_t> shape = *batch;
  shape.push_back(as[as.size() - 2]);
  shape.push_back(bs.back());
  return ctx.add_node(MatMulAttrs{}, {a, b}, ctx.value(a).dtype, shape);
}

// Both operands in the output dtype (torch requires equal dtypes; the cast only
// matters for a mismatched export, which the meta then decides).
Result<std::pair<ValueId, ValueId>> operands(ConvertContext& ctx, const char* a_name, const char* b_name) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId a, ctx.get_tensor(a_name));
  INGOT_ASSIGN_OR_RETURN(ValueId b, ctx.get_tensor(b_name));
  return std::make_pair(ctx.cast(a, out.dtype), ctx.cast(b, out.dtype));
}

Status convert_linear(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto ab, operands(ctx, "input", "weight"));
  auto [x, w] = ab;
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_tensor(ctx, "bias"));
  if (bias != kNoValue) bias = ctx.cast(bias, ctx.value(x).dtype);
  if (rank_of(ctx, w) == 1) w = ctx.reshape(w, {1, ctx.value(w).shape[0]});
  if (rank_of(ctx, w) != 2) return ctx.error("linear weight must be 1-D or 2-D");
  if (ctx.value(x).shape.back() != ctx.value(w).shape[1]) {
    return ctx.error("linear input features " + std::to_string(ctx.value(x).shape.back()) +
                     " differ from weight in_features " + std::to_string(ctx.value(w).shape[1]));
  }
  return bind_cast_reshape(ctx, 0, gemm(ctx, x, w, bias, /*trans_b=*/true));
}

// addmm(self, mat1, mat2, beta, alpha) = beta * self + alpha * (mat1 @ mat2)
Status convert_addmm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto ab, operands(ctx, "mat1", "mat2"));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(double beta, scalar_or(ctx, "beta", 1.0));
  INGOT_ASSIGN_OR_RETURN(double alpha, scalar_or(ctx, "alpha", 1.0));
  // beta == 0 ignores self entirely in torch (even NaN/inf in it).
  if (beta == 0.0) {
    bias = kNoValue;
    beta = 1.0;
  } else {
    bias = ctx.cast(bias, ctx.value(ab.first).dtype);
  }
  return bind_cast(ctx, 0, gemm(ctx, ab.first, ab.second, bias, /*trans_b=*/false, alpha, beta));
}

Status convert_mm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto ab, operands(ctx, "self", "mat2"));
  return bind_cast(ctx, 0, gemm(ctx, ab.first, ab.second, kNoValue, /*trans_b=*/false));
}

Status convert_bmm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto ab, operands(ctx, "self", "mat2"));
  INGOT_ASSIGN_OR_RETURN(ValueId y, batched_matmul(ctx, ab.first, ab.second));
  return bind_cast(ctx, 0, y);
}

// torch.matmul's rank rules: 1-D left gets a leading 1, 1-D right a trailing 1,
// both removed from the result (done by reshaping to the recorded shape).
Result<ValueId> matmul_any_rank(ConvertContext& ctx, ValueId a, ValueId b) {
  const int64_t ra = rank_of(ctx, a), rb = rank_of(ctx, b);
  if (ra == 0 || rb == 0) return ctx.error("matmul operands must not be 0-dim");
  if (ra == 1) a = ctx.reshape(a, {1, ctx.value(a).shape[0]});
  if (rb == 1) b = ctx.reshape(b, {ctx.value(b).shape[0], 1});
  if (ctx.value(a).shape.back() != ctx.value(b).shape[static_cast<size_t>(rank_of(ctx, b) - 2)]) {
    return ctx.error("matmul inner dimensions differ");
  }
  // A right matrix with a left operand of any rank is a single GEMM.
  if (rank_of(ctx, b) == 2) return gemm(ctx, a, b, kNoValue, /*trans_b=*/false);
  return batched_matmul(ctx, a, b);
}

// matmul, mv, dot and vdot (real tensors) differ only in their argument names.
ConverterFn any_rank_product(const char* a_name, const char* b_name) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(auto ab, operands(ctx, a_name, b_name));
    INGOT_ASSIGN_OR_RETURN(ValueId y, matmul_any_rank(ctx, ab.first, ab.second));
    return bind_cast_reshape(ctx, 0, y);
  };
}

// baddbmm(self, b1, b2, beta, alpha) = beta * self + alpha * (b1 @ b2)
Status convert_baddbmm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto ab, operands(ctx, "batch1", "batch2"));
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(double beta, scalar_or(ctx, "beta", 1.0));
  INGOT_ASSIGN_OR_RETURN(double alpha, scalar_or(ctx, "alpha", 1.0));
  INGOT_ASSIGN_OR_RETURN(ValueId y, batched_matmul(ctx, ab.first, ab.second));
  const DType dtype = ctx.value(y).dtype;
  if (alpha != 1.0) y = ctx.binary(BinaryFn::kMul, y, scalar_value(ctx, alpha, dtype));
  if (beta != 0.0) {
    self = ctx.cast(self, dtype);
    if (beta != 1.0) self = ctx.binary(BinaryFn::kMul, self, scalar_value(ctx, beta, dtype));
    y = ctx.binary(BinaryFn::kAdd, y, self);
  }
  return bind_cast(ctx, 0, y);
}

}  // namespace

void register_linear_converters(ConverterTable& table) {
  table.add("aten.linear.default", convert_linear);
  table.add("aten.addmm.default", convert_addmm);
  table.add("aten.mm.default", convert_mm);
  table.add("aten.bmm.default", convert_bmm);
  table.add("aten.matmul.default", any_rank_product("self", "other"));
  table.add("aten.mv.default", any_rank_product("self", "vec"));
  table.add("aten.dot.default", any_rank_product("self", "tensor"));
  table.add("aten.vdot.default", any_rank_product("self", "other"));
  table.add("aten.baddbmm.default", convert_baddbmm);
}

}  // namespace ingot::frontend
