// Converters for aten reductions and scans: sum, mean, amax/amin, max/min (full
// and with indices), any/all, prod, argmax/argmin, var/std (every overload),
// softmax / log_softmax (training-IR and core-ATen forms, _safe_softmax), cumsum /
// cumprod, vector norms and logsumexp. The input is cast to the recorded output
// dtype first, which is how torch's dtype= keyword and its integer-to-int64
// promotion of sum/prod/cumsum behave.
#include <algorithm>
#include <cmath>
#include <limits>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

// Reduced dims from the optional "dim" argument (an int or an int list); none or an
// empty list means every dim, as in torch.
Result<std::vector<int64_t>> reduce_dims(ConvertContext& ctx, ValueId x, const char* name = "dim") {
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  std::vector<int64_t> dims;
  if (ctx.has_arg(name)) { INGOT_ASSIGN_OR_RETURN(dims, ctx.get_ints(name)); }
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) dims.push_back(d);
    return dims;
  }
  for (int64_t& d : dims) {
    // A 0-d tensor accepts dim 0 / -1.
    auto n = normalize_dim(d, std::max<int64_t>(rank, 1));
    if (!n.ok()) return ctx.error("reduction dim " + std::to_string(d) + " is out of range for rank " + std::to_string(rank));
    d = n.value();
  }
  if (rank == 0) return std::vector<int64_t>{};
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  return dims;
}

Result<bool> keepdim_arg(ConvertContext& ctx) {
  if (!ctx.has_arg("keepdim")) return false;
  return ctx.get_bool("keepdim");
}

ValueId reduce(ConvertContext& ctx, ValueId x, ReduceFn fn, const std::vector<int64_t>& dims, bool keepdim,
               DType out_dtype, double correction = 1.0) {
  if (dims.empty()) return x;  // 0-d input: reducing nothing
  std::vector<int64_t> shape;
  const std::vector<int64_t>& in = ctx.value(x).shape;
  for (size_t d = 0; d < in.size(); ++d) {
    bool reduced = std::binary_search(dims.begin(), dims.end(), static_cast<int64_t>(d));
    if (!reduced) shape.push_back(in[d]);
    else if (keepdim) shape.push_back(1);
  }
  return ctx.add_node(ReduceAttrs{.fn = static_cast<int64_t>(fn), .dims = dims, .keepdim = keepdim, .correction = correction},
                      {x}, out_dtype, shape);
}

// sum / mean / prod / amax / amin: cast to the result dtype, then reduce.
ConverterFn simple_reduce(ReduceFn fn) {
  return [fn](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, reduce_dims(ctx, x));
    INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
    INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
    x = ctx.cast(x, ot.dtype);
    return bind_as_meta(ctx, 0, reduce(ctx, x, fn, dims, keepdim, ot.dtype));
  };
}

ConverterFn bool_reduce(ReduceFn fn) {
  return [fn](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, reduce_dims(ctx, x));
    INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
    x = ctx.cast(x, DType::kBool);
    return bind_as_meta(ctx, 0, reduce(ctx, x, fn, dims, keepdim, DType::kBool));
  };
}

ValueId arg_reduce(ConvertContext& ctx, ValueId x, int64_t fn, int64_t dim, bool keepdim) {
  std::vector<int64_t> shape = ctx.value(x).shape;
  if (keepdim) shape[static_cast<size_t>(dim)] = 1;
  else shape.erase(shape.begin() + dim);
  return ctx.add_node(ArgReduceAttrs{.fn = fn, .dim = dim, .keepdim = keepdim}, {x}, DType::kInt64, shape);
}

// max.dim / min.dim: (values, indices).
ConverterFn reduce_with_indices(ReduceFn fn, int64_t arg_fn) {
  return [fn, arg_fn](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
    INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", std::max<int64_t>(rank, 1)));
    INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
    if (rank == 0) x = ctx.reshape(x, {1});
    if (ctx.output_used(0)) INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, 0, reduce(ctx, x, fn, {dim}, keepdim, ctx.value(x).dtype)));
    if (ctx.num_outputs() > 1 && ctx.output_used(1))
      INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, 1, arg_reduce(ctx, x, arg_fn, dim, keepdim)));
    return Status::ok_status();
  };
}

ConverterFn argmax_like(int64_t arg_fn) {
  return [arg_fn](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
    int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
    if (!ctx.has_arg("dim") || rank == 0) {
      // No dim: the index into the flattened tensor (keepdim gives all-1 dims: the meta's shape).
      ValueId flat = ctx.reshape(x, {numel_of(ctx.value(x).shape)});
      return bind_as_meta(ctx, 0, arg_reduce(ctx, flat, arg_fn, 0, false));
    }
    INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
    return bind_as_meta(ctx, 0, arg_reduce(ctx, x, arg_fn, dim, keepdim));
  };
}

// var / std: the correction comes from `correction` (None = 1) or `unbiased`.
Result<double> correction_arg(ConvertContext& ctx) {
  if (ctx.has_arg("correction")) {
    INGOT_ASSIGN_OR_RETURN(double c, ctx.get_float("correction"));
    return c;
  }
  if (ctx.has_arg("unbiased")) {
    INGOT_ASSIGN_OR_RETURN(bool unbiased, ctx.get_bool("unbiased"));
    return unbiased ? 1.0 : 0.0;
  }
  return 1.0;
}

ConverterFn variance(ReduceFn fn, bool with_mean) {
  return [fn, with_mean](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, reduce_dims(ctx, x));
    INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
    INGOT_ASSIGN_OR_RETURN(double correction, correction_arg(ctx));
    INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
    if (!is_floating(ot.dtype)) return ctx.unsupported_error("var/std of a non-floating tensor");
    x = ctx.cast(x, ot.dtype);
    if (ctx.output_used(0))
      INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, 0, reduce(ctx, x, fn, dims, keepdim, ot.dtype, correction)));
    if (with_mean && ctx.num_outputs() > 1 && ctx.output_used(1))
      INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, 1, reduce(ctx, x, ReduceFn::kMean, dims, keepdim, ot.dtype)));
    return Status::ok_status();
  };
}

ConverterFn softmax(bool log, bool safe = false) {
  return [log, safe](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
    INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
    if (!is_floating(ot.dtype)) return ctx.error("softmax needs a floating result dtype");
    INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", std::max<int64_t>(rank, 1)));
    x = ctx.cast(x, ot.dtype);  // dtype= / half_to_float: computed in the result dtype
    if (rank == 0) x = ctx.reshape(x, {1});
    ValueId y = ctx.add_node(SoftmaxAttrs{.dim = dim, .log = log}, {x}, ot.dtype, ctx.value(x).shape);
    if (safe) {
      // _safe_softmax: rows that are entirely -inf give 0 instead of NaN.
      ValueId row_max = reduce(ctx, x, ReduceFn::kMax, {dim}, true, ot.dtype);
      ValueId neg_inf = ctx.scalar_constant(-std::numeric_limits<double>::infinity(), ot.dtype);
      ValueId masked = ctx.binary(BinaryFn::kEq, row_max, neg_inf);
      ValueId zero = ctx.scalar_constant(0.0, ot.dtype);
      std::vector<int64_t> shape = ctx.value(y).shape;
      y = ctx.add_node(WhereAttrs{}, {masked, zero, y}, ot.dtype, shape);
    }
    return bind_as_meta(ctx, 0, y);
  };
}

ConverterFn cumulative(int64_t fn) {
  return [fn](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
    INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", std::max<int64_t>(rank, 1)));
    INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
    x = ctx.cast(x, ot.dtype);
    if (rank == 0) return bind_as_meta(ctx, 0, x);
    ValueId y = ctx.add_node(CumulativeAttrs{.fn = fn, .dim = dim}, {x}, ot.dtype, ctx.value(x).shape);
    return bind_as_meta(ctx, 0, y);
  };
}

// Vector p-norms: 2 -> sqrt(sum(x^2)), 1 -> sum|x|, inf -> max|x|, -inf -> min|x|,
// 0 -> count of non-zeros, other p -> (sum|x|^p)^(1/p).
Status emit_norm(ConvertContext& ctx, ValueId x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (!is_floating(ot.dtype)) return ctx.error("norm needs a floating result dtype");
  x = ctx.cast(x, ot.dtype);
  ValueId y;
  if (p == 2.0) {
    y = ctx.unary(UnaryFn::kSqrt, reduce(ctx, ctx.binary(BinaryFn::kMul, x, x), ReduceFn::kSum, dims, keepdim, ot.dtype));
  } else if (p == 1.0) {
    y = reduce(ctx, ctx.unary(UnaryFn::kAbs, x), ReduceFn::kSum, dims, keepdim, ot.dtype);
  } else if (std::isinf(p)) {
    y = reduce(ctx, ctx.unary(UnaryFn::kAbs, x), p > 0 ? ReduceFn::kMax : ReduceFn::kMin, dims, keepdim, ot.dtype);
  } else if (p == 0.0) {
    ValueId nz = ctx.cast(ctx.binary(BinaryFn::kNe, x, ctx.scalar_constant(0.0, ot.dtype)), ot.dtype);
    y = reduce(ctx, nz, ReduceFn::kSum, dims, keepdim, ot.dtype);
  } else {
    ValueId powered = ctx.unary(UnaryFn::kPowScalar, ctx.unary(UnaryFn::kAbs, x), p);
    y = ctx.unary(UnaryFn::kPowScalar, reduce(ctx, powered, ReduceFn::kSum, dims, keepdim, ot.dtype), 1.0 / p);
  }
  return bind_as_meta(ctx, 0, y);
}

Status convert_linalg_vector_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  double ord = 2.0;
  if (ctx.has_arg("ord")) { INGOT_ASSIGN_OR_RETURN(ord, ctx.get_float("ord")); }
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, reduce_dims(ctx, x));
  INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
  return emit_norm(ctx, x, ord, dims, keepdim);
}

Status convert_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  double p = 2.0;
  if (ctx.has_arg("p")) { INGOT_ASSIGN_OR_RETURN(p, ctx.get_float("p")); }
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, reduce_dims(ctx, x));
  INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
  return emit_norm(ctx, x, p, dims, keepdim);
}

// logsumexp = m + log(sum(exp(x - m))) with m the max (0 where the max is infinite).
Status convert_logsumexp(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, reduce_dims(ctx, x));
  INGOT_ASSIGN_OR_RETURN(bool keepdim, keepdim_arg(ctx));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (!is_floating(ot.dtype)) return ctx.error("logsumexp needs a floating result dtype");
  x = ctx.cast(x, ot.dtype);
  ValueId m = reduce(ctx, x, ReduceFn::kMax, dims, true, ot.dtype);
  ValueId inf = ctx.scalar_constant(std::numeric_limits<double>::infinity(), ot.dtype);
  ValueId is_inf = ctx.binary(BinaryFn::kEq, ctx.unary(UnaryFn::kAbs, m), inf);
  std::vector<int64_t> mshape = ctx.value(m).shape;
  m = ctx.add_node(WhereAttrs{}, {is_inf, ctx.scalar_constant(0.0, ot.dtype), m}, ot.dtype, mshape);
  ValueId s = reduce(ctx, ctx.unary(UnaryFn::kExp, ctx.binary(BinaryFn::kSub, x, m)), ReduceFn::kSum, dims, keepdim, ot.dtype);
  ValueId m_out = keepdim ? m : ctx.reshape(m, ctx.value(s).shape);
  return bind_as_meta(ctx, 0, ctx.binary(BinaryFn::kAdd, ctx.unary(UnaryFn::kLog, s), m_out));
}

void add_all(ConverterTable& t, std::initializer_list<const char*> names, const ConverterFn& fn) {
  for (const char* n : names) t.add(n, fn);
}

}  // namespace

void register_reduction_converters(ConverterTable& t) {
  add_all(t, {"aten.sum.default", "aten.sum.dim_IntList"}, simple_reduce(ReduceFn::kSum));
  add_all(t, {"aten.mean.default", "aten.mean.dim"}, simple_reduce(ReduceFn::kMean));
  add_all(t, {"aten.prod.default", "aten.prod.dim_int"}, simple_reduce(ReduceFn::kProd));
  add_all(t, {"aten.amax.default", "aten.max.default"}, simple_reduce(ReduceFn::kMax));
  add_all(t, {"aten.amin.default", "aten.min.default"}, simple_reduce(ReduceFn::kMin));
  add_all(t, {"aten.max.dim"}, reduce_with_indices(ReduceFn::kMax, 0));
  add_all(t, {"aten.min.dim"}, reduce_with_indices(ReduceFn::kMin, 1));
  add_all(t, {"aten.any.default", "aten.any.dim", "aten.any.dims"}, bool_reduce(ReduceFn::kAny));
  add_all(t, {"aten.all.default", "aten.all.dim", "aten.all.dims"}, bool_reduce(ReduceFn::kAll));
  add_all(t, {"aten.argmax.default"}, argmax_like(0));
  add_all(t, {"aten.argmin.default"}, argmax_like(1));
  add_all(t, {"aten.var.default", "aten.var.dim", "aten.var.correction"}, variance(ReduceFn::kVar, false));
  add_all(t, {"aten.std.default", "aten.std.dim", "aten.std.correction"}, variance(ReduceFn::kStd, false));
  add_all(t, {"aten.var_mean.default", "aten.var_mean.dim", "aten.var_mean.correction"}, variance(ReduceFn::kVar, true));
  add_all(t, {"aten.std_mean.default", "aten.std_mean.dim", "aten.std_mean.correction"}, variance(ReduceFn::kStd, true));
  add_all(t, {"aten.softmax.int", "aten._softmax.default"}, softmax(false));
  add_all(t, {"aten.log_softmax.int", "aten._log_softmax.default"}, softmax(true));
  add_all(t, {"aten._safe_softmax.default"}, softmax(false, true));
  add_all(t, {"aten.cumsum.default", "aten.cumsum_.default"}, cumulative(0));
  add_all(t, {"aten.cumprod.default", "aten.cumprod_.default"}, cumulative(1));
  add_all(t, {"aten.linalg_vector_norm.default"}, convert_linalg_vector_norm);
  add_all(t, {"aten.norm.Scalar", "aten.norm.ScalarOpt_dim", "aten.norm.ScalarOpt_dtype", "aten.norm.ScalarOpt_dim_dtype"},
          convert_norm);
  add_all(t, {"aten.logsumexp.default"}, convert_logsumexp);
}

}  // namespace ingot::frontend
