// Converters for aten ops that read or write tensor elements by index: embedding
// lookups, index_select, gather, advanced indexing (index.Tensor) and the
// functional scatters that core ATen produces for sliced writes (slice_scatter,
// select_scatter). Boolean masks in advanced indexing have data-dependent
// shapes, so only constant masks are accepted (turned into int64 indices here).
#include <algorithm>
#include <cstring>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

Status convert_embedding(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId weight, ctx.get_tensor("weight"));
  INGOT_ASSIGN_OR_RETURN(ValueId indices, ctx.get_tensor("indices"));
  if (ctx.value(weight).shape.size() != 2) return ctx.error("embedding weight must be 2-d");
  if (is_floating(ctx.value(indices).dtype) || ctx.value(indices).dtype == DType::kBool)
    return ctx.error("embedding indices must be integers");
  std::vector<int64_t> shape = ctx.value(indices).shape;
  shape.push_back(ctx.value(weight).shape[1]);
  // padding_idx only affects gradients; the forward is a plain row lookup.
  ValueId y = ctx.add_node(IndexSelectAttrs{.dim = 0}, {weight, indices}, ctx.value(weight).dtype, shape);
  return bind_as_meta(ctx, 0, y);
}

Status convert_index_select(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId index, ctx.get_tensor("index"));
  std::vector<int64_t> in = ctx.value(x).shape;
  int64_t rank = static_cast<int64_t>(in.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", std::max<int64_t>(rank, 1)));
  if (rank == 0) {  // a 0-d input behaves like a 1-element vector
    x = ctx.reshape(x, {1});
    in = {1};
  }
  if (ctx.value(index).shape.size() > 1) return ctx.error("index_select index must be 0-d or 1-d");
  int64_t count = numel_of(ctx.value(index).shape);
  index = ctx.reshape(index, {count});
  in[static_cast<size_t>(dim)] = count;
  ValueId y = ctx.add_node(IndexSelectAttrs{.dim = dim}, {x, index}, ctx.value(x).dtype, in);
  return bind_as_meta(ctx, 0, y);
}

Status convert_gather(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId index, ctx.get_tensor("index"));
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", std::max<int64_t>(rank, 1)));
  if (ctx.value(index).shape.size() != ctx.value(x).shape.size())
    return ctx.error("gather index must have the same number of dims as the input");
  index = ctx.cast(index, DType::kInt64);
  ValueId y = ctx.add_node(GatherAttrs{.dim = dim}, {x, index}, ctx.value(x).dtype, ctx.value(index).shape);
  return bind_as_meta(ctx, 0, y);
}

// The int64 indices of the true elements of a constant bool mask, one tensor per mask dim
// (what torch does with a bool index: mask.nonzero() split by column).
Result<std::vector<ValueId>> mask_to_indices(ConvertContext& ctx, ValueId mask) {
  const Value& m = ctx.value(mask);
  if (!m.is_constant())
    return ctx.unsupported_error("indexing with a boolean mask computed at run time (its result size depends on the data)");
  std::vector<int64_t> shape = m.shape;
  std::vector<int64_t> strides = contiguous_strides(shape);
  std::vector<std::vector<int64_t>> coords(shape.size());
  const std::vector<uint8_t>& bytes = *m.constant;
  int64_t n = numel_of(shape);
  for (int64_t e = 0; e < n; ++e) {
    if (!bytes[static_cast<size_t>(e)]) continue;
    int64_t rem = e;
    for (size_t d = 0; d < shape.size(); ++d) {
      coords[d].push_back(rem / strides[d]);
      rem %= strides[d];
    }
  }
  std::vector<ValueId> out;
  for (auto& c : coords) {
    int64_t count = static_cast<int64_t>(c.size());
    out.push_back(int64_constant(ctx, {count}, c));
  }
  if (shape.empty()) return ctx.unsupported_error("indexing with a 0-d boolean mask");
  return out;
}

Status convert_index(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> indices, ctx.get_optional_tensors("indices"));
  std::vector<ValueId> inputs{x};
  std::vector<int64_t> indexed_dims;
  int64_t dim = 0;
  for (ValueId idx : indices) {
    if (idx == kNoValue) {
      ++dim;
      continue;
    }
    if (ctx.value(idx).dtype == DType::kBool || ctx.value(idx).dtype == DType::kUInt8) {
      int64_t mask_rank = static_cast<int64_t>(ctx.value(idx).shape.size());
      INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> parts, mask_to_indices(ctx, idx));
      for (ValueId p : parts) {
        inputs.push_back(p);
        indexed_dims.push_back(dim++);
      }
      (void)mask_rank;
      continue;
    }
    if (is_floating(ctx.value(idx).dtype)) return ctx.error("tensors used as indices must be integer or bool");
    inputs.push_back(ctx.cast(idx, DType::kInt64));
    indexed_dims.push_back(dim++);
  }
  if (dim > static_cast<int64_t>(ctx.value(x).shape.size())) return ctx.error("too many indices for the tensor");
  if (indexed_dims.empty()) return bind_as_meta(ctx, 0, x);
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  ValueId y = ctx.add_node(IndexAttrs{.indexed_dims = indexed_dims}, inputs, ctx.value(x).dtype, ot.shape);
  return bind_as_meta(ctx, 0, y);
}

Status emit_slice_scatter(ConvertContext& ctx, ValueId x, ValueId src, int64_t dim, int64_t start, int64_t end,
                          int64_t step) {
  std::vector<int64_t> region = ctx.value(x).shape;
  region[static_cast<size_t>(dim)] = end > start ? (end - start + step - 1) / step : 0;
  src = ctx.cast(src, ctx.value(x).dtype);
  if (ctx.value(src).shape != region) {
    // torch requires src to have exactly the slice's shape (select_scatter: minus the dim).
    if (numel_of(ctx.value(src).shape) != numel_of(region))
      return ctx.error("scatter source shape " + shape_str(ctx.value(src).shape) + " does not match the slice " +
                       shape_str(region));
    src = ctx.reshape(src, region);
  }
  if (numel_of(region) == 0) return bind_as_meta(ctx, 0, x);
  ValueId y = ctx.add_node(SliceScatterAttrs{.dim = dim, .start = start, .end = end, .step = step}, {x, src},
                           ctx.value(x).dtype, ctx.value(x).shape);
  return bind_as_meta(ctx, 0, y);
}

Status convert_slice_scatter(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId src, ctx.get_tensor("src"));
  const std::vector<int64_t> shape = ctx.value(x).shape;
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", static_cast<int64_t>(shape.size())));
  int64_t size = shape[static_cast<size_t>(dim)];
  int64_t start = 0, end = size, step = 1;
  if (ctx.has_arg("start")) { INGOT_ASSIGN_OR_RETURN(start, ctx.get_int("start")); }
  if (ctx.has_arg("end")) { INGOT_ASSIGN_OR_RETURN(end, ctx.get_int("end")); }
  if (ctx.has_arg("step")) { INGOT_ASSIGN_OR_RETURN(step, ctx.get_int("step")); }
  if (step <= 0) return ctx.error("slice_scatter step must be positive");
  start = clamp_slice_index(start, size);
  end = std::max(start, clamp_slice_index(end, size));
  return emit_slice_scatter(ctx, x, src, dim, start, end, step);
}

Status convert_select_scatter(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId src, ctx.get_tensor("src"));
  const std::vector<int64_t> shape = ctx.value(x).shape;
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", static_cast<int64_t>(shape.size())));
  INGOT_ASSIGN_OR_RETURN(int64_t index, ctx.get_int("index"));
  int64_t size = shape[static_cast<size_t>(dim)];
  if (index < -size || index >= size) return ctx.error("select_scatter index out of range");
  if (index < 0) index += size;
  return emit_slice_scatter(ctx, x, src, dim, index, index + 1, 1);
}

void add_all(ConverterTable& t, std::initializer_list<const char*> names, const ConverterFn& fn) {
  for (const char* n : names) t.add(n, fn);
}

}  // namespace

void register_indexing_converters(ConverterTable& t) {
  add_all(t, {"aten.embedding.default"}, convert_embedding);
  add_all(t, {"aten.index_select.default"}, convert_index_select);
  add_all(t, {"aten.gather.default"}, convert_gather);
  add_all(t, {"aten.index.Tensor", "aten._unsafe_index.Tensor"}, convert_index);
  add_all(t, {"aten.slice_scatter.default"}, convert_slice_scatter);
  add_all(t, {"aten.select_scatter.default"}, convert_select_scatter);
}

}  // namespace ingot::frontend
