// Pointwise (a fused chain of float elementwise ops, made by fuse_pointwise.cc)
// on the GPU: every input read once with its own broadcast strides, the program
// interpreted in fp32, one store per output element. Everything the kernel needs
// (input pointers and dtypes, strides over the coalesced output dims, the program
// and its immediates) travels by value in one __grid_constant__ argument struct of
// fixed maximum sizes, so a launch needs no device allocation or copy and is
// captured in a CUDA graph as is.
//
// The program is an interpreted loop with a switch per instruction: its branches
// are uniform across the grid (every thread runs the same program), so they cost
// issue slots only. Its values live in shared memory, one column per thread: an
// array in registers indexed by run-time slot numbers would be placed in local
// memory (a stack frame of ~350 bytes per thread). Slots are packed on the host (a
// slot is reused once its value is dead), so a block needs only a few KiB.
//
// Where the output's innermost (coalesced) dim is a multiple of 4 and every input
// runs along it contiguously or is constant along it, each thread handles 4
// consecutive elements: vector loads and stores, one index computation and one
// program decode for 4 elements. The math is the elementwise kernels' own
// (elementwise_math.cuh).
#include <algorithm>
#include <cstring>
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
  int32_t num_slots;  // shared-memory slots the program uses
  uint8_t in_type[kMaxIn];
  uint8_t in_mode[kMaxIn];
  uint8_t any_strided;
  uint8_t vectorizable;  // the 4-wide path applies (alignment of the pointers is checked per run)
};
static_assert(sizeof(Params) < 4000, "kernel arguments must stay under the 4 KiB launch limit");

__device__ __forceinline__ float load_input(const void* p, uint8_t type, int64_t off) {
  switch (type) {
    case kF16: return __half2float(static_cast<const __half*>(p)[off]);
    case kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[off]);
    default: return static_cast<const float*>(p)[off];
  }
}

// Four consecutive elements from off (aligned to 4 elements: the host checks).
__device__ __forceinline__ void load_input4(const void* p, uint8_t type, int64_t off, float v[4]) {
  switch (type) {
    case kF16: {
      const uint2 raw = *reinterpret_cast<const uint2*>(static_cast<const __half*>(p) + off);
      const __half2* h = reinterpret_cast<const __half2*>(&raw);
      const float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
      v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
      break;
    }
    case kBF16: {
      const uint2 raw = *reinterpret_cast<const uint2*>(static_cast<const __nv_bfloat16*>(p) + off);
      const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
      const float2 a = __bfloat1622float2(h[0]), b = __bfloat1622float2(h[1]);
      v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
      break;
    }
    default: {
      const float4 f = *reinterpret_cast<const float4*>(static_cast<const float*>(p) + off);
      v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
    }
  }
}

template <typename TOut>
__device__ __forceinline__ void store4(void* p, int64_t off, const float v[4]) {
  if constexpr (sizeof(TOut) == 4) {
    *reinterpret_cast<float4*>(static_cast<float*>(p) + off) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    TOut h[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) h[e] = from_float<TOut>(v[e]);
    uint2 raw;
    memcpy(&raw, h, sizeof(raw));
    *reinterpret_cast<uint2*>(static_cast<TOut*>(p) + off) = raw;
  }
}

// V output elements per thread (4 on the vector path, else 1); Index: uint32_t where
// every offset fits (the common case: 32-bit div/mod), else int64_t. Shared memory:
// [slot][V][blockDim.x] floats.
template <typename TOut, typename Index, int V>
__global__ void __launch_bounds__(kThreads) pointwise_kernel(const __grid_constant__ Params p) {
  extern __shared__ float slots[];
  const int t = threadIdx.x, threads = blockDim.x;
  auto at = [&](int slot, int e) -> float& { return slots[(slot * V + e) * threads + t]; };
  const Index items = static_cast<Index>(p.n / V);
  for (Index item = static_cast<Index>(blockIdx.x) * threads + t; item < items;
       item += static_cast<Index>(gridDim.x) * threads) {
    const Index i = item * V;  // the first of this thread's output elements
    // Coordinates over the coalesced dims (loops unrolled to the fixed maximum, so
    // that the arrays stay in registers).
    Index coord[kMaxRank];
    if (p.any_strided) {
      Index rem = i;
#pragma unroll
      for (int d = kMaxRank - 1; d >= 0; --d) {
        coord[d] = 0;
        if (d < p.rank) {
          const Index dim = static_cast<Index>(p.dims[d]);
          coord[d] = rem % dim;
          rem /= dim;
        }
      }
    }
#pragma unroll
    for (int k = 0; k < kMaxIn; ++k) {
      if (k >= p.num_inputs) break;
      const uint8_t mode = p.in_mode[k];
      Index o = mode == kSame ? i : Index(0);
      if (mode == kStrided) {
#pragma unroll
        for (int d = 0; d < kMaxRank; ++d)
          if (d < p.rank) o += coord[d] * static_cast<Index>(p.strides[k][d]);
      }
      // On the vector path an input is contiguous along the inner dim, or constant along it.
      const bool runs = V > 1 && (mode == kSame || (mode == kStrided && p.strides[k][p.rank - 1] == 1));
      if (runs) {
        float v[V > 1 ? 4 : 1];
        if constexpr (V > 1) load_input4(p.in[k], p.in_type[k], static_cast<int64_t>(o), v);
#pragma unroll
        for (int e = 0; e < V; ++e) at(k, e) = v[e];
      } else {
        const float v = load_input(p.in[k], p.in_type[k], static_cast<int64_t>(o));
#pragma unroll
        for (int e = 0; e < V; ++e) at(k, e) = v;
      }
    }
#pragma unroll 1
    for (int j = 0; j < p.num_instr; ++j) {
      const Instr ins = p.prog[j];
#pragma unroll
      for (int e = 0; e < V; ++e) {
        float v;
        switch (ins.kind) {
          case 0: v = unary_math<float>(static_cast<UnaryFn>(ins.fn), at(ins.a, e), p.imm[ins.imm], p.imm[ins.imm + 1]); break;
          case 1: v = float_binary_math<float>(static_cast<BinaryFn>(ins.fn), at(ins.a, e), at(ins.b, e)); break;
          default: v = p.imm[ins.imm]; break;
        }
        at(ins.dst, e) = v;
      }
    }
    if constexpr (V > 1) {
      float v[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) v[e] = at(p.out_slot, e);
      store4<TOut>(p.out, static_cast<int64_t>(i), v);
    } else {
      static_cast<TOut*>(p.out)[i] = from_float<TOut>(at(p.out_slot, 0));
    }
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
  p.num_slots = std::max(static_cast<int32_t>(num_in), p.out_slot + 1);
  for (int j = 0; j < p.num_instr; ++j) p.num_slots = std::max<int32_t>(p.num_slots, p.prog[j].dst + 1);

  // The 4-wide path: n and the inner dim multiples of 4, every input contiguous
  // along the inner dim or constant along it (stride 0, or a scalar).
  // (Without strided inputs every input is the output's shape or a scalar: only n matters.)
  bool vec = p.n % 4 == 0;
  if (p.any_strided) {
    vec = vec && p.rank > 0 && p.dims[p.rank - 1] % 4 == 0;
    for (size_t k = 0; k < num_in && vec; ++k)
      if (p.in_mode[k] == kStrided) vec = p.strides[k][p.rank - 1] == 1 || p.strides[k][p.rank - 1] == 0;
  }
  p.vectorizable = vec;
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
  bool vec = p.vectorizable;
  for (size_t k = 0; k < args.in.size() && vec; ++k)
    vec = p.in_mode[k] == kScalar || reinterpret_cast<uintptr_t>(p.in[k]) % (4 * dtype_size(args.in[k]->dtype)) == 0;
  vec = vec && reinterpret_cast<uintptr_t>(p.out) % (4 * dtype_size(out.dtype)) == 0;
  const int V = vec ? 4 : 1;
  // Shared memory for the program's values: at most 48 KiB (the default limit), so
  // programs with many live values run in smaller blocks.
  int threads = kThreads;
  while (threads > 32 && size_t(p.num_slots) * V * threads * sizeof(float) > 48 * 1024) threads /= 2;
  const size_t shared = size_t(p.num_slots) * V * threads * sizeof(float);
  const unsigned grid = blocks_for((n + V - 1) / V, threads);
  // 32-bit indices when the index and every input offset (< n) fit.
  const bool small = n < (int64_t{1} << 31);
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    if (vec) {
      if (small) pointwise_kernel<T, uint32_t, 4><<<grid, threads, shared, args.stream>>>(p);
      else pointwise_kernel<T, int64_t, 4><<<grid, threads, shared, args.stream>>>(p);
    } else {
      if (small) pointwise_kernel<T, uint32_t, 1><<<grid, threads, shared, args.stream>>>(p);
      else pointwise_kernel<T, int64_t, 1><<<grid, threads, shared, args.stream>>>(p);
    }
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
