// Converters for writes at data-dependent positions: index_put (and its in-place
// form) and transformers' grouped_mm_fallback custom op, the expert GEMM of
// Hugging Face MoE models (Mixtral, Qwen-MoE, ...) on devices without
// torch._grouped_mm. The IR has no scatter op, so both are composed from
// comparisons, reductions, gathers and matmuls: index_put compares every target
// row with every index (O(rows * indices) work), and grouped_mm multiplies every
// row by every expert's weight and keeps the product of the row's own expert
// (experts-times the ideal work). Both are exact, and cheap at the sizes these
// ops have in inference graphs; a dedicated scatter / grouped GEMM kernel would
// be the faster path for large MoE models.
#include <numeric>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

ValueId reduce(ConvertContext& ctx, ValueId x, ReduceFn fn, int64_t dim) {
  std::vector<int64_t> shape = ctx.value(x).shape;
  shape.erase(shape.begin() + dim);
  return ctx.add_node(ReduceAttrs{.fn = static_cast<int64_t>(fn), .dims = {dim}, .keepdim = false}, {x},
                      ctx.value(x).dtype, shape);
}

ValueId iota(ConvertContext& ctx, int64_t n, std::vector<int64_t> shape) {
  std::vector<int64_t> values(static_cast<size_t>(n));
  std::iota(values.begin(), values.end(), 0);
  return int64_constant(ctx, std::move(shape), values);
}

// index_put(self, indices, values, accumulate=False): self[..., idx, ...] = values
// for one integer index tensor at dim d (None entries before it), as PyTorch's
// `x[:, idx] = v` and its inverse-permutation idiom (`out[perm] = arange(n)`)
// produce. Where an index repeats without accumulate, torch leaves the winner
// unspecified; here the last write wins.
Status convert_index_put(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> indices, ctx.get_optional_tensors("indices"));
  INGOT_ASSIGN_OR_RETURN(ValueId values, ctx.get_tensor("values"));
  bool accumulate = false;
  if (ctx.has_arg("accumulate")) { INGOT_ASSIGN_OR_RETURN(accumulate, ctx.get_bool("accumulate")); }
  const std::vector<int64_t> shape = ctx.value(self).shape;
  const int64_t rank = static_cast<int64_t>(shape.size());
  int64_t dim = -1;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] == kNoValue) continue;
    if (dim >= 0) return ctx.unsupported_error("index_put with more than one index tensor");
    dim = static_cast<int64_t>(i);
  }
  if (dim < 0 || dim >= rank) return ctx.unsupported_error("index_put without an index tensor");
  ValueId idx = indices[static_cast<size_t>(dim)];
  if (!is_integral(ctx.value(idx).dtype))
    return ctx.unsupported_error("index_put with a boolean mask index (use masked_fill / where)");
  const DType dt = ctx.value(self).dtype;
  const int64_t rows = shape[static_cast<size_t>(dim)];
  const int64_t count = ctx.value(idx).numel();
  idx = ctx.reshape(ctx.cast(idx, DType::kInt64), {count});
  // Negative indices count from the end.
  ValueId wrapped = ctx.binary(BinaryFn::kAdd, idx, int64_constant(ctx, {}, {rows}));
  idx = ctx.add_node(WhereAttrs{}, {ctx.binary(BinaryFn::kLt, idx, int64_constant(ctx, {}, {0})), wrapped, idx},
                     DType::kInt64, {count});

  // values as [count, rest...] with the indexed dim first; self likewise.
  std::vector<int64_t> perm{dim};
  for (int64_t d = 0; d < rank; ++d)
    if (d != dim) perm.push_back(d);
  std::vector<int64_t> value_shape = shape;
  value_shape[static_cast<size_t>(dim)] = count;
  const int64_t value_rank = static_cast<int64_t>(ctx.value(values).shape.size());
  if (value_rank > rank) return ctx.unsupported_error("index_put values of higher rank than the target");
  values = ctx.cast(values, dt);
  INGOT_ASSIGN_OR_RETURN(values, expand_to(ctx, values, value_shape));
  ValueId values_first = permute(ctx, values, perm);
  ValueId self_first = permute(ctx, self, perm);
  std::vector<int64_t> rest(ctx.value(self_first).shape.begin() + 1, ctx.value(self_first).shape.end());
  int64_t rest_numel = numel_of(rest);

  // hit[row, i] = (idx_i == row).
  ValueId hit = ctx.binary(BinaryFn::kEq, iota(ctx, rows, {rows, 1}), ctx.reshape(idx, {1, count}));
  ValueId result;
  if (!accumulate) {
    ValueId none = int64_constant(ctx, {}, {-1});
    ValueId writer = reduce(ctx, ctx.add_node(WhereAttrs{}, {hit, iota(ctx, count, {1, count}), none}, DType::kInt64, {rows, count}),
                            ReduceFn::kMax, 1);  // the last index that writes each row, -1 for none
    ValueId written = ctx.binary(BinaryFn::kGe, writer, int64_constant(ctx, {}, {0}));
    ValueId source = ctx.binary(BinaryFn::kMaximum, writer, int64_constant(ctx, {}, {0}));
    std::vector<int64_t> picked_shape = ctx.value(self_first).shape;
    ValueId picked = ctx.add_node(IndexSelectAttrs{.dim = 0}, {values_first, source}, dt, picked_shape);
    std::vector<int64_t> mask_shape(static_cast<size_t>(rank), 1);
    mask_shape[0] = rows;
    result = ctx.add_node(WhereAttrs{}, {ctx.reshape(written, mask_shape), picked, self_first}, dt, picked_shape);
  } else if (is_floating(dt)) {
    // Sum of the values aimed at each row: a 0/1 matrix times the values.
    ValueId weights = ctx.cast(hit, dt);
    ValueId flat_values = ctx.reshape(values_first, {count, rest_numel});
    ValueId sums = ctx.add_node(MatMulAttrs{}, {weights, flat_values}, dt, {rows, rest_numel});
    result = ctx.binary(BinaryFn::kAdd, self_first, ctx.reshape(sums, ctx.value(self_first).shape));
  } else {
    std::vector<int64_t> hit_shape{rows, count};
    hit_shape.insert(hit_shape.end(), rest.size(), 1);
    std::vector<int64_t> spread_shape{1, count};
    spread_shape.insert(spread_shape.end(), rest.begin(), rest.end());
    std::vector<int64_t> full{rows, count};
    full.insert(full.end(), rest.begin(), rest.end());
    ValueId contributions = ctx.add_node(
        WhereAttrs{}, {ctx.reshape(hit, hit_shape), ctx.reshape(values_first, spread_shape), fill_constant(ctx, dt, {}, int_scalar(0))},
        dt, full);
    result = ctx.binary(BinaryFn::kAdd, self_first, reduce(ctx, contributions, ReduceFn::kSum, 1));
  }
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return bind_as_meta(ctx, 0, permute(ctx, result, inverse));
}

// transformers::grouped_mm_fallback(input [S, K], weight [E, K, N], offs [E]):
// rows offs[e-1] <= r < offs[e] are multiplied by weight[e]; rows past offs[E-1]
// are zero (the op's fallback starts from zeros).
Status convert_grouped_mm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId input, ctx.get_tensor("input"));
  INGOT_ASSIGN_OR_RETURN(ValueId weight, ctx.get_tensor("weight"));
  INGOT_ASSIGN_OR_RETURN(ValueId offs, ctx.get_tensor("offs"));
  const std::vector<int64_t> is = ctx.value(input).shape, ws = ctx.value(weight).shape;
  if (is.size() != 2 || ws.size() != 3 || ctx.value(offs).shape.size() != 1 || is[1] != ws[1] ||
      ctx.value(offs).shape[0] != ws[0])
    return ctx.error("grouped_mm_fallback expects input [S, K], weight [E, K, N] and offs [E], got " +
                     shape_str(is) + ", " + shape_str(ws) + " and " + shape_str(ctx.value(offs).shape));
  const int64_t rows = is[0], experts = ws[0], cols = ws[2];
  const DType dt = ctx.value(weight).dtype;
  input = ctx.cast(input, dt);
  ValueId every = ctx.add_node(MatMulAttrs{}, {ctx.reshape(input, {1, rows, is[1]}), weight}, dt, {experts, rows, cols});
  // expert(r) = #{e : offs[e] <= r}; rows with expert == E belong to no group.
  ValueId ends = ctx.reshape(ctx.cast(offs, DType::kInt64), {1, experts});
  ValueId passed = ctx.cast(ctx.binary(BinaryFn::kLe, ends, iota(ctx, rows, {rows, 1})), DType::kInt64);
  ValueId expert = reduce(ctx, passed, ReduceFn::kSum, 1);
  ValueId grouped = ctx.binary(BinaryFn::kLt, expert, int64_constant(ctx, {}, {experts}));
  ValueId clamped = ctx.binary(BinaryFn::kMinimum, expert, int64_constant(ctx, {}, {experts - 1}));
  INGOT_ASSIGN_OR_RETURN(ValueId index, expand_to(ctx, ctx.reshape(clamped, {1, rows, 1}), {1, rows, cols}));
  ValueId picked = ctx.add_node(GatherAttrs{.dim = 0}, {every, index}, dt, {1, rows, cols});
  ValueId out = ctx.add_node(WhereAttrs{}, {ctx.reshape(grouped, {rows, 1}), ctx.reshape(picked, {rows, cols}),
                                            fill_constant(ctx, dt, {}, int_scalar(0))},
                             dt, {rows, cols});
  return bind_as_meta(ctx, 0, out);
}

}  // namespace

void register_scatter_converters(ConverterTable& t) {
  // The in-place form's result is bound functionally, as the other in-place writes are.
  for (const char* name : {"aten.index_put.default", "aten.index_put_.default", "aten._unsafe_index_put.default"})
    t.add(name, convert_index_put);
  t.add("transformers.grouped_mm_fallback.default", convert_grouped_mm);
}

}  // namespace ingot::frontend
