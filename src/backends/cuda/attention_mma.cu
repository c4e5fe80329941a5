// The "mma" attention tactic: a FlashAttention-2-style kernel for fp16/bf16 with
// head size D = E = Ev in {32, 64, 128} that keeps scores, probabilities and the
// output accumulator in registers, using raw PTX mma.sync m16n8k16 (fp32
// accumulate) fed by ldmatrix. It replaces the WMMA "flash" kernel's round trips
// of S, P and the P V block through shared memory (the WMMA fragment layout is
// opaque, so that kernel has to spill them to get at rows).
//
// One CTA of BM / 16 warps per (batch*head, block of BM query rows): BM = 64
// ("mma", 4 warps) or 32 ("mma32", 2 warps, twice the CTAs for small batches).
// Each warp owns 16 query rows, so a row's softmax never leaves its warp.
//   Q tile: cp.async to shared memory once, then to A fragments (ldmatrix.x4),
//           held in registers up to D = 64 (reloaded per key block at 128, which
//           keeps the 64 accumulator registers of O from spilling).
//   K, V:   blocks of 64 keys (32 with "mma_k32") in a ring of 3 buffers (4 for
//           32-key blocks, 2 at D = 128 or 32-row blocks, for shared memory), cp.async 16-byte copies (zero-filled
//           past S): the next two blocks' copies in flight while one is
//           computed (all of BERT's 128 keys from the start), one wait +
//           __syncthreads per block. Warps whose rows are all past L skip the
//           math; key steps past the last key a warp may see are skipped.
//   S = Q K^T      K rows are the columns of B ("col" operand): ldmatrix.x4
//                  without .trans gives B fragments for two n8 key tiles.
//   softmax        scale (log2 domain, exp2f), mask, causal, key bounds on the
//                  accumulators in place; running max and sum per row, the max
//                  reduced over the row's quad (__shfl_xor 1, 2). Mask reads are
//                  immediate offsets from one row pointer (key stride 1 or 0).
//   O += P V       the S accumulators of two adjacent n8 tiles, packed to
//                  fp16/bf16 pairs, are exactly the A fragment of one k16 step
//                  (FA2's register reuse); V (row-major [key][e]) gives B
//                  fragments through ldmatrix.x4.trans.
//   output         divided by the row sum, staged in the warp's own Q rows of
//                  shared memory, written with 16-byte stores through the view.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 .f16/.bf16; g = lane / 4, t = lane % 4;
// each register holds two 16-bit values, the lower column in the low half):
//   A 16x16 (row)   a0 (g, 2t..2t+1)   a1 (g+8, 2t..)   a2 (g, 2t+8..)   a3 (g+8, 2t+8..)
//   B 16x8  (col)   b0 (k 2t..2t+1, n g)   b1 (k 2t+8..2t+9, n g)
//   C 16x8  (f32)   c0,c1 (g, 2t..2t+1)    c2,c3 (g+8, 2t..2t+1)
//   ldmatrix.x4: lanes 8i..8i+7 give the row addresses of 8x8 matrix i, which
//   lands in register i: lane l gets row l/4, columns 2(l%4)..+1 (with .trans:
//   rows 2(l%4)..+1 of column l/4).
// Rows of Q, K, V in shared memory are padded by 8 halves, so the 8 rows of an
// ldmatrix (and of the output staging) fall in distinct banks.
//
// Rows past L are computed on zero queries and never written. Rows whose every
// key is masked keep l = 0 and give zeros (the CPU reference's rule); the max is
// guarded so exp2f never sees -inf - -inf.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>
#include <string>

#include "backends/cuda/attention_common.cuh"
#include "backends/cuda/mma_util.cuh"

namespace ingot::cuda {
namespace {

template <int BM> constexpr int kMmaThreads = BM / 16 * 32;
// CTAs per SM the register allocation must allow: up to D = 64, 12 warps per SM
// (168 registers a thread, no spills with sm_90 ptxas); at 128, whatever fits
// (shared memory allows two 64-row CTAs anyway).
// With 32-key blocks ("mma_k32") the S tile halves, which lets four 64-row CTAs
// share an SM (128 registers a thread): more warps to hide latency with.
template <int D, int BM, int KB> constexpr int kMmaMinBlocks = D <= 64 ? (KB == 32 ? 4 : 3) * 64 / BM : 1;

// Key blocks in flight: three (two loading while one is computed) where shared
// memory still allows three 64-row CTAs an SM (D <= 64), four with 32-key blocks,
// else two.
template <int D, int BM, int KB> constexpr int kMmaStages = KB == 32 ? 4 : D <= 64 && BM == 64 ? 3 : 2;

// Shared memory, in elements of 16 bits: Q [BM][ld], K [stages][KB][ld], V [stages][KB][ld].
template <int D, int BM, int KB>
struct MmaSmem {
  static constexpr int ld = D + 8;
  static constexpr int stages = kMmaStages<D, BM, KB>;
  static constexpr int q_elems = BM * ld;
  static constexpr int kv_elems = KB * ld;  // one K or V buffer
  static constexpr size_t bytes = (size_t{q_elems} + 2 * stages * size_t{kv_elems}) * 2;
  static_assert(D % 16 == 0 && (ld * 2) % 16 == 0, "rows must start 16-byte aligned");
};


// Rows [row0, row0 + kRows) of a matrix with rows ld_g elements apart into shared
// memory (rows D + 8 elements apart), zeros for rows >= rows.
template <typename T, int D, int kRows, int kThreads>
__device__ __forceinline__ void load_tile_async(T* smem, const T* __restrict__ g, int64_t ld_g, int64_t row0,
                                                int64_t rows, int tid) {
  constexpr int kChunks = D / 8;                    // 16-byte chunks per row
  constexpr int kRowsPerPass = kThreads / kChunks;  // rows the CTA copies per pass
  static_assert(kThreads % kChunks == 0 && kRows % kRowsPerPass == 0, "every thread copies whole passes");
  const int r0 = tid / kChunks, col = (tid % kChunks) * 8;
  // One source pointer stepped pass by pass (rather than one address per pass,
  // which the compiler would keep live across the whole key loop).
  const T* src = g + (row0 + r0) * ld_g + col;
  const int64_t step = kRowsPerPass * ld_g;
  const int64_t left = rows - row0 - r0;  // rows this thread may still read
  const uint32_t dst = smem_u32(smem + r0 * (D + 8) + col);
#pragma unroll
  for (int it = 0; it < kRows / kRowsPerPass; ++it) {
    const bool in = it * kRowsPerPass < left;
    cp_async16(dst + it * kRowsPerPass * (D + 8) * 2, in ? src : g, in);
    src += step;
  }
}

template <typename T, int D, int BM, int KB>
__global__ void __launch_bounds__(kMmaThreads<BM>, kMmaMinBlocks<D, BM, KB>)
    mma_attention_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         T* __restrict__ out, FlashKernelParams p) {
  using Sm = MmaSmem<D, BM, KB>;
  constexpr int kKeysPerBlock = KB;
  constexpr int kThreads = kMmaThreads<BM>;
  constexpr int kLd = Sm::ld;
  constexpr int kQkSteps = D / 16;                 // k16 steps of Q K^T
  constexpr int kSTiles = kKeysPerBlock / 8;       // n8 key tiles of S
  constexpr int kOTiles = D / 8;                   // n8 column tiles of O
  extern __shared__ __align__(128) unsigned char mma_smem[];
  T* q_s = reinterpret_cast<T*>(mma_smem);
  T* k_s = q_s + Sm::q_elems;               // Sm::stages buffers of kv_elems
  T* v_s = k_s + Sm::stages * Sm::kv_elems;  // Sm::stages buffers of kv_elems

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t4 = lane & 3;

  const int64_t q_blocks = (p.L + BM - 1) / BM;
  const int64_t bh = blockIdx.x / q_blocks;
  const int64_t m0 = (blockIdx.x % q_blocks) * BM;
  const int64_t b = bh / p.hq, h = bh % p.hq;
  const T* qh = q + view_base(p.q, b, h);
  const T* kh = k + view_base(p.k, b, h / p.group);
  const T* vh = v + view_base(p.v, b, h / p.group);

  // Keys this CTA needs: all, or with the causal mask those up to its last row.
  int64_t key_end = p.S;
  if (p.causal) {
    const int64_t last_row_end = m0 + BM < p.L ? m0 + BM : p.L;
    if (last_row_end < key_end) key_end = last_row_end;
  }
  const int n_blocks = static_cast<int>((key_end + kKeysPerBlock - 1) / kKeysPerBlock);

  // One commit group per key block (Q joins block 0's), always committed, even
  // empty, so that block jb is always group jb. The prologue starts blocks
  // 0 .. stages - 2; iteration jb starts block jb + stages - 1.
  auto load_block = [&](int jb) {
    if (jb < n_blocks) {
      const int64_t n0 = static_cast<int64_t>(jb) * kKeysPerBlock;
      const int slot = jb % Sm::stages;
      load_tile_async<T, D, kKeysPerBlock, kThreads>(k_s + slot * Sm::kv_elems, kh, p.k.stride_row, n0, p.S, tid);
      load_tile_async<T, D, kKeysPerBlock, kThreads>(v_s + slot * Sm::kv_elems, vh, p.v.stride_row, n0, p.S, tid);
    }
    cp_async_commit();
  };
  load_tile_async<T, D, BM, kThreads>(q_s, qh, p.q.stride_row, m0, p.L, tid);
#pragma unroll
  for (int jb = 0; jb < Sm::stages - 1; ++jb) load_block(jb);

  // This thread's two rows: g and g + 8 of the warp's 16. Keys at or past
  // row_key_end (S, or with the causal mask row + 1) are masked out.
  const int64_t warp_row0 = m0 + warp * 16;
  int64_t row_key_end[2], mask_row[2];
  bool read_mask[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = warp_row0 + g + 8 * r;
    row_key_end[r] = p.causal && row + 1 < p.S ? row + 1 : p.S;
    read_mask[r] = p.mask.kind != 0 && row < p.L;  // rows past L are never written
    mask_row[r] = read_mask[r] ? p.mask.base(bh) + row * p.mask.ms_l : 0;
  }

  const bool warp_active = warp_row0 < p.L;
  const int64_t warp_key_end = p.causal && warp_row0 + 16 < key_end ? warp_row0 + 16 : key_end;

  // Per-lane ldmatrix row addresses (shared, bytes). Q (A, 16x16): matrices (rows 0-7 | 8-15) x
  // (cols 0-7 | 8-15) in a0..a3 order. K (B of two n8 key tiles, one k16 step):
  // (keys 0-7, e 0-7), (keys 0-7, e 8-15), (keys 8-15, e 0-7), (keys 8-15, e 8-15).
  // V .trans (B of two n8 e-tiles, one k16 step of keys): (keys 0-7, e 0-7),
  // (keys 8-15, e 0-7), (keys 0-7, e 8-15), (keys 8-15, e 8-15).
  const uint32_t q_lane = smem_u32(q_s + (warp * 16 + (lane & 15)) * kLd + (lane >> 4) * 8);
  const uint32_t k_lane = smem_u32(k_s + ((lane & 7) + ((lane >> 4) << 3)) * kLd + ((lane >> 3) & 1) * 8);
  const uint32_t v_lane = smem_u32(v_s + ((lane & 7) + (((lane >> 3) & 1) << 3)) * kLd + (lane >> 4) * 8);
  constexpr uint32_t kBufBytes = Sm::kv_elems * 2;

  // Q fragments stay in registers up to D = 64; at 128 they would push the
  // accumulators into spills, so they are reloaded from shared memory per block.
  constexpr bool kQInRegs = D <= 64;
  uint32_t q_frag[kQInRegs ? kQkSteps : 1][4];
  float o[kOTiles][4];
#pragma unroll
  for (int ot = 0; ot < kOTiles; ++ot) o[ot][0] = o[ot][1] = o[ot][2] = o[ot][3] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};  // l_run: this thread's part of the row sum

  for (int jb = 0; jb < n_blocks; ++jb) {
    // Block jb (and on the first pass Q) has landed for every thread (groups
    // after jb's: stages - 2), and every warp is done with block jb - 1, whose
    // buffer the next copy overwrites.
    cp_async_wait_group<Sm::stages - 2>();
    __syncthreads();
    load_block(jb + Sm::stages - 1);
    if (kQInRegs && jb == 0) {
#pragma unroll
      for (int kk = 0; kk < kQkSteps; ++kk) ldmatrix_x4(q_frag[kQInRegs ? kk : 0], q_lane + kk * 16 * 2);
    }
    const uint32_t buf = (jb % Sm::stages) * kBufBytes;
    const int64_t n0 = static_cast<int64_t>(jb) * kKeysPerBlock;

    // Warps whose rows are all past L only help with the copies. A warp computes
    // the key tiles up to the last key any of its rows may see (the block's end,
    // S, or with the causal mask its last row + 1): 16-key steps past it are
    // skipped (ViT's 197 keys: the last block's 5 keys cost one step, not four).
    if (!warp_active) continue;
    const int64_t keys_left = warp_key_end - n0;
    const int kv_valid = keys_left >= kKeysPerBlock ? kKeysPerBlock : static_cast<int>(keys_left);

    // S = Q K^T: 16 rows x KB keys per warp.
    float s[kSTiles][4];
#pragma unroll
    for (int nt = 0; nt < kSTiles; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kQkSteps; ++kk) {
      const int qi = kQInRegs ? kk : 0;
      if constexpr (!kQInRegs) ldmatrix_x4(q_frag[0], q_lane + kk * 16 * 2);
#pragma unroll
      for (int np = 0; np < kSTiles / 2; ++np) {
        if (np * 16 >= kv_valid) break;
        uint32_t kb[4];
        ldmatrix_x4(kb, k_lane + buf + (np * 16 * kLd + kk * 16) * 2);
        mma_16816<T>(s[2 * np], q_frag[qi], kb[0], kb[1]);
        mma_16816<T>(s[2 * np + 1], q_frag[qi], kb[2], kb[3]);
      }
    }

    // Scale to the log2 domain and add the mask, as additive log2-domain values;
    // read once for both rows when they share a mask row (a padding mask broadcast
    // over queries: BERT's). Reads stop at the warp's last key (the per-row bound
    // below masks the rest). The mask's key stride is 1 or 0 (broadcast; mma_check
    // insists), so the reads are immediate offsets from one row pointer.
    const bool per_key = p.mask.ms_s != 0;
    const bool mask_rows_shared = read_mask[0] && read_mask[1] && mask_row[0] == mask_row[1];
    auto mask_at = [&](int r, int nt, int e) -> float {
      if (!read_mask[r] || nt * 8 + 2 * t4 + e >= kv_valid) return 0.f;
      const int64_t at = mask_row[r] + (per_key ? n0 + nt * 8 + 2 * t4 + e : 0);
      if (p.mask.kind == 1) return static_cast<const bool*>(p.mask.data)[at] ? 0.f : -INFINITY;
      return widen(static_cast<const T*>(p.mask.data)[at]) * kLog2e;
    };
#pragma unroll
    for (int nt = 0; nt < kSTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float m0 = mask_at(0, nt, e), m1 = mask_rows_shared ? m0 : mask_at(1, nt, e);
        s[nt][e] = s[nt][e] * p.scale_log2 + m0;
        s[nt][2 + e] = s[nt][2 + e] * p.scale_log2 + m1;
      }

    // Online softmax for rows g (r = 0: s[..][0..1]) and g + 8 (r = 1: s[..][2..3]).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      // Keys of this block the row may see: [0, valid) (in 0..KB).
      const int64_t left = row_key_end[r] - n0;
      const int valid = left <= 0 ? 0 : left >= kKeysPerBlock ? kKeysPerBlock : static_cast<int>(left);
      float block_max = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          if (nt * 8 + 2 * t4 + e >= valid) s[nt][2 * r + e] = -INFINITY;
          block_max = fmaxf(block_max, s[nt][2 * r + e]);
        }
      }
      block_max = fmaxf(block_max, __shfl_xor_sync(0xffffffffu, block_max, 1));
      block_max = fmaxf(block_max, __shfl_xor_sync(0xffffffffu, block_max, 2));
      const float m_new = fmaxf(m_run[r], block_max);
      // Nothing unmasked yet: probabilities 0, the (zero) accumulator unchanged.
      const bool none = m_new == -INFINITY;
      const float corr = none ? 1.f : exp2f(m_run[r] - m_new);  // 0 when m_run is -inf
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float pr = none ? 0.f : exp2f(s[nt][2 * r + e] - m_new);
          s[nt][2 * r + e] = pr;
          sum += pr;
        }
      }
      l_run[r] = l_run[r] * corr + sum;
      m_run[r] = m_new;
#pragma unroll
      for (int ot = 0; ot < kOTiles; ++ot) {
        o[ot][2 * r] *= corr;
        o[ot][2 * r + 1] *= corr;
      }
    }

    // O += P V: key tiles 2kk and 2kk + 1 of S form the A fragment of k16 step kk.
#pragma unroll
    for (int kk = 0; kk < kKeysPerBlock / 16; ++kk) {
      if (kk * 16 >= kv_valid) break;
      const uint32_t pa[4] = {pack_pair<T>(s[2 * kk][0], s[2 * kk][1]), pack_pair<T>(s[2 * kk][2], s[2 * kk][3]),
                              pack_pair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack_pair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, v_lane + buf + (kk * 16 * kLd + dp * 16) * 2);
        mma_16816<T>(o[2 * dp], pa, vb[0], vb[1]);
        mma_16816<T>(o[2 * dp + 1], pa, vb[2], vb[3]);
      }
    }
  }
  // Every copy (Q included, when there were no keys) has landed and every warp is
  // past its last ldmatrix before the Q rows are reused for staging.
  cp_async_wait_all();
  __syncthreads();

  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = l_run[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    inv[r] = l > 0.f ? 1.f / l : 0.f;
  }
  // Stage the warp's 16 output rows in its own Q rows (only this warp read them).
  uint32_t* stage = reinterpret_cast<uint32_t*>(q_s + warp * 16 * kLd);
#pragma unroll
  for (int ot = 0; ot < kOTiles; ++ot) {
    stage[(g * kLd + ot * 8 + 2 * t4) / 2] = pack_pair<T>(o[ot][0] * inv[0], o[ot][1] * inv[0]);
    stage[((g + 8) * kLd + ot * 8 + 2 * t4) / 2] = pack_pair<T>(o[ot][2] * inv[1], o[ot][3] * inv[1]);
  }
  __syncwarp();
  T* oh = out + view_base(p.out, b, h);  // rows past L are not written
  const T* stage_t = q_s + warp * 16 * kLd;
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int c = lane; c < 16 * kChunks; c += 32) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const int64_t orow = warp_row0 + r;
    if (orow < p.L)
      *reinterpret_cast<uint4*>(oh + orow * p.out.stride_row + col) =
          *reinterpret_cast<const uint4*>(stage_t + r * kLd + col);
  }
}

template <typename T, int D, int BM, int KB>
Status set_smem_attribute() {
  return cuda_status(cudaFuncSetAttribute(mma_attention_kernel<T, D, BM, KB>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(MmaSmem<D, BM, KB>::bytes)),
                     "cudaFuncSetAttribute (mma attention shared memory)");
}

template <typename T, int D, int BM, int KB>
Status launch_typed(const AttnProblem& ap, const KernelArgs& args) {
  const FlashKernelParams p = flash_kernel_params(ap);
  const int64_t grid = ap.heads * ((ap.L + BM - 1) / BM);
  mma_attention_kernel<T, D, BM, KB><<<static_cast<unsigned>(grid), kMmaThreads<BM>, MmaSmem<D, BM, KB>::bytes,
                                       args.stream>>>(
      static_cast<const T*>(args.in[0]->data), static_cast<const T*>(args.in[1]->data),
      static_cast<const T*>(args.in[2]->data), static_cast<T*>(args.out[0]->data), p);
  INGOT_CUDA_CHECK_LAUNCH("attention (mma)");
  return {};
}

struct PrepareFn {
  const AttnProblem& p;
  template <typename T, int D, int BM> Status run() const {
    if constexpr (BM == 64 && D <= 64)
      if (p.mma_key_block == 32) return set_smem_attribute<T, D, BM, 32>();
    return set_smem_attribute<T, D, BM, 64>();
  }
};
struct LaunchFn {
  const AttnProblem& p;
  const KernelArgs& args;
  template <typename T, int D, int BM> Status run() const {
    if constexpr (BM == 64 && D <= 64)
      if (p.mma_key_block == 32) return launch_typed<T, D, BM, 32>(p, args);
    return launch_typed<T, D, BM, 64>(p, args);
  }
};

}  // namespace

Status mma_check(const AttnProblem& p) {
  INGOT_RETURN_IF_ERROR(tensor_core_check(p, "mma"));
  if (p.mask.kind != 0 && p.mask.ms_s != 0 && p.mask.ms_s != 1)
    return unsupported("[cuda attention] mma: the mask's key dimension must be contiguous or broadcast");
  if (p.hkv <= 0 || p.hq % p.hkv != 0)
    return unsupported("[cuda attention] mma: query heads must be a multiple of key/value heads");
  return {};
}

Status mma_prepare(const AttnProblem& p) { return dispatch_tensor_core(p, PrepareFn{p}, "mma"); }

Status mma_launch(const AttnProblem& p, const KernelArgs& args) { return dispatch_tensor_core(p, LaunchFn{p, args}, "mma"); }

}  // namespace ingot::cuda
