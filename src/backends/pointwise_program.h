// Decoding and checking of a Pointwise op's program (ops.def: 5 ints per
// instruction, registers 0..n_inputs-1 are the inputs, instruction i writes
// register n_inputs + i), shared by the CPU and CUDA kernels so that both accept
// exactly the same programs and reject a malformed one (an engine is untrusted
// input) with the same message instead of reading out of bounds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ingot/status.h"
#include "ir/ops.h"

namespace ingot::backend {

// Limits the fusion pass respects and the CUDA kernel's argument struct is sized for.
inline constexpr int kPointwiseMaxInputs = 8;
inline constexpr int kPointwiseMaxInstructions = 64;
inline constexpr int kPointwiseMaxImmediates = 192;

enum class PointwiseKind : int { kUnary = 0, kBinary = 1, kConstant = 2 };

struct PointwiseInstr {
  PointwiseKind kind = PointwiseKind::kConstant;
  int fn = 0;
  int a = 0;    // register
  int b = 0;    // register (binary)
  int imm = 0;  // immediates index (unary: alpha at imm, beta at imm + 1; constant: the value)
};

// The float binary functions a Pointwise program may use: arithmetic that the
// elementwise kernels compute in float (no comparisons, no bitwise ops).
inline bool pointwise_binary_fn_ok(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: case BinaryFn::kSub: case BinaryFn::kMul: case BinaryFn::kDiv: case BinaryFn::kTruncDiv:
    case BinaryFn::kFloorDiv: case BinaryFn::kPow: case BinaryFn::kMaximum: case BinaryFn::kMinimum:
    case BinaryFn::kFmod: case BinaryFn::kRemainder: case BinaryFn::kAtan2:
      return true;
    default: return false;
  }
}
// Unary functions with a float result (not the integer-only bitwise_not, not the
// bool-valued predicates).
inline bool pointwise_unary_fn_ok(UnaryFn fn) {
  return fn != UnaryFn::kBitwiseNot && fn != UnaryFn::kLogicalNot && fn != UnaryFn::kIsNan;
}

inline Status decode_pointwise(const PointwiseAttrs& attrs, size_t num_inputs, std::vector<PointwiseInstr>* out,
                               const char* who) {
  auto bad = [&](const std::string& why) { return invalid_argument(std::string("[") + who + "] " + why); };
  const auto& p = attrs.program;
  if (num_inputs == 0 || num_inputs > static_cast<size_t>(kPointwiseMaxInputs))
    return bad("takes 1 to " + std::to_string(kPointwiseMaxInputs) + " inputs, got " + std::to_string(num_inputs));
  if (p.empty() || p.size() % 5 != 0)
    return bad("program has " + std::to_string(p.size()) + " ints, expected a positive multiple of 5");
  const size_t count = p.size() / 5;
  if (count > static_cast<size_t>(kPointwiseMaxInstructions))
    return bad("program has " + std::to_string(count) + " instructions, at most " +
               std::to_string(kPointwiseMaxInstructions) + " are supported");
  if (attrs.immediates.size() > static_cast<size_t>(kPointwiseMaxImmediates))
    return bad("program has " + std::to_string(attrs.immediates.size()) + " immediates, at most " +
               std::to_string(kPointwiseMaxImmediates) + " are supported");
  const int64_t num_imm = static_cast<int64_t>(attrs.immediates.size());
  out->clear();
  for (size_t i = 0; i < count; ++i) {
    const int64_t kind = p[5 * i], fn = p[5 * i + 1], a = p[5 * i + 2], b = p[5 * i + 3], imm = p[5 * i + 4];
    const int64_t defined = static_cast<int64_t>(num_inputs + i);  // registers readable by instruction i
    const std::string at = "instruction " + std::to_string(i) + ": ";
    PointwiseInstr ins;
    switch (kind) {
      case 0:
        if (!unary_fn_valid(fn) || !pointwise_unary_fn_ok(static_cast<UnaryFn>(fn)))
          return bad(at + "unary fn " + std::to_string(fn) + " is not a float function");
        if (a < 0 || a >= defined) return bad(at + "reads register " + std::to_string(a) + " before it is written");
        if (imm < 0 || imm + 1 >= num_imm) return bad(at + "immediate index " + std::to_string(imm) + " out of range");
        ins.kind = PointwiseKind::kUnary;
        break;
      case 1:
        if (!binary_fn_valid(fn) || !pointwise_binary_fn_ok(static_cast<BinaryFn>(fn)))
          return bad(at + "binary fn " + std::to_string(fn) + " is not float arithmetic");
        if (a < 0 || a >= defined || b < 0 || b >= defined)
          return bad(at + "reads a register before it is written");
        ins.kind = PointwiseKind::kBinary;
        break;
      case 2:
        if (imm < 0 || imm >= num_imm) return bad(at + "immediate index " + std::to_string(imm) + " out of range");
        ins.kind = PointwiseKind::kConstant;
        break;
      default:
        return bad(at + "unknown kind " + std::to_string(kind));
    }
    ins.fn = static_cast<int>(fn);
    ins.a = static_cast<int>(kind == 2 ? 0 : a);
    ins.b = static_cast<int>(kind == 1 ? b : 0);
    ins.imm = static_cast<int>(kind == 1 ? 0 : imm);
    out->push_back(ins);
  }
  return Status::ok_status();
}

}  // namespace ingot::backend
