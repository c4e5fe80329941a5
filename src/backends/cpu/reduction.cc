// CPU reduction kernels: reduce (reduce_fns.def over a set of dims), argmax/argmin,
// cumsum/cumprod and (log-)softmax.
//
// Every reduction is brought to one layout, [outer, R, inner] with R the reduced
// extent: directly when the reduced dims are adjacent, else after one permuting
// copy that moves them last. Float sums accumulate in double (accurate without
// pairwise tricks; the kernels are memory-bound anyway), integer sums in int64
// with wraparound, as torch does on CPU.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <Eigen/Core>

#include "backends/cpu/cpu_util.h"

namespace ingot::cpu {
namespace {

// y[o*inner + i] = fin(fold(step, init, x[o, :, i]), o*inner + i) for all o, i.
// step(acc, value, out_index) lets two-pass reductions (var) see their output's mean.
template <typename T, typename Acc, typename Out, typename Step, typename Fin>
void reduce_layout(const T* x, Out* y, int64_t outer, int64_t R, int64_t inner, Acc init, Step step, Fin fin) {
  using C = Compute<T>;
  if (inner == 1) {
    parallel_for(outer, R, [&](int64_t o) {
      Acc acc = init;
      const T* row = x + o * R;
      for (int64_t r = 0; r < R; ++r) acc = step(acc, static_cast<C>(row[r]), o);
      y[o] = fin(acc, o);
    });
    return;
  }
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  parallel_for(outer * blocks, R * kBlock, [&](int64_t job) {
    const int64_t o = job / blocks, i0 = (job % blocks) * kBlock;
    const int64_t n = std::min(kBlock, inner - i0);
    Acc acc[kBlock];
    for (int64_t i = 0; i < n; ++i) acc[i] = init;
    const T* base = x + o * R * inner + i0;
    const int64_t oi0 = o * inner + i0;
    for (int64_t r = 0; r < R; ++r) {
      const T* row = base + r * inner;
      for (int64_t i = 0; i < n; ++i) acc[i] = step(acc[i], static_cast<C>(row[i]), oi0 + i);
    }
    for (int64_t i = 0; i < n; ++i) y[oi0 + i] = fin(acc[i], oi0 + i);
  });
}

// Writes a buffer of accumulator values into `out` with a dtype cast.
template <typename Acc> void store_cast(const std::vector<Acc>& v, TensorRef& out) {
  visit_dtype(out.dtype, [&](auto tag) {
    using O = typename decltype(tag)::type;
    O* p = out.as<O>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = cast_value<O>(v[i]);
  });
}

// Brings `in` to the [outer, R, inner] layout for reducing `dims` (sorted, unique).
// Uses `scratch` when a permuting copy is needed and returns the data pointer.
const void* to_reduce_layout(const TensorRef& in, const std::vector<int>& dims, std::vector<char>* scratch,
                             int64_t* outer, int64_t* R, int64_t* inner) {
  const int rank = in.rank();
  *outer = 1;
  *R = 1;
  *inner = 1;
  std::vector<bool> reduced(rank, false);
  for (int d : dims) reduced[d] = true;
  for (int d : dims) *R *= in.shape[d];
  // Ignoring size-1 dims, are the reduced dims one adjacent block?
  int first = -1, last = -1;
  bool block = true;
  for (int d = 0; d < rank; ++d) {
    if (in.shape[d] == 1 || !reduced[d]) continue;
    if (first < 0) first = d;
    else if (last != d - 1) {
      for (int k = last + 1; k < d; ++k) block = block && in.shape[k] == 1;
    }
    last = d;
  }
  if (first < 0 || block) {
    if (first < 0) {  // every reduced dim has size 1
      *outer = in.numel();
      return in.data;
    }
    for (int d = 0; d < first; ++d) *outer *= in.shape[d];
    for (int d = last + 1; d < rank; ++d) *inner *= in.shape[d];
    return in.data;
  }
  // Move the reduced dims last with one strided copy.
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  std::vector<int64_t> shape, src_strides;
  for (int pass = 0; pass < 2; ++pass)
    for (int d = 0; d < rank; ++d)
      if (reduced[d] == (pass == 1)) {
        shape.push_back(in.shape[d]);
        src_strides.push_back(in_strides[d]);
        if (pass == 0) *outer *= in.shape[d];
      }
  const size_t esize = dtype_size(in.dtype);
  scratch->resize(in.numel() * esize);
  visit_elem_size(esize, [&](auto tag) {
    using E = typename decltype(tag)::type;
    const E* s = in.as<const E>();
    E* d = reinterpret_cast<E*>(scratch->data());
    strided_loop<2>(shape, {contiguous_strides(shape), src_strides},
                    [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& inc) {
                      for (int64_t i = 0; i < n; ++i) d[off[0] + i * inc[0]] = s[off[1] + i * inc[1]];
                    });
  });
  return scratch->data();
}

Status run_reduce(const ReduceAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "reduce"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (!reduce_fn_valid(a.fn)) return invalid_argument("[reduce] unknown fn " + std::to_string(a.fn));
  const auto fn = static_cast<ReduceFn>(a.fn);
  const char* name = reduce_fn_name(fn);
  const int rank = in.rank();
  // An empty dim list reduces everything (torch's sum(x, dim=[])).
  std::vector<bool> reduced(rank, a.dims.empty());
  for (int64_t d : a.dims) {
    int nd;
    if (!normalize_dim(d, rank, &nd) || (rank == 0 && d != 0 && d != -1))
      return invalid_argument(std::string("[reduce] ") + name + ": dim " + std::to_string(d) +
                              " out of range for " + shape_str(in.shape));
    if (rank > 0) reduced[nd] = true;
  }
  std::vector<int> dims;
  std::vector<int64_t> expected;
  for (int d = 0; d < rank; ++d) {
    if (reduced[d]) dims.push_back(d);
    if (!reduced[d]) expected.push_back(in.shape[d]);
    else if (a.keepdim) expected.push_back(1);
  }
  if (out.shape != expected)
    return invalid_argument(std::string("[reduce] ") + name + ": output " + shape_str(out.shape) + " should be " +
                            shape_str(expected));
  if (out.numel() == 0) return Status();
  std::vector<char> scratch;
  int64_t outer, R, inner;
  const void* data = to_reduce_layout(in, dims, &scratch, &outer, &R, &inner);
  const int64_t n_out = outer * inner;
  if (R == 0 && (fn == ReduceFn::kMax || fn == ReduceFn::kMin))
    return invalid_argument(std::string("[reduce] ") + name + " of an empty tensor has no identity");

  return visit_dtype(in.dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    const T* x = static_cast<const T*>(data);
    auto plain = [](auto acc, int64_t) { return acc; };
    switch (fn) {
      case ReduceFn::kSum:
      case ReduceFn::kProd: {
        const bool sum = fn == ReduceFn::kSum;
        if constexpr (kIsFloat<T>) {
          std::vector<double> acc(n_out);
          if (sum) reduce_layout(x, acc.data(), outer, R, inner, 0.0, [](double s, C v, int64_t) { return s + v; }, plain);
          else reduce_layout(x, acc.data(), outer, R, inner, 1.0, [](double s, C v, int64_t) { return s * v; }, plain);
          store_cast(acc, out);
        } else {
          std::vector<int64_t> acc(n_out);
          if (sum)
            reduce_layout(x, acc.data(), outer, R, inner, int64_t{0},
                          [](int64_t s, C v, int64_t) { return int64_t(uint64_t(s) + uint64_t(int64_t(v))); }, plain);
          else
            reduce_layout(x, acc.data(), outer, R, inner, int64_t{1},
                          [](int64_t s, C v, int64_t) { return int64_t(uint64_t(s) * uint64_t(int64_t(v))); }, plain);
          store_cast(acc, out);
        }
        return Status();
      }
      case ReduceFn::kMean: {
        std::vector<double> acc(n_out);
        const double count = static_cast<double>(R);
        reduce_layout(x, acc.data(), outer, R, inner, 0.0, [](double s, C v, int64_t) { return s + cast_value<double>(v); },
                      [=](double s, int64_t) { return s / count; });
        store_cast(acc, out);
        return Status();
      }
      case ReduceFn::kVar:
      case ReduceFn::kStd: {
        if constexpr (!kIsFloat<T>) {
          return unsupported(std::string("[reduce] ") + name + " needs a floating-point input");
        } else {
          std::vector<double> mean(n_out), acc(n_out);
          const double count = static_cast<double>(R);
          reduce_layout(x, mean.data(), outer, R, inner, 0.0, [](double s, C v, int64_t) { return s + v; },
                        [=](double s, int64_t) { return s / count; });
          const double divisor = std::max(0.0, count - a.correction);
          const bool take_sqrt = fn == ReduceFn::kStd;
          const double* m = mean.data();
          reduce_layout(
              x, acc.data(), outer, R, inner, 0.0,
              [=](double s, C v, int64_t oi) {
                const double dev = static_cast<double>(v) - m[oi];
                return s + dev * dev;
              },
              [=](double s, int64_t) { return take_sqrt ? std::sqrt(s / divisor) : s / divisor; });
          store_cast(acc, out);
          return Status();
        }
      }
      case ReduceFn::kMax:
      case ReduceFn::kMin: {
        if (out.dtype != in.dtype)
          return invalid_argument(std::string("[reduce] ") + name + " output dtype must equal the input dtype");
        const bool is_max = fn == ReduceFn::kMax;
        C init;
        if constexpr (kIsFloat<T>) init = is_max ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
        else init = is_max ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
        auto fin = [](C acc, int64_t) { return T(acc); };
        T* y = out.as<T>();
        if (is_max)
          reduce_layout(x, y, outer, R, inner, init,
                        [](C acc, C v, int64_t) { return (acc != acc || v < acc) ? acc : v; }, fin);  // NaN sticks
        else
          reduce_layout(x, y, outer, R, inner, init,
                        [](C acc, C v, int64_t) { return (acc != acc || v > acc) ? acc : v; }, fin);
        return Status();
      }
      case ReduceFn::kAny:
      case ReduceFn::kAll: {
        std::vector<uint8_t> acc(n_out);
        if (fn == ReduceFn::kAny)
          reduce_layout(x, acc.data(), outer, R, inner, uint8_t{0},
                        [](uint8_t s, C v, int64_t) { return uint8_t(s | (v != C(0))); }, plain);
        else
          reduce_layout(x, acc.data(), outer, R, inner, uint8_t{1},
                        [](uint8_t s, C v, int64_t) { return uint8_t(s & (v != C(0))); }, plain);
        store_cast(acc, out);
        return Status();
      }
    }
    return internal_error("[reduce] unhandled fn");
  });
}

// Checks that `out` has `in`'s shape with `dim` removed (or kept as 1).
Status check_dim_op(const char* op, const TensorRef& in, const TensorRef& out, int64_t dim_attr, bool keepdim,
                    bool same_shape, int* dim) {
  if (in.rank() == 0) {
    *dim = 0;
    if (out.numel() != 1) return invalid_argument(std::string("[") + op + "] scalar input needs a scalar output");
    return Status();
  }
  if (!normalize_dim(dim_attr, in.rank(), dim))
    return invalid_argument(std::string("[") + op + "] dim " + std::to_string(dim_attr) + " out of range for " +
                            shape_str(in.shape));
  std::vector<int64_t> expected = in.shape;
  if (!same_shape) {
    if (keepdim) expected[*dim] = 1;
    else expected.erase(expected.begin() + *dim);
  }
  if (out.shape != expected)
    return invalid_argument(std::string("[") + op + "] output " + shape_str(out.shape) + " should be " +
                            shape_str(expected));
  return Status();
}

Status run_arg_reduce(const ArgReduceAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "arg_reduce"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (out.dtype != DType::kInt64) return invalid_argument("[arg_reduce] output must be int64");
  if (a.fn != 0 && a.fn != 1) return invalid_argument("[arg_reduce] fn must be 0 (argmax) or 1 (argmin)");
  int dim;
  INGOT_RETURN_IF_ERROR(check_dim_op("arg_reduce", in, out, a.dim, a.keepdim, false, &dim));
  if (out.numel() == 0) return Status();
  int64_t outer = 1, inner = 1, D = 1;
  if (in.rank() > 0) {
    split_at_dim(in.shape, dim, &outer, &inner);
    D = in.shape[dim];
  }
  if (D == 0) return invalid_argument("[arg_reduce] cannot take argmax/argmin over an empty dim");
  const bool is_max = a.fn == 0;
  return visit_dtype(in.dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    const T* x = in.as<const T>();
    int64_t* y = out.as<int64_t>();
    parallel_for(outer * inner, D, [&](int64_t job) {
      const int64_t o = job / inner, i = job % inner;
      const T* p = x + o * D * inner + i;
      C best = static_cast<C>(p[0]);
      int64_t best_i = 0;
      for (int64_t r = 1; r < D && best == best; ++r) {  // stops at the first NaN: NaN wins, like torch
        const C v = static_cast<C>(p[r * inner]);
        if (v != v || (is_max ? v > best : v < best)) {
          best = v;
          best_i = r;
        }
      }
      y[job] = best_i;
    });
    return Status();
  });
}

Status run_cumulative(const CumulativeAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "cumulative"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (a.fn != 0 && a.fn != 1) return invalid_argument("[cumulative] fn must be 0 (cumsum) or 1 (cumprod)");
  int dim;
  INGOT_RETURN_IF_ERROR(check_dim_op("cumulative", in, out, a.dim, false, true, &dim));
  if (out.numel() == 0) return Status();
  int64_t outer = 1, inner = 1, D = 1;
  if (in.rank() > 0) {
    split_at_dim(in.shape, dim, &outer, &inner);
    D = in.shape[dim];
  }
  const bool sum = a.fn == 0;
  return visit_dtype(in.dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<kIsFloat<T>, double, int64_t>;
    const T* x = in.as<const T>();
    std::vector<Acc> acc(in.numel());
    parallel_for(outer * inner, D, [&](int64_t job) {
      const int64_t o = job / inner, i = job % inner;
      const int64_t base = o * D * inner + i;
      Acc run = sum ? Acc(0) : Acc(1);
      for (int64_t r = 0; r < D; ++r) {
        const Acc v = cast_value<Acc>(x[base + r * inner]);
        if constexpr (kIsFloat<T>) run = sum ? run + v : run * v;
        else run = static_cast<int64_t>(sum ? uint64_t(run) + uint64_t(v) : uint64_t(run) * uint64_t(v));
        acc[base + r * inner] = run;
      }
    });
    store_cast(acc, out);
    return Status();
  });
}

template <typename T, typename C>
void softmax_layout(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log) {
  if (inner == 1) {
    parallel_for(outer, D * 8, [&](int64_t o) {
      const T* row = x + o * D;
      T* dst = y + o * D;
      C mx = -std::numeric_limits<C>::infinity();
      for (int64_t r = 0; r < D; ++r) mx = std::max(mx, static_cast<C>(row[r]));
      // A NaN anywhere must poison the row (std::max above may skip it).
      for (int64_t r = 0; r < D; ++r)
        if (static_cast<C>(row[r]) != static_cast<C>(row[r])) mx = static_cast<C>(row[r]);
      if constexpr (std::is_same_v<T, float>) {
        // Eigen's vectorized exp: softmax rows are exp-bound.
        Eigen::Map<const Eigen::ArrayXf> xr(row, D);
        Eigen::Map<Eigen::ArrayXf> yr(dst, D);
        if (log) {
          const double sum = (xr - mx).exp().template cast<double>().sum();
          yr = xr - static_cast<float>(mx + std::log(sum));
        } else {
          yr = (xr - mx).exp();
          yr *= static_cast<float>(1.0 / yr.template cast<double>().sum());
        }
        return;
      }
      double total = 0;
      if (log) {
        for (int64_t r = 0; r < D; ++r) total += std::exp(static_cast<C>(row[r]) - mx);
        const C shift = mx + static_cast<C>(std::log(total));
        for (int64_t r = 0; r < D; ++r) dst[r] = T(static_cast<C>(row[r]) - shift);
      } else {
        // Keep exp values in C (dst may be narrower), then scale.
        std::vector<C> e(D);
        for (int64_t r = 0; r < D; ++r) {
          e[r] = std::exp(static_cast<C>(row[r]) - mx);
          total += e[r];
        }
        const C inv = static_cast<C>(1.0 / total);
        for (int64_t r = 0; r < D; ++r) dst[r] = T(e[r] * inv);
      }
    });
    return;
  }
  parallel_for(outer, D * inner * 8, [&](int64_t o) {
    const T* base = x + o * D * inner;
    T* dst = y + o * D * inner;
    std::vector<C> mx(inner, -std::numeric_limits<C>::infinity());
    std::vector<double> total(inner, 0.0);
    for (int64_t r = 0; r < D; ++r)
      for (int64_t i = 0; i < inner; ++i) {
        const C v = static_cast<C>(base[r * inner + i]);
        if (v != v || v > mx[i]) mx[i] = (mx[i] != mx[i]) ? mx[i] : v;
      }
    for (int64_t r = 0; r < D; ++r)
      for (int64_t i = 0; i < inner; ++i) total[i] += std::exp(static_cast<C>(base[r * inner + i]) - mx[i]);
    for (int64_t r = 0; r < D; ++r)
      for (int64_t i = 0; i < inner; ++i) {
        const C v = static_cast<C>(base[r * inner + i]) - mx[i];
        dst[r * inner + i] =
            log ? T(v - static_cast<C>(std::log(total[i]))) : T(static_cast<C>(std::exp(v) / total[i]));
      }
  });
}

Status run_softmax(const SoftmaxAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "softmax"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (in.dtype != out.dtype || !is_floating(in.dtype))
    return unsupported(std::string("[softmax] needs matching floating-point dtypes, got ") + dtype_name(in.dtype) +
                       " -> " + dtype_name(out.dtype));
  int dim;
  INGOT_RETURN_IF_ERROR(check_dim_op("softmax", in, out, a.dim, false, true, &dim));
  if (out.numel() == 0) return Status();
  int64_t outer = 1, inner = 1, D = 1;
  if (in.rank() > 0) {
    split_at_dim(in.shape, dim, &outer, &inner);
    D = in.shape[dim];
  }
  return visit_dtype(in.dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloat<T>) {
      softmax_layout<T, Compute<T>>(in.as<const T>(), out.as<T>(), outer, D, inner, a.log);
      return Status();
    } else {
      return internal_error("[softmax] unreachable");
    }
  });
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
  return unsupported(std::string("[cpu reduction] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cpu
