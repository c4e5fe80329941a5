// Converters for ops that torchvision models leave in their training-IR exports
// besides the common families: tensor_split (MViT splits the class token off with
// torch.tensor_split(x, indices=(1,), dim=2)). Pieces are Slices of the input,
// with Python slicing rules for the split points, as ATen computes them.
#include <cstring>
#include <string>
#include <vector>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

// Binds output i to x[..., start:end, ...] along dim (start/end already clamped).
Status bind_piece(ConvertContext& ctx, size_t i, ValueId x, int64_t dim, int64_t start, int64_t end) {
  if (!ctx.output_used(i)) return Status::ok_status();
  const int64_t n = ctx.value(x).shape[static_cast<size_t>(dim)];
  return bind_as_meta(ctx, i, start == 0 && end == n ? x : slice(ctx, x, dim, start, end));
}

// Split points (python slice bounds) -> one piece per output.
Status bind_at_indices(ConvertContext& ctx, ValueId x, int64_t dim, const std::vector<int64_t>& indices) {
  if (indices.size() + 1 != ctx.num_outputs()) {
    return ctx.error("tensor_split gives " + std::to_string(indices.size() + 1) + " pieces but the node has " +
                     std::to_string(ctx.num_outputs()) + " outputs");
  }
  const int64_t n = ctx.value(x).shape[static_cast<size_t>(dim)];
  int64_t start = 0;
  for (size_t i = 0; i <= indices.size(); ++i) {
    int64_t end = i < indices.size() ? clamp_slice_index(indices[i], n) : n;
    if (end < start) end = start;  // ATen: an empty piece, not an error
    INGOT_RETURN_IF_ERROR(bind_piece(ctx, i, x, dim, start, end));
    start = end;
  }
  return Status::ok_status();
}

// `sections` nearly equal pieces: the first n % sections are one longer.
Status bind_sections(ConvertContext& ctx, ValueId x, int64_t dim, int64_t sections) {
  if (sections <= 0) return ctx.error("tensor_split needs a positive number of sections, got " + std::to_string(sections));
  const int64_t n = ctx.value(x).shape[static_cast<size_t>(dim)];
  std::vector<int64_t> indices;
  int64_t offset = 0;
  for (int64_t s = 0; s + 1 < sections; ++s) {
    offset += n / sections + (s < n % sections ? 1 : 0);
    indices.push_back(offset);
  }
  return bind_at_indices(ctx, x, dim, indices);
}

Result<std::pair<ValueId, int64_t>> input_and_dim(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  if (rank == 0) return ctx.error("tensor_split needs a tensor of at least one dimension");
  int64_t dim = 0;
  if (ctx.has_arg("dim")) { INGOT_ASSIGN_OR_RETURN(dim, dim_arg(ctx, "dim", rank)); }
  return std::make_pair(x, dim);
}

Status convert_tensor_split_indices(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto x_dim, input_and_dim(ctx));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> indices, ctx.get_ints("indices"));
  return bind_at_indices(ctx, x_dim.first, x_dim.second, indices);
}

Status convert_tensor_split_sections(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto x_dim, input_and_dim(ctx));
  INGOT_ASSIGN_OR_RETURN(int64_t sections, ctx.get_int("sections"));
  return bind_sections(ctx, x_dim.first, x_dim.second, sections);
}

// The split points given as a tensor: usable only when it is a constant (a 0-d
// tensor means sections, a 1-d one split indices), as torch requires it on the CPU.
Status convert_tensor_split_tensor(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(auto x_dim, input_and_dim(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId points, ctx.get_tensor("tensor_indices_or_sections"));
  const Value& p = ctx.value(points);
  if (!p.is_constant() || p.dtype != DType::kInt64 || p.shape.size() > 1) {
    return ctx.unsupported_error("tensor_split with computed split points is not supported (pass a list of ints)");
  }
  std::vector<int64_t> values(static_cast<size_t>(p.numel()));
  if (!values.empty()) std::memcpy(values.data(), p.constant->data(), values.size() * sizeof(int64_t));
  if (p.shape.empty()) return bind_sections(ctx, x_dim.first, x_dim.second, values[0]);
  return bind_at_indices(ctx, x_dim.first, x_dim.second, values);
}

}  // namespace

void register_vision_extra_converters(ConverterTable& t) {
  t.add("aten.tensor_split.indices", convert_tensor_split_indices);
  t.add("aten.tensor_split.sections", convert_tensor_split_sections);
  t.add("aten.tensor_split.tensor_indices_or_sections", convert_tensor_split_tensor);
}

}  // namespace ingot::frontend
