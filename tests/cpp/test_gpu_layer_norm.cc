// The CUDA layer_norm and rms_norm kernels against the CPU backend (the double-
// precision reference, itself tested against PyTorch). The shapes cover both CUDA
// paths: the register-cached vector kernel (rows of up to 8192 elements whose length
// is a multiple of 16 bytes: one warp, 2/4/8 warps per row, padded lanes, several
// rows per block with a partial last block) and the generic fallback (odd lengths,
// rows longer than 8192, pointers that are not 16-byte aligned). Inputs with a large
// mean (1000 or 10000 plus noise of size 1) check that the fp32 statistics stay
// accurate. Layer norm's pre-adds (residual and input bias) run on both paths. GPU
// outputs are poisoned before each of two runs (gpu_test_util.h check()). Exits with
// 77 (skip) where there is no GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"

#if defined(INGOT_WITH_CUDA)
#include "gpu_test_util.h"

namespace ingot {
namespace {

struct Case {
  std::vector<int64_t> shape;
  int64_t normalized_ndim = 1;
};

std::vector<int64_t> param_shape(const Case& c) {
  return std::vector<int64_t>(c.shape.end() - c.normalized_ndim, c.shape.end());
}

std::string case_label(const char* op, DType t, const Case& c) {
  return std::string(op) + " " + dtype_name(t) + " " + shape_label(c.shape) + " ndim " +
         std::to_string(c.normalized_ndim);
}

// Every weight/bias combination of layer_norm and rms_norm on inputs drawn from [lo, hi].
void check_all_affine(const std::vector<Case>& cases, double lo, double hi, uint32_t seed) {
  for (DType t : kFloatTypes)
    for (const Case& c : cases) {
      HostTensor x = rand_tensor(t, c.shape, seed, lo, hi);
      HostTensor w = rand_tensor(t, param_shape(c), seed + 1, 0.5, 1.5);
      HostTensor b = rand_tensor(t, param_shape(c), seed + 2, -1, 1);
      LayerNormAttrs ln;
      ln.normalized_ndim = c.normalized_ndim;
      const std::string l = case_label("layer_norm", t, c);
      check(l + " weight+bias", ln, {&x, &w, &b}, {{t, c.shape}});
      check(l + " weight only", ln, {&x, &w, nullptr}, {{t, c.shape}});
      check(l + " bias only", ln, {&x, nullptr, &b}, {{t, c.shape}});
      check(l + " no affine", ln, {&x, nullptr, nullptr}, {{t, c.shape}});
      RmsNormAttrs rn;
      rn.normalized_ndim = c.normalized_ndim;
      const std::string r = case_label("rms_norm", t, c);
      check(r + " weight", rn, {&x, &w}, {{t, c.shape}});
      check(r + " no weight", rn, {&x, nullptr}, {{t, c.shape}});
    }
}

// Transformer shapes (BERT-base, ViT-B/16 at batch 1 and 32) and rows of every width class.
TEST(GpuLayerNorm, VectorPathShapes) {
  check_all_affine({{{4096, 768}},
                    {{128, 768}},
                    {{197, 768}},
                    {{3, 5, 768}},
                    {{3, 5, 768}, 2},  // 3840 per row: 4 warps with idle lanes
                    {{7, 1000}},       // 125 vectors of 8 halves per row: idle lanes in the last slot
                    {{2, 4096}},
                    {{4, 2056}},       // one vector more than 2 warps hold
                    {{5, 8192}},       // the longest row the vector path takes
                    {{3001, 64}},      // several rows per block, partial last block
                    {{64, 100}},       // float32 vector path, 16-bit fallback
                    {{2, 3, 4}, 2}},
                   -2, 4, 10);
}

// Lengths that are not a multiple of 8 (16-bit) or 4 (float32; 4 and 12 still take the
// float32 vector path), rows longer than 8192, one-element rows (normalized_ndim 0).
TEST(GpuLayerNorm, FallbackShapes) {
  check_all_affine({{{7, 1001}}, {{3, 770}}, {{3, 10000}}, {{2, 3, 4}, 1}, {{5, 1}}, {{2, 12}}, {{2, 6}, 0}}, -2,
                   4, 20);
}

TEST(GpuLayerNorm, ViTBatch32) { check_all_affine({{{6304, 768}}}, -3, 3, 30); }

// |mean| >> std: a single-pass or uncorrected fp32 mean would be off by ~1e-4 of std here.
TEST(GpuLayerNorm, LargeMeanStaysAccurate) {
  const std::vector<Case> cases = {{{4096, 768}}, {{197, 768}}, {{2, 4096}}, {{5, 8192}}, {{7, 1001}}, {{3, 10000}},
                                   {{64, 100}}};
  check_all_affine(cases, 999, 1001, 40);
  for (const Case& c : cases) {  // float32 only: 16-bit floats cannot hold noise of size 1 at 10000
    HostTensor x = rand_tensor(DType::kFloat32, c.shape, 50, 9999, 10001);
    HostTensor w = rand_tensor(DType::kFloat32, param_shape(c), 51, 0.5, 1.5);
    HostTensor b = rand_tensor(DType::kFloat32, param_shape(c), 52, -1, 1);
    LayerNormAttrs ln;
    check(case_label("layer_norm mean 1e4", DType::kFloat32, c), ln, {&x, &w, &b}, {{DType::kFloat32, c.shape}});
  }
}

TEST(GpuLayerNorm, EpsAndConstantRows) {
  for (DType t : kFloatTypes) {
    HostTensor x = values(t, {6, 768}, {3.0});  // zero variance: the output is bias (eps keeps it finite)
    HostTensor b = rand_tensor(t, {768}, 60);
    LayerNormAttrs ln;
    ln.eps = 1e-3;
    check(std::string("layer_norm constant rows ") + dtype_name(t), ln, {&x, nullptr, &b}, {{t, x.shape}});
    RmsNormAttrs rn;
    rn.eps = 0.5;
    HostTensor y = rand_tensor(t, {6, 768}, 61, -0.1, 0.1);
    check(std::string("rms_norm large eps ") + dtype_name(t), rn, {&y, nullptr}, {{t, y.shape}});
  }
}

// Layer norm's pre-adds (fold_gemm_bias_into_norm): x + residual + input bias, with
// and without each, on both kernels; a large common offset in the sum checks that
// the adds come before the statistics.
TEST(GpuLayerNorm, ResidualAndInputBias) {
  const std::vector<Case> cases = {{{4096, 768}}, {{128, 768}}, {{3001, 64}}, {{7, 1000}}, {{5, 8192}},
                                   {{7, 1001}},   {{3, 10000}}, {{3, 5, 768}, 2}};
  for (DType t : kFloatTypes)
    for (const Case& c : cases) {
      HostTensor x = rand_tensor(t, c.shape, 80, -2, 2), r = rand_tensor(t, c.shape, 81, 90, 110);
      HostTensor w = rand_tensor(t, param_shape(c), 82, 0.5, 1.5), b = rand_tensor(t, param_shape(c), 83, -1, 1);
      HostTensor pb = rand_tensor(t, param_shape(c), 84, -3, 3);
      LayerNormAttrs ln;
      ln.normalized_ndim = c.normalized_ndim;
      const std::string l = case_label("layer_norm", t, c);
      check(l + " residual+input bias", ln, {&x, &w, &b, &r, &pb}, {{t, c.shape}});
      check(l + " residual", ln, {&x, &w, &b, &r, nullptr}, {{t, c.shape}});
      check(l + " input bias", ln, {&x, &w, &b, nullptr, &pb}, {{t, c.shape}});
      check(l + " pre-adds, no affine", ln, {&x, nullptr, nullptr, &r, &pb}, {{t, c.shape}});
    }
}

// ---------------------------------------------------------------- misaligned pointers

// One tensor placed `offset_elems` elements into its own device buffer (so its pointer
// is not 16-byte aligned for offsets that are not a multiple of 16 bytes).
struct OffsetBuf {
  std::unique_ptr<DeviceBuf> buf;
  cuda::DeviceTensor tensor;
  OffsetBuf(const HostTensor& h, int64_t offset_elems) {
    const size_t elem = dtype_size(h.dtype), offset = static_cast<size_t>(offset_elems) * elem;
    buf = std::make_unique<DeviceBuf>(h.bytes.size() + offset);
    void* p = static_cast<unsigned char*>(buf->p) + offset;
    EXPECT_EQ(cudaMemcpy(p, h.bytes.data(), h.bytes.size(), cudaMemcpyHostToDevice), cudaSuccess);
    tensor = {p, h.dtype, h.shape};
  }
};

// check() with every tensor (inputs and output) moved by its own element offset.
void check_offsets(const std::string& label, const OpAttrs& attrs, const std::vector<const HostTensor*>& in,
                   const std::vector<int64_t>& in_offsets, int64_t out_offset) {
  SCOPED_TRACE(label);
  const HostTensor& x = *in[0];
  // CPU reference in float32 on the same (exactly widened) values.
  std::vector<HostTensor> cpu_in(in.size());
  std::vector<cpu::TensorRef> in_refs(in.size());
  cpu::KernelArgs cargs;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i]) {
      cargs.in.push_back(nullptr);
      continue;
    }
    cpu_in[i] = in[i]->as(DType::kFloat32);
    in_refs[i] = {cpu_in[i].bytes.data(), cpu_in[i].dtype, cpu_in[i].shape};
    cargs.in.push_back(&in_refs[i]);
  }
  HostTensor ref(DType::kFloat32, x.shape);
  cpu::TensorRef ref_ref{ref.bytes.data(), ref.dtype, ref.shape};
  cargs.out.push_back(&ref_ref);
  Status cst = cpu::run_kernel(attrs, cargs);
  ASSERT_TRUE(cst.ok()) << "cpu: " << cst.to_string();

  std::vector<std::unique_ptr<OffsetBuf>> bufs;
  cuda::KernelArgs gargs;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i]) {
      gargs.in.push_back(nullptr);
      continue;
    }
    bufs.push_back(std::make_unique<OffsetBuf>(*in[i], in_offsets[i]));
    gargs.in.push_back(&bufs.back()->tensor);
  }
  HostTensor got(x.dtype, x.shape);  // all bits set: NaN until written
  bufs.push_back(std::make_unique<OffsetBuf>(got, out_offset));
  gargs.out.push_back(&bufs.back()->tensor);
  std::unique_ptr<cuda::StepState> state;
  bind_test_env(gargs, &state);
  Status gst = cuda::run_kernel(attrs, gargs);
  ASSERT_TRUE(gst.ok()) << "cuda: " << gst.to_string();
  ASSERT_EQ(cudaStreamSynchronize(g_env->stream), cudaSuccess) << cudaGetErrorString(cudaGetLastError());
  ASSERT_EQ(cudaMemcpy(got.bytes.data(), bufs.back()->tensor.data, got.bytes.size(), cudaMemcpyDeviceToHost),
            cudaSuccess);
  compare(label, ref, got, tolerance_for(x.dtype, 1e-5));
}

// Rows whose length suits the vector kernel, but one pointer is off 16-byte alignment.
TEST(GpuLayerNorm, MisalignedPointersFallBack) {
  for (DType t : kFloatTypes) {
    const std::vector<int64_t> shape = {33, 768};
    HostTensor x = rand_tensor(t, shape, 70, -2, 4), w = rand_tensor(t, {768}, 71, 0.5, 1.5),
               b = rand_tensor(t, {768}, 72);
    LayerNormAttrs ln;
    RmsNormAttrs rn;
    const std::string ts = dtype_name(t);
    check_offsets("layer_norm x+1 y+1 " + ts, ln, {&x, &w, &b}, {1, 0, 0}, 1);
    check_offsets("layer_norm x+1 " + ts, ln, {&x, &w, &b}, {1, 0, 0}, 0);
    check_offsets("layer_norm y+1 " + ts, ln, {&x, &w, &b}, {0, 0, 0}, 1);
    check_offsets("layer_norm weight+1 " + ts, ln, {&x, &w, &b}, {0, 1, 0}, 0);
    check_offsets("layer_norm bias+1 " + ts, ln, {&x, &w, &b}, {0, 0, 1}, 0);
    check_offsets("layer_norm no affine x+2 " + ts, ln, {&x, nullptr, nullptr}, {2, 0, 0}, 2);
    HostTensor r = rand_tensor(t, shape, 73, -2, 2), pb = rand_tensor(t, {768}, 74);
    check_offsets("layer_norm residual+1 " + ts, ln, {&x, &w, &b, &r, &pb}, {0, 0, 0, 1, 0}, 0);
    check_offsets("layer_norm input bias+1 " + ts, ln, {&x, &w, &b, &r, &pb}, {0, 0, 0, 0, 1}, 0);
    check_offsets("rms_norm x+1 " + ts, rn, {&x, &w}, {1, 0}, 1);
    check_offsets("rms_norm weight+1 " + ts, rn, {&x, &w}, {0, 1}, 0);
    // 16 bytes off is aligned again: the vector kernel at a nonzero offset.
    const int64_t aligned = 16 / static_cast<int64_t>(dtype_size(t));
    check_offsets("layer_norm all +16 bytes " + ts, ln, {&x, &w, &b}, {aligned, aligned, aligned}, aligned);
  }
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) { return ingot::run_gpu_tests(argc, argv); }
#else
int main() {
  std::printf("built without CUDA: skipping the GPU backend tests\n");
  return 77;
}
#endif
