// Converters for ops that Hugging Face models leave in their exports besides the
// common nn families: Tensor.T (numpy_T), meshgrid (relative-position tables of
// BEiT / Swin-style models), _weight_norm (wav2vec2's convolutional position
// embedding under nn.utils.weight_norm), empty_permuted (from empty_like in
// decomposed graphs) and the random-number ops that eval-mode code still calls
// without using the result (wav2vec2's LayerDrop draws torch.rand([]) before
// checking self.training).
#include <numeric>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

// Tensor.T: all dims reversed.
Status convert_numpy_t(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  std::vector<int64_t> perm(ctx.value(x).shape.size());
  std::iota(perm.rbegin(), perm.rend(), 0);
  return bind_as_meta(ctx, 0, permute(ctx, x, perm));
}

// meshgrid(tensors, indexing="ij"): output k is tensor k broadcast along every
// other dim; "xy" swaps the first two dims of the grid.
Status convert_meshgrid(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> tensors, ctx.get_tensors("tensors"));
  std::string indexing = "ij";
  if (ctx.has_arg("indexing")) { INGOT_ASSIGN_OR_RETURN(indexing, ctx.get_string("indexing")); }
  if (indexing != "ij" && indexing != "xy") return ctx.error("meshgrid indexing must be 'ij' or 'xy', got '" + indexing + "'");
  const size_t count = tensors.size();
  if (count != ctx.num_outputs()) return ctx.error("meshgrid has " + std::to_string(ctx.num_outputs()) + " outputs for " + std::to_string(count) + " tensors");
  std::vector<size_t> position(count);  // the grid dim of each input
  std::iota(position.begin(), position.end(), 0);
  if (indexing == "xy" && count >= 2) std::swap(position[0], position[1]);
  std::vector<int64_t> grid(count);
  for (size_t k = 0; k < count; ++k) {
    const Value& v = ctx.value(tensors[k]);
    if (v.shape.size() > 1) return ctx.error("meshgrid takes 0-d or 1-d tensors");
    grid[position[k]] = v.numel();
  }
  for (size_t k = 0; k < count; ++k) {
    if (!ctx.output_used(k)) continue;
    std::vector<int64_t> shape(count, 1);
    shape[position[k]] = grid[position[k]];
    INGOT_ASSIGN_OR_RETURN(ValueId out, expand_to(ctx, ctx.reshape(tensors[k], shape), grid));
    INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, k, out));
  }
  return Status::ok_status();
}

// _weight_norm(v, g, dim=0) = v * g / ||v||, the norm over every dim but `dim`
// (over all of v when dim is -1).
Status convert_weight_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId v, ctx.get_tensor("v"));
  INGOT_ASSIGN_OR_RETURN(ValueId g, ctx.get_tensor("g"));
  int64_t dim = 0;
  if (ctx.has_arg("dim")) { INGOT_ASSIGN_OR_RETURN(dim, ctx.get_int("dim")); }
  const std::vector<int64_t> shape = ctx.value(v).shape;
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (dim < -1 || dim >= rank) return ctx.error("weight norm dim " + std::to_string(dim) + " is out of range for rank " + std::to_string(rank));
  std::vector<int64_t> dims, kept(shape.size(), 1);
  for (int64_t d = 0; d < rank; ++d) {
    if (d == dim) kept[static_cast<size_t>(d)] = shape[static_cast<size_t>(d)];
    else dims.push_back(d);
  }
  const DType dt = ctx.result_type({v, g});
  v = ctx.cast(v, dt);
  g = ctx.cast(g, dt);
  ValueId squares = ctx.binary(BinaryFn::kMul, v, v);
  ValueId sum = dims.empty() ? squares
                             : ctx.add_node(ReduceAttrs{.fn = static_cast<int64_t>(ReduceFn::kSum), .dims = dims, .keepdim = true},
                                            {squares}, dt, kept);
  ValueId norm = ctx.unary(UnaryFn::kSqrt, sum);
  ValueId out = ctx.binary(BinaryFn::kMul, v, ctx.binary(BinaryFn::kDiv, g, norm));
  return bind_as_meta(ctx, 0, out);
}

// empty_permuted(size, physical_layout, ...): contents unspecified; zeros.
Status convert_empty_permuted(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx, 0));
  return ctx.bind_output(0, fill_constant(ctx, out.dtype, out.shape, int_scalar(0)));
}

// Random tensors: PyTorch's generator cannot be reproduced, so only a draw whose
// result nothing reads converts (eval-mode code paths such as LayerDrop).
Status convert_random(ConvertContext& ctx) {
  for (size_t i = 0; i < ctx.num_outputs(); ++i)
    if (ctx.output_used(i))
      return ctx.unsupported_error(
          "random numbers are used by the model; ingot cannot reproduce PyTorch's generator (pass the random "
          "tensor as a model input instead, e.g. ViTMAE's noise=)");
  return Status::ok_status();
}

}  // namespace

void register_model_extra_converters(ConverterTable& t) {
  t.add("aten.numpy_T.default", convert_numpy_t);
  for (const char* name : {"aten.meshgrid.default", "aten.meshgrid.indexing"}) t.add(name, convert_meshgrid);
  t.add("aten._weight_norm.default", convert_weight_norm);
  t.add("aten.empty_permuted.default", convert_empty_permuted);
  for (const char* name : {"aten.rand.default", "aten.rand.generator", "aten.rand_like.default", "aten.randn.default",
                           "aten.randn.generator", "aten.randn_like.default", "aten.randint.default",
                           "aten.randint.low", "aten.randint_like.default", "aten.randperm.default",
                           "aten.bernoulli.default", "aten.bernoulli.p", "aten.normal.Tensor_float",
                           "aten.uniform.default", "aten.multinomial.default"})
    t.add(name, convert_random);
}

}  // namespace ingot::frontend
