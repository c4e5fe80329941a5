// Pointwise (a fused chain of float elementwise ops, made by fuse_pointwise.cc)
// on the GPU: one thread per output element (grid-stride), every input read once
// with its own broadcast strides, the program interpreted in fp32 registers, one
// store. Everything the kernel needs (input pointers and dtypes, strides over the
// coalesced output dims, the program and its immediates) travels by value in one
// __grid_constant__ argument struct of fixed maximum sizes, so a launch needs no
// device allocation or copy and is captured in a CUDA graph as is.
//
// The program is an interpreted loop with a switch per instruction: its branches
// are uniform across the grid (every thread runs the same program), so they cost
// issue slots only, next to the memory traffic the fusion saves. Registers are
// packed into few slots on the host (a slot is reused once its value is dead),
// which keeps the per-thread register file small. The math is the elementwise
// kernels' own (elementwise_math.cuh).
#include <algorithm>
#include <string>
#include <vector>

#include "backends/cuda/cuda_util.cuh"
#include "backends/cuda/elementwise_math.cuh"
#include "backends/pointwise_program.h"

namespace ingot::cuda {
namespace {

using backend::PointwiseInstr;
using backend::PointwiseKind;

constexpr int kMaxIn = backend::kPointwiseMaxInputs;
constexpr int kMaxInstr = backend::kPointwiseMaxInstructions;
constexpr int kMaxImm = backend::kPointwiseMaxImmediates;
constexpr int kMaxSlots = kMaxIn + kMaxInstr;

// How input k is addressed from the output index.
enum InMode : uint8_t { kSame = 0, kScalar = 1, kStrided = 2 };
// Element types of inputs (outputs are a template parameter).
enum InType : uint8_t { kF32 = 0, kF16 = 1, kBF16 = 2 };

struct Instr {
  uint8_t kind;  // PointwiseKind
  uint8_t fn;
  uint8_t a;     // operand slots
  uint8_t b;
  uint8_t dst;   // result slot
  uint8_t pad;
  uint16_t imm;
};

struct Params {
  const void* in[kMaxIn];
  void* out;
  int64_t n;
  int64_t dims[kMaxRank];              // coalesced output dims
  int64_t strides[kMaxIn][kMaxRank];   // per input, element strides over dims (0 = broadcast)
  float imm[kMaxImm];
  Instr prog[kMaxInstr];
  int32_t rank;
  int32_t num_inputs;
  int32_t num_instr;
  int32_t out_slot;
  uint8_t in_type[kMaxIn];
  uint8_t in_mode[kMaxIn];
  uint8_t any_strided;
};
static_assert(sizeof(Params) < 4000, "kernel arguments must stay under the 4 KiB launch limit");

__device__ __forceinline__ float load_input(const void* p, uint8_t type, int64_t off) {
  switch (type) {
    case kF16: return __half2float(static_cast<const __half*>(p)[off]);
    case kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[off]);
    default: return static_cast<const float*>(p)[off];
  }
}

// Index: uint32_t where every offset fits (the common case: 32-bit div/mod), else int64_t.
template <typename TOut, typename Index>
__global__ void __launch_bounds__(kThreads) pointwise_kernel(const __grid_constant__ Params p) {
  const Index n = static_cast<Index>(p.n);
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<Index>(gridDim.x) * blockDim.x) {
    float r[kMaxSlots];
    Index off[kMaxIn];
    if (p.any_strided) {
      for (int k = 0; k < kMaxIn; ++k) off[k] = 0;
      Index rem = i;
      for (int d = p.rank - 1; d >= 0; --d) {
        const Index dim = static_cast<Index>(p.dims[d]);
        const Index c = rem % dim;
        rem /= dim;
        for (int k = 0; k < p.num_inputs; ++k) off[k] += c * static_cast<Index>(p.strides[k][d]);
      }
    }
    for (int k = 0; k < p.num_inputs; ++k) {
      const uint8_t mode = p.in_mode[k];
      const Index o = mode == kSame ? i : (mode == kScalar ? Index(0) : off[k]);
      r[k] = load_input(p.in[k], p.in_type[k], static_cast<int64_t>(o));
    }
#pragma unroll 1
    for (int j = 0; j < p.num_instr; ++j) {
      const Instr ins = p.prog[j];
      float v;
      switch (ins.kind) {
        case 0: v = unary_math<float>(static_cast<UnaryFn>(ins.fn), r[ins.a], p.imm[ins.imm], p.imm[ins.imm + 1]); break;
        case 1: v = float_binary_math<float>(static_cast<BinaryFn>(ins.fn), r[ins.a], r[ins.b]); break;
        default: v = p.imm[ins.imm]; break;
      }
      r[ins.dst] = v;
    }
    static_cast<TOut*>(p.out)[i] = from_float<TOut>(r[p.out_slot]);
  }
}

bool input_type(DType t, uint8_t* code) {
  switch (t) {
    case DType::kFloat32: *code = kF32; return true;
    case DType::kFloat16: *code = kF16; return true;
    case DType::kBFloat16: *code = kBF16; return true;
    default: return false;
  }
}

// Everything but the data pointers, built once per step (shapes are static per step).
Result<Params> build_params(const PointwiseAttrs& attrs, const KernelArgs& args) {
  std::vector<PointwiseInstr> program;
  INGOT_RETURN_IF_ERROR(backend::decode_pointwise(attrs, args.in.size(), &program, "cuda pointwise"));
  const DeviceTensor& out = *args.out[0];
  Params p{};
  p.n = out.numel();
  p.num_inputs = static_cast<int32_t>(args.in.size());
  p.num_instr = static_cast<int32_t>(program.size());
  for (size_t k = 0; k < attrs.immediates.size(); ++k) p.imm[k] = static_cast<float>(attrs.immediates[k]);

  // Strides of every input over the output's dims, then dims coalesced (size-1 dims
  // dropped, neighbours merged where every input is contiguous across them).
  const size_t num_in = args.in.size();
  std::vector<std::vector<int64_t>> st(num_in);
  for (size_t k = 0; k < num_in; ++k) {
    const DeviceTensor* in = args.in[k];
    if (!in) return invalid_argument("[cuda pointwise] input " + std::to_string(k) + " is missing");
    if (!input_type(in->dtype, &p.in_type[k]))
      return unsupported("[cuda pointwise] input " + std::to_string(k) + " is " + dtype_name(in->dtype) +
                         ", not float32, float16 or bfloat16");
    if (!broadcast_strides(in->shape, out.shape, &st[k]))
      return invalid_argument("[cuda pointwise] input " + std::to_string(k) + " " + shape_str(in->shape) +
                              " does not broadcast to " + shape_str(out.shape));
    const int64_t numel = in->numel();
    p.in_mode[k] = numel == p.n ? kSame : (numel == 1 ? kScalar : kStrided);
    if (p.in_mode[k] == kStrided) p.any_strided = 1;
  }
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> cst(num_in);
  for (size_t d = 0; d < out.shape.size(); ++d) {
    if (out.shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < num_in && merge; ++k) merge = cst[k].back() == st[k][d] * out.shape[d];
    if (merge) {
      dims.back() *= out.shape[d];
      for (size_t k = 0; k < num_in; ++k) cst[k].back() = st[k][d];
    } else {
      dims.push_back(out.shape[d]);
      for (size_t k = 0; k < num_in; ++k) cst[k].push_back(st[k][d]);
    }
  }
  if (p.any_strided && dims.size() > static_cast<size_t>(kMaxRank))
    return unsupported("[cuda pointwise] broadcasting over " + std::to_string(dims.size()) +
                       " dims after merging, at most " + std::to_string(kMaxRank) + " are supported");
  p.rank = static_cast<int32_t>(std::min(dims.size(), static_cast<size_t>(kMaxRank)));
  for (int d = 0; d < p.rank; ++d) {
    p.dims[d] = dims[static_cast<size_t>(d)];
    for (size_t k = 0; k < num_in; ++k) p.strides[k][d] = cst[k][static_cast<size_t>(d)];
  }

  // Slots: a register's slot is freed after the instruction that reads it last
  // (an instruction reads its operands before writing its result, so the result
  // may take an operand's slot).
  const int num_regs = static_cast<int>(num_in + program.size());
  std::vector<int> last_use(static_cast<size_t>(num_regs), -1);
  for (size_t j = 0; j < program.size(); ++j) {
    const PointwiseInstr& ins = program[j];
    if (ins.kind != PointwiseKind::kConstant) last_use[static_cast<size_t>(ins.a)] = static_cast<int>(j);
    if (ins.kind == PointwiseKind::kBinary) last_use[static_cast<size_t>(ins.b)] = static_cast<int>(j);
  }
  std::vector<int> slot(static_cast<size_t>(num_regs), -1);
  std::vector<bool> busy(kMaxSlots, false);
  for (size_t k = 0; k < num_in; ++k) {
    slot[k] = static_cast<int>(k);
    busy[k] = true;
  }
  for (size_t k = 0; k < num_in; ++k)
    if (last_use[k] < 0) busy[k] = false;
  for (size_t j = 0; j < program.size(); ++j) {
    const PointwiseInstr& ins = program[j];
    Instr& out_ins = p.prog[j];
    out_ins.kind = static_cast<uint8_t>(ins.kind);
    out_ins.fn = static_cast<uint8_t>(ins.fn);
    out_ins.a = static_cast<uint8_t>(ins.kind == PointwiseKind::kConstant ? 0 : slot[static_cast<size_t>(ins.a)]);
    out_ins.b = static_cast<uint8_t>(ins.kind == PointwiseKind::kBinary ? slot[static_cast<size_t>(ins.b)] : 0);
    out_ins.imm = static_cast<uint16_t>(ins.imm);
    if (ins.kind != PointwiseKind::kConstant && last_use[static_cast<size_t>(ins.a)] == static_cast<int>(j))
      busy[static_cast<size_t>(slot[static_cast<size_t>(ins.a)])] = false;
    if (ins.kind == PointwiseKind::kBinary && last_use[static_cast<size_t>(ins.b)] == static_cast<int>(j))
      busy[static_cast<size_t>(slot[static_cast<size_t>(ins.b)])] = false;
    const size_t reg = num_in + j;
    const size_t free_slot = static_cast<size_t>(std::find(busy.begin(), busy.end(), false) - busy.begin());
    if (free_slot >= busy.size()) return internal_error("[cuda pointwise] ran out of register slots");
    slot[reg] = static_cast<int>(free_slot);
    // A result nobody reads (only the last one, the output, should be) frees its slot
    // at once, except the output, which must survive to the store.
    busy[free_slot] = last_use[reg] >= 0 || reg + 1 == static_cast<size_t>(num_regs);
    out_ins.dst = static_cast<uint8_t>(free_slot);
  }
  p.out_slot = slot[static_cast<size_t>(num_regs - 1)];
  return p;
}

Status run_pointwise(const PointwiseAttrs& attrs, const KernelArgs& args) {
  if (args.out.size() != 1 || !args.out[0])
    return invalid_argument("[cuda pointwise] expected 1 output, got " + std::to_string(args.out.size()));
  DeviceTensor& out = *args.out[0];
  if (out.dtype != DType::kFloat32 && out.dtype != DType::kFloat16 && out.dtype != DType::kBFloat16)
    return unsupported(std::string("[cuda pointwise] output is ") + dtype_name(out.dtype) +
                       ", not float32, float16 or bfloat16");
  Params scratch;
  INGOT_ASSIGN_OR_RETURN(const Params* cached_params,
                         cached<Params>(args, &scratch, [&]() { return build_params(attrs, args); }));
  // The step's state was built for this step's shapes; the data pointers may differ per run.
  Params p = *cached_params;
  if (static_cast<size_t>(p.num_inputs) != args.in.size() || p.n != out.numel())
    return internal_error("[cuda pointwise] cached state does not match the step");
  for (size_t k = 0; k < args.in.size(); ++k) {
    if (!args.in[k]) return invalid_argument("[cuda pointwise] input " + std::to_string(k) + " is missing");
    p.in[k] = args.in[k]->data;
  }
  p.out = out.data;
  const int64_t n = p.n;
  if (n == 0) return {};
  const unsigned grid = blocks_for(n);
  // 32-bit indices when the index and every input offset (< n) fit.
  const bool small = n < (int64_t{1} << 31);
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    if (small) pointwise_kernel<T, uint32_t><<<grid, kThreads, 0, args.stream>>>(p);
    else pointwise_kernel<T, int64_t><<<grid, kThreads, 0, args.stream>>>(p);
  };
  switch (out.dtype) {
    case DType::kFloat16: launch(__half{}); break;
    case DType::kBFloat16: launch(__nv_bfloat16{}); break;
    default: launch(float{}); break;
  }
  INGOT_CUDA_CHECK_LAUNCH("pointwise");
  return {};
}

}  // namespace

Status pointwise(const OpAttrs& attrs, const KernelArgs& args) {
  const auto* a = std::get_if<PointwiseAttrs>(&attrs);
  if (!a) return unsupported(std::string("[cuda pointwise] op '") + op_name(op_kind(attrs)) + "' is not in this family");
  return run_pointwise(*a, args);
}

}  // namespace ingot::cuda
