// The "gemm/" and "im2col/" convolution tactics (conv_gemm.h): a channels-last
// pointwise conv is exactly y[N*H*W, Cout] = x[N*H*W, Cin] @ w[Cout, Cin]^T, and a
// stem's conv is the patch matrix [N*OH*OW, kh*kw*C rounded up to 8] (written into
// the workspace by im2col_nhwc, conv_epilogue.cu) times the weight; both run through
// linear_algebra.cc's cuBLASLt GEMM with the conv's bias, residual and activation
// as its epilogue, so the tuner can time cuBLASLt's kernels against cuDNN's. Plain
// C++: the only device code is in conv_epilogue.cu. Split from convolution.cc,
// which decides when these tactics are offered.
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/conv_epilogue.h"
#include "backends/cuda/conv_gemm.h"

namespace ingot::cuda {
namespace {

// ------------------------------------------------------- pointwise conv as Gemm

bool all_equal(const std::vector<int64_t>& v, int64_t value) {
  for (int64_t x : v)
    if (x != value) return false;
  return true;
}

// Whether c on these tensors is a plain matrix product (see the file comment).
bool pointwise_as_gemm(const ConvAttrs& c, const KernelArgs& args) {
  if (!c.channels_last || c.transposed || c.groups != 1) return false;
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1 || !args.out[0]) return false;
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor& y = *args.out[0];
  if (x.rank() != 4 || w.rank() != 4 || y.rank() != 4) return false;
  return w.shape[1] == 1 && w.shape[2] == 1 && all_equal(c.stride, 1) && all_equal(c.padding, 0) &&
         x.shape[0] == y.shape[0] && x.shape[1] == y.shape[1] && x.shape[2] == y.shape[2] &&
         w.shape[3] == x.shape[3] && w.shape[0] == y.shape[3];
}

// The conv's tensors seen as the Gemm's: [M, Cin] x [Cout, Cin]^T (+ bias, + residual [M, Cout]).
struct GemmView {
  GemmAttrs attrs;
  DeviceTensor a, b, residual, out;
  KernelArgs args;
  GemmView() = default;
  GemmView(const GemmView&) = delete;  // args point at the members
  GemmView& operator=(const GemmView&) = delete;
};

// Fills v with the pointwise conv's GEMM (the im2col tactic then replaces a and b).
// Rows are output pixels; the view points into itself, so it is filled in place.
void fill_gemm_view(GemmView& v, const ConvAttrs& c, const KernelArgs& args, std::string tactic) {
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor* bias = args.in.size() > 2 ? args.in[2] : nullptr;
  const DeviceTensor* residual = args.in.size() > 3 ? args.in[3] : nullptr;
  DeviceTensor& y = *args.out[0];
  const int64_t m = y.shape[0] * y.shape[1] * y.shape[2], cin = x.shape[3], cout = w.shape[0];
  v.attrs.trans_b = true;
  v.attrs.alpha = 1.0;
  v.attrs.beta = 1.0;
  v.attrs.activation = relu_like(c) ? static_cast<int64_t>(UnaryFn::kRelu) : c.activation;
  v.attrs.activation_alpha = c.activation_alpha;
  v.attrs.activation_beta = c.activation_beta;
  v.a = {x.data, x.dtype, {m, cin}};
  v.b = {w.data, w.dtype, {cout, cin}};
  v.out = {y.data, y.dtype, {m, cout}};
  v.args = args;
  v.args.tactic = std::move(tactic);
  v.args.in = {&v.a, &v.b, bias, nullptr};
  if (residual) {
    v.residual = {residual->data, residual->dtype, {m, cout}};
    v.args.in[3] = &v.residual;
  }
  v.args.out = {&v.out};
}

// ------------------------------------------------------- im2col + Gemm (image stems)

// Whether the im2col tactics apply: the convs pad8 serves (channels-last 2-d
// 16-bit convs with one group and input channels not a multiple of 8).
bool im2col_applies(const ConvAttrs& c, const KernelArgs& args) {
  return padded_channel_count(c, args) > 0 && args.out.size() == 1 && args.out[0] && args.out[0]->rank() == 4 &&
         c.stride.size() == 2 && c.padding.size() == 2;
}

Im2colGeometry im2col_geometry(const ConvAttrs& c, const KernelArgs& args) {
  const DeviceTensor& x = *args.in[0];
  const DeviceTensor& w = *args.in[1];
  const DeviceTensor& y = *args.out[0];
  Im2colGeometry g;
  g.n = x.shape[0];
  g.h = x.shape[1];
  g.w = x.shape[2];
  g.c = x.shape[3];
  g.oh = y.shape[1];
  g.ow = y.shape[2];
  g.kh = w.shape[1];
  g.kw = w.shape[2];
  g.sh = c.stride[0];
  g.sw = c.stride[1];
  g.ph = c.padding[0];
  g.pw = c.padding[1];
  g.dh = c.dilation.size() == 2 ? c.dilation[0] : 1;
  g.dw = c.dilation.size() == 2 ? c.dilation[1] : 1;
  g.cols = (g.kh * g.kw * g.c + 7) / 8 * 8;
  return g;
}

// Workspace bytes the patch matrix takes (at the workspace's start, 256-aligned).
size_t im2col_bytes(const Im2colGeometry& g, DType t) {
  const size_t bytes = static_cast<size_t>(g.rows() * g.cols) * dtype_size(t);
  return (bytes + 255) / 256 * 256;
}

// The weight as a [Cout, g.cols] matrix (zero columns past kh*kw*C), owned, and
// the GEMM's own cached state.
struct Im2colState final : StepState {
  void* weight = nullptr;
  std::unique_ptr<StepState> gemm;
  ~Im2colState() override {
    if (weight) cudaFree(weight);
  }
};

// The GEMM the tactic runs: patches [M, cols] x weight [Cout, cols]^T with the
// conv's epilogue; `patches` / `weight` null while only listing tactics.
void im2col_gemm_view(GemmView& v, const ConvAttrs& c, const KernelArgs& args, const Im2colGeometry& g,
                      void* patches, const void* weight, std::string tactic) {
  fill_gemm_view(v, c, args, std::move(tactic));
  const DType t = args.in[0]->dtype;
  v.a = {patches, t, {g.rows(), g.cols}};
  v.b = {const_cast<void*>(weight), t, {args.in[1]->shape[0], g.cols}};
  const size_t used = im2col_bytes(g, t);
  v.args.workspace = patches ? static_cast<char*>(args.workspace) + used : nullptr;
  v.args.workspace_bytes = args.workspace_bytes > used ? args.workspace_bytes - used : 0;
}

}  // namespace

Status run_im2col(const ConvAttrs& c, const KernelArgs& args) {
  if (!im2col_applies(c, args))
    return invalid_argument("[cuda conv] tactic '" + args.tactic + "' needs a channels-last float16/bfloat16 2-d "
                            "convolution with one group and input channels that are not a multiple of 8");
  const Im2colGeometry g = im2col_geometry(c, args);
  const DeviceTensor& x = *args.in[0];
  const size_t used = im2col_bytes(g, x.dtype);
  if (used > args.workspace_bytes)
    return invalid_argument("[cuda conv] tactic '" + args.tactic + "' needs " + std::to_string(used) +
                            " workspace bytes for the patch matrix, the step has " +
                            std::to_string(args.workspace_bytes));
  if (!*args.state) {
    auto st = std::make_unique<Im2colState>();
    const DeviceTensor& w = *args.in[1];
    INGOT_ASSIGN_OR_RETURN(st->weight, padded_copy(w.dtype, w.data, w.shape[0], g.kh * g.kw * g.c, g.cols, args.stream));
    *args.state = std::move(st);
  }
  auto* st = dynamic_cast<Im2colState*>(args.state->get());
  if (!st) return internal_error("[cuda conv] im2col: unexpected step state");
  INGOT_RETURN_IF_ERROR(im2col_nhwc(x.dtype, x.data, args.workspace, g, args.stream));
  GemmView v;
  im2col_gemm_view(v, c, args, g, args.workspace, st->weight,
                   args.tactic.substr(std::char_traits<char>::length(kIm2colPrefix)));
  v.args.state = &st->gemm;
  return linear_algebra(OpAttrs{v.attrs}, v.args);
}

Status run_pointwise_gemm(const ConvAttrs& c, const KernelArgs& args) {
  if (!pointwise_as_gemm(c, args))
    return invalid_argument("[cuda conv] tactic '" + args.tactic +
                            "' needs a channels-last 1x1 convolution with stride 1, no padding and one group");
  GemmView view;
  fill_gemm_view(view, c, args, args.tactic.substr(std::char_traits<char>::length(kConvGemmPrefix)));
  return linear_algebra(OpAttrs{view.attrs}, view.args);
}

std::vector<std::string> conv_gemm_tactics(const ConvAttrs& c, const KernelArgs& args) {
  std::vector<std::string> out;
  if (pointwise_as_gemm(c, args)) {
    GemmView view;
    fill_gemm_view(view, c, args, "");
    for (std::string& t : gemm_tactics(OpAttrs{view.attrs}, view.args)) out.push_back(kConvGemmPrefix + t);
  }
  if (im2col_applies(c, args)) {
    const Im2colGeometry g = im2col_geometry(c, args);
    if (im2col_bytes(g, args.in[0]->dtype) < args.workspace_bytes) {
      GemmView view;
      im2col_gemm_view(view, c, args, g, nullptr, nullptr, "");
      for (std::string& t : gemm_tactics(OpAttrs{view.attrs}, view.args)) out.push_back(kIm2colPrefix + t);
    }
  }
  return out;
}

size_t im2col_workspace_bytes(const ConvAttrs& c, const KernelArgs& args) {
  return im2col_applies(c, args) ? im2col_bytes(im2col_geometry(c, args), args.in[0]->dtype) : 0;
}

}  // namespace ingot::cuda
