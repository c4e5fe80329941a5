// The "gemm" attention tactic: two cuBLASLt strided-batched products around a
// fused mask + softmax kernel, for every float dtype and head size.
//   1. scores = scale * q k^T, fp32, into the workspace ([B*Hq*L, S_pad], rows
//      padded to a multiple of 8 so every row and batch starts 32-byte aligned);
//   2. one warp per row: mask, causal, softmax in fp32, the probabilities P
//      written back in q's dtype at the start of the same row (for 16-bit types
//      P's row stride is then 2 * S_pad elements: a row never overlaps another);
//   3. out = P v.
// Grouped-query heads need no copies: the Hq/Hkv query heads that share a key
// head are consecutive, so each product batches over B*Hkv with (Hq/Hkv)*L rows.
// Row-major products are run as their column-major transposes (C^T = B^T A^T).
#include <cublasLt.h>

#include <string>

#include "backends/cuda/attention_common.cuh"

namespace ingot::cuda {
namespace {

constexpr size_t kLtScratchBytes = size_t{4} << 20;  // cuBLASLt's own scratch, asked for on top

Status lt_status(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return {};
  return device_error(std::string("[cuda attention] gemm: ") + what + " failed: cuBLAS status " +
                      std::to_string(static_cast<int>(s)));
}
#define ATTN_LT_CHECK(expr) INGOT_RETURN_IF_ERROR(lt_status((expr), #expr))

int64_t padded_keys(int64_t S) { return (S + 7) / 8 * 8; }
size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }
size_t scores_bytes(const AttnProblem& p) {
  return round_up(static_cast<size_t>(p.heads * p.L * padded_keys(p.S)) * sizeof(float), 256);
}

// One strided-batched cuBLASLt matmul (column-major): D = alpha op(A) B + beta C, C = D.
struct LtOp {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  float alpha = 1.f, beta = 0.f;
  LtOp() = default;
  LtOp(const LtOp&) = delete;
  LtOp& operator=(const LtOp&) = delete;
  ~LtOp() { reset(); }
  void reset() {
    if (desc) cublasLtMatmulDescDestroy(desc);
    for (auto* l : {a, b, c})
      if (l) cublasLtMatrixLayoutDestroy(l);
    desc = nullptr;
    a = b = c = nullptr;
  }
};

struct Operand {
  cudaDataType_t type;
  int64_t rows, cols, ld, stride;  // column-major rows x cols, batch stride in elements
  uint32_t align;                  // byte alignment of the pointer and of every batch's start
};

Status make_layout(cublasLtMatrixLayout_t* layout, const Operand& o, int32_t batch) {
  ATTN_LT_CHECK(cublasLtMatrixLayoutCreate(layout, o.type, static_cast<uint64_t>(o.rows),
                                           static_cast<uint64_t>(o.cols), o.ld));
  ATTN_LT_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof(batch)));
  ATTN_LT_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &o.stride,
                                                 sizeof(o.stride)));
  return {};
}

Status build_op(LtOp& op, cublasLtHandle_t handle, cublasComputeType_t compute, bool trans_a, const Operand& a,
                const Operand& b, const Operand& c, int32_t batch, float alpha, size_t lt_workspace) {
  ATTN_LT_CHECK(cublasLtMatmulDescCreate(&op.desc, compute, CUDA_R_32F));
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = CUBLAS_OP_N;
  ATTN_LT_CHECK(cublasLtMatmulDescSetAttribute(op.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  ATTN_LT_CHECK(cublasLtMatmulDescSetAttribute(op.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  INGOT_RETURN_IF_ERROR(make_layout(&op.a, a, batch));
  INGOT_RETURN_IF_ERROR(make_layout(&op.b, b, batch));
  INGOT_RETURN_IF_ERROR(make_layout(&op.c, c, batch));
  op.alpha = alpha;
  op.beta = 0.f;

  cublasLtMatmulPreference_t pref = nullptr;
  ATTN_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const uint32_t aligns[4] = {a.align, b.align, c.align, c.align};
  const cublasLtMatmulPreferenceAttributes_t align_attrs[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                           &lt_workspace, sizeof(lt_workspace));
  for (int i = 0; i < 4 && st == CUBLAS_STATUS_SUCCESS; ++i)
    st = cublasLtMatmulPreferenceSetAttribute(pref, align_attrs[i], &aligns[i], sizeof(aligns[i]));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmulAlgoGetHeuristic(handle, op.desc, op.a, op.b, op.c, op.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  ATTN_LT_CHECK(st);
  if (found == 0)
    return unsupported("[cuda attention] gemm: cuBLASLt has no algorithm for a " + std::to_string(a.rows) + "x" +
                       std::to_string(b.cols) + "x" + std::to_string(b.rows) + " batched product");
  op.algo = result.algo;
  return {};
}

struct GemmPlan final : StepState {
  LtOp qk, pv;
  bool fp32_scores = true;  // else the scores are kept in q's dtype (fallback)
  int64_t ld_scores = 0;    // score elements per row
  size_t scores_bytes = 0;
  uint32_t need_q = 0, need_k = 0, need_v = 0, need_out = 0;  // pointer alignment the algorithms assume
};

uint32_t ptr_align(const void* p) { return alignment_of({reinterpret_cast<uint64_t>(p)}); }

// Mask, causal and softmax of one score row per warp, P written as T over the row's start.
template <typename T, typename ScoreT>
__global__ void __launch_bounds__(256) masked_softmax_kernel(ScoreT* __restrict__ scores, int64_t ld, int64_t rows,
                                                             int64_t L, int64_t S, bool causal, AttnMask mask) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x >> 5;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * warps_per_block;
  for (int64_t row = blockIdx.x * warps_per_block + (threadIdx.x >> 5); row < rows; row += stride) {
    const int64_t bh = row / L, i = row % L;
    ScoreT* srow = scores + row * ld;
    const int64_t mask_row = mask.kind ? mask.base(bh) + i * mask.ms_l : 0;
    const int64_t s_end = causal ? (i + 1 < S ? i + 1 : S) : S;
    auto score = [&](int64_t j) {
      float s = widen(srow[j]);
      if (mask.kind == 1) {
        if (!static_cast<const bool*>(mask.data)[mask_row + j * mask.ms_s]) s = -INFINITY;
      } else if (mask.kind == 2) {
        s += widen(static_cast<const T*>(mask.data)[mask_row + j * mask.ms_s]);
      }
      return s;
    };
    // Per-lane running max and sum, then merged across the warp.
    float m = -INFINITY, sum = 0.f;
    for (int64_t j = lane; j < s_end; j += 32) {
      const float s = score(j);
      if (s == -INFINITY) continue;
      if (s > m) {
        sum = sum * expf(m - s) + 1.f;  // expf(-inf) = 0 on the first
        m = s;
      } else {
        sum += expf(s - m);
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, sum, o);
      const float mn = fmaxf(m, m2);
      if (mn != -INFINITY) {
        sum = (m == -INFINITY ? 0.f : sum * expf(m - mn)) + (m2 == -INFINITY ? 0.f : s2 * expf(m2 - mn));
        m = mn;
      }
    }
    const float inv = m == -INFINITY ? 0.f : 1.f / sum;  // a fully masked row gives zeros
    T* prow = reinterpret_cast<T*>(srow);
    for (int64_t j0 = 0; j0 < S; j0 += 32) {
      const int64_t j = j0 + lane;
      float pv = 0.f;
      if (j < s_end && m != -INFINITY) {
        const float s = score(j);
        pv = s == -INFINITY ? 0.f : expf(s - m) * inv;
      }
      // For 16-bit T, P[j] overlaps score j/2: chunk c's writes only touch scores of
      // chunks <= c, so it is enough that the whole chunk is read before it is written.
      __syncwarp();
      if (j < S) prow[j] = cast_value<T>(pv);
    }
  }
}

template <typename T, typename ScoreT>
Status launch_softmax(const AttnProblem& p, void* scores, int64_t ld, cudaStream_t stream) {
  const int64_t rows = p.heads * p.L;
  constexpr int kThreadsPerBlock = 256;
  const int64_t blocks = (rows + kThreadsPerBlock / 32 - 1) / (kThreadsPerBlock / 32);
  const unsigned grid = static_cast<unsigned>(blocks < (1LL << 30) ? blocks : (1LL << 30));
  masked_softmax_kernel<T, ScoreT><<<grid, kThreadsPerBlock, 0, stream>>>(static_cast<ScoreT*>(scores), ld, rows, p.L,
                                                                          p.S, p.causal, p.mask);
  INGOT_CUDA_CHECK_LAUNCH("attention (gemm softmax)");
  return {};
}

cudaDataType_t lt_type(DType t) {
  return t == DType::kFloat16 ? CUDA_R_16F : t == DType::kBFloat16 ? CUDA_R_16BF : CUDA_R_32F;
}

}  // namespace

size_t gemm_attention_workspace(const AttnProblem& p) { return scores_bytes(p) + kLtScratchBytes; }

Status gemm_check(const AttnProblem& p, size_t workspace_bytes) {
  if (p.dtype != DType::kFloat32 && p.dtype != DType::kFloat16 && p.dtype != DType::kBFloat16)
    return unsupported(std::string("[cuda attention] gemm: dtype ") + dtype_name(p.dtype));
  if (p.L <= 0 || p.S <= 0 || p.E <= 0 || p.Ev <= 0)
    return unsupported("[cuda attention] gemm: empty sequence or head (the rows tactic handles it)");
  // Its batched products need heads at one stride; folded views (fold_attention_views)
  // are only made where flash runs the step.
  if (p.strided) return unsupported("[cuda attention] gemm: strided q/k/v/out views need the flash or rows tactic");
  if (p.batch * p.hkv >= (int64_t{1} << 31))
    return unsupported("[cuda attention] gemm: more than 2^31 batched products");
  if (workspace_bytes < scores_bytes(p))
    return unsupported("[cuda attention] gemm: the score matrix needs " + std::to_string(scores_bytes(p)) +
                       " bytes of workspace, the step has " + std::to_string(workspace_bytes));
  return {};
}

Result<std::unique_ptr<StepState>> gemm_prepare(const AttnProblem& p, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(gemm_check(p, args.workspace_bytes));
  if (!args.handles || !args.handles->cublaslt) return internal_error("[cuda attention] gemm: no cuBLASLt handle");
  auto plan = std::make_unique<GemmPlan>();
  plan->ld_scores = padded_keys(p.S);
  plan->scores_bytes = scores_bytes(p);
  const int64_t es = static_cast<int64_t>(dtype_size(p.dtype));
  const int64_t group = p.hq / p.hkv, rows = group * p.L;  // query rows per key head
  const int32_t batch = static_cast<int32_t>(p.batch * p.hkv);
  const cudaDataType_t t = lt_type(p.dtype);
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (p.dtype == DType::kFloat32 && args.allow_tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  const void *q = args.in[0]->data, *k = args.in[1]->data, *v = args.in[2]->data, *out = args.out[0]->data;
  plan->need_q = alignment_of({reinterpret_cast<uint64_t>(q), static_cast<uint64_t>(rows * p.E * es)});
  plan->need_k = alignment_of({reinterpret_cast<uint64_t>(k), static_cast<uint64_t>(p.S * p.E * es)});
  plan->need_v = alignment_of({reinterpret_cast<uint64_t>(v), static_cast<uint64_t>(p.S * p.Ev * es)});
  plan->need_out = alignment_of({reinterpret_cast<uint64_t>(out), static_cast<uint64_t>(rows * p.Ev * es)});
  const size_t lt_workspace = args.workspace_bytes - plan->scores_bytes;
  const Operand k_op{t, p.E, p.S, p.E, p.S * p.E, plan->need_k};
  const Operand q_op{t, p.E, rows, p.E, rows * p.E, plan->need_q};
  const Operand v_op{t, p.Ev, p.S, p.Ev, p.S * p.Ev, plan->need_v};
  const Operand o_op{t, p.Ev, rows, p.Ev, rows * p.Ev, plan->need_out};
  // fp32 scores first; should cuBLASLt lack the mixed-type product, scores in q's dtype.
  Status last;
  for (const bool fp32_scores : {true, false}) {
    if (!fp32_scores && p.dtype == DType::kFloat32) break;
    plan->qk.reset();
    plan->pv.reset();
    plan->fp32_scores = fp32_scores;
    const int64_t score_size = fp32_scores ? 4 : es;
    const int64_t ld_p = plan->ld_scores * score_size / es;  // P's row stride in T
    const uint32_t scores_align = alignment_of(
        {reinterpret_cast<uint64_t>(args.workspace), static_cast<uint64_t>(rows * plan->ld_scores * score_size)});
    // scores^T [S, rows] (ld S_pad) = K [E, S]^T (K row-major [S, E] is column-major [E, S]) x q^T [E, rows].
    const Operand s_op{fp32_scores ? CUDA_R_32F : t, p.S, rows, plan->ld_scores, rows * plan->ld_scores, scores_align};
    last = build_op(plan->qk, args.handles->cublaslt, compute, true, k_op, q_op, s_op, batch, p.scale, lt_workspace);
    if (!last.ok()) continue;
    // out^T [Ev, rows] = v^T [Ev, S] (v row-major [S, Ev]) x P^T [S, rows] (ld ld_p).
    const Operand p_op{t, p.S, rows, ld_p, rows * ld_p, scores_align};
    last = build_op(plan->pv, args.handles->cublaslt, compute, false, v_op, p_op, o_op, batch, 1.f, lt_workspace);
    if (last.ok()) break;
  }
  INGOT_RETURN_IF_ERROR(last);
  return std::unique_ptr<StepState>(std::move(plan));
}

bool gemm_plan_fits(const StepState& state, const KernelArgs& args) {
  const auto& plan = static_cast<const GemmPlan&>(state);
  return ptr_align(args.in[0]->data) >= plan.need_q && ptr_align(args.in[1]->data) >= plan.need_k &&
         ptr_align(args.in[2]->data) >= plan.need_v && ptr_align(args.out[0]->data) >= plan.need_out &&
         args.workspace_bytes >= plan.scores_bytes;
}

Status gemm_launch(const StepState& state, const AttnProblem& p, const KernelArgs& args) {
  const auto& plan = static_cast<const GemmPlan&>(state);
  void* scores = args.workspace;
  void* lt_ws = static_cast<char*>(args.workspace) + plan.scores_bytes;
  const size_t lt_ws_bytes = args.workspace_bytes - plan.scores_bytes;
  cublasLtHandle_t h = args.handles->cublaslt;
  ATTN_LT_CHECK(cublasLtMatmul(h, plan.qk.desc, &plan.qk.alpha, args.in[1]->data, plan.qk.a, args.in[0]->data,
                               plan.qk.b, &plan.qk.beta, scores, plan.qk.c, scores, plan.qk.c, &plan.qk.algo, lt_ws,
                               lt_ws_bytes, args.stream));
  Status soft;
  switch (p.dtype) {
    case DType::kFloat32: soft = launch_softmax<float, float>(p, scores, plan.ld_scores, args.stream); break;
    case DType::kFloat16:
      soft = plan.fp32_scores ? launch_softmax<__half, float>(p, scores, plan.ld_scores, args.stream)
                              : launch_softmax<__half, __half>(p, scores, plan.ld_scores, args.stream);
      break;
    case DType::kBFloat16:
      soft = plan.fp32_scores ? launch_softmax<__nv_bfloat16, float>(p, scores, plan.ld_scores, args.stream)
                              : launch_softmax<__nv_bfloat16, __nv_bfloat16>(p, scores, plan.ld_scores, args.stream);
      break;
    default: return unsupported(std::string("[cuda attention] gemm: dtype ") + dtype_name(p.dtype));
  }
  INGOT_RETURN_IF_ERROR(soft);
  ATTN_LT_CHECK(cublasLtMatmul(h, plan.pv.desc, &plan.pv.alpha, args.in[2]->data, plan.pv.a, scores, plan.pv.b,
                               &plan.pv.beta, args.out[0]->data, plan.pv.c, args.out[0]->data, plan.pv.c,
                               &plan.pv.algo, lt_ws, lt_ws_bytes, args.stream));
  return {};
}

}  // namespace ingot::cuda
