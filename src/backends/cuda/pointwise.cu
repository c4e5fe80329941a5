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
// Where the output's innermost (coalesced) dim is a multiple of 8 (or 4) and every
// input runs along it contiguously or is constant along it, each thread handles 8
// (or 4) consecutive elements: 16-byte loads and stores for 16-bit types, one index
// computation and one program decode per vector, each instruction's function
// dispatched once per vector. Inputs broadcast only along leading dims (biases,
// position embeddings) are addressed by one remainder, without splitting the index
// into coordinates. The math is the elementwise kernels' own (elementwise_math.cuh).
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
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

// How input k is addressed from the output index i: the same element, element 0,
// i % period (an input broadcast only along leading dims: a bias, a position
// embedding; one 32-bit remainder instead of a split of i into coordinates), or
// strides over the coalesced dims.
enum InMode : uint8_t { kSame = 0, kScalar = 1, kStrided = 2, kPeriodic = 3 };
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
  int64_t period[kMaxIn];              // kPeriodic inputs: numel
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
  uint8_t vector_width;  // 8, 4 or 1: the widest vector path the shapes allow (pointer alignment is checked per run)
  uint8_t add_chain;     // add_chain_kernel runs the step (see there)
};
static_assert(sizeof(Params) < 4000, "kernel arguments must stay under the 4 KiB launch limit");

__device__ __forceinline__ float load_input(const void* p, uint8_t type, int64_t off) {
  switch (type) {
    case kF16: return __half2float(static_cast<const __half*>(p)[off]);
    case kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[off]);
    default: return static_cast<const float*>(p)[off];
  }
}

// V (4 or 8) consecutive elements from off, aligned to V elements (the host checks):
// one 8- or 16-byte load for 16-bit types, V / 4 float4 loads for float32.
template <int V>
__device__ __forceinline__ void load_vector(const void* p, uint8_t type, int64_t off, float v[V]) {
  if (type == kF32) {
#pragma unroll
    for (int q = 0; q < V / 4; ++q) {
      const float4 f = reinterpret_cast<const float4*>(static_cast<const float*>(p) + off)[q];
      v[4 * q] = f.x; v[4 * q + 1] = f.y; v[4 * q + 2] = f.z; v[4 * q + 3] = f.w;
    }
    return;
  }
  using Raw = std::conditional_t<V == 8, uint4, uint2>;
  const Raw raw = *reinterpret_cast<const Raw*>(static_cast<const uint16_t*>(p) + off);
  uint32_t words[V / 2];
  memcpy(words, &raw, sizeof(raw));
#pragma unroll
  for (int q = 0; q < V / 2; ++q) {
    float2 f;
    if (type == kF16) {
      __half2 h;
      memcpy(&h, &words[q], 4);
      f = __half22float2(h);
    } else {
      __nv_bfloat162 h;
      memcpy(&h, &words[q], 4);
      f = __bfloat1622float2(h);
    }
    v[2 * q] = f.x;
    v[2 * q + 1] = f.y;
  }
}

template <typename TOut, int V>
__device__ __forceinline__ void store_vector(void* p, int64_t off, const float v[V]) {
  if constexpr (sizeof(TOut) == 4) {
#pragma unroll
    for (int q = 0; q < V / 4; ++q)
      reinterpret_cast<float4*>(static_cast<float*>(p) + off)[q] =
          make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
  } else {
    TOut h[V];
#pragma unroll
    for (int e = 0; e < V; ++e) h[e] = from_float<TOut>(v[e]);
    using Raw = std::conditional_t<V == 8, uint4, uint2>;
    Raw raw;
    memcpy(&raw, h, sizeof(raw));
    *reinterpret_cast<Raw*>(static_cast<TOut*>(p) + off) = raw;
  }
}

// One instruction over a thread's V values: operands and result are slot columns
// (element e at [e * threads]). The function is dispatched once per V elements,
// and the common ones are compiled as straight-line code: a switch per element is
// what bounded the interpreter on simple broadcast adds. The result may share an
// operand's slot: each element's operands are read before it is written.
template <int V, typename F>
__device__ __forceinline__ void each(float* d, const float* a, const float* b, int threads, F f) {
#pragma unroll
  for (int e = 0; e < V; ++e) d[e * threads] = f(a[e * threads], b[e * threads]);
}

#define INGOT_PW_BINARY(F)                                                                               \
  case BinaryFn::F:                                                                                      \
    each<V>(d, a, b, threads, [](float x, float y) { return float_binary_math<float>(BinaryFn::F, x, y); }); \
    return;
#define INGOT_PW_UNARY(F)                                                                                \
  case UnaryFn::F:                                                                                       \
    each<V>(d, a, a, threads, [=](float x, float) { return unary_math<float>(UnaryFn::F, x, alpha, beta); }); \
    return;

template <int V>
__device__ __forceinline__ void binary_step(BinaryFn fn, float* d, const float* a, const float* b, int threads) {
  switch (fn) {
    INGOT_PW_BINARY(kAdd)
    INGOT_PW_BINARY(kSub)
    INGOT_PW_BINARY(kMul)
    INGOT_PW_BINARY(kDiv)
    INGOT_PW_BINARY(kMaximum)
    INGOT_PW_BINARY(kMinimum)
    default: each<V>(d, a, b, threads, [fn](float x, float y) { return float_binary_math<float>(fn, x, y); });
  }
}

template <int V>
__device__ __forceinline__ void unary_step(UnaryFn fn, float* d, const float* a, float alpha, float beta,
                                           int threads) {
  switch (fn) {
    INGOT_PW_UNARY(kNeg)
    INGOT_PW_UNARY(kExp)
    INGOT_PW_UNARY(kTanh)
    INGOT_PW_UNARY(kSigmoid)
    INGOT_PW_UNARY(kRelu)
    INGOT_PW_UNARY(kGelu)
    INGOT_PW_UNARY(kGeluTanh)
    INGOT_PW_UNARY(kSilu)
    INGOT_PW_UNARY(kRsqrt)
    INGOT_PW_UNARY(kClamp)
    default: each<V>(d, a, a, threads, [=](float x, float) { return unary_math<float>(fn, x, alpha, beta); });
  }
}
#undef INGOT_PW_BINARY
#undef INGOT_PW_UNARY

// V output elements per thread (8 or 4 on the vector paths, else 1); Index:
// uint32_t where every offset fits (the common case: 32-bit div/mod), else int64_t.
// Shared memory: [slot][V][blockDim.x] floats.
template <typename TOut, typename Index, int V>
__global__ void __launch_bounds__(kThreads) pointwise_kernel(const __grid_constant__ Params p) {
  extern __shared__ float slots[];
  const int t = threadIdx.x, threads = blockDim.x;
  auto column = [&](int slot) { return slots + slot * V * threads + t; };
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
      if (mode == kPeriodic) o = i % static_cast<Index>(p.period[k]);
      if (mode == kStrided) {
#pragma unroll
        for (int d = 0; d < kMaxRank; ++d)
          if (d < p.rank) o += coord[d] * static_cast<Index>(p.strides[k][d]);
      }
      // On the vector paths an input runs along the inner dim (the same, periodic, or
      // strided with inner stride 1) or is constant along it.
      const bool runs =
          V > 1 && (mode == kSame || mode == kPeriodic || (mode == kStrided && p.strides[k][p.rank - 1] == 1));
      float* col = column(k);
      if (runs) {
        float v[V];
        if constexpr (V > 1) load_vector<V>(p.in[k], p.in_type[k], static_cast<int64_t>(o), v);
#pragma unroll
        for (int e = 0; e < V; ++e) col[e * threads] = v[e];
      } else {
        const float v = load_input(p.in[k], p.in_type[k], static_cast<int64_t>(o));
#pragma unroll
        for (int e = 0; e < V; ++e) col[e * threads] = v;
      }
    }
#pragma unroll 1
    for (int j = 0; j < p.num_instr; ++j) {
      const Instr ins = p.prog[j];
      float* d = column(ins.dst);
      switch (ins.kind) {
        case 0:
          unary_step<V>(static_cast<UnaryFn>(ins.fn), d, column(ins.a), p.imm[ins.imm], p.imm[ins.imm + 1], threads);
          break;
        case 1: binary_step<V>(static_cast<BinaryFn>(ins.fn), d, column(ins.a), column(ins.b), threads); break;
        default: {
          const float c = p.imm[ins.imm];
#pragma unroll
          for (int e = 0; e < V; ++e) d[e * threads] = c;
        }
      }
    }
    const float* result = column(p.out_slot);
    if constexpr (V > 1) {
      float v[V];
#pragma unroll
      for (int e = 0; e < V; ++e) v[e] = result[e * threads];
      store_vector<TOut, V>(p.out, static_cast<int64_t>(i), v);
    } else {
      static_cast<TOut*>(p.out)[i] = from_float<TOut>(result[0]);
    }
  }
}

// Programs that only sum their inputs in order (in0 + in1 + ...: residual and
// embedding adds, a position-embedding add) with every input of the output's type
// and none strided: straight-line code in registers, none of the interpreter's
// shared memory, all loads in flight together. The sum runs in fp32 in the
// program's order, so the numbers are the interpreter's.
template <typename T, int N, int V>
__global__ void __launch_bounds__(kThreads) add_chain_kernel(const __grid_constant__ Params p) {
  const uint32_t items = static_cast<uint32_t>(p.n / V);
  for (uint32_t item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += gridDim.x * blockDim.x) {
    const uint32_t i = item * V;
    Pack<T, V> raw[N];
#pragma unroll
    for (int k = 0; k < N; ++k) {
      const T* src = static_cast<const T*>(p.in[k]);
      if (p.in_mode[k] == kScalar) {
#pragma unroll
        for (int e = 0; e < V; ++e) raw[k].v[e] = src[0];
      } else {
        const uint32_t o = p.in_mode[k] == kPeriodic ? i % static_cast<uint32_t>(p.period[k]) : i;
        raw[k] = *reinterpret_cast<const Pack<T, V>*>(src + o);
      }
    }
    float acc[V];
#pragma unroll
    for (int e = 0; e < V; ++e) acc[e] = to_float(raw[0].v[e]);
#pragma unroll
    for (int k = 1; k < N; ++k)
#pragma unroll
      for (int e = 0; e < V; ++e) acc[e] += to_float(raw[k].v[e]);
    Pack<T, V> out;
#pragma unroll
    for (int e = 0; e < V; ++e) out.v[e] = from_float<T>(acc[e]);
    *reinterpret_cast<Pack<T, V>*>(static_cast<T*>(p.out) + i) = out;
  }
}

// Whether the program is in0 + in1 + ... + in(n-1), summed left to right.
bool is_add_chain(const std::vector<PointwiseInstr>& program, size_t num_inputs) {
  if (num_inputs < 2 || program.size() + 1 != num_inputs) return false;
  for (size_t j = 0; j < program.size(); ++j) {
    const PointwiseInstr& ins = program[j];
    const int acc = j == 0 ? 0 : static_cast<int>(num_inputs + j - 1);
    if (ins.kind != PointwiseKind::kBinary || static_cast<BinaryFn>(ins.fn) != BinaryFn::kAdd || ins.a != acc ||
        ins.b != static_cast<int>(j + 1))
      return false;
  }
  return true;
}

// Whether an input repeats along the output's leading dims only: its shape, past
// leading 1s, is the output's trailing dims, so its offset is the output index
// modulo its element count.
bool periodic(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  size_t first = 0;
  while (first < in.size() && in[first] == 1) ++first;
  const size_t core = in.size() - first;
  if (core > out.size()) return false;
  return std::equal(in.begin() + static_cast<std::ptrdiff_t>(first), in.end(),
                    out.end() - static_cast<std::ptrdiff_t>(core));
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
    p.in_mode[k] = numel == p.n                          ? kSame
                   : numel == 1                          ? kScalar
                   : periodic(in->shape, out.shape)      ? kPeriodic
                                                         : kStrided;
    if (p.in_mode[k] == kPeriodic) p.period[k] = numel;
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

  // The V-wide paths: n, the inner dim and every period multiples of V, every
  // strided input contiguous along the inner dim or constant along it (stride 0).
  auto width_fits = [&](int v) {
    if (p.n % v != 0) return false;
    for (size_t k = 0; k < num_in; ++k) {
      if (p.in_mode[k] == kPeriodic && p.period[k] % v != 0) return false;
      if (p.in_mode[k] == kStrided && p.strides[k][p.rank - 1] != 1 && p.strides[k][p.rank - 1] != 0) return false;
    }
    return !p.any_strided || (p.rank > 0 && p.dims[p.rank - 1] % v == 0);
  };
  p.vector_width = width_fits(8) ? 8 : width_fits(4) ? 4 : 1;
  bool same_dtypes = true;
  for (size_t k = 0; k < num_in; ++k) same_dtypes = same_dtypes && args.in[k]->dtype == out.dtype;
  p.add_chain = same_dtypes && !p.any_strided && num_in <= 4 && p.n < (int64_t{1} << 31) &&
                is_add_chain(program, num_in);
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
  // The widest vector path whose alignment every pointer meets.
  auto aligned = [&](int v) {
    for (size_t k = 0; k < args.in.size(); ++k)
      if (p.in_mode[k] != kScalar && reinterpret_cast<uintptr_t>(p.in[k]) % (v * dtype_size(args.in[k]->dtype)) != 0)
        return false;
    return reinterpret_cast<uintptr_t>(p.out) % (v * dtype_size(out.dtype)) == 0;
  };
  int V = p.vector_width;
  while (V > 1 && !aligned(V)) V /= 2;
  if (V == 2) V = 1;
  // Shared memory for the program's values: at most 48 KiB (the default limit), so
  // programs with many live values run in smaller blocks, and 4 wide where even 32
  // threads 8 wide would not fit (more than 48 live values: 4 wide fits all 72).
  constexpr size_t kSharedLimit = 48 * 1024;
  int threads = kThreads;
  auto fit_threads = [&] {
    threads = kThreads;
    while (threads > 32 && size_t(p.num_slots) * V * threads * sizeof(float) > kSharedLimit) threads /= 2;
    return size_t(p.num_slots) * V * threads * sizeof(float) <= kSharedLimit;
  };
  if (!fit_threads() && V == 8) {
    V = 4;
    fit_threads();
  }
  const size_t shared = size_t(p.num_slots) * V * threads * sizeof(float);
  const unsigned grid = blocks_for((n + V - 1) / V, threads);
  // 32-bit indices when the index and every input offset (< n) fit.
  const bool small = n < (int64_t{1} << 31);
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    auto go = [&](auto v) {
      constexpr int kV = decltype(v)::value;
      if (p.add_chain) {
        const unsigned g = blocks_for((n + kV - 1) / kV);
        switch (p.num_inputs) {
          case 2: add_chain_kernel<T, 2, kV><<<g, kThreads, 0, args.stream>>>(p); return;
          case 3: add_chain_kernel<T, 3, kV><<<g, kThreads, 0, args.stream>>>(p); return;
          default: add_chain_kernel<T, 4, kV><<<g, kThreads, 0, args.stream>>>(p); return;
        }
      }
      if (small) pointwise_kernel<T, uint32_t, kV><<<grid, threads, shared, args.stream>>>(p);
      else pointwise_kernel<T, int64_t, kV><<<grid, threads, shared, args.stream>>>(p);
    };
    if (V == 8) go(std::integral_constant<int, 8>{});
    else if (V == 4) go(std::integral_constant<int, 4>{});
    else go(std::integral_constant<int, 1>{});
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
