// Converters for ops that torchvision models leave in their training-IR exports
// besides the common families:
// - tensor_split (MViT splits the class token off with
//   torch.tensor_split(x, indices=(1,), dim=2)). Pieces are Slices of the input,
//   with Python slicing rules for the split points, as ATen computes them.
// - copy_ into a slice of a computed tensor (MViT's relative position bias:
//   `attn[:, :, 1:, 1:] = attn[:, :, 1:, 1:] + bias`). The training IR is not
//   functionalized, so later nodes read `attn` by name expecting the write. The
//   write becomes nested SliceScatters; then the value ids of the tensor (and of
//   the slices leading to the written region) are exchanged with those of their
//   updated versions, so every node converted later reads the updated tensor
//   while the nodes already converted keep reading the old one. Writes through
//   other views (reshape, permute) and into constants keep the misc.cc converter.
#include <algorithm>
#include <cstring>
#include <utility>
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

// Exchanges the ids of two values everywhere in the graph (node inputs and outputs,
// graph inputs and outputs, the value records): afterwards id `a` names what `b`
// named and vice versa, and names bound to `a` by the importer see b's value.
void exchange_value_ids(Graph& g, ValueId a, ValueId b) {
  auto swap_id = [&](ValueId& v) {
    if (v == a) v = b;
    else if (v == b) v = a;
  };
  for (Node& n : g.nodes()) {
    for (ValueId& v : n.inputs) swap_id(v);
    for (ValueId& v : n.outputs) swap_id(v);
  }
  for (ValueId& v : g.inputs) swap_id(v);
  for (ValueId& v : g.outputs) swap_id(v);
  std::swap(g.value(a), g.value(b));
}

bool is_graph_input(const Graph& g, ValueId v) {
  return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
}

// copy_(self, src) where self is a chain of Slices of a computed tensor; returns
// false (nothing done) for any other case.
Result<bool> write_into_sliced_computed_tensor(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId src, ctx.get_tensor("src"));
  Graph& g = ctx.graph();
  // The Slice nodes from the root to self, root first.
  std::vector<NodeId> chain;
  ValueId root = self;
  while (true) {
    const NodeId p = g.value(root).producer;
    if (p < 0 || g.node(p).kind() != OpKind::kSlice) break;
    chain.push_back(p);
    root = g.node(p).inputs[0];
  }
  if (chain.empty() || g.value(root).is_constant() || g.value(root).producer < 0 || is_graph_input(g, root))
    return false;
  std::reverse(chain.begin(), chain.end());
  // The new contents of the written region: src cast and broadcast to it.
  const Value& region = g.value(self);
  const DType dtype = region.dtype;
  const std::vector<int64_t> region_shape = region.shape;
  ValueId updated = ctx.cast(src, dtype);
  INGOT_ASSIGN_OR_RETURN(updated, expand_to(ctx, updated, region_shape));
  const ValueId written_region = updated;
  // Innermost first: level i's updated value is SliceScatter(old input of slice i, updated).
  std::vector<std::pair<ValueId, ValueId>> old_and_new;  // (old value, its updated version)
  for (size_t i = chain.size(); i-- > 0;) {
    const Node& slice_node = g.node(chain[i]);
    const SliceAttrs attrs = std::get<SliceAttrs>(slice_node.attrs);
    const ValueId base = slice_node.inputs[0];
    const std::vector<int64_t> base_shape = g.value(base).shape;
    updated = ctx.add_node(SliceScatterAttrs{.dim = attrs.dim, .start = attrs.start, .end = attrs.end, .step = attrs.step},
                           {base, updated}, dtype, base_shape);
    old_and_new.emplace_back(base, updated);
  }
  // The copy_ result is the written view: the region's new contents.
  INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, 0, written_region));
  for (auto [old_value, new_value] : old_and_new) exchange_value_ids(g, old_value, new_value);
  return true;
}

}  // namespace

void register_vision_extra_converters(ConverterTable& t) {
  // Extends the copy_ converter of misc.cc (registered before this family).
  const ConverterFn* previous = t.find("aten.copy_.default");
  ConverterFn fallback = previous ? *previous : ConverterFn{};
  t.add("aten.copy_.default", [fallback](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(bool done, write_into_sliced_computed_tensor(ctx));
    if (done) return Status::ok_status();
    if (!fallback) return ctx.unsupported_error("in-place copy into this tensor is not supported");
    return fallback(ctx);
  });
  t.add("aten.tensor_split.indices", convert_tensor_split_indices);
  t.add("aten.tensor_split.sections", convert_tensor_split_sections);
  t.add("aten.tensor_split.tensor_indices_or_sections", convert_tensor_split_tensor);
}

}  // namespace ingot::frontend
