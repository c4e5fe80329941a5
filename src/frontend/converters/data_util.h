// Small helpers shared by the data-movement converter families (shape, indexing,
// creation, reduction, misc): reading Scalar arguments with their Python kind,
// encoding host constants in any ingot dtype, python-style index clamping, and
// binding an IR value to an export output whose recorded meta is the authority
// on the result's dtype and shape (all shapes are static here).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "frontend/converter.h"

namespace ingot::frontend::data_util {

inline int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Row-major strides of a dense tensor.
inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[static_cast<size_t>(i)] = strides[static_cast<size_t>(i) + 1] * shape[static_cast<size_t>(i) + 1];
  return strides;
}

// A torch Scalar as written in the export: ints stay exact (int64 fills of
// large magnitudes must not pass through double).
struct Scalar {
  bool is_int = false;
  bool is_bool = false;
  int64_t i = 0;
  double f = 0;
  double as_double() const { return is_int || is_bool ? static_cast<double>(i) : f; }
};

inline Result<Scalar> get_scalar(const ConvertContext& ctx, std::string_view name) {
  const Argument* a = ctx.arg(name);
  if (!a || a->kind == Argument::Kind::kNone) return ctx.error("missing scalar argument '" + std::string(name) + "'");
  Scalar s;
  switch (a->kind) {
    case Argument::Kind::kInt: s.is_int = true; s.i = a->i; return s;
    case Argument::Kind::kBool: s.is_bool = true; s.i = a->b ? 1 : 0; return s;
    case Argument::Kind::kFloat: s.f = a->f; return s;
    case Argument::Kind::kSymInt: {
      // The context resolves literal symbols and hints.
      auto r = ctx.get_int(name);
      if (!r.ok()) return r.status();
      s.is_int = true;
      s.i = r.value();
      return s;
    }
    case Argument::Kind::kSymFloat:
      if (!a->name.empty()) break;
      s.f = a->f;
      return s;
    default: break;
  }
  return ctx.unsupported_error("argument '" + std::string(name) + "' is not a static Python number");
}

// IEEE binary16 from float, round to nearest even (no library for this in our deps).
inline uint16_t float_to_half(float value) {
  uint32_t x = std::bit_cast<uint32_t>(value);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mant = x & 0x7fffffu;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xffu);
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half_mant = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
    return static_cast<uint16_t>(sign | half_mant);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: correct
  return static_cast<uint16_t>(h);
}

inline uint16_t float_to_bf16(float value) {
  uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN stays NaN
  uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

template <typename T>
inline void put(std::vector<uint8_t>& out, size_t index, T v) {
  std::memcpy(out.data() + index * sizeof(T), &v, sizeof(T));
}

// Writes element `index` of a host buffer of dtype `dt` (torch's conversion rules:
// float -> int truncates, anything -> bool is != 0).
inline void store_element(std::vector<uint8_t>& out, DType dt, size_t index, const Scalar& s) {
  double d = s.as_double();
  int64_t iv = s.is_int || s.is_bool ? s.i : static_cast<int64_t>(std::isfinite(d) ? std::trunc(d) : 0);
  switch (dt) {
    case DType::kFloat32: put<float>(out, index, static_cast<float>(d)); break;
    case DType::kFloat64: put<double>(out, index, d); break;
    case DType::kFloat16: put<uint16_t>(out, index, float_to_half(static_cast<float>(d))); break;
    case DType::kBFloat16: put<uint16_t>(out, index, float_to_bf16(static_cast<float>(d))); break;
    case DType::kInt64: put<int64_t>(out, index, iv); break;
    case DType::kInt32: put<int32_t>(out, index, static_cast<int32_t>(iv)); break;
    case DType::kInt16: put<int16_t>(out, index, static_cast<int16_t>(iv)); break;
    case DType::kInt8: put<int8_t>(out, index, static_cast<int8_t>(iv)); break;
    case DType::kUInt8: put<uint8_t>(out, index, static_cast<uint8_t>(iv)); break;
    case DType::kBool: put<uint8_t>(out, index, (s.is_int || s.is_bool) ? (s.i != 0) : (d != 0.0)); break;
  }
}

// Element i of an integer constant (int64/int32/int16/int8/uint8/bool), as int64.
inline int64_t constant_int(const Value& v, int64_t i) {
  const uint8_t* p = v.constant->data();
  auto at = [&](auto zero) {
    decltype(zero) x;
    std::memcpy(&x, p + static_cast<size_t>(i) * sizeof(x), sizeof(x));
    return static_cast<int64_t>(x);
  };
  switch (v.dtype) {
    case DType::kInt64: return at(int64_t{});
    case DType::kInt32: return at(int32_t{});
    case DType::kInt16: return at(int16_t{});
    case DType::kInt8: return at(int8_t{});
    default: return at(uint8_t{});
  }
}

inline Scalar int_scalar(int64_t v) { Scalar s; s.is_int = true; s.i = v; return s; }
inline Scalar float_scalar(double v) { Scalar s; s.f = v; return s; }

// A constant of `shape` filled with one value.
inline ValueId fill_constant(ConvertContext& ctx, DType dt, const std::vector<int64_t>& shape, const Scalar& v) {
  int64_t n = numel_of(shape);
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * dtype_size(dt));
  if (n > 0) {
    store_element(bytes, dt, 0, v);
    for (int64_t i = 1; i < n; ++i)
      std::memcpy(bytes.data() + static_cast<size_t>(i) * dtype_size(dt), bytes.data(), dtype_size(dt));
  }
  return ctx.add_constant(dt, shape, std::move(bytes));
}

inline ValueId int64_constant(ConvertContext& ctx, std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(int64_t));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return ctx.add_constant(DType::kInt64, std::move(shape), std::move(bytes));
}

// The recorded dtype and shape of export output i.
struct OutType {
  DType dtype;
  std::vector<int64_t> shape;
};
inline Result<OutType> out_type(const ConvertContext& ctx, size_t i) {
  INGOT_ASSIGN_OR_RETURN(TensorMetaDef meta, ctx.output_meta(i));
  if (!meta.dtype) return ctx.unsupported_error("output " + std::to_string(i) + " has a dtype ingot does not support (export ScalarType " + std::to_string(meta.scalar_type) + ")");
  for (int64_t d : meta.sizes)
    if (d < 0) return ctx.unsupported_error("output " + std::to_string(i) + " has a symbolic size without a hint");
  return OutType{*meta.dtype, meta.sizes};
}

// Binds v to output i after a reshape (same element order) and a cast to the recorded
// meta where they differ; a numel mismatch is an internal error naming both shapes.
inline Status bind_as_meta(ConvertContext& ctx, size_t i, ValueId v) {
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, i));
  const Value& val = ctx.value(v);
  if (val.shape != ot.shape) {
    if (numel_of(val.shape) != numel_of(ot.shape))
      return ctx.error("internal: computed shape " + shape_str(val.shape) + " does not match the recorded output shape " + shape_str(ot.shape));
    v = ctx.reshape(v, ot.shape);
  }
  v = ctx.cast(v, ot.dtype);
  return ctx.bind_output(i, v);
}

// Python-style clamping of a slice bound against a dim of `size`.
inline int64_t clamp_slice_index(int64_t idx, int64_t size) {
  if (idx < 0) idx += size;
  if (idx < 0) idx = 0;
  if (idx > size) idx = size;
  return idx;
}

// Slice node with its output shape; start/end must already be clamped.
inline ValueId slice(ConvertContext& ctx, ValueId x, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
  std::vector<int64_t> shape = ctx.value(x).shape;
  if (end < start) end = start;
  shape[static_cast<size_t>(dim)] = (end - start + step - 1) / step;
  DType dt = ctx.value(x).dtype;
  return ctx.add_node(SliceAttrs{.dim = dim, .start = start, .end = end, .step = step}, {x}, dt, std::move(shape));
}

inline ValueId concat(ConvertContext& ctx, const std::vector<ValueId>& parts, int64_t dim) {
  std::vector<int64_t> shape = ctx.value(parts.front()).shape;
  shape[static_cast<size_t>(dim)] = 0;
  for (ValueId p : parts) shape[static_cast<size_t>(dim)] += ctx.value(p).shape[static_cast<size_t>(dim)];
  DType dt = ctx.value(parts.front()).dtype;
  return ctx.add_node(ConcatAttrs{.dim = dim}, parts, dt, std::move(shape));
}

inline ValueId permute(ConvertContext& ctx, ValueId x, const std::vector<int64_t>& perm) {
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == static_cast<int64_t>(i);
  if (identity) return x;
  const std::vector<int64_t>& in = ctx.value(x).shape;
  std::vector<int64_t> shape;
  for (int64_t p : perm) shape.push_back(in[static_cast<size_t>(p)]);
  DType dt = ctx.value(x).dtype;
  return ctx.add_node(PermuteAttrs{.perm = perm}, {x}, dt, std::move(shape));
}

// Broadcasts x to `shape` (leading 1s added first, as torch.expand does).
inline Result<ValueId> expand_to(ConvertContext& ctx, ValueId x, const std::vector<int64_t>& shape) {
  std::vector<int64_t> in = ctx.value(x).shape;
  if (in.size() > shape.size())
    return ctx.error("cannot expand shape " + shape_str(in) + " to " + shape_str(shape));
  if (in.size() < shape.size()) {
    std::vector<int64_t> padded(shape.size() - in.size(), 1);
    padded.insert(padded.end(), in.begin(), in.end());
    x = ctx.reshape(x, padded);
    in = padded;
  }
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != shape[i] && in[i] != 1)
      return ctx.error("cannot expand shape " + shape_str(in) + " to " + shape_str(shape));
  if (in == shape) return x;
  DType dt = ctx.value(x).dtype;
  return ctx.add_node(ExpandAttrs{.shape = shape}, {x}, dt, shape);
}

inline Result<int64_t> dim_arg(ConvertContext& ctx, std::string_view name, int64_t rank) {
  INGOT_ASSIGN_OR_RETURN(int64_t d, ctx.get_int(name));
  auto r = normalize_dim(d, rank);
  if (!r.ok()) return ctx.error("dim " + std::to_string(d) + " is out of range for rank " + std::to_string(rank));
  return r.value();
}

}  // namespace ingot::frontend::data_util
