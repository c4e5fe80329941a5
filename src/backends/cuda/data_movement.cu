// CUDA kernels that move elements without computing on them: reshape, permute,
// expand, slice, concat, pad, slice_scatter and triangular. They are dtype-blind
// (elements move by byte width) except for the pad fill value, and reformat, a
// permute that converts between float types on the way. Permute, expand and
// slice share one "strided gather" kernel over a coalesced view; concat is one
// 2-d memcpy per input; a permute that is a batch of 2-d transposes goes through
// shared-memory tiles, or 8 rows a thread for narrow ones. Shapes are checked on
// the host exactly as the CPU kernels check them, so bad input is an error, never
// a stray access.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

// dst[i] = src[view.offset(i)]
template <typename E> __global__ void gather_copy_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t n,
                                                         StridedView view) {
  INGOT_GRID_STRIDE(i, n) dst[i] = src[view.offset(i)];
}
// dst[view.offset(i)] = src[i]
template <typename E> __global__ void scatter_copy_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t n,
                                                          StridedView view) {
  INGOT_GRID_STRIDE(i, n) dst[view.offset(i)] = src[i];
}

// Division by a divisor fixed at launch as a multiply-high, an add and a shift
// (Granlund and Montgomery): exact for every dividend below 2^31. The GPU has no
// integer divider (a 32-bit division is some twenty instructions), and a gather
// divides once per dim per element.
struct FastDiv {
  uint32_t d = 1, mul = 1, shift = 0;
  FastDiv() = default;
  explicit FastDiv(uint32_t divisor) : d(divisor) {
    shift = 0;
    while ((uint64_t{1} << shift) < divisor) ++shift;
    // mul = floor(2^32 (2^shift - d) / d) + 1 (< 2^32)
    mul = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - divisor)) / divisor + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, mul) + n) >> shift; }
};

// The same gather with 32-bit index math, for copies whose element count and
// source offsets fit (below 2^31): 64-bit division per dim is what bounds the
// general kernel.
struct StridedView32 {
  int rank = 0;
  FastDiv dims[kMaxRank];
  uint32_t strides[kMaxRank] = {};

  void set(int d, int64_t dim, int64_t stride) {
    dims[d] = FastDiv(static_cast<uint32_t>(dim));
    strides[d] = static_cast<uint32_t>(stride);
  }
  __device__ __forceinline__ uint32_t offset(uint32_t flat) const {
    uint32_t off = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const uint32_t q = dims[d].div(flat);
      off += (flat - q * dims[d].d) * strides[d];
      flat = q;
    }
    return off;
  }
};
// The 32-bit form of a gather view over n items, when n and every offset, plus
// `extent` elements read from the last one, stay below 2^31.
bool to_view32(const StridedView& v, int64_t n, int64_t extent, StridedView32* out) {
  int64_t max_offset = 0;
  for (int d = 0; d < v.rank; ++d) max_offset += (v.dims[d] - 1) * v.strides[d];
  if (n >= (int64_t{1} << 31) || max_offset + extent > (int64_t{1} << 31)) return false;
  out->rank = v.rank;
  for (int d = 0; d < v.rank; ++d) out->set(d, v.dims[d], v.strides[d]);
  return true;
}

template <typename E> __global__ void gather_copy_kernel32(const E* __restrict__ src, E* __restrict__ dst, uint32_t n,
                                                           StridedView32 view) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    dst[i] = src[view.offset(i)];
}

// An element moved as is (a permute: E is a type of the element's byte width) or
// converted between float types on the way (a reformat).
template <typename O, typename E> __device__ __forceinline__ O convert_element(E v) {
  if constexpr (std::is_same_v<E, O>) return v;
  else return cast_value<O>(to_float(v));
}

// A permute whose innermost output dim is strided in the source while the dim
// before it is contiguous there (NCHW <-> NHWC, [B, D, T] -> [B, T, D]) is a batch
// of 2-d transposes: out[b][r][c] = src[b + r + c * col_stride]. Element-wise, the
// reads of such a gather hop between planes; these kernels stage a tile in shared
// memory, reading along the source's rows and writing along the output's, both
// coalesced. Wide outputs use 32 x 32 tiles; narrow ones (an image's 3 channels)
// tiles of all their columns and kNarrowRows rows, so that a tile's output is one
// contiguous run. No index math divides by a run-time value per element: that
// is what bounded the element-wise gather.
struct TransposeShape {
  uint32_t rows = 0, cols = 0, col_stride = 0;  // of one 2-d slice
  uint32_t row_tiles = 0, col_tiles = 0;
  StridedView32 batch;  // the leading dims: slice index -> source offset
};

constexpr uint32_t kWideTile = 32;
constexpr uint32_t kNarrowRows = 1024;  // a multiple of kThreads

// kThreads threads as 32 x 8; one 32 x 32 tile per block iteration. Each thread
// loads all its elements into registers before storing any, so that its loads are
// in flight together (a load-store loop would wait out memory latency per element).
template <typename E, typename O = E>
__global__ void __launch_bounds__(kThreads) transpose_wide_kernel(const E* __restrict__ src, O* __restrict__ dst,
                                                                  uint32_t tiles, TransposeShape t) {
  constexpr uint32_t kRowsPerPass = kThreads / kWideTile, kPasses = kWideTile / kRowsPerPass;
  __shared__ O tile[kWideTile][kWideTile + 1];
  const uint32_t tx = threadIdx.x % kWideTile, ty = threadIdx.x / kWideTile;
  const uint32_t per_slice = t.row_tiles * t.col_tiles;
  for (uint32_t id = blockIdx.x; id < tiles; id += gridDim.x) {
    const uint32_t slice = id / per_slice, in_slice = id % per_slice;
    const uint32_t r0 = (in_slice % t.row_tiles) * kWideTile, c0 = (in_slice / t.row_tiles) * kWideTile;
    const E* in = src + t.batch.offset(slice);
    E v[kPasses];
#pragma unroll
    for (uint32_t i = 0; i < kPasses; ++i) {
      const uint32_t c = ty + i * kRowsPerPass;
      if (r0 + tx < t.rows && c0 + c < t.cols) v[i] = in[(r0 + tx) + (c0 + c) * t.col_stride];
    }
#pragma unroll
    for (uint32_t i = 0; i < kPasses; ++i) tile[ty + i * kRowsPerPass][tx] = convert_element<O>(v[i]);
    __syncthreads();
    O* out = dst + static_cast<size_t>(slice) * t.rows * t.cols;
#pragma unroll
    for (uint32_t i = 0; i < kPasses; ++i) {
      const uint32_t r = ty + i * kRowsPerPass;
      if (r0 + r < t.rows && c0 + tx < t.cols) out[(r0 + r) * t.cols + c0 + tx] = tile[tx][r];
    }
    __syncthreads();
  }
}

// COLS output columns (known at compile time, so the split of an output index
// into row and column is a multiply); kNarrowRows rows per tile, loaded into
// registers first as in the wide kernel.
template <typename E, uint32_t COLS, typename O = E>
__global__ void __launch_bounds__(kThreads) transpose_narrow_kernel(const E* __restrict__ src, O* __restrict__ dst,
                                                                    uint32_t tiles, TransposeShape t) {
  constexpr uint32_t kPitch = kNarrowRows + 1, kPasses = kNarrowRows / kThreads;
  __shared__ O tile[COLS * kPitch];
  for (uint32_t id = blockIdx.x; id < tiles; id += gridDim.x) {
    const uint32_t slice = id / t.row_tiles, r0 = (id % t.row_tiles) * kNarrowRows;
    const uint32_t rows = t.rows - r0 < kNarrowRows ? t.rows - r0 : kNarrowRows;
    const E* in = src + t.batch.offset(slice) + r0;
    E v[COLS][kPasses];
#pragma unroll
    for (uint32_t c = 0; c < COLS; ++c)
#pragma unroll
      for (uint32_t i = 0; i < kPasses; ++i) {
        const uint32_t r = threadIdx.x + i * kThreads;
        if (r < rows) v[c][i] = in[r + c * t.col_stride];
      }
#pragma unroll
    for (uint32_t c = 0; c < COLS; ++c)
#pragma unroll
      for (uint32_t i = 0; i < kPasses; ++i) tile[c * kPitch + threadIdx.x + i * kThreads] = convert_element<O>(v[c][i]);
    __syncthreads();
    O* out = dst + (static_cast<size_t>(slice) * t.rows + r0) * COLS;
#pragma unroll
    for (uint32_t i = 0; i < COLS * kPasses; ++i) {
      const uint32_t e = threadIdx.x + i * kThreads, r = e / COLS, c = e - r * COLS;
      if (r < rows) out[e] = tile[c * kPitch + r];
    }
    __syncthreads();
  }
}

// The narrow transpose without shared memory, for rows (pixels) a multiple of 8
// and 16-byte aligned planes: each thread reads 8 consecutive rows of every column
// (one or two 16-byte loads a column) and writes their 8 x COLS interleaved
// elements with 16-byte stores. The tiled kernel moves 2-byte elements one load or
// store at a time, which bounds it well below memory bandwidth.
template <typename E, uint32_t COLS, typename O>
__global__ void __launch_bounds__(kThreads) transpose_narrow8_kernel(const E* __restrict__ src, O* __restrict__ dst,
                                                                     uint32_t items, TransposeShape t) {
  static_assert(sizeof(E) >= 2 && sizeof(O) >= 2, "8 elements must fill whole 16-byte chunks");
  const uint32_t per_slice = t.rows / 8;
  for (uint32_t id = blockIdx.x * blockDim.x + threadIdx.x; id < items; id += gridDim.x * blockDim.x) {
    const uint32_t slice = id / per_slice, r0 = (id - slice * per_slice) * 8;
    const E* in = src + t.batch.offset(slice) + r0;
    alignas(16) O v[COLS * 8];
#pragma unroll
    for (uint32_t c = 0; c < COLS; ++c) {
      alignas(16) E e[8];
#pragma unroll
      for (uint32_t q = 0; q < 8 * sizeof(E) / 16; ++q)
        reinterpret_cast<uint4*>(e)[q] = reinterpret_cast<const uint4*>(in + c * t.col_stride)[q];
#pragma unroll
      for (uint32_t r = 0; r < 8; ++r) v[r * COLS + c] = convert_element<O>(e[r]);
    }
    O* out = dst + (static_cast<size_t>(slice) * t.rows + r0) * COLS;
#pragma unroll
    for (uint32_t q = 0; q < 8 * COLS * sizeof(O) / 16; ++q)
      reinterpret_cast<uint4*>(out)[q] = reinterpret_cast<const uint4*>(v)[q];
  }
}

// The transpose form of a coalesced gather view, when it has one and its offsets
// fit 32 bits: the last dim strided, the one before it contiguous. Narrow outputs
// take the narrow kernel only for the column counts it is built for.
bool as_transpose(const StridedView& v, int64_t n, TransposeShape* t) {
  if (v.rank < 2 || v.strides[v.rank - 1] == 1 || v.strides[v.rank - 2] != 1) return false;
  const int64_t rows = v.dims[v.rank - 2], cols = v.dims[v.rank - 1];
  if (rows < 32 || cols < 2 || (cols < 32 && cols > 4)) return false;
  int64_t max_offset = 0;
  for (int d = 0; d < v.rank; ++d) max_offset += (v.dims[d] - 1) * v.strides[d];
  if (n >= (int64_t{1} << 31) || max_offset >= (int64_t{1} << 31)) return false;
  t->rows = static_cast<uint32_t>(rows);
  t->cols = static_cast<uint32_t>(cols);
  t->col_stride = static_cast<uint32_t>(v.strides[v.rank - 1]);
  const uint32_t tile_rows = cols < 32 ? kNarrowRows : kWideTile;
  t->row_tiles = (t->rows + tile_rows - 1) / tile_rows;
  t->col_tiles = cols < 32 ? 1 : (t->cols + kWideTile - 1) / kWideTile;
  t->batch.rank = v.rank - 2;
  for (int d = 0; d < v.rank - 2; ++d) {
    t->batch.set(d, v.dims[d], v.strides[d]);
  }
  return true;
}

// The transpose kernels for E -> O elements (O = E: a plain move).
template <typename E, typename O>
Status launch_transpose_as(const char* op, const void* src, void* dst, int64_t n, const TransposeShape& t,
                           cudaStream_t stream) {
  const int64_t slices = n / (static_cast<int64_t>(t.rows) * t.cols);
  const int64_t tiles = slices * t.row_tiles * t.col_tiles;
  if (tiles >= (int64_t{1} << 31)) return internal_error(std::string(op) + ": too many transpose tiles");
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(tiles, int64_t{1} << 20));
  const auto count = static_cast<uint32_t>(tiles);
  const E* in = static_cast<const E*>(src);
  O* out = static_cast<O*>(dst);
  if constexpr (sizeof(E) >= 2 && sizeof(O) >= 2) {
    // 8 rows a thread where rows, the column stride, every batch stride and both
    // pointers keep 8-row groups 16-byte aligned.
    auto aligned = [](uint64_t v) { return v % 16 == 0; };
    bool vec = t.cols <= 4 && t.rows % 8 == 0 && aligned(reinterpret_cast<uintptr_t>(src)) &&
               aligned(reinterpret_cast<uintptr_t>(dst)) && aligned(uint64_t{t.col_stride} * sizeof(E));
    for (int d = 0; d < t.batch.rank && vec; ++d) vec = aligned(uint64_t{t.batch.strides[d]} * sizeof(E));
    if (vec && n / 8 < (int64_t{1} << 31)) {
      const auto items = static_cast<uint32_t>(n / t.cols / 8);
      const unsigned grid = blocks_for(items);
      switch (t.cols) {
        case 2: transpose_narrow8_kernel<E, 2, O><<<grid, kThreads, 0, stream>>>(in, out, items, t); break;
        case 3: transpose_narrow8_kernel<E, 3, O><<<grid, kThreads, 0, stream>>>(in, out, items, t); break;
        default: transpose_narrow8_kernel<E, 4, O><<<grid, kThreads, 0, stream>>>(in, out, items, t); break;
      }
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
  }
  switch (t.cols) {
    case 2: transpose_narrow_kernel<E, 2, O><<<blocks, kThreads, 0, stream>>>(in, out, count, t); break;
    case 3: transpose_narrow_kernel<E, 3, O><<<blocks, kThreads, 0, stream>>>(in, out, count, t); break;
    case 4: transpose_narrow_kernel<E, 4, O><<<blocks, kThreads, 0, stream>>>(in, out, count, t); break;
    default: transpose_wide_kernel<E, O><<<blocks, kThreads, 0, stream>>>(in, out, count, t); break;
  }
  INGOT_CUDA_CHECK_LAUNCH(op);
  return {};
}

Status launch_transpose(const char* op, const void* src, void* dst, int64_t n, const TransposeShape& t, size_t elem,
                        cudaStream_t stream) {
  Status st;
  dispatch_elem_size(elem, [&](auto tag) {
    using E = decltype(tag);
    st = launch_transpose_as<E, E>(op, src, dst, n, t, stream);
  });
  return st;
}

// Widens the copied element to `width` bytes where the innermost run is contiguous
// in the source and every byte stride and both pointers are multiples of it, so
// a permute that keeps the last dim (attention heads, [B,L,H,E] -> [B,H,L,E])
// moves 16-byte vectors instead of single 2-byte elements.
size_t widest_element(const StridedView& v, size_t elem, const void* src, const void* dst) {
  if (v.rank == 0 || v.strides[v.rank - 1] != 1) return elem;
  for (size_t width : {size_t{16}, size_t{8}, size_t{4}}) {
    if (width <= elem) break;
    bool ok = (v.dims[v.rank - 1] * elem) % width == 0 && reinterpret_cast<uintptr_t>(src) % width == 0 &&
              reinterpret_cast<uintptr_t>(dst) % width == 0;
    for (int d = 0; d + 1 < v.rank && ok; ++d) ok = (v.strides[d] * elem) % width == 0;
    if (ok) return width;
  }
  return elem;
}

// out (contiguous, `shape`) = elements of `src` at `src_strides`.
Status strided_gather(const char* op, const void* src, const std::vector<int64_t>& src_strides, void* dst,
                      const std::vector<int64_t>& shape, DType dtype, cudaStream_t stream) {
  int64_t n = product(shape, 0, shape.size());
  if (n == 0) return {};
  INGOT_ASSIGN_OR_RETURN(StridedView view, make_strided_view(shape, src_strides));
  const size_t elem = dtype_size(dtype);
  if (view.rank == 0 || (view.rank == 1 && view.strides[0] == 1)) {
    return cuda_status(cudaMemcpyAsync(dst, src, n * elem, cudaMemcpyDeviceToDevice, stream), op);
  }
  if (TransposeShape t; as_transpose(view, n, &t)) return launch_transpose(op, src, dst, n, t, elem, stream);
  const size_t width = widest_element(view, elem, src, dst);
  if (width != elem) {
    const int64_t ratio = static_cast<int64_t>(width / elem);
    view.dims[view.rank - 1] /= ratio;
    for (int d = 0; d + 1 < view.rank; ++d) view.strides[d] /= ratio;
    n /= ratio;
  }
  StridedView32 v32;
  const bool fits32 = to_view32(view, n, 1, &v32);
  auto launch = [&](auto tag) {
    using E = decltype(tag);
    if (fits32) {
      gather_copy_kernel32<E><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const E*>(src), static_cast<E*>(dst),
                                                                       static_cast<uint32_t>(n), v32);
    } else {
      gather_copy_kernel<E><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const E*>(src), static_cast<E*>(dst),
                                                                    n, view);
    }
  };
  if (width == 16) {
    launch(uint4{});
  } else {
    dispatch_elem_size(width, launch);
  }
  INGOT_CUDA_CHECK_LAUNCH(op);
  return {};
}

Status check_same_dtype(const DeviceTensor& in, const DeviceTensor& out, const char* op) {
  return backend::check_same_dtype(in, out, std::string("cuda ") + op);
}

Status run_reshape(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "reshape"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "reshape"));
  if (in.numel() != out.numel())
    return invalid_argument("[cuda reshape] cannot view " + shape_str(in.shape) + " as " + shape_str(out.shape));
  if (in.data != out.data && in.numel() > 0)
    INGOT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out.data, in.data, in.numel() * dtype_size(in.dtype),
                                               cudaMemcpyDeviceToDevice, args.stream));
  return {};
}

Status run_permute(const PermuteAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "permute"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "permute"));
  std::vector<int64_t> src_strides;
  INGOT_RETURN_IF_ERROR(backend::permuted_strides(a.perm, in, out, "cuda permute", &src_strides));
  return strided_gather("permute", in.data, src_strides, out.data, out.shape, in.dtype, args.stream);
}

// reformat's gather: V consecutive output elements a thread (the view's inner dim
// counts V-element packs, contiguous in the source), each converted on the way.
template <typename E, typename O, int V, typename View, typename Index>
__global__ void reformat_gather_kernel(const E* __restrict__ src, O* __restrict__ dst, Index packs, View view) {
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < packs;
       i += static_cast<Index>(gridDim.x) * blockDim.x) {
    const Index off = static_cast<Index>(view.offset(i));
    Pack<E, V> in;
    if constexpr (V == 1) in.v[0] = src[off];
    else in = *reinterpret_cast<const Pack<E, V>*>(src + off);
    Pack<O, V> out;
#pragma unroll
    for (int j = 0; j < V; ++j) out.v[j] = convert_element<O>(in.v[j]);
    *reinterpret_cast<Pack<O, V>*>(dst + static_cast<int64_t>(i) * V) = out;
  }
}

template <typename E, typename O>
Status launch_reformat(const void* src, void* dst, int64_t n, StridedView view, cudaStream_t stream) {
  if (TransposeShape t; as_transpose(view, n, &t)) return launch_transpose_as<E, O>("reformat", src, dst, n, t, stream);
  // 8 or 4 elements a thread where the inner dim runs contiguously in the source and
  // every pack starts aligned (ViT's patch rows of 16 pixels).
  auto fits = [&](int v) {
    bool ok = view.rank > 0 && view.strides[view.rank - 1] == 1 && view.dims[view.rank - 1] % v == 0 &&
              reinterpret_cast<uintptr_t>(src) % (v * sizeof(E)) == 0 &&
              reinterpret_cast<uintptr_t>(dst) % (v * sizeof(O)) == 0;
    for (int d = 0; d + 1 < view.rank && ok; ++d) ok = view.strides[d] % v == 0;
    return ok;
  };
  const int vec = fits(8) ? 8 : fits(4) ? 4 : 1;
  if (vec > 1) {
    view.dims[view.rank - 1] /= vec;
    view.strides[view.rank - 1] = vec;
  }
  const int64_t packs = n / vec;
  StridedView32 v32;
  const bool fits32 = n < (int64_t{1} << 31) && to_view32(view, packs, vec, &v32);
  const E* in = static_cast<const E*>(src);
  O* out = static_cast<O*>(dst);
  const unsigned blocks = blocks_for(packs);
  auto launch = [&](auto width) {
    constexpr int kV = decltype(width)::value;
    if (fits32) {
      reformat_gather_kernel<E, O, kV><<<blocks, kThreads, 0, stream>>>(in, out, static_cast<uint32_t>(packs), v32);
    } else {
      reformat_gather_kernel<E, O, kV><<<blocks, kThreads, 0, stream>>>(in, out, packs, view);
    }
  };
  if (vec == 8) launch(std::integral_constant<int, 8>{});
  else if (vec == 4) launch(std::integral_constant<int, 4>{});
  else launch(std::integral_constant<int, 1>{});
  INGOT_CUDA_CHECK_LAUNCH("reformat");
  return {};
}

// A permute whose elements are converted between float types on the way (the
// fold_reformat pass's merge of a cast and a permute): one read of the source
// type, one write of the target type.
Status run_reformat(const ReformatAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "reformat"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  std::vector<int64_t> src_strides;
  INGOT_RETURN_IF_ERROR(backend::permuted_strides(a.perm, in, out, "cuda reformat", &src_strides));
  if (in.dtype == out.dtype)
    return strided_gather("reformat", in.data, src_strides, out.data, out.shape, in.dtype, args.stream);
  if (out.numel() == 0) return {};
  INGOT_ASSIGN_OR_RETURN(StridedView view, make_strided_view(out.shape, src_strides));
  auto with_out = [&](auto in_tag) -> Status {
    using E = decltype(in_tag);
    switch (out.dtype) {
      case DType::kFloat32: return launch_reformat<E, float>(in.data, out.data, out.numel(), view, args.stream);
      case DType::kFloat16: return launch_reformat<E, __half>(in.data, out.data, out.numel(), view, args.stream);
      case DType::kBFloat16:
        return launch_reformat<E, __nv_bfloat16>(in.data, out.data, out.numel(), view, args.stream);
      default: break;
    }
    return unsupported(std::string("[cuda reformat] converts to float32, float16 or bfloat16, not ") +
                       dtype_name(out.dtype));
  };
  switch (in.dtype) {
    case DType::kFloat32: return with_out(float{});
    case DType::kFloat16: return with_out(__half{});
    case DType::kBFloat16: return with_out(__nv_bfloat16{});
    default: break;
  }
  return unsupported(std::string("[cuda reformat] converts from float32, float16 or bfloat16, not ") +
                     dtype_name(in.dtype));
}

Status run_expand(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "expand"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "expand"));
  std::vector<int64_t> src_strides;
  if (!broadcast_strides(in.shape, out.shape, &src_strides))
    return invalid_argument("[cuda expand] cannot broadcast " + shape_str(in.shape) + " to " + shape_str(out.shape));
  return strided_gather("expand", in.data, src_strides, out.data, out.shape, in.dtype, args.stream);
}

Status check_window(const char* op, const DeviceTensor& big, const DeviceTensor& small, int64_t dim_attr,
                    int64_t start, int64_t step, int* dim) {
  if (big.rank() != small.rank() || !normalize_dim(dim_attr, big.rank(), dim) || big.rank() == 0)
    return invalid_argument(std::string("[cuda ") + op + "] bad dim " + std::to_string(dim_attr) + " for shapes " +
                            shape_str(big.shape) + " and " + shape_str(small.shape));
  for (int d = 0; d < big.rank(); ++d)
    if (d != *dim && big.shape[d] != small.shape[d])
      return invalid_argument(std::string("[cuda ") + op + "] shapes " + shape_str(big.shape) + " and " +
                              shape_str(small.shape) + " differ outside dim " + std::to_string(*dim));
  const int64_t len = small.shape[*dim];
  if (step <= 0) return invalid_argument(std::string("[cuda ") + op + "] step must be positive");
  if (len > 0 && (start < 0 || start + (len - 1) * step >= big.shape[*dim]))
    return invalid_argument(std::string("[cuda ") + op + "] window start=" + std::to_string(start) + " step=" +
                            std::to_string(step) + " length=" + std::to_string(len) + " exceeds size " +
                            std::to_string(big.shape[*dim]));
  return {};
}

Status run_slice(const SliceAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "slice"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "slice"));
  int dim;
  INGOT_RETURN_IF_ERROR(check_window("slice", in, out, a.dim, a.start, a.step, &dim));
  if (out.numel() == 0) return {};
  std::vector<int64_t> src_strides = contiguous_strides(in.shape);
  const size_t esize = dtype_size(in.dtype);
  const char* base = static_cast<const char*>(in.data) + a.start * src_strides[dim] * esize;
  src_strides[dim] *= a.step;
  return strided_gather("slice", base, src_strides, out.data, out.shape, in.dtype, args.stream);
}

Status run_slice_scatter(const SliceScatterAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "slice_scatter"));
  const DeviceTensor& in = *args.in[0];
  const DeviceTensor& src = *args.in[1];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "slice_scatter"));
  INGOT_RETURN_IF_ERROR(check_same_dtype(src, out, "slice_scatter"));
  if (in.shape != out.shape) return invalid_argument("[cuda slice_scatter] output shape differs from input shape");
  int dim;
  INGOT_RETURN_IF_ERROR(check_window("slice_scatter", out, src, a.dim, a.start, a.step, &dim));
  const size_t esize = dtype_size(in.dtype);
  if (in.data != out.data && out.numel() > 0)
    INGOT_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(out.data, in.data, out.numel() * esize, cudaMemcpyDeviceToDevice, args.stream));
  const int64_t n = src.numel();
  if (n == 0) return {};
  std::vector<int64_t> dst_strides = contiguous_strides(out.shape);
  char* base = static_cast<char*>(out.data) + a.start * dst_strides[dim] * esize;
  dst_strides[dim] *= a.step;
  INGOT_ASSIGN_OR_RETURN(StridedView view, make_strided_view(src.shape, dst_strides));
  dispatch_elem_size(esize, [&](auto tag) {
    using E = decltype(tag);
    scatter_copy_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(static_cast<const E*>(src.data),
                                                                        reinterpret_cast<E*>(base), n, view);
  });
  INGOT_CUDA_CHECK_LAUNCH("slice_scatter");
  return {};
}

// Concat as one kernel: each output row (the dims before `dim`) is the inputs'
// rows side by side, copied in 16-byte chunks, one y-block row per output row.
// (cudaMemcpy2DAsync per input took 13.7 us for ViT-B/16's class-token concat
// at batch 32, against 3.9 us for a plain copy of the same bytes.) The parameter
// block is __grid_constant__: indexed at run time, a by-value copy would be
// moved to every thread's local memory.
constexpr int kConcatMaxInputs = 8;
struct ConcatParams {
  int n = 0;
  const uint4* src[kConcatMaxInputs] = {};
  uint32_t row_chunks[kConcatMaxInputs] = {};  // 16-byte chunks of one input row
  uint32_t start[kConcatMaxInputs + 1] = {};   // where each input's chunks begin in an output row
};

__global__ void concat_rows_kernel(uint4* __restrict__ out, const __grid_constant__ ConcatParams p,
                                   int64_t outer) {
  const uint32_t out_row = p.start[p.n];
  for (int64_t r = blockIdx.y; r < outer; r += gridDim.y) {
    for (uint32_t c = blockIdx.x * blockDim.x + threadIdx.x; c < out_row; c += gridDim.x * blockDim.x) {
      int k = 0;
      while (k + 1 < p.n && c >= p.start[k + 1]) ++k;
      out[r * out_row + c] = p.src[k][r * p.row_chunks[k] + (c - p.start[k])];
    }
  }
}

Status run_concat(const ConcatAttrs& a, const KernelArgs& args) {
  if (args.in.empty()) return invalid_argument("[cuda concat] needs at least one input");
  INGOT_RETURN_IF_ERROR(check_arity(args, args.in.size(), 1, "concat"));
  DeviceTensor& out = *args.out[0];
  int dim;
  INGOT_RETURN_IF_ERROR(backend::check_concat(args.in, out, a.dim, "cuda concat", &dim));
  const int64_t outer = product(out.shape, 0, dim), inner = product(out.shape, dim + 1, out.shape.size());
  const size_t esize = dtype_size(out.dtype);
  const size_t out_row = out.shape[dim] * inner * esize;
  if (outer == 0 || out_row == 0) return {};
  // One kernel where every row and pointer is 16-byte aligned and the sizes fit.
  bool vectorized = args.in.size() <= kConcatMaxInputs && out_row % 16 == 0 && out_row / 16 <= 0xffffffffu &&
                    reinterpret_cast<uintptr_t>(out.data) % 16 == 0;
  ConcatParams p;
  uint32_t start = 0;
  for (const DeviceTensor* in : args.in) {
    const size_t row = in->shape[dim] * inner * esize;
    if (row == 0) continue;
    vectorized = vectorized && row % 16 == 0 && reinterpret_cast<uintptr_t>(in->data) % 16 == 0;
    if (!vectorized) break;
    p.src[p.n] = static_cast<const uint4*>(in->data);
    p.row_chunks[p.n] = static_cast<uint32_t>(row / 16);
    p.start[p.n] = start;
    start += static_cast<uint32_t>(row / 16);
    ++p.n;
  }
  if (vectorized) {
    p.start[p.n] = start;
    const unsigned x_blocks = static_cast<unsigned>(std::min<int64_t>((start + kThreads - 1) / kThreads, 1024));
    const unsigned y_blocks = static_cast<unsigned>(std::min<int64_t>(outer, 65535));
    concat_rows_kernel<<<dim3(x_blocks, y_blocks), kThreads, 0, args.stream>>>(static_cast<uint4*>(out.data), p,
                                                                               outer);
    INGOT_CUDA_CHECK_LAUNCH("concat");
    return {};
  }
  size_t offset = 0;
  for (const DeviceTensor* in : args.in) {
    const size_t row = in->shape[dim] * inner * esize;
    if (row > 0)
      INGOT_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(static_cast<char*>(out.data) + offset, out_row, in->data, row, row,
                                                   outer, cudaMemcpyDeviceToDevice, args.stream));
    offset += row;
  }
  return {};
}

struct PadParams {
  int rank = 0;
  int mode = 0;
  int64_t out_dims[kMaxRank] = {}, in_dims[kMaxRank] = {}, in_strides[kMaxRank] = {}, before[kMaxRank] = {};
};

__device__ __forceinline__ int64_t pad_source(int64_t out_i, int64_t before, int64_t n, int mode) {
  const int64_t i = out_i - before;
  if (i >= 0 && i < n) return i;
  switch (static_cast<PadMode>(mode)) {
    case PadMode::kConstant: return -1;
    case PadMode::kReplicate: return i < 0 ? 0 : n - 1;
    case PadMode::kCircular: return ((i % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

template <typename E>
__global__ void pad_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t n, PadParams p, E fill) {
  INGOT_GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    bool filled = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t idx = rem % p.out_dims[d];
      rem /= p.out_dims[d];
      const int64_t s = pad_source(idx, p.before[d], p.in_dims[d], p.mode);
      if (s < 0) filled = true;
      off += s * p.in_strides[d];
    }
    dst[i] = filled ? fill : src[off];
  }
}

Status run_pad(const PadAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "pad"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "pad"));
  const int rank = in.rank();
  if (a.mode < 0 || a.mode > 3) return invalid_argument("[cuda pad] unknown mode " + std::to_string(a.mode));
  const auto mode = static_cast<PadMode>(a.mode);
  if (static_cast<int>(a.pads.size()) != 2 * rank || out.rank() != rank)
    return invalid_argument("[cuda pad] expected " + std::to_string(2 * rank) + " pad entries, got " +
                            std::to_string(a.pads.size()));
  if (rank > kMaxRank) return unsupported("[cuda pad] rank above " + std::to_string(kMaxRank));
  PadParams p;
  p.rank = rank;
  p.mode = static_cast<int>(a.mode);
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  for (int d = 0; d < rank; ++d) {
    const int64_t before = a.pads[2 * d], after = a.pads[2 * d + 1];
    if (in.shape[d] + before + after != out.shape[d])
      return invalid_argument("[cuda pad] output dim " + std::to_string(d) + " is " + std::to_string(out.shape[d]) +
                              ", expected " + std::to_string(in.shape[d] + before + after));
    if (mode != PadMode::kConstant && in.shape[d] == 0 && out.shape[d] > 0)
      return invalid_argument("[cuda pad] cannot pad an empty dim in non-constant mode");
    if (mode == PadMode::kReflect && (before >= in.shape[d] || after >= in.shape[d]) && (before > 0 || after > 0))
      return invalid_argument("[cuda pad] reflect padding must be smaller than the input size along dim " +
                              std::to_string(d));
    p.out_dims[d] = out.shape[d];
    p.in_dims[d] = in.shape[d];
    p.in_strides[d] = in_strides[d];
    p.before[d] = before;
  }
  const int64_t n = out.numel();
  if (n == 0) return {};
  // The fill value, encoded in the tensor's dtype on the host.
  uint64_t fill_bits = 0;
  dispatch_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = cast_value<T>(a.value);
    std::memcpy(&fill_bits, &v, sizeof(T));
  });
  dispatch_elem_size(dtype_size(in.dtype), [&](auto tag) {
    using E = decltype(tag);
    E fill;
    std::memcpy(&fill, &fill_bits, sizeof(E));
    pad_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(static_cast<const E*>(in.data),
                                                               static_cast<E*>(out.data), n, p, fill);
  });
  INGOT_CUDA_CHECK_LAUNCH("pad");
  return {};
}

template <typename E>
__global__ void triangular_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t n, int64_t rows_per,
                                  int64_t cols, bool upper, int64_t diagonal) {
  INGOT_GRID_STRIDE(idx, n) {
    const int64_t j = idx % cols, i = (idx / cols) % rows_per;
    const bool keep = upper ? (j - i >= diagonal) : (j - i <= diagonal);
    dst[idx] = keep ? src[idx] : E{};
  }
}

Status run_triangular(const TriangularAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "triangular"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "triangular"));
  if (in.rank() < 2 || in.shape != out.shape)
    return invalid_argument("[cuda triangular] needs rank >= 2 and equal shapes, got " + shape_str(in.shape) + " -> " +
                            shape_str(out.shape));
  const int64_t n = in.numel();
  if (n == 0) return {};
  const int64_t rows_per = in.shape[in.rank() - 2], cols = in.shape[in.rank() - 1];
  dispatch_elem_size(dtype_size(in.dtype), [&](auto tag) {
    using E = decltype(tag);
    triangular_kernel<E><<<blocks_for(n), kThreads, 0, args.stream>>>(
        static_cast<const E*>(in.data), static_cast<E*>(out.data), n, rows_per, cols, a.upper, a.diagonal);
  });
  INGOT_CUDA_CHECK_LAUNCH("triangular");
  return {};
}

}  // namespace

Status data_movement(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kReshape: return run_reshape(args);
    case OpKind::kPermute: return run_permute(std::get<PermuteAttrs>(attrs), args);
    case OpKind::kReformat: return run_reformat(std::get<ReformatAttrs>(attrs), args);
    case OpKind::kExpand: return run_expand(args);
    case OpKind::kSlice: return run_slice(std::get<SliceAttrs>(attrs), args);
    case OpKind::kConcat: return run_concat(std::get<ConcatAttrs>(attrs), args);
    case OpKind::kPad: return run_pad(std::get<PadAttrs>(attrs), args);
    case OpKind::kSliceScatter: return run_slice_scatter(std::get<SliceScatterAttrs>(attrs), args);
    case OpKind::kTriangular: return run_triangular(std::get<TriangularAttrs>(attrs), args);
    default: break;
  }
  return unsupported(std::string("[cuda data_movement] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cuda
