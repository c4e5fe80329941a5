// Matrix products on the GPU through cuBLASLt: Gemm (with the bias folded into
// cuBLASLt's epilogue when it is a row vector) and batched MatMul with broadcast
// batch dimensions. Tensors are row-major; cuBLASLt is column-major, so every
// product is computed transposed: C^T = op(B)^T A^T, which needs no copies.
// Descriptors and the heuristic's algorithm are chosen once per step and context.
#include <cublasLt.h>

#include <vector>

#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {
namespace {

Status lt_status(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return {};
  return device_error(std::string(what) + " failed: cuBLAS status " + std::to_string(static_cast<int>(s)));
}
#define LT_RETURN_IF_ERROR(expr) INGOT_RETURN_IF_ERROR(lt_status((expr), #expr))

Result<cudaDataType_t> cuda_type(DType t) {
  switch (t) {
    case DType::kFloat32: return CUDA_R_32F;
    case DType::kFloat16: return CUDA_R_16F;
    case DType::kBFloat16: return CUDA_R_16BF;
    default: return unsupported(std::string("cuBLASLt matrix products do not take ") + dtype_name(t));
  }
}

// One cuBLASLt matmul: D = alpha * op(A) op(B) + beta * C (+ bias), column-major.
struct LtMatmul final : StepState {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool bias_epilogue = false;
  float alpha = 1, beta = 0;
  ~LtMatmul() override {
    if (desc) cublasLtMatmulDescDestroy(desc);
    for (auto* l : {a, b, c, d}) if (l) cublasLtMatrixLayoutDestroy(l);
  }
};

struct Problem {
  // Column-major view: D[m, n] = op(A)[m, k] * op(B)[k, n].
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  DType dtype = DType::kFloat32;
};

Status make_layout(cublasLtMatrixLayout_t* layout, cudaDataType_t t, int64_t rows, int64_t cols, int64_t ld,
                   int64_t batch, int64_t stride) {
  LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(layout, t, rows, cols, ld));
  if (batch > 1) {
    int32_t b32 = static_cast<int32_t>(batch);
    LT_RETURN_IF_ERROR(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b32, sizeof(b32)));
    LT_RETURN_IF_ERROR(
        cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return {};
}

Result<std::unique_ptr<LtMatmul>> prepare(const Problem& p, bool bias_epilogue, const void* bias, float alpha,
                                          float beta, const KernelArgs& args) {
  auto mm = std::make_unique<LtMatmul>();
  INGOT_ASSIGN_OR_RETURN(cudaDataType_t t, cuda_type(p.dtype));
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (p.dtype == DType::kFloat32 && args.allow_tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  LT_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&mm->desc, compute, CUDA_R_32F));
  cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = CUBLAS_OP_N;
  LT_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  LT_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  if (bias_epilogue) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    LT_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    LT_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  mm->bias_epilogue = bias_epilogue;
  mm->alpha = alpha;
  mm->beta = beta;
  const int64_t a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
  INGOT_RETURN_IF_ERROR(make_layout(&mm->a, t, a_rows, a_cols, p.lda, p.batch, p.stride_a));
  INGOT_RETURN_IF_ERROR(make_layout(&mm->b, t, p.k, p.n, p.ldb, p.batch, p.stride_b));
  INGOT_RETURN_IF_ERROR(make_layout(&mm->c, t, p.m, p.n, p.ldc, p.batch, p.stride_c));
  INGOT_RETURN_IF_ERROR(make_layout(&mm->d, t, p.m, p.n, p.ldc, p.batch, p.stride_c));

  cublasLtMatmulPreference_t pref = nullptr;
  LT_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&pref));
  size_t ws = args.workspace_bytes;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(args.handles->cublaslt, mm->desc, mm->a, mm->b, mm->c, mm->d,
                                                     pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  LT_RETURN_IF_ERROR(hs);
  if (found == 0)
    return unsupported("cuBLASLt has no algorithm for this matrix product (m=" + std::to_string(p.m) +
                       ", n=" + std::to_string(p.n) + ", k=" + std::to_string(p.k) + ")");
  mm->algo = result.algo;
  return mm;
}

Status launch(const LtMatmul& mm, const KernelArgs& args, const void* a, const void* b, const void* c, void* d) {
  return lt_status(cublasLtMatmul(args.handles->cublaslt, mm.desc, &mm.alpha, a, mm.a, b, mm.b, &mm.beta, c, mm.c,
                                  d, mm.d, &mm.algo, args.workspace, args.workspace_bytes, args.stream),
                   "cublasLtMatmul");
}

// out[M, N] = alpha * a[M, K] @ op(b) + beta * bias.
Status gemm(const GemmAttrs& g, const KernelArgs& args) {
  const DeviceTensor& a = *args.in[0];
  const DeviceTensor& b = *args.in[1];
  const DeviceTensor* bias = args.in.size() > 2 ? args.in[2] : nullptr;
  DeviceTensor& out = *args.out[0];
  if (b.rank() != 2) return invalid_argument("gemm: weight must be 2-D");
  const int64_t K = a.shape.back();
  const int64_t N = g.trans_b ? b.shape[0] : b.shape[1];
  const int64_t M = K == 0 ? 0 : a.numel() / K;
  const bool row_bias = bias && bias->numel() == N && g.beta == 1.0;
  const bool full_bias = bias && !row_bias && bias->numel() == M * N;
  if (bias && !row_bias && !full_bias)
    return unsupported("gemm: this bias shape is not supported on CUDA yet");

  if (!*args.state) {
    // Row-major out[M,N] = a[M,K] b'[K,N]  <=>  column-major out^T[N,M] = b'^T[N,K] a^T[K,M].
    Problem p;
    p.m = N;
    p.n = M;
    p.k = K;
    p.trans_a = g.trans_b;  // b stored [N,K] row-major is column-major [K,N]: transpose it
    p.lda = g.trans_b ? K : N;
    p.ldb = K;
    p.ldc = N;
    p.dtype = out.dtype;
    INGOT_ASSIGN_OR_RETURN(auto mm, prepare(p, row_bias, row_bias ? bias->data : nullptr, static_cast<float>(g.alpha),
                                            full_bias ? static_cast<float>(g.beta) : 0.f, args));
    *args.state = std::move(mm);
  }
  const auto& mm = static_cast<const LtMatmul&>(**args.state);
  const void* c = full_bias ? bias->data : out.data;
  return launch(mm, args, b.data, a.data, c, out.data);
}

// Batched [..., M, K] x [..., K, N] with numpy-broadcast batch dims.
Status matmul(const KernelArgs& args) {
  const DeviceTensor& a = *args.in[0];
  const DeviceTensor& b = *args.in[1];
  DeviceTensor& out = *args.out[0];
  if (a.rank() < 2 || b.rank() < 2) return invalid_argument("matmul: operands must be at least 2-D");
  const int64_t M = a.shape[a.rank() - 2], K = a.shape.back(), N = b.shape.back();
  const int64_t a_batch = a.numel() / std::max<int64_t>(1, M * K);
  const int64_t b_batch = b.numel() / std::max<int64_t>(1, K * N);
  const int64_t out_batch = out.numel() / std::max<int64_t>(1, M * N);
  // One strided-batched call covers equal batches and a batch broadcast from a
  // single matrix (stride 0); other broadcasts loop over the output batch.
  const bool single_call = (a_batch == out_batch || a_batch == 1) && (b_batch == out_batch || b_batch == 1);
  const size_t es = dtype_size(out.dtype);
  if (!*args.state) {
    Problem p;
    p.m = N;
    p.n = M;
    p.k = K;
    p.lda = N;
    p.ldb = K;
    p.ldc = N;
    p.dtype = out.dtype;
    p.batch = single_call ? out_batch : 1;
    p.stride_a = b_batch == 1 ? 0 : K * N;
    p.stride_b = a_batch == 1 ? 0 : M * K;
    p.stride_c = M * N;
    INGOT_ASSIGN_OR_RETURN(auto mm, prepare(p, false, nullptr, 1.f, 0.f, args));
    *args.state = std::move(mm);
  }
  const auto& mm = static_cast<const LtMatmul&>(**args.state);
  if (single_call) return launch(mm, args, b.data, a.data, out.data, out.data);

  // General broadcast: map each output batch index to the operands' batch indices.
  const int out_rank = out.rank();
  std::vector<int64_t> out_dims(out.shape.begin(), out.shape.end() - 2);
  auto batch_offset = [&](const DeviceTensor& t, int64_t flat) {
    const int r = t.rank() - 2;
    int64_t offset = 0, stride = 1;
    for (int d = out_rank - 3; d >= 0; --d) {
      const int64_t idx = flat % out_dims[d];
      flat /= out_dims[d];
      const int td = d - (out_rank - 2 - r);
      if (td >= 0) {
        if (t.shape[td] != 1) offset += idx * stride;
        stride *= t.shape[td];
      }
    }
    return offset;
  };
  for (int64_t i = 0; i < out_batch; ++i) {
    const char* pa = static_cast<const char*>(a.data) + batch_offset(a, i) * M * K * es;
    const char* pb = static_cast<const char*>(b.data) + batch_offset(b, i) * K * N * es;
    char* po = static_cast<char*>(out.data) + i * M * N * es;
    INGOT_RETURN_IF_ERROR(launch(mm, args, pb, pa, po, po));
  }
  return {};
}

}  // namespace

Status linear_algebra(const OpAttrs& attrs, const KernelArgs& args) {
  if (const auto* g = std::get_if<GemmAttrs>(&attrs)) return gemm(*g, args);
  if (std::holds_alternative<MatMulAttrs>(attrs)) return matmul(args);
  return internal_error("linear_algebra: unexpected op");
}

std::vector<std::string> gemm_tactics(const OpAttrs&, const KernelArgs&) { return {}; }

}  // namespace ingot::cuda
