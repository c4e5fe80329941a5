// CUDA kernels that read elements at computed positions: gather, index_select
// (embedding lookups), advanced indexing (aten.index.Tensor) and where. The CPU
// backend validates indices before moving anything; a GPU kernel cannot report a
// bad index without a synchronization, so here a negative index wraps like torch
// and one still out of range writes zero: never an out-of-bounds read.
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

// Index i of an int64 or int32 index tensor, wrapped against `size`; -1 when out of range.
__device__ __forceinline__ int64_t load_index(const void* p, bool is64, int64_t i, int64_t size) {
  int64_t v = is64 ? static_cast<const int64_t*>(p)[i] : static_cast<const int32_t*>(p)[i];
  if (v < 0) v += size;
  return (v < 0 || v >= size) ? -1 : v;
}

Status check_index_dtype(const char* op, const DeviceTensor& idx) {
  if (idx.dtype != DType::kInt64 && idx.dtype != DType::kInt32)
    return invalid_argument(std::string("[cuda ") + op + "] indices must be int64 or int32, got " +
                            dtype_name(idx.dtype));
  return {};
}

template <typename E>
__global__ void gather_kernel(const E* __restrict__ src, const void* __restrict__ index, bool idx64,
                              E* __restrict__ dst, int64_t n, StridedView base, int64_t dim_size, int64_t dim_stride) {
  INGOT_GRID_STRIDE(i, n) {
    const int64_t v = load_index(index, idx64, i, dim_size);
    dst[i] = v < 0 ? E{} : src[base.offset(i) + v * dim_stride];
  }
}

Status run_gather(const GatherAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "gather"));
  const DeviceTensor& in = *args.in[0];
  const DeviceTensor& index = *args.in[1];
  DeviceTensor& out = *args.out[0];
  if (in.dtype != out.dtype) return invalid_argument("[cuda gather] input and output dtypes differ");
  INGOT_RETURN_IF_ERROR(check_index_dtype("gather", index));
  const int rank = in.rank();
  int dim;
  if (!normalize_dim(a.dim, rank, &dim) || index.rank() != rank || out.shape != index.shape)
    return invalid_argument("[cuda gather] shapes do not fit: input " + shape_str(in.shape) + ", index " +
                            shape_str(index.shape) + ", output " + shape_str(out.shape));
  for (int d = 0; d < rank; ++d)
    if (d != dim && index.shape[d] > in.shape[d])
      return invalid_argument("[cuda gather] index " + shape_str(index.shape) + " is larger than input " +
                              shape_str(in.shape) + " outside dim " + std::to_string(dim));
  const int64_t n = out.numel();
  if (n == 0) return {};
  std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  int64_t dim_size = 1, dim_stride = 0;
  if (rank > 0) {
    dim_size = in.shape[dim];
    dim_stride = in_strides[dim];
    in_strides[dim] = 0;  // the index supplies the position along dim
  }
  INGOT_ASSIGN_OR_RETURN(StridedView base, make_strided_view(out.shape, in_strides));
  dispatch_elem_size(dtype_size(in.dtype), [&](auto tag) {
    using E = decltype(tag);
    gather_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(static_cast<const E*>(in.data), index.data,
                                                                  index.dtype == DType::kInt64,
                                                                  static_cast<E*>(out.data), n, base, dim_size,
                                                                  dim_stride);
  });
  INGOT_CUDA_CHECK_LAUNCH("gather");
  return {};
}

// out [outer, K, inner] = in [outer, D, inner] rows picked by index.
template <typename E>
__global__ void index_select_kernel(const E* __restrict__ src, const void* __restrict__ index, bool idx64,
                                    E* __restrict__ dst, int64_t n, int64_t K, int64_t D, int64_t inner) {
  INGOT_GRID_STRIDE(i, n) {
    const int64_t x = i % inner, row = i / inner;
    const int64_t j = row % K, o = row / K;
    const int64_t v = load_index(index, idx64, j, D);
    dst[i] = v < 0 ? E{} : src[(o * D + v) * inner + x];
  }
}

Status run_index_select(const IndexSelectAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "index_select"));
  const DeviceTensor& in = *args.in[0];
  const DeviceTensor& index = *args.in[1];
  DeviceTensor& out = *args.out[0];
  if (in.dtype != out.dtype) return invalid_argument("[cuda index_select] input and output dtypes differ");
  INGOT_RETURN_IF_ERROR(check_index_dtype("index_select", index));
  int dim;
  if (!normalize_dim(a.dim, in.rank(), &dim) || in.rank() == 0)
    return invalid_argument("[cuda index_select] bad dim " + std::to_string(a.dim) + " for input " +
                            shape_str(in.shape));
  std::vector<int64_t> expected(in.shape.begin(), in.shape.begin() + dim);
  expected.insert(expected.end(), index.shape.begin(), index.shape.end());
  expected.insert(expected.end(), in.shape.begin() + dim + 1, in.shape.end());
  if (out.shape != expected)
    return invalid_argument("[cuda index_select] output " + shape_str(out.shape) + " should be " +
                            shape_str(expected));
  const int64_t n = out.numel();
  if (n == 0) return {};
  const int64_t inner = product(in.shape, dim + 1, in.shape.size());
  const int64_t K = index.numel(), D = in.shape[dim];
  // Wide rows (embeddings) move as 16-byte vectors when everything is aligned.
  const size_t esize = dtype_size(in.dtype);
  const size_t row_bytes = inner * esize;
  const bool vec16 = row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(in.data) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(out.data) % 16 == 0;
  if (vec16) {
    const int64_t vinner = row_bytes / 16;
    index_select_kernel<uint4><<<blocks_for(n * esize / 16), kThreads, 0, args.stream>>>(
        static_cast<const uint4*>(in.data), index.data, index.dtype == DType::kInt64, static_cast<uint4*>(out.data),
        n * static_cast<int64_t>(esize) / 16, K, D, vinner);
  } else {
    dispatch_elem_size(esize, [&](auto tag) {
      using E = decltype(tag);
      index_select_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(
          static_cast<const E*>(in.data), index.data, index.dtype == DType::kInt64, static_cast<E*>(out.data), n, K,
          D, inner);
    });
  }
  INGOT_CUDA_CHECK_LAUNCH("index_select");
  return {};
}

// aten.index.Tensor; see the CPU kernel for the [P, NB, R, Q] view of the output.
struct IndexParams {
  int k = 0;
  const void* idx[kMaxRank] = {};
  bool idx64[kMaxRank] = {};
  int64_t dim_size[kMaxRank] = {}, dim_stride[kMaxRank] = {};
  int brank = 0;
  int64_t bshape[kMaxRank] = {};
  int64_t bstrides[kMaxRank][kMaxRank] = {};  // per index tensor, over bshape
  int rrank = 0;
  int64_t r_dims[kMaxRank] = {}, r_strides[kMaxRank] = {};
  int64_t nb = 1, R = 1, Q = 1, p_stride = 0;
};

template <typename E>
__global__ void index_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t n, IndexParams p) {
  INGOT_GRID_STRIDE(i, n) {
    const int64_t q = i % p.Q, row = i / p.Q;
    int64_t r = row % p.R;
    int64_t b = (row / p.R) % p.nb;
    const int64_t pi = row / (p.R * p.nb);
    int64_t off = pi * p.p_stride + q;
    for (int d = p.rrank - 1; d >= 0; --d) {
      off += (r % p.r_dims[d]) * p.r_strides[d];
      r /= p.r_dims[d];
    }
    int64_t pos[kMaxRank];
    for (int d = p.brank - 1; d >= 0; --d) {
      pos[d] = b % p.bshape[d];
      b /= p.bshape[d];
    }
    bool valid = true;
    for (int j = 0; j < p.k; ++j) {
      int64_t s = 0;
      for (int d = 0; d < p.brank; ++d) s += pos[d] * p.bstrides[j][d];
      const int64_t v = load_index(p.idx[j], p.idx64[j], s, p.dim_size[j]);
      valid = valid && v >= 0;
      off += v * p.dim_stride[j];
    }
    dst[i] = valid ? src[off] : E{};
  }
}

Status run_index(const IndexAttrs& a, const KernelArgs& args) {
  const size_t k = a.indexed_dims.size();
  if (k == 0) return invalid_argument("[cuda index] needs at least one indexed dim");
  INGOT_RETURN_IF_ERROR(check_arity(args, k + 1, 1, "index"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  if (in.dtype != out.dtype) return invalid_argument("[cuda index] input and output dtypes differ");
  const int rank = in.rank();
  if (k > static_cast<size_t>(kMaxRank) || rank > kMaxRank)
    return unsupported("[cuda index] more than " + std::to_string(kMaxRank) + " dims");
  std::vector<int> dims(k);
  for (size_t j = 0; j < k; ++j) {
    if (!normalize_dim(a.indexed_dims[j], rank, &dims[j]) || rank == 0 || (j > 0 && dims[j] <= dims[j - 1]))
      return invalid_argument("[cuda index] indexed_dims must be ascending dims of the input " + shape_str(in.shape));
    INGOT_RETURN_IF_ERROR(check_index_dtype("index", *args.in[j + 1]));
  }
  std::vector<int64_t> bshape;
  for (size_t j = 0; j < k; ++j) {
    const auto& s = args.in[j + 1]->shape;
    if (s.size() > bshape.size()) bshape.insert(bshape.begin(), s.size() - bshape.size(), 1);
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& b = bshape[bshape.size() - s.size() + i];
      if (b == 1) b = s[i];
      else if (s[i] != 1 && s[i] != b) return invalid_argument("[cuda index] index shapes do not broadcast");
    }
  }
  if (bshape.size() > static_cast<size_t>(kMaxRank)) return unsupported("[cuda index] index rank too high");
  const bool adjacent = dims.back() - dims.front() == static_cast<int>(k) - 1;
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  IndexParams p;
  std::vector<int64_t> expected;
  for (int d = dims.back() + 1; d < rank; ++d) p.Q *= in.shape[d];
  if (adjacent) {
    expected.assign(in.shape.begin(), in.shape.begin() + dims.front());
    expected.insert(expected.end(), bshape.begin(), bshape.end());
    p.p_stride = dims.front() > 0 ? in_strides[dims.front() - 1] : 0;
  } else {
    expected = bshape;
    for (int d = 0; d < dims.back(); ++d) {
      bool indexed = false;
      for (int x : dims) indexed |= x == d;
      if (!indexed) {
        p.r_dims[p.rrank] = in.shape[d];
        p.r_strides[p.rrank] = in_strides[d];
        ++p.rrank;
        p.R *= in.shape[d];
        expected.push_back(in.shape[d]);
      }
    }
  }
  expected.insert(expected.end(), in.shape.begin() + dims.back() + 1, in.shape.end());
  if (out.shape != expected)
    return invalid_argument("[cuda index] output " + shape_str(out.shape) + " should be " + shape_str(expected));
  const int64_t n = out.numel();
  if (n == 0) return {};
  p.k = static_cast<int>(k);
  p.brank = static_cast<int>(bshape.size());
  for (int d = 0; d < p.brank; ++d) {
    p.bshape[d] = bshape[d];
    p.nb *= bshape[d];
  }
  for (size_t j = 0; j < k; ++j) {
    const DeviceTensor& t = *args.in[j + 1];
    p.idx[j] = t.data;
    p.idx64[j] = t.dtype == DType::kInt64;
    p.dim_size[j] = in.shape[dims[j]];
    p.dim_stride[j] = in_strides[dims[j]];
    std::vector<int64_t> bst;
    broadcast_strides(t.shape, bshape, &bst);
    for (int d = 0; d < p.brank; ++d) p.bstrides[j][d] = bst[d];
  }
  dispatch_elem_size(dtype_size(in.dtype), [&](auto tag) {
    using E = decltype(tag);
    index_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(static_cast<const E*>(in.data),
                                                                 static_cast<E*>(out.data), n, p);
  });
  INGOT_CUDA_CHECK_LAUNCH("index");
  return {};
}

template <typename E>
__global__ void where_kernel(const uint8_t* __restrict__ cond, const E* __restrict__ x, const E* __restrict__ y,
                             E* __restrict__ out, int64_t n, BroadcastMap map) {
  INGOT_GRID_STRIDE(i, n) {
    int64_t off[3];
    map.offsets(i, off);
    out[i] = cond[off[0]] ? x[off[1]] : y[off[2]];
  }
}

Status run_where(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 3, 1, "where"));
  const DeviceTensor& cond = *args.in[0];
  const DeviceTensor& x = *args.in[1];
  const DeviceTensor& y = *args.in[2];
  DeviceTensor& out = *args.out[0];
  if (cond.dtype != DType::kBool && cond.dtype != DType::kUInt8)
    return invalid_argument(std::string("[cuda where] condition must be bool, got ") + dtype_name(cond.dtype));
  if (x.dtype != out.dtype || y.dtype != out.dtype)
    return invalid_argument("[cuda where] both branches and the output must share a dtype");
  const int64_t n = out.numel();
  if (n == 0) return {};
  BroadcastMap scratch;
  INGOT_ASSIGN_OR_RETURN(const BroadcastMap* map, cached<BroadcastMap>(args, &scratch, [&]() -> Result<BroadcastMap> {
    return make_broadcast_map(out.shape, {&cond.shape, &x.shape, &y.shape});
  }));
  const BroadcastMap m = *map;
  dispatch_elem_size(dtype_size(out.dtype), [&](auto tag) {
    using E = decltype(tag);
    where_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(static_cast<const uint8_t*>(cond.data),
                                                                 static_cast<const E*>(x.data),
                                                                 static_cast<const E*>(y.data),
                                                                 static_cast<E*>(out.data), n, m);
  });
  INGOT_CUDA_CHECK_LAUNCH("where");
  return {};
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
  return unsupported(std::string("[cuda indexing] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cuda
