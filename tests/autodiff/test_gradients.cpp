// The reverse walk: values of gradients against hand-derived formulas, fan-out, stop_gradient,
// missing paths, integer inputs, naming and tagging, errors, and second derivatives.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace tt = boost::test_tools;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
Tensor vec(std::vector<double> v) { return Tensor::from_vector<double>({static_cast<std::int64_t>(v.size())}, v); }

// A float64 op that copies input 0, with the given inputs and no gradient rule (tests add one).
OpRecord copy_op(const char* name, std::vector<std::string> inputs) {
  OpRecord r;
  r.name = name;
  r.input_names = std::move(inputs);
  r.shape_fn = [](ShapeContext& ctx) { ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0)); };
  r.kernels[static_cast<std::size_t>(DType::float64)] = [](KernelContext& c) { c.output(0).copy_from(c.input(0)); };
  return r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(gradients_walk)

BOOST_AUTO_TEST_CASE(square_sum) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1}, "x");
  Output y = sum(square(x));
  Output dx = gradients(y, {x})[0];
  BOOST_TEST(dx.dtype() == DType::float64);
  Session s(g);
  // d/dx sum(x^2) = 2x
  auto got = s.run(dx, {{x, vec({1.5, -2, 0.25})}}).to_vector<double>();
  BOOST_TEST(got == (std::vector<double>{3, -4, 0.5}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(fan_out_is_summed_with_one_add_n) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{3}, "x");
  Output y = sum(x * x + exp(x) + x);  // x used four times
  Output dx = gradients(y, {x})[0];
  int add_ns = 0;
  for (const Node& n : g.nodes())
    if (n.op->name == "add_n" && n.backward) ++add_ns;
  BOOST_TEST(add_ns == 1);  // all of x's contributions meet in one add_n
  Session s(g);
  std::vector<double> xv{0.5, -1, 2};
  auto got = s.run(dx, {{x, vec(xv)}}).to_vector<double>();
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(got[i] == 2 * xv[i] + std::exp(xv[i]) + 1, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(broadcast_gradients_are_summed_to_the_input_shape) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output b = variable(g, vec({1, 2, 3}), "b");
  Output y = sum(square(x + b));
  auto grads = gradients(y, {x, b});
  BOOST_TEST(grads[1].shape() == Shape{3});
  Session s(g);
  s.initialize_variables();
  auto xv = Tensor::from_vector<double>({2, 3}, {0, 1, 2, 3, 4, 5});
  // db_j = sum_i 2 (x_ij + b_j): column sums of 2(x + b) = 2*((0+1)+(3+1)), ...
  auto db = s.run(grads[1], {{x, xv}}).to_vector<double>();
  BOOST_TEST(db == (std::vector<double>{10, 18, 26}), tt::per_element());
  BOOST_TEST(s.run(grads[0], {{x, xv}}).shape() == (Shape{2, 3}));
}

BOOST_AUTO_TEST_CASE(stop_gradient_blocks_and_missing_paths_are_invalid) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Output z = placeholder(g, DType::float64, Shape{2}, "z");
  Output y = sum(x * stop_gradient(x));  // d/dx treats the second factor as a constant: x
  auto grads = gradients(y, {x, z});
  BOOST_TEST(!grads[1].valid());
  Session s(g);
  auto got = s.run(grads[0], {{x, vec({3, -1})}}).to_vector<double>();
  BOOST_TEST(got == (std::vector<double>{3, -1}), tt::per_element());
  // Only stop_gradient between x and y: no path at all.
  Output w = sum(stop_gradient(x));
  BOOST_TEST(!gradients(w, {x})[0].valid());
}

BOOST_AUTO_TEST_CASE(integer_inputs_get_no_gradient) {
  Graph g;
  Output i = placeholder(g, DType::int32, Shape{2}, "i");
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Output y = sum(cast(i, DType::float64) * x);
  auto grads = gradients(y, {i, x});
  BOOST_TEST(!grads[0].valid());
  BOOST_TEST(grads[1].valid());
}

BOOST_AUTO_TEST_CASE(gradient_nodes_are_named_under_gradients_and_tagged_backward) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Output y;
  {
    auto scope = g.name_scope("layer");
    y = sum(tanh(x, "act"), {}, false, "total");
  }
  int forward_nodes = g.num_nodes();
  gradients(y, {x});
  BOOST_TEST(g.num_nodes() > forward_nodes);
  bool mirrored = false;
  for (int id = forward_nodes; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    BOOST_TEST_INFO(n.name);
    BOOST_TEST(n.backward);
    BOOST_TEST(n.name.rfind("gradients/", 0) == 0u);
    mirrored = mirrored || n.name.rfind("gradients/layer/act_grad/", 0) == 0;
  }
  BOOST_TEST(mirrored);
  for (int id = 0; id < forward_nodes; ++id) BOOST_TEST(!g.node(id).backward);
}

BOOST_AUTO_TEST_CASE(grad_ys_seed_a_vector_jacobian_product) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{3}, "x");
  Output y = x * x;  // Jacobian diag(2x)
  Output v = constant(g, vec({1, 10, 100}));
  Output vjp = gradients({y}, {x}, {v})[0];
  Session s(g);
  auto got = s.run(vjp, {{x, vec({1, 2, 3})}}).to_vector<double>();
  BOOST_TEST(got == (std::vector<double>{2, 40, 600}), tt::per_element());
  BOOST_CHECK_THROW(gradients({y}, {x}, {constant(g, vec({1, 2}))}), ShapeError);
}

BOOST_AUTO_TEST_CASE(op_without_gradient_is_an_error_naming_op_node_and_site) {
  OpRegistry registry;
  register_builtin_ops(registry);
  OpRecord r = copy_op("mystery", {"x"});
  registry.add(std::move(r));
  Graph g(registry);
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  int line = __LINE__ + 1;
  Output m = g.add("mystery", {x}, {}, NodeOptions{"secret", {}});
  Output y = sum(m);
  BOOST_CHECK_EXCEPTION(gradients(y, {x}), GraphError, [&](const GraphError& e) {
    return contains(e.what(), "op 'mystery'") && contains(e.what(), "'secret'") &&
           contains(e.what(), "test_gradients.cpp:" + std::to_string(line));
  });
}

BOOST_AUTO_TEST_CASE(non_float_y_is_rejected) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  BOOST_CHECK_THROW(gradients(argmax(x), {x}), GraphError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(second_order)

// f(x) = sum(x^3) + (sum x)^2: grad = 3x^2 + 2 sum(x), Hessian = diag(6x) + 2 * ones,
// so H v = 6 x * v + 2 sum(v).
BOOST_AUTO_TEST_CASE(hessian_vector_product) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{3}, "x");
  Output v = placeholder(g, DType::float64, Shape{3}, "v");
  Output f = sum(x * x * x) + square(sum(x));
  Output grad = gradients(f, {x})[0];
  Output hv = gradients(sum(grad * v), {x})[0];
  Session s(g);
  std::vector<double> xv{0.5, -1.5, 2}, vv{1, -2, 0.25};
  double sum_v = vv[0] + vv[1] + vv[2], sum_x = xv[0] + xv[1] + xv[2];
  auto feeds = std::vector<Feed>{{x, vec(xv)}, {v, vec(vv)}};
  auto got_grad = s.run(grad, feeds).to_vector<double>();
  auto got_hv = s.run(hv, feeds).to_vector<double>();
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(got_grad[i] == 3 * xv[i] * xv[i] + 2 * sum_x, tt::tolerance(1e-12));
    BOOST_TEST(got_hv[i] == 6 * xv[i] * vv[i] + 2 * sum_v, tt::tolerance(1e-12));
  }
}

// d^2/dx^2 of tanh(x) = -2 tanh(x) (1 - tanh(x)^2), and of sigmoid: s (1 - s)(1 - 2 s).
BOOST_AUTO_TEST_CASE(second_derivatives_of_activations) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{4}, "x");
  Output d2_tanh = gradients(sum(gradients(sum(tanh(x)), {x})[0]), {x})[0];
  Output d2_sigmoid = gradients(sum(gradients(sum(sigmoid(x)), {x})[0]), {x})[0];
  Session s(g);
  std::vector<double> xv{-1.2, -0.1, 0.3, 2.0};
  auto t = s.run(d2_tanh, {{x, vec(xv)}}).to_vector<double>();
  auto sg = s.run(d2_sigmoid, {{x, vec(xv)}}).to_vector<double>();
  for (std::size_t i = 0; i < 4; ++i) {
    double th = std::tanh(xv[i]), sv = 1 / (1 + std::exp(-xv[i]));
    BOOST_TEST(t[i] == -2 * th * (1 - th * th), tt::tolerance(1e-12));
    BOOST_TEST(sg[i] == sv * (1 - sv) * (1 - 2 * sv), tt::tolerance(1e-12));
  }
}

// The second derivative checked numerically: the gradient graph is itself gradient-checked.
BOOST_AUTO_TEST_CASE(gradient_graph_passes_the_gradient_check) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2, 3}, "x");
  Output w = placeholder(g, DType::float64, Shape{3}, "w");
  Output f = sum(softplus(x * w) + elu(x - w, 0.7));
  Output grad = gradients(f, {x})[0];
  Output scalar_of_grad = sum(grad * grad);
  Session s(g);
  std::vector<Feed> feeds{{x, Tensor::from_vector<double>({2, 3}, {0.3, -0.8, 1.1, -1.4, 0.6, 0.2})},
                          {w, vec({0.9, -0.4, 1.3})}};
  GradCheckResult r = check_graph_gradients(s, scalar_of_grad, {x, w}, feeds);
  BOOST_TEST_INFO(r.message);
  BOOST_TEST(r.passed);
  BOOST_TEST(r.max_abs_error < 1e-7);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rule_contracts)

BOOST_AUTO_TEST_CASE(a_rule_returning_the_wrong_count_is_named) {
  OpRegistry registry;
  register_builtin_ops(registry);
  OpRecord r = copy_op("two_in", {"a", "b"});
  r.gradient = [](Graph&, const Node&, std::span<const Output> dy) { return std::vector<Output>{dy[0]}; };
  registry.add(std::move(r));
  Graph g(registry);
  Output a = placeholder(g, DType::float64, Shape{2}, "a");
  Output y = sum(g.add("two_in", {a, a}));
  BOOST_CHECK_EXCEPTION(gradients(y, {a}), GraphError, [](const GraphError& e) {
    return contains(e.what(), "'two_in' returned 1 gradients for 2 inputs");
  });
}

BOOST_AUTO_TEST_CASE(registration_checks_gradient_samples_against_the_arity) {
  OpRegistry registry;
  OpRecord r = copy_op("one_in", {"x"});
  r.gradcheck.samples = {{{Shape{2}, Shape{2}}, {}, {}, "two shapes for one input"}};
  BOOST_CHECK_EXCEPTION(registry.add(r), GraphError, [](const GraphError& e) {
    return contains(e.what(), "'one_in'") && contains(e.what(), "2 input shapes for 1 inputs");
  });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(walk_contracts)

// (?, 3) + (?, 3) looks shape-preserving at build time, but fed (4, 3) and (1, 3) the second
// input is broadcast: its gradient must be summed back to (1, 3) at run time.
BOOST_AUTO_TEST_CASE(unknown_dimensions_broadcast_at_run_time) {
  Graph g;
  Output a = placeholder(g, DType::float64, Shape{-1, 3}, "a");
  Output b = placeholder(g, DType::float64, Shape{-1, 3}, "b");
  Output y = sum(a * b);
  auto grads = gradients(y, {a, b});
  Session s(g);
  auto out = s.run(grads, {{a, Tensor::from_vector<double>({4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})},
                           {b, Tensor::from_vector<double>({1, 3}, {1, -1, 2})}});
  BOOST_TEST(out[1].shape() == (Shape{1, 3}));
  // d/db sum(a * b) = column sums of a: 1+4+7+10, 2+5+8+11, 3+6+9+12.
  BOOST_TEST(out[1].to_vector<double>() == (std::vector<double>{22, 26, 30}), tt::per_element());
  BOOST_TEST(out[0].shape() == (Shape{4, 3}));
}

BOOST_AUTO_TEST_CASE(a_missing_rule_leaves_the_graph_unchanged) {
  OpRegistry registry;
  register_builtin_ops(registry);
  OpRecord r = copy_op("opaque", {"x"});
  registry.add(std::move(r));
  Graph g(registry);
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Output y = sum(exp(g.add("opaque", {tanh(x)})));
  int before = g.num_nodes();
  BOOST_CHECK_THROW(gradients(y, {x}), GraphError);
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(shared_ys_and_intermediate_xs) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Output h = square(x, "h");           // an intermediate x
  Output y1 = sum(h * 3.0), y2 = sum(h * x);
  auto grads = gradients({y1, y2}, {h, x});
  Session s(g);
  auto out = s.run(grads, {{x, vec({2, -1})}});
  // d(y1 + y2)/dh = 3 + x; d(y1 + y2)/dx = (3 + x) * 2x + h = 6x + 3x^2.
  BOOST_TEST(out[0].to_vector<double>() == (std::vector<double>{5, 2}), tt::per_element());
  BOOST_TEST(out[1].to_vector<double>() == (std::vector<double>{24, -3}), tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
