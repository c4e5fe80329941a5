// Pieces shared by the three CUDA attention tactics (attention.cu dispatches):
// the problem parsed once from the step's shapes, the device-side view of a
// broadcast mask, and each tactic's host entry points.
//   flash (attention_flash.cu): tensor-core (WMMA) flash attention, fp16/bf16,
//          head dims 32/64/128 with E == Ev, one CTA per (head, 64 query rows);
//          "flash32" the same with 32-row blocks (twice the CTAs, for small batches).
//   gemm  (attention_gemm.cu): cuBLASLt S = scale q k^T into the workspace,
//          a fused mask + softmax kernel, cuBLASLt P v.
//   rows  (attention.cu): one warp per query row with an online softmax; runs
//          every case (the fallback).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_util.cuh"
#include "ir/attention_geometry.h"

namespace ingot::cuda {

// Mask of a step, as the kernels read it: element (bh, i, j) of the full
// [B.., Hq, L, S] index space is data[base(bh) + i * ms_l + j * ms_s].
struct AttnMask {
  int kind = 0;  // 0 none, 1 bool (true keeps), 2 additive (q's dtype)
  const void* data = nullptr;
  int lead_rank = 0;  // dims of [B.., Hq]
  int64_t lead_dims[kMaxRank] = {}, lead_strides[kMaxRank] = {};
  int64_t ms_l = 0, ms_s = 0;

  // Offset of (batch.., head) number bh (flat over [B.., Hq]) in the mask.
  __host__ __device__ __forceinline__ int64_t base(int64_t bh) const {
    int64_t off = 0;
    for (int d = lead_rank - 1; d >= 0; --d) {
      off += (bh % lead_dims[d]) * lead_strides[d];
      bh /= lead_dims[d];
    }
    return off;
  }
};

// Sizes of one attention step (static per step), parsed from the shapes.
struct AttnProblem {
  DType dtype = DType::kFloat32;
  int64_t batch = 0, hq = 0, hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  int64_t heads = 0;  // batch * hq
  // Where (b, h, i, e) of q, k, v, out lives (ir/attention_geometry.h): dense
  // tensors, or views into larger ones set by the fold_attention_views pass.
  AttnView q, k, v, out;
  bool strided = false;
  int flash_block_m = 64;  // flash: query rows per CTA (64, or 32 with tactic "flash32")
  int mma_key_block = 64;  // mma: keys per block (64, or 32 with tactic "mma_k32")
  float scale = 1.f;
  bool causal = false;
  AttnMask mask;  // data pointer refreshed from the arguments on every run
};

// --- shared by the tensor-core tactics (flash, mma) ---

constexpr float kLog2e = 1.4426950408889634f;

// What the flash and mma kernels read per launch.
struct FlashKernelParams {
  int64_t hq = 0, group = 1, L = 0, S = 0;
  AttnView q, k, v, out;   // rows of each head are stride_row elements apart
  float scale_log2 = 0.f;  // scale * log2(e): scores are kept in the log2 domain
  bool causal = false;
  AttnMask mask;
};

inline FlashKernelParams flash_kernel_params(const AttnProblem& ap) {
  FlashKernelParams p;
  p.hq = ap.hq;
  p.group = ap.hq / ap.hkv;
  p.L = ap.L;
  p.S = ap.S;
  p.q = ap.q;
  p.k = ap.k;
  p.v = ap.v;
  p.out = ap.out;
  p.scale_log2 = ap.scale * kLog2e;
  p.causal = ap.causal;
  p.mask = ap.mask;
  return p;
}

// The checks both tensor-core kernels share: fp16/bf16, E == Ev in {32, 64, 128},
// 16-byte aligned view rows, a grid that fits. `name` labels the messages.
Status tensor_core_check(const AttnProblem& p, const std::string& name);

// Calls f.template run<T, D, BM>() for the problem's dtype, head size and query
// block (p.flash_block_m: 64 or 32).
template <typename F>
Status dispatch_tensor_core(const AttnProblem& p, const F& f, const std::string& name) {
  auto by_dim = [&](auto tag) -> Status {
    using T = decltype(tag);
    const bool small = p.flash_block_m == 32;
    switch (p.E) {
      case 32: return small ? f.template run<T, 32, 32>() : f.template run<T, 32, 64>();
      case 64: return small ? f.template run<T, 64, 32>() : f.template run<T, 64, 64>();
      case 128: return small ? f.template run<T, 128, 32>() : f.template run<T, 128, 64>();
      default: return unsupported("[cuda attention] " + name + ": head size " + std::to_string(p.E));
    }
  };
  if (p.dtype == DType::kFloat16) return by_dim(__half{});
  if (p.dtype == DType::kBFloat16) return by_dim(__nv_bfloat16{});
  return unsupported("[cuda attention] " + name + ": dtype " + std::string(dtype_name(p.dtype)));
}

// --- flash (attention_flash.cu) ---
// Whether flash can run this problem at all (dtype, head sizes): ok or `unsupported`.
Status flash_check(const AttnProblem& p);
// Whether the current pointers suit its 16-byte asynchronous copies.
bool flash_aligned(const KernelArgs& args);
// First-run setup (opts the kernel in to its dynamic shared memory size).
Status flash_prepare(const AttnProblem& p);
Status flash_launch(const AttnProblem& p, const KernelArgs& args);

// --- gemm (attention_gemm.cu) ---
// Workspace bytes of the score matrix (fp32, rows padded) plus cuBLASLt's scratch.
size_t gemm_attention_workspace(const AttnProblem& p);
Status gemm_check(const AttnProblem& p, size_t workspace_bytes);
// Builds the cuBLASLt descriptors and algorithms for the current pointers' alignment.
Result<std::unique_ptr<StepState>> gemm_prepare(const AttnProblem& p, const KernelArgs& args);
// Whether a plan built by gemm_prepare still suits the current pointers.
bool gemm_plan_fits(const StepState& plan, const KernelArgs& args);
Status gemm_launch(const StepState& plan, const AttnProblem& p, const KernelArgs& args);

// --- mma (attention_mma.cu) ---
// FlashAttention-2-style kernel on raw mma.sync m16n8k16 + ldmatrix, everything
// in registers; fp16/bf16, E == Ev in {32, 64, 128}. Tactics "mma" (64 query rows,
// 4 warps per CTA) and "mma32" (32 rows, 2 warps), chosen by p.flash_block_m;
// "mma_k32" is "mma" with 32-key blocks (p.mma_key_block) and 4 CTAs an SM at D <= 64.
// Pointer alignment is checked with flash_aligned (same 16-byte copies).
Status mma_check(const AttnProblem& p);
Status mma_prepare(const AttnProblem& p);
Status mma_launch(const AttnProblem& p, const KernelArgs& args);

// --- rows (attention.cu) ---
Status rows_launch(const AttnProblem& p, const KernelArgs& args);

// Element offset of head (b, h) of a view.
__host__ __device__ __forceinline__ int64_t view_base(const AttnView& view, int64_t b, int64_t h) {
  return view.offset + b * view.stride_b + h * view.stride_h;
}

// Largest power of two (up to 256) dividing every one of the byte offsets/addresses.
inline uint32_t alignment_of(std::initializer_list<uint64_t> values) {
  uint32_t a = 256;
  for (uint64_t v : values)
    while (a > 1 && v % a != 0) a >>= 1;
  return a;
}

}  // namespace ingot::cuda
