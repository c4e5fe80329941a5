// Host-side helpers of the CUDA kernel families (declared in cuda_util.cuh):
// broadcast maps, coalesced strided views, shape checks. They run once per step
// (their results are cached in the step's state or recomputed cheaply), never on
// the device. Also the profiler's gpu_delay kernel (cuda_common.h).
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

__global__ void spin_kernel(uint64_t nanoseconds) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < nanoseconds);
}

}  // namespace

Status gpu_delay(double microseconds, cudaStream_t stream) {
  spin_kernel<<<1, 1, 0, stream>>>(static_cast<uint64_t>(microseconds * 1000.0));
  return cuda_status(cudaGetLastError(), "gpu_delay");
}

int64_t product(const std::vector<int64_t>& v, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < v.size(); ++i) p *= v[i];
  return p;
}


Status check_arity(const KernelArgs& args, size_t min_in, size_t n_out, const char* op) {
  if (args.in.size() < min_in || args.out.size() != n_out)
    return invalid_argument(std::string("[cuda ") + op + "] expected " + std::to_string(min_in) + " inputs and " +
                            std::to_string(n_out) + " outputs, got " + std::to_string(args.in.size()) + " and " +
                            std::to_string(args.out.size()));
  for (size_t i = 0; i < min_in; ++i)
    if (!args.in[i]) return invalid_argument(std::string("[cuda ") + op + "] input " + std::to_string(i) + " is missing");
  for (size_t i = 0; i < n_out; ++i)
    if (!args.out[i]) return invalid_argument(std::string("[cuda ") + op + "] output is missing");
  return {};
}


Result<StridedView> make_strided_view(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides) {
  std::vector<int64_t> sizes, st;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    if (!sizes.empty() && st.back() == strides[d] * dims[d]) {
      sizes.back() *= dims[d];
      st.back() = strides[d];
    } else {
      sizes.push_back(dims[d]);
      st.push_back(strides[d]);
    }
  }
  if (sizes.size() > static_cast<size_t>(kMaxRank))
    return unsupported("[cuda] a strided copy over " + shape_str(dims) + " needs more than " +
                       std::to_string(kMaxRank) + " dims after merging");
  StridedView v;
  v.rank = static_cast<int>(sizes.size());
  for (int d = 0; d < v.rank; ++d) {
    v.dims[d] = sizes[d];
    v.strides[d] = st[d];
  }
  return v;
}

Result<BroadcastMap> make_broadcast_map(const std::vector<int64_t>& out_shape,
                                        const std::vector<const std::vector<int64_t>*>& in_shapes) {
  if (in_shapes.size() > 3) return internal_error("[cuda] a broadcast map takes at most 3 inputs");
  const int k = static_cast<int>(in_shapes.size());
  std::vector<std::vector<int64_t>> st(k);
  for (int i = 0; i < k; ++i)
    if (!broadcast_strides(*in_shapes[i], out_shape, &st[i]))
      return invalid_argument("[cuda] shape " + shape_str(*in_shapes[i]) + " does not broadcast to " +
                              shape_str(out_shape));
  // Coalesce: drop size-1 dims, merge a dim into the next where every operand is contiguous across them.
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> cst(k);
  const std::vector<int64_t> out_st = contiguous_strides(out_shape);
  std::vector<int64_t> ost;
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (int i = 0; i < k && merge; ++i) merge = cst[i].back() == st[i][d] * out_shape[d];
    if (merge) {
      sizes.back() *= out_shape[d];
      for (int i = 0; i < k; ++i) cst[i].back() = st[i][d];
    } else {
      sizes.push_back(out_shape[d]);
      for (int i = 0; i < k; ++i) cst[i].push_back(st[i][d]);
    }
  }
  if (sizes.size() > static_cast<size_t>(kMaxRank))
    return unsupported("[cuda] broadcasting to " + shape_str(out_shape) + " needs more than " +
                       std::to_string(kMaxRank) + " dims after merging");
  BroadcastMap m;
  m.rank = static_cast<int>(sizes.size());
  m.num_inputs = k;
  int64_t total = 1;
  std::vector<int64_t> max_offset(k, 0);
  for (int d = 0; d < m.rank; ++d) {
    m.out_dims[d] = sizes[d];
    total *= sizes[d];
    for (int i = 0; i < k; ++i) {
      m.in_strides[i][d] = cst[i][d];
      max_offset[i] += (sizes[d] - 1) * cst[i][d];
    }
  }
  constexpr int64_t kLimit = int64_t{1} << 31;
  m.fits32 = total < kLimit;
  for (int i = 0; i < k; ++i) m.fits32 = m.fits32 && max_offset[i] >= 0 && max_offset[i] < kLimit;
  return m;
}

}  // namespace ingot::cuda
