// oneDNN behind dagrad's float32 products (gemm_dnnl.hpp). Each thread keeps its own engine,
// stream and, per product shape, a matmul primitive with memory objects whose data handles are
// pointed at the caller's buffers on every call: no locks, and no primitive is made twice.
#include "gemm_dnnl.hpp"

#if DAGRAD_HAVE_DNNL

#include <omp.h>

#include <cstdlib>
#include <map>
#include <string>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>

namespace dagrad::kernels {

namespace {

using Key = std::tuple<bool, bool, int, int, int, int, int, int>;  // ta tb m n k lda ldb ldc

struct Product {
  dnnl::matmul primitive;
  dnnl::memory a, b, c;
};

struct ThreadState {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, Product> products;
  int threads = 0;  // the OpenMP thread count last set on this thread
};

Product make_product(const dnnl::engine& engine, const Key& key) {
  using dnnl::memory;
  using dims = memory::dims;
  auto [ta, tb, m, n, k, lda, ldb, ldc] = key;
  const auto f32 = memory::data_type::f32;
  // Strides say where each logical element lives: op(A)[i][j] is A[j][i] when transposed.
  memory::desc a_md(dims{m, k}, f32, ta ? dims{1, lda} : dims{lda, 1});
  memory::desc b_md(dims{k, n}, f32, tb ? dims{1, ldb} : dims{ldb, 1});
  memory::desc c_md(dims{m, n}, f32, dims{ldc, 1});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine);
  return Product{dnnl::matmul(pd), memory(a_md, engine, DNNL_MEMORY_NONE),
                 memory(b_md, engine, DNNL_MEMORY_NONE), memory(c_md, engine, DNNL_MEMORY_NONE)};
}

}  // namespace

bool dnnl_available() { return true; }

bool dnnl_sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
                int ldb, float* c, int ldc, int threads) {
  // DAGRAD_ONEDNN=0 in the environment sends every product to the BLAS (for comparisons).
  static const bool off = [] {
    const char* v = std::getenv("DAGRAD_ONEDNN");
    return v && std::string(v) == "0";
  }();
  if (off) return false;
  thread_local ThreadState state;
  Key key{ta, tb, m, n, k, lda, ldb, ldc};
  auto it = state.products.find(key);
  if (it == state.products.end())
    it = state.products.emplace(key, make_product(state.engine, key)).first;
  Product& p = it->second;
  p.a.set_data_handle(const_cast<float*>(a));
  p.b.set_data_handle(const_cast<float*>(b));
  p.c.set_data_handle(c);
  if (state.threads != threads) {
    omp_set_num_threads(threads);
    state.threads = threads;
  }
  p.primitive.execute(state.stream,
                      {{DNNL_ARG_SRC, p.a}, {DNNL_ARG_WEIGHTS, p.b}, {DNNL_ARG_DST, p.c}});
  state.stream.wait();
  return true;
}

}  // namespace dagrad::kernels

#else

namespace dagrad::kernels {

bool dnnl_available() { return false; }

bool dnnl_sgemm(bool, bool, int, int, int, const float*, int, const float*, int, float*, int,
                int) {
  return false;
}

}  // namespace dagrad::kernels

#endif
