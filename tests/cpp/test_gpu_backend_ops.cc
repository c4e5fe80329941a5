// The CUDA backend against the CPU backend, op family by op family: every case
// runs the same op on the same random inputs through ingot::cpu::run_kernel (the
// reference, itself tested against PyTorch) and ingot::cuda::run_kernel, and
// compares. GPU outputs are poisoned (all bits set: NaN for floats, -1 for ints)
// before each run, and every case runs twice with the same step state so that
// cached per-step state is exercised. float16/bfloat16 cases compare against the
// CPU run in float32 on the same (exactly widened) values. Exits with 77 (skip)
// where there is no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/half.h"

#if defined(INGOT_WITH_CUDA)
#include "gpu_test_util.h"

namespace ingot {
namespace {

// ---------------------------------------------------------------- elementwise

bool positive_domain(UnaryFn fn) {
  switch (fn) {
    case UnaryFn::kLog: case UnaryFn::kSqrt: case UnaryFn::kRsqrt: case UnaryFn::kLog2: case UnaryFn::kLog1p:
    case UnaryFn::kPowScalar:
      return true;
    default: return false;
  }
}

UnaryAttrs unary(UnaryFn fn) {
  UnaryAttrs a;
  a.fn = static_cast<int64_t>(fn);
  switch (fn) {
    case UnaryFn::kClamp: a.alpha = -0.5; a.beta = 0.7; break;
    case UnaryFn::kLeakyRelu: a.alpha = 0.1; break;
    case UnaryFn::kElu: a.alpha = 1.0; break;
    case UnaryFn::kSoftplus: a.alpha = 1.0; a.beta = 20.0; break;
    case UnaryFn::kPowScalar: a.alpha = 2.5; break;
    case UnaryFn::kScalarPow: a.alpha = 2.0; break;
    default: break;
  }
  return a;
}

TEST(GpuElementwise, UnaryFloat) {
  const int kNumUnary = static_cast<int>(UnaryFn::kScalarPow) + 1;
  for (DType t : kFloatTypes)
    for (int f = 0; f < kNumUnary; ++f) {
      const auto fn = static_cast<UnaryFn>(f);
      if (fn == UnaryFn::kBitwiseNot) continue;
      const std::vector<int64_t> shape = {3, 37, 5};
      HostTensor x = positive_domain(fn) ? rand_tensor(t, shape, 10 + f, 0.1, 3) : rand_tensor(t, shape, 10 + f, -3, 3);
      if (fn == UnaryFn::kIsNan) x.set(7, NAN), x.set(100, NAN);
      const bool predicate = fn == UnaryFn::kIsNan || fn == UnaryFn::kLogicalNot;
      if (fn == UnaryFn::kLogicalNot) x.set(3, 0.0);
      check(std::string("unary ") + unary_fn_name(fn) + " " + dtype_name(t), unary(fn), {&x},
            {{predicate ? DType::kBool : t, shape}}, 2e-5);
    }
}

TEST(GpuElementwise, UnaryIntegerBoolAndMixed) {
  const UnaryFn int_fns[] = {UnaryFn::kNeg,  UnaryFn::kAbs,   UnaryFn::kSign,      UnaryFn::kRelu,
                             UnaryFn::kBitwiseNot, UnaryFn::kClamp, UnaryFn::kRound, UnaryFn::kLogicalNot};
  for (DType t : kIntTypes)
    for (UnaryFn fn : int_fns) {
      HostTensor x = rand_tensor(t, {41, 3}, 5, -100, 100);
      const bool predicate = fn == UnaryFn::kLogicalNot;
      check(std::string("unary ") + unary_fn_name(fn) + " " + dtype_name(t), unary(fn), {&x},
            {{predicate ? DType::kBool : t, {41, 3}}});
    }
  HostTensor b = rand_tensor(DType::kBool, {77}, 3);
  check("logical_not bool", unary(UnaryFn::kLogicalNot), {&b}, {{DType::kBool, {77}}});
  check("bitwise_not bool", unary(UnaryFn::kBitwiseNot), {&b}, {{DType::kBool, {77}}});
  HostTensor i = rand_tensor(DType::kInt32, {5, 9}, 4, -5, 5);
  check("exp int32->float32", unary(UnaryFn::kExp), {&i}, {{DType::kFloat32, {5, 9}}});
  check("sigmoid int32->float16", unary(UnaryFn::kSigmoid), {&i}, {{DType::kFloat16, {5, 9}}}, 1e-5, false);
}

bool divides(BinaryFn fn) {
  return fn == BinaryFn::kDiv || fn == BinaryFn::kFloorDiv || fn == BinaryFn::kTruncDiv || fn == BinaryFn::kFmod ||
         fn == BinaryFn::kRemainder;
}

const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> kBinaryShapes = {
    {{4, 33}, {4, 33}}, {{4, 1, 33}, {5, 1}}, {{6, 35}, {}}, {{}, {6, 35}}, {{7, 1, 3}, {1, 6, 1}}, {{2, 3, 4, 5}, {3, 1, 5}}};

TEST(GpuElementwise, BinaryFloat) {
  const int kNumBinary = static_cast<int>(BinaryFn::kAtan2) + 1;
  for (DType t : kFloatTypes)
    for (int f = 0; f < kNumBinary; ++f)
      for (size_t s = 0; s < kBinaryShapes.size(); ++s) {
        const auto fn = static_cast<BinaryFn>(f);
        const auto& [sa, sb] = kBinaryShapes[s];
        HostTensor a = fn == BinaryFn::kPow ? rand_tensor(t, sa, f * 7 + s, 0.2, 3) : rand_tensor(t, sa, f * 7 + s);
        HostTensor b = divides(fn) ? rand_tensor(t, sb, f * 11 + s, 0.5, 2) : rand_tensor(t, sb, f * 11 + s);
        if (fn == BinaryFn::kEq && b.numel() > 2) b.set(1, a.get(1 % a.numel()));
        BinaryAttrs attrs;
        attrs.fn = f;
        const DType out = binary_fn_is_comparison(fn) ? DType::kBool : t;
        check(std::string("binary ") + binary_fn_name(fn) + " " + dtype_name(t) + " " + shape_label(sa) + "x" +
                  shape_label(sb),
              attrs, {&a, &b}, {{out, broadcast(sa, sb)}}, 2e-5);
      }
}

TEST(GpuElementwise, BinaryIntegerAndBool) {
  const int kNumBinary = static_cast<int>(BinaryFn::kAtan2) + 1;
  std::vector<DType> types(std::begin(kIntTypes), std::end(kIntTypes));
  types.push_back(DType::kBool);
  for (DType t : types)
    for (int f = 0; f < kNumBinary; ++f)
      for (size_t s = 0; s < 3; ++s) {
        const auto fn = static_cast<BinaryFn>(f);
        const auto& [sa, sb] = kBinaryShapes[s * 2];
        HostTensor a = rand_tensor(t, sa, f * 3 + s, -50, 50);
        HostTensor b = fn == BinaryFn::kPow ? rand_tensor(t, sb, f * 5 + s, 0, 4) : rand_tensor(t, sb, f * 5 + s, 1, 9);
        if (divides(fn) && t != DType::kUInt8 && t != DType::kBool)  // negative divisors too, never zero
          for (int64_t i = 0; i < b.numel(); i += 2) b.set(i, -b.get(i));
        if (divides(fn) && t == DType::kBool) continue;
        BinaryAttrs attrs;
        attrs.fn = f;
        const DType out = binary_fn_is_comparison(fn) ? DType::kBool : t;
        check(std::string("binary ") + binary_fn_name(fn) + " " + dtype_name(t) + " " + shape_label(sa), attrs,
              {&a, &b}, {{out, broadcast(sa, sb)}});
      }
  // Integer true division goes through double.
  HostTensor a = rand_tensor(DType::kInt32, {4, 9}, 1, -20, 20), b = rand_tensor(DType::kInt32, {9}, 2, 1, 7);
  BinaryAttrs div;
  div.fn = static_cast<int64_t>(BinaryFn::kDiv);
  check("div int32 -> float32", div, {&a, &b}, {{DType::kFloat32, {4, 9}}});
}

TEST(GpuElementwise, CastAllPairs) {
  const DType all[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64, DType::kInt64,
                       DType::kInt32,   DType::kInt16,   DType::kInt8,     DType::kUInt8,   DType::kBool};
  for (DType from : all)
    for (DType to : all) {
      HostTensor x = rand_tensor(from, {3, 45}, 9, -300, 300);
      if (is_float(from)) x.set(0, 0.5), x.set(1, -0.75), x.set(2, 1e10), x.set(3, 0.0);
      CastAttrs attrs;
      check(std::string("cast ") + dtype_name(from) + " -> " + dtype_name(to), attrs, {&x}, {{to, {3, 45}}}, 0,
            false);
      // 4 * 47 elements: the vectorized kernel (135 above is not a multiple of 4).
      HostTensor v = rand_tensor(from, {4, 47}, 10, -300, 300);
      if (is_float(from)) v.set(1, 1e10), v.set(6, -0.75);
      check(std::string("cast vector ") + dtype_name(from) + " -> " + dtype_name(to), attrs, {&v}, {{to, {4, 47}}},
            0, false);
    }
}

// ---------------------------------------------------------------- data movement

TEST(GpuDataMovement, AllOps) {
  const DType types[] = {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool};
  for (DType t : types) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {2, 3, 4, 5}, 1);
    ReshapeAttrs rs;
    check("reshape " + ts, rs, {&x}, {{t, {6, 20}}}, 0, false);
    PermuteAttrs p1;
    p1.perm = {0, 2, 3, 1};
    check("permute 0231 " + ts, p1, {&x}, {{t, {2, 4, 5, 3}}}, 0, false);
    PermuteAttrs p2;
    p2.perm = {3, 1, 2, 0};
    check("permute 3120 " + ts, p2, {&x}, {{t, {5, 3, 4, 2}}}, 0, false);
    // Permutes that run as tiled 2-d transposes (data_movement.cu): an image's
    // NCHW -> NHWC (3 columns, row tiles cut at the edge), [B, D, T] -> [B, T, D]
    // with partial 32 x 32 tiles, and transposes under permuted batch dims.
    HostTensor img = rand_tensor(t, {2, 3, 40, 37}, 6);
    check("permute nchw->nhwc c3 " + ts, p1, {&img}, {{t, {2, 40, 37, 3}}}, 0, false);
    HostTensor img4 = rand_tensor(t, {2, 4, 33, 20}, 9);
    check("permute nchw->nhwc c4 " + ts, p1, {&img4}, {{t, {2, 33, 20, 4}}}, 0, false);
    HostTensor img2 = rand_tensor(t, {3, 2, 50, 23}, 11);
    check("permute nchw->nhwc c2 " + ts, p1, {&img2}, {{t, {3, 50, 23, 2}}}, 0, false);
    HostTensor seq = rand_tensor(t, {3, 70, 45}, 7);
    PermuteAttrs p3;
    p3.perm = {0, 2, 1};
    check("permute 021 " + ts, p3, {&seq}, {{t, {3, 45, 70}}}, 0, false);
    HostTensor bat = rand_tensor(t, {4, 2, 40, 35}, 8);
    PermuteAttrs p4;
    p4.perm = {1, 0, 3, 2};
    check("permute 1032 " + ts, p4, {&bat}, {{t, {2, 4, 35, 40}}}, 0, false);
    HostTensor e = rand_tensor(t, {3, 1, 5}, 2);
    ExpandAttrs ex;
    check("expand " + ts, ex, {&e}, {{t, {2, 3, 4, 5}}}, 0, false);
    SliceAttrs sl;
    sl.dim = 3;
    sl.start = 1;
    sl.end = 5;
    sl.step = 2;
    check("slice last " + ts, sl, {&x}, {{t, {2, 3, 4, 2}}}, 0, false);
    sl.dim = 1;
    sl.start = 1;
    sl.end = 3;
    sl.step = 1;
    check("slice mid " + ts, sl, {&x}, {{t, {2, 2, 4, 5}}}, 0, false);
    HostTensor c1 = rand_tensor(t, {2, 1, 4, 5}, 3), c2 = rand_tensor(t, {2, 5, 4, 5}, 4);
    ConcatAttrs cc;
    cc.dim = 1;
    check("concat dim1 " + ts, cc, {&x, &c1, &c2}, {{t, {2, 9, 4, 5}}}, 0, false);
    cc.dim = 0;
    check("concat dim0 " + ts, cc, {&x, &x}, {{t, {4, 3, 4, 5}}}, 0, false);
    // ViT's class token before its patches, an empty input, rows of odd byte
    // counts, and nine inputs.
    HostTensor cls = rand_tensor(t, {2, 1, 16}, 12), patches = rand_tensor(t, {2, 5, 16}, 13),
               none = rand_tensor(t, {2, 0, 16}, 14);
    cc.dim = 1;
    check("concat cls " + ts, cc, {&cls, &none, &patches}, {{t, {2, 6, 16}}}, 0, false);
    HostTensor odd = rand_tensor(t, {3, 2, 3}, 15);
    cc.dim = 2;
    check("concat odd rows " + ts, cc, {&odd, &odd, &odd}, {{t, {3, 2, 9}}}, 0, false);
    std::vector<const HostTensor*> nine(9, &odd);
    check("concat nine " + ts, cc, nine, {{t, {3, 2, 27}}}, 0, false);
    for (int mode = 0; mode < 4; ++mode) {
      PadAttrs pd;
      pd.mode = mode;
      pd.value = 1.5;
      pd.pads = {0, 0, 0, 0, 2, 1, 3, 2};
      check("pad mode " + std::to_string(mode) + " " + ts, pd, {&x}, {{t, {2, 3, 7, 10}}}, 0, false);
    }
    PadAttrs crop;
    crop.pads = {0, 0, 1, -1, -1, 2, 0, 0};
    check("pad crop " + ts, crop, {&x}, {{t, {2, 3, 5, 5}}}, 0, false);
    HostTensor src = rand_tensor(t, {2, 3, 2, 5}, 5);
    SliceScatterAttrs ss;
    ss.dim = 2;
    ss.start = 1;
    ss.end = 4;
    ss.step = 2;
    check("slice_scatter " + ts, ss, {&x, &src}, {{t, {2, 3, 4, 5}}}, 0, false);
    for (int upper = 0; upper < 2; ++upper)
      for (int diag : {-1, 0, 2}) {
        TriangularAttrs tr;
        tr.upper = upper;
        tr.diagonal = diag;
        check("triangular " + std::to_string(upper) + " " + std::to_string(diag) + " " + ts, tr, {&x},
              {{t, {2, 3, 4, 5}}}, 0, false);
      }
  }
}

// Reformat (a permute that converts between float types) against the CPU kernel,
// exactly, for every pair of float types: an image's NCHW -> NHWC (the narrow
// transpose), a wide transpose, ViT's patches (4 elements a thread) and an odd
// inner dim (one a thread); a same-type reformat is a plain permute.
TEST(GpuDataMovement, Reformat) {
  for (DType from : kFloatTypes)
    for (DType to : kFloatTypes) {
      const std::string ts = std::string(dtype_name(from)) + "->" + dtype_name(to);
      ReformatAttrs nhwc{.perm = {0, 2, 3, 1}};
      HostTensor img = rand_tensor(from, {2, 3, 40, 37}, 21);
      check("reformat nchw->nhwc " + ts, nhwc, {&img}, {{to, {2, 40, 37, 3}}}, 0, false);
      // Pixel counts that are multiples of 8 take the 8-rows-a-thread kernel (2, 3
      // and 4 channels); 1480 = 40 x 37 pixels above does too.
      HostTensor two = rand_tensor(from, {2, 2, 8, 9}, 25), four = rand_tensor(from, {3, 4, 16, 5}, 26);
      check("reformat nchw->nhwc c2 " + ts, nhwc, {&two}, {{to, {2, 8, 9, 2}}}, 0, false);
      check("reformat nchw->nhwc c4 " + ts, nhwc, {&four}, {{to, {3, 16, 5, 4}}}, 0, false);
      HostTensor wide = rand_tensor(from, {2, 40, 9, 7}, 22);
      check("reformat wide " + ts, nhwc, {&wide}, {{to, {2, 9, 7, 40}}}, 0, false);
      ReformatAttrs patches{.perm = {0, 2, 4, 1, 3, 5}};
      HostTensor cut = rand_tensor(from, {2, 3, 3, 16, 2, 16}, 23);
      check("reformat patches " + ts, patches, {&cut}, {{to, {2, 3, 2, 3, 16, 16}}}, 0, false);
      HostTensor odd = rand_tensor(from, {2, 3, 3, 5, 2, 5}, 24);
      check("reformat odd patches " + ts, patches, {&odd}, {{to, {2, 3, 2, 3, 5, 5}}}, 0, false);
    }
}

// ---------------------------------------------------------------- indexing

TEST(GpuIndexing, GatherIndexSelectIndexWhere) {
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kInt32}) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {4, 6, 5}, 1);
    HostTensor gi = rand_tensor(DType::kInt64, {4, 3, 5}, 2, -6, 5);
    GatherAttrs g;
    g.dim = 1;
    check("gather " + ts, g, {&x, &gi}, {{t, {4, 3, 5}}}, 0, false);
    for (DType it : {DType::kInt64, DType::kInt32}) {
      HostTensor si = rand_tensor(it, {2, 7}, 3, -6, 5);
      IndexSelectAttrs is;
      is.dim = 1;
      check("index_select " + ts + " " + dtype_name(it), is, {&x, &si}, {{t, {4, 2, 7, 5}}}, 0, false);
    }
    // Embedding-style lookup with wide rows (vectorized path).
    HostTensor table = rand_tensor(t, {50, 64}, 4);
    HostTensor ids = rand_tensor(DType::kInt64, {3, 11}, 5, 0, 49);
    IndexSelectAttrs emb;
    check("embedding " + ts, emb, {&table, &ids}, {{t, {3, 11, 64}}}, 0, false);

    HostTensor y = rand_tensor(t, {3, 4, 5, 6}, 6);
    HostTensor i0 = rand_tensor(DType::kInt64, {2, 1}, 7, -4, 3), i1 = rand_tensor(DType::kInt64, {3}, 8, 0, 4);
    IndexAttrs adj;
    adj.indexed_dims = {1, 2};
    check("index adjacent " + ts, adj, {&y, &i0, &i1}, {{t, {3, 2, 3, 6}}}, 0, false);
    IndexAttrs sep;
    sep.indexed_dims = {0, 2};
    HostTensor j0 = rand_tensor(DType::kInt64, {2, 3}, 9, -3, 2);
    check("index separated " + ts, sep, {&y, &j0, &i1}, {{t, {2, 3, 4, 6}}}, 0, false);
    IndexAttrs one;
    one.indexed_dims = {3};
    HostTensor k0 = rand_tensor(DType::kInt32, {4}, 10, -6, 5);
    check("index last " + ts, one, {&y, &k0}, {{t, {3, 4, 5, 4}}}, 0, false);

    HostTensor cond = rand_tensor(DType::kBool, {4, 1, 5}, 11);
    HostTensor a = rand_tensor(t, {6, 5}, 12), b = rand_tensor(t, {}, 13);
    WhereAttrs w;
    check("where " + ts, w, {&cond, &a, &b}, {{t, {4, 6, 5}}}, 0, false);
  }
}

// ---------------------------------------------------------------- reductions

TEST(GpuReduction, ReduceFloat) {
  struct Shape {
    std::vector<int64_t> in;
    std::vector<int64_t> dims;
  };
  const std::vector<Shape> shapes = {{{5, 37, 3}, {1}}, {{5, 37, 3}, {0, 2}}, {{5, 37, 3}, {2}},
                                     {{5, 37, 3}, {}},  {{3, 5000}, {1}},     {{300, 7}, {0}},
                                     {{2, 9000}, {0, 1}}};
  const int kNumReduce = static_cast<int>(ReduceFn::kStd) + 1;
  for (DType t : kFloatTypes)
    for (int f = 0; f < kNumReduce; ++f)
      for (const Shape& s : shapes)
        for (bool keep : {false, true}) {
          const auto fn = static_cast<ReduceFn>(f);
          HostTensor x = fn == ReduceFn::kProd ? rand_tensor(t, s.in, f, 0.9, 1.1) : rand_tensor(t, s.in, f, -2, 3);
          ReduceAttrs a;
          a.fn = f;
          a.dims = s.dims;
          a.keepdim = keep;
          std::vector<int64_t> out;
          for (size_t d = 0; d < s.in.size(); ++d) {
            bool red = s.dims.empty();
            for (int64_t r : s.dims) red |= r == static_cast<int64_t>(d);
            if (!red) out.push_back(s.in[d]);
            else if (keep) out.push_back(1);
          }
          const DType ot = (fn == ReduceFn::kAny || fn == ReduceFn::kAll) ? DType::kBool : t;
          check(std::string("reduce ") + reduce_fn_name(fn) + " " + dtype_name(t) + " " + shape_label(s.in) + " dims " +
                    shape_label(s.dims) + (keep ? " keep" : ""),
                a, {&x}, {{ot, out}}, 1e-4);
        }
}

TEST(GpuReduction, ReduceInteger) {
  for (DType t : kIntTypes)
    for (ReduceFn fn : {ReduceFn::kSum, ReduceFn::kProd, ReduceFn::kMax, ReduceFn::kMin, ReduceFn::kAny,
                        ReduceFn::kAll, ReduceFn::kMean})
      for (std::vector<int64_t> dims : {std::vector<int64_t>{1}, std::vector<int64_t>{0}}) {
        HostTensor x = rand_tensor(t, {6, 45}, 3, fn == ReduceFn::kProd ? -2 : 0, 4);
        ReduceAttrs a;
        a.fn = static_cast<int64_t>(fn);
        a.dims = dims;
        DType ot = t;
        if (fn == ReduceFn::kSum || fn == ReduceFn::kProd) ot = DType::kInt64;
        if (fn == ReduceFn::kAny || fn == ReduceFn::kAll) ot = DType::kBool;
        if (fn == ReduceFn::kMean) ot = DType::kFloat32;
        check(std::string("reduce ") + reduce_fn_name(fn) + " " + dtype_name(t), a, {&x},
              {{ot, {dims[0] == 1 ? 6 : 45}}}, 1e-5, false);
      }
}

TEST(GpuReduction, ArgCumulativeSoftmax) {
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt32}) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {5, 37, 3}, 1, -3, 3);
    HostTensor ties = rand_tensor(t, {4, 2000}, 2, -2, 2);  // integers: many ties
    for (int fn = 0; fn < 2; ++fn) {
      for (int dim = 0; dim < 3; ++dim) {
        ArgReduceAttrs a;
        a.fn = fn;
        a.dim = dim;
        std::vector<int64_t> out = x.shape;
        out.erase(out.begin() + dim);
        check("arg_reduce " + std::to_string(fn) + " dim " + std::to_string(dim) + " " + ts, a, {&x},
              {{DType::kInt64, out}}, 0, false);
      }
      ArgReduceAttrs a;
      a.fn = fn;
      a.dim = 1;
      a.keepdim = true;
      check("arg_reduce long " + ts, a, {&ties}, {{DType::kInt64, {4, 1}}}, 0, false);
    }
    for (int fn = 0; fn < 2; ++fn)
      for (int dim = 0; dim < 3; ++dim) {
        CumulativeAttrs c;
        c.fn = fn;
        c.dim = dim;
        HostTensor y = fn == 1 && is_float(t) ? rand_tensor(t, {5, 37, 3}, 3, 0.9, 1.1) : x;
        check("cumulative " + std::to_string(fn) + " dim " + std::to_string(dim) + " " + ts, c, {&y},
              {{t, y.shape}}, 1e-4, is_float(t));
      }
    if (!is_float(t)) continue;
    for (bool log : {false, true}) {
      for (int dim = 0; dim < 3; ++dim) {
        SoftmaxAttrs s;
        s.dim = dim;
        s.log = log;
        check("softmax dim " + std::to_string(dim) + (log ? " log " : " ") + ts, s, {&x}, {{t, x.shape}}, 1e-4);
      }
      HostTensor wide = rand_tensor(t, {3, 3000}, 4, -5, 5);
      SoftmaxAttrs s;
      s.dim = 1;
      s.log = log;
      check("softmax wide" + std::string(log ? " log " : " ") + ts, s, {&wide}, {{t, wide.shape}}, 1e-4);
    }
  }
}

// ---------------------------------------------------------------- normalization

TEST(GpuNormalization, AllOps) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {3, 7, 50}, 1, -2, 4);
    HostTensor w = rand_tensor(t, {7, 50}, 2), b = rand_tensor(t, {7, 50}, 3);
    HostTensor w1 = rand_tensor(t, {50}, 4), b1 = rand_tensor(t, {50}, 5);
    LayerNormAttrs ln;
    ln.normalized_ndim = 2;
    check("layer_norm 2d " + ts, ln, {&x, &w, &b}, {{t, x.shape}}, 1e-5);
    ln.normalized_ndim = 1;
    check("layer_norm 1d " + ts, ln, {&x, &w1, &b1}, {{t, x.shape}}, 1e-5);
    check("layer_norm no affine " + ts, ln, {&x, nullptr, nullptr}, {{t, x.shape}}, 1e-5);
    HostTensor wide = rand_tensor(t, {2, 3000}, 6, 5, 7), ww = rand_tensor(t, {3000}, 7);
    check("layer_norm wide " + ts, ln, {&wide, &ww, nullptr}, {{t, wide.shape}}, 1e-5);
    RmsNormAttrs rn;
    check("rms_norm " + ts, rn, {&x, &w1}, {{t, x.shape}}, 1e-5);
    check("rms_norm wide " + ts, rn, {&wide, nullptr}, {{t, wide.shape}}, 1e-5);
    HostTensor img = rand_tensor(t, {2, 6, 5, 7}, 8, -1, 3);
    HostTensor gw = rand_tensor(t, {6}, 9), gb = rand_tensor(t, {6}, 10);
    GroupNormAttrs gn;
    gn.groups = 3;
    check("group_norm " + ts, gn, {&img, &gw, &gb}, {{t, img.shape}}, 1e-5);
    check("group_norm no affine " + ts, gn, {&img, nullptr, nullptr}, {{t, img.shape}}, 1e-5);
    HostTensor mean = rand_tensor(t, {6}, 11), var = rand_tensor(t, {6}, 12, 0.5, 2);
    BatchNormAttrs bn;
    check("batch_norm " + ts, bn, {&img, &gw, &gb, &mean, &var}, {{t, img.shape}}, 1e-5);
  }
}

// ---------------------------------------------------------------- attention

TEST(GpuAttention, MasksCausalGqa) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    AttentionAttrs a;
    a.scale = 0.25;
    HostTensor q = rand_tensor(t, {2, 4, 37, 16}, 1), k = rand_tensor(t, {2, 2, 45, 16}, 2),
               v = rand_tensor(t, {2, 2, 45, 24}, 3);
    check("attention gqa ev!=e " + ts, a, {&q, &k, &v}, {{t, {2, 4, 37, 24}}}, 1e-4);
    HostTensor bm = rand_tensor(DType::kBool, {37, 45}, 4);
    for (int j = 0; j < 45; ++j) bm.set(5 * 45 + j, 0);  // a fully masked row gives zeros
    check("attention bool mask " + ts, a, {&q, &k, &v, &bm}, {{t, {2, 4, 37, 24}}}, 1e-4);
    HostTensor fm = rand_tensor(t, {2, 1, 37, 45}, 5, -3, 1);
    check("attention float mask " + ts, a, {&q, &k, &v, &fm}, {{t, {2, 4, 37, 24}}}, 1e-4);
    AttentionAttrs causal = a;
    causal.is_causal = true;
    check("attention causal L<S " + ts, causal, {&q, &k, &v}, {{t, {2, 4, 37, 24}}}, 1e-4);
    HostTensor q2 = rand_tensor(t, {1, 3, 50, 64}, 6), k2 = rand_tensor(t, {1, 3, 50, 64}, 7),
               v2 = rand_tensor(t, {1, 3, 50, 64}, 8);
    causal.scale = 0.125;
    check("attention causal square " + ts, causal, {&q2, &k2, &v2}, {{t, {1, 3, 50, 64}}}, 1e-4);
    HostTensor q4 = rand_tensor(t, {1, 2, 9, 13}, 12), k4 = rand_tensor(t, {1, 2, 20, 13}, 13),
               v4 = rand_tensor(t, {1, 2, 20, 7}, 14);
    check("attention odd head size " + ts, a, {&q4, &k4, &v4}, {{t, {1, 2, 9, 7}}}, 1e-4);
    HostTensor q3 = rand_tensor(t, {2, 5, 128}, 9), k3 = rand_tensor(t, {2, 3000, 128}, 10),
               v3 = rand_tensor(t, {2, 3000, 128}, 11);
    AttentionAttrs longa;
    longa.scale = 1.0 / std::sqrt(128.0);
    check("attention long keys " + ts, longa, {&q3, &k3, &v3}, {{t, {2, 5, 128}}}, 1e-4);
  }
}

// ---------------------------------------------------------------- pooling

int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = num / s + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

TEST(GpuPooling, PoolAdaptiveUpsample) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {2, 3, 11, 10}, 1);
    for (int kind = 0; kind < 2; ++kind)
      for (bool ceil_mode : {false, true})
        for (bool include_pad : {false, true}) {
          PoolAttrs p;
          p.kind = kind;
          p.kernel = {3, 3};
          p.stride = {2, 2};
          p.padding = {1, 1};
          p.dilation = {kind == 0 ? 2 : 1, 1};
          p.ceil_mode = ceil_mode;
          p.count_include_pad = include_pad;
          const int64_t oh = pool_out(11, 3, 2, 1, p.dilation[0], ceil_mode), ow = pool_out(10, 3, 2, 1, 1, ceil_mode);
          check("pool2d kind " + std::to_string(kind) + (ceil_mode ? " ceil" : "") + (include_pad ? " pad " : " ") + ts,
                p, {&x}, {{t, {2, 3, oh, ow}}}, 1e-5);
        }
    PoolAttrs avg;
    avg.kind = 1;
    avg.kernel = {2, 3};
    avg.divisor_override = 4;
    check("avgpool divisor_override " + ts, avg, {&x}, {{t, {2, 3, 5, 3}}}, 1e-5);
    HostTensor x1 = rand_tensor(t, {2, 3, 17}, 2);
    PoolAttrs mp1;
    mp1.kind = 0;
    mp1.kernel = {4};
    mp1.stride = {3};
    check("maxpool1d " + ts, mp1, {&x1}, {{t, {2, 3, 5}}}, 1e-5);
    for (int kind = 0; kind < 2; ++kind) {
      AdaptivePoolAttrs ap;
      ap.kind = kind;
      check("adaptive 2d " + std::to_string(kind) + " " + ts, ap, {&x}, {{t, {2, 3, 4, 5}}}, 1e-5);
      check("adaptive 1x1 " + std::to_string(kind) + " " + ts, ap, {&x}, {{t, {2, 3, 1, 1}}}, 1e-5);
      check("adaptive 1d " + std::to_string(kind) + " " + ts, ap, {&x1}, {{t, {2, 3, 6}}}, 1e-5);
    }
    HostTensor s = rand_tensor(t, {2, 3, 5, 6}, 3);
    struct U {
      int mode;
      bool align;
      std::vector<double> scales;
      std::vector<int64_t> out;
    };
    const std::vector<U> ups = {{0, false, {}, {2, 3, 10, 12}},     {0, false, {}, {2, 3, 7, 13}},
                                {3, false, {}, {2, 3, 7, 13}},      {1, false, {}, {2, 3, 9, 11}},
                                {1, true, {}, {2, 3, 9, 11}},       {2, false, {}, {2, 3, 8, 9}},
                                {2, true, {}, {2, 3, 8, 9}},        {1, false, {2.0, 1.5}, {2, 3, 10, 9}},
                                {0, false, {2.0, 2.0}, {2, 3, 10, 12}}, {1, false, {}, {2, 3, 3, 4}}};
    for (const U& u : ups) {
      UpsampleAttrs a;
      a.mode = u.mode;
      a.align_corners = u.align;
      a.scales = u.scales;
      check("upsample mode " + std::to_string(u.mode) + (u.align ? " align " : " ") + shape_label(u.out) + " " + ts,
            a, {&s}, {{t, u.out}}, 1e-5);
    }
    UpsampleAttrs lin1;
    lin1.mode = 1;
    check("upsample linear 1d " + ts, lin1, {&x1}, {{t, {2, 3, 40}}}, 1e-5);
  }
}

// ---------------------------------------------------------------- linear algebra, convolution

TEST(GpuLinearAlgebra, GemmMatmul) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    HostTensor a = rand_tensor(t, {5, 33}, 1), b = rand_tensor(t, {33, 17}, 2), bt = rand_tensor(t, {17, 33}, 3),
               bias = rand_tensor(t, {17}, 4);
    GemmAttrs g;
    check("gemm " + ts, g, {&a, &b, &bias}, {{t, {5, 17}}}, 1e-4);
    g.trans_b = true;
    check("gemm trans_b " + ts, g, {&a, &bt, nullptr}, {{t, {5, 17}}}, 1e-4);
    g.alpha = 0.5;
    check("gemm alpha " + ts, g, {&a, &bt, &bias}, {{t, {5, 17}}}, 1e-4);
    HostTensor a3 = rand_tensor(t, {2, 3, 7, 9}, 5), b3 = rand_tensor(t, {9, 5}, 6);
    MatMulAttrs m;
    check("matmul broadcast rhs " + ts, m, {&a3, &b3}, {{t, {2, 3, 7, 5}}}, 1e-4);
    HostTensor a4 = rand_tensor(t, {2, 1, 7, 9}, 7), b4 = rand_tensor(t, {3, 9, 5}, 8);
    check("matmul batch broadcast " + ts, m, {&a4, &b4}, {{t, {2, 3, 7, 5}}}, 1e-4);
  }
}

TEST(GpuConvolution, ForwardGroupedTransposed) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {2, 4, 9, 10}, 1), w = rand_tensor(t, {6, 4, 3, 3}, 2), b = rand_tensor(t, {6}, 3);
    ConvAttrs c;
    c.stride = {2, 2};
    c.padding = {1, 1};
    c.dilation = {1, 1};
    check("conv2d " + ts, c, {&x, &w, &b}, {{t, {2, 6, 5, 5}}}, 1e-4);
    HostTensor wg = rand_tensor(t, {6, 2, 3, 3}, 4);
    ConvAttrs cg;
    cg.groups = 2;
    cg.padding = {1, 1};
    check("conv2d grouped " + ts, cg, {&x, &wg, nullptr}, {{t, {2, 6, 9, 10}}}, 1e-4);
    HostTensor x1 = rand_tensor(t, {2, 4, 20}, 5), w1 = rand_tensor(t, {3, 4, 5}, 6);
    ConvAttrs c1;
    c1.padding = {2};
    check("conv1d " + ts, c1, {&x1, &w1, nullptr}, {{t, {2, 3, 20}}}, 1e-4);
    HostTensor wt = rand_tensor(t, {4, 3, 3, 3}, 7);
    ConvAttrs ct;
    ct.transposed = true;
    ct.stride = {2, 2};
    ct.padding = {1, 1};
    ct.output_padding = {1, 1};
    check("conv_transpose2d " + ts, ct, {&x, &wt, nullptr}, {{t, {2, 3, 18, 20}}}, 1e-4);
  }
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) { return ingot::run_gpu_tests(argc, argv); }

#else  // no CUDA in this build

int main() {
  std::printf("built without CUDA: skipping the GPU backend tests\n");
  return 77;
}

#endif
