// Matrix products on the GPU through cuBLASLt: Gemm with its fused epilogue and
// batched MatMul with broadcast batch dimensions. Tensors are row-major; cuBLASLt
// is column-major, so every product is computed transposed: C^T = op(B)^T A^T,
// which needs no copies.
//
// Gemm epilogue: cuBLASLt computes D = act(alpha * A B + beta * C + bias). The row
// bias goes through the BIAS epilogue; the residual input is cuBLASLt's C with
// beta = 1 (a full-shape bias uses C with the Gemm's beta instead; the two never
// come together, the fusion pass sees to that); relu and the tanh gelu are
// cuBLASLt's RELU/GELU epilogues (its GELU is the tanh approximation, so exact gelu
// never uses it); any other activation runs in place afterwards
// (gemm_epilogue.cu).
//
// Tactics: "lt:<i>" is the i-th of up to 8 algorithms cuBLASLt's heuristic offers
// for the step's problem ("lt:0", the heuristic's first choice, is the default).
// The list is asked for with a fixed workspace limit so the tuner and the run agree.
// Descriptors and the algorithm are chosen once per step and context.
//
// "lt-tanh:<i>" (fp16/bf16 only) runs an exact (erf) gelu as cuBLASLt's fused
// tanh-approximated GELU epilogue instead of a separate pass over the output,
// which costs a read and a write of the largest activation of a transformer layer.
// The two formulas differ by at most 4.7e-4 absolute (near x = -2.7), about one
// fp16 rounding step of an activation of size 0.5: next to the output's norm that
// is ~1e-4, far under the 1e-2 a 16-bit engine is held to. It is only a candidate:
// the tuner checks it against the exact "lt:0" output and keeps it where it is
// faster; float32 engines, engines built without tuning (optimization level <= 1)
// and engines built with --exact-gelu never use it.
#include <cublasLt.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "backends/cuda/cuda_common.h"
#include "backends/cuda/gemm_epilogue.h"

namespace ingot::cuda {
namespace {

// Algorithms offered as tactics, and the workspace the heuristic may assume (what
// workspace_size() gives every gemm step).
constexpr int kMaxTactics = 8;
constexpr size_t kLtWorkspaceBytes = size_t{32} << 20;

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

// Largest power of two (up to 256) dividing every address and byte offset given.
uint32_t alignment_of(std::initializer_list<uint64_t> values) {
  uint32_t align = 256;
  for (uint64_t v : values)
    while (align > 1 && v % align != 0) align /= 2;
  return align;
}

struct Problem {
  // Column-major view: D[m, n] = op(A)[m, k] * op(B)[k, n].
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  DType dtype = DType::kFloat32;
  // Epilogue.
  const void* bias = nullptr;  // row bias through the BIAS epilogue
  int64_t activation = -1;     // UnaryFn or -1
  float act_alpha = 0, act_beta = 0;
  float alpha = 1, beta = 0;
  uint32_t alignment = 256;  // of every pointer and batch offset
};

// One cuBLASLt matmul with its chosen algorithm, plus the activation cuBLASLt
// does not do (post_activation, run in place afterwards).
struct LtMatmul final : StepState {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t algo_workspace = 0;
  float alpha = 1, beta = 0;
  int64_t post_activation = -1;
  float act_alpha = 0, act_beta = 0;
  uint32_t alignment = 256;
  ~LtMatmul() override {
    if (desc) cublasLtMatmulDescDestroy(desc);
    for (auto* l : {a, b, c, d}) if (l) cublasLtMatrixLayoutDestroy(l);
  }
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

// cuBLASLt's own epilogue for the activation, when it has one (else DEFAULT/BIAS).
cublasLtEpilogue_t lt_epilogue(bool bias, int64_t activation, bool use_lt_activation) {
  if (!use_lt_activation) return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  if (activation == static_cast<int64_t>(UnaryFn::kRelu))
    return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  if (activation == static_cast<int64_t>(UnaryFn::kGeluTanh))
    return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

// cuBLASLt's RELU is exact. Its GELU is the tanh approximation computed with
// fast math: fine below 16-bit rounding, but float32 engines promise about 1e-5,
// so there the exact-formula kernel runs instead.
bool lt_has_activation(int64_t activation, DType dtype) {
  if (activation == static_cast<int64_t>(UnaryFn::kRelu)) return true;
  return activation == static_cast<int64_t>(UnaryFn::kGeluTanh) && dtype != DType::kFloat32;
}

// Descriptors for p with the given epilogue, and the heuristic's algorithms for them.
Status describe(const Problem& p, cublasLtEpilogue_t epi, bool allow_tf32, LtMatmul* mm) {
  INGOT_ASSIGN_OR_RETURN(cudaDataType_t t, cuda_type(p.dtype));
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (p.dtype == DType::kFloat32 && allow_tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  LT_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&mm->desc, compute, CUDA_R_32F));
  cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = CUBLAS_OP_N;
  LT_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  LT_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  if (epi != CUBLASLT_EPILOGUE_DEFAULT) {
    LT_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    if (p.bias) {
      const void* bias = p.bias;
      LT_RETURN_IF_ERROR(
          cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    }
  }
  const int64_t a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
  INGOT_RETURN_IF_ERROR(make_layout(&mm->a, t, a_rows, a_cols, p.lda, p.batch, p.stride_a));
  INGOT_RETURN_IF_ERROR(make_layout(&mm->b, t, p.k, p.n, p.ldb, p.batch, p.stride_b));
  INGOT_RETURN_IF_ERROR(make_layout(&mm->c, t, p.m, p.n, p.ldc, p.batch, p.stride_c));
  INGOT_RETURN_IF_ERROR(make_layout(&mm->d, t, p.m, p.n, p.ldc, p.batch, p.stride_c));
  mm->alpha = p.alpha;
  mm->beta = p.beta;
  mm->alignment = p.alignment;
  return {};
}

Result<std::vector<cublasLtMatmulHeuristicResult_t>> heuristics(cublasLtHandle_t handle, const LtMatmul& mm,
                                                                uint32_t alignment) {
  cublasLtMatmulPreference_t pref = nullptr;
  LT_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&pref));
  size_t ws = kLtWorkspaceBytes;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    cublasLtMatmulPreferenceSetAttribute(pref, attr, &alignment, sizeof(alignment));
  std::vector<cublasLtMatmulHeuristicResult_t> results(kMaxTactics);
  int found = 0;
  cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(handle, mm.desc, mm.a, mm.b, mm.c, mm.d, pref, kMaxTactics,
                                                     results.data(), &found);
  cublasLtMatmulPreferenceDestroy(pref);
  // NOT_SUPPORTED means "no algorithm for this configuration": an empty list.
  if (hs == CUBLAS_STATUS_NOT_SUPPORTED) found = 0;
  else LT_RETURN_IF_ERROR(hs);
  results.resize(static_cast<size_t>(std::max(found, 0)));
  return results;
}

// Whether the "lt-tanh" tactics exist for p: an exact gelu on a 16-bit output.
bool tanh_gelu_candidate(const Problem& p) {
  return p.activation == static_cast<int64_t>(UnaryFn::kGelu) && p.dtype != DType::kFloat32;
}

// Builds the matmul for p: cuBLASLt's fused activation epilogue when it has one and
// the heuristic finds algorithms for it, else the plain epilogue with the
// activation run afterwards. `algorithms` receives the heuristic's list. With
// tanh_gelu, an exact gelu runs as cuBLASLt's tanh GELU epilogue (or, when the
// heuristic has nothing for that, as the plain epilogue plus the exact pass).
Result<std::unique_ptr<LtMatmul>> build(const Problem& p, cublasLtHandle_t handle, bool allow_tf32,
                                        std::vector<cublasLtMatmulHeuristicResult_t>* algorithms,
                                        bool tanh_gelu = false) {
  const bool approximate = tanh_gelu && tanh_gelu_candidate(p);
  const int64_t lt_fn = approximate ? static_cast<int64_t>(UnaryFn::kGeluTanh) : p.activation;
  const bool lt_activation = lt_has_activation(lt_fn, p.dtype);
  for (bool use_lt_activation : {lt_activation, false}) {
    auto mm = std::make_unique<LtMatmul>();
    INGOT_RETURN_IF_ERROR(describe(p, lt_epilogue(p.bias != nullptr, lt_fn, use_lt_activation), allow_tf32,
                                   mm.get()));
    INGOT_ASSIGN_OR_RETURN(*algorithms, heuristics(handle, *mm, p.alignment));
    if (algorithms->empty()) {
      if (!use_lt_activation) break;  // the plain epilogue was just tried
      continue;
    }
    mm->post_activation = use_lt_activation ? -1 : p.activation;
    mm->act_alpha = p.act_alpha;
    mm->act_beta = p.act_beta;
    if (mm->post_activation >= 0 && !gemm_activation_supported(mm->post_activation))
      return unsupported("gemm: activation " + std::string(unary_fn_name(static_cast<UnaryFn>(p.activation))) +
                         " is not implemented on CUDA");
    return mm;
  }
  return unsupported("cuBLASLt has no algorithm for this matrix product (m=" + std::to_string(p.m) +
                     ", n=" + std::to_string(p.n) + ", k=" + std::to_string(p.k) +
                     ", batch=" + std::to_string(p.batch) + ")");
}

struct Tactic {
  int index = 0;
  bool tanh_gelu = false;
};

// "" -> lt:0, "lt:<i>" and "lt-tanh:<i>"; anything else is an error naming the tactic.
Result<Tactic> parse_tactic(const std::string& tactic) {
  if (tactic.empty()) return Tactic{};
  Tactic t{-1, false};
  for (const char* prefix : {"lt:", "lt-tanh:"}) {
    const size_t n = std::char_traits<char>::length(prefix);
    if (tactic.compare(0, n, prefix) != 0) continue;
    const char* first = tactic.data() + n;
    const char* last = tactic.data() + tactic.size();
    auto [ptr, ec] = std::from_chars(first, last, t.index);
    if (ec != std::errc() || ptr != last || first == last) t.index = -1;
    t.tanh_gelu = prefix[2] == '-';
    break;
  }
  if (t.index < 0)
    return invalid_argument("gemm: unknown tactic '" + tactic +
                            "' (expected lt:<index> or lt-tanh:<index> from gemm_tactics)");
  return t;
}

// Creates the step's state: descriptors and the algorithm the tactic names.
Result<std::unique_ptr<LtMatmul>> prepare(const Problem& p, const KernelArgs& args) {
  INGOT_ASSIGN_OR_RETURN(Tactic tactic, parse_tactic(args.tactic));
  if (tactic.tanh_gelu && !tanh_gelu_candidate(p))
    return invalid_argument("gemm: tactic '" + args.tactic + "' applies only to an exact gelu on a 16-bit output");
  const int index = tactic.index;
  std::vector<cublasLtMatmulHeuristicResult_t> algorithms;
  INGOT_ASSIGN_OR_RETURN(auto mm, build(p, args.handles->cublaslt, args.allow_tf32, &algorithms, tactic.tanh_gelu));
  if (static_cast<size_t>(index) >= algorithms.size())
    return invalid_argument("gemm: tactic '" + args.tactic + "' is out of range: cuBLASLt offers " +
                            std::to_string(algorithms.size()) + " algorithms for this product (lt:0 .. lt:" +
                            std::to_string(algorithms.size() - 1) + ")");
  const auto& chosen = algorithms[static_cast<size_t>(index)];
  if (chosen.workspaceSize > args.workspace_bytes)
    return internal_error("gemm: the algorithm needs " + std::to_string(chosen.workspaceSize) +
                          " workspace bytes, the step has " + std::to_string(args.workspace_bytes));
  mm->algo = chosen.algo;
  mm->algo_workspace = chosen.workspaceSize;
  return mm;
}

// Returns the cached state for p, building it on the first run. A state built for
// more strictly aligned pointers than today's is rebuilt (rare: only when a caller
// binds differently aligned buffers; the planner's are all 256-byte aligned).
Result<const LtMatmul*> state_for(const Problem& p, const KernelArgs& args) {
  auto* existing = static_cast<LtMatmul*>(args.state->get());
  if (!existing || existing->alignment > p.alignment) {
    INGOT_ASSIGN_OR_RETURN(auto mm, prepare(p, args));
    *args.state = std::move(mm);
  }
  return static_cast<const LtMatmul*>(args.state->get());
}

Status launch(const LtMatmul& mm, const KernelArgs& args, const void* a, const void* b, const void* c, void* d) {
  return lt_status(cublasLtMatmul(args.handles->cublaslt, mm.desc, &mm.alpha, a, mm.a, b, mm.b, &mm.beta, c, mm.c,
                                  d, mm.d, &mm.algo, args.workspace, mm.algo_workspace, args.stream),
                   "cublasLtMatmul");
}

// ------------------------------------------------------------------ gemm

// out[M, N] = act(alpha * a[M, K] @ op(b) + beta * bias + residual), as the
// column-major out^T[N, M] = op(b)^T[N, K] a^T[K, M].
struct GemmCall {
  Problem p;
  const void* c = nullptr;  // cuBLASLt's C: residual, full-shape bias, or out (beta = 0)
};

Result<GemmCall> plan_gemm(const GemmAttrs& g, const KernelArgs& args) {
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1)
    return internal_error("gemm: expects inputs (a, b, bias?, residual?) and one output");
  const DeviceTensor& a = *args.in[0];
  const DeviceTensor& b = *args.in[1];
  const DeviceTensor* bias = args.in.size() > 2 ? args.in[2] : nullptr;
  const DeviceTensor* residual = args.in.size() > 3 ? args.in[3] : nullptr;
  const DeviceTensor& out = *args.out[0];
  if (b.rank() != 2 || a.rank() < 1) return invalid_argument("gemm: expects a [..., K] and a 2-D weight");
  const int64_t K = a.shape.back();
  const int64_t N = g.trans_b ? b.shape[0] : b.shape[1];
  const int64_t M = K == 0 ? 0 : a.numel() / K;
  if ((g.trans_b ? b.shape[1] : b.shape[0]) != K || out.numel() != M * N || (out.rank() && out.shape.back() != N))
    return invalid_argument("gemm: operand shapes do not agree with the output");
  for (const DeviceTensor* t : {&a, &b, bias, residual})
    if (t && t->dtype != out.dtype) return unsupported("gemm: mixed dtypes are not supported on CUDA");
  const bool row_bias = bias && bias->numel() == N && g.beta == 1.0;
  const bool full_bias = bias && !row_bias && bias->numel() == M * N;
  if (bias && !row_bias && !full_bias) return unsupported("gemm: this bias shape is not supported on CUDA yet");
  if (residual && residual->numel() != M * N) return invalid_argument("gemm: the residual differs from the output");
  if (residual && full_bias)
    return unsupported("gemm: a full-shape bias together with a residual is not supported on CUDA");
  if (g.activation >= 0 && !gemm_activation_supported(g.activation))
    return unsupported("gemm: activation " + std::to_string(g.activation) + " is not implemented on CUDA");

  GemmCall call;
  Problem& p = call.p;
  p.m = N;
  p.n = M;
  p.k = K;
  p.trans_a = g.trans_b;  // b stored [N,K] row-major is column-major [K,N]: transpose it
  p.lda = g.trans_b ? K : N;
  p.ldb = K;
  p.ldc = N;
  p.dtype = out.dtype;
  p.bias = row_bias ? bias->data : nullptr;
  p.activation = g.activation;
  p.act_alpha = static_cast<float>(g.activation_alpha);
  p.act_beta = static_cast<float>(g.activation_beta);
  p.alpha = static_cast<float>(g.alpha);
  if (residual) {
    call.c = residual->data;
    p.beta = 1.f;
  } else if (full_bias) {
    call.c = bias->data;
    p.beta = static_cast<float>(g.beta);
  } else {
    call.c = out.data;
    p.beta = 0.f;
  }
  p.alignment = alignment_of({reinterpret_cast<uint64_t>(a.data), reinterpret_cast<uint64_t>(b.data),
                              reinterpret_cast<uint64_t>(call.c), reinterpret_cast<uint64_t>(out.data),
                              reinterpret_cast<uint64_t>(p.bias)});
  return call;
}

Status gemm(const GemmAttrs& g, const KernelArgs& args) {
  INGOT_ASSIGN_OR_RETURN(GemmCall call, plan_gemm(g, args));
  INGOT_ASSIGN_OR_RETURN(const LtMatmul* mm, state_for(call.p, args));
  DeviceTensor& out = *args.out[0];
  INGOT_RETURN_IF_ERROR(launch(*mm, args, args.in[1]->data, args.in[0]->data, call.c, out.data));
  if (mm->post_activation < 0) return {};
  return apply_gemm_activation(out.data, out.dtype, out.numel(), mm->post_activation, mm->act_alpha, mm->act_beta,
                               args.stream);
}

// ------------------------------------------------------------------ matmul

// Batched [..., M, K] x [..., K, N] with numpy-broadcast batch dims.
struct MatMulCall {
  Problem p;
  int64_t M = 0, N = 0, K = 0, out_batch = 1;
  bool single_call = true;
};

Result<MatMulCall> plan_matmul(const KernelArgs& args) {
  if (args.in.size() != 2 || !args.in[0] || !args.in[1] || args.out.size() != 1)
    return internal_error("matmul: expects two inputs and one output");
  const DeviceTensor& a = *args.in[0];
  const DeviceTensor& b = *args.in[1];
  const DeviceTensor& out = *args.out[0];
  if (a.rank() < 2 || b.rank() < 2) return invalid_argument("matmul: operands must be at least 2-D");
  MatMulCall call;
  const int64_t M = a.shape[a.rank() - 2], K = a.shape.back(), N = b.shape.back();
  const int64_t a_batch = a.numel() / std::max<int64_t>(1, M * K);
  const int64_t b_batch = b.numel() / std::max<int64_t>(1, K * N);
  const int64_t out_batch = out.numel() / std::max<int64_t>(1, M * N);
  // One strided-batched call covers equal batches and a batch broadcast from a
  // single matrix (stride 0); other broadcasts loop over the output batch.
  call.single_call = (a_batch == out_batch || a_batch == 1) && (b_batch == out_batch || b_batch == 1);
  call.M = M;
  call.N = N;
  call.K = K;
  call.out_batch = out_batch;
  Problem& p = call.p;
  p.m = N;
  p.n = M;
  p.k = K;
  p.lda = N;
  p.ldb = K;
  p.ldc = N;
  p.dtype = out.dtype;
  p.batch = call.single_call ? out_batch : 1;
  p.stride_a = b_batch == 1 ? 0 : K * N;
  p.stride_b = a_batch == 1 ? 0 : M * K;
  p.stride_c = M * N;
  // Every matrix of a batch starts at a multiple of its size: align for that too.
  const uint64_t es = dtype_size(out.dtype);
  p.alignment = alignment_of({reinterpret_cast<uint64_t>(a.data), reinterpret_cast<uint64_t>(b.data),
                              reinterpret_cast<uint64_t>(out.data), static_cast<uint64_t>(M * K) * es,
                              static_cast<uint64_t>(K * N) * es, static_cast<uint64_t>(M * N) * es});
  return call;
}

Status matmul(const KernelArgs& args) {
  INGOT_ASSIGN_OR_RETURN(MatMulCall call, plan_matmul(args));
  INGOT_ASSIGN_OR_RETURN(const LtMatmul* mm, state_for(call.p, args));
  const DeviceTensor& a = *args.in[0];
  const DeviceTensor& b = *args.in[1];
  DeviceTensor& out = *args.out[0];
  if (call.single_call) return launch(*mm, args, b.data, a.data, out.data, out.data);

  // General broadcast: map each output batch index to the operands' batch indices.
  const int64_t M = call.M, N = call.N, K = call.K;
  const size_t es = dtype_size(out.dtype);
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
  for (int64_t i = 0; i < call.out_batch; ++i) {
    const char* pa = static_cast<const char*>(a.data) + batch_offset(a, i) * M * K * es;
    const char* pb = static_cast<const char*>(b.data) + batch_offset(b, i) * K * N * es;
    char* po = static_cast<char*>(out.data) + i * M * N * es;
    INGOT_RETURN_IF_ERROR(launch(*mm, args, pb, pa, po, po));
  }
  return {};
}

}  // namespace

Status linear_algebra(const OpAttrs& attrs, const KernelArgs& args) {
  if (const auto* g = std::get_if<GemmAttrs>(&attrs)) return gemm(*g, args);
  if (std::holds_alternative<MatMulAttrs>(attrs)) return matmul(args);
  return internal_error("linear_algebra: unexpected op");
}

// The heuristic's algorithms for this step as "lt:0" .. "lt:<n-1>" (at most 8),
// built exactly as prepare() builds them so an index means the same algorithm.
// Empty when the step cannot run on cuBLASLt (its run reports why).
std::vector<std::string> gemm_tactics(const OpAttrs& attrs, const KernelArgs& args) {
  Problem p;
  if (const auto* g = std::get_if<GemmAttrs>(&attrs)) {
    Result<GemmCall> call = plan_gemm(*g, args);
    if (!call.ok()) return {};
    p = call.value().p;
  } else if (std::holds_alternative<MatMulAttrs>(attrs)) {
    Result<MatMulCall> call = plan_matmul(args);
    if (!call.ok()) return {};
    p = call.value().p;
  } else {
    return {};
  }
  // The tuner may ask before a context (and its handle) exists.
  cublasLtHandle_t handle = args.handles ? args.handles->cublaslt : nullptr;
  cublasLtHandle_t own = nullptr;
  if (!handle) {
    if (cublasLtCreate(&own) != CUBLAS_STATUS_SUCCESS) return {};
    handle = own;
  }
  std::vector<cublasLtMatmulHeuristicResult_t> algorithms, approximate;
  Result<std::unique_ptr<LtMatmul>> mm = build(p, handle, args.allow_tf32, &algorithms);
  if (mm.ok() && tanh_gelu_candidate(p) && !build(p, handle, args.allow_tf32, &approximate, true).ok())
    approximate.clear();
  if (own) cublasLtDestroy(own);
  if (!mm.ok()) return {};
  // The exact lt:0 first (the default and the tuner's reference), then the two
  // lists interleaved, so that a tuner that times only the first few sees both.
  std::vector<std::string> tactics;
  for (size_t i = 0; i < std::max(algorithms.size(), approximate.size()); ++i) {
    if (i < algorithms.size()) tactics.push_back("lt:" + std::to_string(i));
    if (i < approximate.size()) tactics.push_back("lt-tanh:" + std::to_string(i));
  }
  return tactics;
}

}  // namespace ingot::cuda
