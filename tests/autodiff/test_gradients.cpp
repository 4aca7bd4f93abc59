// The reverse walk: values of gradients against hand-derived formulas, fan-out, stop_gradient,
// missing paths, integer inputs, naming and tagging, errors, and second derivatives.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace tt = boost::test_tools;

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
Tensor vec(std::vector<double> v) {
  return Tensor::from_vector<double>({static_cast<std::int64_t>(v.size())}, v);
}

// A float64 op that copies input 0, with the given inputs and no gradient rule (tests add one).
OpRecord copy_op(const char* name, std::vector<std::string> inputs) {
  OpRecord r;
  r.name = name;
  r.input_names = std::move(inputs);
  r.shape_fn = [](ShapeContext& ctx) { ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0)); };
  r.kernels[static_cast<std::size_t>(DType::float64)] = [](KernelContext& c) {
    c.output(0).copy_from(c.input(0));
  };
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
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(got[i] == 2 * xv[i] + std::exp(xv[i]) + 1, tt::tolerance(1e-12));
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
  std::vector<Feed> feeds{
      {x, Tensor::from_vector<double>({2, 3}, {0.3, -0.8, 1.1, -1.4, 0.6, 0.2})},
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
  r.gradient = [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>&) {
    return std::vector<Output>{dy[0]};
  };
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

BOOST_AUTO_TEST_CASE(registration_checks_broadcasting_inputs) {
  OpRegistry registry;
  OpRecord r = copy_op("pair", {"a", "b"});
  r.broadcasting_inputs = {0, 2};
  BOOST_CHECK_EXCEPTION(registry.add(r), GraphError, [](const GraphError& e) {
    return contains(e.what(), "'pair'") &&
           contains(e.what(), "broadcasting input 2 is not an input");
  });
  r.broadcasting_inputs = {0, 1};
  BOOST_CHECK_NO_THROW(registry.add(r));
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
  auto out = s.run(
      grads, {{a, Tensor::from_vector<double>({4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})},
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
  Output h = square(x, "h");  // an intermediate x
  Output y1 = sum(h * 3.0), y2 = sum(h * x);
  auto grads = gradients({y1, y2}, {h, x});
  Session s(g);
  auto out = s.run(grads, {{x, vec({2, -1})}});
  // d(y1 + y2)/dh = 3 + x; d(y1 + y2)/dx = (3 + x) * 2x + h = 6x + 3x^2.
  BOOST_TEST(out[0].to_vector<double>() == (std::vector<double>{5, 2}), tt::per_element());
  BOOST_TEST(out[1].to_vector<double>() == (std::vector<double>{24, -3}), tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(atomic_failures)

namespace {
std::vector<std::string> names_of(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes()) names.push_back(n.name);
  return names;
}

// x -> tanh -> op -> exp -> sum, with op from a fresh registry: the walk builds the nodes of exp's
// and sum's gradients before it reaches op's rule.
struct PluginGraph {
  OpRegistry registry;
  std::unique_ptr<Graph> g;
  Output x, y;
  int line = 0;
  PluginGraph(const char* op, GradientFn rule) {
    register_builtin_ops(registry);
    OpRecord r = copy_op(op, {"x"});
    r.gradient = std::move(rule);
    registry.add(std::move(r));
    g = std::make_unique<Graph>(registry);
    x = placeholder(*g, DType::float64, Shape{2, 3}, "x");
    line = __LINE__ + 1;
    y = sum(exp(g->add(op, {tanh(x)}, {}, NodeOptions{"plugged", {}})));
  }
};

// After a failed call the graph is unchanged, and the next calls get the names they get in a
// graph that never saw the failure.
void check_unchanged_and_names_free(PluginGraph& p, const std::vector<std::string>& before) {
  Graph& g = *p.g;
  BOOST_TEST(g.num_nodes() == static_cast<int>(before.size()));
  BOOST_TEST(names_of(g) == before, tt::per_element());
  BOOST_TEST(!g.find_node("gradients"));
  Output d = gradients(sum(square(p.x)), {p.x})[0];
  BOOST_TEST(d.name().rfind("gradients/", 0) == 0u);
  auto scope = g.name_scope("gradients");
  BOOST_TEST(g.current_scope() == "gradients_1/");

  Graph fresh;
  Output x = placeholder(fresh, DType::float64, Shape{2, 3}, "x");
  sum(exp(tanh(x)), {}, false);
  Output fresh_d = gradients(sum(square(x)), {x})[0];
  BOOST_TEST(d.name() == fresh_d.name());
  BOOST_TEST(g.num_nodes() - static_cast<int>(before.size()) ==
             fresh.num_nodes() - 4);  // x, tanh, exp, sum
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_throwing_rule_leaves_graph_and_names_unchanged) {
  PluginGraph p("throws",
                [](Graph&, const Node&, std::span<const Output> dy,
                   const std::vector<bool>&) -> std::vector<Output> {
                  neg(dy[0], "half_built");
                  throw std::runtime_error("rule failed");
                });
  auto before = names_of(*p.g);
  BOOST_CHECK_THROW(gradients(p.y, {p.x}), std::runtime_error);
  check_unchanged_and_names_free(p, before);
}

// A rule whose gradient has the wrong shape is blamed by op, node, input, shapes and site, not
// the sum_to the walk would feed it to.
BOOST_AUTO_TEST_CASE(a_wrong_shape_is_blamed_on_the_rule_and_leaves_the_graph_unchanged) {
  PluginGraph p("transposes",
                [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>&) {
                  return std::vector<Output>{transpose(dy[0])};
                });
  auto before = names_of(*p.g);
  BOOST_CHECK_EXCEPTION(gradients(p.y, {p.x}), GraphError, [&](const GraphError& e) {
    BOOST_TEST_INFO(e.what());
    return contains(e.what(), "op 'transposes'") && contains(e.what(), "(node 'plugged'") &&
           contains(e.what(), "input 0") && contains(e.what(), "(3, 2)") &&
           contains(e.what(), "(2, 3)") &&
           contains(e.what(), "test_gradients.cpp:" + std::to_string(p.line)) &&
           !contains(e.what(), "sum_to");
  });
  check_unchanged_and_names_free(p, before);
}

BOOST_AUTO_TEST_CASE(a_wrong_dtype_or_count_leaves_the_graph_unchanged) {
  PluginGraph wrong_dtype(
      "to_float32", [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>&) {
        return std::vector<Output>{cast(dy[0], DType::float32)};
      });
  auto before = names_of(*wrong_dtype.g);
  BOOST_CHECK_EXCEPTION(gradients(wrong_dtype.y, {wrong_dtype.x}), GraphError,
                        [](const GraphError& e) {
                          return contains(e.what(), "op 'to_float32'") &&
                                 contains(e.what(), "a float32 gradient for a float64 input");
                        });
  check_unchanged_and_names_free(wrong_dtype, before);

  PluginGraph wrong_count(
      "two_grads", [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>&) {
        return std::vector<Output>{dy[0], neg(dy[0])};
      });
  before = names_of(*wrong_count.g);
  BOOST_CHECK_EXCEPTION(
      gradients(wrong_count.y, {wrong_count.x}), GraphError, [](const GraphError& e) {
        return contains(e.what(), "'two_grads' returned 2 gradients for 1 inputs");
      });
  check_unchanged_and_names_free(wrong_count, before);
}

// A broadcast of the input's shape is a valid gradient (the walk sums it back); a shape that is
// not one is an error.
BOOST_AUTO_TEST_CASE(a_broadcast_gradient_is_summed_back) {
  PluginGraph p(
      "broadcasts", [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>&) {
        return std::vector<Output>{broadcast_to(dy[0], {2, 2, 3}) * 0.5};  // sums back to dy
      });
  Output dx = gradients(p.y, {p.x})[0];
  Session s(*p.g);
  auto xv = Tensor::from_vector<double>({2, 3}, {0.1, -0.2, 0.3, 0.4, -0.5, 0.6});
  auto got = s.run(dx, {{p.x, xv}}).to_vector<double>();
  auto xs = xv.to_vector<double>();
  // d/dx sum(exp(tanh(x))) = exp(tanh x) (1 - tanh^2 x)
  for (std::size_t i = 0; i < 6; ++i)
    BOOST_TEST(got[i] == std::exp(std::tanh(xs[i])) * (1 - std::tanh(xs[i]) * std::tanh(xs[i])),
               tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scopes)

BOOST_AUTO_TEST_CASE(each_call_gets_its_own_top_level_scope) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Output y = sum(tanh(x), {}, false, "y");
  Output y2 = sum(square(x));
  int start = g.num_nodes();
  gradients(y, {x});
  int middle = g.num_nodes();
  {
    auto user = g.name_scope("model");  // the scope is top-level, not under the user's scope
    gradients(y2, {x});
  }
  int end = g.num_nodes();
  BOOST_TEST(middle > start + 2);
  BOOST_TEST(end > middle);
  for (int id = start; id < middle; ++id) BOOST_TEST(g.node(id).name.rfind("gradients/", 0) == 0u);
  for (int id = middle; id < end; ++id) {
    BOOST_TEST_INFO(g.node(id).name);
    BOOST_TEST(g.node(id).name.rfind("gradients_1/", 0) == 0u);
  }
  auto next = g.name_scope("gradients");
  BOOST_TEST(g.current_scope() == "gradients_2/");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(no_dead_nodes)

namespace {
// Every node from `first` on must be an ancestor of one of `roots` (through data and control
// inputs): no gradient node computes a value nothing uses.
void check_all_used(const Graph& g, int first, const std::vector<Output>& roots) {
  std::vector<char> used(static_cast<std::size_t>(g.num_nodes()), 0);
  for (const Output& r : roots) used[static_cast<std::size_t>(r.node)] = 1;
  for (int id = g.num_nodes() - 1; id >= 0; --id) {
    if (!used[static_cast<std::size_t>(id)]) continue;
    for (const auto& in : g.node(id).inputs) used[static_cast<std::size_t>(in.node)] = 1;
    for (int c : g.node(id).control_inputs) used[static_cast<std::size_t>(c)] = 1;
  }
  for (int id = first; id < g.num_nodes(); ++id) {
    BOOST_TEST_INFO("dead node " << g.node(id).name << " (" << g.node(id).op->name << ")");
    BOOST_TEST(used[static_cast<std::size_t>(id)]);
  }
}
int count_op(const Graph& g, int first, const std::string& op) {
  int n = 0;
  for (int id = first; id < g.num_nodes(); ++id) n += g.node(id).op->name == op;
  return n;
}
}  // namespace

// A 3-layer MLP over a batch of unknown size, differentiated w.r.t. weights and biases only.
BOOST_AUTO_TEST_CASE(mlp_builds_no_input_gradient_and_sums_only_at_bias_adds) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 4}, "x");
  std::vector<Output> params, biases;
  Output h = x;
  std::int64_t width = 4;
  for (std::int64_t out : {5, 3, 2}) {
    std::vector<double> w(static_cast<std::size_t>(width * out)), b(static_cast<std::size_t>(out));
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.1 * static_cast<double>(i % 7) - 0.3;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.05 * static_cast<double>(i);
    Output W = variable(g, Tensor::from_vector<double>({width, out}, w));
    Output bias = variable(g, Tensor::from_vector<double>({out}, b));
    h = tanh(matmul(h, W) + bias);
    params.push_back(W);
    params.push_back(bias);
    biases.push_back(bias);
    width = out;
  }
  Output loss = mean(square(h));
  int first = g.num_nodes();
  auto grads = gradients(loss, params);
  check_all_used(g, first, grads);
  // dW for three layers and dh for the two upper ones: x's gradient (a matmul) is not built.
  BOOST_TEST(count_op(g, first, "matmul") == 5);
  // One sum_to per bias add, reducing to the bias; none for the (?, n) operands.
  BOOST_TEST(count_op(g, first, "sum_to") == 3);
  for (int id = first; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    if (n.op->name != "sum_to") continue;
    BOOST_TEST_INFO(n.name);
    bool to_bias = false;
    for (const Output& b : biases) to_bias = to_bias || n.inputs[1].node == b.node;
    BOOST_TEST(to_bias);
  }
}

BOOST_AUTO_TEST_CASE(the_same_tensor_twice_does_not_broadcast) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output b = placeholder(g, DType::float64, Shape{-1, 3}, "b");
  int first = g.num_nodes();
  gradients(sum(x * x), {x});
  BOOST_TEST(count_op(g, first, "sum_to") == 0);
  // Two tensors of unknown batch may broadcast at run time: both gradients are summed.
  first = g.num_nodes();
  gradients(sum(x * b), {x, b});
  BOOST_TEST(count_op(g, first, "sum_to") == 2);
}

// A rule is told which inputs need a gradient.
BOOST_AUTO_TEST_CASE(a_rule_is_told_which_inputs_need_a_gradient) {
  OpRegistry registry;
  register_builtin_ops(registry);
  static std::vector<std::vector<bool>> seen;
  seen.clear();
  OpRecord r = copy_op("first_of_three", {"a", "b", "i"});
  r.gradient = [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>& needs) {
    seen.push_back(needs);
    return std::vector<Output>{needs[0] ? dy[0] : Output{}, Output{}, Output{}};
  };
  registry.add(std::move(r));
  Graph g(registry);
  Output a = placeholder(g, DType::float64, Shape{2}, "a");
  Output b = placeholder(g, DType::float64, Shape{2}, "b");
  Output i = placeholder(g, DType::int32, Shape{2}, "i");
  Output y = sum(g.add("first_of_three", {a, b, i}));
  BOOST_TEST(!gradients(y, {b})[0].valid());  // the rule gives b none
  gradients(y, {a, i});                       // integer inputs never need one
  gradients(y, {a, b});
  BOOST_REQUIRE(seen.size() == 3u);
  BOOST_TEST(seen[0] == (std::vector<bool>{false, true, false}), tt::per_element());
  BOOST_TEST(seen[1] == (std::vector<bool>{true, false, false}), tt::per_element());
  BOOST_TEST(seen[2] == (std::vector<bool>{true, true, false}), tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concat_second_order)

// f = sum(c^3) + (sum c)^2 with c = concat(a, b) along rows and b of unknown row count:
// df/da = 3a^2 + 2S, df/db = 3b^2 + 2S (S = sum a + sum b), and for the Hessian-vector product
// with (v, w): H (v, w) = (6 a v + 2 (sum v + sum w), 6 b w + 2 (sum v + sum w)). a's gradient is
// a slice of c's gradient, whose row count is unknown, so the second derivative pads it back at
// run time.
BOOST_AUTO_TEST_CASE(hessian_vector_product_through_concat_with_an_unknown_last_input) {
  Graph g;
  Output a = placeholder(g, DType::float64, Shape{2, 3}, "a");
  Output b = placeholder(g, DType::float64, Shape{-1, 3}, "b");
  Output v = placeholder(g, DType::float64, Shape{2, 3}, "v");
  Output w = placeholder(g, DType::float64, Shape{-1, 3}, "w");
  Output c = concat({a, b}, 0);
  Output f = sum(c * c * c) + square(sum(c));
  auto grad = gradients(f, {a, b});
  auto hv = gradients(sum(grad[0] * v) + sum(grad[1] * w), {a, b});
  Session s(g);
  std::vector<double> av{0.5, -1, 2, 0.25, 1.5, -0.75}, vv{1, -2, 0.5, 3, 0, -1};
  std::vector<double> bv{0.1, 0.2, -0.3, 1, -1, 0.5, 2, 0, -2, 0.7, 0.4, -0.6},
      wv{2, 1, 0, -1, 0.5, 1, -2, 3, 1, 0, 1, -1};
  std::vector<Feed> feeds{{a, Tensor::from_vector<double>({2, 3}, av)},
                          {b, Tensor::from_vector<double>({4, 3}, bv)},
                          {v, Tensor::from_vector<double>({2, 3}, vv)},
                          {w, Tensor::from_vector<double>({4, 3}, wv)}};
  auto total = [](const std::vector<double>& xs) {
    double t = 0;
    for (double x : xs) t += x;
    return t;
  };
  double S = total(av) + total(bv), T = total(vv) + total(wv);
  auto out = s.run({grad[0], grad[1], hv[0], hv[1]}, feeds);
  BOOST_TEST(out[3].shape() == (Shape{4, 3}));
  for (std::size_t i = 0; i < av.size(); ++i) {
    BOOST_TEST(out[0].to_vector<double>()[i] == 3 * av[i] * av[i] + 2 * S, tt::tolerance(1e-12));
    BOOST_TEST(out[2].to_vector<double>()[i] == 6 * av[i] * vv[i] + 2 * T, tt::tolerance(1e-12));
  }
  for (std::size_t i = 0; i < bv.size(); ++i) {
    BOOST_TEST(out[1].to_vector<double>()[i] == 3 * bv[i] * bv[i] + 2 * S, tt::tolerance(1e-12));
    BOOST_TEST(out[3].to_vector<double>()[i] == 6 * bv[i] * wv[i] + 2 * T, tt::tolerance(1e-12));
  }
  // The first derivative of a's gradient, checked numerically too.
  GradCheckResult r = check_graph_gradients(s, sum(grad[0] * grad[0]), {a, b}, feeds);
  BOOST_TEST_INFO(r.message);
  BOOST_TEST(r.passed);
}

// Along an axis of unknown size a slice's gradient is zeros of x's run-time shape around dy.
BOOST_AUTO_TEST_CASE(slice_inside_an_unknown_axis) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 2}, "x");
  Output dx = gradients(sum(slice(x, {1, 0}, {2, 1}) * 3.0), {x})[0];
  Session s(g);
  auto got = s.run(dx, {{x, Tensor::from_vector<double>({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8})}});
  BOOST_TEST(got.shape() == (Shape{4, 2}));
  // rows 1 and 2 of column 0 were taken, each with weight 3
  BOOST_TEST(got.to_vector<double>() == (std::vector<double>{0, 0, 3, 0, 3, 0, 0, 0}),
             tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
