// Converters for aten ops that move data without computing on it: views and
// reshapes, permutations, broadcasting, concatenation and splitting, slicing,
// padding, repetition, flips and rolls, in both export dialects (training IR and
// core ATen). Ingot tensors are always dense, so every torch "view" becomes a
// value-semantics op; output shapes come from the export's recorded meta, which is
// the authority (it already resolved -1 sizes, squeeze rules and broadcasting).
#include <algorithm>
#include <numeric>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

// Ops whose result is the input's elements in the same order with the meta's shape.
Status convert_reshape_like(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  return bind_as_meta(ctx, 0, x);
}

Status convert_permute(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ctx.get_ints("dims"));
  if (static_cast<int64_t>(dims.size()) != rank)
    return ctx.error("permute needs " + std::to_string(rank) + " dims, got " + std::to_string(dims.size()));
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t& d : dims) {
    auto n = normalize_dim(d, rank);
    if (!n.ok() || seen[static_cast<size_t>(n.value())]) return ctx.error("permute dims are not a permutation");
    d = n.value();
    seen[static_cast<size_t>(d)] = true;
  }
  return bind_as_meta(ctx, 0, permute(ctx, x, dims));
}

Status convert_transpose(ConvertContext& ctx, const char* name0 = "dim0", const char* name1 = "dim1") {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  if (rank < 2) return bind_as_meta(ctx, 0, x);  // transpose of 0-d/1-d is the identity
  INGOT_ASSIGN_OR_RETURN(int64_t d0, dim_arg(ctx, name0, rank));
  INGOT_ASSIGN_OR_RETURN(int64_t d1, dim_arg(ctx, name1, rank));
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[static_cast<size_t>(d0)], perm[static_cast<size_t>(d1)]);
  return bind_as_meta(ctx, 0, permute(ctx, x, perm));
}

// t(): transpose of a <= 2-d tensor; numpy_T / mT style reversals of the last two dims.
Status convert_t(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  if (rank > 2) return ctx.error("t() expects a tensor of at most 2 dims");
  if (rank < 2) return bind_as_meta(ctx, 0, x);
  return bind_as_meta(ctx, 0, permute(ctx, x, {1, 0}));
}

Status convert_movedim(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> src, ctx.get_ints("source"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dst, ctx.get_ints("destination"));
  if (src.size() != dst.size()) return ctx.error("movedim source and destination differ in length");
  std::vector<int64_t> perm(static_cast<size_t>(rank), -1);
  std::vector<bool> used_src(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < src.size(); ++i) {
    auto s = normalize_dim(src[i], rank);
    auto d = normalize_dim(dst[i], rank);
    if (!s.ok() || !d.ok()) return ctx.error("movedim dim out of range");
    perm[static_cast<size_t>(d.value())] = s.value();
    used_src[static_cast<size_t>(s.value())] = true;
  }
  int64_t next_src = 0;
  for (int64_t& p : perm) {
    if (p >= 0) continue;
    while (used_src[static_cast<size_t>(next_src)]) ++next_src;
    p = next_src++;
  }
  return bind_as_meta(ctx, 0, permute(ctx, x, perm));
}

Status convert_expand(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  INGOT_ASSIGN_OR_RETURN(ValueId y, expand_to(ctx, x, ot.shape));
  return bind_as_meta(ctx, 0, y);
}

Status convert_cat(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> inputs, ctx.get_tensors("tensors"));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  int64_t rank = static_cast<int64_t>(ot.shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
  std::vector<ValueId> parts;
  for (ValueId v : inputs) {
    const std::vector<int64_t>& s = ctx.value(v).shape;
    // torch skips legacy empty 1-d inputs and contributes nothing for empty slices.
    if (numel_of(s) == 0) continue;
    parts.push_back(ctx.cast(v, ot.dtype));  // cat promotes its inputs to the result dtype
  }
  if (parts.empty()) return ctx.unsupported_error("cat of only empty tensors");
  if (parts.size() == 1) return bind_as_meta(ctx, 0, parts[0]);
  return bind_as_meta(ctx, 0, concat(ctx, parts, dim));
}

Status convert_stack(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> inputs, ctx.get_tensors("tensors"));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  int64_t rank = static_cast<int64_t>(ot.shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
  std::vector<ValueId> parts;
  for (ValueId v : inputs) {
    std::vector<int64_t> s = ctx.value(v).shape;
    s.insert(s.begin() + dim, 1);
    parts.push_back(ctx.reshape(ctx.cast(v, ot.dtype), s));
  }
  if (parts.empty()) return ctx.error("stack expects a non-empty list of tensors");
  if (parts.size() == 1) return bind_as_meta(ctx, 0, parts[0]);
  return bind_as_meta(ctx, 0, concat(ctx, parts, dim));
}

// split / split_with_sizes / chunk / unbind: the pieces along `dim`, one Slice per used output.
enum class SplitKind { kBySize, kBySizes, kChunk, kUnbind };
Status convert_split(ConvertContext& ctx, SplitKind kind) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const std::vector<int64_t> shape = ctx.value(x).shape;
  int64_t rank = static_cast<int64_t>(shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
  int64_t n = shape[static_cast<size_t>(dim)];
  std::vector<int64_t> sizes;
  auto even_pieces = [&](int64_t piece) {
    if (piece <= 0) return;
    for (int64_t off = 0; off < n; off += piece) sizes.push_back(std::min(piece, n - off));
    if (n == 0) sizes.push_back(0);
  };
  switch (kind) {
    case SplitKind::kBySize: {
      INGOT_ASSIGN_OR_RETURN(int64_t piece, ctx.get_int("split_size"));
      if (piece <= 0) return ctx.error("split_size must be positive");
      even_pieces(piece);
      break;
    }
    case SplitKind::kBySizes: {
      const char* name = ctx.has_arg("split_sizes") ? "split_sizes" : "split_size";
      INGOT_ASSIGN_OR_RETURN(sizes, ctx.get_ints(name));
      int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
      if (total != n) return ctx.error("split sizes sum to " + std::to_string(total) + ", dim has " + std::to_string(n));
      break;
    }
    case SplitKind::kChunk: {
      INGOT_ASSIGN_OR_RETURN(int64_t chunks, ctx.get_int("chunks"));
      if (chunks <= 0) return ctx.error("chunks must be positive");
      even_pieces((n + chunks - 1) / chunks);
      break;
    }
    case SplitKind::kUnbind: sizes.assign(static_cast<size_t>(n), 1); break;
  }
  if (sizes.size() != ctx.num_outputs())
    return ctx.error("split gives " + std::to_string(sizes.size()) + " pieces but the node has " +
                     std::to_string(ctx.num_outputs()) + " outputs");
  int64_t offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (ctx.output_used(i)) {
      ValueId piece = sizes[i] == n ? x : slice(ctx, x, dim, offset, offset + sizes[i]);
      INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, i, piece));
    }
    offset += sizes[i];
  }
  return Status::ok_status();
}

Status convert_slice(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const std::vector<int64_t> shape = ctx.value(x).shape;
  int64_t rank = static_cast<int64_t>(shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
  int64_t size = shape[static_cast<size_t>(dim)];
  int64_t start = 0, end = size, step = 1;
  if (ctx.has_arg("start")) { INGOT_ASSIGN_OR_RETURN(start, ctx.get_int("start")); }
  if (ctx.has_arg("end")) { INGOT_ASSIGN_OR_RETURN(end, ctx.get_int("end")); }
  if (ctx.has_arg("step")) { INGOT_ASSIGN_OR_RETURN(step, ctx.get_int("step")); }
  if (step <= 0) return ctx.error("slice step must be positive, got " + std::to_string(step));
  start = clamp_slice_index(start, size);
  end = clamp_slice_index(end, size);
  if (end < start) end = start;
  if (start == 0 && end == size && step == 1) return bind_as_meta(ctx, 0, x);
  return bind_as_meta(ctx, 0, slice(ctx, x, dim, start, end, step));
}

Status convert_select(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const std::vector<int64_t> shape = ctx.value(x).shape;
  int64_t rank = static_cast<int64_t>(shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
  INGOT_ASSIGN_OR_RETURN(int64_t index, ctx.get_int("index"));
  int64_t size = shape[static_cast<size_t>(dim)];
  if (index < -size || index >= size)
    return ctx.error("select index " + std::to_string(index) + " is out of range for a dim of size " + std::to_string(size));
  if (index < 0) index += size;
  return bind_as_meta(ctx, 0, slice(ctx, x, dim, index, index + 1));
}

Status convert_narrow(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const std::vector<int64_t> shape = ctx.value(x).shape;
  int64_t rank = static_cast<int64_t>(shape.size());
  INGOT_ASSIGN_OR_RETURN(int64_t dim, dim_arg(ctx, "dim", rank));
  INGOT_ASSIGN_OR_RETURN(int64_t start, ctx.get_int("start"));
  INGOT_ASSIGN_OR_RETURN(int64_t length, ctx.get_int("length"));
  int64_t size = shape[static_cast<size_t>(dim)];
  if (start < 0) start += size;
  if (start < 0 || length < 0 || start + length > size) return ctx.error("narrow range is out of bounds");
  return bind_as_meta(ctx, 0, slice(ctx, x, dim, start, start + length));
}

// torch pad lists run from the LAST dim backwards in (before, after) pairs; ingot's from the first.
Result<std::vector<int64_t>> ingot_pads(ConvertContext& ctx, const std::vector<int64_t>& torch_pad, int64_t rank) {
  if (torch_pad.size() % 2 != 0 || static_cast<int64_t>(torch_pad.size()) > 2 * rank)
    return ctx.error("pad list of length " + std::to_string(torch_pad.size()) + " does not fit a rank-" + std::to_string(rank) + " tensor");
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
  for (size_t k = 0; k < torch_pad.size() / 2; ++k) {
    size_t d = static_cast<size_t>(rank) - 1 - k;
    pads[2 * d] = torch_pad[2 * k];
    pads[2 * d + 1] = torch_pad[2 * k + 1];
  }
  return pads;
}

Status emit_pad(ConvertContext& ctx, ValueId x, const std::vector<int64_t>& torch_pad, PadMode mode, double value) {
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> pads, ingot_pads(ctx, torch_pad, rank));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) return bind_as_meta(ctx, 0, x);
  const std::vector<int64_t>& in = ctx.value(x).shape;
  for (size_t d = 0; d < in.size(); ++d) {
    if (mode == PadMode::kReflect && (pads[2 * d] >= in[d] || pads[2 * d + 1] >= in[d]))
      return ctx.error("reflect padding must be smaller than the padded dim");
    if (mode != PadMode::kConstant && (pads[2 * d] < 0 || pads[2 * d + 1] < 0))
      return ctx.unsupported_error("negative padding is only supported in constant mode");
  }
  ValueId y = ctx.add_node(PadAttrs{.pads = pads, .mode = static_cast<int64_t>(mode), .value = value}, {x},
                           ctx.value(x).dtype, ot.shape);
  return bind_as_meta(ctx, 0, y);
}

Status convert_constant_pad(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> pad, ctx.get_ints("pad"));
  double value = 0;
  if (ctx.has_arg("value")) { INGOT_ASSIGN_OR_RETURN(value, ctx.get_float("value")); }
  return emit_pad(ctx, x, pad, PadMode::kConstant, value);
}

Status convert_pad(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> pad, ctx.get_ints("pad"));
  std::string mode = "constant";
  if (ctx.has_arg("mode")) { INGOT_ASSIGN_OR_RETURN(mode, ctx.get_string("mode")); }
  double value = 0;
  if (ctx.has_arg("value")) { INGOT_ASSIGN_OR_RETURN(value, ctx.get_float("value")); }
  PadMode m;
  if (mode == "constant") m = PadMode::kConstant;
  else if (mode == "reflect") m = PadMode::kReflect;
  else if (mode == "replicate") m = PadMode::kReplicate;
  else if (mode == "circular") m = PadMode::kCircular;
  else return ctx.unsupported_error("pad mode '" + mode + "'");
  return emit_pad(ctx, x, pad, m, value);
}

// reflection_padNd / replication_padNd (core ATen forms of F.pad): `padding` in torch order.
ConverterFn pad_with_mode(PadMode mode) {
  return [mode](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> pad, ctx.get_ints("padding"));
    return emit_pad(ctx, x, pad, mode, 0.0);
  };
}

// repeat: tile the whole tensor; per dim, view as [1, s] -> expand to [r, s] -> merge to [r*s].
Result<ValueId> repeat_value(ConvertContext& ctx, ValueId x, std::vector<int64_t> repeats) {
  std::vector<int64_t> in = ctx.value(x).shape;
  if (repeats.size() < in.size())
    return ctx.error("repeat needs at least as many repeats as the tensor has dims");
  std::vector<int64_t> padded(repeats.size() - in.size(), 1);
  padded.insert(padded.end(), in.begin(), in.end());
  if (std::all_of(repeats.begin(), repeats.end(), [](int64_t r) { return r == 1; })) return ctx.reshape(x, padded);
  std::vector<int64_t> interleaved, expanded, merged;
  for (size_t d = 0; d < padded.size(); ++d) {
    if (repeats[d] < 0) return ctx.error("repeats must be non-negative");
    interleaved.insert(interleaved.end(), {1, padded[d]});
    expanded.insert(expanded.end(), {repeats[d], padded[d]});
    merged.push_back(repeats[d] * padded[d]);
  }
  ValueId v = ctx.reshape(x, interleaved);
  INGOT_ASSIGN_OR_RETURN(v, expand_to(ctx, v, expanded));
  return ctx.reshape(v, merged);
}

Status convert_repeat(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> repeats, ctx.get_ints("repeats"));
  INGOT_ASSIGN_OR_RETURN(ValueId y, repeat_value(ctx, x, repeats));
  return bind_as_meta(ctx, 0, y);
}

// repeat_interleave(x, repeats: int, dim): every element repeated in place along
// dim, i.e. [.., s, ..] viewed as [.., s, 1, ..], expanded to [.., s, r, ..] and
// merged to [.., s * r, ..]; without dim the flattened tensor. A tensor of repeats
// (self_Tensor) is taken when it is a constant holding one value for every element
// or a single value; data-dependent counts would give a data-dependent shape.
Status convert_repeat_interleave(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  int64_t repeats = 0;
  if (ctx.target() == "aten.repeat_interleave.self_int") {
    INGOT_ASSIGN_OR_RETURN(repeats, ctx.get_int("repeats"));
  } else {
    INGOT_ASSIGN_OR_RETURN(ValueId r, ctx.get_tensor("repeats"));
    const Value& rv = ctx.value(r);
    if (!rv.is_constant() || is_floating(rv.dtype))
      return ctx.unsupported_error("repeat_interleave with repeats computed by the model (a data-dependent shape)");
    std::vector<int64_t> counts;
    for (int64_t i = 0; i < rv.numel(); ++i) counts.push_back(constant_int(rv, i));
    if (counts.empty() || std::any_of(counts.begin(), counts.end(), [&](int64_t c) { return c != counts[0]; }))
      return ctx.unsupported_error("repeat_interleave with different repeat counts per element");
    repeats = counts[0];
  }
  if (repeats < 0) return ctx.error("repeats must be non-negative, got " + std::to_string(repeats));
  if (!ctx.has_arg("dim")) x = ctx.reshape(x, {ctx.value(x).numel()});
  const std::vector<int64_t> shape = ctx.value(x).shape;
  int64_t dim = 0;
  if (ctx.has_arg("dim")) {
    INGOT_ASSIGN_OR_RETURN(int64_t d, ctx.get_int("dim"));
    INGOT_ASSIGN_OR_RETURN(dim, normalize_dim(d, static_cast<int64_t>(shape.size())));
  }
  std::vector<int64_t> split = shape, expanded = shape, merged = shape;
  split.insert(split.begin() + dim + 1, 1);
  expanded.insert(expanded.begin() + dim + 1, repeats);
  merged[static_cast<size_t>(dim)] *= repeats;
  ValueId v = ctx.reshape(x, split);
  INGOT_ASSIGN_OR_RETURN(v, expand_to(ctx, v, expanded));
  return bind_as_meta(ctx, 0, ctx.reshape(v, merged));
}

Status convert_tile(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ctx.get_ints("dims"));
  size_t rank = ctx.value(x).shape.size();
  if (dims.size() < rank) dims.insert(dims.begin(), rank - dims.size(), 1);
  INGOT_ASSIGN_OR_RETURN(ValueId y, repeat_value(ctx, x, dims));
  return bind_as_meta(ctx, 0, y);
}

// flip: an IndexSelect with reversed indices per flipped dim.
Status convert_flip(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ctx.get_ints("dims"));
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  for (int64_t d : dims) {
    auto nd = normalize_dim(d, rank);
    if (!nd.ok()) return ctx.error("flip dim out of range");
    int64_t n = ctx.value(x).shape[static_cast<size_t>(nd.value())];
    if (n <= 1) continue;
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = n - 1 - i;
    ValueId index = int64_constant(ctx, {n}, idx);
    x = ctx.add_node(IndexSelectAttrs{.dim = nd.value()}, {x, index}, ctx.value(x).dtype, ctx.value(x).shape);
  }
  return bind_as_meta(ctx, 0, x);
}

// roll: per dim, out = cat(x[n-s:], x[:n-s]); without dims, roll the flattened tensor.
Status convert_roll(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> shifts, ctx.get_ints("shifts"));
  std::vector<int64_t> dims;
  if (ctx.has_arg("dims")) { INGOT_ASSIGN_OR_RETURN(dims, ctx.get_ints("dims")); }
  const std::vector<int64_t> shape = ctx.value(x).shape;
  bool flat = dims.empty();
  if (flat) {
    if (shifts.size() != 1) return ctx.error("roll without dims takes one shift");
    x = ctx.reshape(x, {numel_of(shape)});
    dims = {0};
  }
  if (shifts.size() != dims.size()) return ctx.error("roll shifts and dims differ in length");
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  for (size_t k = 0; k < dims.size(); ++k) {
    auto nd = normalize_dim(dims[k], rank);
    if (!nd.ok()) return ctx.error("roll dim out of range");
    int64_t d = nd.value();
    int64_t n = ctx.value(x).shape[static_cast<size_t>(d)];
    if (n == 0) continue;
    int64_t s = ((shifts[k] % n) + n) % n;
    if (s == 0) continue;
    ValueId tail = slice(ctx, x, d, n - s, n);
    ValueId head = slice(ctx, x, d, 0, n - s);
    x = concat(ctx, {tail, head}, d);
  }
  return bind_as_meta(ctx, 0, x);
}

// as_strided over a dense input: an identity view becomes a reshape, a permuted
// dense layout a reshape + permute, anything else an IndexSelect of the flattened
// input with constant element offsets. This assumes torch's input is contiguous,
// which holds where core ATen emits it (convnext's [N,C,1,1] re-stride).
Status convert_as_strided(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.get_ints("size"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> stride, ctx.get_ints("stride"));
  int64_t offset = 0;
  if (ctx.has_arg("storage_offset")) { INGOT_ASSIGN_OR_RETURN(offset, ctx.get_int("storage_offset")); }
  if (size.size() != stride.size()) return ctx.error("as_strided size and stride differ in length");
  int64_t in_numel = numel_of(ctx.value(x).shape);
  int64_t out_numel = numel_of(size);
  // Dims of size 1 never move, so drop them from the layout question.
  std::vector<size_t> live;
  for (size_t i = 0; i < size.size(); ++i)
    if (size[i] != 1) live.push_back(i);
  if (offset == 0 && out_numel == in_numel) {
    // Dense layout: sorted by decreasing stride, the strides must be contiguous.
    std::vector<size_t> order = live;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return stride[a] > stride[b]; });
    std::vector<int64_t> sorted_sizes;
    for (size_t i : order) sorted_sizes.push_back(size[i]);
    std::vector<int64_t> expect = contiguous_strides(sorted_sizes);
    bool dense = true;
    for (size_t k = 0; k < order.size(); ++k) dense = dense && stride[order[k]] == expect[k];
    if (dense) {
      ValueId v = ctx.reshape(x, sorted_sizes.empty() ? std::vector<int64_t>{} : sorted_sizes);
      std::vector<int64_t> perm(order.size());  // output live dim j reads sorted position perm[j]
      for (size_t j = 0; j < live.size(); ++j)
        perm[j] = std::find(order.begin(), order.end(), live[j]) - order.begin();
      v = permute(ctx, v, perm);
      return bind_as_meta(ctx, 0, ctx.reshape(v, size));
    }
  }
  // General gather: offsets of every output element.
  std::vector<int64_t> index(static_cast<size_t>(out_numel));
  std::vector<int64_t> counter(size.size(), 0);
  for (int64_t e = 0; e < out_numel; ++e) {
    int64_t off = offset;
    for (size_t i = 0; i < size.size(); ++i) off += counter[i] * stride[i];
    if (off < 0 || off >= in_numel) return ctx.unsupported_error("as_strided reads outside its input's elements");
    index[static_cast<size_t>(e)] = off;
    for (int64_t i = static_cast<int64_t>(size.size()) - 1; i >= 0; --i) {
      if (++counter[static_cast<size_t>(i)] < size[static_cast<size_t>(i)]) break;
      counter[static_cast<size_t>(i)] = 0;
    }
  }
  ValueId flat = ctx.reshape(x, {in_numel});
  ValueId idx = int64_constant(ctx, size, index);
  ValueId y = ctx.add_node(IndexSelectAttrs{.dim = 0}, {flat, idx}, ctx.value(x).dtype, size);
  return bind_as_meta(ctx, 0, y);
}

void add_all(ConverterTable& t, std::initializer_list<const char*> names, ConverterFn fn) {
  for (const char* n : names) t.add(n, fn);
}

}  // namespace

void register_shape_converters(ConverterTable& t) {
  add_all(t,
          {"aten.view.default", "aten._unsafe_view.default", "aten.view_copy.default", "aten.reshape.default",
           "aten._reshape_alias.default", "aten._reshape_copy.default", "aten.flatten.using_ints",
           "aten.unflatten.int", "aten.view_as.default", "aten.reshape_as.default", "aten.squeeze.default",
           "aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze_copy.default", "aten.squeeze_copy.dim",
           "aten.squeeze_copy.dims", "aten.squeeze_.dim", "aten.squeeze_.default", "aten.unsqueeze.default",
           "aten.unsqueeze_copy.default", "aten.unsqueeze_.default", "aten.ravel.default"},
          convert_reshape_like);
  add_all(t, {"aten.permute.default", "aten.permute_copy.default"}, convert_permute);
  add_all(t, {"aten.transpose.int", "aten.transpose_copy.int", "aten.swapdims.default", "aten.transpose_.default"},
          [](ConvertContext& ctx) { return convert_transpose(ctx); });
  add_all(t, {"aten.swapaxes.default"}, [](ConvertContext& ctx) { return convert_transpose(ctx, "axis0", "axis1"); });
  add_all(t, {"aten.t.default", "aten.t_copy.default"}, convert_t);
  add_all(t, {"aten.movedim.int", "aten.movedim.intlist", "aten.moveaxis.int", "aten.moveaxis.intlist"},
          convert_movedim);
  add_all(t, {"aten.expand.default", "aten.expand_copy.default", "aten.expand_as.default", "aten.broadcast_to.default"},
          convert_expand);
  add_all(t, {"aten.cat.default", "aten.concat.default", "aten.concatenate.default"}, convert_cat);
  add_all(t, {"aten.stack.default"}, convert_stack);
  add_all(t, {"aten.split.Tensor", "aten.split_copy.Tensor"}, [](ConvertContext& c) { return convert_split(c, SplitKind::kBySize); });
  add_all(t, {"aten.split_with_sizes.default", "aten.split_with_sizes_copy.default", "aten.split.sizes"},
          [](ConvertContext& c) { return convert_split(c, SplitKind::kBySizes); });
  add_all(t, {"aten.chunk.default"}, [](ConvertContext& c) { return convert_split(c, SplitKind::kChunk); });
  add_all(t, {"aten.unbind.int", "aten.unbind_copy.int"}, [](ConvertContext& c) { return convert_split(c, SplitKind::kUnbind); });
  add_all(t, {"aten.slice.Tensor", "aten.slice_copy.Tensor"}, convert_slice);
  add_all(t, {"aten.select.int", "aten.select_copy.int"}, convert_select);
  add_all(t, {"aten.narrow.default", "aten.narrow_copy.default"}, convert_narrow);
  add_all(t, {"aten.constant_pad_nd.default"}, convert_constant_pad);
  add_all(t, {"aten.pad.default"}, convert_pad);
  add_all(t, {"aten.reflection_pad1d.default", "aten.reflection_pad2d.default", "aten.reflection_pad3d.default"},
          pad_with_mode(PadMode::kReflect));
  add_all(t, {"aten.replication_pad1d.default", "aten.replication_pad2d.default", "aten.replication_pad3d.default"},
          pad_with_mode(PadMode::kReplicate));
  add_all(t, {"aten._pad_circular.default"}, [](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> pad, ctx.get_ints("pad"));
    return emit_pad(ctx, x, pad, PadMode::kCircular, 0.0);
  });
  add_all(t, {"aten.repeat.default"}, convert_repeat);
  add_all(t, {"aten.repeat_interleave.self_int", "aten.repeat_interleave.self_Tensor"}, convert_repeat_interleave);
  add_all(t, {"aten.tile.default"}, convert_tile);
  add_all(t, {"aten.flip.default"}, convert_flip);
  add_all(t, {"aten.roll.default"}, convert_roll);
  add_all(t, {"aten.as_strided.default", "aten.as_strided_copy.default"}, convert_as_strided);
}

}  // namespace ingot::frontend
