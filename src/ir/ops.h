// Operator kinds and their typed attribute structs, generated from ops.def.
// Shared by the compiler (IR), the engine format and the backends, so it has no
// dependency beyond the standard library.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ingot {

using Int = int64_t;
using Float = double;
using Bool = bool;
using IntList = std::vector<int64_t>;
using FloatList = std::vector<double>;

enum class OpKind : uint16_t {
#define INGOT_OP(E, S, ...) k##E,
#include "ir/ops.def"
#undef INGOT_OP
};

inline constexpr int kNumOpKinds = 0
#define INGOT_OP(E, S, ...) +1
#include "ir/ops.def"
#undef INGOT_OP
    ;

const char* op_name(OpKind kind);
std::optional<OpKind> op_from_name(std::string_view name);

// One attribute struct per op: ReshapeAttrs, ConvAttrs, ...
#define INGOT_ATTR(T, N, D) T N = D;
#define INGOT_OP(E, S, ...) \
  struct E##Attrs {         \
    static constexpr OpKind kKind = OpKind::k##E; \
    __VA_ARGS__             \
    bool operator==(const E##Attrs&) const = default; \
  };
#include "ir/ops.def"
#undef INGOT_OP
#undef INGOT_ATTR

// The attributes of any op; the variant index equals the OpKind value.
using OpAttrs = std::variant<
#define INGOT_OP(E, S, ...) E##Attrs,
#include "ir/ops.def"
#undef INGOT_OP
    std::monostate>;

inline OpKind op_kind(const OpAttrs& attrs) { return static_cast<OpKind>(attrs.index()); }
// Default-constructed attributes of the given kind.
OpAttrs default_attrs(OpKind kind);

// Calls v(name, field) for every attribute field, in declaration order. Used by
// the engine writer/reader, the printer and the inspector.
#define INGOT_ATTR(T, N, D) v(#N, a.N);
#define INGOT_OP(E, S, ...) \
  template <typename V> void visit_attrs(E##Attrs& a, V&& v) { (void)a; (void)v; __VA_ARGS__ } \
  template <typename V> void visit_attrs(const E##Attrs& a, V&& v) { (void)a; (void)v; __VA_ARGS__ }
#include "ir/ops.def"
#undef INGOT_OP
#undef INGOT_ATTR

enum class UnaryFn : int64_t {
#define INGOT_UNARY(E, S) k##E,
#include "ir/unary_fns.def"
#undef INGOT_UNARY
};
enum class BinaryFn : int64_t {
#define INGOT_BINARY(E, S, C) k##E,
#include "ir/binary_fns.def"
#undef INGOT_BINARY
};
enum class ReduceFn : int64_t {
#define INGOT_REDUCE(E, S) k##E,
#include "ir/reduce_fns.def"
#undef INGOT_REDUCE
};
enum class PadMode : int64_t { kConstant = 0, kReflect = 1, kReplicate = 2, kCircular = 3 };
enum class PoolKind : int64_t { kMax = 0, kAvg = 1 };
enum class UpsampleMode : int64_t { kNearest = 0, kLinear = 1, kBicubic = 2, kNearestExact = 3 };

const char* unary_fn_name(UnaryFn fn);
const char* binary_fn_name(BinaryFn fn);
const char* reduce_fn_name(ReduceFn fn);
bool binary_fn_is_comparison(BinaryFn fn);
bool unary_fn_valid(int64_t fn);
bool binary_fn_valid(int64_t fn);
bool reduce_fn_valid(int64_t fn);
// Activations a fused Gemm/MatMul epilogue may carry: the fusion pass only fuses
// these, and every backend's Gemm implements exactly these.
bool gemm_epilogue_activation(int64_t fn);

// "conv(stride=[1,1], padding=[0,0], ..., groups=1)" for printers and errors.
std::string attrs_to_string(const OpAttrs& attrs);

}  // namespace ingot
