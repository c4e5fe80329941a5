// Converters for ops that vision models leave in their training-IR exports besides
// the common families: tensor_split (MViT splits the class token off with
// torch.tensor_split(x, indices=(1,), dim=2)); pieces are Slices of the input, with
// Python slicing rules for the split points, as ATen computes them. im2col
// (F.unfold; ConvBERT's span convolution): a constant-padded input whose flattened
// spatial positions are gathered by one constant index list. grid_sample
// (F.grid_sample; RAFT's correlation lookup, spatial transformers): the GridSample
// op, 2-d only, on the CPU backend.
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

// im2col(x [N, C, H, W] or [C, H, W], kernel, dilation, padding, stride) ->
// [N, C*kh*kw, L]: row c*kh*kw + i*kw + j, column l = oh*OW + ow holds
// xpad[c, oh*sh + i*dh, ow*sw + j*dw].
Status convert_im2col(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  std::vector<int64_t> k, d, p, s;
  for (auto [name, out] : {std::pair{"kernel_size", &k}, {"dilation", &d}, {"padding", &p}, {"stride", &s}}) {
    INGOT_ASSIGN_OR_RETURN(*out, ctx.get_ints(name));
    if (out->size() == 1) out->push_back(out->front());
    if (out->size() != 2) return ctx.error(std::string(name) + " must have 1 or 2 values");
  }
  const std::vector<int64_t> in = ctx.value(x).shape;
  if (in.size() != 3 && in.size() != 4) return ctx.error("im2col expects a 3-d or 4-d input, got " + shape_str(in));
  const bool batched = in.size() == 4;
  if (!batched) x = ctx.reshape(x, {1, in[0], in[1], in[2]});
  const int64_t N = batched ? in[0] : 1, C = in[in.size() - 3], H = in[in.size() - 2], W = in.back();
  for (int i = 0; i < 2; ++i)
    if (k[i] <= 0 || d[i] <= 0 || s[i] <= 0 || p[i] < 0) return ctx.error("im2col needs positive kernel, dilation and stride");
  const int64_t Hp = H + 2 * p[0], Wp = W + 2 * p[1];
  const int64_t OH = (Hp - d[0] * (k[0] - 1) - 1) / s[0] + 1, OW = (Wp - d[1] * (k[1] - 1) - 1) / s[1] + 1;
  if (OH <= 0 || OW <= 0) return ctx.error("im2col: the kernel does not fit the padded input");
  if (p[0] || p[1])
    x = ctx.add_node(PadAttrs{.pads = {0, 0, 0, 0, p[0], p[0], p[1], p[1]}, .mode = 0, .value = 0.0}, {x},
                     ctx.value(x).dtype, {N, C, Hp, Wp});
  x = ctx.reshape(x, {N, C, Hp * Wp});
  std::vector<int64_t> index;
  index.reserve(static_cast<size_t>(k[0] * k[1] * OH * OW));
  for (int64_t i = 0; i < k[0]; ++i)
    for (int64_t j = 0; j < k[1]; ++j)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) index.push_back((oh * s[0] + i * d[0]) * Wp + ow * s[1] + j * d[1]);
  const int64_t taps = static_cast<int64_t>(index.size());
  ValueId idx = int64_constant(ctx, {taps}, index);
  ValueId cols = ctx.add_node(IndexSelectAttrs{.dim = 2}, {x, idx}, ctx.value(x).dtype, {N, C, taps});
  cols = ctx.reshape(cols, batched ? std::vector<int64_t>{N, C * k[0] * k[1], OH * OW}
                                   : std::vector<int64_t>{C * k[0] * k[1], OH * OW});
  return bind_as_meta(ctx, 0, cols);
}

// grid_sampler(input [N, C, H, W], grid [N, Ho, Wo, 2], interpolation_mode,
// padding_mode, align_corners): PyTorch's mode numbers are GridSampleAttrs'.
Status convert_grid_sampler(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  INGOT_ASSIGN_OR_RETURN(ValueId grid, ctx.get_tensor("grid"));
  INGOT_ASSIGN_OR_RETURN(int64_t mode, ctx.get_int("interpolation_mode"));
  INGOT_ASSIGN_OR_RETURN(int64_t padding, ctx.get_int("padding_mode"));
  INGOT_ASSIGN_OR_RETURN(bool align_corners, ctx.get_bool("align_corners"));
  const std::vector<int64_t> xs = ctx.value(x).shape, gs = ctx.value(grid).shape;
  if (xs.size() != 4)
    return ctx.unsupported_error("grid_sample on a " + std::to_string(xs.size()) +
                                 "-d input (only 4-d inputs, 2-d sampling, are supported)");
  if (gs.size() != 4 || gs[3] != 2 || gs[0] != xs[0])
    return ctx.error("grid must be [N, Ho, Wo, 2] for an input " + shape_str(xs) + ", got " + shape_str(gs));
  if (mode < 0 || mode > 2) return ctx.error("unknown interpolation_mode " + std::to_string(mode));
  if (padding < 0 || padding > 2) return ctx.error("unknown padding_mode " + std::to_string(padding));
  const DType dtype = ctx.value(x).dtype;
  if (!is_floating(dtype) || ctx.value(grid).dtype != dtype)
    return ctx.error(std::string("grid_sample needs a float input and a grid of the same dtype, got ") +
                     dtype_name(dtype) + " and " + dtype_name(ctx.value(grid).dtype));
  ValueId y = ctx.add_node(GridSampleAttrs{.mode = mode, .padding_mode = padding, .align_corners = align_corners},
                           {x, grid}, dtype, {xs[0], xs[1], gs[1], gs[2]});
  return bind_as_meta(ctx, 0, y);
}

}  // namespace

void register_vision_extra_converters(ConverterTable& t) {
  t.add("aten.grid_sampler.default", convert_grid_sampler);
  t.add("aten.grid_sampler_2d.default", convert_grid_sampler);
  t.add("aten.im2col.default", convert_im2col);
  t.add("aten.tensor_split.indices", convert_tensor_split_indices);
  t.add("aten.tensor_split.sections", convert_tensor_split_sections);
  t.add("aten.tensor_split.tensor_indices_or_sections", convert_tensor_split_tensor);
}

}  // namespace ingot::frontend
