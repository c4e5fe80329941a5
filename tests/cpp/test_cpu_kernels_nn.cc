// Tests of the CPU nn kernels (normalization, matmul/gemm, conv, attention,
// pooling, upsample) and the CPU executor. Expectations are hand-computed or come
// from naive loops written here independently of the kernels; comparisons with
// PyTorch itself live in the Python suite.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "engine/plan.h"
#include "runtime/backend.h"

namespace ingot::cpu {
namespace {

struct Tensor {
  std::vector<float> v;
  TensorRef ref;
  explicit Tensor(std::vector<int64_t> shape, std::vector<float> values = {}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    v = values.empty() ? std::vector<float>(n, std::nanf("")) : std::move(values);  // poisoned outputs
    ref.data = v.data();
    ref.dtype = DType::kFloat32;
    ref.shape = std::move(shape);
  }
};

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> out(n);
  for (auto& x : out) x = dist(rng);
  return out;
}

Tensor random_tensor(std::vector<int64_t> shape, uint32_t seed) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return Tensor(std::move(shape), random_values(n, seed));
}

Status run(const OpAttrs& attrs, std::vector<const Tensor*> in, Tensor& out) {
  KernelArgs args;
  for (const Tensor* t : in) args.in.push_back(t ? &t->ref : nullptr);
  args.out.push_back(&out.ref);
  return run_kernel(attrs, args);
}

// Relative error against the expectation's norm; NaN never passes.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "NaN at " << i;
    err += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  EXPECT_LE(std::sqrt(err), tol * std::max(1.0, std::sqrt(norm)));
  for (size_t i = 0; i < got.size() && i < 1000; ++i)
    if (std::abs(got[i] - want[i]) > 1e-3 * std::max(1.0, std::abs(want[i]))) {
      ADD_FAILURE() << "first mismatch at " << i << ": got " << got[i] << " want " << want[i];
      break;
    }
}

// --- normalization -------------------------------------------------------------

TEST(CpuNormalization, LayerNormMatchesFormula) {
  Tensor x = random_tensor({3, 4, 8}, 1), w = random_tensor({4, 8}, 2), b = random_tensor({4, 8}, 3);
  Tensor y({3, 4, 8});
  LayerNormAttrs a;
  a.normalized_ndim = 2;
  a.eps = 1e-5;
  ASSERT_TRUE(run(a, {&x, &w, &b}, y).ok());
  std::vector<double> want(x.v.size());
  for (int r = 0; r < 3; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < 32; ++i) mean += x.v[r * 32 + i] / 32.0;
    for (int i = 0; i < 32; ++i) var += (x.v[r * 32 + i] - mean) * (x.v[r * 32 + i] - mean) / 32.0;
    for (int i = 0; i < 32; ++i) want[r * 32 + i] = (x.v[r * 32 + i] - mean) / std::sqrt(var + 1e-5) * w.v[i] + b.v[i];
  }
  expect_close(y.v, want);
}

TEST(CpuNormalization, RmsNormWithoutWeight) {
  Tensor x({1, 4}, {1, 2, 3, 4}), y({1, 4});
  RmsNormAttrs a;
  a.eps = 0;
  ASSERT_TRUE(run(a, {&x, nullptr}, y).ok());
  double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0);
  expect_close(y.v, {1 / rms, 2 / rms, 3 / rms, 4 / rms});
}

TEST(CpuNormalization, GroupNormAndBatchNorm) {
  Tensor x = random_tensor({2, 4, 3}, 4), w({4}, {1, 2, 3, 4}), b({4}, {0, 1, 0, -1});
  Tensor y({2, 4, 3});
  GroupNormAttrs g;
  g.groups = 2;
  g.eps = 1e-5;
  ASSERT_TRUE(run(g, {&x, &w, &b}, y).ok());
  std::vector<double> want(24);
  for (int n = 0; n < 2; ++n)
    for (int grp = 0; grp < 2; ++grp) {
      int base = n * 12 + grp * 6;
      double mean = 0, var = 0;
      for (int i = 0; i < 6; ++i) mean += x.v[base + i] / 6.0;
      for (int i = 0; i < 6; ++i) var += (x.v[base + i] - mean) * (x.v[base + i] - mean) / 6.0;
      for (int i = 0; i < 6; ++i) {
        int c = grp * 2 + i / 3;
        want[base + i] = (x.v[base + i] - mean) / std::sqrt(var + 1e-5) * w.v[c] + b.v[c];
      }
    }
  expect_close(y.v, want);

  Tensor mean({4}, {0.5f, -1, 0, 2}), var({4}, {1, 4, 0.25f, 9});
  BatchNormAttrs bn;
  bn.eps = 0;
  ASSERT_TRUE(run(bn, {&x, &w, &b, &mean, &var}, y).ok());
  for (int i = 0; i < 24; ++i) {
    int c = (i / 3) % 4;
    want[i] = (x.v[i] - mean.v[c]) / std::sqrt(var.v[c]) * w.v[c] + b.v[c];
  }
  expect_close(y.v, want);
}

// --- linear algebra ------------------------------------------------------------

TEST(CpuLinearAlgebra, MatMulBroadcastsBatchDims) {
  Tensor a = random_tensor({2, 1, 3, 5}, 5), b = random_tensor({3, 5, 4}, 6), y({2, 3, 3, 4});
  ASSERT_TRUE(run(MatMulAttrs{}, {&a, &b}, y).ok());
  std::vector<double> want(y.v.size());
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int m = 0; m < 3; ++m)
        for (int n = 0; n < 4; ++n) {
          double s = 0;
          for (int k = 0; k < 5; ++k) s += a.v[(i * 3 + m) * 5 + k] * b.v[(j * 5 + k) * 4 + n];
          want[((i * 3 + j) * 3 + m) * 4 + n] = s;
        }
  expect_close(y.v, want);
}

TEST(CpuLinearAlgebra, GemmTransBAlphaBetaBias) {
  Tensor a = random_tensor({2, 3, 6}, 7), b = random_tensor({4, 6}, 8), bias = random_tensor({4}, 9), y({2, 3, 4});
  GemmAttrs g;
  g.trans_b = true;
  g.alpha = 0.5;
  g.beta = 2.0;
  ASSERT_TRUE(run(g, {&a, &b, &bias}, y).ok());
  std::vector<double> want(24);
  for (int m = 0; m < 6; ++m)
    for (int n = 0; n < 4; ++n) {
      double s = 0;
      for (int k = 0; k < 6; ++k) s += a.v[m * 6 + k] * b.v[n * 6 + k];
      want[m * 4 + n] = 0.5 * s + 2.0 * bias.v[n];
    }
  expect_close(y.v, want);
}

// --- convolution ---------------------------------------------------------------

TEST(CpuConvolution, KnownKernel) {
  Tensor x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), w({1, 1, 2, 2}, {1, 1, 1, 1}), y({1, 1, 2, 2});
  ConvAttrs a;
  a.stride = {1, 1};
  a.padding = {0, 0};
  a.dilation = {1, 1};
  ASSERT_TRUE(run(a, {&x, &w, nullptr}, y).ok());
  expect_close(y.v, {12, 16, 24, 28});
  // padding 1, stride 2, bias 10: windows centred on the corners
  Tensor y2({1, 1, 2, 2}), bias({1}, {10});
  a.stride = {2, 2};
  a.padding = {1, 1};
  ASSERT_TRUE(run(a, {&x, &w, &bias}, y2).ok());
  expect_close(y2.v, {11, 10 + 2 + 3, 10 + 4 + 7, 10 + 5 + 6 + 8 + 9});
}

TEST(CpuConvolution, PointwiseEqualsGemm) {
  Tensor x = random_tensor({2, 8, 5, 6}, 10), w = random_tensor({16, 8, 1, 1}, 11), y({2, 16, 5, 6});
  ConvAttrs a;
  ASSERT_TRUE(run(a, {&x, &w, nullptr}, y).ok());
  std::vector<double> want(y.v.size());
  for (int n = 0; n < 2; ++n)
    for (int co = 0; co < 16; ++co)
      for (int p = 0; p < 30; ++p) {
        double s = 0;
        for (int ci = 0; ci < 8; ++ci) s += w.v[co * 8 + ci] * x.v[(n * 8 + ci) * 30 + p];
        want[(n * 16 + co) * 30 + p] = s;
      }
  expect_close(y.v, want);
}

// Naive direct 2-d convolution, the reference for the general cases.
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const std::vector<int64_t>& out,
                                 int64_t s, int64_t p, int64_t d, int64_t groups) {
  int64_t n_ = x.ref.shape[0], cin = x.ref.shape[1], h = x.ref.shape[2], wd = x.ref.shape[3];
  int64_t cout = out[1], oh = out[2], ow = out[3], kh = w.ref.shape[2], kw = w.ref.shape[3];
  int64_t cin_g = cin / groups, cout_g = cout / groups;
  std::vector<double> y(n_ * cout * oh * ow);
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t co = 0; co < cout; ++co)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias ? bias->v[co] : 0;
          int64_t g = co / cout_g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t b = 0; b < kw; ++b) {
                int64_t ih = i * s - p + a * d, iw = j * s - p + b * d;
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                acc += x.v[((n * cin + g * cin_g + ci) * h + ih) * wd + iw] * w.v[((co * cin_g + ci) * kh + a) * kw + b];
              }
          y[((n * cout + co) * oh + i) * ow + j] = acc;
        }
  return y;
}

TEST(CpuConvolution, GroupsStrideDilationPaddingAndDepthwise) {
  struct Case { int64_t cin, cout, groups, k, s, p, d; };
  for (Case c : {Case{6, 4, 2, 3, 2, 1, 1}, Case{4, 8, 1, 3, 1, 2, 2}, Case{6, 12, 6, 3, 1, 1, 1},
                 Case{5, 5, 5, 5, 2, 2, 1}, Case{3, 8, 1, 7, 2, 3, 1}}) {
    int64_t h = 11, wd = 9;
    int64_t oh = (h + 2 * c.p - c.d * (c.k - 1) - 1) / c.s + 1, ow = (wd + 2 * c.p - c.d * (c.k - 1) - 1) / c.s + 1;
    Tensor x = random_tensor({2, c.cin, h, wd}, 12), w = random_tensor({c.cout, c.cin / c.groups, c.k, c.k}, 13);
    Tensor bias = random_tensor({c.cout}, 14), y({2, c.cout, oh, ow});
    ConvAttrs a;
    a.stride = {c.s, c.s};
    a.padding = {c.p, c.p};
    a.dilation = {c.d, c.d};
    a.groups = c.groups;
    Status st = run(a, {&x, &w, &bias}, y);
    ASSERT_TRUE(st.ok()) << st.to_string();
    SCOPED_TRACE("cin=" + std::to_string(c.cin) + " groups=" + std::to_string(c.groups));
    expect_close(y.v, naive_conv2d(x, w, &bias, y.ref.shape, c.s, c.p, c.d, c.groups));
  }
}

TEST(CpuConvolution, Conv1dMatchesConv2dWithUnitHeight) {
  Tensor x = random_tensor({1, 3, 10}, 15), w = random_tensor({4, 3, 3}, 16), y({1, 4, 5});
  ConvAttrs a;
  a.stride = {2};
  a.padding = {1};
  a.dilation = {1};
  ASSERT_TRUE(run(a, {&x, &w, nullptr}, y).ok());
  Tensor x2({1, 3, 1, 10}, x.v), w2({4, 3, 1, 3}, w.v);
  // height 1 with kernel height 1: stride/padding only act along the width
  std::vector<double> want(20);
  for (int co = 0; co < 4; ++co)
    for (int j = 0; j < 5; ++j) {
      double s = 0;
      for (int ci = 0; ci < 3; ++ci)
        for (int b = 0; b < 3; ++b) {
          int iw = j * 2 - 1 + b;
          if (iw >= 0 && iw < 10) s += x.v[ci * 10 + iw] * w.v[(co * 3 + ci) * 3 + b];
        }
      want[co * 5 + j] = s;
    }
  expect_close(y.v, want);
}

TEST(CpuConvolution, TransposedMatchesScatterReference) {
  // x [1, 4, 3, 4], weight [Cin=4, Cout/g=3, 3, 3], groups 2, stride 2, padding 1, output_padding 1
  int64_t groups = 2, cin = 4, cout_g = 3, k = 3, s = 2, p = 1, op = 1, h = 3, wd = 4;
  int64_t oh = (h - 1) * s - 2 * p + (k - 1) + op + 1, ow = (wd - 1) * s - 2 * p + (k - 1) + op + 1;
  Tensor x = random_tensor({1, cin, h, wd}, 17), w = random_tensor({cin, cout_g, k, k}, 18);
  Tensor bias = random_tensor({cout_g * groups}, 19), y({1, cout_g * groups, oh, ow});
  ConvAttrs a;
  a.stride = {s, s};
  a.padding = {p, p};
  a.dilation = {1, 1};
  a.output_padding = {op, op};
  a.groups = groups;
  a.transposed = true;
  Status st = run(a, {&x, &w, &bias}, y);
  ASSERT_TRUE(st.ok()) << st.to_string();
  std::vector<double> want(y.v.size());
  for (int64_t co = 0; co < cout_g * groups; ++co)
    for (int64_t i = 0; i < oh * ow; ++i) want[co * oh * ow + i] = bias.v[co];
  int64_t cin_g = cin / groups;
  for (int64_t ci = 0; ci < cin; ++ci)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < wd; ++j)
        for (int64_t c = 0; c < cout_g; ++c)
          for (int64_t a2 = 0; a2 < k; ++a2)
            for (int64_t b2 = 0; b2 < k; ++b2) {
              int64_t yo = i * s - p + a2, xo = j * s - p + b2;
              if (yo < 0 || yo >= oh || xo < 0 || xo >= ow) continue;
              int64_t co = (ci / cin_g) * cout_g + c;
              want[(co * oh + yo) * ow + xo] += x.v[(ci * h + i) * wd + j] * w.v[((ci * cout_g + c) * k + a2) * k + b2];
            }
  expect_close(y.v, want);
}

TEST(CpuConvolution, Float16IsStagedThroughFloat) {
  // 1x1 conv, weight 2: exact in half precision
  std::vector<uint16_t> xh = {0x3c00, 0x4000, 0x4200, 0xbc00};  // 1, 2, 3, -1
  std::vector<uint16_t> wh = {0x4000};                          // 2
  std::vector<uint16_t> yh(4, 0x7e00);
  TensorRef x{xh.data(), DType::kFloat16, {1, 1, 2, 2}}, w{wh.data(), DType::kFloat16, {1, 1, 1, 1}};
  TensorRef y{yh.data(), DType::kFloat16, {1, 1, 2, 2}};
  KernelArgs args{{&x, &w, nullptr}, {&y}};
  ASSERT_TRUE(run_kernel(ConvAttrs{}, args).ok());
  EXPECT_EQ(yh, (std::vector<uint16_t>{0x4000, 0x4400, 0x4600, 0xc000}));  // 2, 4, 6, -2
}

TEST(CpuConvolution, BadGroupsIsAnError) {
  Tensor x = random_tensor({1, 3, 4, 4}, 20), w = random_tensor({4, 1, 1, 1}, 21), y({1, 4, 4, 4});
  ConvAttrs a;
  a.groups = 2;
  Status st = run(a, {&x, &w, nullptr}, y);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("groups=2"), std::string::npos) << st.message();
}

// --- attention -----------------------------------------------------------------

// Naive attention with GQA, optional causal mask and additive/bool mask [L, S].
std::vector<double> naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t hq, int64_t hkv,
                                    int64_t l, int64_t s, int64_t e, int64_t ev, double scale, bool causal,
                                    const std::vector<float>* add_mask, const std::vector<int>* keep_mask) {
  int64_t batch = static_cast<int64_t>(q.v.size()) / (hq * l * e);
  std::vector<double> out(batch * hq * l * ev, 0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      int64_t hk = h / (hq / hkv);
      for (int64_t i = 0; i < l; ++i) {
        std::vector<double> sc(s);
        double mx = -INFINITY;
        for (int64_t j = 0; j < s; ++j) {
          double d = 0;
          for (int64_t c = 0; c < e; ++c) d += q.v[((b * hq + h) * l + i) * e + c] * k.v[((b * hkv + hk) * s + j) * e + c];
          d *= scale;
          if (add_mask) d += (*add_mask)[i * s + j];
          if (keep_mask && !(*keep_mask)[i * s + j]) d = -INFINITY;
          if (causal && j > i) d = -INFINITY;
          sc[j] = d;
          mx = std::max(mx, d);
        }
        if (mx == -INFINITY) continue;  // torch: zeros for a fully masked row
        double sum = 0;
        for (auto& x : sc) sum += (x = std::exp(x - mx));
        for (int64_t j = 0; j < s; ++j)
          for (int64_t c = 0; c < ev; ++c)
            out[((b * hq + h) * l + i) * ev + c] += sc[j] / sum * v.v[((b * hkv + hk) * s + j) * ev + c];
      }
    }
  return out;
}

TEST(CpuAttention, GroupedQueryCausal) {
  int64_t hq = 4, hkv = 2, l = 5, s = 7, e = 8, ev = 6;
  Tensor q = random_tensor({2, hq, l, e}, 22), k = random_tensor({2, hkv, s, e}, 23), v = random_tensor({2, hkv, s, ev}, 24);
  Tensor y({2, hq, l, ev});
  AttentionAttrs a;
  a.scale = 0.3;
  a.is_causal = true;
  ASSERT_TRUE(run(a, {&q, &k, &v, nullptr}, y).ok());
  expect_close(y.v, naive_attention(q, k, v, hq, hkv, l, s, e, ev, 0.3, true, nullptr, nullptr));
}

TEST(CpuAttention, FloatAndBoolMasks) {
  int64_t hq = 2, l = 3, s = 4, e = 5;
  Tensor q = random_tensor({1, hq, l, e}, 25), k = random_tensor({1, hq, s, e}, 26), v = random_tensor({1, hq, s, e}, 27);
  Tensor fmask = random_tensor({l, s}, 28), y({1, hq, l, e});
  AttentionAttrs a;
  a.scale = 1 / std::sqrt(5.0);
  ASSERT_TRUE(run(a, {&q, &k, &v, &fmask}, y).ok());
  expect_close(y.v, naive_attention(q, k, v, hq, hq, l, s, e, e, a.scale, false, &fmask.v, nullptr));

  std::vector<int> keep = {1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0};  // row 1 fully masked
  std::vector<uint8_t> keep_bytes(keep.begin(), keep.end());
  TensorRef bmask{keep_bytes.data(), DType::kBool, {1, 1, l, s}};
  KernelArgs args{{&q.ref, &k.ref, &v.ref, &bmask}, {&y.ref}};
  ASSERT_TRUE(run_kernel(a, args).ok());
  expect_close(y.v, naive_attention(q, k, v, hq, hq, l, s, e, e, a.scale, false, nullptr, &keep));
}

// --- pooling -------------------------------------------------------------------

TEST(CpuPooling, AvgPoolPaddingRules) {
  Tensor x({1, 1, 2, 2}, {1, 2, 3, 4}), y({1, 1, 2, 2});
  PoolAttrs a;
  a.kind = 1;
  a.kernel = {2, 2};
  a.stride = {1, 1};
  a.padding = {1, 1};
  // output is 3x3 with padding 1; take the 2x2 top-left by using a 2x2 output buffer is invalid,
  // so use the full output.
  Tensor y3({1, 1, 3, 3});
  ASSERT_TRUE(run(a, {&x}, y3).ok());
  expect_close(y3.v, {1 / 4.0, 3 / 4.0, 2 / 4.0, 4 / 4.0, 10 / 4.0, 6 / 4.0, 3 / 4.0, 7 / 4.0, 4 / 4.0});
  a.count_include_pad = false;
  ASSERT_TRUE(run(a, {&x}, y3).ok());
  expect_close(y3.v, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  a.divisor_override = 2;
  ASSERT_TRUE(run(a, {&x}, y3).ok());
  expect_close(y3.v, {0.5, 1.5, 1, 2, 5, 3, 1.5, 3.5, 2});
  (void)y;
}

TEST(CpuPooling, MaxPoolCeilModeAndPadding) {
  // 1x5 input, kernel 2, stride 2, ceil_mode: windows [0,1], [2,3], [4] (3 outputs)
  Tensor x({1, 1, 5}, {1, -5, 3, 2, -7}), y({1, 1, 3});
  PoolAttrs a;
  a.kind = 0;
  a.kernel = {2};
  a.stride = {2};
  a.ceil_mode = true;
  ASSERT_TRUE(run(a, {&x}, y).ok());
  expect_close(y.v, {1, 3, -7});
  // padding 1 acts as -inf: windows [-1,0], [1,2], [3,4]
  a.padding = {1};
  a.ceil_mode = false;
  ASSERT_TRUE(run(a, {&x}, y).ok());
  expect_close(y.v, {1, 3, 2});
}

TEST(CpuPooling, AdaptiveAvgUsesTorchWindows) {
  // in 5 -> out 3: windows [0,2), [1,4), [3,5)
  Tensor x({1, 1, 5}, {1, 2, 3, 4, 5}), y({1, 1, 3});
  AdaptivePoolAttrs a;
  a.kind = 1;
  ASSERT_TRUE(run(a, {&x}, y).ok());
  expect_close(y.v, {1.5, 3, 4.5});
  Tensor x2 = random_tensor({2, 3, 4, 6}, 29), y2({2, 3, 1, 1});
  ASSERT_TRUE(run(a, {&x2}, y2).ok());
  std::vector<double> want(6, 0);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 24; ++j) want[i] += x2.v[i * 24 + j] / 24.0;
  expect_close(y2.v, want);
}

TEST(CpuPooling, UpsampleNearestAndBilinear) {
  Tensor x({1, 1, 2, 2}, {1, 2, 3, 4}), y({1, 1, 4, 4});
  UpsampleAttrs a;
  a.mode = 0;
  ASSERT_TRUE(run(a, {&x}, y).ok());
  expect_close(y.v, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  a.mode = 1;
  a.align_corners = true;
  Tensor y3({1, 1, 3, 3});
  ASSERT_TRUE(run(a, {&x}, y3).ok());
  expect_close(y3.v, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  // align_corners=false, 2 -> 4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25
  a.align_corners = false;
  Tensor x1({1, 1, 2}, {0, 4}), y1({1, 1, 4});
  ASSERT_TRUE(run(a, {&x1}, y1).ok());
  expect_close(y1.v, {0, 1, 3, 4});
}

// --- executor ------------------------------------------------------------------

TEST(CpuExecutor, RunsATwoStepPlanAndNamesFailingSteps) {
  // y = relu-free chain: t = x @ W (gemm, W constant), out = layer_norm(t)
  Plan plan;
  plan.build.backend = "cpu";
  auto add_tensor = [&](std::string name, std::vector<int64_t> shape, TensorStorage st, uint64_t off) {
    PlanTensor t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.storage = st;
    t.offset = off;
    t.nbytes = 4 * t.numel();
    plan.tensors.push_back(t);
    return static_cast<int32_t>(plan.tensors.size() - 1);
  };
  std::vector<float> wv = {1, 0, 2, 0, 1, -1};  // [2, 3]
  plan.constants.resize(wv.size() * 4);
  std::memcpy(plan.constants.data(), wv.data(), plan.constants.size());
  int32_t x = add_tensor("x", {2, 2}, TensorStorage::kInput, 0);
  int32_t w = add_tensor("w", {2, 3}, TensorStorage::kConstant, 0);
  int32_t t = add_tensor("t", {2, 3}, TensorStorage::kArena, 0);
  int32_t y = add_tensor("y", {2, 3}, TensorStorage::kOutput, 0);
  plan.inputs = {x};
  plan.outputs = {y};
  plan.arena_bytes = 64;
  PlanStep gemm;
  gemm.attrs = GemmAttrs{};
  gemm.inputs = {x, w, -1};
  gemm.outputs = {t};
  PlanStep ln;
  LayerNormAttrs lna;
  lna.eps = 0;
  ln.attrs = lna;
  ln.inputs = {t, -1, -1};
  ln.outputs = {y};
  ln.source.node_name = "layer_norm_1";
  ln.source.location = "model.py:7";
  plan.steps = {gemm, ln};

  auto backend = make_cpu_backend(plan);
  ASSERT_TRUE(backend.ok());
  auto ctx = (*backend)->create_context();
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  std::vector<float> xv = {1, 2, 3, 4}, yv(6, NAN);
  Status st = (*ctx)->execute({TensorView::host(xv.data(), DType::kFloat32, {2, 2})},
                              {TensorView::host(yv.data(), DType::kFloat32, {2, 3})}, nullptr, true);
  ASSERT_TRUE(st.ok()) << st.to_string();
  // t = [[1, 2, 0], [3, 4, 2]]; normalize each row
  std::vector<double> want;
  for (std::vector<double> row : {std::vector<double>{1, 2, 0}, std::vector<double>{3, 4, 2}}) {
    double mean = (row[0] + row[1] + row[2]) / 3, var = 0;
    for (double r : row) var += (r - mean) * (r - mean) / 3;
    for (double r : row) want.push_back((r - mean) / std::sqrt(var));
  }
  expect_close(yv, want);

  // A layer_norm weight of the wrong size fails with the step's label.
  plan.steps[1].inputs = {t, w, -1};
  auto ctx2 = (*backend)->create_context();
  ASSERT_TRUE(ctx2.ok());
  st = (*ctx2)->execute({TensorView::host(xv.data(), DType::kFloat32, {2, 2})},
                        {TensorView::host(yv.data(), DType::kFloat32, {2, 3})}, nullptr, true);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("step 1 [layer_norm] node 'layer_norm_1' (model.py:7)"), std::string::npos)
      << st.message();

  st = (*ctx2)->execute({TensorView::device(xv.data(), DType::kFloat32, {2, 2})},
                        {TensorView::host(yv.data(), DType::kFloat32, {2, 3})}, nullptr, true);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("device memory"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ingot::cpu
