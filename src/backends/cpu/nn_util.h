// Small helpers shared by the CPU "nn" kernel families (normalization, linear
// algebra, convolution, attention, pooling): half/bfloat16 staging through
// float32, Eigen row-major maps, shape strings and a reusable scratch buffer.
// The half conversions are written here (a few lines of bit manipulation)
// so these kernels do not wait on another file; they round to nearest even.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"

namespace ingot::cpu::nn {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatMap = Eigen::Map<const RowMatrix<T>>;

inline float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal half: normalize
    int e = -1;
    do { ++e; mant <<= 1; } while ((mant & 0x400u) == 0);
    bits = sign | ((112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // result is subnormal (or zero)
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t e = abs >> 23, mant = (abs & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14 + (113 - e) - 1
    uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t r = abs - 0x38000000u;  // rebias 127 -> 15
  uint32_t q = r >> 13, rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) ++q;
  return static_cast<uint16_t>(sign | q);
}

inline float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

inline bool is_half_like(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Runs `kernel` on float32 copies of every fp16/bf16 tensor of args, then writes
// the float results back. The kernels do their math in float anyway, so this
// costs two conversions and no precision beyond torch's own upcasting.
template <typename Kernel>
Status run_in_float(const KernelArgs& args, Kernel&& kernel) {
  bool any = false;
  for (const TensorRef* t : args.in) any |= t && is_half_like(t->dtype);
  for (const TensorRef* t : args.out) any |= t && is_half_like(t->dtype);
  if (!any) return kernel(args);
  std::vector<std::vector<float>> buffers;
  buffers.reserve(args.in.size() + args.out.size());
  std::vector<TensorRef> in_refs(args.in.size()), out_refs(args.out.size());
  KernelArgs staged;
  auto stage = [&](const TensorRef& src, TensorRef& dst, bool copy_values) {
    dst = src;
    if (!is_half_like(src.dtype)) return;
    buffers.emplace_back(static_cast<size_t>(src.numel()));
    std::vector<float>& buf = buffers.back();
    const auto* bits = static_cast<const uint16_t*>(src.data);
    if (copy_values) {
      if (src.dtype == DType::kFloat16)
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = half_to_float(bits[i]);
      else
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = bf16_to_float(bits[i]);
    }
    dst.data = buf.data();
    dst.dtype = DType::kFloat32;
  };
  for (size_t i = 0; i < args.in.size(); ++i) {
    if (!args.in[i]) { staged.in.push_back(nullptr); continue; }
    stage(*args.in[i], in_refs[i], true);
    staged.in.push_back(&in_refs[i]);
  }
  for (size_t i = 0; i < args.out.size(); ++i) {
    stage(*args.out[i], out_refs[i], false);
    staged.out.push_back(&out_refs[i]);
  }
  INGOT_RETURN_IF_ERROR(kernel(staged));
  for (size_t i = 0; i < args.out.size(); ++i) {
    const TensorRef& dst = *args.out[i];
    if (!is_half_like(dst.dtype)) continue;
    const float* src = out_refs[i].as<float>();
    auto* bits = static_cast<uint16_t*>(dst.data);
    int64_t n = dst.numel();
    if (dst.dtype == DType::kFloat16)
      for (int64_t j = 0; j < n; ++j) bits[j] = float_to_half(src[j]);
    else
      for (int64_t j = 0; j < n; ++j) bits[j] = float_to_bf16(src[j]);
  }
  return Status::ok_status();
}

// A per-thread growable scratch buffer (im2col columns, attention scores), so a
// run does not allocate per step once it has warmed up.
template <typename T>
T* scratch(size_t count, int slot = 0) {
  thread_local std::vector<T> buffers[4];
  std::vector<T>& b = buffers[slot];
  if (b.size() < count) b.resize(count);
  return b.data();
}

inline int64_t product(const std::vector<int64_t>& v, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < v.size(); ++i) p *= v[i];
  return p;
}

}  // namespace ingot::cpu::nn
