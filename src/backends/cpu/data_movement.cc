// CPU kernels that move elements without computing on them: reshape, permute,
// expand, slice, concat, pad, slice_scatter and triangular (tril/triu). They are
// dtype-blind (they copy elements by byte width) except where a fill value must
// be written, and reformat (a permute that also converts between float types).
// Every shape is checked first, so bad input is an error, never an
// out-of-bounds access.
#include <cstring>
#include <string>

#include "backends/cpu/cpu_util.h"

namespace ingot::cpu {
namespace {

// dst[dst_strides . idx] = src[src_strides . idx] for every idx of `shape`.
void strided_copy(size_t esize, const void* src, const std::vector<int64_t>& src_strides, void* dst,
                  const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& shape) {
  visit_elem_size(esize, [&](auto tag) {
    using E = typename decltype(tag)::type;
    const E* s = static_cast<const E*>(src);
    E* d = static_cast<E*>(dst);
    strided_loop<2>(shape, {dst_strides, src_strides},
                    [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& inc) {
                      E* dp = d + off[0];
                      const E* sp = s + off[1];
                      if (inc[0] == 1 && inc[1] == 1) {
                        std::memcpy(dp, sp, n * sizeof(E));
                      } else if (inc[1] == 0) {
                        const E v = *sp;
                        for (int64_t i = 0; i < n; ++i) dp[i * inc[0]] = v;
                      } else {
                        for (int64_t i = 0; i < n; ++i) dp[i * inc[0]] = sp[i * inc[1]];
                      }
                    });
  });
}

Status check_same_dtype(const TensorRef& in, const TensorRef& out, const char* op) {
  return backend::check_same_dtype(in, out, std::string(op));
}

Status run_reshape(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "reshape"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "reshape"));
  if (in.numel() != out.numel())
    return invalid_argument("[reshape] cannot view " + shape_str(in.shape) + " as " + shape_str(out.shape));
  if (in.data != out.data && in.numel() > 0) std::memmove(out.data, in.data, in.numel() * dtype_size(in.dtype));
  return Status();
}

Status run_permute(const PermuteAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "permute"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "permute"));
  std::vector<int64_t> src_strides;
  INGOT_RETURN_IF_ERROR(backend::permuted_strides(a.perm, in, out, "permute", &src_strides));
  strided_copy(dtype_size(in.dtype), in.data, src_strides, out.data, contiguous_strides(out.shape), out.shape);
  return Status();
}

// A permute, then a float conversion of the permuted elements (exactly what the
// cast and permute it replaces computed: conversion commutes with moving elements).
Status run_reformat(const ReformatAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "reformat"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (!is_floating(in.dtype) || !is_floating(out.dtype))
    return unsupported(std::string("[reformat] converts between float types, not ") + dtype_name(in.dtype) + " to " +
                       dtype_name(out.dtype));
  std::vector<int64_t> src_strides;
  INGOT_RETURN_IF_ERROR(backend::permuted_strides(a.perm, in, out, "reformat", &src_strides));
  std::vector<uint8_t> moved(static_cast<size_t>(out.numel()) * dtype_size(in.dtype));
  strided_copy(dtype_size(in.dtype), in.data, src_strides, moved.data(), contiguous_strides(out.shape), out.shape);
  const TensorRef permuted{moved.data(), in.dtype, out.shape};
  convert_elements(permuted, out);
  return Status();
}

Status run_expand(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "expand"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "expand"));
  std::vector<int64_t> src_strides;
  if (!broadcast_strides(in.shape, out.shape, &src_strides))
    return invalid_argument("[expand] cannot broadcast " + shape_str(in.shape) + " to " + shape_str(out.shape));
  strided_copy(dtype_size(in.dtype), in.data, src_strides, out.data, contiguous_strides(out.shape), out.shape);
  return Status();
}

// Validates a strided window [start, start + (len-1)*step] of `full` along dim
// of `big`, where `small` is the window's shape. Shared by slice and slice_scatter.
Status check_window(const char* op, const TensorRef& big, const TensorRef& small, int64_t dim_attr, int64_t start,
                    int64_t step, int* dim) {
  if (big.rank() != small.rank() || !normalize_dim(dim_attr, big.rank(), dim) || big.rank() == 0)
    return invalid_argument(std::string("[") + op + "] bad dim " + std::to_string(dim_attr) + " for shapes " +
                            shape_str(big.shape) + " and " + shape_str(small.shape));
  for (int d = 0; d < big.rank(); ++d)
    if (d != *dim && big.shape[d] != small.shape[d])
      return invalid_argument(std::string("[") + op + "] shapes " + shape_str(big.shape) + " and " +
                              shape_str(small.shape) + " differ outside dim " + std::to_string(*dim));
  const int64_t len = small.shape[*dim];
  if (step <= 0) return invalid_argument(std::string("[") + op + "] step must be positive");
  if (len > 0 && (start < 0 || start + (len - 1) * step >= big.shape[*dim]))
    return invalid_argument(std::string("[") + op + "] window start=" + std::to_string(start) + " step=" +
                            std::to_string(step) + " length=" + std::to_string(len) + " exceeds size " +
                            std::to_string(big.shape[*dim]));
  return Status();
}

Status run_slice(const SliceAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "slice"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "slice"));
  int dim;
  INGOT_RETURN_IF_ERROR(check_window("slice", in, out, a.dim, a.start, a.step, &dim));
  if (out.numel() == 0) return Status();
  std::vector<int64_t> src_strides = contiguous_strides(in.shape);
  const size_t esize = dtype_size(in.dtype);
  const char* base = static_cast<const char*>(in.data) + a.start * src_strides[dim] * esize;
  src_strides[dim] *= a.step;
  strided_copy(esize, base, src_strides, out.data, contiguous_strides(out.shape), out.shape);
  return Status();
}

Status run_slice_scatter(const SliceScatterAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "slice_scatter"));
  const TensorRef& in = *args.in[0];
  const TensorRef& src = *args.in[1];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "slice_scatter"));
  INGOT_RETURN_IF_ERROR(check_same_dtype(src, out, "slice_scatter"));
  if (in.shape != out.shape) return invalid_argument("[slice_scatter] output shape differs from input shape");
  int dim;
  INGOT_RETURN_IF_ERROR(check_window("slice_scatter", out, src, a.dim, a.start, a.step, &dim));
  const size_t esize = dtype_size(in.dtype);
  if (in.data != out.data && out.numel() > 0) std::memcpy(out.data, in.data, out.numel() * esize);
  if (src.numel() == 0) return Status();
  std::vector<int64_t> dst_strides = contiguous_strides(out.shape);
  char* base = static_cast<char*>(out.data) + a.start * dst_strides[dim] * esize;
  dst_strides[dim] *= a.step;
  strided_copy(esize, src.data, contiguous_strides(src.shape), base, dst_strides, src.shape);
  return Status();
}

Status run_concat(const ConcatAttrs& a, const KernelArgs& args) {
  if (args.in.empty()) return invalid_argument("[concat] needs at least one input");
  INGOT_RETURN_IF_ERROR(check_arity(args, args.in.size(), 1, "concat"));
  TensorRef& out = *args.out[0];
  int dim;
  INGOT_RETURN_IF_ERROR(backend::check_concat(args.in, out, a.dim, "concat", &dim));
  int64_t outer, inner;
  split_at_dim(out.shape, dim, &outer, &inner);
  const size_t esize = dtype_size(out.dtype);
  const int64_t out_row = out.shape[dim] * inner * esize;
  int64_t offset = 0;
  for (const TensorRef* in : args.in) {
    const int64_t row = in->shape[dim] * inner * esize;
    if (row > 0) {
      const char* s = static_cast<const char*>(in->data);
      char* d = static_cast<char*>(out.data) + offset;
      parallel_for(outer, row / static_cast<int64_t>(esize),
                   [&](int64_t o) { std::memcpy(d + o * out_row, s + o * row, row); });
    }
    offset += row;
  }
  return Status();
}

// Source index along one dim for an output index, or -1 for the constant fill.
int64_t pad_source(int64_t out_i, int64_t before, int64_t n, PadMode mode) {
  const int64_t i = out_i - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kReplicate: return i < 0 ? 0 : n - 1;
    case PadMode::kCircular: return ((i % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

Status run_pad(const PadAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "pad"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "pad"));
  const int rank = in.rank();
  if (a.mode < 0 || a.mode > 3) return invalid_argument("[pad] unknown mode " + std::to_string(a.mode));
  const auto mode = static_cast<PadMode>(a.mode);
  if (static_cast<int>(a.pads.size()) != 2 * rank || out.rank() != rank)
    return invalid_argument("[pad] expected " + std::to_string(2 * rank) + " pad entries, got " +
                            std::to_string(a.pads.size()));
  // Per dim, a table from output index to source index (-1 = fill value).
  std::vector<std::vector<int64_t>> src_index(rank);
  for (int d = 0; d < rank; ++d) {
    const int64_t before = a.pads[2 * d], after = a.pads[2 * d + 1];
    if (in.shape[d] + before + after != out.shape[d])
      return invalid_argument("[pad] output dim " + std::to_string(d) + " is " + std::to_string(out.shape[d]) +
                              ", expected " + std::to_string(in.shape[d] + before + after));
    if (mode != PadMode::kConstant && in.shape[d] == 0 && out.shape[d] > 0)
      return invalid_argument("[pad] cannot pad an empty dim in non-constant mode");
    if (mode == PadMode::kReflect && (before >= in.shape[d] || after >= in.shape[d]) && (before > 0 || after > 0))
      return invalid_argument("[pad] reflect padding must be smaller than the input size along dim " +
                              std::to_string(d));
    src_index[d].resize(out.shape[d]);
    for (int64_t i = 0; i < out.shape[d]; ++i) src_index[d][i] = pad_source(i, before, in.shape[d], mode);
  }
  if (out.numel() == 0) return Status();
  if (rank == 0) {
    std::memcpy(out.data, in.data, dtype_size(in.dtype));
    return Status();
  }
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape);
  const int64_t inner = out.shape[rank - 1];
  const int64_t rows = out.numel() / inner;
  visit_elem_size(dtype_size(in.dtype), [&](auto tag) {
    using E = typename decltype(tag)::type;
    E fill;
    store_scalar(in.dtype, a.value, &fill);
    const E* s = static_cast<const E*>(in.data);
    E* o = static_cast<E*>(out.data);
    const std::vector<int64_t>& last = src_index[rank - 1];
    parallel_for(rows, inner, [&](int64_t r) {
      int64_t rem = r, src_off = 0;
      bool filled = false;
      for (int d = rank - 2; d >= 0; --d) {
        const int64_t idx = rem % out.shape[d];
        rem /= out.shape[d];
        const int64_t si = src_index[d][idx];
        if (si < 0) filled = true;
        src_off += si * in_strides[d];
      }
      E* dst = o + r * inner;
      if (filled) {
        for (int64_t j = 0; j < inner; ++j) dst[j] = fill;
        return;
      }
      for (int64_t j = 0; j < inner; ++j) dst[j] = last[j] < 0 ? fill : s[src_off + last[j]];
    });
  });
  return Status();
}

Status run_triangular(const TriangularAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "triangular"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(check_same_dtype(in, out, "triangular"));
  if (in.rank() < 2 || in.shape != out.shape)
    return invalid_argument("[triangular] needs rank >= 2 and equal shapes, got " + shape_str(in.shape) + " -> " +
                            shape_str(out.shape));
  const int64_t rows_per = in.shape[in.rank() - 2], cols = in.shape[in.rank() - 1];
  if (in.numel() == 0) return Status();
  const int64_t rows = in.numel() / cols;
  const size_t esize = dtype_size(in.dtype);
  const char* s = static_cast<const char*>(in.data);
  char* o = static_cast<char*>(out.data);
  parallel_for(rows, cols, [&](int64_t r) {
    const int64_t i = r % rows_per;
    // Kept columns form one range [lo, hi); the rest become zero (all-zero bits in every dtype).
    int64_t lo = 0, hi = cols;
    if (a.upper) lo = std::clamp<int64_t>(i + a.diagonal, 0, cols);
    else hi = std::clamp<int64_t>(i + a.diagonal + 1, 0, cols);
    const size_t row_bytes = cols * esize;
    char* dst = o + r * row_bytes;
    const char* src = s + r * row_bytes;
    std::memset(dst, 0, lo * esize);
    if (hi > lo) std::memmove(dst + lo * esize, src + lo * esize, (hi - lo) * esize);
    std::memset(dst + std::max(hi, lo) * esize, 0, (cols - std::max(hi, lo)) * esize);
  });
  return Status();
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
  return unsupported(std::string("[cpu data_movement] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cpu
