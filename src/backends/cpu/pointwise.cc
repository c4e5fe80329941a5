// Pointwise (a fused chain of float elementwise ops, made by fuse_pointwise.cc)
// on the CPU. The program is interpreted over blocks of output elements rather
// than element by element: each instruction runs as one tight loop over a block
// (its fn switch hoisted out of the loop), so the interpreter costs one dispatch
// per instruction per block and the loops vectorize. Registers are block-sized
// buffers. The math is the elementwise kernels' own (elementwise_math.h) in
// float (double where a tensor is float64), so a fused chain gives what the
// unfused ops give, minus the intermediate roundings to 16 bits.
#include <string>
#include <vector>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/elementwise_math.h"
#include "backends/pointwise_program.h"

namespace ingot::cpu {
namespace {

using backend::PointwiseInstr;
using backend::PointwiseKind;

// Output elements per interpreted block: registers stay in L1/L2.
constexpr int64_t kBlock = 512;
// Operand 0 is the output, 1..kMaxIn the inputs (unused ones get zero strides).
constexpr size_t kOperands = backend::kPointwiseMaxInputs + 1;

bool is_float_dtype(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
}

template <typename C> void apply_unary(UnaryFn fn, const C* x, C* y, int64_t m, C alpha, C beta) {
  if constexpr (std::is_same_v<C, float>) {
    if (eigen_unary_block(fn, x, y, m)) return;
  }
  switch (fn) {
#define INGOT_UNARY(E, S)                                                                  \
  case UnaryFn::k##E:                                                                      \
    for (int64_t i = 0; i < m; ++i) y[i] = unary_float<C>(UnaryFn::k##E, x[i], alpha, beta); \
    return;
#include "ir/unary_fns.def"
#undef INGOT_UNARY
  }
}

template <typename C> void apply_binary(BinaryFn fn, const C* x, const C* y, C* z, int64_t m) {
  switch (fn) {
#define INGOT_BINARY(E, S, CMP)                                                       \
  case BinaryFn::k##E:                                                                \
    for (int64_t i = 0; i < m; ++i) z[i] = binary_float<C>(BinaryFn::k##E, x[i], y[i]); \
    return;
#include "ir/binary_fns.def"
#undef INGOT_BINARY
  }
}

// m elements of t starting at element `offset`, `inc` apart (0: one value repeated), as C.
template <typename C> void load_block(const TensorRef& t, int64_t offset, int64_t inc, int64_t m, C* dst) {
  visit_dtype(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.as<const T>() + offset;
    if (inc == 0) {
      const C v = cast_value<C>(*p);
      for (int64_t i = 0; i < m; ++i) dst[i] = v;
    } else if (inc == 1) {
      for (int64_t i = 0; i < m; ++i) dst[i] = cast_value<C>(p[i]);
    } else {
      for (int64_t i = 0; i < m; ++i) dst[i] = cast_value<C>(p[i * inc]);
    }
  });
}

template <typename C> void store_block(const C* src, int64_t m, TensorRef& t, int64_t offset, int64_t inc) {
  visit_dtype(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.as<T>() + offset;
    if (inc == 1) {
      for (int64_t i = 0; i < m; ++i) p[i] = cast_value<T>(src[i]);
    } else {
      for (int64_t i = 0; i < m; ++i) p[i * inc] = cast_value<T>(src[i]);
    }
  });
}

template <typename C> class Interpreter {
 public:
  Interpreter(const std::vector<PointwiseInstr>& program, const std::vector<double>& immediates,
              const KernelArgs& args)
      : program_(program), args_(args), num_inputs_(args.in.size()) {
    immediates_.reserve(immediates.size());
    for (double v : immediates) immediates_.push_back(static_cast<C>(v));
  }

  // One run of m (<= kBlock * k) output elements: operand k at offsets[k], advancing by incs[k].
  void run(const std::array<int64_t, kOperands>& offsets, int64_t m, const std::array<int64_t, kOperands>& incs) {
    thread_local std::vector<C> regs;
    const size_t num_regs = num_inputs_ + program_.size();
    if (regs.size() < num_regs * kBlock) regs.resize(num_regs * kBlock);
    for (int64_t start = 0; start < m; start += kBlock) {
      const int64_t len = std::min(kBlock, m - start);
      auto reg = [&](int r) { return regs.data() + static_cast<size_t>(r) * kBlock; };
      for (size_t k = 0; k < num_inputs_; ++k)
        load_block<C>(*args_.in[k], offsets[k + 1] + start * incs[k + 1], incs[k + 1], len, reg(static_cast<int>(k)));
      for (size_t i = 0; i < program_.size(); ++i) {
        const PointwiseInstr& ins = program_[i];
        C* dst = reg(static_cast<int>(num_inputs_ + i));
        switch (ins.kind) {
          case PointwiseKind::kUnary:
            apply_unary<C>(static_cast<UnaryFn>(ins.fn), reg(ins.a), dst, len, immediates_[ins.imm],
                           immediates_[ins.imm + 1]);
            break;
          case PointwiseKind::kBinary:
            apply_binary<C>(static_cast<BinaryFn>(ins.fn), reg(ins.a), reg(ins.b), dst, len);
            break;
          case PointwiseKind::kConstant:
            for (int64_t j = 0; j < len; ++j) dst[j] = immediates_[ins.imm];
            break;
        }
      }
      store_block<C>(reg(static_cast<int>(num_regs - 1)), len, *args_.out[0], offsets[0] + start * incs[0], incs[0]);
    }
  }

 private:
  const std::vector<PointwiseInstr>& program_;
  const KernelArgs& args_;
  size_t num_inputs_;
  std::vector<C> immediates_;
};

template <typename C>
void run_program(const std::vector<PointwiseInstr>& program, const PointwiseAttrs& attrs, const KernelArgs& args,
                 const std::array<std::vector<int64_t>, kOperands>& strides) {
  Interpreter<C> interp(program, attrs.immediates, args);
  const TensorRef& out = *args.out[0];
  const int64_t n = out.numel();
  // Every input either the output's size (same layout) or one value: a flat loop split over threads.
  bool flat = true;
  std::array<int64_t, kOperands> incs{};
  incs[0] = 1;
  for (size_t k = 0; k < args.in.size(); ++k) {
    const int64_t numel = args.in[k]->numel();
    flat = flat && (numel == n || numel == 1);
    incs[k + 1] = numel == n ? 1 : 0;
  }
  if (flat) {
    // Chunks that are multiples of the block keep every block full.
    const int64_t chunks = (n + kBlock - 1) / kBlock;
    parallel_for(chunks, kBlock * static_cast<int64_t>(program.size()), [&](int64_t c) {
      std::array<int64_t, kOperands> offsets{};
      offsets[0] = c * kBlock;
      for (size_t k = 0; k < args.in.size(); ++k) offsets[k + 1] = incs[k + 1] ? c * kBlock : 0;
      interp.run(offsets, std::min(kBlock, n - c * kBlock), incs);
    });
    return;
  }
  strided_loop<kOperands>(out.shape, strides,
                          [&](const std::array<int64_t, kOperands>& off, int64_t m,
                              const std::array<int64_t, kOperands>& inc) { interp.run(off, m, inc); });
}

}  // namespace

Status pointwise(const OpAttrs& attrs, const KernelArgs& args) {
  const auto* a = std::get_if<PointwiseAttrs>(&attrs);
  if (!a) return unsupported(std::string("[cpu pointwise] op '") + op_name(op_kind(attrs)) + "' is not in this family");
  if (args.out.size() != 1 || !args.out[0])
    return invalid_argument("[pointwise] expected 1 output, got " + std::to_string(args.out.size()));
  std::vector<PointwiseInstr> program;
  INGOT_RETURN_IF_ERROR(backend::decode_pointwise(*a, args.in.size(), &program, "pointwise"));
  TensorRef& out = *args.out[0];
  bool wide = out.dtype == DType::kFloat64;
  if (!is_float_dtype(out.dtype))
    return unsupported(std::string("[pointwise] output is ") + dtype_name(out.dtype) + ", not a float type");
  std::array<std::vector<int64_t>, kOperands> strides;
  strides[0] = contiguous_strides(out.shape);
  for (size_t k = 0; k < kOperands - 1; ++k) {
    if (k >= args.in.size()) {
      strides[k + 1].assign(out.shape.size(), 0);
      continue;
    }
    const TensorRef* in = args.in[k];
    if (!in) return invalid_argument("[pointwise] input " + std::to_string(k) + " is missing");
    if (!is_float_dtype(in->dtype))
      return unsupported("[pointwise] input " + std::to_string(k) + " is " + dtype_name(in->dtype) +
                         ", not a float type");
    wide = wide || in->dtype == DType::kFloat64;
    if (!broadcast_strides(in->shape, out.shape, &strides[k + 1]))
      return invalid_argument("[pointwise] input " + std::to_string(k) + " " + shape_str(in->shape) +
                              " does not broadcast to " + shape_str(out.shape));
  }
  if (out.numel() == 0) return Status();
  if (wide) run_program<double>(program, *a, args, strides);
  else run_program<float>(program, *a, args, strides);
  return Status();
}

}  // namespace ingot::cpu
