// Small helpers shared by the neural-network converter families (activation,
// elementwise, linear, conv, norm, pool, attention). They sit on top of the
// ConvertContext API only, so they work with any context implementation.
// Header-only: each helper is a few lines and inlining keeps the families
// independent translation units.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frontend/converter.h"

namespace ingot::frontend::nn {

// The recorded dtype and shape of an export output.
struct OutType {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
};

inline Result<OutType> out_type(ConvertContext& ctx, size_t i = 0) {
  INGOT_ASSIGN_OR_RETURN(TensorMetaDef meta, ctx.output_meta(i));
  if (!meta.dtype) {
    return ctx.unsupported_error("output " + std::to_string(i) + " has scalar type " +
                                 std::to_string(meta.scalar_type) + ", which ingot does not support");
  }
  return OutType{*meta.dtype, meta.sizes};
}

// Binds output i to v after casting v to the recorded dtype. The export meta is
// the authority on torch's type promotion, so casting to it is always right.
inline Status bind_cast(ConvertContext& ctx, size_t i, ValueId v) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx, i));
  v = ctx.cast(v, out.dtype);
  return ctx.bind_output(i, v);
}

// Like bind_cast, and also reshapes when only the layout of dims differs
// (same element count), e.g. a 1-D matmul operand that was lifted to 2-D.
inline Status bind_cast_reshape(ConvertContext& ctx, size_t i, ValueId v) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx, i));
  v = ctx.cast(v, out.dtype);
  if (ctx.value(v).shape != out.shape) v = ctx.reshape(v, out.shape);
  return ctx.bind_output(i, v);
}

// A tensor argument that may be None or absent: kNoValue then.
inline Result<ValueId> optional_tensor(ConvertContext& ctx, std::string_view name) {
  if (!ctx.has_arg(name)) return kNoValue;
  return ctx.get_tensor(name);
}

// A schema `Scalar` argument: its value and whether torch sees it as bool, int or float.
enum class ScalarKind { kBool, kInt, kFloat };
struct ScalarArg {
  double value = 0;
  ScalarKind kind = ScalarKind::kInt;
};

inline Result<std::optional<ScalarArg>> optional_scalar(ConvertContext& ctx, std::string_view name) {
  const Argument* a = ctx.arg(name);
  if (!a || a->kind == Argument::Kind::kNone) return std::optional<ScalarArg>();
  switch (a->kind) {
    case Argument::Kind::kInt: return std::optional<ScalarArg>(ScalarArg{static_cast<double>(a->i), ScalarKind::kInt});
    case Argument::Kind::kFloat: return std::optional<ScalarArg>(ScalarArg{a->f, ScalarKind::kFloat});
    case Argument::Kind::kBool: return std::optional<ScalarArg>(ScalarArg{a->b ? 1.0 : 0.0, ScalarKind::kBool});
    case Argument::Kind::kSymInt:
      if (a->name.empty()) return std::optional<ScalarArg>(ScalarArg{static_cast<double>(a->i), ScalarKind::kInt});
      break;
    case Argument::Kind::kSymFloat:
      if (a->name.empty()) return std::optional<ScalarArg>(ScalarArg{a->f, ScalarKind::kFloat});
      break;
    case Argument::Kind::kSymBool:
      if (a->name.empty()) return std::optional<ScalarArg>(ScalarArg{a->b ? 1.0 : 0.0, ScalarKind::kBool});
      break;
    default: break;
  }
  return ctx.unsupported_error("argument '" + std::string(name) +
                               "' must be a constant number (symbolic or non-numeric scalars are not supported)");
}

inline Result<ScalarArg> get_scalar(ConvertContext& ctx, std::string_view name) {
  INGOT_ASSIGN_OR_RETURN(std::optional<ScalarArg> s, optional_scalar(ctx, name));
  if (!s) return ctx.error("missing required scalar argument '" + std::string(name) + "'");
  return *s;
}

// A scalar argument with a fallback for when it is absent or None.
inline Result<double> scalar_or(ConvertContext& ctx, std::string_view name, double fallback) {
  INGOT_ASSIGN_OR_RETURN(std::optional<ScalarArg> s, optional_scalar(ctx, name));
  return s ? s->value : fallback;
}

// Typed argument readers with a fallback when the argument is absent/None, so the
// converters do not depend on every default being in the schema-defaults table.
inline Result<int64_t> int_or(ConvertContext& ctx, std::string_view name, int64_t fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_int(name);
}
inline Result<double> float_or(ConvertContext& ctx, std::string_view name, double fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_float(name);
}
inline Result<bool> bool_or(ConvertContext& ctx, std::string_view name, bool fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_bool(name);
}
inline Result<std::vector<int64_t>> ints_or(ConvertContext& ctx, std::string_view name, std::vector<int64_t> fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_ints(name);
}
inline Result<std::string> string_or(ConvertContext& ctx, std::string_view name, std::string fallback) {
  if (!ctx.has_arg(name)) return fallback;
  return ctx.get_string(name);
}

// A per-spatial-dim list (stride, padding, ...): one value broadcasts to all dims.
inline Result<std::vector<int64_t>> spatial_list(ConvertContext& ctx, const std::vector<int64_t>& v,
                                                 size_t spatial_dims, std::string_view what) {
  if (v.size() == spatial_dims) return v;
  if (v.size() == 1) return std::vector<int64_t>(spatial_dims, v[0]);
  return ctx.error(std::string(what) + " has " + std::to_string(v.size()) + " entries, expected 1 or " +
                   std::to_string(spatial_dims));
}

// PyTorch's result dtype for `tensor op python_number` (wrapped-number rule): the
// tensor's dtype wins unless the number is of a higher category (bool < int < float).
inline DType scalar_promote(DType tensor, ScalarKind scalar) {
  if (scalar == ScalarKind::kFloat && !is_floating(tensor)) return DType::kFloat32;
  if (scalar == ScalarKind::kInt && tensor == DType::kBool) return DType::kInt64;
  return tensor;
}

// A 0-d constant for a scalar, in the given dtype.
inline ValueId scalar_value(ConvertContext& ctx, double v, DType dtype) { return ctx.scalar_constant(v, dtype); }

inline int64_t rank_of(ConvertContext& ctx, ValueId v) { return static_cast<int64_t>(ctx.value(v).shape.size()); }

// Prepends size-1 dims so that v has the given rank (broadcast-compatible reshape).
inline ValueId lift_rank(ConvertContext& ctx, ValueId v, int64_t rank) {
  std::vector<int64_t> shape = ctx.value(v).shape;
  if (static_cast<int64_t>(shape.size()) >= rank) return v;
  shape.insert(shape.begin(), static_cast<size_t>(rank) - shape.size(), 1);
  return ctx.reshape(v, shape);
}

}  // namespace ingot::frontend::nn
