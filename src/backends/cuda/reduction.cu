// CUDA reduction kernels: reduce (reduce_fns.def over any set of dims), argmax /
// argmin, cumsum / cumprod and (log-)softmax.
//
// Every output element is reduced by a "group" of threads: 1 thread when the
// reduced elements are strided (adjacent outputs then read adjacent memory), a
// warp or a whole block when the reduced elements are contiguous (the group reads
// them coalesced and combines with shuffles). Input offsets come from two
// coalesced strided views (kept dims, reduced dims), so any dim set works without
// a permuting copy. Float sums accumulate in double and integer sums in int64
// with wraparound, like the CPU backend.
#include <limits>
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

constexpr int kBlock = 256;

// Writes an accumulator into element i of a tensor of runtime dtype t.
template <typename Acc> __device__ __forceinline__ void store_acc(void* p, DType t, int64_t i, Acc v) {
  switch (t) {
    case DType::kFloat32: static_cast<float*>(p)[i] = cast_value<float>(v); return;
    case DType::kFloat16: static_cast<__half*>(p)[i] = cast_value<__half>(v); return;
    case DType::kBFloat16: static_cast<__nv_bfloat16*>(p)[i] = cast_value<__nv_bfloat16>(v); return;
    case DType::kFloat64: static_cast<double*>(p)[i] = cast_value<double>(v); return;
    case DType::kInt64: static_cast<int64_t*>(p)[i] = cast_value<int64_t>(v); return;
    case DType::kInt32: static_cast<int32_t*>(p)[i] = cast_value<int32_t>(v); return;
    case DType::kInt16: static_cast<int16_t*>(p)[i] = cast_value<int16_t>(v); return;
    case DType::kInt8: static_cast<int8_t*>(p)[i] = cast_value<int8_t>(v); return;
    case DType::kUInt8: static_cast<uint8_t*>(p)[i] = cast_value<uint8_t>(v); return;
    case DType::kBool: static_cast<bool*>(p)[i] = cast_value<bool>(v); return;
  }
}

// Shuffle type of an accumulator (sub-int types travel as int).
template <typename A> struct ShflOf { using type = A; };
template <> struct ShflOf<bool> { using type = int; };
template <> struct ShflOf<int8_t> { using type = int; };
template <> struct ShflOf<uint8_t> { using type = int; };
template <> struct ShflOf<int16_t> { using type = int; };

// Reduction ops: init(), step(acc, value), combine(a, b), fin(acc, count).
template <typename T> using WideAcc = std::conditional_t<kIsFloatLike<T>, double, int64_t>;

template <typename T> struct SumOp {
  using Acc = WideAcc<T>;
  __device__ Acc init() const { return Acc(0); }
  __device__ Acc step(Acc a, T v) const {
    if constexpr (kIsFloatLike<T>) return a + static_cast<double>(widen(v));
    else return static_cast<Acc>(uint64_t(a) + uint64_t(int64_t(v)));
  }
  __device__ Acc combine(Acc a, Acc b) const {
    if constexpr (kIsFloatLike<T>) return a + b;
    else return static_cast<Acc>(uint64_t(a) + uint64_t(b));
  }
  __device__ Acc fin(Acc a, int64_t) const { return a; }
};
template <typename T> struct ProdOp {
  using Acc = WideAcc<T>;
  __device__ Acc init() const { return Acc(1); }
  __device__ Acc step(Acc a, T v) const {
    if constexpr (kIsFloatLike<T>) return a * static_cast<double>(widen(v));
    else return static_cast<Acc>(uint64_t(a) * uint64_t(int64_t(v)));
  }
  __device__ Acc combine(Acc a, Acc b) const {
    if constexpr (kIsFloatLike<T>) return a * b;
    else return static_cast<Acc>(uint64_t(a) * uint64_t(b));
  }
  __device__ Acc fin(Acc a, int64_t) const { return a; }
};
template <typename T> struct MeanOp {
  using Acc = double;
  __device__ Acc init() const { return 0.0; }
  __device__ Acc step(Acc a, T v) const { return a + cast_value<double>(v); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc fin(Acc a, int64_t count) const { return a / static_cast<double>(count); }
};
template <typename T, bool kMax> struct ExtremeOp {  // a NaN sticks, like torch
  using Acc = Compute<T>;
  __device__ Acc init() const {
    if constexpr (kIsFloatLike<T>) return kMax ? -INFINITY : INFINITY;
    else return kMax ? std::numeric_limits<Acc>::lowest() : std::numeric_limits<Acc>::max();
  }
  __device__ Acc step(Acc a, T v) const { return combine(a, widen(v)); }
  __device__ Acc combine(Acc a, Acc b) const { return kMax ? nan_max(a, b) : nan_min(a, b); }
  __device__ Acc fin(Acc a, int64_t) const { return a; }
};
template <typename T, bool kAny> struct LogicalOp {
  using Acc = int;
  __device__ Acc init() const { return kAny ? 0 : 1; }
  __device__ Acc step(Acc a, T v) const {
    const int t = widen(v) != Compute<T>(0);
    return kAny ? (a | t) : (a & t);
  }
  __device__ Acc combine(Acc a, Acc b) const { return kAny ? (a | b) : (a & b); }
  __device__ Acc fin(Acc a, int64_t) const { return a; }
};

// Sum of squared deviations from the mean (second pass of var / std).
struct VarParams {
  double divisor = 1;
  bool take_sqrt = false;
};

template <typename A, typename F>
__device__ __forceinline__ A group_reduce(A v, F combine, int group, typename ShflOf<A>::type* smem) {
  using S = typename ShflOf<A>::type;
  if (group == 1) return v;
  S s = static_cast<S>(v);
  auto c = [&](S a, S b) { return static_cast<S>(combine(static_cast<A>(a), static_cast<A>(b))); };
  // block_all_reduce does the warp step itself.
  s = group > 32 ? block_all_reduce(s, c, smem) : warp_all_reduce(s, c);
  return static_cast<A>(s);
}

// One output per group of `group` threads (1, 32 or the block).
template <typename T, typename Op>
__global__ void __launch_bounds__(kBlock) reduce_kernel(const T* __restrict__ x, void* out, DType out_t, int64_t n_out,
                                                        int64_t R, StridedView kept, StridedView red, int group,
                                                        bool two_pass, VarParams var) {
  using Acc = typename Op::Acc;
  using S = typename ShflOf<Acc>::type;
  __shared__ S smem[32];
  const Op op;
  const int per_block = blockDim.x / group, sub = threadIdx.x / group, lane = threadIdx.x % group;
  for (int64_t base = int64_t(blockIdx.x) * per_block; base < n_out; base += int64_t(gridDim.x) * per_block) {
    const int64_t o = base + sub;
    const bool active = o < n_out;
    const int64_t b = active ? kept.offset(o) : 0;
    Acc acc = op.init();
    if (active)
      for (int64_t r = lane; r < R; r += group) acc = op.step(acc, x[b + red.offset(r)]);
    acc = group_reduce(acc, [&](Acc a, Acc c) { return op.combine(a, c); }, group, smem);
    if constexpr (std::is_same_v<Acc, double>) {
      if (two_pass) {  // var / std: acc holds the sum; now the squared deviations
        const double mean = acc / static_cast<double>(R);
        double sq = 0;
        if (active)
          for (int64_t r = lane; r < R; r += group) {
            const double d = static_cast<double>(widen(x[b + red.offset(r)])) - mean;
            sq += d * d;
          }
        sq = group_reduce(sq, [](double a, double c) { return a + c; }, group, smem);
        acc = var.take_sqrt ? sqrt(sq / var.divisor) : sq / var.divisor;
        if (active && lane == 0) store_acc(out, out_t, o, acc);
        continue;
      }
    }
    if (active && lane == 0) store_acc(out, out_t, o, op.fin(acc, R));
  }
}

Status run_reduce(const ReduceAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "reduce"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  if (!reduce_fn_valid(a.fn)) return invalid_argument("[cuda reduce] unknown fn " + std::to_string(a.fn));
  const auto fn = static_cast<ReduceFn>(a.fn);
  const char* name = reduce_fn_name(fn);
  if (in.dtype == DType::kFloat64 || out.dtype == DType::kFloat64)
    return unsupported(std::string("[cuda reduce] ") + name + ": float64 is not supported on cuda");
  const int rank = in.rank();
  std::vector<bool> reduced(rank, a.dims.empty());
  for (int64_t d : a.dims) {
    int nd;
    if (!normalize_dim(d, rank, &nd) || (rank == 0 && d != 0 && d != -1))
      return invalid_argument(std::string("[cuda reduce] ") + name + ": dim " + std::to_string(d) +
                              " out of range for " + shape_str(in.shape));
    if (rank > 0) reduced[nd] = true;
  }
  const std::vector<int64_t> strides = contiguous_strides(in.shape);
  std::vector<int64_t> expected, kept_shape, kept_strides, red_shape, red_strides;
  for (int d = 0; d < rank; ++d) {
    if (reduced[d]) {
      red_shape.push_back(in.shape[d]);
      red_strides.push_back(strides[d]);
      if (a.keepdim) expected.push_back(1);
    } else {
      expected.push_back(in.shape[d]);
      kept_shape.push_back(in.shape[d]);
      kept_strides.push_back(strides[d]);
    }
  }
  if (out.shape != expected)
    return invalid_argument(std::string("[cuda reduce] ") + name + ": output " + shape_str(out.shape) +
                            " should be " + shape_str(expected));
  const int64_t n_out = out.numel();
  if (n_out == 0) return {};
  const int64_t R = product(red_shape, 0, red_shape.size());
  if (R == 0 && (fn == ReduceFn::kMax || fn == ReduceFn::kMin))
    return invalid_argument(std::string("[cuda reduce] ") + name + " of an empty tensor has no identity");
  if ((fn == ReduceFn::kMax || fn == ReduceFn::kMin) && out.dtype != in.dtype)
    return invalid_argument(std::string("[cuda reduce] ") + name + " output dtype must equal the input dtype");
  const bool is_float = in.dtype == DType::kFloat32 || in.dtype == DType::kFloat16 || in.dtype == DType::kBFloat16;
  if ((fn == ReduceFn::kVar || fn == ReduceFn::kStd) && !is_float)
    return unsupported(std::string("[cuda reduce] ") + name + " needs a floating-point input");
  INGOT_ASSIGN_OR_RETURN(StridedView kept, make_strided_view(kept_shape, kept_strides));
  INGOT_ASSIGN_OR_RETURN(StridedView red, make_strided_view(red_shape, red_strides));

  // Contiguous reduced elements: a warp (or the block, for long rows with few outputs) per output.
  int group = 1;
  if (red.rank > 0 && red.strides[red.rank - 1] == 1) group = (R >= 4096 && n_out < 1024) ? kBlock : 32;
  const int per_block = kBlock / group;
  int64_t blocks = (n_out + per_block - 1) / per_block;
  if (blocks > (1 << 20)) blocks = 1 << 20;
  VarParams var;
  var.divisor = std::max(0.0, static_cast<double>(R) - a.correction);
  var.take_sqrt = fn == ReduceFn::kStd;
  const bool two_pass = fn == ReduceFn::kVar || fn == ReduceFn::kStd;

  auto launch = [&](auto op_tag, const auto* x) {
    using Op = decltype(op_tag);
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(x)>>;
    reduce_kernel<T, Op><<<static_cast<unsigned>(blocks), kBlock, 0, args.stream>>>(
        x, out.data, out.dtype, n_out, R, kept, red, group, two_pass, var);
  };
  dispatch_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, double>) {
      const T* x = static_cast<const T*>(in.data);
      switch (fn) {
        case ReduceFn::kSum: launch(SumOp<T>{}, x); break;
        case ReduceFn::kProd: launch(ProdOp<T>{}, x); break;
        case ReduceFn::kMean: launch(MeanOp<T>{}, x); break;
        case ReduceFn::kMax: launch(ExtremeOp<T, true>{}, x); break;
        case ReduceFn::kMin: launch(ExtremeOp<T, false>{}, x); break;
        case ReduceFn::kAny: launch(LogicalOp<T, true>{}, x); break;
        case ReduceFn::kAll: launch(LogicalOp<T, false>{}, x); break;
        case ReduceFn::kVar:
        case ReduceFn::kStd:
          if constexpr (kIsFloatLike<T>) launch(SumOp<T>{}, x);
          break;
      }
    }
  });
  INGOT_CUDA_CHECK_LAUNCH("reduce");
  return {};
}

Status check_dim_op(const char* op, const DeviceTensor& in, const DeviceTensor& out, int64_t dim_attr, bool keepdim,
                    bool same_shape, int* dim) {
  if (in.rank() == 0) {
    *dim = 0;
    if (out.numel() != 1) return invalid_argument(std::string("[cuda ") + op + "] scalar input needs a scalar output");
    return {};
  }
  if (!normalize_dim(dim_attr, in.rank(), dim))
    return invalid_argument(std::string("[cuda ") + op + "] dim " + std::to_string(dim_attr) + " out of range for " +
                            shape_str(in.shape));
  std::vector<int64_t> expected = in.shape;
  if (!same_shape) {
    if (keepdim) expected[*dim] = 1;
    else expected.erase(expected.begin() + *dim);
  }
  if (out.shape != expected)
    return invalid_argument(std::string("[cuda ") + op + "] output " + shape_str(out.shape) + " should be " +
                            shape_str(expected));
  return {};
}

// Whether candidate (v, i) replaces the current best (bv, bi): the first NaN wins,
// then the extreme value, then the lower index.
template <typename C>
__device__ __forceinline__ bool arg_better(C v, int64_t i, C bv, int64_t bi, bool is_max) {
  if (bi < 0) return i >= 0;
  if (i < 0) return false;
  if (bv != bv) return v != v && i < bi;
  if (v != v) return true;
  if (is_max ? v > bv : v < bv) return true;
  return v == bv && i < bi;
}

template <typename T>
__global__ void __launch_bounds__(kBlock) arg_reduce_kernel(const T* __restrict__ x, int64_t* __restrict__ out,
                                                            int64_t n_out, int64_t D, int64_t inner, int group,
                                                            bool is_max) {
  using C = Compute<T>;
  using S = typename ShflOf<C>::type;
  const int per_block = blockDim.x / group, sub = threadIdx.x / group, lane = threadIdx.x % group;
  for (int64_t base = int64_t(blockIdx.x) * per_block; base < n_out; base += int64_t(gridDim.x) * per_block) {
    const int64_t o = base + sub;
    const bool active = o < n_out;
    C best = C(0);
    int64_t best_i = -1;
    if (active) {
      const T* p = x + (o / inner) * D * inner + (o % inner);
      for (int64_t r = lane; r < D; r += group) {
        const C v = widen(p[r * inner]);
        if (arg_better(v, r, best, best_i, is_max)) {
          best = v;
          best_i = r;
        }
      }
    }
    if (group == 32) {
      for (int off = 16; off > 0; off >>= 1) {
        const C v = static_cast<C>(__shfl_xor_sync(0xffffffffu, static_cast<S>(best), off));
        const int64_t i = __shfl_xor_sync(0xffffffffu, best_i, off);
        if (arg_better(v, i, best, best_i, is_max)) {
          best = v;
          best_i = i;
        }
      }
    }
    if (active && lane == 0) out[o] = best_i;
  }
}

Status run_arg_reduce(const ArgReduceAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "arg_reduce"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  if (out.dtype != DType::kInt64) return invalid_argument("[cuda arg_reduce] output must be int64");
  if (a.fn != 0 && a.fn != 1) return invalid_argument("[cuda arg_reduce] fn must be 0 (argmax) or 1 (argmin)");
  if (in.dtype == DType::kFloat64) return unsupported("[cuda arg_reduce] float64 is not supported on cuda");
  int dim;
  INGOT_RETURN_IF_ERROR(check_dim_op("arg_reduce", in, out, a.dim, a.keepdim, false, &dim));
  const int64_t n_out = out.numel();
  if (n_out == 0) return {};
  int64_t inner = 1, D = 1;
  if (in.rank() > 0) {
    inner = product(in.shape, dim + 1, in.shape.size());
    D = in.shape[dim];
  }
  if (D == 0) return invalid_argument("[cuda arg_reduce] cannot take argmax/argmin over an empty dim");
  const int group = inner == 1 ? 32 : 1;
  int64_t blocks = (n_out + kBlock / group - 1) / (kBlock / group);
  if (blocks > (1 << 20)) blocks = 1 << 20;
  dispatch_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, double>)
      arg_reduce_kernel<T><<<static_cast<unsigned>(blocks), kBlock, 0, args.stream>>>(
          static_cast<const T*>(in.data), static_cast<int64_t*>(out.data), n_out, D, inner, group, a.fn == 0);
  });
  INGOT_CUDA_CHECK_LAUNCH("arg_reduce");
  return {};
}

template <typename T>
__global__ void cumulative_kernel(const T* __restrict__ x, void* out, DType out_t, int64_t lines, int64_t D,
                                  int64_t inner, bool sum) {
  using Acc = WideAcc<T>;
  INGOT_GRID_STRIDE(job, lines) {
    const int64_t base = (job / inner) * D * inner + (job % inner);
    Acc run = sum ? Acc(0) : Acc(1);
    for (int64_t r = 0; r < D; ++r) {
      const int64_t i = base + r * inner;
      if constexpr (kIsFloatLike<T>) {
        const double v = static_cast<double>(widen(x[i]));
        run = sum ? run + v : run * v;
      } else {
        const uint64_t v = static_cast<uint64_t>(static_cast<int64_t>(x[i]));
        run = static_cast<int64_t>(sum ? uint64_t(run) + v : uint64_t(run) * v);
      }
      store_acc(out, out_t, i, run);
    }
  }
}

Status run_cumulative(const CumulativeAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "cumulative"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  if (a.fn != 0 && a.fn != 1) return invalid_argument("[cuda cumulative] fn must be 0 (cumsum) or 1 (cumprod)");
  if (in.dtype == DType::kFloat64 || out.dtype == DType::kFloat64)
    return unsupported("[cuda cumulative] float64 is not supported on cuda");
  int dim;
  INGOT_RETURN_IF_ERROR(check_dim_op("cumulative", in, out, a.dim, false, true, &dim));
  if (out.numel() == 0) return {};
  int64_t inner = 1, D = 1;
  if (in.rank() > 0) {
    inner = product(in.shape, dim + 1, in.shape.size());
    D = in.shape[dim];
  }
  const int64_t lines = in.numel() / D;
  dispatch_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, double>)
      cumulative_kernel<T><<<blocks_for(lines), kThreads, 0, args.stream>>>(
          static_cast<const T*>(in.data), out.data, out.dtype, lines, D, inner, a.fn == 0);
  });
  INGOT_CUDA_CHECK_LAUNCH("cumulative");
  return {};
}

// (Log-)softmax of each line of D elements (stride `inner`), one group per line.
template <typename T>
__global__ void __launch_bounds__(kBlock) softmax_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t lines,
                                                         int64_t D, int64_t inner, int group, bool log) {
  __shared__ float smem[32];
  const int per_block = blockDim.x / group, sub = threadIdx.x / group, lane = threadIdx.x % group;
  for (int64_t base = int64_t(blockIdx.x) * per_block; base < lines; base += int64_t(gridDim.x) * per_block) {
    const int64_t o = base + sub;
    const bool active = o < lines;
    const int64_t start = active ? (o / inner) * D * inner + (o % inner) : 0;
    const T* xp = x + start;
    T* yp = y + start;
    float mx = -INFINITY;
    if (active)
      for (int64_t r = lane; r < D; r += group) mx = nan_max(mx, widen(xp[r * inner]));
    mx = group_reduce(mx, [](float a, float b) { return nan_max(a, b); }, group, smem);
    float total = 0.f;
    if (active)
      for (int64_t r = lane; r < D; r += group) total += expf(widen(xp[r * inner]) - mx);
    total = group_reduce(total, [](float a, float b) { return a + b; }, group, smem);
    if (active) {
      const float shift = mx + logf(total), inv = 1.0f / total;
      for (int64_t r = lane; r < D; r += group) {
        const float v = widen(xp[r * inner]);
        yp[r * inner] = cast_value<T>(log ? v - shift : expf(v - mx) * inv);
      }
    }
  }
}

Status run_softmax(const SoftmaxAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "softmax"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  const bool is_float = in.dtype == DType::kFloat32 || in.dtype == DType::kFloat16 || in.dtype == DType::kBFloat16;
  if (in.dtype != out.dtype || !is_float)
    return unsupported(std::string("[cuda softmax] needs matching fp32/fp16/bf16 dtypes, got ") +
                       dtype_name(in.dtype) + " -> " + dtype_name(out.dtype));
  int dim;
  INGOT_RETURN_IF_ERROR(check_dim_op("softmax", in, out, a.dim, false, true, &dim));
  if (out.numel() == 0) return {};
  int64_t inner = 1, D = 1;
  if (in.rank() > 0) {
    inner = product(in.shape, dim + 1, in.shape.size());
    D = in.shape[dim];
  }
  const int64_t lines = in.numel() / D;
  const int group = inner != 1 ? 1 : (D > 1024 ? kBlock : 32);
  int64_t blocks = (lines + kBlock / group - 1) / (kBlock / group);
  if (blocks > (1 << 20)) blocks = 1 << 20;
  dispatch_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (IsHalfLike<T>::value || std::is_same_v<T, float>)
      softmax_kernel<T><<<static_cast<unsigned>(blocks), kBlock, 0, args.stream>>>(
          static_cast<const T*>(in.data), static_cast<T*>(out.data), lines, D, inner, group, a.log);
  });
  INGOT_CUDA_CHECK_LAUNCH("softmax");
  return {};
}

}  // namespace

Status reduction(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kReduce: return run_reduce(std::get<ReduceAttrs>(attrs), args);
    case OpKind::kArgReduce: return run_arg_reduce(std::get<ArgReduceAttrs>(attrs), args);
    case OpKind::kCumulative: return run_cumulative(std::get<CumulativeAttrs>(attrs), args);
    case OpKind::kSoftmax: return run_softmax(std::get<SoftmaxAttrs>(attrs), args);
    default: break;
  }
  return unsupported(std::string("[cuda reduction] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cuda
