// Names and printing for the op list generated from ops.def.
#include "ir/ops.h"

#include <sstream>

namespace ingot {

namespace {
const char* const kOpNames[] = {
#define INGOT_OP(E, S, ...) S,
#include "ir/ops.def"
#undef INGOT_OP
};
const char* const kUnaryNames[] = {
#define INGOT_UNARY(E, S) S,
#include "ir/unary_fns.def"
#undef INGOT_UNARY
};
struct BinaryInfo { const char* name; bool comparison; };
const BinaryInfo kBinaryInfo[] = {
#define INGOT_BINARY(E, S, C) {S, C},
#include "ir/binary_fns.def"
#undef INGOT_BINARY
};
const char* const kReduceNames[] = {
#define INGOT_REDUCE(E, S) S,
#include "ir/reduce_fns.def"
#undef INGOT_REDUCE
};
template <typename T, size_t N>
constexpr int64_t count(const T (&)[N]) { return static_cast<int64_t>(N); }

void print_value(std::ostream& os, int64_t v) { os << v; }
void print_value(std::ostream& os, double v) { os << v; }
void print_value(std::ostream& os, bool v) { os << (v ? "true" : "false"); }
template <typename T>
void print_value(std::ostream& os, const std::vector<T>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) os << ',';
    print_value(os, v[i]);
  }
  os << ']';
}
}  // namespace

const char* op_name(OpKind kind) {
  auto i = static_cast<size_t>(kind);
  return i < static_cast<size_t>(kNumOpKinds) ? kOpNames[i] : "<invalid op>";
}

std::optional<OpKind> op_from_name(std::string_view name) {
  for (int i = 0; i < kNumOpKinds; ++i)
    if (name == kOpNames[i]) return static_cast<OpKind>(i);
  return std::nullopt;
}

OpAttrs default_attrs(OpKind kind) {
  switch (kind) {
#define INGOT_OP(E, S, ...) \
  case OpKind::k##E:        \
    return E##Attrs{};
#include "ir/ops.def"
#undef INGOT_OP
  }
  return std::monostate{};
}

const char* unary_fn_name(UnaryFn fn) {
  auto i = static_cast<int64_t>(fn);
  return unary_fn_valid(i) ? kUnaryNames[i] : "<invalid unary>";
}
const char* binary_fn_name(BinaryFn fn) {
  auto i = static_cast<int64_t>(fn);
  return binary_fn_valid(i) ? kBinaryInfo[i].name : "<invalid binary>";
}
const char* reduce_fn_name(ReduceFn fn) {
  auto i = static_cast<int64_t>(fn);
  return reduce_fn_valid(i) ? kReduceNames[i] : "<invalid reduce>";
}
bool binary_fn_is_comparison(BinaryFn fn) {
  auto i = static_cast<int64_t>(fn);
  return binary_fn_valid(i) && kBinaryInfo[i].comparison;
}
bool gemm_epilogue_activation(int64_t fn) {
  if (!unary_fn_valid(fn)) return false;
  switch (static_cast<UnaryFn>(fn)) {
    case UnaryFn::kRelu: case UnaryFn::kGelu: case UnaryFn::kGeluTanh: case UnaryFn::kSilu:
    case UnaryFn::kSigmoid: case UnaryFn::kTanh: case UnaryFn::kClamp: case UnaryFn::kLeakyRelu:
    case UnaryFn::kElu: case UnaryFn::kHardSwish: case UnaryFn::kHardSigmoid: case UnaryFn::kSoftplus:
    case UnaryFn::kMish:
      return true;
    default:
      return false;
  }
}

bool unary_fn_valid(int64_t fn) { return fn >= 0 && fn < count(kUnaryNames); }
bool binary_fn_valid(int64_t fn) { return fn >= 0 && fn < count(kBinaryInfo); }
bool reduce_fn_valid(int64_t fn) { return fn >= 0 && fn < count(kReduceNames); }

std::string attrs_to_string(const OpAttrs& attrs) {
  std::ostringstream os;
  std::visit(
      [&](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, std::monostate>) {
          os << "<none>";
        } else {
          os << op_name(A::kKind) << '(';
          bool first = true;
          visit_attrs(a, [&](const char* name, const auto& value) {
            if (!first) os << ", ";
            first = false;
            os << name << '=';
            std::string_view n(name);
            if constexpr (std::is_same_v<std::decay_t<decltype(value)>, int64_t>) {
              if (n == "fn" && A::kKind == OpKind::kUnary) { os << unary_fn_name(UnaryFn(value)); return; }
              if (n == "fn" && A::kKind == OpKind::kBinary) { os << binary_fn_name(BinaryFn(value)); return; }
              if (n == "fn" && A::kKind == OpKind::kReduce) { os << reduce_fn_name(ReduceFn(value)); return; }
            }
            print_value(os, value);
          });
          os << ')';
        }
      },
      attrs);
  return os.str();
}

}  // namespace ingot
