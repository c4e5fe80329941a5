// The "stem" convolution tactic: an implicit-GEMM tensor-core kernel for image
// stems, channels-last fp16/bf16 convolutions whose input has at most 4 channels
// (ResNet's 7x7/2 conv on RGB). cuDNN's NHWC tensor-core kernels want channel
// counts that are multiples of 8, so on 3 channels it either runs slow kernels or
// (pad8 tactics) convolves 8 mostly-zero channels; im2col writes a patch matrix
// many times the input's size. Here the input tile lives in shared memory with
// its channels widened to 4, and the GEMM's reduction runs over (ky, kx, c) with
// kx padded to a multiple of 4: one m16n8k16 step covers 4 kernel columns x 4
// channels, K = kh * ceil(kw / 4) * 16 (224 for 7x7 on RGB, of which 147 products
// are real: 3 channels widened to 4, 7 columns to 8). The padded kernel columns
// multiply real pixels by zero weights, so an infinite input pixel gives NaN
// where torch would give +-inf in the outputs whose window only borders it.
//
// CTA: 4 warps, a tile of 8 output rows x 16 output columns (128 pixels) x 64
// output channels (blockIdx.y picks the 64). Warp w owns output rows 2w, 2w+1 of
// the tile: each is one m16 tile (16 consecutive columns), so a fragment row is an
// output pixel. CTAs are persistent: each loads its 64 x K weight slice into
// shared memory once (rows padded by 8 halves: ldmatrix conflict-free), then loops
// over tiles: the input patch ((8-1)*sh + kh rows x (16-1)*sw + 4*ceil(kw/4)
// columns, 8 bytes a pixel, zeros outside the image) is loaded, then every
// (ky, kx group) step loads B fragments with ldmatrix.x4 and A fragments with
// 32-bit shared loads (any stride: ldmatrix would need 16-byte aligned rows),
// then 16 MMAs. The epilogue adds the bias, applies ReLU and stores pairs of
// channels straight from the accumulators.
//
// A fragment (PTX m16n8k16, g = lane / 4, t = lane % 4): a0 holds row g, k 2t and
// 2t+1: kernel column t/2 of the group, channels 2(t%2), 2(t%2)+1: the (t%2)-th
// 32-bit word of patch pixel (row, g*sw + 4*group + t/2); a2 (k + 8) is the same
// two pixels further; a1/a3 the same for row g+8.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backends/cuda/conv_gemm.h"
#include "backends/cuda/conv_stem.h"
#include "backends/cuda/cuda_util.cuh"
#include "backends/cuda/mma_util.cuh"

namespace ingot::cuda {
namespace {

constexpr int kTileRows = 8, kTileCols = 16;  // output pixels a tile covers
constexpr int kTileN = 64;                    // output channels a CTA covers
constexpr int kStemThreads = 128;             // 4 warps, 32 pixels each
constexpr int kMaxStemK = 512;                // weights in shared memory: 64 x (K + 8) halves
constexpr int kMaxStemChannels = 4;
constexpr int64_t kMaxPatchBytes = 64 * 1024;  // the input tile in shared memory
constexpr int kLoadBatch = 8;                 // patch pixels a thread loads before storing

struct StemParams {
  const void* x;     // [N, H, W, C]
  const void* wk;    // [Npad, K]: the weight in the kernel's reduction order, zeros padded
  const void* bias;  // [Cout] or nullptr
  void* y;           // [N, OH, OW, Cout]
  int n, h, w, c, oh, ow, cout;
  int kh, kw, sh, sw, ph, pw;
  int kx_groups, k;               // ceil(kw / 4), kh * kx_groups * 16
  int patch_rows, patch_cols;     // the input patch one tile reads
  int tiles_y, tiles_x, tiles;    // tiles per image (rows, columns) and in all
  int relu;
};

// Everything but the pointers, from the conv's attributes and tensor shapes (the
// caller has checked ranks and the 2^31 bound).
StemParams stem_geometry(const ConvAttrs& c, const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& y) {
  StemParams p{};
  p.n = int(x.shape[0]);
  p.h = int(x.shape[1]);
  p.w = int(x.shape[2]);
  p.c = int(x.shape[3]);
  p.oh = int(y.shape[1]);
  p.ow = int(y.shape[2]);
  p.cout = int(y.shape[3]);
  p.kh = int(w.shape[1]);
  p.kw = int(w.shape[2]);
  p.sh = int(c.stride[0]);
  p.sw = int(c.stride[1]);
  p.ph = int(c.padding[0]);
  p.pw = int(c.padding[1]);
  p.kx_groups = (p.kw + 3) / 4;
  p.k = p.kh * p.kx_groups * 16;
  p.patch_rows = (kTileRows - 1) * p.sh + p.kh;
  p.patch_cols = (kTileCols - 1) * p.sw + 4 * p.kx_groups;
  p.tiles_y = (p.oh + kTileRows - 1) / kTileRows;
  p.tiles_x = (p.ow + kTileCols - 1) / kTileCols;
  p.tiles = p.n * p.tiles_y * p.tiles_x;
  p.relu = relu_like(c) ? 1 : 0;
  return p;
}

int64_t patch_bytes(const StemParams& p) { return int64_t(p.patch_rows) * p.patch_cols * 8; }

size_t stem_smem_bytes(const StemParams& p) {
  return size_t(kTileN) * (p.k + 8) * 2 + static_cast<size_t>(patch_bytes(p));
}

template <typename T>
__global__ void __launch_bounds__(kStemThreads, 4) stem_conv_kernel(const __grid_constant__ StemParams p) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int ldw = p.k + 8;
  T* w_s = reinterpret_cast<T*>(smem);
  uint2* patch = reinterpret_cast<uint2*>(smem + size_t(kTileN) * ldw * 2);
  const uint32_t* patch32 = reinterpret_cast<const uint32_t*>(patch);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int n0 = blockIdx.y * kTileN;

  {  // This CTA's 64 weight rows, once (K is a multiple of 16: 16-byte rows).
    const int chunks = p.k / 8;
    const T* src = static_cast<const T*>(p.wk) + size_t(n0) * p.k;
    for (int i = tid; i < kTileN * chunks; i += kStemThreads) {
      const int r = i / chunks, col = (i % chunks) * 8;
      *reinterpret_cast<uint4*>(w_s + r * ldw + col) = *reinterpret_cast<const uint4*>(src + size_t(r) * p.k + col);
    }
  }
  float bias[8][2];
#pragma unroll
  for (int q = 0; q < 8; ++q)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int n = n0 + 8 * q + 2 * t + e;
      bias[q][e] = p.bias && n < p.cout ? to_float(static_cast<const T*>(p.bias)[n]) : 0.f;
    }

  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int per_image = p.tiles_y * p.tiles_x;
  for (int tile = blockIdx.x; tile < p.tiles; tile += gridDim.x) {
    const int b = tile / per_image, in_image = tile % per_image;
    const int oy0 = (in_image / p.tiles_x) * kTileRows, ox0 = (in_image % p.tiles_x) * kTileCols;
    const int iy0 = oy0 * p.sh - p.ph, ix0 = ox0 * p.sw - p.pw;
    __syncthreads();  // the previous tile is done with the patch (and the weights are in)
    // Up to kLoadBatch pixels a thread are loaded before any is stored, so that the
    // global loads are in flight together rather than one latency after another.
    const int pixels = p.patch_rows * p.patch_cols;
    for (int first = 0; first < pixels; first += kLoadBatch * kStemThreads) {
      T v[kLoadBatch][4];
#pragma unroll
      for (int l = 0; l < kLoadBatch; ++l) {
        const int i = first + l * kStemThreads + tid;
        const int iy = iy0 + i / p.patch_cols, ix = ix0 + i % p.patch_cols;
        const bool inside = i < pixels && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
        const T* src = x + ((size_t(b) * p.h + iy) * p.w + ix) * p.c;
#pragma unroll
        for (int ch = 0; ch < 4; ++ch) v[l][ch] = inside && ch < p.c ? src[ch] : from_float<T>(0.f);
      }
#pragma unroll
      for (int l = 0; l < kLoadBatch; ++l) {
        const int i = first + l * kStemThreads + tid;
        if (i >= pixels) break;
        uint2 packed;
        memcpy(&packed, v[l], sizeof(packed));
        patch[i] = packed;
      }
    }
    __syncthreads();

    float acc[2][8][4];
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int q = 0; q < 8; ++q)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[j][q][e] = 0.f;
    // ldmatrix.x4 on weight rows: lanes 0-7 / 8-15 / 16-23 / 24-31 address rows
    // n..n+7 at k, k+8, then rows n+8..n+15 at k, k+8: b0, b1 of two n8 tiles.
    const int b_row = (lane / 16) * 8 + lane % 8, b_col = ((lane / 8) % 2) * 8;
    const uint32_t w_lane = smem_u32(w_s + b_row * ldw + b_col);
    for (int ky = 0; ky < p.kh; ++ky) {
      for (int gx = 0; gx < p.kx_groups; ++gx) {
        const int kbase = (ky * p.kx_groups + gx) * 16;
        uint32_t bf[8][2];
#pragma unroll
        for (int q2 = 0; q2 < 4; ++q2) {
          uint32_t r[4];
          ldmatrix_x4(r, w_lane + (q2 * 16 * ldw + kbase) * 2);
          bf[2 * q2][0] = r[0];
          bf[2 * q2][1] = r[1];
          bf[2 * q2 + 1][0] = r[2];
          bf[2 * q2 + 1][1] = r[3];
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int prow = (warp * 2 + j) * p.sh + ky;
          const int base = prow * p.patch_cols + gx * 4 + t / 2;
          const int word = t % 2;
          uint32_t a[4];
          a[0] = patch32[(base + g * p.sw) * 2 + word];
          a[1] = patch32[(base + (g + 8) * p.sw) * 2 + word];
          a[2] = patch32[(base + g * p.sw + 2) * 2 + word];
          a[3] = patch32[(base + (g + 8) * p.sw + 2) * 2 + word];
#pragma unroll
          for (int q = 0; q < 8; ++q) mma_16816<T>(acc[j][q], a, bf[q][0], bf[q][1]);
        }
      }
    }

#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int oy = oy0 + warp * 2 + j;
      if (oy >= p.oh) continue;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int ox = ox0 + g + 8 * half;
        if (ox >= p.ow) continue;
        T* dst = y + ((size_t(b) * p.oh + oy) * p.ow + ox) * p.cout + n0 + 2 * t;
#pragma unroll
        for (int q = 0; q < 8; ++q) {
          if (n0 + 8 * q + 2 * t >= p.cout) continue;
          float v0 = acc[j][q][2 * half] + bias[q][0], v1 = acc[j][q][2 * half + 1] + bias[q][1];
          if (p.relu) {
            v0 = fmaxf(v0, 0.f);
            v1 = fmaxf(v1, 0.f);
          }
          *reinterpret_cast<uint32_t*>(dst + 8 * q) = pack_pair<T>(v0, v1);
        }
      }
    }
  }
}

// wpad[n][(ky * groups + gx) * 16 + kx4 * 4 + ch] = w[n][ky][4 gx + kx4][ch] (KRSC),
// zero past kw, C and Cout.
template <typename T>
__global__ void stem_weight_layout(const T* __restrict__ w, T* __restrict__ wpad, int cout, int npad, int kh, int kw,
                                   int c, int groups, int k) {
  const int64_t total = int64_t(npad) * k;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int n = int(i / k), kk = int(i % k);
    const int step = kk / 16, within = kk % 16;
    const int ky = step / groups, kx = (step % groups) * 4 + within / 4, ch = within % 4;
    T v = from_float<T>(0.f);
    if (n < cout && kx < kw && ch < c) v = w[((int64_t(n) * kh + ky) * kw + kx) * c + ch];
    wpad[i] = v;
  }
}

struct StemState final : StepState {
  void* weight = nullptr;  // [Npad, K]
  StemParams params{};
  unsigned grid_x = 0;
  ~StemState() override {
    if (weight) cudaFree(weight);
  }
};

template <typename T>
Status prepare_typed(const DeviceTensor& w, StemState& st, cudaStream_t stream) {
  StemParams& p = st.params;
  const int npad = (p.cout + kTileN - 1) / kTileN * kTileN;
  INGOT_CUDA_RETURN_IF_ERROR(cudaMalloc(&st.weight, size_t(npad) * p.k * sizeof(T)));
  stem_weight_layout<T><<<blocks_for(int64_t(npad) * p.k), kThreads, 0, stream>>>(
      static_cast<const T*>(w.data), static_cast<T*>(st.weight), p.cout, npad, p.kh, p.kw, p.c, p.kx_groups, p.k);
  INGOT_CUDA_CHECK_LAUNCH("stem conv weight layout");
  const size_t smem = stem_smem_bytes(p);
  int device = 0;
  INGOT_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  {
    // The limit belongs to the kernel function on this device, not to this step:
    // another stem step of this dtype may need more, so it is only ever raised.
    static std::mutex mutex;
    static std::map<int, size_t> allowed;  // per device
    std::lock_guard<std::mutex> lock(mutex);
    if (smem > allowed[device]) {
      INGOT_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(stem_conv_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(smem)));
      allowed[device] = smem;
    }
  }
  int sms = 0, per_sm = 0;
  INGOT_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  INGOT_CUDA_RETURN_IF_ERROR(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, stem_conv_kernel<T>, kStemThreads, smem));
  if (per_sm < 1) return unsupported("[cuda conv] stem: the kernel does not fit on an SM with this weight size");
  // Persistent CTAs: as many as run at once, each loading its weights once.
  st.grid_x = static_cast<unsigned>(std::min<int64_t>(p.tiles, int64_t(sms) * per_sm));
  return {};
}

}  // namespace

bool stem_applies(const ConvAttrs& c, const KernelArgs& args, std::string* why_not) {
  auto no = [&](const std::string& why) {
    if (why_not) *why_not = why;
    return false;
  };
  if (!c.channels_last || c.transposed || c.groups != 1) return no("a channels-last convolution with one group");
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1 || !args.out[0])
    return no("inputs (x, weight, bias?) and one output");
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor& y = *args.out[0];
  if (x.rank() != 4 || w.rank() != 4 || y.rank() != 4 || c.stride.size() != 2 || c.padding.size() != 2)
    return no("a 2-d convolution");
  if ((x.dtype != DType::kFloat16 && x.dtype != DType::kBFloat16) || w.dtype != x.dtype || y.dtype != x.dtype)
    return no("float16 or bfloat16 tensors");
  for (int64_t d : c.dilation)
    if (d != 1) return no("no dilation");
  if (x.shape[3] > kMaxStemChannels || w.shape[3] != x.shape[3])
    return no("at most " + std::to_string(kMaxStemChannels) + " input channels");
  if (y.shape[3] % 8 != 0 || w.shape[0] != y.shape[3]) return no("output channels a multiple of 8");
  if (args.in.size() > 3 && args.in[3]) return no("no residual");
  if (args.in.size() > 2 && args.in[2] && (args.in[2]->dtype != y.dtype || args.in[2]->numel() != y.shape[3]))
    return no("a bias of the output's dtype, one per output channel");
  if (c.activation >= 0 && !relu_like(c)) return no("no activation or ReLU");
  if (x.numel() >= (int64_t{1} << 31) || y.numel() >= (int64_t{1} << 31) || w.shape[1] > kMaxStemK ||
      w.shape[2] > kMaxStemK || c.stride[0] > kMaxStemK || c.stride[1] > kMaxStemK)
    return no("tensors under 2^31 elements and kernel sizes and strides of at most " + std::to_string(kMaxStemK));
  if (c.stride[0] < 1 || c.stride[1] < 1) return no("positive strides");
  const StemParams p = stem_geometry(c, x, w, y);
  if (p.k > kMaxStemK) return no("a kernel of at most 32 (rows x column groups of 4)");
  if (patch_bytes(p) > kMaxPatchBytes) return no("strides small enough for an input tile to fit in shared memory");
  return true;
}

Status run_stem(const ConvAttrs& c, const KernelArgs& args) {
  if (!*args.state) {
    // Shapes and attributes are fixed per step: checked once, with the state.
    std::string why;
    if (!stem_applies(c, args, &why)) return invalid_argument("[cuda conv] tactic 'stem' needs " + why);
    auto st = std::make_unique<StemState>();
    const DeviceTensor& w = *args.in[1];
    st->params = stem_geometry(c, *args.in[0], w, *args.out[0]);
    if (w.dtype == DType::kFloat16) INGOT_RETURN_IF_ERROR(prepare_typed<__half>(w, *st, args.stream));
    else INGOT_RETURN_IF_ERROR(prepare_typed<__nv_bfloat16>(w, *st, args.stream));
    *args.state = std::move(st);
  }
  const DeviceTensor& x = *args.in[0];
  DeviceTensor& y = *args.out[0];
  auto* st = dynamic_cast<StemState*>(args.state->get());
  if (!st) return internal_error("[cuda conv] stem: unexpected step state");
  StemParams p = st->params;
  p.x = x.data;
  p.wk = st->weight;
  p.bias = args.in.size() > 2 && args.in[2] ? args.in[2]->data : nullptr;
  p.y = y.data;
  if (p.tiles == 0) return {};
  const dim3 grid(st->grid_x, static_cast<unsigned>((p.cout + kTileN - 1) / kTileN));
  if (x.dtype == DType::kFloat16)
    stem_conv_kernel<__half><<<grid, kStemThreads, stem_smem_bytes(p), args.stream>>>(p);
  else
    stem_conv_kernel<__nv_bfloat16><<<grid, kStemThreads, stem_smem_bytes(p), args.stream>>>(p);
  INGOT_CUDA_CHECK_LAUNCH("stem conv");
  return {};
}

}  // namespace ingot::cuda
