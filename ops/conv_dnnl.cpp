// oneDNN behind dagrad's float32 convolutions (conv_dnnl.hpp). The batch is split into one part
// per thread (worker_pool.hpp), each run by a one-thread primitive: OpenMP's own threads would
// spin while idle. Each thread keeps its own engine, stream and, per pass and geometry, a
// convolution primitive whose activations are the caller's NHWC buffers as they stand (no
// reorder); the kernel is HWIO in dagrad and reordered to and from the layout the primitive
// prefers when that differs (a small tensor). The weight gradient's parts are summed in order.
#include "conv_dnnl.hpp"

#if DAGRAD_HAVE_DNNL

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <vector>

#include "worker_pool.hpp"

namespace dagrad::kernels {

namespace {

using detail::ConvGeometry;
using Key = std::array<std::int64_t, 16>;  // the pass, then the geometry

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
  bool one_thread = false;  // whether omp_set_num_threads(1) was called on this thread
};

Key key_of(ConvPass pass, const ConvGeometry& g) {
  const std::int64_t sizes[] = {g.n,  g.h,  g.w,  g.cin, g.kh, g.kw,      g.cout,    g.oh,
                                g.ow, g.sh, g.sw, g.dh,  g.dw, g.pad_top, g.pad_left};
  Key key{static_cast<std::int64_t>(pass)};
  std::copy(std::begin(sizes), std::end(sizes), key.begin() + 1);
  return key;
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
          dnnl::convolution_backward_weights::desc(direct, input_md, kernel_any, output_md, strides,
                                                   dilates, before, after),
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

// One part on the calling thread, one OpenMP thread.
bool run_one(ConvPass pass, const ConvGeometry& g, const float* a, const float* b, float* out) {
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
  if (!state.one_thread) {
    omp_set_num_threads(1);
    state.one_thread = true;
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

}  // namespace

bool dnnl_conv2d(ConvPass pass, const ConvGeometry& g, const float* a, const float* b, float* out,
                 int threads) {
  // DAGRAD_ONEDNN=0 in the environment sends every convolution to im2col and BLAS (comparisons).
  static const bool off = [] {
    const char* v = std::getenv("DAGRAD_ONEDNN");
    return v && std::string(v) == "0";
  }();
  if (off) return false;
  const int parts = static_cast<int>(std::min<std::int64_t>(std::max(threads, 1), g.n));
  if (parts <= 1) return run_one(pass, g, a, b, out);
  const std::int64_t in_image = g.h * g.w * g.cin, out_image = g.oh * g.ow * g.cout;
  const std::int64_t kernel_size = g.kh * g.kw * g.cin * g.cout;
  thread_local std::vector<float> partial;  // the weight gradients of parts 1, 2, ...
  if (pass == ConvPass::BackwardWeights)
    partial.resize(static_cast<std::size_t>((parts - 1) * kernel_size));
  // The parts run on other threads, whose thread_local `partial` is another vector.
  float* const partials = partial.data();
  std::vector<char> ok(static_cast<std::size_t>(parts), 0);
  run_parts(parts, [&](int p) {
    const std::int64_t base = g.n / parts, extra = g.n % parts;
    const std::int64_t start = p * base + std::min<std::int64_t>(p, extra);
    ConvGeometry part = g;
    part.n = base + (p < extra ? 1 : 0);
    bool done = false;
    switch (pass) {
      case ConvPass::Forward:
        done = run_one(pass, part, a + start * in_image, b, out + start * out_image);
        break;
      case ConvPass::BackwardData:
        done = run_one(pass, part, a + start * out_image, b, out + start * in_image);
        break;
      case ConvPass::BackwardWeights:
        done = run_one(pass, part, a + start * in_image, b + start * out_image,
                       p == 0 ? out : partials + (p - 1) * kernel_size);
        break;
    }
    ok[static_cast<std::size_t>(p)] = done;
  });
  for (char done : ok)
    if (!done) return false;  // the caller's path recomputes the whole output
  if (pass == ConvPass::BackwardWeights)
    for (int p = 1; p < parts; ++p) {
      const float* from = partials + (p - 1) * kernel_size;
      for (std::int64_t i = 0; i < kernel_size; ++i) out[i] += from[i];
    }
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
