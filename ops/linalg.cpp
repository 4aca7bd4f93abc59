// Matrix products. The kernel hands the tensors' buffers straight to BLAS gemm: transposes are
// gemm flags and leading dimensions, never copies, and C is the preallocated output.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "gemm_dnnl.hpp"
#include "graph/blas_threads.hpp"
#include "kernel_util.hpp"
#include "linalg_kernels.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

// "(2, 3)" or "(2, 3) transposed", for error messages.
std::string describe(const Shape& s, bool transposed) {
  return s.to_string() + (transposed ? " transposed" : "");
}

}  // namespace

namespace detail {

// Output shape of a matmul: batch dims + (m, n). Unknown dims propagate; a known dim wins over
// an unknown one in the batch.
Shape matmul_shape(const Shape& a, const Shape& b, bool ta, bool tb) {
  if (a.rank() < 2 || b.rank() < 2)
    throw ShapeError("matmul needs inputs of rank 2 or more, got a " + a.to_string() + " and b " +
                     b.to_string());
  int ra = a.rank(), rb = b.rank();
  std::int64_t m = ta ? a[ra - 1] : a[ra - 2];
  std::int64_t ka = ta ? a[ra - 2] : a[ra - 1];
  std::int64_t kb = tb ? b[rb - 1] : b[rb - 2];
  std::int64_t n = tb ? b[rb - 2] : b[rb - 1];
  if (ka != Shape::kUnknown && kb != Shape::kUnknown && ka != kb)
    throw ShapeError("inner dimensions differ: a " + describe(a, ta) + " has " +
                     std::to_string(ka) + " columns, b " + describe(b, tb) + " has " +
                     std::to_string(kb) + " rows");
  std::vector<std::int64_t> out;
  if (ra == 2) {
    out.assign(b.dims().begin(), b.dims().end() - 2);
  } else if (rb == 2) {
    out.assign(a.dims().begin(), a.dims().end() - 2);
  } else if (ra == rb) {
    for (int i = 0; i < ra - 2; ++i) {
      if (a[i] != Shape::kUnknown && b[i] != Shape::kUnknown && a[i] != b[i])
        throw ShapeError("batch dimensions differ: a " + a.to_string() + " and b " + b.to_string() +
                         " (batch dims must be equal, or one input must be a single matrix)");
      out.push_back(a[i] != Shape::kUnknown ? a[i] : b[i]);
    }
  } else {
    throw ShapeError("batch ranks differ: a " + a.to_string() + " and b " + b.to_string() +
                     " (batch dims must be equal, or one input must be a single matrix)");
  }
  out.push_back(m);
  out.push_back(n);
  return Shape(std::move(out));
}

}  // namespace detail

namespace {

int blas_int(std::size_t v) {
  if (v > static_cast<std::size_t>(INT_MAX))
    throw std::out_of_range("matrix dimension " + std::to_string(v) +
                            " exceeds the BLAS integer range");
  return static_cast<int>(v);
}

// A single row times a matrix goes to gemv when the matrix is large enough: timed alone
// (OpenBLAS 0.3.21, one thread), x (1 x k) B (k x n) took 11.7 us as sgemv against 12.5 us as
// sgemm for 784 x 300, 1.4 against 1.7 us for 300 x 100, but 0.20 against 0.13 us for 100 x 10.
constexpr std::size_t kGemvMinMatrix = 16384;

// C (m x n, row-major, ldc) = op(A) op(B), where A and B are stored row-major with leading
// dimensions lda and ldb.
void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
          float* c, int ldc) {
  if (m == 1 && static_cast<std::size_t>(n) * static_cast<std::size_t>(k) >= kGemvMinMatrix) {
    // The row of op(A) is A's first row, or its first column (stride lda) when transposed;
    // C's row is op(B)^T times it.
    int inc_a = ta ? lda : 1;
    if (tb)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, b, ldb, a, inc_a, 0.0f, c, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, b, ldb, a, inc_a, 0.0f, c, 1);
    return;
  }
  // Two rows or more, on one thread: oneDNN when the build has it (gemm_dnnl.hpp). Timed
  // inside training steps (profile_step, farm-bench pairs), it made the bn model's step at batch
  // 32 about 14% faster; the two-thread products of batch 256 were no faster through it there
  // (1.06x slower for the step, though 1.6x faster timed alone), so they stay with OpenBLAS.
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (m >= 2 && work < kSmallGemmWork &&
      kernels::dnnl_sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, 1))
    return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb,
          double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

}  // namespace

template <class T>
void kernels::matmul_2d(const Tensor& a, const Tensor& b, bool ta, bool tb, T* out) {
  auto m = static_cast<std::size_t>(ta ? a.shape()[1] : a.shape()[0]);
  auto k = static_cast<std::size_t>(ta ? a.shape()[0] : a.shape()[1]);
  auto n = static_cast<std::size_t>(tb ? b.shape()[0] : b.shape()[1]);
  if (m * n == 0) return;
  if (k == 0) {  // an empty sum; BLAS rejects the zero leading dimensions this implies
    std::fill(out, out + m * n, T(0));
    return;
  }
  detail::use_blas_threads_for(static_cast<double>(m) * static_cast<double>(n) *
                               static_cast<double>(k));
  gemm(ta, tb, blas_int(m), blas_int(n), blas_int(k), a.data<T>(), blas_int(ta ? m : k),
       b.data<T>(), blas_int(tb ? k : n), out, blas_int(n));
}
template void kernels::matmul_2d<float>(const Tensor&, const Tensor&, bool, bool, float*);
template void kernels::matmul_2d<double>(const Tensor&, const Tensor&, bool, bool, double*);

namespace {

// What one matmul does at given shapes: worked out by the prepare step once per binding, or by
// the plain kernel on each run.
struct MatmulWork {
  bool ta = false, tb = false;
  bool two_d = false;     // both operands matrices: kernels::matmul_2d
  bool one_call = false;  // a batch of untransposed matrices times one matrix: one product
  std::size_t m = 0, n = 0, k = 0, batch = 0, a_step = 0, b_step = 0, size = 0;
  int lda = 0, ldb = 0, ldc = 0;
  double per_call = 0;  // multiply-adds of one BLAS call, for its thread count
};

MatmulWork matmul_work(const KernelContext& c) {
  const Tensor& a = c.input(0);
  const Tensor& b = c.input(1);
  const Tensor& y = c.output(0);
  MatmulWork w;
  w.ta = c.attrs().get_bool("transpose_a");
  w.tb = c.attrs().get_bool("transpose_b");
  int ra = a.shape().rank(), rb = b.shape().rank(), ry = y.shape().rank();
  w.two_d = ra == 2 && rb == 2;
  w.m = static_cast<std::size_t>(y.shape()[ry - 2]);
  w.n = static_cast<std::size_t>(y.shape()[ry - 1]);
  w.k = static_cast<std::size_t>(w.ta ? a.shape()[ra - 2] : a.shape()[ra - 1]);
  w.size = static_cast<std::size_t>(y.size());
  if (w.two_d || w.size == 0 || w.k == 0) return w;
  w.batch = w.size / (w.m * w.n);
  w.lda = blas_int(w.ta ? w.m : w.k);
  w.ldb = blas_int(w.tb ? w.k : w.n);
  w.ldc = blas_int(w.n);
  w.one_call = rb == 2 && !w.ta;
  w.per_call = static_cast<double>(w.one_call ? w.batch * w.m : w.m) * static_cast<double>(w.n) *
               static_cast<double>(w.k);
  w.a_step = ra == 2 ? 0 : w.m * w.k;
  w.b_step = rb == 2 ? 0 : w.k * w.n;
  if (w.one_call) (void)blas_int(w.batch * w.m);  // checked here, once
  return w;
}

template <class T>
void run_matmul(const MatmulWork& w, KernelContext& c) {
  const Tensor& a = c.input(0);
  const Tensor& b = c.input(1);
  T* out = c.output(0).data<T>();
  if (w.two_d) {
    kernels::matmul_2d<T>(a, b, w.ta, w.tb, out);
    return;
  }
  if (w.size == 0) return;
  if (w.k == 0) {  // an empty sum; BLAS rejects the zero leading dimensions this implies
    std::fill(out, out + w.size, T(0));
    return;
  }
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  // The thread count follows the size of one BLAS call (a batched product makes several).
  detail::use_blas_threads_for(w.per_call);
  const int m = static_cast<int>(w.m), n = static_cast<int>(w.n), k = static_cast<int>(w.k);
  if (w.one_call) {
    // A batch of untransposed matrices times one matrix is one (batch*m, k) x (k, n) product.
    gemm(false, w.tb, static_cast<int>(w.batch * w.m), n, k, pa, w.lda, pb, w.ldb, out, w.ldc);
    return;
  }
  for (std::size_t i = 0; i < w.batch; ++i)
    gemm(w.ta, w.tb, m, n, k, pa + i * w.a_step, w.lda, pb + i * w.b_step, w.ldb,
         out + i * w.m * w.n, w.ldc);
}

struct Matmul {
  template <class T>
  static void run(KernelContext& c) {
    run_matmul<T>(matmul_work(c), c);
  }
};

// The prepare step: the flags, dimensions and leading dimensions read once per binding.
template <class T>
class PreparedMatmul final : public PreparedKernel {
 public:
  explicit PreparedMatmul(const KernelContext& c) : work_(matmul_work(c)) {}
  void run(KernelContext& c) override { run_matmul<T>(work_, c); }

 private:
  MatmulWork work_;
};

std::unique_ptr<PreparedKernel> prepare_matmul(const KernelContext& c) {
  switch (c.output(0).dtype()) {
    case DType::float32:
      return std::make_unique<PreparedMatmul<float>>(c);
    case DType::float64:
      return std::make_unique<PreparedMatmul<double>>(c);
    default:
      return nullptr;  // the kernel table reports an unsupported dtype
  }
}

// The gradients of y = op(A) op(B), op = identity or transpose:
//   y = A B      dA = dY B^T     dB = A^T dY
//   y = A B^T    dA = dY B       dB = dY^T A
//   y = A^T B    dA = B dY^T     dB = A dY
//   y = A^T B^T  dA = B^T dY^T   dB = dY^T A^T
// An operand that is a single matrix broadcast across a batch gets a batched gradient, which
// autodiff sums back to the matrix (sum_to) like any broadcast gradient.
std::vector<Output> matmul_gradient(Graph& g, const Node& node, std::span<const Output> dys,
                                    const std::vector<bool>& needs) {
  Output a = detail::input_of(g, node, 0), b = detail::input_of(g, node, 1), dy = dys[0];
  bool ta = node.attrs.get_bool("transpose_a"), tb = node.attrs.get_bool("transpose_b");
  Output da, db;
  if (needs[0])
    da = !ta ? matmul(dy, b, false, !tb)
             : (!tb ? matmul(b, dy, false, true) : matmul(b, dy, true, true));
  if (!needs[1]) return {da, db};
  int ra = a.shape().rank();
  std::int64_t k = a.shape()[ra - 1], n = dy.shape()[dy.shape().rank() - 1];
  if (b.shape().rank() == 2 && ra > 2 && !ta && k > 0 &&
      n > 0) {  // known, and reshape can infer -1
    // A batch of untransposed matrices times one matrix: fold the batch into the rows, so dB is
    // one product over all of them instead of a batch of products summed afterwards.
    Output a_rows = reshape(a, {-1, k}), dy_rows = reshape(dy, {-1, n});
    db = !tb ? matmul(a_rows, dy_rows, true, false) : matmul(dy_rows, a_rows, true, false);
  } else {
    db = !tb ? matmul(a, dy, !ta, false)
             : (!ta ? matmul(dy, a, true, false) : matmul(dy, a, true, true));
  }
  return {da, db};
}

std::vector<GradCheckSample> matmul_samples() {
  auto flags = [](bool ta, bool tb) { return AttrMap{{"transpose_a", ta}, {"transpose_b", tb}}; };
  return {
      {{Shape{2, 3}, Shape{3, 4}}, flags(false, false), {}, "matrices"},
      {{Shape{3, 2}, Shape{3, 4}}, flags(true, false), {}, "transpose a"},
      {{Shape{2, 3}, Shape{4, 3}}, flags(false, true), {}, "transpose b"},
      {{Shape{3, 2}, Shape{4, 3}}, flags(true, true), {}, "transpose both"},
      {{Shape{2, 2, 3}, Shape{2, 3, 4}}, flags(false, false), {}, "batched"},
      {{Shape{2, 3, 2}, Shape{2, 4, 3}}, flags(true, true), {}, "batched, transpose both"},
      {{Shape{2, 2, 3}, Shape{3, 4}}, flags(false, false), {}, "matrix b broadcast"},
      {{Shape{2, 2, 2, 3}, Shape{4, 3}}, flags(false, true), {}, "matrix b broadcast, transpose b"},
      {{Shape{2, 3, 2}, Shape{3, 4}}, flags(true, false), {}, "matrix b broadcast, transpose a"},
      {{Shape{2, 3}, Shape{2, 3, 4}}, flags(false, false), {}, "matrix a broadcast"},
      {{Shape{3, 2}, Shape{2, 4, 3}}, flags(true, true), {}, "matrix a broadcast, transpose both"},
      {{Shape{-1, 2, 3}, Shape{3, 4}}, flags(false, false), {}, "unknown batch"},
      {{Shape{-1, 3}, Shape{2, 3}}, flags(false, true), {}, "unknown rows, transpose b"},
      {{Shape{-1, 2, 3}, Shape{-1, 3, 2}}, flags(false, false), {}, "unknown batch, batched"}};
}

}  // namespace

void register_linalg_ops(OpRegistry& registry) {
  OpRecord r;
  r.name = "matmul";
  r.input_names = {"a", "b"};
  r.attrs = {{"transpose_a", AttrKind::Bool, AttrValue(false)},
             {"transpose_b", AttrKind::Bool, AttrValue(false)}};
  r.shape_fn = [](ShapeContext& ctx) {
    ctx.expect_same_dtype(0, 1);
    ctx.expect_floating(0);
    ctx.set_output(0, ctx.input_dtype(0),
                   detail::matmul_shape(ctx.input_shape(0), ctx.input_shape(1),
                                        ctx.attrs().get_bool("transpose_a"),
                                        ctx.attrs().get_bool("transpose_b")));
  };
  kernels::set_kernels<Matmul, float, double>(r);
  r.prepare = &prepare_matmul;
  r.gradient = matmul_gradient;
  r.gradcheck.samples = matmul_samples();
  r.summary = "matrix product op(a) op(b), batched over leading dims (BLAS gemm)";
  registry.add(std::move(r));
}

Output matmul(Output a, Output b, Flag transpose_a, Flag transpose_b, OpName name) {
  return detail::build(detail::graph_of(a, "matmul"), "matmul", {a, b},
                       {{"transpose_a", transpose_a.value}, {"transpose_b", transpose_b.value}},
                       name);
}

}  // namespace dagrad
