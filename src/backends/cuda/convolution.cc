// Convolutions on the GPU through cuDNN 9: forward convolution (grouped and
// depthwise included) and transposed convolution (cuDNN's backward-data), NCHW,
// 1-d convolutions as 2-d with a unit height. The algorithm comes from cuDNN's
// heuristics once per step and context; the bias is added with cudnnAddTensor.
// fp32 convolutions run without TF32 unless the engine was built with --allow-tf32.
#include <cudnn.h>

#include <vector>

#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {
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
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_algo{};
  ~ConvState() override {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

Status set_tensor(cudnnTensorDescriptor_t* d, cudnnDataType_t t, const std::vector<int>& dims) {
  DNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(d));
  auto s = strides_of(dims);
  return dnn_status(cudnnSetTensorNdDescriptor(*d, t, static_cast<int>(dims.size()), dims.data(), s.data()),
                    "cudnnSetTensorNdDescriptor");
}

Result<std::unique_ptr<ConvState>> prepare(const ConvAttrs& c, const KernelArgs& args) {
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor* b = args.in.size() > 2 ? args.in[2] : nullptr;
  const DeviceTensor& y = *args.out[0];
  if (x.rank() < 3 || x.rank() > 5) return unsupported("cuDNN convolution needs 1-d, 2-d or 3-d input");
  INGOT_ASSIGN_OR_RETURN(cudnnDataType_t t, dnn_type(x.dtype));
  auto st = std::make_unique<ConvState>();
  const std::vector<int> xd = dims4(x.shape), yd = dims4(y.shape), wd = dims4(w.shape);
  const size_t nsp = xd.size() - 2;
  INGOT_RETURN_IF_ERROR(set_tensor(&st->x, t, xd));
  INGOT_RETURN_IF_ERROR(set_tensor(&st->y, t, yd));
  DNN_RETURN_IF_ERROR(cudnnCreateFilterDescriptor(&st->w));
  DNN_RETURN_IF_ERROR(cudnnSetFilterNdDescriptor(st->w, t, CUDNN_TENSOR_NCHW, static_cast<int>(wd.size()), wd.data()));
  std::vector<int> pad = spatial(c.padding, nsp, 0), stride = spatial(c.stride, nsp, 1),
                   dil = spatial(c.dilation, nsp, 1);
  DNN_RETURN_IF_ERROR(cudnnCreateConvolutionDescriptor(&st->conv));
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionNdDescriptor(st->conv, static_cast<int>(nsp), pad.data(), stride.data(),
                                                      dil.data(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionGroupCount(st->conv, static_cast<int>(c.groups)));
  cudnnMathType_t math = CUDNN_TENSOR_OP_MATH;
  if (x.dtype == DType::kFloat32) math = args.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  DNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(st->conv, math));
  if (b) {
    std::vector<int> bd(xd.size(), 1);
    bd[1] = static_cast<int>(b->numel());
    INGOT_RETURN_IF_ERROR(set_tensor(&st->bias, t, bd));
  }

  constexpr int kMaxAlgos = 16;
  int found = 0;
  if (!c.transposed) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMaxAlgos];
    DNN_RETURN_IF_ERROR(cudnnGetConvolutionForwardAlgorithm_v7(args.handles->cudnn, st->x, st->w, st->conv, st->y,
                                                               kMaxAlgos, &found, perf));
    bool ok = false;
    for (int i = 0; i < found && !ok; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > args.workspace_bytes) continue;
      if (x.dtype == DType::kFloat32 && !args.allow_tf32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
      st->fwd_algo = perf[i].algo;
      // cuDNN requires the descriptor's math type to be the one the algorithm was rated with.
      DNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(st->conv, perf[i].mathType));
      ok = true;
    }
    if (!ok) return unsupported("cuDNN found no convolution algorithm within the workspace");
  } else {
    // y = conv_transpose(x, w) is the gradient of a convolution with respect to its input:
    // the filter descriptor describes w as [Cin, Cout/g, k...] with x in the "dy" role.
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMaxAlgos];
    DNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardDataAlgorithm_v7(args.handles->cudnn, st->w, st->x, st->conv,
                                                                    st->y, kMaxAlgos, &found, perf));
    bool ok = false;
    for (int i = 0; i < found && !ok; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > args.workspace_bytes) continue;
      if (x.dtype == DType::kFloat32 && !args.allow_tf32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
      st->bwd_algo = perf[i].algo;
      DNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(st->conv, perf[i].mathType));
      ok = true;
    }
    if (!ok) return unsupported("cuDNN found no transposed-convolution algorithm within the workspace");
  }
  return st;
}

}  // namespace

Status convolution(const OpAttrs& attrs, const KernelArgs& args) {
  const auto* c = std::get_if<ConvAttrs>(&attrs);
  if (!c) return internal_error("convolution: unexpected op");
  if (!*args.state) {
    INGOT_ASSIGN_OR_RETURN(auto st, prepare(*c, args));
    *args.state = std::move(st);
  }
  const auto& st = static_cast<const ConvState&>(**args.state);
  DNN_RETURN_IF_ERROR(cudnnSetStream(args.handles->cudnn, args.stream));
  const float one = 1.f, zero = 0.f;
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor* b = args.in.size() > 2 ? args.in[2] : nullptr;
  DeviceTensor& y = *args.out[0];
  if (!c->transposed) {
    DNN_RETURN_IF_ERROR(cudnnConvolutionForward(args.handles->cudnn, &one, st.x, x.data, st.w, w.data, st.conv,
                                                st.fwd_algo, args.workspace, args.workspace_bytes, &zero, st.y,
                                                y.data));
  } else {
    DNN_RETURN_IF_ERROR(cudnnConvolutionBackwardData(args.handles->cudnn, &one, st.w, w.data, st.x, x.data, st.conv,
                                                     st.bwd_algo, args.workspace, args.workspace_bytes, &zero, st.y,
                                                     y.data));
  }
  if (b) DNN_RETURN_IF_ERROR(cudnnAddTensor(args.handles->cudnn, &one, st.bias, b->data, &one, st.y, y.data));
  return {};
}

std::vector<std::string> conv_tactics(const OpAttrs&, const KernelArgs&) { return {}; }

}  // namespace ingot::cuda
