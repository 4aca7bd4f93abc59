// Matrix products. The kernel hands the tensors' buffers straight to BLAS gemm: transposes are
// gemm flags and leading dimensions, never copies, and C is the preallocated output.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

// "(2, 3)" or "(2, 3) transposed", for error messages.
std::string describe(const Shape& s, bool transposed) {
  return s.to_string() + (transposed ? " transposed" : "");
}

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
    throw ShapeError("inner dimensions differ: a " + describe(a, ta) + " has " + std::to_string(ka) +
                     " columns, b " + describe(b, tb) + " has " + std::to_string(kb) + " rows");
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

int blas_int(std::size_t v) {
  if (v > static_cast<std::size_t>(INT_MAX))
    throw std::out_of_range("matrix dimension " + std::to_string(v) + " exceeds the BLAS integer range");
  return static_cast<int>(v);
}

// C (m x n, row-major, ldc) = op(A) op(B), where A and B are stored row-major with leading
// dimensions lda and ldb.
void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
          float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
              1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb,
          double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
              1.0, a, lda, b, ldb, 0.0, c, ldc);
}

struct Matmul {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& a = c.input(0);
    const Tensor& b = c.input(1);
    Tensor& y = c.output(0);
    bool ta = c.attrs().get_bool("transpose_a");
    bool tb = c.attrs().get_bool("transpose_b");
    int ra = a.shape().rank(), rb = b.shape().rank(), ry = y.shape().rank();
    auto m = static_cast<std::size_t>(y.shape()[ry - 2]);
    auto n = static_cast<std::size_t>(y.shape()[ry - 1]);
    auto k = static_cast<std::size_t>(ta ? a.shape()[ra - 2] : a.shape()[ra - 1]);
    T* out = y.data<T>();
    if (y.size() == 0) return;
    if (k == 0) {  // an empty sum; BLAS rejects the zero leading dimensions this implies
      std::fill(out, out + y.size(), T(0));
      return;
    }
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    std::size_t batch = static_cast<std::size_t>(y.size()) / (m * n);
    int lda = blas_int(ta ? m : k), ldb = blas_int(tb ? k : n), ldc = blas_int(n);
    if (rb == 2 && !ta) {
      // A batch of untransposed matrices times one matrix is one (batch*m, k) x (k, n) product.
      gemm(false, tb, blas_int(batch * m), blas_int(n), blas_int(k), pa, lda, pb, ldb, out, ldc);
      return;
    }
    std::size_t a_step = ra == 2 ? 0 : m * k, b_step = rb == 2 ? 0 : k * n;
    for (std::size_t i = 0; i < batch; ++i)
      gemm(ta, tb, blas_int(m), blas_int(n), blas_int(k), pa + i * a_step, lda, pb + i * b_step, ldb,
           out + i * m * n, ldc);
  }
};

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
                   matmul_shape(ctx.input_shape(0), ctx.input_shape(1), ctx.attrs().get_bool("transpose_a"),
                                ctx.attrs().get_bool("transpose_b")));
  };
  kernels::set_kernels<Matmul, float, double>(r);
  r.summary = "matrix product op(a) op(b), batched over leading dims (BLAS gemm)";
  registry.add(std::move(r));
}

Output matmul(Output a, Output b, bool transpose_a, bool transpose_b, OpName name) {
  return detail::build(detail::graph_of(a, "matmul"), "matmul", {a, b},
                       {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}}, name);
}

}  // namespace dagrad
