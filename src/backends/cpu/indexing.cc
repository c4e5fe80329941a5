// CPU kernels that read elements at computed positions: gather, index_select
// (also embedding lookups), advanced indexing (aten.index.Tensor) and where.
// Indices are validated (and negative ones wrapped) in a pass of their own before
// any element moves, so an out-of-range index is a kInvalidArgument, never a
// stray read.
#include <cstring>
#include <string>

#include "backends/cpu/cpu_util.h"

namespace ingot::cpu {
namespace {

// Reads index tensor `idx` as int64, wraps negatives against `size` and checks range.
Status load_indices(const char* op, const TensorRef& idx, int64_t size, std::vector<int64_t>* out) {
  const int64_t n = idx.numel();
  out->resize(n);
  auto fill = [&](auto* p) -> Status {
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = static_cast<int64_t>(p[i]);
      if (v < 0) v += size;
      if (v < 0 || v >= size)
        return invalid_argument(std::string("[") + op + "] index " + std::to_string(static_cast<int64_t>(p[i])) +
                                " is out of range for a dimension of size " + std::to_string(size));
      (*out)[i] = v;
    }
    return Status();
  };
  if (idx.dtype == DType::kInt64) return fill(idx.as<const int64_t>());
  if (idx.dtype == DType::kInt32) return fill(idx.as<const int32_t>());
  return invalid_argument(std::string("[") + op + "] indices must be int64 or int32, got " + dtype_name(idx.dtype));
}

Status run_gather(const GatherAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "gather"));
  const TensorRef& in = *args.in[0];
  const TensorRef& index = *args.in[1];
  TensorRef& out = *args.out[0];
  if (in.dtype != out.dtype) return invalid_argument("[gather] input and output dtypes differ");
  const int rank = in.rank();
  int dim;
  if (!normalize_dim(a.dim, rank, &dim) || index.rank() != rank || out.shape != index.shape)
    return invalid_argument("[gather] shapes do not fit: input " + shape_str(in.shape) + ", index " +
                            shape_str(index.shape) + ", output " + shape_str(out.shape) + ", dim " +
                            std::to_string(a.dim));
  for (int d = 0; d < rank; ++d)
    if (d != dim && index.shape[d] > in.shape[d])
      return invalid_argument("[gather] index " + shape_str(index.shape) + " is larger than input " +
                              shape_str(in.shape) + " outside dim " + std::to_string(dim));
  if (out.numel() == 0) return Status();
  const int64_t dim_size = rank == 0 ? 1 : in.shape[dim];
  std::vector<int64_t> idx;
  INGOT_RETURN_IF_ERROR(load_indices("gather", index, dim_size, &idx));
  if (rank == 0) {
    std::memcpy(out.data, in.data, dtype_size(in.dtype));
    return Status();
  }
  std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  const int64_t dim_stride = in_strides[dim];
  in_strides[dim] = 0;  // the index supplies the position along dim
  const std::vector<int64_t> out_strides = contiguous_strides(out.shape);
  visit_elem_size(dtype_size(in.dtype), [&](auto tag) {
    using E = typename decltype(tag)::type;
    const E* s = static_cast<const E*>(in.data);
    E* o = static_cast<E*>(out.data);
    strided_loop<2>(out.shape, {out_strides, in_strides},
                    [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& inc) {
                      for (int64_t i = 0; i < n; ++i) {
                        const int64_t oi = off[0] + i * inc[0];
                        o[oi] = s[off[1] + i * inc[1] + idx[oi] * dim_stride];
                      }
                    });
  });
  return Status();
}

Status run_index_select(const IndexSelectAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "index_select"));
  const TensorRef& in = *args.in[0];
  const TensorRef& index = *args.in[1];
  TensorRef& out = *args.out[0];
  if (in.dtype != out.dtype) return invalid_argument("[index_select] input and output dtypes differ");
  int dim;
  if (!normalize_dim(a.dim, in.rank(), &dim) || in.rank() == 0)
    return invalid_argument("[index_select] bad dim " + std::to_string(a.dim) + " for input " + shape_str(in.shape));
  std::vector<int64_t> expected(in.shape.begin(), in.shape.begin() + dim);
  expected.insert(expected.end(), index.shape.begin(), index.shape.end());
  expected.insert(expected.end(), in.shape.begin() + dim + 1, in.shape.end());
  if (out.shape != expected)
    return invalid_argument("[index_select] output " + shape_str(out.shape) + " should be " + shape_str(expected));
  if (out.numel() == 0) return Status();
  std::vector<int64_t> idx;
  INGOT_RETURN_IF_ERROR(load_indices("index_select", index, in.shape[dim], &idx));
  int64_t outer, inner;
  split_at_dim(in.shape, dim, &outer, &inner);
  const int64_t k = static_cast<int64_t>(idx.size()), d = in.shape[dim];
  const size_t row = inner * dtype_size(in.dtype);
  const char* s = static_cast<const char*>(in.data);
  char* o = static_cast<char*>(out.data);
  parallel_for(outer * k, inner, [&](int64_t r) {
    const int64_t oi = r / k, j = r % k;
    std::memcpy(o + r * row, s + (oi * d + idx[j]) * row, row);
  });
  return Status();
}

// aten.index.Tensor with index tensors for `indexed_dims`. The output is viewed
// as [P, NB, R, Q]: P the non-indexed dims before the first indexed one (only
// when the indexed dims are adjacent; torch then keeps the broadcast index dims
// in place), NB the broadcast index shape, R the other non-indexed dims before
// the last indexed one (which torch moves after the index dims when they are not
// adjacent), Q the contiguous trailing dims.
Status run_index(const IndexAttrs& a, const KernelArgs& args) {
  const size_t k = a.indexed_dims.size();
  if (k == 0) return invalid_argument("[index] needs at least one indexed dim");
  INGOT_RETURN_IF_ERROR(check_arity(args, k + 1, 1, "index"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (in.dtype != out.dtype) return invalid_argument("[index] input and output dtypes differ");
  const int rank = in.rank();
  std::vector<int> dims(k);
  for (size_t j = 0; j < k; ++j) {
    if (!normalize_dim(a.indexed_dims[j], rank, &dims[j]) || rank == 0 || (j > 0 && dims[j] <= dims[j - 1]))
      return invalid_argument("[index] indexed_dims must be ascending dims of the input " + shape_str(in.shape));
  }
  // Broadcast shape of the index tensors.
  std::vector<int64_t> bshape;
  for (size_t j = 0; j < k; ++j) {
    const auto& s = args.in[j + 1]->shape;
    if (s.size() > bshape.size()) bshape.insert(bshape.begin(), s.size() - bshape.size(), 1);
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& b = bshape[bshape.size() - s.size() + i];
      if (b == 1) b = s[i];
      else if (s[i] != 1 && s[i] != b) return invalid_argument("[index] index shapes do not broadcast");
    }
  }
  const bool adjacent = dims.back() - dims.front() == static_cast<int>(k) - 1;
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  std::vector<int64_t> expected, r_dims;
  int64_t P = 1, Q = 1;
  for (int d = dims.back() + 1; d < rank; ++d) Q *= in.shape[d];
  if (adjacent) {
    for (int d = 0; d < dims.front(); ++d) P *= in.shape[d];
    expected.assign(in.shape.begin(), in.shape.begin() + dims.front());
    expected.insert(expected.end(), bshape.begin(), bshape.end());
  } else {
    expected = bshape;
    for (int d = 0; d < dims.back(); ++d) {
      bool indexed = false;
      for (int x : dims) indexed |= x == d;
      if (!indexed) {
        r_dims.push_back(d);
        expected.push_back(in.shape[d]);
      }
    }
  }
  expected.insert(expected.end(), in.shape.begin() + dims.back() + 1, in.shape.end());
  if (out.shape != expected)
    return invalid_argument("[index] output " + shape_str(out.shape) + " should be " + shape_str(expected));
  if (out.numel() == 0) return Status();

  // Offset into the input of every broadcast index position.
  int64_t nb = 1;
  for (int64_t b : bshape) nb *= b;
  std::vector<int64_t> b_off(nb, 0);
  for (size_t j = 0; j < k; ++j) {
    const TensorRef& idx_t = *args.in[j + 1];
    std::vector<int64_t> idx;
    INGOT_RETURN_IF_ERROR(load_indices("index", idx_t, in.shape[dims[j]], &idx));
    std::vector<int64_t> bst;
    broadcast_strides(idx_t.shape, bshape, &bst);
    std::vector<int64_t> pos(bshape.size(), 0);
    int64_t src = 0;
    for (int64_t b = 0; b < nb; ++b) {
      b_off[b] += idx[src] * in_strides[dims[j]];
      for (int d = static_cast<int>(bshape.size()) - 1; d >= 0; --d) {
        src += bst[d];
        if (++pos[d] < bshape[d]) break;
        src -= bst[d] * bshape[d];
        pos[d] = 0;
      }
    }
  }
  // Offsets of the moved non-indexed dims (R).
  std::vector<int64_t> r_off(1, 0);
  for (int d : r_dims) {
    std::vector<int64_t> next;
    next.reserve(r_off.size() * in.shape[d]);
    for (int64_t base : r_off)
      for (int64_t i = 0; i < in.shape[d]; ++i) next.push_back(base + i * in_strides[d]);
    r_off.swap(next);
  }
  const int64_t R = static_cast<int64_t>(r_off.size());
  const int64_t p_stride = adjacent && dims.front() > 0 ? in_strides[dims.front() - 1] : 0;
  const size_t esize = dtype_size(in.dtype);
  const char* s = static_cast<const char*>(in.data);
  char* o = static_cast<char*>(out.data);
  parallel_for(P * nb * R, Q, [&](int64_t row) {
    const int64_t r = row % R, b = (row / R) % nb, p = row / (R * nb);
    std::memcpy(o + row * Q * esize, s + (p * p_stride + b_off[b] + r_off[r]) * esize, Q * esize);
  });
  return Status();
}

Status run_where(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 3, 1, "where"));
  const TensorRef& cond = *args.in[0];
  const TensorRef& x = *args.in[1];
  const TensorRef& y = *args.in[2];
  TensorRef& out = *args.out[0];
  if (cond.dtype != DType::kBool && cond.dtype != DType::kUInt8)
    return invalid_argument(std::string("[where] condition must be bool, got ") + dtype_name(cond.dtype));
  if (x.dtype != out.dtype || y.dtype != out.dtype)
    return invalid_argument("[where] both branches and the output must share a dtype");
  std::array<std::vector<int64_t>, 4> strides;
  strides[0] = contiguous_strides(out.shape);
  if (!broadcast_strides(cond.shape, out.shape, &strides[1]) || !broadcast_strides(x.shape, out.shape, &strides[2]) ||
      !broadcast_strides(y.shape, out.shape, &strides[3]))
    return invalid_argument("[where] shapes " + shape_str(cond.shape) + ", " + shape_str(x.shape) + ", " +
                            shape_str(y.shape) + " do not broadcast to " + shape_str(out.shape));
  visit_elem_size(dtype_size(out.dtype), [&](auto tag) {
    using E = typename decltype(tag)::type;
    const uint8_t* c = cond.as<const uint8_t>();
    const E* xp = x.as<const E>();
    const E* yp = y.as<const E>();
    E* o = out.as<E>();
    strided_loop<4>(out.shape, strides,
                    [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& inc) {
                      for (int64_t i = 0; i < n; ++i)
                        o[off[0] + i * inc[0]] =
                            c[off[1] + i * inc[1]] ? xp[off[2] + i * inc[2]] : yp[off[3] + i * inc[3]];
                    });
  });
  return Status();
}

}  // namespace

Status indexing(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kGather: return run_gather(std::get<GatherAttrs>(attrs), args);
    case OpKind::kIndexSelect: return run_index_select(std::get<IndexSelectAttrs>(attrs), args);
    case OpKind::kIndex: return run_index(std::get<IndexAttrs>(attrs), args);
    case OpKind::kWhere: return run_where(args);
    default: break;
  }
  return unsupported(std::string("[cpu indexing] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cpu
