// oneDNN behind dagrad's float32 convolutions (conv_dnnl.hpp). Each thread keeps its own engine,
// stream and, per pass and geometry, a convolution primitive whose activations are the caller's
// NHWC buffers as they stand (no reorder); the kernel is HWIO in dagrad and reordered to and
// from the layout the primitive prefers when that differs (a small tensor).
#include "conv_dnnl.hpp"

#if DAGRAD_HAVE_DNNL

#include <omp.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>

namespace dagrad::kernels {

namespace {

using detail::ConvGeometry;
using Key = std::array<std::int64_t, 17>;

struct Conv {
  dnnl::primitive primitive;
  // The caller's buffers: a, b and out of dnnl_conv2d, in dagrad's layouts.
  dnnl::memory a, b, out;
  // The kernel in the primitive's layout, with the reorder between it and dagrad's HWIO kernel
  // (b, or out for the weight gradient), when the two differ.
  std::optional<dnnl::memory> kernel_internal;
  std::optional<dnnl::reorder> kernel_reorder;
  int arg_a = 0, arg_b = 0, arg_out = 0;
};

struct ThreadState {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, Conv> convs;
  int threads = 0;  // the OpenMP thread count last set on this thread
};

Key key_of(ConvPass pass, const ConvGeometry& g) {
  return {static_cast<std::int64_t>(pass), g.n, g.h, g.w, g.cin, g.kh, g.kw, g.cout, g.oh, g.ow,
          g.sh, g.sw, g.dh, g.dw, g.pad_top, g.pad_left, 0};
}

// The padding after the input on one axis: what makes oneDNN's output size formula,
// (in + before + after - window) / stride + 1 rounded down, give `out` (a "valid" convolution's
// unused last rows are not padding).
std::int64_t pad_after(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                       std::int64_t dilation, std::int64_t before) {
  std::int64_t needed = (out - 1) * stride + (k - 1) * dilation + 1 - in - before;
  return needed > 0 ? needed : 0;
}

Conv make_conv(const dnnl::engine& engine, ConvPass pass, const ConvGeometry& g) {
  using dnnl::memory;
  using tag = memory::format_tag;
  using dims = memory::dims;
  const auto f32 = memory::data_type::f32;
  const memory::desc input_md(dims{g.n, g.cin, g.h, g.w}, f32, tag::nhwc);
  const memory::desc output_md(dims{g.n, g.cout, g.oh, g.ow}, f32, tag::nhwc);
  const memory::desc kernel_md(dims{g.cout, g.cin, g.kh, g.kw}, f32, tag::hwio);
  const memory::desc kernel_any(dims{g.cout, g.cin, g.kh, g.kw}, f32, tag::any);
  const dims strides{g.sh, g.sw}, dilates{g.dh - 1, g.dw - 1}, before{g.pad_top, g.pad_left};
  const dims after{pad_after(g.h, g.oh, g.kh, g.sh, g.dh, g.pad_top),
                   pad_after(g.w, g.ow, g.kw, g.sw, g.dw, g.pad_left)};
  const auto direct = dnnl::algorithm::convolution_direct;
  // The backward passes are described with the forward pass as their hint, as oneDNN asks.
  dnnl::convolution_forward::primitive_desc forward(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, direct, input_md,
                                      kernel_any, output_md, strides, dilates, before, after),
      engine);
  Conv c;
  memory::desc kernel_wanted;
  switch (pass) {
    case ConvPass::Forward:
      c.primitive = dnnl::convolution_forward(forward);
      kernel_wanted = forward.weights_desc();
      c.a = memory(input_md, engine, DNNL_MEMORY_NONE);
      c.b = memory(kernel_md, engine, DNNL_MEMORY_NONE);
      c.out = memory(output_md, engine, DNNL_MEMORY_NONE);
      c.arg_a = DNNL_ARG_SRC, c.arg_b = DNNL_ARG_WEIGHTS, c.arg_out = DNNL_ARG_DST;
      break;
    case ConvPass::BackwardData: {
      dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(direct, input_md, kernel_any, output_md, strides,
                                                dilates, before, after),
          engine, forward);
      c.primitive = dnnl::convolution_backward_data(pd);
      kernel_wanted = pd.weights_desc();
      c.a = memory(output_md, engine, DNNL_MEMORY_NONE);
      c.b = memory(kernel_md, engine, DNNL_MEMORY_NONE);
      c.out = memory(input_md, engine, DNNL_MEMORY_NONE);
      c.arg_a = DNNL_ARG_DIFF_DST, c.arg_b = DNNL_ARG_WEIGHTS, c.arg_out = DNNL_ARG_DIFF_SRC;
      break;
    }
    case ConvPass::BackwardWeights: {
      dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(direct, input_md, kernel_any, output_md,
                                                   strides, dilates, before, after),
          engine, forward);
      c.primitive = dnnl::convolution_backward_weights(pd);
      kernel_wanted = pd.diff_weights_desc();
      c.a = memory(input_md, engine, DNNL_MEMORY_NONE);
      c.b = memory(output_md, engine, DNNL_MEMORY_NONE);
      c.out = memory(kernel_md, engine, DNNL_MEMORY_NONE);
      c.arg_a = DNNL_ARG_SRC, c.arg_b = DNNL_ARG_DIFF_DST, c.arg_out = DNNL_ARG_DIFF_WEIGHTS;
      break;
    }
  }
  if (kernel_wanted != kernel_md) {
    c.kernel_internal = memory(kernel_wanted, engine);
    if (pass == ConvPass::BackwardWeights)
      c.kernel_reorder = dnnl::reorder(*c.kernel_internal, c.out);
    else
      c.kernel_reorder = dnnl::reorder(c.b, *c.kernel_internal);
  }
  return c;
}

}  // namespace

bool dnnl_conv2d(ConvPass pass, const ConvGeometry& g, const float* a, const float* b, float* out,
                 int threads) {
  // DAGRAD_ONEDNN=0 in the environment sends every convolution to im2col and BLAS (comparisons).
  static const bool off = [] {
    const char* v = std::getenv("DAGRAD_ONEDNN");
    return v && std::string(v) == "0";
  }();
  if (off) return false;
  thread_local ThreadState state;
  const Key key = key_of(pass, g);
  auto it = state.convs.find(key);
  if (it == state.convs.end()) {
    try {
      it = state.convs.emplace(key, make_conv(state.engine, pass, g)).first;
    } catch (const dnnl::error&) {
      return false;  // no implementation for this geometry: the BLAS path takes it
    }
  }
  Conv& c = it->second;
  c.a.set_data_handle(const_cast<float*>(a));
  c.b.set_data_handle(const_cast<float*>(b));
  c.out.set_data_handle(out);
  if (state.threads != threads) {
    omp_set_num_threads(threads);
    state.threads = threads;
  }
  if (pass == ConvPass::BackwardWeights) {
    dnnl::memory& kernel = c.kernel_internal ? *c.kernel_internal : c.out;
    c.primitive.execute(state.stream, {{c.arg_a, c.a}, {c.arg_b, c.b}, {c.arg_out, kernel}});
    if (c.kernel_internal) c.kernel_reorder->execute(state.stream, *c.kernel_internal, c.out);
  } else {
    if (c.kernel_internal) c.kernel_reorder->execute(state.stream, c.b, *c.kernel_internal);
    dnnl::memory& kernel = c.kernel_internal ? *c.kernel_internal : c.b;
    c.primitive.execute(state.stream, {{c.arg_a, c.a}, {c.arg_b, kernel}, {c.arg_out, c.out}});
  }
  state.stream.wait();
  return true;
}

}  // namespace dagrad::kernels

#else

namespace dagrad::kernels {

bool dnnl_conv2d(ConvPass, const detail::ConvGeometry&, const float*, const float*, float*, int) {
  return false;
}

}  // namespace dagrad::kernels

#endif
