// Converters for ordering ops: sort, argsort, topk and histc. The IR has no sort
// kernel, so these are composed from comparisons and reductions: the rank of
// every element along the sorted dim is the number of elements that come before
// it (strictly smaller/larger, or equal with a lower index, which makes the order
// stable, as torch's stable sort and its CPU sort are), and the k-th index of the
// result is the element whose rank is k. This costs O(n^2) memory and work along
// the sorted dim, which is fine for the short dims these ops see in inference
// graphs (expert ids of an MoE router, ViT-MAE's patch noise, top-k over a vocab
// of a few thousand entries), and keeps every backend's kernel set unchanged.
// NaN is not ordered (torch sorts it as the largest value): a NaN input gives
// indices that do not match torch's.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

ValueId reduce_sum_last(ConvertContext& ctx, ValueId x, int64_t dim) {
  std::vector<int64_t> shape = ctx.value(x).shape;
  shape.erase(shape.begin() + dim);
  return ctx.add_node(ReduceAttrs{.fn = static_cast<int64_t>(ReduceFn::kSum), .dims = {dim}, .keepdim = false},
                      {x}, ctx.value(x).dtype, shape);
}

std::vector<int64_t> with_dim(std::vector<int64_t> shape, size_t at, int64_t size) {
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(at), size);
  return shape;
}

// The permutation that moves `dim` last, and its inverse.
std::vector<int64_t> move_last(int64_t rank, int64_t dim) {
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < rank; ++d)
    if (d != dim) perm.push_back(d);
  perm.push_back(dim);
  return perm;
}
std::vector<int64_t> inverse_perm(const std::vector<int64_t>& perm) {
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return inv;
}

// Indices (int64, shape [..., k]) of the first k elements of x's last dim in
// sorted order (descending: largest first), ties in index order.
ValueId sorted_indices(ConvertContext& ctx, ValueId x, bool descending, int64_t k) {
  std::vector<int64_t> shape = ctx.value(x).shape;
  const size_t last = shape.size() - 1;
  const int64_t n = shape[last];
  // x_i along dim -2, x_j along dim -1: before[..., i, j] says x_j comes before x_i.
  ValueId xi = ctx.reshape(x, with_dim(shape, last + 1, 1));
  ValueId xj = ctx.reshape(x, with_dim(shape, last, 1));
  ValueId strictly = ctx.binary(descending ? BinaryFn::kGt : BinaryFn::kLt, xj, xi);
  ValueId tie = ctx.binary(BinaryFn::kEq, xj, xi);
  std::vector<uint8_t> lower(static_cast<size_t>(n * n), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) lower[static_cast<size_t>(i * n + j)] = 1;
  ValueId earlier = ctx.add_constant(DType::kBool, {n, n}, std::move(lower));
  ValueId before = ctx.binary(BinaryFn::kLogicalOr, strictly, ctx.binary(BinaryFn::kLogicalAnd, tie, earlier));
  ValueId rank = reduce_sum_last(ctx, ctx.cast(before, DType::kInt64), static_cast<int64_t>(last + 1));
  // onehot[..., i, r] = (rank_i == r); index_r = sum_i i * onehot[..., i, r].
  std::vector<int64_t> positions(static_cast<size_t>(k));
  std::iota(positions.begin(), positions.end(), 0);
  ValueId wanted = int64_constant(ctx, {k}, positions);
  ValueId onehot = ctx.binary(BinaryFn::kEq, ctx.reshape(rank, with_dim(shape, last + 1, 1)), wanted);
  std::vector<int64_t> iota(static_cast<size_t>(n));
  std::iota(iota.begin(), iota.end(), 0);
  ValueId element = int64_constant(ctx, {n, 1}, iota);
  ValueId weighted = ctx.binary(BinaryFn::kMul, ctx.cast(onehot, DType::kInt64), element);
  return reduce_sum_last(ctx, weighted, static_cast<int64_t>(last));
}

// Shared body of sort / argsort / topk: outputs (values, indices) of the first k
// elements along `dim`; `values_output` < 0 when the op returns indices only.
Status sort_along(ConvertContext& ctx, ValueId x, int64_t dim_arg_value, bool descending, std::optional<int64_t> k_arg,
                  int values_output, int indices_output) {
  int64_t rank = static_cast<int64_t>(ctx.value(x).shape.size());
  if (rank == 0) x = ctx.reshape(x, {1});
  const int64_t r = std::max<int64_t>(rank, 1);
  auto nd = normalize_dim(dim_arg_value, r);
  if (!nd.ok()) return ctx.error("dim " + std::to_string(dim_arg_value) + " is out of range for rank " + std::to_string(rank));
  const int64_t dim = nd.value();
  const int64_t n = ctx.value(x).shape[static_cast<size_t>(dim)];
  const int64_t k = k_arg.value_or(n);
  if (k < 0 || k > n) return ctx.error("k = " + std::to_string(k) + " is out of range for a dim of size " + std::to_string(n));
  if (ctx.value(x).dtype == DType::kBool) x = ctx.cast(x, DType::kInt32);  // comparisons need an ordered type
  std::vector<int64_t> perm = move_last(r, dim);
  ValueId moved = permute(ctx, x, perm);
  ValueId idx = sorted_indices(ctx, moved, descending, k);
  std::vector<int64_t> inv = inverse_perm(perm);
  if (values_output >= 0 && ctx.output_used(static_cast<size_t>(values_output))) {
    const int64_t last = static_cast<int64_t>(ctx.value(moved).shape.size()) - 1;
    ValueId values = ctx.add_node(GatherAttrs{.dim = last}, {moved, idx}, ctx.value(moved).dtype, ctx.value(idx).shape);
    INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, static_cast<size_t>(values_output), permute(ctx, values, inv)));
  }
  if (indices_output >= 0 && ctx.output_used(static_cast<size_t>(indices_output)))
    INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, static_cast<size_t>(indices_output), permute(ctx, idx, inv)));
  return Status::ok_status();
}

Result<bool> bool_arg(ConvertContext& ctx, std::string_view name, bool fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_bool(name);
}
Result<int64_t> int_arg(ConvertContext& ctx, std::string_view name, int64_t fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_int(name);
}

// sort(self, dim=-1, descending=False) and sort.stable(self, *, stable, dim, descending).
Status convert_sort(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(int64_t dim, int_arg(ctx, "dim", -1));
  INGOT_ASSIGN_OR_RETURN(bool descending, bool_arg(ctx, "descending", false));
  return sort_along(ctx, x, dim, descending, std::nullopt, 0, 1);
}

Status convert_argsort(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(int64_t dim, int_arg(ctx, "dim", -1));
  INGOT_ASSIGN_OR_RETURN(bool descending, bool_arg(ctx, "descending", false));
  return sort_along(ctx, x, dim, descending, std::nullopt, -1, 0);
}

// topk(self, k, dim=-1, largest=True, sorted=True): unsorted results are
// returned sorted, which torch allows (the order is then unspecified).
Status convert_topk(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(int64_t k, ctx.get_int("k"));
  INGOT_ASSIGN_OR_RETURN(int64_t dim, int_arg(ctx, "dim", -1));
  INGOT_ASSIGN_OR_RETURN(bool largest, bool_arg(ctx, "largest", true));
  return sort_along(ctx, x, dim, largest, k, 0, 1);
}

// histc(self, bins=100, min=0, max=0): counts per equal-width bin of [min, max];
// values outside are ignored, max itself falls in the last bin. The bin of a value
// is (x - min) * bins / (max - min) truncated, computed in x's dtype as torch's
// CPU kernel does (it then corrects by one bin where rounding crossed an edge;
// values within an ulp of an inner edge may land one bin apart here).
Status convert_histc(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(int64_t bins, int_arg(ctx, "bins", 100));
  double lo = 0, hi = 0;
  if (ctx.has_arg("min")) { INGOT_ASSIGN_OR_RETURN(lo, ctx.get_float("min")); }
  if (ctx.has_arg("max")) { INGOT_ASSIGN_OR_RETURN(hi, ctx.get_float("max")); }
  if (bins <= 0) return ctx.error("bins must be positive, got " + std::to_string(bins));
  if (!(lo < hi))
    return ctx.unsupported_error("histc with min >= max takes its range from the data; pass an explicit min < max");
  const DType dt = ctx.value(x).dtype;
  if (!is_floating(dt)) return ctx.unsupported_error("histc of a non-floating tensor");
  const int64_t n = ctx.value(x).numel();
  ValueId flat = ctx.reshape(x, {n, 1});
  ValueId offset = ctx.binary(BinaryFn::kSub, flat, ctx.scalar_constant(lo, dt));
  ValueId scaled = ctx.binary(BinaryFn::kDiv, ctx.binary(BinaryFn::kMul, offset, ctx.scalar_constant(static_cast<double>(bins), dt)),
                              ctx.scalar_constant(hi - lo, dt));
  ValueId bin = ctx.binary(BinaryFn::kMinimum, ctx.cast(scaled, DType::kInt64),
                           int64_constant(ctx, {}, {bins - 1}));
  ValueId inside = ctx.binary(BinaryFn::kLogicalAnd, ctx.binary(BinaryFn::kGe, flat, ctx.scalar_constant(lo, dt)),
                              ctx.binary(BinaryFn::kLe, flat, ctx.scalar_constant(hi, dt)));
  std::vector<int64_t> edges(static_cast<size_t>(bins));
  std::iota(edges.begin(), edges.end(), 0);
  ValueId hit = ctx.binary(BinaryFn::kLogicalAnd, ctx.binary(BinaryFn::kEq, bin, int64_constant(ctx, {bins}, edges)), inside);
  ValueId counts = reduce_sum_last(ctx, ctx.cast(hit, DType::kInt64), 0);
  return bind_as_meta(ctx, 0, counts);
}

void add_all(ConverterTable& t, std::initializer_list<const char*> names, const ConverterFn& fn) {
  for (const char* name : names) t.add(name, fn);
}

}  // namespace

void register_sorting_converters(ConverterTable& t) {
  add_all(t, {"aten.sort.default", "aten.sort.stable"}, convert_sort);
  add_all(t, {"aten.argsort.default", "aten.argsort.stable"}, convert_argsort);
  add_all(t, {"aten.topk.default"}, convert_topk);
  add_all(t, {"aten.histc.default"}, convert_histc);
}

}  // namespace ingot::frontend
