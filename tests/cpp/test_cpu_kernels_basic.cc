// Tests of the CPU data movement, indexing, elementwise and reduction kernels,
// called directly on small tensors. Expected values are either worked out by
// hand in the test or were printed by PyTorch 2.10 (torch.* on the same inputs)
// and pasted here as literals; none come from the code under test. Outputs are
// poisoned (all bits set: NaN for floats) so an unwritten element fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/half.h"

namespace ingot::cpu {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A tensor that owns its bytes.
struct Tensor {
  std::vector<unsigned char> bytes;
  TensorRef ref;
  Tensor(DType dtype, std::vector<int64_t> shape) {
    ref.dtype = dtype;
    ref.shape = std::move(shape);
    bytes.assign(std::max<int64_t>(ref.numel(), 1) * dtype_size(dtype), 0xFF);
    ref.data = bytes.data();
  }
  // Values are written in the tensor's dtype (16-bit floats via core/half.h, tested below).
  Tensor(DType dtype, std::vector<int64_t> shape, const std::vector<double>& values) : Tensor(dtype, shape) {
    EXPECT_EQ(static_cast<int64_t>(values.size()), ref.numel());
    for (size_t i = 0; i < values.size(); ++i) set(i, values[i]);
  }
  void set(size_t i, double v) {
    void* p = bytes.data() + i * dtype_size(ref.dtype);
    auto put = [&](auto x) { std::memcpy(p, &x, sizeof(x)); };
    switch (ref.dtype) {
      case DType::kFloat32: put(static_cast<float>(v)); break;
      case DType::kFloat64: put(v); break;
      case DType::kFloat16: put(float_to_half_bits(static_cast<float>(v))); break;
      case DType::kBFloat16: put(float_to_bf16_bits(static_cast<float>(v))); break;
      case DType::kInt64: put(static_cast<int64_t>(v)); break;
      case DType::kInt32: put(static_cast<int32_t>(v)); break;
      case DType::kInt16: put(static_cast<int16_t>(v)); break;
      case DType::kInt8: put(static_cast<int8_t>(v)); break;
      case DType::kUInt8: put(static_cast<uint8_t>(v)); break;
      case DType::kBool: put(static_cast<uint8_t>(v != 0)); break;
    }
  }
  double get(size_t i) const {
    const void* p = bytes.data() + i * dtype_size(ref.dtype);
    auto read = [&](auto x) {
      std::memcpy(&x, p, sizeof(x));
      return x;
    };
    switch (ref.dtype) {
      case DType::kFloat32: return read(float{});
      case DType::kFloat64: return read(double{});
      case DType::kFloat16: return half_bits_to_float(read(uint16_t{}));
      case DType::kBFloat16: return bf16_bits_to_float(read(uint16_t{}));
      case DType::kInt64: return static_cast<double>(read(int64_t{}));
      case DType::kInt32: return read(int32_t{});
      case DType::kInt16: return read(int16_t{});
      case DType::kInt8: return read(int8_t{});
      case DType::kUInt8: return read(uint8_t{});
      case DType::kBool: return read(uint8_t{});
    }
    return kNaN;
  }
  std::vector<double> values() const {
    std::vector<double> v(ref.numel());
    for (size_t i = 0; i < v.size(); ++i) v[i] = get(i);
    return v;
  }
};

using Family = Status (*)(const OpAttrs&, const KernelArgs&);

Status run(Family family, const OpAttrs& attrs, std::vector<const Tensor*> ins, Tensor& out) {
  KernelArgs args;
  for (const Tensor* t : ins) args.in.push_back(&t->ref);
  args.out.push_back(&out.ref);
  return family(attrs, args);
}

// Element-wise comparison; NaN matches only an expected NaN.
void expect_values(const Tensor& t, const std::vector<double>& expected, double rel = 1e-6, const char* what = "") {
  const std::vector<double> got = t.values();
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " element " << i << " = " << got[i] << ", expected NaN";
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(got[i], expected[i]) << what << " element " << i;
    } else {
      EXPECT_NEAR(got[i], expected[i], rel * std::max(1.0, std::abs(expected[i])))
          << what << " element " << i;
    }
  }
}

// ------------------------------------------------------------------ half.h

TEST(Half, KnownBitPatterns) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7C00);                 // rounds up to inf
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);   // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -26)), 0x0000);   // underflows to +0
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  const uint16_t nan_bits = float_to_half_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan_bits & 0x7C00, 0x7C00);
  EXPECT_NE(nan_bits & 0x03FF, 0);
  EXPECT_EQ(half_bits_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_bits_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_bits_to_float(0x7E00)));
  // Values torch printed for float16 casts (-1.5, 2.7, 300, -129.7).
  EXPECT_EQ(float_to_half_bits(-1.5f), 0xBE00);
  EXPECT_EQ(float_to_half_bits(2.7f), 0x4166);
  EXPECT_EQ(float_to_half_bits(300.0f), 0x5CB0);
  EXPECT_EQ(float_to_half_bits(-129.7f), 0xD80E);
}

TEST(Half, EveryHalfRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = half_bits_to_float(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half_bits(f), b) << std::hex << b;
  }
}

TEST(Half, BFloat16) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16_bits(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even
  EXPECT_EQ(float_to_bf16_bits(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(float_to_bf16_bits(1.0f + 5 * std::ldexp(1.0f, -9)), 0x3F81);  // nearest
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits only in the low bits must not become inf.
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(std::bit_cast<float>(0x7F800001u)))));
  EXPECT_EQ(bf16_bits_to_float(0xC040), -3.0f);
}

// ------------------------------------------------------------------ data movement

std::vector<double> iota(int64_t n, double start = 0) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + i;
  return v;
}

TEST(DataMovement, ReshapeCopies) {
  Tensor in(DType::kInt16, {2, 3}, iota(6)), out(DType::kInt16, {3, 2});
  ASSERT_TRUE(run(data_movement, ReshapeAttrs{{3, 2}}, {&in}, out).ok());
  expect_values(out, iota(6));
  Tensor bad(DType::kInt16, {4});
  EXPECT_EQ(run(data_movement, ReshapeAttrs{}, {&in}, bad).code(), StatusCode::kInvalidArgument);
}

TEST(DataMovement, Permute) {
  // in[i][j][k] = 12i + 4j + k, out = in.permute(2, 0, 1): out[k][i][j] = in[i][j][k]
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat16, DType::kBool}) {
    Tensor in(dt, {2, 3, 4}, iota(24)), out(dt, {4, 2, 3});
    ASSERT_TRUE(run(data_movement, PermuteAttrs{{2, 0, 1}}, {&in}, out).ok());
    std::vector<double> expected;
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) expected.push_back(dt == DType::kBool ? (12 * i + 4 * j + k != 0) : 12 * i + 4 * j + k);
    expect_values(out, expected, 0, dtype_name(dt));
  }
  Tensor in(DType::kFloat32, {2, 3}, iota(6)), out(DType::kFloat32, {3, 2});
  EXPECT_EQ(run(data_movement, PermuteAttrs{{0, 0}}, {&in}, out).code(), StatusCode::kInvalidArgument);
}

TEST(DataMovement, Expand) {
  Tensor in(DType::kFloat32, {3, 1}, {1, 2, 3}), out(DType::kFloat32, {2, 3, 2});
  ASSERT_TRUE(run(data_movement, ExpandAttrs{{2, 3, 2}}, {&in}, out).ok());
  expect_values(out, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  Tensor bad(DType::kFloat32, {2, 2});
  EXPECT_EQ(run(data_movement, ExpandAttrs{}, {&in}, bad).code(), StatusCode::kInvalidArgument);
}

TEST(DataMovement, SliceWithStep) {
  Tensor in(DType::kInt32, {2, 5}, iota(10)), out(DType::kInt32, {2, 2});
  ASSERT_TRUE(run(data_movement, SliceAttrs{1, 1, 5, 2}, {&in}, out).ok());  // in[:, 1:5:2]
  expect_values(out, {1, 3, 6, 8});
  Tensor too_long(DType::kInt32, {2, 3});
  EXPECT_EQ(run(data_movement, SliceAttrs{1, 1, 5, 2}, {&in}, too_long).code(), StatusCode::kInvalidArgument);
  Tensor empty(DType::kInt32, {2, 0});
  EXPECT_TRUE(run(data_movement, SliceAttrs{1, 5, 5, 1}, {&in}, empty).ok());
}

TEST(DataMovement, ConcatThreeInputs) {
  Tensor a(DType::kFloat32, {2, 1}, {1, 2}), b(DType::kFloat32, {2, 2}, {3, 4, 5, 6}), c(DType::kFloat32, {2, 0});
  Tensor d(DType::kFloat32, {2, 1}, {7, 8}), out(DType::kFloat32, {2, 4});
  ASSERT_TRUE(run(data_movement, ConcatAttrs{-1}, {&a, &b, &c, &d}, out).ok());
  expect_values(out, {1, 3, 4, 7, 2, 5, 6, 8});
  Tensor out0(DType::kFloat32, {4, 1});
  ASSERT_TRUE(run(data_movement, ConcatAttrs{0}, {&a, &d}, out0).ok());
  expect_values(out0, {1, 2, 7, 8});
  EXPECT_EQ(run(data_movement, ConcatAttrs{0}, {&a, &b}, out0).code(), StatusCode::kInvalidArgument);
}

TEST(DataMovement, PadModes) {
  Tensor in(DType::kFloat32, {4}, {1, 2, 3, 4});
  struct Case { PadMode mode; std::vector<int64_t> pads; std::vector<double> expected; };
  // torch.nn.functional.pad(x, (2, 1), mode=...) for x = [1, 2, 3, 4]
  const Case cases[] = {
      {PadMode::kConstant, {2, 1}, {9, 9, 1, 2, 3, 4, 9}},
      {PadMode::kReflect, {2, 1}, {3, 2, 1, 2, 3, 4, 3}},
      {PadMode::kReplicate, {2, 1}, {1, 1, 1, 2, 3, 4, 4}},
      {PadMode::kCircular, {2, 1}, {3, 4, 1, 2, 3, 4, 1}},
      {PadMode::kConstant, {-1, 2}, {2, 3, 4, 9, 9}},  // negative pad crops
      {PadMode::kReplicate, {-2, -1}, {3}},
  };
  for (const Case& c : cases) {
    Tensor out(DType::kFloat32, {static_cast<int64_t>(c.expected.size())});
    ASSERT_TRUE(run(data_movement, PadAttrs{c.pads, static_cast<int64_t>(c.mode), 9.0}, {&in}, out).ok());
    expect_values(out, c.expected, 0);
  }
  // 2-D: pad rows by (1, 0) and columns by (0, 1) with reflect.
  Tensor in2(DType::kInt64, {2, 3}, {1, 2, 3, 4, 5, 6}), out2(DType::kInt64, {3, 4});
  ASSERT_TRUE(run(data_movement, PadAttrs{{1, 0, 0, 1}, 1, 0.0}, {&in2}, out2).ok());
  expect_values(out2, {4, 5, 6, 5, 1, 2, 3, 2, 4, 5, 6, 5}, 0);
  Tensor too_big(DType::kFloat32, {12});
  EXPECT_EQ(run(data_movement, PadAttrs{{4, 4}, 1, 0.0}, {&in}, too_big).code(), StatusCode::kInvalidArgument);
}

TEST(DataMovement, SliceScatter) {
  Tensor in(DType::kFloat32, {2, 4}, iota(8)), src(DType::kFloat32, {2, 2}, {-1, -2, -3, -4});
  Tensor out(DType::kFloat32, {2, 4});
  ASSERT_TRUE(run(data_movement, SliceScatterAttrs{1, 0, 4, 2}, {&in, &src}, out).ok());
  expect_values(out, {-1, 1, -2, 3, -3, 5, -4, 7}, 0);
}

TEST(DataMovement, Triangular) {
  Tensor in(DType::kFloat32, {2, 3, 3}, iota(18, 1)), out(DType::kFloat32, {2, 3, 3});
  ASSERT_TRUE(run(data_movement, TriangularAttrs{false, 0}, {&in}, out).ok());  // tril
  expect_values(out, {1, 0, 0, 4, 5, 0, 7, 8, 9, 10, 0, 0, 13, 14, 0, 16, 17, 18}, 0);
  ASSERT_TRUE(run(data_movement, TriangularAttrs{true, 1}, {&in}, out).ok());  // triu(diagonal=1)
  expect_values(out, {0, 2, 3, 0, 0, 6, 0, 0, 0, 0, 11, 12, 0, 0, 15, 0, 0, 0}, 0);
  ASSERT_TRUE(run(data_movement, TriangularAttrs{false, -1}, {&in}, out).ok());
  expect_values(out, {0, 0, 0, 4, 0, 0, 7, 8, 0, 0, 0, 0, 13, 0, 0, 16, 17, 0}, 0);
}

TEST(DataMovement, UnsupportedOpIsRefused) {
  Tensor in(DType::kFloat32, {1}, {1}), out(DType::kFloat32, {1});
  EXPECT_EQ(run(data_movement, SoftmaxAttrs{}, {&in}, out).code(), StatusCode::kUnsupported);
}

// ------------------------------------------------------------------ indexing

TEST(Indexing, Gather) {
  // torch.gather([[1, 2, 3], [4, 5, 6]], 1, [[2, 0], [-1, 1]])... torch rejects negatives in
  // gather; ingot wraps them. Expected by hand: [[3, 1], [6, 5]].
  Tensor in(DType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6}), idx(DType::kInt64, {2, 2}, {2, 0, -1, 1});
  Tensor out(DType::kFloat32, {2, 2});
  ASSERT_TRUE(run(indexing, GatherAttrs{1}, {&in, &idx}, out).ok());
  expect_values(out, {3, 1, 6, 5}, 0);
  Tensor idx0(DType::kInt64, {1, 3}, {1, 0, 1}), out0(DType::kFloat32, {1, 3});
  ASSERT_TRUE(run(indexing, GatherAttrs{0}, {&in, &idx0}, out0).ok());
  expect_values(out0, {4, 2, 6}, 0);
  Tensor bad(DType::kInt64, {1, 3}, {0, 2, 0});
  EXPECT_EQ(run(indexing, GatherAttrs{0}, {&in, &bad}, out0).code(), StatusCode::kInvalidArgument);
}

TEST(Indexing, IndexSelectAndEmbedding) {
  Tensor in(DType::kFloat32, {3, 2}, {1, 2, 3, 4, 5, 6});
  for (DType it : {DType::kInt64, DType::kInt32}) {
    Tensor idx(it, {2, 2}, {2, -3, 1, 2}), out(DType::kFloat32, {2, 2, 2});
    ASSERT_TRUE(run(indexing, IndexSelectAttrs{0}, {&in, &idx}, out).ok());
    expect_values(out, {5, 6, 1, 2, 3, 4, 5, 6}, 0);
  }
  Tensor idx1(DType::kInt64, {3}, {1, 1, 0}), out1(DType::kFloat32, {3, 3});
  ASSERT_TRUE(run(indexing, IndexSelectAttrs{1}, {&in, &idx1}, out1).ok());
  expect_values(out1, {2, 2, 1, 4, 4, 3, 6, 6, 5}, 0);
  Tensor oob(DType::kInt64, {1}, {3}), out_oob(DType::kFloat32, {1, 2});
  EXPECT_EQ(run(indexing, IndexSelectAttrs{0}, {&in, &oob}, out_oob).code(), StatusCode::kInvalidArgument);
  Tensor neg_oob(DType::kInt32, {1}, {-4});
  EXPECT_EQ(run(indexing, IndexSelectAttrs{0}, {&in, &neg_oob}, out_oob).code(), StatusCode::kInvalidArgument);
  Tensor none(DType::kInt64, {0}), out_none(DType::kFloat32, {0, 2});
  EXPECT_TRUE(run(indexing, IndexSelectAttrs{0}, {&in, &none}, out_none).ok());
}

TEST(Indexing, AdvancedIndexAdjacent) {
  // x[2,3,4] = iota; x[:, [2, 0]] -> [2, 2, 4]
  Tensor x(DType::kFloat32, {2, 3, 4}, iota(24));
  Tensor i1(DType::kInt64, {2}, {2, 0}), out(DType::kFloat32, {2, 2, 4});
  ASSERT_TRUE(run(indexing, IndexAttrs{{1}}, {&x, &i1}, out).ok());
  expect_values(out, {8, 9, 10, 11, 0, 1, 2, 3, 20, 21, 22, 23, 12, 13, 14, 15}, 0);
  // x[:, [1, 2], [-1, 0]] -> [2, 2]: x[b, 1, 3], x[b, 2, 0]
  Tensor j1(DType::kInt64, {2}, {1, 2}), j2(DType::kInt64, {2}, {-1, 0}), out2(DType::kFloat32, {2, 2});
  ASSERT_TRUE(run(indexing, IndexAttrs{{1, 2}}, {&x, &j1, &j2}, out2).ok());
  expect_values(out2, {7, 8, 19, 20}, 0);
  // Broadcast indices: x[[[1], [0]], [0, 2, 1]] -> [2, 3, 4] rows x[1,0], x[1,2], x[1,1], x[0,0], x[0,2], x[0,1]
  Tensor k0(DType::kInt64, {2, 1}, {1, 0}), k1(DType::kInt32, {3}, {0, 2, 1}), out3(DType::kFloat32, {2, 3, 4});
  ASSERT_TRUE(run(indexing, IndexAttrs{{0, 1}}, {&x, &k0, &k1}, out3).ok());
  std::vector<double> e3;
  for (int r : {1 * 3 + 0, 1 * 3 + 2, 1 * 3 + 1, 0, 2, 1})
    for (int k = 0; k < 4; ++k) e3.push_back(r * 4 + k);
  expect_values(out3, e3, 0);
}

TEST(Indexing, AdvancedIndexNonAdjacentGoesFirst) {
  // x[[1, 0], :, [3, -1]] -> [2, 3]: out[b][j] = x[i0[b]][j][i2[b]]
  Tensor x(DType::kInt64, {2, 3, 4}, iota(24));
  Tensor i0(DType::kInt64, {2}, {1, 0}), i2(DType::kInt64, {2}, {3, -1}), out(DType::kInt64, {2, 3});
  ASSERT_TRUE(run(indexing, IndexAttrs{{0, 2}}, {&x, &i0, &i2}, out).ok());
  expect_values(out, {15, 19, 23, 3, 7, 11}, 0);
  Tensor oob(DType::kInt64, {2}, {3, 4});
  EXPECT_EQ(run(indexing, IndexAttrs{{0, 2}}, {&x, &i0, &oob}, out).code(), StatusCode::kInvalidArgument);
  Tensor wrong(DType::kInt64, {3, 2});
  EXPECT_EQ(run(indexing, IndexAttrs{{0, 2}}, {&x, &i0, &i2}, wrong).code(), StatusCode::kInvalidArgument);
}

TEST(Indexing, WhereBroadcasts) {
  Tensor cond(DType::kBool, {3}, {1, 0, 1}), a(DType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b(DType::kFloat32, {1}, {-1}), out(DType::kFloat32, {2, 3});
  ASSERT_TRUE(run(indexing, WhereAttrs{}, {&cond, &a, &b}, out).ok());
  expect_values(out, {1, -1, 3, 4, -1, 6}, 0);
  Tensor cond2(DType::kBool, {2, 1}, {0, 1}), a2(DType::kInt8, {3}, {1, 2, 3}), b2(DType::kInt8, {2, 3}, iota(6, 10));
  Tensor out2(DType::kInt8, {2, 3});
  ASSERT_TRUE(run(indexing, WhereAttrs{}, {&cond2, &a2, &b2}, out2).ok());
  expect_values(out2, {10, 11, 12, 1, 2, 3}, 0);
}

// ------------------------------------------------------------------ elementwise

struct UnaryCase {
  UnaryFn fn;
  double alpha, beta;
  std::vector<double> expected;
};
// torch 2.10 outputs for x = [-2.5, -1, -0.5, 0, 0.5, 1, 2.5, 3.7, nan] (float32); the
// alpha/beta columns are the parameters (clamp(-1, 2), leaky_relu 0.1, elu 1.5,
// softplus(beta=2, threshold=3), x**3, 2**x).
const UnaryCase kUnaryCases[] = {
  {UnaryFn::kNeg, 0, 0, {2.5, 1.0, 0.5, -0.0, -0.5, -1.0, -2.5, -3.700000047683716, kNaN}},
  {UnaryFn::kAbs, 0, 0, {2.5, 1.0, 0.5, 0.0, 0.5, 1.0, 2.5, 3.700000047683716, kNaN}},
  {UnaryFn::kExp, 0, 0, {0.08208499848842621, 0.3678794503211975, 0.6065306663513184, 1.0, 1.6487212181091309, 2.7182817459106445, 12.182494163513184, 40.44730758666992, kNaN}},
  {UnaryFn::kLog, 0, 0, {kNaN, kNaN, kNaN, -kInf, -0.6931471824645996, 0.0, 0.9162907600402832, 1.3083328008651733, kNaN}},
  {UnaryFn::kSqrt, 0, 0, {kNaN, kNaN, kNaN, 0.0, 0.7071067690849304, 1.0, 1.5811388492584229, 1.9235384464263916, kNaN}},
  {UnaryFn::kRsqrt, 0, 0, {kNaN, kNaN, kNaN, kInf, 1.4142135381698608, 1.0, 0.6324555277824402, 0.5198752284049988, kNaN}},
  {UnaryFn::kReciprocal, 0, 0, {-0.4000000059604645, -1.0, -2.0, kInf, 2.0, 1.0, 0.4000000059604645, 0.2702702581882477, kNaN}},
  {UnaryFn::kSin, 0, 0, {-0.5984721183776855, -0.8414709568023682, -0.4794255495071411, 0.0, 0.4794255495071411, 0.8414709568023682, 0.5984721183776855, -0.5298361778259277, kNaN}},
  {UnaryFn::kCos, 0, 0, {-0.8011435866355896, 0.5403023362159729, 0.8775825500488281, 1.0, 0.8775825500488281, 0.5403023362159729, -0.8011435866355896, -0.8481000065803528, kNaN}},
  {UnaryFn::kTanh, 0, 0, {-0.9866142868995667, -0.7615941762924194, -0.46211716532707214, 0.0, 0.46211716532707214, 0.7615941762924194, 0.9866142868995667, 0.998778223991394, kNaN}},
  {UnaryFn::kSigmoid, 0, 0, {0.07585817575454712, 0.2689414322376251, 0.3775406777858734, 0.5, 0.622459352016449, 0.7310585975646973, 0.9241418242454529, 0.9758729934692383, kNaN}},
  {UnaryFn::kRelu, 0, 0, {0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.5, 3.700000047683716, kNaN}},
  {UnaryFn::kGelu, 0, 0, {-0.015524178743362427, -0.15865525603294373, -0.1542687714099884, 0.0, 0.3457312285900116, 0.8413447141647339, 2.48447585105896, 3.699601411819458, kNaN}},
  {UnaryFn::kGeluTanh, 0, 0, {-0.015084296464920044, -0.15880799293518066, -0.1542859971523285, 0.0, 0.3457140028476715, 0.8411920070648193, 2.4849157333374023, 3.69972825050354, kNaN}},
  {UnaryFn::kSilu, 0, 0, {-0.189645454287529, -0.2689414322376251, -0.1887703388929367, 0.0, 0.3112296760082245, 0.7310585975646973, 2.310354471206665, 3.6107301712036133, kNaN}},
  {UnaryFn::kHardSwish, 0, 0, {-0.2083333283662796, -0.3333333432674408, -0.2083333283662796, 0.0, 0.2916666567325592, 0.6666666865348816, 2.2916667461395264, 3.700000047683716, kNaN}},
  {UnaryFn::kHardSigmoid, 0, 0, {0.0833333358168602, 0.3333333432674408, 0.4166666567325592, 0.5, 0.5833333134651184, 0.6666666865348816, 0.9166666865348816, 1.0, kNaN}},
  {UnaryFn::kErf, 0, 0, {-0.9995930194854736, -0.8427007794380188, -0.5204998850822449, 0.0, 0.5204998850822449, 0.8427007794380188, 0.9995930194854736, 0.9999998211860657, kNaN}},
  {UnaryFn::kFloor, 0, 0, {-3.0, -1.0, -1.0, 0.0, 0.0, 1.0, 2.0, 3.0, kNaN}},
  {UnaryFn::kCeil, 0, 0, {-2.0, -1.0, -0.0, 0.0, 1.0, 1.0, 3.0, 4.0, kNaN}},
  {UnaryFn::kRound, 0, 0, {-2.0, -1.0, -0.0, 0.0, 0.0, 1.0, 2.0, 4.0, kNaN}},
  {UnaryFn::kTrunc, 0, 0, {-2.0, -1.0, -0.0, 0.0, 0.0, 1.0, 2.0, 3.0, kNaN}},
  {UnaryFn::kSign, 0, 0, {-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0}},
  {UnaryFn::kClamp, -1.0, 2.0, {-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 2.0, kNaN}},
  {UnaryFn::kLeakyRelu, 0.1, 0, {-0.25, -0.10000000149011612, -0.05000000074505806, 0.0, 0.5, 1.0, 2.5, 3.700000047683716, kNaN}},
  {UnaryFn::kElu, 1.5, 0, {-1.3768725395202637, -0.9481807947158813, -0.5902040004730225, 0.0, 0.5, 1.0, 2.5, 3.700000047683716, kNaN}},
  {UnaryFn::kSoftplus, 2.0, 3.0, {0.003357674228027463, 0.06346400082111359, 0.15663084387779236, 0.3465735912322998, 0.65663081407547, 1.0634640455245972, 2.5, 3.700000047683716, kNaN}},
  {UnaryFn::kLog1p, 0, 0, {kNaN, -kInf, -0.6931471824645996, 0.0, 0.40546509623527527, 0.6931471824645996, 1.2527629137039185, 1.5475624799728394, kNaN}},
  {UnaryFn::kExpm1, 0, 0, {-0.9179149866104126, -0.6321205496788025, -0.39346933364868164, 0.0, 0.6487212777137756, 1.718281865119934, 11.182494163513184, 39.44730758666992, kNaN}},
  {UnaryFn::kPowScalar, 3.0, 0, {-15.625, -1.0, -0.125, 0.0, 0.125, 1.0, 15.625, 50.65300369262695, kNaN}},
  {UnaryFn::kMish, 0, 0, {-0.19681619107723236, -0.3034014403820038, -0.22074376046657562, 0.0, 0.37524524331092834, 0.8650983572006226, 2.4713923931121826, 3.695694923400879, kNaN}},
  {UnaryFn::kTan, 0, 0, {0.7470223307609558, -1.5574077367782593, -0.5463024973869324, 0.0, 0.5463024973869324, 1.5574077367782593, -0.7470223307609558, 0.6247331500053406, kNaN}},
  {UnaryFn::kAtan, 0, 0, {-1.1902899742126465, -0.7853981852531433, -0.46364760398864746, 0.0, 0.46364760398864746, 0.7853981852531433, 1.1902899742126465, 1.3068325519561768, kNaN}},
  {UnaryFn::kLog2, 0, 0, {kNaN, kNaN, kNaN, -kInf, -1.0, 0.0, 1.3219281435012817, 1.8875253200531006, kNaN}},
  {UnaryFn::kExp2, 0, 0, {0.1767766922712326, 0.5, 0.7071067690849304, 1.0, 1.4142135381698608, 2.0, 5.656854152679443, 12.996038436889648, kNaN}},
  {UnaryFn::kScalarPow, 2.0, 0, {0.1767766922712326, 0.5, 0.7071067690849304, 1.0, 1.4142135381698608, 2.0, 5.656854152679443, 12.996038436889648, kNaN}},
};
const std::vector<double> kUnaryInput = {-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5, 3.7, kNaN};

TEST(Elementwise, EveryFloatUnaryMatchesTorch) {
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (const UnaryCase& c : kUnaryCases) {
      Tensor in(dt, {3, 3}, kUnaryInput), out(dt, {3, 3});
      ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(c.fn), c.alpha, c.beta}, {&in}, out).ok())
          << unary_fn_name(c.fn);
      // float64 sees 3.7 as a double, not the float32 value torch used: relax slightly.
      expect_values(out, c.expected, dt == DType::kFloat32 ? 2e-6 : 1e-6, unary_fn_name(c.fn));
    }
  }
}

TEST(Elementwise, PredicatesAndIntegerUnary) {
  Tensor x(DType::kFloat32, {4}, {0, kNaN, -1, 2}), b(DType::kBool, {4});
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kIsNan)}, {&x}, b).ok());
  expect_values(b, {0, 1, 0, 0}, 0);
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kLogicalNot)}, {&x}, b).ok());
  expect_values(b, {1, 0, 0, 0}, 0);
  Tensor bools(DType::kBool, {2}, {1, 0}), bout(DType::kBool, {2});
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kBitwiseNot)}, {&bools}, bout).ok());
  expect_values(bout, {0, 1}, 0);

  Tensor i8(DType::kInt8, {4}, {-128, -5, 0, 7}), o8(DType::kInt8, {4});
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kAbs)}, {&i8}, o8).ok());
  expect_values(o8, {-128, 5, 0, 7}, 0);  // torch: abs(int8 -128) wraps to -128
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kNeg)}, {&i8}, o8).ok());
  expect_values(o8, {-128, 5, 0, -7}, 0);
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kSign)}, {&i8}, o8).ok());
  expect_values(o8, {-1, -1, 0, 1}, 0);
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kBitwiseNot)}, {&i8}, o8).ok());
  expect_values(o8, {127, 4, -1, -8}, 0);
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kClamp), -3, kInf}, {&i8}, o8).ok());
  expect_values(o8, {-3, -3, 0, 7}, 0);
  Tensor i64(DType::kInt64, {2}, {std::numeric_limits<int64_t>::min(), -3}), o64(DType::kInt64, {2});
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kNeg)}, {&i64}, o64).ok());
  EXPECT_EQ(o64.ref.as<int64_t>()[0], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(o64.ref.as<int64_t>()[1], 3);
  // Int input with a float output (torch promotes exp(int) to float32).
  Tensor ints(DType::kInt32, {2}, {0, 1}), fo(DType::kFloat32, {2});
  ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kExp)}, {&ints}, fo).ok());
  expect_values(fo, {1.0, 2.7182817459106445});
  Tensor f(DType::kFloat32, {1}, {1}), fout(DType::kFloat32, {1});
  EXPECT_EQ(run(elementwise, UnaryAttrs{static_cast<int64_t>(UnaryFn::kBitwiseNot)}, {&f}, fout).code(),
            StatusCode::kUnsupported);
}

TEST(Elementwise, HalfAndBFloat16UnaryComputeInFloat) {
  // torch 2.10: exp / gelu / relu on the float16 and bfloat16 versions of kUnaryInput.
  struct Case { UnaryFn fn; std::vector<double> half, bf16; };
  const Case cases[] = {
      {UnaryFn::kExp, {0.08209228515625, 0.367919921875, 0.6064453125, 1.0, 1.6484375, 2.71875, 12.1796875, 40.40625, kNaN},
       {0.08203125, 0.3671875, 0.60546875, 1.0, 1.6484375, 2.71875, 12.1875, 40.5, kNaN}},
      {UnaryFn::kGelu, {-0.01552581787109375, -0.15869140625, -0.154296875, 0.0, 0.345703125, 0.84130859375, 2.484375, 3.69921875, kNaN},
       {-0.0155029296875, -0.158203125, -0.154296875, 0.0, 0.345703125, 0.83984375, 2.484375, 3.703125, kNaN}},
      {UnaryFn::kRelu, {0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.5, 3.69921875, kNaN},
       {0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.5, 3.703125, kNaN}},
  };
  for (const Case& c : cases) {
    Tensor h(DType::kFloat16, {9}, kUnaryInput), ho(DType::kFloat16, {9});
    ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(c.fn)}, {&h}, ho).ok());
    expect_values(ho, c.half, 1e-3, "half");
    Tensor b(DType::kBFloat16, {9}, kUnaryInput), bo(DType::kBFloat16, {9});
    ASSERT_TRUE(run(elementwise, UnaryAttrs{static_cast<int64_t>(c.fn)}, {&b}, bo).ok());
    expect_values(bo, c.bf16, 8e-3, "bf16");
  }
}

struct BinaryCase {
  BinaryFn fn;
  std::vector<double> expected;
};
// torch 2.10 for a = [-5, -3.5, 0, 2, 7, 1.5, 1, nan, -0], b = [3, -2, 2, 0.5, -3, 0, 0, 1, 2] (float32)
const std::vector<double> kBinA = {-5.0, -3.5, 0.0, 2.0, 7.0, 1.5, 1.0, kNaN, -0.0};
const std::vector<double> kBinB = {3.0, -2.0, 2.0, 0.5, -3.0, 0.0, 0.0, 1.0, 2.0};
const BinaryCase kBinaryFloatCases[] = {
  {BinaryFn::kAdd, {-2.0, -5.5, 2.0, 2.5, 4.0, 1.5, 1.0, kNaN, 2.0}},
  {BinaryFn::kSub, {-8.0, -1.5, -2.0, 1.5, 10.0, 1.5, 1.0, kNaN, -2.0}},
  {BinaryFn::kMul, {-15.0, 7.0, 0.0, 1.0, -21.0, 0.0, 0.0, kNaN, -0.0}},
  {BinaryFn::kDiv, {-1.6666666269302368, 1.75, 0.0, 4.0, -2.3333332538604736, kInf, kInf, kNaN, -0.0}},
  {BinaryFn::kFloorDiv, {-2.0, 1.0, 0.0, 4.0, -3.0, kInf, kInf, kNaN, -0.0}},
  {BinaryFn::kTruncDiv, {-1.0, 1.0, 0.0, 4.0, -2.0, kInf, kInf, kNaN, -0.0}},
  {BinaryFn::kPow, {-125.0, 0.08163265138864517, 0.0, 1.4142135381698608, 0.0029154520016163588, 1.0, 1.0, kNaN, 0.0}},
  {BinaryFn::kMaximum, {3.0, -2.0, 2.0, 2.0, 7.0, 1.5, 1.0, kNaN, 2.0}},
  {BinaryFn::kMinimum, {-5.0, -3.5, 0.0, 0.5, -3.0, 0.0, 0.0, kNaN, -0.0}},
  {BinaryFn::kFmod, {-2.0, -1.5, 0.0, 0.0, 1.0, kNaN, kNaN, kNaN, -0.0}},
  {BinaryFn::kRemainder, {1.0, -1.5, 0.0, 0.0, -2.0, kNaN, kNaN, kNaN, -0.0}},
  {BinaryFn::kEq, {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}},
  {BinaryFn::kNe, {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}},
  {BinaryFn::kLt, {1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0}},
  {BinaryFn::kLe, {1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0}},
  {BinaryFn::kGt, {0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0}},
  {BinaryFn::kGe, {0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0}},
  {BinaryFn::kLogicalAnd, {1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0}},
  {BinaryFn::kLogicalOr, {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}},
  {BinaryFn::kLogicalXor, {0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0}},
  {BinaryFn::kAtan2, {-1.0303767919540405, -2.089942455291748, 0.0, 1.3258177042007446, 1.975688099861145, 1.5707963705062866, 1.5707963705062866, kNaN, -0.0}},
};

TEST(Elementwise, EveryFloatBinaryMatchesTorch) {
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (const BinaryCase& c : kBinaryFloatCases) {
      const bool cmp = binary_fn_is_comparison(c.fn);
      Tensor a(dt, {9}, kBinA), b(dt, {9}, kBinB), out(cmp ? DType::kBool : dt, {9});
      ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(c.fn)}, {&a, &b}, out).ok())
          << binary_fn_name(c.fn);
      expect_values(out, c.expected, 1e-6, binary_fn_name(c.fn));
    }
  }
}

struct IntBinaryCase {
  BinaryFn fn;
  std::vector<double> expected;
};
// torch 2.10 for int32 a = [7, -7, 7, -7, 0, 5, -8, 3], b = [2, 2, -2, -2, 3, -1, 3, 5]
const std::vector<double> kIntA = {7, -7, 7, -7, 0, 5, -8, 3};
const std::vector<double> kIntB = {2, 2, -2, -2, 3, -1, 3, 5};
const IntBinaryCase kBinaryIntCases[] = {
  {BinaryFn::kAdd, {9, -5, 5, -9, 3, 4, -5, 8}},
  {BinaryFn::kSub, {5, -9, 9, -5, -3, 6, -11, -2}},
  {BinaryFn::kMul, {14, -14, -14, 14, 0, -5, -24, 15}},
  {BinaryFn::kFloorDiv, {3, -4, -4, 3, 0, -5, -3, 0}},
  {BinaryFn::kTruncDiv, {3, -3, -3, 3, 0, -5, -2, 0}},
  {BinaryFn::kMaximum, {7, 2, 7, -2, 3, 5, 3, 5}},
  {BinaryFn::kMinimum, {2, -7, -2, -7, 0, -1, -8, 3}},
  {BinaryFn::kFmod, {1, -1, 1, -1, 0, 0, -2, 3}},
  {BinaryFn::kRemainder, {1, 1, -1, -1, 0, 0, 1, 3}},
  {BinaryFn::kBitwiseAnd, {2, 0, 6, -8, 0, 5, 0, 1}},
  {BinaryFn::kBitwiseOr, {7, -5, -1, -1, 3, -1, -5, 7}},
  {BinaryFn::kBitwiseXor, {5, -5, -7, 7, 3, -6, -5, 6}},
  {BinaryFn::kEq, {0, 0, 0, 0, 0, 0, 0, 0}},
  {BinaryFn::kLt, {0, 1, 0, 1, 1, 0, 1, 1}},
  {BinaryFn::kGe, {1, 0, 1, 0, 0, 1, 0, 0}},
};

TEST(Elementwise, IntegerBinaryMatchesTorch) {
  for (DType dt : {DType::kInt32, DType::kInt64, DType::kInt16, DType::kInt8}) {
    for (const IntBinaryCase& c : kBinaryIntCases) {
      const bool cmp = binary_fn_is_comparison(c.fn);
      Tensor a(dt, {8}, kIntA), b(dt, {8}, kIntB), out(cmp ? DType::kBool : dt, {8});
      ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(c.fn)}, {&a, &b}, out).ok())
          << binary_fn_name(c.fn);
      expect_values(out, c.expected, 0, binary_fn_name(c.fn));
    }
  }
  // torch.pow(int64) with negative exponents: [2,-1,1,3,-2,0] ** [-1,-3,-2,0,3,2]
  Tensor pa(DType::kInt64, {6}, {2, -1, 1, 3, -2, 0}), pb(DType::kInt64, {6}, {-1, -3, -2, 0, 3, 2});
  Tensor po(DType::kInt64, {6});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kPow)}, {&pa, &pb}, po).ok());
  expect_values(po, {0, -1, 1, 1, -8, 0}, 0);
  // Integer true division gives float: [7, -7] / [2, 2] = [3.5, -3.5]
  Tensor da(DType::kInt64, {2}, {7, -7}), db(DType::kInt64, {2}, {2, 2}), dout(DType::kFloat32, {2});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kDiv)}, {&da, &db}, dout).ok());
  expect_values(dout, {3.5, -3.5}, 0);
  // Wraparound instead of UB: INT32_MAX + 1 and INT32_MIN // -1.
  Tensor wa(DType::kInt32, {2}, {2147483647, -2147483648.0}), wb(DType::kInt32, {2}, {1, -1}), wo(DType::kInt32, {2});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {&wa, &wb}, wo).ok());
  expect_values(wo, {-2147483648.0, 2147483647}, 0);
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kFloorDiv)}, {&wa, &wb}, wo).ok());
  expect_values(wo, {2147483647, -2147483648.0}, 0);
}

TEST(Elementwise, IntegerDivisionByZeroIsAnError) {
  Tensor a(DType::kInt32, {2}, {1, 2}), b(DType::kInt32, {2}, {1, 0}), out(DType::kInt32, {2});
  for (BinaryFn fn : {BinaryFn::kFloorDiv, BinaryFn::kTruncDiv, BinaryFn::kRemainder, BinaryFn::kFmod})
    EXPECT_EQ(run(elementwise, BinaryAttrs{static_cast<int64_t>(fn)}, {&a, &b}, out).code(),
              StatusCode::kInvalidArgument);
}

TEST(Elementwise, BinaryBroadcasting) {
  // [2, 1, 3] + [2, 1] -> [2, 2, 3]
  Tensor a(DType::kFloat32, {2, 1, 3}, {1, 2, 3, 4, 5, 6}), b(DType::kFloat32, {2, 1}, {10, 20});
  Tensor out(DType::kFloat32, {2, 2, 3});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {&a, &b}, out).ok());
  expect_values(out, {11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26}, 0);
  // scalar on the left: 2 - x
  Tensor s(DType::kFloat32, {}, {2}), x(DType::kFloat32, {3}, {1, 2, 3}), o3(DType::kFloat32, {3});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kSub)}, {&s, &x}, o3).ok());
  expect_values(o3, {1, 0, -1}, 0);
  // per-channel: [1, 2, 2, 2] * [2, 1, 1] (NCHW times a channel vector)
  Tensor img(DType::kFloat32, {1, 2, 2, 2}, iota(8)), ch(DType::kFloat32, {2, 1, 1}, {1, -1});
  Tensor o4(DType::kFloat32, {1, 2, 2, 2});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kMul)}, {&img, &ch}, o4).ok());
  expect_values(o4, {0, 1, 2, 3, -4, -5, -6, -7}, 0);
  // a large tensor exercises the threaded path: [300, 200] + [200]
  Tensor big(DType::kFloat32, {300, 200}), row(DType::kFloat32, {200}), ob(DType::kFloat32, {300, 200});
  for (int i = 0; i < 60000; ++i) big.set(i, i % 7);
  for (int i = 0; i < 200; ++i) row.set(i, i);
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {&big, &row}, ob).ok());
  for (int i = 0; i < 60000; i += 997) EXPECT_EQ(ob.get(i), i % 7 + i % 200);
  // comparisons into bool, half inputs
  Tensor h1(DType::kFloat16, {3}, {1, 2, 3}), h2(DType::kFloat16, {1}, {2}), hb(DType::kBool, {3});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kGe)}, {&h1, &h2}, hb).ok());
  expect_values(hb, {0, 1, 1}, 0);
  Tensor bad(DType::kFloat32, {4});
  EXPECT_EQ(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {&x, &x}, bad).code(),
            StatusCode::kInvalidArgument);
  Tensor empty(DType::kFloat32, {0, 3}), eo(DType::kFloat32, {0, 3});
  EXPECT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {&empty, &x}, eo).ok());
}

TEST(Elementwise, BoolBinary) {
  Tensor a(DType::kBool, {4}, {0, 0, 1, 1}), b(DType::kBool, {4}, {0, 1, 0, 1}), out(DType::kBool, {4});
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {&a, &b}, out).ok());
  expect_values(out, {0, 1, 1, 1}, 0);
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kMul)}, {&a, &b}, out).ok());
  expect_values(out, {0, 0, 0, 1}, 0);
  ASSERT_TRUE(run(elementwise, BinaryAttrs{static_cast<int64_t>(BinaryFn::kBitwiseXor)}, {&a, &b}, out).ok());
  expect_values(out, {0, 1, 1, 0}, 0);
}

TEST(Elementwise, CastMatchesTorch) {
  // torch 2.10: torch.tensor([-1.5, 2.7, 300, nan, -0.0, 1e20, -129.7]).to(dtype)
  const std::vector<double> src = {-1.5, 2.7, 300., kNaN, -0.0, 1e20, -129.7};
  struct Case { DType dt; std::vector<double> expected; };
  const Case cases[] = {
      {DType::kInt32, {-1, 2, 300, -2147483648.0, 0, -2147483648.0, -129}},
      {DType::kUInt8, {255, 2, 44, 0, 0, 0, 127}},
      {DType::kInt8, {-1, 2, 44, 0, 0, 0, 127}},
      {DType::kInt16, {-1, 2, 300, 0, 0, 0, -129}},
      {DType::kInt64, {-1, 2, 300, -9223372036854775808.0, 0, -9223372036854775808.0, -129}},
      {DType::kBool, {1, 1, 1, 1, 0, 1, 1}},
  };
  Tensor in(DType::kFloat32, {7}, src);
  for (const Case& c : cases) {
    Tensor out(c.dt, {7});
    ASSERT_TRUE(run(elementwise, CastAttrs{}, {&in}, out).ok());
    expect_values(out, c.expected, 0, dtype_name(c.dt));
  }
  Tensor h(DType::kFloat16, {7});
  ASSERT_TRUE(run(elementwise, CastAttrs{}, {&in}, h).ok());
  const uint16_t expected_bits[] = {0xBE00, 0x4166, 0x5CB0, 0x7E00, 0x8000, 0x7C00, 0xD80E};
  for (int i = 0; i < 7; ++i) {
    uint16_t bits;
    std::memcpy(&bits, h.bytes.data() + 2 * i, 2);
    if (i == 3) EXPECT_TRUE((bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0);
    else EXPECT_EQ(bits, expected_bits[i]) << i;
  }
  // every dtype pair round-trips small integers
  const DType all[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64, DType::kInt64,
                       DType::kInt32,   DType::kInt16,   DType::kInt8,     DType::kUInt8,   DType::kBool};
  for (DType from : all)
    for (DType to : all) {
      Tensor a(from, {3}, {0, 1, 1}), b(to, {3});
      a.set(2, from == DType::kBool ? 1 : 5);
      ASSERT_TRUE(run(elementwise, CastAttrs{}, {&a}, b).ok());
      const double want = (from == DType::kBool || to == DType::kBool) ? 1 : 5;
      expect_values(b, {0, 1, want}, 0, dtype_name(to));
    }
}

// ------------------------------------------------------------------ reduction

std::vector<double> kRed = [] {  // torch.arange(24).reshape(2, 3, 4) * 0.5 - 3
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i * 0.5 - 3;
  return v;
}();

Status reduce(ReduceFn fn, std::vector<int64_t> dims, bool keepdim, const Tensor& in, Tensor& out,
              double correction = 1.0) {
  return run(reduction, ReduceAttrs{static_cast<int64_t>(fn), std::move(dims), keepdim, correction}, {&in}, out);
}

TEST(Reduction, SumMeanVarStdMatchTorch) {
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kBFloat16}) {
    Tensor t(dt, {2, 3, 4}, kRed);
    Tensor s(dt, {3});
    ASSERT_TRUE(reduce(ReduceFn::kSum, {0, 2}, false, t, s).ok());  // non-adjacent dims
    expect_values(s, {6.0, 22.0, 38.0}, 0, "sum02");
    Tensor sk(dt, {1, 3, 1});
    ASSERT_TRUE(reduce(ReduceFn::kSum, {0, 2}, true, t, sk).ok());
    expect_values(sk, {6.0, 22.0, 38.0}, 0, "sum02 keepdim");
    Tensor m(dt, {2, 4});
    ASSERT_TRUE(reduce(ReduceFn::kMean, {1}, false, t, m).ok());
    expect_values(m, {-1.0, -0.5, 0.0, 0.5, 5.0, 5.5, 6.0, 6.5}, 0, "mean1");
    Tensor v(dt, {2, 3});
    ASSERT_TRUE(reduce(ReduceFn::kVar, {2}, false, t, v).ok());
    expect_values(v, std::vector<double>(6, 0.4166666567325592), dt == DType::kBFloat16 ? 4e-3 : 1e-6, "var2");
    Tensor sd(dt, {3, 4});
    ASSERT_TRUE(reduce(ReduceFn::kStd, {0}, false, t, sd, 0.0).ok());
    expect_values(sd, std::vector<double>(12, 3.0), 0, "std0 correction 0");
    Tensor all(dt, {});
    ASSERT_TRUE(reduce(ReduceFn::kSum, {}, false, t, all).ok());  // empty dims: everything
    expect_values(all, {66.0}, 0, "sum all");
  }
}

TEST(Reduction, MaxMinProdAnyAll) {
  Tensor t(DType::kFloat32, {2, 3, 4}, kRed);
  Tensor mx(DType::kFloat32, {3, 4});
  ASSERT_TRUE(reduce(ReduceFn::kMax, {0}, false, t, mx).ok());
  expect_values(mx, {3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5}, 0);
  Tensor mn(DType::kFloat32, {2, 1, 1});
  ASSERT_TRUE(reduce(ReduceFn::kMin, {1, 2}, true, t, mn).ok());
  expect_values(mn, {-3.0, 3.0}, 0);
  // NaN propagates through max (torch.amax)
  Tensor s(DType::kFloat32, {3, 4}, {1, 3, 3, -1, 2, kNaN, 5, kNaN, 0.5, 0.5, -2, -2}), smx(DType::kFloat32, {3});
  ASSERT_TRUE(reduce(ReduceFn::kMax, {1}, false, s, smx).ok());
  expect_values(smx, {3.0, kNaN, 0.5});
  // integer prod (int64 accumulation) and max on ints/bool
  Tensor p(DType::kInt64, {2, 3}, {1, 2, 3, 4, -5, 6}), po(DType::kInt64, {2});
  ASSERT_TRUE(reduce(ReduceFn::kProd, {1}, false, p, po).ok());
  expect_values(po, {6, -120}, 0);
  Tensor i8(DType::kInt8, {2, 3}, {1, -2, 3, -4, -5, -6}), i8o(DType::kInt8, {2});
  ASSERT_TRUE(reduce(ReduceFn::kMax, {1}, false, i8, i8o).ok());
  expect_values(i8o, {3, -4}, 0);
  Tensor si(DType::kInt32, {2, 3}, {1, 2, 3, 4, 5, 6}), so(DType::kInt64, {3});  // torch: sum(int32) -> int64
  ASSERT_TRUE(reduce(ReduceFn::kSum, {0}, false, si, so).ok());
  expect_values(so, {5, 7, 9}, 0);
  Tensor b(DType::kBool, {2, 3}, {0, 0, 1, 1, 1, 1}), bo(DType::kBool, {2});
  ASSERT_TRUE(reduce(ReduceFn::kAny, {1}, false, b, bo).ok());
  expect_values(bo, {1, 1}, 0);
  ASSERT_TRUE(reduce(ReduceFn::kAll, {1}, false, b, bo).ok());
  expect_values(bo, {0, 1}, 0);
  Tensor f(DType::kFloat32, {2, 2}, {0, kNaN, 0, 0}), fo(DType::kBool, {2});
  ASSERT_TRUE(reduce(ReduceFn::kAny, {1}, false, f, fo).ok());
  expect_values(fo, {1, 0}, 0);
}

TEST(Reduction, EmptyAndBadShapes) {
  Tensor e(DType::kFloat32, {0, 3}), s(DType::kFloat32, {3}), m(DType::kFloat32, {3});
  ASSERT_TRUE(reduce(ReduceFn::kSum, {0}, false, e, s).ok());
  expect_values(s, {0, 0, 0}, 0);
  ASSERT_TRUE(reduce(ReduceFn::kMean, {0}, false, e, m).ok());
  expect_values(m, {kNaN, kNaN, kNaN});
  EXPECT_EQ(reduce(ReduceFn::kMax, {0}, false, e, m).code(), StatusCode::kInvalidArgument);
  Tensor t(DType::kFloat32, {2, 3}, iota(6)), wrong(DType::kFloat32, {2});
  EXPECT_EQ(reduce(ReduceFn::kSum, {0}, false, t, wrong).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reduce(ReduceFn::kSum, {5}, false, t, wrong).code(), StatusCode::kInvalidArgument);
}

TEST(Reduction, ArgMaxArgMin) {
  // torch 2.10: argmax(1) = [1, 1, 0], argmin(1) = [3, 1, 2], argmax(0) = [1, 1, 1, 1]
  Tensor s(DType::kFloat32, {3, 4}, {1, 3, 3, -1, 2, kNaN, 5, kNaN, 0.5, 0.5, -2, -2});
  Tensor o(DType::kInt64, {3}), o0(DType::kInt64, {1, 4});
  ASSERT_TRUE(run(reduction, ArgReduceAttrs{0, 1, false}, {&s}, o).ok());
  expect_values(o, {1, 1, 0}, 0);
  ASSERT_TRUE(run(reduction, ArgReduceAttrs{1, -1, false}, {&s}, o).ok());
  expect_values(o, {3, 1, 2}, 0);
  ASSERT_TRUE(run(reduction, ArgReduceAttrs{0, 0, true}, {&s}, o0).ok());
  expect_values(o0, {1, 1, 1, 1}, 0);
  Tensor ints(DType::kUInt8, {4}, {3, 200, 200, 1}), io(DType::kInt64, {});
  ASSERT_TRUE(run(reduction, ArgReduceAttrs{0, 0, false}, {&ints}, io).ok());
  expect_values(io, {1}, 0);
  Tensor e(DType::kFloat32, {2, 0}), eo(DType::kInt64, {2});
  EXPECT_EQ(run(reduction, ArgReduceAttrs{0, 1, false}, {&e}, eo).code(), StatusCode::kInvalidArgument);
}

TEST(Reduction, Cumulative) {
  Tensor t(DType::kFloat32, {2, 3, 4}, kRed), o(DType::kFloat32, {2, 3, 4});
  ASSERT_TRUE(run(reduction, CumulativeAttrs{0, 1}, {&t}, o).ok());
  expect_values(o, {-3.0, -2.5, -2.0, -1.5, -4.0, -3.0, -2.0, -1.0, -3.0, -1.5, 0.0, 1.5,
                    3.0, 3.5, 4.0, 4.5, 8.0, 9.0, 10.0, 11.0, 15.0, 16.5, 18.0, 19.5}, 0);
  Tensor i(DType::kInt32, {2, 3}, {1, 2, 3, 4, -5, 6}), io(DType::kInt64, {2, 3});  // torch: cumprod(int32) -> int64
  ASSERT_TRUE(run(reduction, CumulativeAttrs{1, -1}, {&i}, io).ok());
  expect_values(io, {1, 2, 6, 4, -20, -120}, 0);
}

TEST(Reduction, SoftmaxMatchesTorch) {
  const std::vector<double> softmax1 = {
      0.01587624102830887, 0.01587624102830887, 0.01587624102830887, 0.01587624102830887, 0.11731042712926865,
      0.11731042712926865, 0.11731042712926865, 0.11731042712926865, 0.8668133616447449,  0.8668133616447449,
      0.8668133616447449,  0.8668133616447449,  0.01587624102830887, 0.01587624102830887, 0.01587624102830887,
      0.01587624102830887, 0.11731042712926865, 0.11731042712926865, 0.11731042712926865, 0.11731042712926865,
      0.8668133616447449,  0.8668133616447449,  0.8668133616447449,  0.8668133616447449};
  std::vector<double> log_softmax2, softmax_half2;
  for (int r = 0; r < 6; ++r) {
    for (double v : {-2.2873387336730957, -1.7873387336730957, -1.2873387336730957, -0.7873386740684509})
      log_softmax2.push_back(v);
    for (double v : {0.1015625, 0.1673583984375, 0.276123046875, 0.455078125}) softmax_half2.push_back(v);
  }
  Tensor t(DType::kFloat32, {2, 3, 4}, kRed), o(DType::kFloat32, {2, 3, 4});
  ASSERT_TRUE(run(reduction, SoftmaxAttrs{1, false}, {&t}, o).ok());  // inner > 1 layout
  expect_values(o, softmax1, 1e-6, "softmax dim 1");
  ASSERT_TRUE(run(reduction, SoftmaxAttrs{-1, true}, {&t}, o).ok());
  expect_values(o, log_softmax2, 1e-6, "log_softmax dim 2");
  Tensor h(DType::kFloat16, {2, 3, 4}, kRed), ho(DType::kFloat16, {2, 3, 4});
  ASSERT_TRUE(run(reduction, SoftmaxAttrs{2, false}, {&h}, ho).ok());
  expect_values(ho, softmax_half2, 1e-3, "softmax half");
  // Large logits stay finite (stability); -inf entries get probability 0.
  Tensor big(DType::kFloat32, {3}, {1000, 1000, -kInf}), bo(DType::kFloat32, {3});
  ASSERT_TRUE(run(reduction, SoftmaxAttrs{0, false}, {&big}, bo).ok());
  expect_values(bo, {0.5, 0.5, 0.0});
  Tensor n(DType::kFloat32, {3}, {1, kNaN, 2}), no(DType::kFloat32, {3});
  ASSERT_TRUE(run(reduction, SoftmaxAttrs{0, false}, {&n}, no).ok());
  expect_values(no, {kNaN, kNaN, kNaN});
}

}  // namespace
}  // namespace ingot::cpu
