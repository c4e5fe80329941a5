// The "flash" attention tactic: a tensor-core (WMMA 16x16x16, fp32 accumulate)
// flash-attention kernel for fp16/bf16 with head size D = E = Ev in {32, 64, 128}.
//
// One CTA of 4 warps per (batch*head, block of 64 query rows) — or 2 warps and 32
// rows (tactic "flash32") where there are too few heads to fill the GPU; each
// warp owns 16 query rows, so a row's softmax stays inside its warp. Per block of 64 keys:
//   S = Q K^T      WMMA, Q fragments held in registers, K^T read from shared memory
//                  as a col_major matrix_b (element (e, j) = K[j][e]);
//   softmax        S goes to the warp's fp32 scratch; lane pair (2r, 2r+1) owns row
//                  r (each lane half of the 64 columns, in pairs), applies scale,
//                  mask, causal and bounds (-inf), keeps the running max m and sum l
//                  (log2 domain, exp2f), writes P = exp2(s - m) as fp16/bf16;
//   O += P V       WMMA into fresh fragments, stored to the scratch, then each lane
//                  adds it to its register accumulator (rescaled by exp2(m_old - m)).
//                  The accumulator's row mapping is our own (not the opaque WMMA
//                  fragment layout), which is what makes the rescale safe.
// K and V blocks are fetched with cp.async (zero-filled past S) into single
// buffers, the next K while the softmax and P V run, the next V while S is
// computed. Rows past L are computed on zero queries and never written. Heads
// are read and written through the step's views (rows stride_row apart). Rows
// whose every key is masked keep l = 0 and give zeros, like the CPU reference.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <string>

#include "backends/cuda/attention_common.cuh"

namespace ingot::cuda {
namespace {

// BM: query rows per CTA, 16 per warp: 64 (4 warps), or 32 (2 warps) for twice
// the CTAs when heads x query blocks would leave SMs idle (batch 1).
constexpr int kBlockN = 64;  // keys per iteration
template <int BM> constexpr int kWarpsFor = BM / 16;
template <int BM> constexpr int kThreadsFor = BM / 16 * 32;

// Shared-memory layout (bytes) for head size D. Rows are padded (8 halves, 4
// floats) against bank conflicts; every WMMA tile start stays 32-byte aligned.
template <int D, int BM>
struct FlashSmem {
  static constexpr int warps = BM / 16;
  static constexpr int ld_qkv = D + 8;        // halves per row of Q, K, V
  static constexpr int ld_p = kBlockN + 8;    // halves per row of P
  static constexpr int ld_s = (D > kBlockN ? D : kBlockN) + 4;  // floats per scratch row
  static constexpr size_t q_off = 0;
  static constexpr size_t k_off = q_off + size_t{BM} * ld_qkv * 2;
  static constexpr size_t v_off = k_off + size_t{kBlockN} * ld_qkv * 2;
  static constexpr size_t p_off = v_off + size_t{kBlockN} * ld_qkv * 2;
  static constexpr size_t s_off = p_off + size_t{warps} * 16 * ld_p * 2;
  static constexpr size_t bytes = s_off + size_t{warps} * 16 * ld_s * 4;
  static_assert(D % 16 == 0, "head size must be a multiple of 16");
  static_assert(k_off % 128 == 0 && v_off % 128 == 0 && p_off % 128 == 0 && s_off % 128 == 0, "alignment");
  static_assert((16 * ld_qkv * 2) % 32 == 0 && (16 * ld_p * 2) % 32 == 0 && (16 * ld_s * 4) % 32 == 0,
                "WMMA tiles need 32-byte aligned starts");
};


// 16-byte global -> shared copy that bypasses registers; pred false writes zeros
// (src-size 0 reads nothing, the source address is only required to be valid).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool pred) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_size = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_size) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Rows [row0, row0 + 64) of a [rows, D] matrix whose rows are `ld_g` elements
// apart into shared memory (ld halves per row), zeros for rows >= rows.
template <typename T, int D, int kRows, int kThreads>
__device__ __forceinline__ void load_tile_async(T* smem, const T* __restrict__ g, int64_t ld_g, int64_t row0,
                                                int64_t rows, int tid) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int ld = D + 8;       // FlashSmem::ld_qkv
#pragma unroll
  for (int c = tid; c < kRows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const bool in = row0 + r < rows;
    const T* src = in ? g + (row0 + r) * ld_g + col : g;
    cp_async16(smem + r * ld + col, src, in);
  }
}

template <typename T> __device__ __forceinline__ void store_pair(T* p, float a, float b);
template <> __device__ __forceinline__ void store_pair<__half>(__half* p, float a, float b) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(a, b);
}
template <> __device__ __forceinline__ void store_pair<__nv_bfloat16>(__nv_bfloat16* p, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
}

template <typename T, int D, int BM>
__global__ void __launch_bounds__(kThreadsFor<BM>) flash_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                              const T* __restrict__ v, T* __restrict__ out,
                                                              FlashKernelParams p) {
  using namespace nvcuda;
  using Sm = FlashSmem<D, BM>;
  constexpr int kThreads = kThreadsFor<BM>;
  constexpr int kLd = Sm::ld_qkv, kLdP = Sm::ld_p, kLdS = Sm::ld_s;
  constexpr int kDT = D / 16;  // 16-wide tiles along the head dim
  extern __shared__ __align__(128) unsigned char flash_smem[];
  T* q_s = reinterpret_cast<T*>(flash_smem + Sm::q_off);
  T* k_s = reinterpret_cast<T*>(flash_smem + Sm::k_off);
  T* v_s = reinterpret_cast<T*>(flash_smem + Sm::v_off);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  T* p_w = reinterpret_cast<T*>(flash_smem + Sm::p_off) + warp * 16 * kLdP;      // this warp's P [16][kLdP]
  float* s_w = reinterpret_cast<float*>(flash_smem + Sm::s_off) + warp * 16 * kLdS;  // its scratch [16][kLdS]

  const int64_t q_blocks = (p.L + BM - 1) / BM;
  const int64_t bh = blockIdx.x / q_blocks;
  const int64_t m0 = (blockIdx.x % q_blocks) * BM;
  const int64_t b = bh / p.hq, h = bh % p.hq;
  const T* qh = q + view_base(p.q, b, h);
  const T* kh = k + view_base(p.k, b, h / p.group);
  const T* vh = v + view_base(p.v, b, h / p.group);

  // Keys this CTA needs: all of them, or with the causal mask those up to its last row.
  int64_t key_end = p.S;
  if (p.causal) {
    const int64_t last_row_end = m0 + BM < p.L ? m0 + BM : p.L;
    if (last_row_end < key_end) key_end = last_row_end;
  }
  const int n_blocks = static_cast<int>((key_end + kBlockN - 1) / kBlockN);

  // Prologue: Q, K0, V0 in three commit groups (always committed, so the wait
  // counts below hold even without keys).
  load_tile_async<T, D, BM, kThreads>(q_s, qh, p.q.stride_row, m0, p.L, tid);
  cp_async_commit();
  if (n_blocks > 0) load_tile_async<T, D, kBlockN, kThreads>(k_s, kh, p.k.stride_row, 0, p.S, tid);
  cp_async_commit();
  if (n_blocks > 0) load_tile_async<T, D, kBlockN, kThreads>(v_s, vh, p.v.stride_row, 0, p.S, tid);
  cp_async_commit();
  cp_async_wait<2>();  // Q has landed
  __syncthreads();

  // Q fragments stay in registers up to D = 64; at 128 they would crowd out the
  // output accumulator, so they are reloaded from shared memory (Q stays there).
  constexpr bool kQInRegs = D <= 64;
  using QFrag = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;
  const T* q_w = q_s + warp * 16 * kLd;
  QFrag q_frag[kQInRegs ? kDT : 1];
  if constexpr (kQInRegs) {
#pragma unroll
    for (int kt = 0; kt < kDT; ++kt) wmma::load_matrix_sync(q_frag[kt], q_w + kt * 16, kLd);
  }

  // Lane pair (2r, 2r+1) owns row r of the warp's 16; lane half `hf` owns the
  // column pairs 4t + 2hf, 4t + 2hf + 1 of scores and of the output.
  const int r = lane >> 1, hf = lane & 1;
  const int64_t row = m0 + warp * 16 + r;
  const bool row_valid = row < p.L;
  const int64_t mask_row = (p.mask.kind && row_valid) ? p.mask.base(bh) + row * p.mask.ms_l : 0;
  const bool read_mask = p.mask.kind != 0 && row_valid;

  float o[D / 2];
#pragma unroll
  for (int c = 0; c < D / 2; ++c) o[c] = 0.f;
  float m_run = -INFINITY, l_run = 0.f;

  for (int jb = 0; jb < n_blocks; ++jb) {
    const int64_t n0 = static_cast<int64_t>(jb) * kBlockN;
    cp_async_wait<1>();  // K block jb has landed (V block jb may still be in flight)
    __syncthreads();

    // S = Q K^T for this warp's 16 rows and the block's 64 keys.
#pragma unroll
    for (int nt = 0; nt < kBlockN / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s_acc;
      wmma::fill_fragment(s_acc, 0.f);
#pragma unroll
      for (int kt = 0; kt < kDT; ++kt) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> k_frag;
        wmma::load_matrix_sync(k_frag, k_s + nt * 16 * kLd + kt * 16, kLd);
        if constexpr (kQInRegs) {
          wmma::mma_sync(s_acc, q_frag[kt], k_frag, s_acc);
        } else {
          wmma::load_matrix_sync(q_frag[0], q_w + kt * 16, kLd);
          wmma::mma_sync(s_acc, q_frag[0], k_frag, s_acc);
        }
      }
      wmma::store_matrix_sync(s_w + nt * 16, s_acc, kLdS, wmma::mem_row_major);
    }
    __syncthreads();  // every warp is done with K block jb
    if (jb + 1 < n_blocks) load_tile_async<T, D, kBlockN, kThreads>(k_s, kh, p.k.stride_row, n0 + kBlockN, p.S, tid);
    cp_async_commit();
    __syncwarp();  // the warp's scores are visible to all its lanes

    // Online softmax over this block for row r.
    float sv[kBlockN / 2];
    float block_max = -INFINITY;
#pragma unroll
    for (int t = 0; t < kBlockN / 4; ++t) {
      const float2 x = *reinterpret_cast<const float2*>(s_w + r * kLdS + 4 * t + 2 * hf);
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int64_t j = n0 + 4 * t + 2 * hf + e;
        float s = (e ? x.y : x.x) * p.scale_log2;
        if (j >= p.S || (p.causal && j > row)) {
          s = -INFINITY;
        } else if (read_mask) {
          const int64_t mi = mask_row + j * p.mask.ms_s;
          if (p.mask.kind == 1) {
            if (!static_cast<const bool*>(p.mask.data)[mi]) s = -INFINITY;
          } else {
            s += widen(static_cast<const T*>(p.mask.data)[mi]) * kLog2e;
          }
        }
        sv[2 * t + e] = s;
        block_max = fmaxf(block_max, s);
      }
    }
    block_max = fmaxf(block_max, __shfl_xor_sync(0xffffffffu, block_max, 1));
    const float m_new = fmaxf(m_run, block_max);
    // Nothing unmasked yet: probabilities 0, the (zero) accumulator unchanged.
    const bool none = m_new == -INFINITY;
    const float corr = none ? 1.f : exp2f(m_run - m_new);  // 0 when m_run is -inf
    float row_sum = 0.f;
#pragma unroll
    for (int t = 0; t < kBlockN / 4; ++t) {
      const float p0 = none ? 0.f : exp2f(sv[2 * t] - m_new);
      const float p1 = none ? 0.f : exp2f(sv[2 * t + 1] - m_new);
      row_sum += p0 + p1;
      store_pair<T>(p_w + r * kLdP + 4 * t + 2 * hf, p0, p1);
    }
    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
    l_run = l_run * corr + row_sum;
    m_run = m_new;
    __syncwarp();  // P is written and the scratch is free for P V

    cp_async_wait<1>();  // V block jb has landed (K block jb+1 may still be in flight)
    __syncthreads();

    // O_block = P V into the scratch.
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> p_frag[kBlockN / 16];
#pragma unroll
    for (int kt = 0; kt < kBlockN / 16; ++kt) wmma::load_matrix_sync(p_frag[kt], p_w + kt * 16, kLdP);
#pragma unroll
    for (int dt = 0; dt < kDT; ++dt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o_acc;
      wmma::fill_fragment(o_acc, 0.f);
#pragma unroll
      for (int kt = 0; kt < kBlockN / 16; ++kt) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> v_frag;
        wmma::load_matrix_sync(v_frag, v_s + kt * 16 * kLd + dt * 16, kLd);
        wmma::mma_sync(o_acc, p_frag[kt], v_frag, o_acc);
      }
      wmma::store_matrix_sync(s_w + dt * 16, o_acc, kLdS, wmma::mem_row_major);
    }
    __syncthreads();  // every warp is done with V block jb
    if (jb + 1 < n_blocks) load_tile_async<T, D, kBlockN, kThreads>(v_s, vh, p.v.stride_row, n0 + kBlockN, p.S, tid);
    cp_async_commit();
    __syncwarp();  // the warp's P V block is visible to all its lanes

#pragma unroll
    for (int t = 0; t < D / 4; ++t) {
      const float2 x = *reinterpret_cast<const float2*>(s_w + r * kLdS + 4 * t + 2 * hf);
      o[2 * t] = o[2 * t] * corr + x.x;
      o[2 * t + 1] = o[2 * t + 1] * corr + x.y;
    }
    __syncwarp();  // reads of the scratch finish before the next block's S overwrites it
  }
  cp_async_wait<0>();

  if (row_valid) {
    const float inv = l_run > 0.f ? 1.f / l_run : 0.f;
    T* orow = out + view_base(p.out, b, h) + row * p.out.stride_row;
#pragma unroll
    for (int t = 0; t < D / 4; ++t) store_pair<T>(orow + 4 * t + 2 * hf, o[2 * t] * inv, o[2 * t + 1] * inv);
  }
}

template <typename T, int D, int BM>
Status set_smem_attribute() {
  return cuda_status(cudaFuncSetAttribute(flash_kernel<T, D, BM>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(FlashSmem<D, BM>::bytes)),
                     "cudaFuncSetAttribute (flash attention shared memory)");
}

template <typename T, int D, int BM>
Status launch_typed(const AttnProblem& ap, const KernelArgs& args) {
  const FlashKernelParams p = flash_kernel_params(ap);
  const int64_t q_blocks = (ap.L + BM - 1) / BM;
  const int64_t grid = ap.heads * q_blocks;
  flash_kernel<T, D, BM><<<static_cast<unsigned>(grid), kThreadsFor<BM>, FlashSmem<D, BM>::bytes, args.stream>>>(
      static_cast<const T*>(args.in[0]->data), static_cast<const T*>(args.in[1]->data),
      static_cast<const T*>(args.in[2]->data), static_cast<T*>(args.out[0]->data), p);
  INGOT_CUDA_CHECK_LAUNCH("attention (flash)");
  return {};
}

struct PrepareFn {
  template <typename T, int D, int BM> Status run() const { return set_smem_attribute<T, D, BM>(); }
};
struct LaunchFn {
  const AttnProblem& p;
  const KernelArgs& args;
  template <typename T, int D, int BM> Status run() const { return launch_typed<T, D, BM>(p, args); }
};

}  // namespace

Status flash_check(const AttnProblem& p) { return tensor_core_check(p, "flash"); }

bool flash_aligned(const KernelArgs& args) {
  for (const DeviceTensor* t : {args.in[0], args.in[1], args.in[2], static_cast<const DeviceTensor*>(args.out[0])})
    if (reinterpret_cast<uintptr_t>(t->data) % 16 != 0) return false;
  return true;
}

Status flash_prepare(const AttnProblem& p) {
  return dispatch_tensor_core(p, PrepareFn{}, "flash");
}

Status flash_launch(const AttnProblem& p, const KernelArgs& args) {
  return dispatch_tensor_core(p, LaunchFn{p, args}, "flash");
}

Status tensor_core_check(const AttnProblem& p, const std::string& name) {
  const std::string who = "[cuda attention] " + name;
  if (p.dtype != DType::kFloat16 && p.dtype != DType::kBFloat16)
    return unsupported(who + " runs fp16 and bf16 only, not " + dtype_name(p.dtype));
  if (p.E != p.Ev || (p.E != 32 && p.E != 64 && p.E != 128))
    return unsupported(who + " needs equal q/k and v head sizes of 32, 64 or 128; got E " + std::to_string(p.E) +
                       ", Ev " + std::to_string(p.Ev));
  const int64_t elem = static_cast<int64_t>(dtype_size(p.dtype));
  for (const AttnView& view : {p.q, p.k, p.v, p.out})
    if (alignment_of({static_cast<uint64_t>(view.offset * elem), static_cast<uint64_t>(view.stride_b * elem),
                      static_cast<uint64_t>(view.stride_h * elem), static_cast<uint64_t>(view.stride_row * elem)}) < 16)
      return unsupported(who + ": a strided view's rows are not 16-byte aligned");
  const int64_t q_blocks = (p.L + 31) / 32;  // the smaller query block has the most
  if (p.heads * q_blocks >= (int64_t{1} << 31))
    return unsupported(who + ": too many (head, query block) pairs for one grid");
  return {};
}

}  // namespace ingot::cuda
