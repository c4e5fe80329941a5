// CUDA scaled dot-product attention: softmax(q k^T * scale + mask) v with
// grouped-query heads (Hq a multiple of Hkv), a bool mask (true keeps) or an
// additive float mask broadcast to [B.., Hq, L, S], torch's top-left causal mask,
// and zeros for rows whose every key is masked (torch's SDPA and the CPU kernel).
//
// This file parses the step, picks a tactic and holds the fallback tactic. The
// tactics (attention_tactics lists them in the tuner's order): "flash" and
// "flash32" (WMMA tensor cores, 64- or 32-row query blocks, attention_flash.cu),
// "mma" and "mma32" (raw mma.sync flash attention with everything in registers,
// 64- or 32-row query blocks, attention_mma.cu; "mma_k32": 64-row blocks, 32-key
// steps), "cudnn" (cuDNN's fused attention engine, attention_cudnn.cc; with
// ":composite" / ":unified" and ":<plan>" a chosen implementation and plan),
// "gemm" (cuBLASLt + softmax, attention_gemm.cu) and "rows" (below). "" runs
// flash, else gemm, else rows (the tuner picks the others where it measures them
// faster); the choice and any library descriptors are built on the first run and
// cached in the step state.
//
// rows: one warp per query row, streaming keys 32 at a time with an online
// softmax (running max and sum, accumulator rescaled as the max grows), so any
// key length runs in fixed memory: no workspace, no score matrix. Each lane
// scores one key of the chunk against the query (held in shared memory), then
// the warp accumulates the chunk's values, each lane owning Ev/32 output columns.
#include <cstdio>
#include <mutex>
#include <string>

#include "backends/cuda/attention_common.cuh"
#include "backends/cuda/attention_cudnn.h"

namespace ingot::cuda {
namespace {

constexpr int kWarps = 4;

struct RowsParams {
  int64_t hq = 0, hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  AttnView q, k, v, out;
  int64_t heads = 0;  // batch * hq
  float scale = 1.f;
  bool causal = false;
  bool vec_k = false;  // key rows can be read with 16-byte loads
  AttnMask mask;
};

// q . k_row over E elements; 16-byte loads of the key row when `vec` (E * sizeof(T)
// a multiple of 16 and k 16-byte aligned), since each lane streams a row of its own.
template <typename T>
__device__ __forceinline__ float dot_row(const float* __restrict__ qs, const T* __restrict__ kr, int64_t E, bool vec) {
  float dot = 0.f;
  if (vec) {
    constexpr int kPer = 16 / sizeof(T);
    const uint4* kv = reinterpret_cast<const uint4*>(kr);
    for (int64_t c = 0; c < E / kPer; ++c) {
      const uint4 u = kv[c];
      const T* e = reinterpret_cast<const T*>(&u);
#pragma unroll
      for (int t = 0; t < kPer; ++t) dot += qs[c * kPer + t] * widen(e[t]);
    }
    return dot;
  }
  for (int64_t e = 0; e < E; ++e) dot += qs[e] * widen(kr[e]);
  return dot;
}

template <typename T, int kPerLane>
__global__ void __launch_bounds__(kWarps * 32) rows_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                           const T* __restrict__ v, T* __restrict__ out,
                                                           RowsParams p) {
  extern __shared__ float q_smem[];  // [kWarps][E]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float* qs = q_smem + warp * p.E;
  const int64_t row_blocks = (p.L + kWarps - 1) / kWarps;
  for (int64_t job = blockIdx.x; job < p.heads * row_blocks; job += gridDim.x) {
    const int64_t bh = job / row_blocks;
    const int64_t i = (job % row_blocks) * kWarps + warp;
    if (i >= p.L) continue;  // whole warp: no block-level sync below
    const int64_t b = bh / p.hq, h = bh % p.hq, hk = h / (p.hq / p.hkv);
    const T* qr = q + view_base(p.q, b, h) + i * p.q.stride_row;
    const T* kh = k + view_base(p.k, b, hk);
    const T* vh = v + view_base(p.v, b, hk);
    __syncwarp();
    for (int64_t e = lane; e < p.E; e += 32) qs[e] = widen(qr[e]);
    __syncwarp();
    const int64_t mask_base = p.mask.kind ? p.mask.base(bh) + i * p.mask.ms_l : 0;
    float acc[kPerLane];
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) acc[t] = 0.f;
    float run_max = -INFINITY, run_sum = 0.f;
    const int64_t s_end = p.causal ? (i + 1 < p.S ? i + 1 : p.S) : p.S;
    for (int64_t j0 = 0; j0 < s_end; j0 += 32) {
      const int64_t j = j0 + lane;
      float s = -INFINITY;
      if (j < s_end) {
        s = dot_row(qs, kh + j * p.k.stride_row, p.E, p.vec_k) * p.scale;
        if (p.mask.kind == 1) {
          if (!static_cast<const bool*>(p.mask.data)[mask_base + j * p.mask.ms_s]) s = -INFINITY;
        } else if (p.mask.kind == 2) {
          s += widen(static_cast<const T*>(p.mask.data)[mask_base + j * p.mask.ms_s]);
        }
      }
      const float chunk_max = warp_all_reduce(s, [](float a, float c) { return fmaxf(a, c); });
      const float new_max = fmaxf(run_max, chunk_max);
      if (new_max == -INFINITY) continue;  // everything so far is masked
      const float corr = expf(run_max - new_max);  // 0 on the first unmasked chunk
      const float pj = expf(s - new_max);
      run_sum = run_sum * corr + warp_all_reduce(pj, [](float a, float c) { return a + c; });
      run_max = new_max;
#pragma unroll
      for (int t = 0; t < kPerLane; ++t) acc[t] *= corr;
      const int count = s_end - j0 < 32 ? static_cast<int>(s_end - j0) : 32;
      for (int jj = 0; jj < count; ++jj) {
        const float pw = __shfl_sync(0xffffffffu, pj, jj);
        const T* vr = vh + (j0 + jj) * p.v.stride_row;
#pragma unroll
        for (int t = 0; t < kPerLane; ++t) {
          const int64_t d = lane + 32 * t;
          if (d < p.Ev) acc[t] += pw * widen(vr[d]);
        }
      }
    }
    const float inv = run_sum > 0.f ? 1.f / run_sum : 0.f;
    T* orow = out + view_base(p.out, b, h) + i * p.out.stride_row;
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) {
      const int64_t d = lane + 32 * t;
      if (d < p.Ev) orow[d] = cast_value<T>(acc[t] * inv);
    }
  }
}

template <typename T, int kPerLane>
Status rows_launch_typed(const KernelArgs& args, const RowsParams& p) {
  const size_t smem = static_cast<size_t>(kWarps) * p.E * sizeof(float);
  if (smem > 48 * 1024) return unsupported("[cuda attention] rows: head size " + std::to_string(p.E) + " is too large");
  const int64_t jobs = p.heads * ((p.L + kWarps - 1) / kWarps);
  const unsigned grid = static_cast<unsigned>(jobs < (1LL << 30) ? jobs : (1LL << 30));
  rows_kernel<T, kPerLane><<<grid, kWarps * 32, smem, args.stream>>>(
      static_cast<const T*>(args.in[0]->data), static_cast<const T*>(args.in[1]->data),
      static_cast<const T*>(args.in[2]->data), static_cast<T*>(args.out[0]->data), p);
  INGOT_CUDA_CHECK_LAUNCH("attention (rows)");
  return {};
}

template <typename T>
Status rows_for_ev(const KernelArgs& args, const RowsParams& p) {
  if (p.Ev <= 64) return rows_launch_typed<T, 2>(args, p);
  if (p.Ev <= 128) return rows_launch_typed<T, 4>(args, p);
  if (p.Ev <= 256) return rows_launch_typed<T, 8>(args, p);
  if (p.Ev <= 512) return rows_launch_typed<T, 16>(args, p);
  return unsupported("[cuda attention] rows: value head size " + std::to_string(p.Ev) + " is above 512");
}

// Parses and checks the step's shapes and mask into an AttnProblem.
Result<AttnProblem> parse_problem(const OpAttrs& attrs, const KernelArgs& args) {
  if (op_kind(attrs) != OpKind::kAttention)
    return internal_error(std::string("[cuda attention] not an attention op: ") + op_name(op_kind(attrs)));
  if (args.in.size() < 3 || !args.in[0] || !args.in[1] || !args.in[2] || args.out.size() != 1 || !args.out[0])
    return invalid_argument("[cuda attention] expects inputs (q, k, v, mask?) and one output");
  const auto& a = std::get<AttentionAttrs>(attrs);
  const DeviceTensor &q = *args.in[0], &k = *args.in[1], &v = *args.in[2], &out = *args.out[0];
  const DeviceTensor* mask = args.in.size() > 3 ? args.in[3] : nullptr;
  if (k.dtype != q.dtype || v.dtype != q.dtype || out.dtype != q.dtype)
    return unsupported(std::string("[cuda attention] mixed dtypes ") + dtype_name(q.dtype) + ", " +
                       dtype_name(k.dtype) + ", " + dtype_name(v.dtype));
  if (q.dtype != DType::kFloat32 && q.dtype != DType::kFloat16 && q.dtype != DType::kBFloat16)
    return unsupported(std::string("[cuda attention] dtype ") + dtype_name(q.dtype) + " is not supported on cuda");
  INGOT_ASSIGN_OR_RETURN(const AttnGeometry geo,
                         attention_geometry(a, q.shape, k.shape, v.shape, out.shape, "[cuda attention]"));
  AttnProblem p;
  p.dtype = q.dtype;
  p.batch = geo.batch;
  p.hq = geo.hq;
  p.hkv = geo.hkv;
  p.L = geo.L;
  p.S = geo.S;
  p.E = geo.E;
  p.Ev = geo.Ev;
  p.q = geo.q;
  p.k = geo.k;
  p.v = geo.v;
  p.out = geo.out;
  p.strided = geo.strided;
  p.heads = p.batch * p.hq;
  p.scale = static_cast<float>(a.scale);
  p.causal = a.is_causal;
  if (mask) {
    const std::vector<int64_t>& full = geo.mask_space;
    if (mask->rank() > static_cast<int>(full.size()))
      return invalid_argument("[cuda attention] mask " + shape_str(mask->shape) + " has more dims than " +
                              shape_str(full));
    std::vector<int64_t> mstride(full.size(), 0);
    int64_t stride = 1;
    for (int i = 0; i < mask->rank(); ++i) {
      const size_t d = mask->shape.size() - 1 - i, fd = full.size() - 1 - i;
      if (mask->shape[d] != 1 && mask->shape[d] != full[fd])
        return invalid_argument("[cuda attention] mask " + shape_str(mask->shape) + " does not broadcast to " +
                                shape_str(full));
      mstride[fd] = mask->shape[d] == 1 ? 0 : stride;
      stride *= mask->shape[d];
    }
    if (mask->dtype == DType::kBool) p.mask.kind = 1;
    else if (mask->dtype == q.dtype) p.mask.kind = 2;
    else
      return unsupported(std::string("[cuda attention] mask dtype ") + dtype_name(mask->dtype) + " with q dtype " +
                         dtype_name(q.dtype));
    p.mask.lead_rank = static_cast<int>(full.size()) - 2;
    if (p.mask.lead_rank > kMaxRank) return unsupported("[cuda attention] too many batch dims");
    for (int d = 0; d < p.mask.lead_rank; ++d) {
      p.mask.lead_dims[d] = full[d];
      p.mask.lead_strides[d] = mstride[d];
    }
    p.mask.ms_l = mstride[full.size() - 2];
    p.mask.ms_s = mstride[full.size() - 1];
  }
  return p;
}

// SMs of the GPUs ingot targets (H100 SXM: 132), for the untuned flash block choice.
constexpr int64_t kTypicalSmCount = 132;

enum class Tactic { kMma, kMma32, kMmaK32, kFlash, kFlash32, kCudnn, kGemm, kRows };

Result<Tactic> parse_tactic(const std::string& t) {
  if (t == "mma") return Tactic::kMma;
  if (t == "mma32") return Tactic::kMma32;
  if (t == "mma_k32") return Tactic::kMmaK32;
  if (t == "flash") return Tactic::kFlash;
  if (t == "flash32") return Tactic::kFlash32;
  if (t == "cudnn" || t.starts_with("cudnn:")) return Tactic::kCudnn;
  if (t == "gemm") return Tactic::kGemm;
  if (t == "rows") return Tactic::kRows;
  return invalid_argument("[cuda attention] unknown tactic '" + t +
                          "' (expected mma, mma32, mma_k32, flash, flash32, cudnn[:composite|:unified][:<plan>], "
                          "gemm, rows or empty)");
}

// "cudnn" is the frontend's own choice of implementation and the heuristic's first
// plan; "cudnn:<impl>" names the implementation (composite or unified) and
// "cudnn:<impl>:<i>" the i-th plan of the heuristic's and the fallback list.
Status parse_cudnn_variant(const std::string& t, CudnnSdpaDesc& d) {
  auto bad = [&] {
    return invalid_argument("[cuda attention] bad cuDNN tactic '" + t +
                            "' (expected cudnn, cudnn:composite, cudnn:unified or cudnn:<composite|unified>:<plan>)");
  };
  if (t == "cudnn") return {};
  std::string rest = t.substr(6);  // after "cudnn:"
  const size_t colon = rest.find(':');
  const std::string impl = rest.substr(0, colon);
  if (impl == "composite") d.impl = CudnnSdpaImpl::kComposite;
  else if (impl == "unified") d.impl = CudnnSdpaImpl::kUnified;
  else return bad();
  if (colon == std::string::npos) return {};
  const std::string index = rest.substr(colon + 1);
  if (index.empty() || index.size() > 3 || index.find_first_not_of("0123456789") != std::string::npos) return bad();
  d.plan_index = std::stoi(index);
  return {};
}

// A bool mask reaches cuDNN as an additive one (0 keeps, -inf drops) converted
// into the workspace on every run, in the mask's own (broadcast) shape: bytes.
size_t converted_mask_bytes(const KernelArgs& args) {
  if (args.in.size() < 4 || !args.in[3] || args.in[3]->dtype != DType::kBool) return 0;
  return (static_cast<size_t>(args.in[3]->numel()) * 2 + 255) / 256 * 256;
}

template <typename T>
__global__ void bool_to_additive_mask(const bool* __restrict__ keep, T* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = keep[i] ? from_float<T>(0.f) : from_float<T>(-INFINITY);
}

Status convert_bool_mask(const AttnProblem& p, const KernelArgs& args) {
  const int64_t n = args.in[3]->numel();
  const bool* keep = static_cast<const bool*>(args.in[3]->data);
  if (p.dtype == DType::kFloat16)
    bool_to_additive_mask<<<blocks_for(n), kThreads, 0, args.stream>>>(keep, static_cast<__half*>(args.workspace), n);
  else
    bool_to_additive_mask<<<blocks_for(n), kThreads, 0, args.stream>>>(keep, static_cast<__nv_bfloat16*>(args.workspace),
                                                                       n);
  INGOT_CUDA_CHECK_LAUNCH("bool_to_additive_mask");
  return {};
}

// The problem as cuDNN's attention sees it; `unsupported` for masks it cannot
// take (more than one batch dim, broadcast over keys).
Result<CudnnSdpaDesc> cudnn_desc(const AttnProblem& p) {
  CudnnSdpaDesc d;
  d.dtype = p.dtype;
  d.batch = p.batch;
  d.hq = p.hq;
  d.hkv = p.hkv;
  d.L = p.L;
  d.S = p.S;
  d.E = p.E;
  d.Ev = p.Ev;
  d.q = p.q;
  d.k = p.k;
  d.v = p.v;
  d.out = p.out;
  d.scale = p.scale;
  d.causal = p.causal;
  if (p.mask.kind) {
    const AttnMask& m = p.mask;
    if (m.lead_rank < 1 || m.lead_rank > 2 || m.ms_s == 0)
      return unsupported("[cuda attention] cudnn: mask layout (one batch dim, keys not broadcast)");
    d.has_bias = true;
    const int64_t sb = m.lead_rank == 2 ? m.lead_strides[0] : 0, sh = m.lead_strides[m.lead_rank - 1];
    const int64_t full[4] = {p.batch, p.hq, p.L, p.S}, stride[4] = {sb, sh, m.ms_l, m.ms_s};
    // A broadcast dim (stride 0) has size 1 for cuDNN, with the stride a packed
    // tensor would give it.
    int64_t next = 1;
    for (int i = 3; i >= 0; --i) {
      d.bias_dims[i] = stride[i] == 0 ? 1 : full[i];
      d.bias_strides[i] = stride[i] == 0 ? next : stride[i];
      next = d.bias_dims[i] * d.bias_strides[i];
    }
  }
  return d;
}

bool mask_aligned(const AttnProblem& p, const KernelArgs& args) {
  return p.mask.kind != 2 || (args.in.size() > 3 && args.in[3] && reinterpret_cast<uintptr_t>(args.in[3]->data) % 16 == 0);
}

// Whether a tactic can run this problem with these arguments (ok or the reason why not).
Status tactic_supports(Tactic t, const AttnProblem& p, const KernelArgs& args) {
  switch (t) {
    case Tactic::kMma: case Tactic::kMma32: case Tactic::kMmaK32:
      INGOT_RETURN_IF_ERROR(mma_check(p));
      if (t == Tactic::kMmaK32 && p.E > 64)
        return unsupported("[cuda attention] mma_k32: head size " + std::to_string(p.E) + " is above 64");
      if (!flash_aligned(args))
        return unsupported("[cuda attention] mma: q, k, v and out must be 16-byte aligned");
      return {};
    case Tactic::kFlash: case Tactic::kFlash32:
      INGOT_RETURN_IF_ERROR(flash_check(p));
      if (!flash_aligned(args))
        return unsupported("[cuda attention] flash: q, k, v and out must be 16-byte aligned");
      return {};
    case Tactic::kCudnn: {
      INGOT_ASSIGN_OR_RETURN(const CudnnSdpaDesc d, cudnn_desc(p));
      INGOT_RETURN_IF_ERROR(cudnn_sdpa_check(d));
      if (!flash_aligned(args) || !mask_aligned(p, args))
        return unsupported("[cuda attention] cudnn: q, k, v, out and the mask must be 16-byte aligned");
      if (converted_mask_bytes(args) > kCudnnSdpaWorkspace / 2)
        return unsupported("[cuda attention] cudnn: the bool mask is too large to convert in the workspace");
      return {};
    }
    case Tactic::kGemm: return gemm_check(p, args.workspace_bytes);
    case Tactic::kRows: return {};
  }
  return internal_error("[cuda attention] bad tactic");
}

// The step's cached choice: problem, tactic and (gemm) the cuBLASLt plan.
struct AttentionState final : StepState {
  AttnProblem problem;
  Tactic tactic = Tactic::kRows;
  std::unique_ptr<StepState> gemm_plan;
  std::shared_ptr<const CudnnSdpaPlan> cudnn_plan;
};

// An engine tuned to use cuDNN's attention on a machine where cuDNN cannot build
// it (no NVRTC, another GPU): said once per process, then our own kernels run.
void warn_cudnn_fallback(const Status& why) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr, "ingot: warning: cuDNN attention unavailable here (%s); using ingot's kernels\n",
                 why.message().c_str());
  });
}

Result<std::unique_ptr<AttentionState>> build_state(const OpAttrs& attrs, const KernelArgs& args) {
  auto st = std::make_unique<AttentionState>();
  INGOT_ASSIGN_OR_RETURN(st->problem, parse_problem(attrs, args));
  const AttnProblem& p = st->problem;
  if (args.tactic.empty()) {
    st->tactic = Tactic::kRows;
    for (Tactic t : {Tactic::kFlash, Tactic::kGemm}) {
      if (tactic_supports(t, p, args).ok()) {
        st->tactic = t;
        break;
      }
    }
  } else {
    INGOT_ASSIGN_OR_RETURN(st->tactic, parse_tactic(args.tactic));
    INGOT_RETURN_IF_ERROR(tactic_supports(st->tactic, p, args));
  }
  if (st->tactic == Tactic::kFlash && args.tactic.empty()) {
    // Untuned default: 32-row blocks when 64-row ones would not give every SM two CTAs.
    const int64_t ctas = p.heads * ((p.L + 63) / 64);
    if (ctas < 2 * kTypicalSmCount) st->tactic = Tactic::kFlash32;
  }
  st->problem.flash_block_m = st->tactic == Tactic::kFlash32 || st->tactic == Tactic::kMma32 ? 32 : 64;
  st->problem.mma_key_block = st->tactic == Tactic::kMmaK32 ? 32 : 64;
  if (st->tactic == Tactic::kFlash || st->tactic == Tactic::kFlash32)
    INGOT_RETURN_IF_ERROR(flash_prepare(st->problem));
  if (st->tactic == Tactic::kMma || st->tactic == Tactic::kMma32 || st->tactic == Tactic::kMmaK32)
    INGOT_RETURN_IF_ERROR(mma_prepare(st->problem));
  if (st->tactic == Tactic::kCudnn) {
    auto desc = cudnn_desc(p);
    if (desc.ok()) INGOT_RETURN_IF_ERROR(parse_cudnn_variant(args.tactic, desc.value()));
    const size_t mask_bytes = converted_mask_bytes(args);
    auto plan = desc.ok() ? cudnn_sdpa_plan(desc.value(), args.handles ? args.handles->cudnn : nullptr,
                                            args.workspace_bytes > mask_bytes ? args.workspace_bytes - mask_bytes : 0)
                          : Result<std::shared_ptr<const CudnnSdpaPlan>>(desc.status());
    if (plan.ok()) {
      st->cudnn_plan = std::move(plan).value();
    } else {
      if (args.strict_tactic) return plan.status();
      warn_cudnn_fallback(plan.status());
      st->tactic = mma_check(p).ok() ? Tactic::kMma : Tactic::kRows;
      if (st->tactic == Tactic::kMma) INGOT_RETURN_IF_ERROR(mma_prepare(st->problem));
    }
  }
  if (st->tactic == Tactic::kGemm) {
    auto plan = gemm_prepare(p, args);
    if (!plan.ok()) {
      if (!args.tactic.empty()) return plan.status();
      st->tactic = Tactic::kRows;  // default choice: cuBLASLt had no algorithm, fall back
    } else {
      st->gemm_plan = std::move(plan).value();
    }
  }
  return Result<std::unique_ptr<AttentionState>>(std::move(st));
}

}  // namespace

Status rows_launch(const AttnProblem& ap, const KernelArgs& args) {
  RowsParams p;
  p.hq = ap.hq;
  p.hkv = ap.hkv;
  p.L = ap.L;
  p.S = ap.S;
  p.E = ap.E;
  p.Ev = ap.Ev;
  p.q = ap.q;
  p.k = ap.k;
  p.v = ap.v;
  p.out = ap.out;
  p.heads = ap.heads;
  p.scale = ap.scale;
  p.causal = ap.causal;
  p.mask = ap.mask;
  const int64_t elem = static_cast<int64_t>(dtype_size(ap.dtype));
  p.vec_k = (p.E * elem) % 16 == 0 && reinterpret_cast<uintptr_t>(args.in[1]->data) % 16 == 0 &&
            alignment_of({static_cast<uint64_t>(ap.k.offset * elem), static_cast<uint64_t>(ap.k.stride_b * elem),
                          static_cast<uint64_t>(ap.k.stride_h * elem),
                          static_cast<uint64_t>(ap.k.stride_row * elem)}) >= 16;
  switch (ap.dtype) {
    case DType::kFloat32: return rows_for_ev<float>(args, p);
    case DType::kFloat16: return rows_for_ev<__half>(args, p);
    case DType::kBFloat16: return rows_for_ev<__nv_bfloat16>(args, p);
    default:
      return unsupported(std::string("[cuda attention] dtype ") + dtype_name(ap.dtype) + " is not supported on cuda");
  }
}

Status attention(const OpAttrs& attrs, const KernelArgs& args) {
  std::unique_ptr<AttentionState> scratch;
  AttentionState* st = nullptr;
  if (args.state && *args.state) st = dynamic_cast<AttentionState*>(args.state->get());
  if (!st) {
    INGOT_ASSIGN_OR_RETURN(scratch, build_state(attrs, args));
    st = scratch.get();
    if (args.state) *args.state = std::move(scratch);
  }
  const AttnProblem& cached = st->problem;
  if (args.out[0]->numel() == 0) return {};
  // Pointers may differ between runs (bound inputs and outputs): refresh the mask's.
  AttnProblem p = cached;
  if (p.mask.kind) {
    if (args.in.size() < 4 || !args.in[3]) return invalid_argument("[cuda attention] the mask input went missing");
    p.mask.data = args.in[3]->data;
  }
  switch (st->tactic) {
    case Tactic::kMma: case Tactic::kMma32: case Tactic::kMmaK32:
      // Like flash: built for aligned pointers, rebound unaligned ones take the fallback.
      if (flash_aligned(args)) return mma_launch(p, args);
      return rows_launch(p, args);
    case Tactic::kFlash: case Tactic::kFlash32:
      // The state was built for aligned pointers; rebound unaligned ones take the fallback.
      if (flash_aligned(args)) return flash_launch(p, args);
      return rows_launch(p, args);
    case Tactic::kCudnn:
      if (flash_aligned(args) && mask_aligned(p, args)) {
        const size_t mask_bytes = p.mask.kind == 1 ? converted_mask_bytes(args) : 0;
        if (mask_bytes) INGOT_RETURN_IF_ERROR(convert_bool_mask(p, args));
        return cudnn_sdpa_run(*st->cudnn_plan, args.handles->cudnn, args.stream, args.in[0]->data, args.in[1]->data,
                              args.in[2]->data, args.out[0]->data,
                              mask_bytes ? args.workspace : (p.mask.kind ? p.mask.data : nullptr),
                              static_cast<char*>(args.workspace) + mask_bytes);
      }
      return rows_launch(p, args);
    case Tactic::kGemm:
      if (gemm_plan_fits(*st->gemm_plan, args)) return gemm_launch(*st->gemm_plan, p, args);
      return rows_launch(p, args);
    case Tactic::kRows: return rows_launch(p, args);
  }
  return internal_error("[cuda attention] bad tactic");
}

std::vector<std::string> attention_tactics(const OpAttrs& attrs, const KernelArgs& args) {
  auto parsed = parse_problem(attrs, args);
  if (!parsed.ok()) return {};
  const AttnProblem& p = parsed.value();
  std::vector<std::string> tactics;
  // flash first: the tuner checks every later tactic's output against the first
  // one that runs, and flash is the longer-proven kernel. The likelier winners
  // come next, within the 8 candidates the default optimization level times:
  // mma, mma32 (small batches) and cuDNN's implementations; further cuDNN plans,
  // gemm and rows only at levels 4 and 5 (they rarely win where flash runs).
  const bool flash = flash_check(p).ok(), mma = mma_check(p).ok();
  const auto d = cudnn_desc(p);
  const bool cudnn = d.ok() && cudnn_sdpa_check(d.value()).ok();
  if (flash) tactics.push_back("flash");
  if (mma) {
    tactics.push_back("mma");
    tactics.push_back("mma32");
  }
  if (cudnn) {
    tactics.push_back("cudnn");
    tactics.push_back("cudnn:composite");
    if (!d.value().has_bias) tactics.push_back("cudnn:unified");  // it takes no bias
  }
  if (mma && p.E <= 64) tactics.push_back("mma_k32");
  if (flash) tactics.push_back("flash32");
  if (cudnn) {
    tactics.push_back("cudnn:composite:1");
    if (!d.value().has_bias) tactics.push_back("cudnn:unified:1");
  }
  if (!p.strided) tactics.push_back("gemm");  // its workspace is sized for it when the tuner picks it
  tactics.push_back("rows");
  return tactics;
}

// Workspace of an attention step: the gemm tactic's score matrix (plus cuBLASLt's
// scratch) when it is asked for, or is the default (flash cannot run the step).
// The default only takes it up to 256 MiB; above that it falls back to rows.
size_t attention_workspace_size(const OpAttrs& attrs, const KernelArgs& args) {
  auto parsed = parse_problem(attrs, args);
  if (!parsed.ok()) return 0;
  const AttnProblem& p = parsed.value();
  const size_t gemm_bytes = gemm_attention_workspace(p);
  if (args.tactic == "gemm") return gemm_bytes;
  if (args.tactic == "cudnn" || args.tactic.starts_with("cudnn:")) return kCudnnSdpaWorkspace;
  if (args.tactic.empty() && !flash_check(p).ok() && !p.strided && gemm_bytes <= (size_t{256} << 20))
    return gemm_bytes;
  return 0;
}

}  // namespace ingot::cuda
