// Convolutions on the GPU through cuDNN 9's legacy API: forward convolution
// (grouped and depthwise included) and transposed convolution (cuDNN's
// backward-data), NCHW or, for 2-d convs the layout pass marked channels_last,
// NHWC tensors with KRSC filters (the tensor-core layout: no internal
// transposes). 1-d convolutions run as 2-d with a unit height.
//
// Epilogue (ops.def: y = act(conv(x, w) + bias + residual)): where cuDNN can,
// one cudnnConvolutionBiasActivationForward call does it all,
// y = act(alpha1 * conv + alpha2 * z + bias) with z the residual (alpha2 = 1) or y
// itself with alpha2 = 0. That call needs a bias and takes only RELU, or IDENTITY
// with the IMPLICIT_PRECOMP_GEMM algorithm; everything else (other activations,
// no bias, other algorithms, transposed convs) is the plain convolution followed
// by our epilogue kernel (conv_epilogue.cu) in one extra pass. If cuDNN refuses
// the fused call on the first run (a dtype or algorithm it does not fuse), the
// step falls back to the plain path for good; the first run is never captured.
//
// The algorithm is cuDNN's heuristic best within the workspace, or the tuner's
// tactic ("algo:<cudnnConvolutionFwdAlgo_t>", backward-data algorithms for
// transposed convs). fp32 convolutions run without TF32 unless the engine was
// built with --allow-tf32.
//
// A pointwise convolution (1x1 kernel, stride 1, no padding, one group) on
// channels-last tensors is exactly a matrix product: y[N*H*W, Cout] =
// x[N*H*W, Cin] @ w[Cout, Cin]^T, with bias, residual and activation as a Gemm
// epilogue. For those the tuner also times "gemm/<gemm tactic>", which runs the
// product through cuBLASLt (linear_algebra.cc): on Hopper its kernels are often
// faster than the ones cuDNN's legacy API picks for these shapes. That tactic and
// "im2col/" below live in conv_gemm.cc.
//
// A channels-last conv whose input channels are not a multiple of 8 (an image
// stem: 3 channels) misses cuDNN's tensor-core NHWC kernels: ResNet-50's 7x7 stem
// took 0.40 ms of its 1.47 ms at batch 32 on an H100. "pad8:algo:<n>" widens the
// input to a multiple of 8 channels with zeros (in the workspace, every run) and
// the weight likewise (once, in device memory the step's state owns), then runs
// cuDNN's algorithm n on the padded problem: the same sums, zeros added.
// "algo:<n>@<bytes>" is algorithm n given <bytes> of scratch instead of the
// default 32 MiB: cuDNN runs a different kernel for one algorithm depending on
// the scratch it is handed (ResNet-50's stem at batch 32, algorithm 1: 0.40 ms
// with 32 MiB, 0.09 ms with 148 MiB on an H100), so the tuner times both; the
// engine records the bytes in the tactic and gives the step that much.
// "im2col/<gemm tactic>" serves the same stems differently: the patch matrix
// [N*OH*OW, kh*kw*C rounded up to 8] is written into the workspace
// (conv_epilogue.cu) and multiplied by the weight as a cuBLASLt GEMM with the
// conv's epilogue fused; for a 3-channel 7x7 stem that is one memory-bound pass
// and a K = 152 GEMM instead of a convolution on 8 mostly-zero channels (on an
// H100 ResNet-50's stem measured 0.35 ms this way, behind the cuDNN tactics; it
// stays a candidate for other stems and GPUs).
// "stem" (conv_stem.cu) is our own tensor-core kernel for stems of at most 4
// input channels: the input tile in shared memory widened to 4 channels, no
// zero-padded copy in global memory and no patch matrix.
// "graph:<i>" runs the convolution and its whole epilogue as one cuDNN graph with
// cuDNN's i-th engine configuration (conv_cudnn_graph.cc), for channels-last
// 16-bit convs with one group, channel counts a multiple of 8 and no activation
// or ReLU; "pad8:graph:<i>" does the same for stems on the zero-widened input
// and weight, as pad8 does for the legacy algorithms.
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/conv_cudnn_graph.h"
#include "backends/cuda/conv_epilogue.h"
#include "backends/cuda/conv_gemm.h"
#include "backends/cuda/conv_stem.h"
#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {

bool relu_like(const ConvAttrs& c) {
  if (c.activation == static_cast<int64_t>(UnaryFn::kRelu)) return true;
  return c.activation == static_cast<int64_t>(UnaryFn::kClamp) && c.activation_alpha == 0.0 &&
         std::isinf(c.activation_beta) && c.activation_beta > 0;
}

// The channel count a pad8 tactic widens the input to, or 0 where it does not apply
// (see the file comment: channels-last 16-bit convs with one group and input
// channels that are not a multiple of 8).
int64_t padded_channel_count(const ConvAttrs& c, const KernelArgs& args) {
  if (!c.channels_last || c.transposed || c.groups != 1) return 0;
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.in[0]->rank() != 4 || args.in[1]->rank() != 4) return 0;
  const DeviceTensor& x = *args.in[0];
  if (x.dtype != DType::kFloat16 && x.dtype != DType::kBFloat16) return 0;
  const int64_t cin = x.shape[3];
  if (cin % 8 == 0 || args.in[1]->shape[3] != cin) return 0;
  return (cin + 7) / 8 * 8;
}

namespace {

Status dnn_status(cudnnStatus_t s, const char* what) {
  if (s == CUDNN_STATUS_SUCCESS) return {};
  return device_error(std::string(what) + " failed: " + cudnnGetErrorString(s));
}
#define DNN_RETURN_IF_ERROR(expr) INGOT_RETURN_IF_ERROR(dnn_status((expr), #expr))

Result<cudnnDataType_t> dnn_type(DType t) {
  switch (t) {
    case DType::kFloat32: return CUDNN_DATA_FLOAT;
    case DType::kFloat16: return CUDNN_DATA_HALF;
    case DType::kBFloat16: return CUDNN_DATA_BFLOAT16;
    default: return unsupported(std::string("cuDNN convolutions do not take ") + dtype_name(t));
  }
}

std::vector<int> dims4(const std::vector<int64_t>& shape) {
  std::vector<int> d(shape.begin(), shape.end());
  if (d.size() == 3) d.insert(d.begin() + 2, 1);  // [N, C, L] -> [N, C, 1, L]
  return d;
}
std::vector<int> strides_of(const std::vector<int>& dims) {
  std::vector<int> s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}
std::vector<int> spatial(const std::vector<int64_t>& v, size_t n, int fill) {
  std::vector<int> out(v.begin(), v.end());
  while (out.size() < n) out.insert(out.begin(), fill);
  return out;
}


struct ConvState final : StepState {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnActivationDescriptor_t act = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_algo{};
  bool fused = false;      // one cudnnConvolutionBiasActivationForward call
  bool first_run = true;   // the fused call may still fall back to the plain path
  ConvEpilogue epilogue;   // what the epilogue kernel adds after cuDNN (nothing when empty)
  int64_t padded_channels = 0;    // pad8 tactics: the widened input channel count (0: none)
  void* padded_weight = nullptr;  // pad8 tactics: [Cout, kh, kw, padded_channels], owned
  ~ConvState() override {
    if (padded_weight) cudaFree(padded_weight);
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (act) cudnnDestroyActivationDescriptor(act);
  }
};

Status set_tensor(cudnnTensorDescriptor_t* d, cudnnDataType_t t, const std::vector<int>& dims) {
  DNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(d));
  auto s = strides_of(dims);
  return dnn_status(cudnnSetTensorNdDescriptor(*d, t, static_cast<int>(dims.size()), dims.data(), s.data()),
                    "cudnnSetTensorNdDescriptor");
}

// An NHWC tensor [N, H, W, C] described with cuDNN's logical NCHW dims.
Status set_nhwc_tensor(cudnnTensorDescriptor_t* d, cudnnDataType_t t, const std::vector<int64_t>& s) {
  DNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(d));
  return dnn_status(cudnnSetTensor4dDescriptor(*d, CUDNN_TENSOR_NHWC, t, static_cast<int>(s[0]), static_cast<int>(s[3]),
                                               static_cast<int>(s[1]), static_cast<int>(s[2])),
                    "cudnnSetTensor4dDescriptor");
}

// Builds the tensor, filter and convolution descriptors (no algorithm yet); with
// padded_channels > 0 the input and filter of a channels-last conv have that many
// channels instead of their own.
Status describe(const ConvAttrs& c, const KernelArgs& args, ConvState& st, int64_t padded_channels = 0) {
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1 || !args.out[0])
    return internal_error("[cuda conv] expects inputs (x, weight, bias?, residual?) and one output");
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor* b = args.in.size() > 2 ? args.in[2] : nullptr;
  const DeviceTensor* r = args.in.size() > 3 ? args.in[3] : nullptr;
  const DeviceTensor& y = *args.out[0];
  if (x.rank() < 3 || x.rank() > 5) return unsupported("cuDNN convolution needs 1-d, 2-d or 3-d input");
  if (w.rank() != x.rank() || y.rank() != x.rank())
    return invalid_argument("[cuda conv] weight and output must have the input's rank");
  for (const DeviceTensor* t : {&w, b, r, &y})
    if (t && t->dtype != x.dtype)
      return unsupported(std::string("[cuda conv] mixed dtypes ") + dtype_name(x.dtype) + " and " + dtype_name(t->dtype));
  if (r && r->shape != y.shape) return invalid_argument("[cuda conv] residual shape differs from the output's");
  if (c.channels_last && (x.rank() != 4 || c.transposed))
    return unsupported("[cuda conv] channels_last is implemented for 2-d, non-transposed convolutions only");
  const int64_t cout = c.channels_last ? y.shape.back() : y.shape[1];
  if (b && b->numel() != cout) return invalid_argument("[cuda conv] bias does not match the output channels");
  if (c.activation >= 0 && !conv_epilogue_supports(c.activation))
    return unsupported("[cuda conv] fused activation " + std::to_string(c.activation) + " is not supported");
  INGOT_ASSIGN_OR_RETURN(cudnnDataType_t t, dnn_type(x.dtype));

  size_t nsp = 0;
  if (c.channels_last) {
    nsp = 2;
    std::vector<int64_t> xs = x.shape;
    int64_t wc = w.shape[3];
    if (padded_channels > 0) xs[3] = wc = padded_channels;
    INGOT_RETURN_IF_ERROR(set_nhwc_tensor(&st.x, t, xs));
    INGOT_RETURN_IF_ERROR(set_nhwc_tensor(&st.y, t, y.shape));
    // Weight [Cout, kh, kw, Cin/g] is cuDNN's KRSC ("NHWC" filter); dims stay KCRS.
    const int wd[4] = {static_cast<int>(w.shape[0]), static_cast<int>(wc), static_cast<int>(w.shape[1]),
                       static_cast<int>(w.shape[2])};
    DNN_RETURN_IF_ERROR(cudnnCreateFilterDescriptor(&st.w));
    DNN_RETURN_IF_ERROR(cudnnSetFilterNdDescriptor(st.w, t, CUDNN_TENSOR_NHWC, 4, wd));
  } else {
    const std::vector<int> xd = dims4(x.shape), yd = dims4(y.shape), wd = dims4(w.shape);
    nsp = xd.size() - 2;
    INGOT_RETURN_IF_ERROR(set_tensor(&st.x, t, xd));
    INGOT_RETURN_IF_ERROR(set_tensor(&st.y, t, yd));
    DNN_RETURN_IF_ERROR(cudnnCreateFilterDescriptor(&st.w));
    DNN_RETURN_IF_ERROR(
        cudnnSetFilterNdDescriptor(st.w, t, CUDNN_TENSOR_NCHW, static_cast<int>(wd.size()), wd.data()));
  }
  std::vector<int> pad = spatial(c.padding, nsp, 0), stride = spatial(c.stride, nsp, 1),
                   dil = spatial(c.dilation, nsp, 1);
  if (pad.size() != nsp || stride.size() != nsp || dil.size() != nsp)
    return invalid_argument("[cuda conv] stride/padding/dilation do not match the spatial rank");
  DNN_RETURN_IF_ERROR(cudnnCreateConvolutionDescriptor(&st.conv));
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionNdDescriptor(st.conv, static_cast<int>(nsp), pad.data(), stride.data(),
                                                      dil.data(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionGroupCount(st.conv, static_cast<int>(c.groups)));
  cudnnMathType_t math = CUDNN_TENSOR_OP_MATH;
  if (x.dtype == DType::kFloat32) math = args.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(st.conv, math));
  if (b) {
    // [1, C, 1, 1] (fully packed: the same bytes in either layout).
    std::vector<int> bd(c.channels_last ? 4 : dims4(x.shape).size(), 1);
    bd[1] = static_cast<int>(b->numel());
    INGOT_RETURN_IF_ERROR(set_tensor(&st.bias, t, bd));
  }
  return {};
}

// An algorithm cuDNN rates usable for the problem, with the math type it was rated with.
struct Candidate {
  int algo;
  cudnnMathType_t math;
  size_t memory = 0;  // the most scratch cuDNN rated this algorithm with
};

// cuDNN's rated algorithms for this convolution, in its order. Left out: ones that
// do not fit the workspace, tensor-op math in strict fp32 engines, algorithms
// cuDNN marks non-deterministic (an engine must give the same bits every run),
// and in strict fp32 the FFT and non-fused Winograd algorithms, whose transforms
// lose precision a float32 engine promises to keep; those two exclusions are
// dropped only if nothing else is left.
Result<std::vector<Candidate>> candidates(const ConvAttrs& c, const KernelArgs& args, const ConvState& st,
                                          size_t workspace_bytes) {
  constexpr int kMaxAlgos = 16;
  const bool fp32_strict = args.in[0]->dtype == DType::kFloat32 && !args.allow_tf32;
  auto imprecise = [&](int algo) {
    if (!fp32_strict || c.transposed) return false;
    const auto a = static_cast<cudnnConvolutionFwdAlgo_t>(algo);
    return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
           a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
  };
  std::vector<Candidate> out, fallback;
  auto take = [&](int algo, cudnnStatus_t status, size_t memory, cudnnMathType_t math, cudnnDeterminism_t det) {
    if (status != CUDNN_STATUS_SUCCESS || memory > workspace_bytes) return;
    if (fp32_strict && (math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) return;
    std::vector<Candidate>& list = det == CUDNN_DETERMINISTIC && !imprecise(algo) ? out : fallback;
    for (Candidate& k : list)
      if (k.algo == algo) {
        k.memory = std::max(k.memory, memory);
        return;
      }
    list.push_back({algo, math, memory});
  };
  int found = 0;
  if (!c.transposed) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMaxAlgos];
    DNN_RETURN_IF_ERROR(cudnnGetConvolutionForwardAlgorithm_v7(args.handles->cudnn, st.x, st.w, st.conv, st.y,
                                                               kMaxAlgos, &found, perf));
    for (int i = 0; i < found; ++i)
      take(perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType, perf[i].determinism);
  } else {
    // y = conv_transpose(x, w) is the gradient of a convolution with respect to its input:
    // the filter descriptor describes w as [Cin, Cout/g, k...] with x in the "dy" role.
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMaxAlgos];
    DNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardDataAlgorithm_v7(args.handles->cudnn, st.w, st.x, st.conv, st.y,
                                                                    kMaxAlgos, &found, perf));
    for (int i = 0; i < found; ++i)
      take(perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType, perf[i].determinism);
  }
  return out.empty() ? fallback : out;
}

std::string tactic_name(int algo) { return "algo:" + std::to_string(algo); }

// Scratch every conv step gets by default (cuDNN's and cuBLASLt's), and the most
// an "algo:<n>@<bytes>" candidate may ask for.
constexpr size_t kLibraryBytes = size_t{32} << 20;
constexpr size_t kLargeAlgoBytes = size_t{256} << 20;

// "algo:<n>@<bytes>" -> ("algo:<n>", bytes); other tactics -> (tactic, 0).
std::pair<std::string, size_t> split_scratch(const std::string& tactic) {
  const size_t at = tactic.find('@');
  if (at == std::string::npos || at + 1 == tactic.size() || tactic.rfind("algo:", 0) != 0) return {tactic, 0};
  size_t bytes = 0;
  for (size_t i = at + 1; i < tactic.size(); ++i) {
    if (tactic[i] < '0' || tactic[i] > '9' || bytes > (size_t{1} << 40)) return {tactic, 0};
    bytes = bytes * 10 + static_cast<size_t>(tactic[i] - '0');
  }
  return {tactic.substr(0, at), bytes};
}

Result<int> parse_tactic(const std::string& tactic) {
  const std::string prefix = "algo:";
  if (tactic.compare(0, prefix.size(), prefix) != 0 || tactic.size() == prefix.size())
    return invalid_argument("[cuda conv] unknown tactic '" + tactic + "' (expected algo:<int>[@<bytes>])");
  int value = 0;
  for (size_t i = prefix.size(); i < tactic.size(); ++i) {
    if (tactic[i] < '0' || tactic[i] > '9' || value > 1000)
      return invalid_argument("[cuda conv] unknown tactic '" + tactic + "' (expected algo:<int>[@<bytes>])");
    value = value * 10 + (tactic[i] - '0');
  }
  return value;
}

// The plain-path epilogue: bias, residual and activation all in our kernel.
ConvEpilogue full_epilogue(const ConvAttrs& c, const KernelArgs& args) {
  const DeviceTensor& y = *args.out[0];
  ConvEpilogue e;
  e.elements = y.numel();
  e.channels_last = c.channels_last;
  e.channels = c.channels_last ? y.shape.back() : y.shape[1];
  e.inner = 1;
  if (!c.channels_last)
    for (size_t i = 2; i < y.shape.size(); ++i) e.inner *= y.shape[i];
  e.bias = args.in.size() > 2 && args.in[2] ? args.in[2]->data : nullptr;
  e.residual = args.in.size() > 3 && args.in[3] ? args.in[3]->data : nullptr;
  e.activation = c.activation;
  e.alpha = static_cast<float>(c.activation_alpha);
  e.beta = static_cast<float>(c.activation_beta);
  return e;
}

// ------------------------------------------------------- zero-padded input channels

constexpr const char* kPadPrefix = "pad8:";

// Workspace bytes the padded input takes (at the workspace's start, 256-aligned).
size_t padded_input_bytes(const KernelArgs& args, int64_t channels) {
  const DeviceTensor& x = *args.in[0];
  const size_t bytes = static_cast<size_t>(x.shape[0] * x.shape[1] * x.shape[2] * channels) * dtype_size(x.dtype);
  return (bytes + 255) / 256 * 256;
}

// The widened weight, made once per step state: [Cout, kh, kw, Cin] ->
// [Cout, kh, kw, padded], owned by the caller.
Result<void*> make_padded_weight(const DeviceTensor& w, int64_t padded, cudaStream_t stream) {
  return padded_copy(w.dtype, w.data, w.shape[0] * w.shape[1] * w.shape[2], w.shape[3], padded, stream);
}

// The input widened to `padded` channels at the workspace's start (every run).
Status pad_input(const KernelArgs& args, int64_t padded) {
  const DeviceTensor& x = *args.in[0];
  return pad_channels(x.dtype, x.data, args.workspace, x.shape[0] * x.shape[1] * x.shape[2], x.shape[3], padded,
                      args.stream);
}

// What cuDNN reads and the scratch it gets: the step's own tensors, or for a pad8
// state the widened input (written into the workspace now) and weight.
struct ConvOperands {
  const void* x = nullptr;
  const void* w = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

Result<ConvOperands> conv_operands(const ConvState& st, const KernelArgs& args) {
  ConvOperands o{args.in[0]->data, args.in[1]->data, args.workspace, args.workspace_bytes};
  if (!st.padded_channels) return o;
  const size_t pad_bytes = padded_input_bytes(args, st.padded_channels);
  if (pad_bytes > args.workspace_bytes)
    return internal_error("[cuda conv] the padded input needs " + std::to_string(pad_bytes) +
                          " workspace bytes, the step has " + std::to_string(args.workspace_bytes));
  INGOT_RETURN_IF_ERROR(pad_input(args, st.padded_channels));
  o.x = args.workspace;
  o.w = st.padded_weight;
  o.workspace = static_cast<char*>(args.workspace) + pad_bytes;
  o.workspace_bytes = args.workspace_bytes - pad_bytes;
  return o;
}

Result<std::unique_ptr<ConvState>> prepare(const ConvAttrs& c, const KernelArgs& args) {
  auto st = std::make_unique<ConvState>();
  std::string tactic = args.tactic;
  size_t workspace = args.workspace_bytes;
  int64_t padded = 0;
  if (tactic.rfind(kPadPrefix, 0) == 0) {
    padded = padded_channel_count(c, args);
    if (!padded)
      return invalid_argument("[cuda conv] tactic '" + args.tactic + "' needs a channels-last float16/bfloat16 "
                              "convolution with one group and input channels that are not a multiple of 8");
    const size_t pad_bytes = padded_input_bytes(args, padded);
    if (pad_bytes > workspace)
      return invalid_argument("[cuda conv] tactic '" + args.tactic + "' needs " + std::to_string(pad_bytes) +
                              " workspace bytes for the padded input, the step has " + std::to_string(workspace));
    workspace -= pad_bytes;
    tactic = tactic.substr(std::char_traits<char>::length(kPadPrefix));
    if (tactic.empty()) return invalid_argument("[cuda conv] unknown tactic '" + args.tactic + "' (expected pad8:algo:<int>)");
  }
  const auto [base_tactic, scratch] = split_scratch(tactic);
  if (scratch > workspace)
    return unsupported("[cuda conv] tactic '" + args.tactic + "' needs " + std::to_string(scratch) +
                       " workspace bytes, the step has " + std::to_string(workspace));
  tactic = base_tactic;
  INGOT_RETURN_IF_ERROR(describe(c, args, *st, padded));
  INGOT_ASSIGN_OR_RETURN(std::vector<Candidate> usable, candidates(c, args, *st, workspace));
  if (usable.empty())
    return unsupported(std::string("cuDNN found no ") + (c.transposed ? "transposed-" : "") +
                       "convolution algorithm within the workspace");
  Candidate chosen = usable.front();
  if (!tactic.empty()) {
    INGOT_ASSIGN_OR_RETURN(int algo, parse_tactic(tactic));
    bool found = false;
    for (const Candidate& k : usable)
      if (k.algo == algo) { chosen = k; found = true; break; }
    if (!found) {
      std::string list;
      for (const Candidate& k : usable) list += (list.empty() ? "" : ", ") + tactic_name(k.algo);
      return invalid_argument("[cuda conv] tactic '" + args.tactic + "' is not usable for this convolution (usable: " +
                              list + ")");
    }
  }
  // cuDNN requires the descriptor's math type to be the one the algorithm was rated
  // with; strict fp32 always runs FMA math: with CUDNN_DEFAULT_MATH (as cuDNN may
  // rate an algorithm) Ampere and later GPUs are allowed TF32 tensor cores.
  const bool fp32_strict = args.in[0]->dtype == DType::kFloat32 && !args.allow_tf32;
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(st->conv, fp32_strict ? CUDNN_FMA_MATH : chosen.math));
  if (c.transposed) st->bwd_algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(chosen.algo);
  else st->fwd_algo = static_cast<cudnnConvolutionFwdAlgo_t>(chosen.algo);

  if (padded) {
    INGOT_ASSIGN_OR_RETURN(st->padded_weight, make_padded_weight(*args.in[1], padded, args.stream));
    st->padded_channels = padded;
  }

  const bool has_bias = args.in.size() > 2 && args.in[2];
  const bool relu = relu_like(c);
  st->epilogue = full_epilogue(c, args);
  if (!c.transposed && has_bias &&
      (relu || (c.activation < 0 && st->fwd_algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM))) {
    st->fused = true;
    DNN_RETURN_IF_ERROR(cudnnCreateActivationDescriptor(&st->act));
    DNN_RETURN_IF_ERROR(cudnnSetActivationDescriptor(st->act, relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
                                                     CUDNN_PROPAGATE_NAN, 0.0));
  }
  return st;
}

Status run_plain(const ConvAttrs& c, const ConvState& st, const KernelArgs& args, const ConvOperands& o) {
  const float one = 1.f, zero = 0.f;
  DeviceTensor& y = *args.out[0];
  if (!c.transposed) {
    DNN_RETURN_IF_ERROR(cudnnConvolutionForward(args.handles->cudnn, &one, st.x, o.x, st.w, o.w, st.conv, st.fwd_algo,
                                                o.workspace, o.workspace_bytes, &zero, st.y, y.data));
  } else {
    DNN_RETURN_IF_ERROR(cudnnConvolutionBackwardData(args.handles->cudnn, &one, st.w, o.w, st.x, o.x, st.conv,
                                                     st.bwd_algo, o.workspace, o.workspace_bytes, &zero, st.y,
                                                     y.data));
  }
  return run_conv_epilogue(y.dtype, y.data, st.epilogue, args.stream);
}

// ------------------------------------------------------- cuDNN graph API

constexpr const char* kGraphPrefix = "graph:";
constexpr int64_t kGraphCandidates = 4;  // engine configurations the tuner times

// The conv as a graph-API problem, where the "graph:" tactics apply; with
// `padded` > 0, the problem on input channels widened to `padded` (pad8:graph:).
std::optional<ConvGraphDesc> graph_desc(const ConvAttrs& c, const KernelArgs& args, int64_t padded = 0) {
  if (!c.channels_last || c.transposed || c.groups != 1) return std::nullopt;
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1 || !args.out[0]) return std::nullopt;
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor& y = *args.out[0];
  if (x.rank() != 4 || w.rank() != 4 || y.rank() != 4) return std::nullopt;
  if (x.dtype != DType::kFloat16 && x.dtype != DType::kBFloat16) return std::nullopt;
  if (c.activation >= 0 && !relu_like(c)) return std::nullopt;
  if (c.stride.size() != 2 || c.padding.size() != 2 || (!c.dilation.empty() && c.dilation.size() != 2))
    return std::nullopt;
  ConvGraphDesc d;
  d.dtype = x.dtype;
  d.n = x.shape[0];
  d.h = x.shape[1];
  d.w = x.shape[2];
  d.c = padded > 0 ? padded : x.shape[3];
  d.k = w.shape[0];
  d.r = w.shape[1];
  d.s = w.shape[2];
  d.oh = y.shape[1];
  d.ow = y.shape[2];
  if (d.c % 8 != 0 || d.k % 8 != 0 || w.shape[3] != x.shape[3] || y.shape[3] != d.k) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    d.pad[i] = c.padding[i];
    d.stride[i] = c.stride[i];
    d.dilation[i] = c.dilation.empty() ? 1 : c.dilation[i];
  }
  d.bias = args.in.size() > 2 && args.in[2];
  d.residual = args.in.size() > 3 && args.in[3];
  d.relu = c.activation >= 0;
  return d;
}

constexpr const char* kPadGraphPrefix = "pad8:graph:";

struct ConvGraphState final : StepState {
  std::shared_ptr<const ConvGraphPlan> plan;
  void* padded_weight = nullptr;  // pad8:graph: [Cout, kh, kw, padded channels], owned
  ~ConvGraphState() override {
    if (padded_weight) cudaFree(padded_weight);
  }
};

// "graph:<i>", and "pad8:graph:<i>" for inputs whose channels are not a multiple
// of 8: the input widened with zeros into the workspace's start every run (the
// weight once), then the graph on the rest of the workspace.
Status run_graph(const ConvAttrs& c, const KernelArgs& args) {
  const bool pad = args.tactic.rfind(kPadGraphPrefix, 0) == 0;
  const int64_t padded = pad ? padded_channel_count(c, args) : 0;
  const std::optional<ConvGraphDesc> d = pad && !padded ? std::nullopt : graph_desc(c, args, padded);
  if (!d)
    return invalid_argument("[cuda conv] tactic '" + args.tactic + "' needs a channels-last float16/bfloat16 2-d "
                            "convolution with one group, no activation or ReLU, " +
                            (pad ? "output channels a multiple of 8 and input channels not"
                                 : "and input and output channels a multiple of 8"));
  const size_t pad_bytes = padded ? padded_input_bytes(args, padded) : 0;
  if (pad_bytes > args.workspace_bytes)
    return invalid_argument("[cuda conv] tactic '" + args.tactic + "' needs " + std::to_string(pad_bytes) +
                            " workspace bytes for the padded input, the step has " +
                            std::to_string(args.workspace_bytes));
  void* scratch = static_cast<char*>(args.workspace) + pad_bytes;
  if (!*args.state) {
    int64_t index = -1;
    const std::string digits =
        args.tactic.substr(std::char_traits<char>::length(pad ? kPadGraphPrefix : kGraphPrefix));
    if (!digits.empty() && digits.size() < 4 && digits.find_first_not_of("0123456789") == std::string::npos)
      index = std::stoll(digits);
    if (index < 0)
      return invalid_argument("[cuda conv] unknown tactic '" + args.tactic + "' (expected " +
                              (pad ? "pad8:graph:<int>" : "graph:<int>") + ")");
    auto st = std::make_unique<ConvGraphState>();
    INGOT_ASSIGN_OR_RETURN(st->plan,
                           conv_graph_plan(*d, args.handles->cudnn, index, args.workspace_bytes - pad_bytes));
    if (padded) {
      INGOT_ASSIGN_OR_RETURN(st->padded_weight, make_padded_weight(*args.in[1], padded, args.stream));
    }
    *args.state = std::move(st);
  }
  auto* st = dynamic_cast<ConvGraphState*>(args.state->get());
  if (!st) return internal_error("[cuda conv] graph: unexpected step state");
  const void* input = args.in[0]->data;
  const void* weight = args.in[1]->data;
  if (padded) {
    INGOT_RETURN_IF_ERROR(pad_input(args, padded));
    input = args.workspace;
    weight = st->padded_weight;
  }
  const DeviceTensor* bias = args.in.size() > 2 ? args.in[2] : nullptr;
  const DeviceTensor* residual = args.in.size() > 3 ? args.in[3] : nullptr;
  return conv_graph_run(*st->plan, args.handles->cudnn, args.stream, input, weight, bias ? bias->data : nullptr,
                        residual ? residual->data : nullptr, args.out[0]->data, scratch);
}

}  // namespace

Status convolution(const OpAttrs& attrs, const KernelArgs& args) {
  const auto* c = std::get_if<ConvAttrs>(&attrs);
  if (!c) return internal_error("convolution: unexpected op");
  if (args.tactic.rfind(kConvGemmPrefix, 0) == 0) return run_pointwise_gemm(*c, args);
  if (args.tactic.rfind(kIm2colPrefix, 0) == 0) return run_im2col(*c, args);
  if (args.tactic == kStemTactic) return run_stem(*c, args);
  if (args.tactic.rfind(kGraphPrefix, 0) == 0 || args.tactic.rfind(kPadGraphPrefix, 0) == 0)
    return run_graph(*c, args);
  if (!*args.state) {
    INGOT_ASSIGN_OR_RETURN(auto st, prepare(*c, args));
    *args.state = std::move(st);
  }
  auto& st = static_cast<ConvState&>(**args.state);
  DNN_RETURN_IF_ERROR(cudnnSetStream(args.handles->cudnn, args.stream));
  INGOT_ASSIGN_OR_RETURN(const ConvOperands o, conv_operands(st, args));
  if (!st.fused) return run_plain(*c, st, args, o);

  const DeviceTensor& b = *args.in[2];
  const DeviceTensor* r = args.in.size() > 3 ? args.in[3] : nullptr;
  DeviceTensor& y = *args.out[0];
  const float one = 1.f, alpha2 = r ? 1.f : 0.f;
  // Without a residual z is y itself with alpha2 = 0: cuDNN does not read z then.
  const cudnnStatus_t s = cudnnConvolutionBiasActivationForward(
      args.handles->cudnn, &one, st.x, o.x, st.w, o.w, st.conv, st.fwd_algo, o.workspace, o.workspace_bytes, &alpha2,
      st.y, r ? r->data : y.data, st.bias, b.data, st.act, st.y, y.data);
  if (s != CUDNN_STATUS_SUCCESS && st.first_run) {
    // cuDNN does not fuse this configuration: the plain path from now on.
    st.fused = false;
    st.first_run = false;
    return run_plain(*c, st, args, o);
  }
  st.first_run = false;
  return dnn_status(s, "cudnnConvolutionBiasActivationForward");
}

namespace {
// The scratch sizes above the default worth timing cuDNN's algorithm k with: what
// cuDNN says it wants (its workspace query, its ratings) and the most this step
// may be given (the tuning allowance, at most kLargeAlgoBytes).
std::vector<size_t> larger_scratch(const ConvAttrs& c, const KernelArgs& args, const ConvState& st,
                                   const Candidate& k) {
  size_t wanted = k.memory;
  size_t queried = 0;
  if (cudnnGetConvolutionForwardWorkspaceSize(args.handles->cudnn, st.x, st.w, st.conv, st.y,
                                              static_cast<cudnnConvolutionFwdAlgo_t>(k.algo),
                                              &queried) == CUDNN_STATUS_SUCCESS)
    wanted = std::max(wanted, queried);
  const size_t allowance = std::min(args.workspace_bytes, kLargeAlgoBytes);
  std::vector<size_t> sizes;
  if (wanted > kLibraryBytes && wanted <= allowance) sizes.push_back(wanted);
  if (allowance > kLibraryBytes && allowance != wanted) sizes.push_back(allowance);
  return sizes;
}
}  // namespace

std::vector<std::string> conv_tactics(const OpAttrs& attrs, const KernelArgs& args) {
  const auto* c = std::get_if<ConvAttrs>(&attrs);
  if (!c || !args.handles || !args.handles->cudnn) return {};
  ConvState st;
  if (!describe(*c, args, st).ok()) return {};
  auto usable = candidates(*c, args, st, args.workspace_bytes);
  if (!usable.ok()) return {};
  std::vector<std::string> pad, graph;
  if (const auto d = graph_desc(*c, args)) {
    const int64_t count = std::min(conv_graph_plan_count(*d, args.handles->cudnn), kGraphCandidates);
    for (int64_t i = 0; i < count; ++i) graph.push_back(kGraphPrefix + std::to_string(i));
  } else if (const int64_t padded = padded_channel_count(*c, args); padded > 0) {
    // A stem: its graph configurations on the widened problem, in the graph list
    // (timed early) rather than behind the legacy pad8 algorithms.
    if (const auto wide = graph_desc(*c, args, padded); wide && padded_input_bytes(args, padded) < args.workspace_bytes) {
      const int64_t count = std::min(conv_graph_plan_count(*wide, args.handles->cudnn), kGraphCandidates);
      for (int64_t i = 0; i < count; ++i) graph.push_back(kPadGraphPrefix + std::to_string(i));
    }
  }
  std::vector<std::string> gemm = conv_gemm_tactics(*c, args);
  if (const int64_t padded = padded_channel_count(*c, args); padded > 0) {
    const size_t pad_bytes = padded_input_bytes(args, padded);
    ConvState wide;
    if (pad_bytes <= args.workspace_bytes && describe(*c, args, wide, padded).ok()) {
      auto wide_usable = candidates(*c, args, wide, args.workspace_bytes - pad_bytes);
      if (wide_usable.ok())
        for (const Candidate& k : wide_usable.value()) pad.push_back(kPadPrefix + tactic_name(k.algo));
    }
  }
  // cuDNN's first choice stays first (the default and the tuner's reference); then
  // the lists interleaved, so that a tuner timing only the first few sees them all.
  std::vector<std::string> dnn;
  for (size_t i = 0; i < usable.value().size(); ++i) {
    const Candidate& k = usable.value()[i];
    dnn.push_back(tactic_name(k.algo));
    if (i < 2 && !c->transposed)
      for (size_t bytes : larger_scratch(*c, args, st, k)) dnn.push_back(tactic_name(k.algo) + "@" + std::to_string(bytes));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < std::max({dnn.size(), gemm.size(), pad.size(), graph.size()}); ++i) {
    if (i < dnn.size()) out.push_back(dnn[i]);
    if (i == 0 && stem_applies(*c, args)) out.push_back(kStemTactic);
    if (i < graph.size()) out.push_back(graph[i]);
    if (i < pad.size()) out.push_back(pad[i]);
    if (i < gemm.size()) out.push_back(gemm[i]);
  }
  return out;
}

size_t conv_workspace_size(const OpAttrs& attrs, const KernelArgs& args, bool any_tactic) {
  const auto* c = std::get_if<ConvAttrs>(&attrs);
  if (!c) return kLibraryBytes;
  if (const size_t scratch = split_scratch(args.tactic).second; scratch > 0) return std::max(kLibraryBytes, scratch);
  const bool pad = args.tactic.rfind(kPadPrefix, 0) == 0, im2col = args.tactic.rfind(kIm2colPrefix, 0) == 0;
  size_t bytes = kLibraryBytes;
  if (any_tactic || pad) {
    const int64_t padded = padded_channel_count(*c, args);
    if (padded) bytes = std::max(bytes, kLibraryBytes + padded_input_bytes(args, padded));
  }
  if (any_tactic || im2col) bytes = std::max(bytes, kLibraryBytes + im2col_workspace_bytes(*c, args));
  // The tuner may time cuDNN's algorithms with more scratch than the default.
  if (any_tactic && !c->transposed) bytes = std::max(bytes, kLargeAlgoBytes);
  return bytes;
}

}  // namespace ingot::cuda
