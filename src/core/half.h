// float16 and bfloat16 storage types and their exact conversions to and from float.
//
// Written by hand because no maintained header library for this is packaged for
// Debian (the FP16 library PyTorch vendors is not), and the engine runtime may not
// pull in a big dependency for twenty lines. The float16 conversions are the
// bit-exact algorithm of that FP16 library (also in c10/util/Half.h): round to
// nearest even, subnormals kept, NaN stays NaN (quiet). They rely on IEEE float
// arithmetic in round-to-nearest without flush-to-zero, which is why ingot never
// builds with -ffast-math. Where the compiler targets F16C, the hardware
// instruction (same results) is used instead.
#pragma once
#include <bit>
#include <cstdint>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace ingot {

inline float half_bits_to_float(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  // Normal numbers: shift exponent+mantissa into place, rebias by scaling.
  const uint32_t exp_offset = 0xE0u << 23;
  const float normalized = std::bit_cast<float>((two_w >> 4) + exp_offset) * 0x1.0p-112f;
  // Subnormals: build 0.5 + m * 2^-24 and subtract 0.5.
  const uint32_t magic_mask = 126u << 23;
  const float denormalized = std::bit_cast<float>((two_w >> 17) | magic_mask) - 0.5f;
  const uint32_t denormalized_cutoff = 1u << 27;
  const uint32_t result = sign | (two_w < denormalized_cutoff ? std::bit_cast<uint32_t>(denormalized)
                                                               : std::bit_cast<uint32_t>(normalized));
  return std::bit_cast<float>(result);
#endif
}

inline uint16_t float_to_half_bits(float f) {
#if defined(__F16C__)
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#else
  // Scaling up then down makes the FPU do the rounding (and overflow to inf).
  float base = (__builtin_fabsf(f) * 0x1.0p+112f) * 0x1.0p-110f;
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
#endif
}

inline float bf16_bits_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  if ((w & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((w >> 16) | 0x0040u);  // quiet NaN
  const uint32_t rounding_bias = 0x7FFFu + ((w >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>((w + rounding_bias) >> 16);
}

// 16-bit storage types that read and write as float, so templated kernels can
// load a Half, compute in float and store a Half without special cases.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) : bits(float_to_half_bits(f)) {}  // NOLINT(implicit)
  static Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  operator float() const { return half_bits_to_float(bits); }  // NOLINT(implicit)
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) : bits(float_to_bf16_bits(f)) {}  // NOLINT(implicit)
  static BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
  operator float() const { return bf16_bits_to_float(bits); }  // NOLINT(implicit)
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace ingot
