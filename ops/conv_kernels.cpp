// The conv2d family's kernels: float32 through oneDNN's convolution primitives when the build has
// oneDNN (conv_dnnl.hpp); otherwise, and for float64, im2col into BLAS gemm. A chunk of whole
// images is unrolled into a (rows, KH*KW*C_in) matrix of input windows (rows = images * OH * OW),
// whose product with the HWIO kernel read as a (KH*KW*C_in, C_out) matrix is the NHWC output; the
// two backprop kernels are the transposed products, with col2im adding the window gradients back
// into the input. A 1x1 kernel at stride 1 needs no unrolling: the input already is that matrix.
#include "conv_kernels.hpp"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "conv_dnnl.hpp"
#include "dagrad/graph/graph.hpp"
#include "graph/blas_threads.hpp"

namespace dagrad::kernels {

namespace {

using detail::ConvGeometry;
using std::int64_t;

int blas_int(int64_t v) {
  if (v > INT_MAX)
    throw std::out_of_range("convolution matrix dimension " + std::to_string(v) +
                            " exceeds the BLAS integer range");
  return static_cast<int>(v);
}

// C (m x n, ldc) = beta C + op(A) op(B), all row-major.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              blas_int(m), blas_int(n), blas_int(k), 1.0f, a, blas_int(lda), b, blas_int(ldb), beta,
              c, blas_int(ldc));
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              blas_int(m), blas_int(n), blas_int(k), 1.0, a, blas_int(lda), b, blas_int(ldb), beta,
              c, blas_int(ldc));
}

// The unrolled windows of a chunk are kept under this many bytes (at least one image), so a
// large batch does not need a matrix KH*KW times the size of its input.
constexpr int64_t kColsBytes = 16 << 20;

// The scratch matrix of one thread, grown to the largest chunk it has seen and then reused, so
// the steady state of a training loop allocates nothing.
template <class T>
T* scratch(int64_t elements) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < elements)
    buffer.resize(static_cast<std::size_t>(elements));
  return buffer.data();
}

// Is the input the window matrix as it stands (1x1 kernel, stride 1, so no padding either)?
bool no_unrolling(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1;
}

int64_t window_size(const ConvGeometry& g) {
  return g.kh * g.kw * g.cin;
}

// Images per chunk.
template <class T>
int64_t chunk_images(const ConvGeometry& g) {
  int64_t per_image = g.oh * g.ow * window_size(g) * static_cast<int64_t>(sizeof(T));
  return std::max<int64_t>(1, kColsBytes / std::max<int64_t>(per_image, 1));
}

// Rows (image, oy, ox) of images [n0, n0 + count) of x, unrolled into cols (row-major, one
// window of (ky, kx, c) per row, zeros where the window is in the padding).
template <class T>
void im2col(const T* x, const ConvGeometry& g, int64_t n0, int64_t count, T* cols) {
  const int64_t k = window_size(g), run = g.cin * static_cast<int64_t>(sizeof(T));
  for (int64_t n = n0; n < n0 + count; ++n)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T* row = cols + (((n - n0) * g.oh + oy) * g.ow + ox) * k;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          T* dst = row + ky * g.kw * g.cin;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + g.kw * g.cin, T(0));
            continue;
          }
          for (int64_t kx = 0; kx < g.kw; ++kx, dst += g.cin) {
            int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
            if (ix < 0 || ix >= g.w)
              std::fill(dst, dst + g.cin, T(0));
            else
              std::memcpy(dst, x + ((n * g.h + iy) * g.w + ix) * g.cin,
                          static_cast<std::size_t>(run));
          }
        }
      }
}

// The adjoint of im2col: each window's values added back to the input positions it was read
// from (padding positions dropped). dx must hold the chunk's images zeroed or accumulated.
template <class T>
void col2im(const T* cols, const ConvGeometry& g, int64_t n0, int64_t count, T* dx) {
  const int64_t k = window_size(g);
  for (int64_t n = n0; n < n0 + count; ++n)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T* row = cols + (((n - n0) * g.oh + oy) * g.ow + ox) * k;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          const T* src = row + ky * g.kw * g.cin;
          for (int64_t kx = 0; kx < g.kw; ++kx, src += g.cin) {
            int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            T* dst = dx + ((n * g.h + iy) * g.w + ix) * g.cin;
            for (int64_t c = 0; c < g.cin; ++c) dst[c] += src[c];
          }
        }
      }
}

double multiply_adds(const ConvGeometry& g) {
  return static_cast<double>(g.n) * static_cast<double>(g.oh * g.ow) *
         static_cast<double>(window_size(g)) * static_cast<double>(g.cout);
}

// y (N*OH*OW, C_out) = windows(x) (N*OH*OW, K) kernel (K, C_out).
template <class T>
void conv2d_kernel(KernelContext& c) {
  const Tensor& x = c.input(0);
  const Tensor& kernel = c.input(1);
  Tensor& y = c.output(0);
  ConvGeometry g =
      detail::conv_geometry(x.shape(), kernel.shape(), detail::read_conv_attrs(c.attrs()));
  T* out = y.data<T>();
  const int64_t k = window_size(g), pixels = g.oh * g.ow;
  if (y.size() == 0) return;
  if (k == 0) {  // an empty sum
    std::fill(out, out + y.size(), T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (dnnl_conv2d(ConvPass::Forward, g, x.data<T>(), kernel.data<T>(), out,
                    blas_threads_for(multiply_adds(g))))
      return;
  detail::use_blas_threads_for(multiply_adds(g));
  if (no_unrolling(g)) {
    gemm(false, false, g.n * pixels, g.cout, k, x.data<T>(), k, kernel.data<T>(), g.cout, T(0), out,
         g.cout);
    return;
  }
  const int64_t chunk = chunk_images<T>(g);
  T* cols = scratch<T>(std::min(chunk, g.n) * pixels * k);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    int64_t count = std::min(chunk, g.n - n0);
    im2col(x.data<T>(), g, n0, count, cols);
    gemm(false, false, count * pixels, g.cout, k, cols, k, kernel.data<T>(), g.cout, T(0),
         out + n0 * pixels * g.cout, g.cout);
  }
}

// windows(dx) (N*OH*OW, K) = dy (N*OH*OW, C_out) kernel^T (C_out, K), then col2im.
template <class T>
void conv2d_backprop_input_kernel(KernelContext& c) {
  const Tensor& dy = c.input(0);
  const Tensor& kernel = c.input(1);
  Tensor& dx = c.output(0);
  ConvGeometry g =
      detail::conv_geometry(dx.shape(), kernel.shape(), detail::read_conv_attrs(c.attrs()));
  T* out = dx.data<T>();
  const int64_t k = window_size(g), pixels = g.oh * g.ow;
  if (dx.size() == 0) return;
  if (pixels == 0 || g.cout == 0 || k == 0) {  // no window, an empty sum, or an empty kernel
    std::fill(out, out + dx.size(), T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (dnnl_conv2d(ConvPass::BackwardData, g, dy.data<T>(), kernel.data<T>(), out,
                    blas_threads_for(multiply_adds(g))))
      return;
  detail::use_blas_threads_for(multiply_adds(g));
  if (no_unrolling(g)) {
    gemm(false, true, g.n * pixels, k, g.cout, dy.data<T>(), g.cout, kernel.data<T>(), g.cout, T(0),
         out, k);
    return;
  }
  std::fill(out, out + dx.size(), T(0));
  const int64_t chunk = chunk_images<T>(g);
  T* cols = scratch<T>(std::min(chunk, g.n) * pixels * k);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    int64_t count = std::min(chunk, g.n - n0);
    gemm(false, true, count * pixels, k, g.cout, dy.data<T>() + n0 * pixels * g.cout, g.cout,
         kernel.data<T>(), g.cout, T(0), cols, k);
    col2im(cols, g, n0, count, out);
  }
}

// dkernel (K, C_out) = sum over chunks of windows(x)^T (K, rows) dy (rows, C_out).
template <class T>
void conv2d_backprop_filter_kernel(KernelContext& c) {
  const Tensor& x = c.input(0);
  const Tensor& dy = c.input(1);
  Tensor& dk = c.output(0);
  ConvGeometry g = detail::conv_geometry(x.shape(), dk.shape(), detail::read_conv_attrs(c.attrs()));
  T* out = dk.data<T>();
  const int64_t k = window_size(g), pixels = g.oh * g.ow;
  if (dk.size() == 0) return;
  if (g.n * pixels == 0) {  // an empty sum over the windows
    std::fill(out, out + dk.size(), T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (dnnl_conv2d(ConvPass::BackwardWeights, g, x.data<T>(), dy.data<T>(), out,
                    blas_threads_for(multiply_adds(g))))
      return;
  detail::use_blas_threads_for(multiply_adds(g));
  if (no_unrolling(g)) {
    gemm(true, false, k, g.cout, g.n * pixels, x.data<T>(), k, dy.data<T>(), g.cout, T(0), out,
         g.cout);
    return;
  }
  const int64_t chunk = chunk_images<T>(g);
  T* cols = scratch<T>(std::min(chunk, g.n) * pixels * k);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    int64_t count = std::min(chunk, g.n - n0);
    im2col(x.data<T>(), g, n0, count, cols);
    gemm(true, false, k, g.cout, count * pixels, cols, k, dy.data<T>() + n0 * pixels * g.cout,
         g.cout, n0 == 0 ? T(0) : T(1), out, g.cout);
  }
}

void set(OpRecord& r, KernelFn f32, KernelFn f64) {
  r.kernels[static_cast<std::size_t>(DType::float32)] = f32;
  r.kernels[static_cast<std::size_t>(DType::float64)] = f64;
}

}  // namespace

void set_conv2d_kernels(OpRecord& record) {
  set(record, &conv2d_kernel<float>, &conv2d_kernel<double>);
}
void set_conv2d_backprop_input_kernels(OpRecord& record) {
  set(record, &conv2d_backprop_input_kernel<float>, &conv2d_backprop_input_kernel<double>);
}
void set_conv2d_backprop_filter_kernels(OpRecord& record) {
  set(record, &conv2d_backprop_filter_kernel<float>, &conv2d_backprop_filter_kernel<double>);
}

}  // namespace dagrad::kernels
