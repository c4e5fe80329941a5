// CUDA scaled dot-product attention: softmax(q k^T * scale + mask) v with
// grouped-query heads (Hq a multiple of Hkv), a bool mask (true keeps) or an
// additive float mask broadcast to [B.., Hq, L, S], torch's top-left causal mask,
// and zeros for rows whose every key is masked (torch's SDPA and the CPU kernel).
//
// One warp per query row, streaming keys 32 at a time with an online softmax
// (running max and sum, accumulator rescaled as the max grows), so any key length
// runs in fixed memory: no workspace, no score matrix. Each lane scores one key of
// the chunk against the query (held in shared memory), then the warp accumulates
// the chunk's values, each lane owning Ev/32 output columns. The warps of a block
// take consecutive query rows of one head, so K and V rows are shared through L1.
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

constexpr int kWarps = 4;

struct AttnParams {
  int64_t hq = 0, hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  int64_t heads = 0;  // batch * hq
  float scale = 1.f;
  bool causal = false;
  bool vec_k = false;  // key rows can be read with 16-byte loads
  // Mask: kind 0 none, 1 bool, 2 additive (same dtype as q); strides over [B.., Hq, L, S].
  int mask_kind = 0;
  const void* mask = nullptr;
  int lead_rank = 0;  // dims of [B.., Hq]
  int64_t lead_dims[kMaxRank] = {}, lead_strides[kMaxRank] = {};
  int64_t ms_l = 0, ms_s = 0;
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
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                const T* __restrict__ v, T* __restrict__ out,
                                                                AttnParams p) {
  extern __shared__ float q_smem[];  // [kWarps][E]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float* qs = q_smem + warp * p.E;
  const int64_t row_blocks = (p.L + kWarps - 1) / kWarps;
  for (int64_t job = blockIdx.x; job < p.heads * row_blocks; job += gridDim.x) {
    const int64_t bh = job / row_blocks;
    const int64_t i = (job % row_blocks) * kWarps + warp;
    if (i >= p.L) continue;  // whole warp: no block-level sync below
    const int64_t b = bh / p.hq, h = bh % p.hq, hk = h / (p.hq / p.hkv);
    const T* qr = q + (bh * p.L + i) * p.E;
    const T* kh = k + (b * p.hkv + hk) * p.S * p.E;
    const T* vh = v + (b * p.hkv + hk) * p.S * p.Ev;
    __syncwarp();
    for (int64_t e = lane; e < p.E; e += 32) qs[e] = widen(qr[e]);
    __syncwarp();
    int64_t mask_base = 0;
    if (p.mask_kind) {
      int64_t rem = bh;
      for (int d = p.lead_rank - 1; d >= 0; --d) {
        mask_base += (rem % p.lead_dims[d]) * p.lead_strides[d];
        rem /= p.lead_dims[d];
      }
      mask_base += i * p.ms_l;
    }
    float acc[kPerLane];
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) acc[t] = 0.f;
    float run_max = -INFINITY, run_sum = 0.f;
    const int64_t s_end = p.causal ? (i + 1 < p.S ? i + 1 : p.S) : p.S;
    for (int64_t j0 = 0; j0 < s_end; j0 += 32) {
      const int64_t j = j0 + lane;
      float s = -INFINITY;
      if (j < s_end) {
        s = dot_row(qs, kh + j * p.E, p.E, p.vec_k) * p.scale;
        if (p.mask_kind == 1) {
          if (!static_cast<const bool*>(p.mask)[mask_base + j * p.ms_s]) s = -INFINITY;
        } else if (p.mask_kind == 2) {
          s += widen(static_cast<const T*>(p.mask)[mask_base + j * p.ms_s]);
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
        const T* vr = vh + (j0 + jj) * p.Ev;
#pragma unroll
        for (int t = 0; t < kPerLane; ++t) {
          const int64_t d = lane + 32 * t;
          if (d < p.Ev) acc[t] += pw * widen(vr[d]);
        }
      }
    }
    const float inv = run_sum > 0.f ? 1.f / run_sum : 0.f;
    T* orow = out + (bh * p.L + i) * p.Ev;
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) {
      const int64_t d = lane + 32 * t;
      if (d < p.Ev) orow[d] = cast_value<T>(acc[t] * inv);
    }
  }
}

template <typename T, int kPerLane>
Status launch(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v, DeviceTensor& out,
              const AttnParams& p, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(kWarps) * p.E * sizeof(float);
  if (smem > 48 * 1024) return unsupported("[cuda attention] head size " + std::to_string(p.E) + " is too large");
  const int64_t jobs = p.heads * ((p.L + kWarps - 1) / kWarps);
  const unsigned grid = static_cast<unsigned>(jobs < (1LL << 30) ? jobs : (1LL << 30));
  attention_kernel<T, kPerLane><<<grid, kWarps * 32, smem, stream>>>(
      static_cast<const T*>(q.data), static_cast<const T*>(k.data), static_cast<const T*>(v.data),
      static_cast<T*>(out.data), p);
  INGOT_CUDA_CHECK_LAUNCH("attention");
  return {};
}

template <typename T>
Status launch_for_ev(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v, DeviceTensor& out,
                     const AttnParams& p, cudaStream_t stream) {
  if (p.Ev <= 64) return launch<T, 2>(q, k, v, out, p, stream);
  if (p.Ev <= 128) return launch<T, 4>(q, k, v, out, p, stream);
  if (p.Ev <= 256) return launch<T, 8>(q, k, v, out, p, stream);
  if (p.Ev <= 512) return launch<T, 16>(q, k, v, out, p, stream);
  return unsupported("[cuda attention] value head size " + std::to_string(p.Ev) + " is above 512");
}

}  // namespace

Status attention(const OpAttrs& attrs, const KernelArgs& args) {
  if (op_kind(attrs) != OpKind::kAttention)
    return internal_error(std::string("[cuda attention] not an attention op: ") + op_name(op_kind(attrs)));
  if (args.in.size() < 3 || !args.in[0] || !args.in[1] || !args.in[2] || args.out.size() != 1 || !args.out[0])
    return invalid_argument("[cuda attention] expects inputs (q, k, v, mask?) and one output");
  const auto& a = std::get<AttentionAttrs>(attrs);
  const DeviceTensor &q = *args.in[0], &k = *args.in[1], &v = *args.in[2];
  const DeviceTensor* mask = args.in.size() > 3 ? args.in[3] : nullptr;
  DeviceTensor& out = *args.out[0];
  const int r = q.rank();
  if (r < 3 || k.rank() != r || v.rank() != r || out.rank() != r)
    return invalid_argument("[cuda attention] q, k, v and out must share a rank >= 3; got q " + shape_str(q.shape) +
                            ", k " + shape_str(k.shape) + ", v " + shape_str(v.shape));
  if (k.dtype != q.dtype || v.dtype != q.dtype || out.dtype != q.dtype)
    return unsupported(std::string("[cuda attention] mixed dtypes ") + dtype_name(q.dtype) + ", " +
                       dtype_name(k.dtype) + ", " + dtype_name(v.dtype));
  AttnParams p;
  p.hq = q.shape[r - 3];
  p.L = q.shape[r - 2];
  p.E = q.shape[r - 1];
  p.hkv = k.shape[r - 3];
  p.S = k.shape[r - 2];
  p.Ev = v.shape[r - 1];
  const int64_t batch = product(q.shape, 0, r - 3);
  const bool ok = k.shape[r - 1] == p.E && v.shape[r - 3] == p.hkv && v.shape[r - 2] == p.S && p.hkv > 0 &&
                  p.hq % p.hkv == 0 && product(k.shape, 0, r - 3) == batch && product(v.shape, 0, r - 3) == batch &&
                  out.numel() == batch * p.hq * p.L * p.Ev && out.shape[r - 1] == p.Ev;
  if (!ok)
    return invalid_argument("[cuda attention] inconsistent shapes q " + shape_str(q.shape) + ", k " +
                            shape_str(k.shape) + ", v " + shape_str(v.shape) + ", out " + shape_str(out.shape));
  p.heads = batch * p.hq;
  p.scale = static_cast<float>(a.scale);
  p.causal = a.is_causal;
  p.vec_k = (p.E * static_cast<int64_t>(dtype_size(k.dtype))) % 16 == 0 &&
            reinterpret_cast<uintptr_t>(k.data) % 16 == 0;
  if (out.numel() == 0) return {};
  if (mask) {
    std::vector<int64_t> full(q.shape.begin(), q.shape.end() - 1);
    full.push_back(p.S);
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
    if (mask->dtype == DType::kBool) p.mask_kind = 1;
    else if (mask->dtype == q.dtype) p.mask_kind = 2;
    else
      return unsupported(std::string("[cuda attention] mask dtype ") + dtype_name(mask->dtype) + " with q dtype " +
                         dtype_name(q.dtype));
    p.mask = mask->data;
    p.lead_rank = static_cast<int>(full.size()) - 2;
    if (p.lead_rank > kMaxRank) return unsupported("[cuda attention] too many batch dims");
    for (int d = 0; d < p.lead_rank; ++d) {
      p.lead_dims[d] = full[d];
      p.lead_strides[d] = mstride[d];
    }
    p.ms_l = mstride[full.size() - 2];
    p.ms_s = mstride[full.size() - 1];
  }
  switch (q.dtype) {
    case DType::kFloat32: return launch_for_ev<float>(q, k, v, out, p, args.stream);
    case DType::kFloat16: return launch_for_ev<__half>(q, k, v, out, p, args.stream);
    case DType::kBFloat16: return launch_for_ev<__nv_bfloat16>(q, k, v, out, p, args.stream);
    default:
      return unsupported(std::string("[cuda attention] dtype ") + dtype_name(q.dtype) + " is not supported on cuda");
  }
}

std::vector<std::string> attention_tactics(const OpAttrs&, const KernelArgs&) { return {}; }

}  // namespace ingot::cuda
