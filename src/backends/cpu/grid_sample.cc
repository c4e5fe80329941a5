// CPU kernel for grid_sample (2-d): every output pixel samples x at the point its
// grid entry names, with PyTorch's rules (aten/src/ATen/native/GridSampler.h):
// coordinates in [-1, 1] unnormalized by align_corners, the padding mode applied
// to the source coordinate (border clamps, reflection folds) before bilinear or
// nearest sampling and to each integer tap for bicubic, zeros outside the input.
// Computed in double per output element; float16/bfloat16 tensors are staged
// through float32 like the other float kernels (nn_util.h run_in_float).
#include <cmath>
#include <string>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/nn_util.h"

namespace ingot::cpu {
namespace {

enum class Mode { kBilinear = 0, kNearest = 1, kBicubic = 2 };
enum class Padding { kZeros = 0, kBorder = 1, kReflection = 2 };

double unnormalize(double coord, int64_t size, bool align_corners) {
  return align_corners ? (coord + 1) / 2 * static_cast<double>(size - 1)
                       : ((coord + 1) * static_cast<double>(size) - 1) / 2;
}

// Folds `in` into [twice_low / 2, twice_high / 2] by reflection.
double reflect(double in, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return 0;
  const double low = static_cast<double>(twice_low) / 2;
  const double span = static_cast<double>(twice_high - twice_low) / 2;
  in = std::fabs(in - low);
  const double extra = std::fmod(in, span);
  const auto flips = static_cast<int64_t>(std::floor(in / span));
  return flips % 2 == 0 ? extra + low : span - extra + low;
}

double clip(double coord, int64_t size) { return std::fmin(static_cast<double>(size - 1), std::fmax(coord, 0.0)); }

// The padding mode applied to an (unnormalized) source coordinate.
double pad_coordinate(double coord, int64_t size, Padding padding, bool align_corners) {
  if (padding == Padding::kBorder) return clip(coord, size);
  if (padding == Padding::kReflection) {
    coord = align_corners ? reflect(coord, 0, 2 * (size - 1)) : reflect(coord, -1, 2 * size - 1);
    return clip(coord, size);
  }
  return coord;
}

double cubic1(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }          // |x| <= 1
double cubic2(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }   // 1 < |x| < 2

template <typename T>
Status grid_sample(const GridSampleAttrs& a, const TensorRef& x, const TensorRef& grid, TensorRef& y) {
  if (x.rank() != 4 || grid.rank() != 4 || grid.shape[3] != 2 || grid.shape[0] != x.shape[0])
    return invalid_argument("grid_sample: expects x [N, C, H, W] and grid [N, Ho, Wo, 2]");
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t Ho = grid.shape[1], Wo = grid.shape[2];
  if (y.shape != std::vector<int64_t>{N, C, Ho, Wo}) return invalid_argument("grid_sample: output shape differs");
  if (a.mode < 0 || a.mode > 2 || a.padding_mode < 0 || a.padding_mode > 2)
    return invalid_argument("grid_sample: unknown mode " + std::to_string(a.mode) + " or padding mode " +
                            std::to_string(a.padding_mode));
  const auto mode = static_cast<Mode>(a.mode);
  const auto padding = static_cast<Padding>(a.padding_mode);
  const bool ac = a.align_corners;
  const T* xs = x.as<T>();
  const T* gs = grid.as<T>();
  T* ys = y.as<T>();
#pragma omp parallel for schedule(static) if (y.numel() > 16384)
  for (int64_t np = 0; np < N * Ho * Wo; ++np) {
    const int64_t n = np / (Ho * Wo), p = np % (Ho * Wo);
    const double gx = static_cast<double>(gs[np * 2]), gy = static_cast<double>(gs[np * 2 + 1]);
    const T* plane0 = xs + n * C * H * W;
    // Value at integer (ix, iy) of channel plane, zero outside the input.
    auto at = [&](const T* plane, int64_t ix, int64_t iy) -> double {
      return ix >= 0 && ix < W && iy >= 0 && iy < H ? static_cast<double>(plane[iy * W + ix]) : 0.0;
    };
    auto out = [&](int64_t c) -> T& { return ys[((n * C + c) * Ho * Wo) + p]; };
    if (mode == Mode::kBicubic) {
      const double ix = unnormalize(gx, W, ac), iy = unnormalize(gy, H, ac);
      const double fx = std::floor(ix), fy = std::floor(iy), tx = ix - fx, ty = iy - fy;
      constexpr double kA = -0.75;
      const double cx[4] = {cubic2(tx + 1, kA), cubic1(tx, kA), cubic1(1 - tx, kA), cubic2(2 - tx, kA)};
      const double cy[4] = {cubic2(ty + 1, kA), cubic1(ty, kA), cubic1(1 - ty, kA), cubic2(2 - ty, kA)};
      // Each tap's integer coordinate goes through the padding mode, then the bounds check.
      auto tap = [&](double coord, int64_t size) {
        return static_cast<int64_t>(pad_coordinate(coord, size, padding, ac));
      };
      for (int64_t c = 0; c < C; ++c) {
        const T* plane = plane0 + c * H * W;
        double v = 0;
        for (int j = 0; j < 4; ++j) {
          double row = 0;
          for (int i = 0; i < 4; ++i) row += cx[i] * at(plane, tap(fx - 1 + i, W), tap(fy - 1 + j, H));
          v += cy[j] * row;
        }
        out(c) = static_cast<T>(v);
      }
      continue;
    }
    const double ix = pad_coordinate(unnormalize(gx, W, ac), W, padding, ac);
    const double iy = pad_coordinate(unnormalize(gy, H, ac), H, padding, ac);
    if (mode == Mode::kNearest) {
      // nearbyint: halves round to even, as PyTorch's kernels do.
      const auto nx = static_cast<int64_t>(std::nearbyint(ix)), ny = static_cast<int64_t>(std::nearbyint(iy));
      for (int64_t c = 0; c < C; ++c) out(c) = static_cast<T>(at(plane0 + c * H * W, nx, ny));
      continue;
    }
    const double fx = std::floor(ix), fy = std::floor(iy);
    const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
    const double wx1 = ix - fx, wy1 = iy - fy, wx0 = 1 - wx1, wy0 = 1 - wy1;
    for (int64_t c = 0; c < C; ++c) {
      const T* plane = plane0 + c * H * W;
      out(c) = static_cast<T>(at(plane, x0, y0) * wx0 * wy0 + at(plane, x0 + 1, y0) * wx1 * wy0 +
                              at(plane, x0, y0 + 1) * wx0 * wy1 + at(plane, x0 + 1, y0 + 1) * wx1 * wy1);
    }
  }
  return Status::ok_status();
}

}  // namespace

Status grid_sampling(const OpAttrs& attrs, const KernelArgs& args) {
  const auto* a = std::get_if<GridSampleAttrs>(&attrs);
  if (!a) return internal_error("grid_sampling: not a grid_sample op");
  if (args.in.size() != 2 || !args.in[0] || !args.in[1] || args.out.size() != 1)
    return internal_error("grid_sample: expects inputs (x, grid) and one output");
  return nn::run_in_float(args, [&](const KernelArgs& s) -> Status {
    if (s.in[0]->dtype != s.in[1]->dtype || s.out[0]->dtype != s.in[0]->dtype)
      return unsupported("grid_sample: x, grid and the output must share one float dtype");
    switch (s.in[0]->dtype) {
      case DType::kFloat32: return grid_sample<float>(*a, *s.in[0], *s.in[1], *s.out[0]);
      case DType::kFloat64: return grid_sample<double>(*a, *s.in[0], *s.in[1], *s.out[0]);
      default: return unsupported(std::string("grid_sample on ") + dtype_name(s.in[0]->dtype));
    }
  });
}

}  // namespace ingot::cpu
