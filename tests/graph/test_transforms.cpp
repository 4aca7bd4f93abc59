#include <boost/test/unit_test.hpp>
#include <cmath>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

std::vector<float> values(Session& s, Output y, const std::vector<Feed>& feeds = {}) {
  return s.run(y, feeds).to_vector<float>();
}

Tensor vec(std::vector<float> v) {
  auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_vector<float>({n}, v);
}

// The BOOST_CHECK_EXCEPTION predicate: the message holds every fragment.
auto message_has(std::vector<std::string> fragments) {
  return [fragments](const std::exception& e) {
    std::string m = e.what();
    for (const auto& f : fragments)
      if (m.find(f) == std::string::npos) {
        BOOST_TEST_MESSAGE("message '" << m << "' lacks '" << f << "'");
        return false;
      }
    return true;
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transforms)

// float32 -> float64 is exact; other dtypes and undefined tensors pass through unchanged.
BOOST_AUTO_TEST_CASE(widen_to_float64_is_exact_and_leaves_other_dtypes) {
  Tensor narrow = Tensor::from_vector<float>({2, 2}, {0.1f, -3.5f, 1e-30f, 16777217.0f});
  Tensor wide = widen_to_float64(narrow);
  BOOST_TEST(wide.dtype() == DType::float64);
  BOOST_TEST(wide.shape() == (Shape{2, 2}));
  std::vector<double> expected = {static_cast<double>(0.1f), -3.5, static_cast<double>(1e-30f),
                                  16777216.0};
  BOOST_TEST(wide.to_vector<double>() == expected, boost::test_tools::per_element());
  Tensor ints = Tensor::from_vector<std::int32_t>({2}, {1, -2});
  BOOST_TEST(widen_to_float64(ints).dtype() == DType::int32);
  BOOST_TEST(widen_to_float64(ints).raw() == ints.raw());
  Tensor doubles = Tensor::from_vector<double>({1}, {0.1});
  BOOST_TEST(widen_to_float64(doubles).raw() == doubles.raw());
  BOOST_TEST(!widen_to_float64(Tensor()).defined());
}

BOOST_AUTO_TEST_CASE(promote_to_float64_keeps_structure_and_widens_values) {
  Graph g;
  g.set_seed(5);
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output w = variable(g, Tensor::from_vector<float>({2}, {0.1f, 3}), "w");
  Output i = placeholder(g, DType::int32, Shape{2}, "i");
  Output y = sum(x * w + cast(i, DType::float32), {1}, false, "y");
  Output noise = random_normal(g, Shape{2}, 0, 1, DType::float32, 3, "noise");
  std::unique_ptr<Graph> wide = promote_to_float64(g);
  BOOST_REQUIRE_EQUAL(wide->num_nodes(), g.num_nodes());
  for (int id = 0; id < g.num_nodes(); ++id) {
    BOOST_TEST(wide->node(id).name == g.node(id).name);
    BOOST_TEST(wide->node(id).site.line == g.node(id).site.line);
  }
  Output wx = wide->output("x"), wy = wide->output("y"), wi = wide->output("i");
  BOOST_TEST(wx.dtype() == DType::float64);
  BOOST_TEST(wy.dtype() == DType::float64);
  BOOST_TEST(wi.dtype() == DType::int32);  // integers stay as they are
  BOOST_TEST(wide->output("noise").dtype() == DType::float64);
  BOOST_TEST(wide->variables().size() == 1u);
  BOOST_TEST(wide->seed() == 5u);
  Session s(*wide);
  s.initialize_variables();
  // The float32 constant 0.1f widens exactly: y = 1 * 0.1f + 2 * 3 + (1 + 2) with x = (1, 2).
  double got = s.run(wy, {{wx, Tensor::from_vector<double>({1, 2}, {1, 2})},
                          {wi, Tensor::from_vector<std::int32_t>({2}, {1, 2})}})
                   .to_vector<double>()[0];
  BOOST_TEST(got == static_cast<double>(0.1f) + 6.0 + 3.0, boost::test_tools::tolerance(1e-15));
  (void)y;
  (void)noise;
}

// y = tanh(x * w) + x with w replaced by identity(w): the copy computes what the original does.
BOOST_AUTO_TEST_CASE(clone_with_identity_substitution_computes_the_original) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output w = variable(g, vec({0.5f, -1.f}), "w");
  Output y = tanh(x * w, "t") + x;
  Output same = identity(w, "same_w");
  CloneResult c = clone({y}, {{w, same}});
  BOOST_REQUIRE_EQUAL(c.outputs.size(), 1u);
  BOOST_TEST(c.outputs[0].node != y.node);
  BOOST_TEST(c.outputs[0].producer().name == "clone/" + y.producer().name);
  BOOST_TEST(!c.copied(w.node));  // variables are shared
  BOOST_TEST(!c.copied(x.node));
  BOOST_TEST(c.copied(g.find_node("t")->id));
  Session s(g);
  s.initialize_variables();
  std::vector<Feed> feeds{{x, vec({1, 2})}};
  std::vector<float> expected = {std::tanh(0.5f) + 1.f, std::tanh(-2.f) + 2.f};
  BOOST_TEST(values(s, c.outputs[0], feeds) == expected, boost::test_tools::per_element());
  BOOST_TEST(values(s, y, feeds) == expected, boost::test_tools::per_element());
}

// out1 = (2x + 1)(x - 3) and out2 = (x - 3)^2; replacing a = 2x by k changes out1 only.
BOOST_AUTO_TEST_CASE(substitution_changes_exactly_what_depends_on_it) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output a = mul(x, scalar(g, 2.0), "a");
  Output b = add(a, scalar(g, 1.0), "b");
  Output c = sub(x, scalar(g, 3.0), "c");
  Output out1 = mul(b, c, "out1");
  Output out2 = mul(c, c, "out2");
  Output k = constant(g, vec({10, 20}), "k");
  int before = g.num_nodes();
  CloneOptions options;
  options.scope = "sub";
  CloneResult r = clone({out1, out2, a}, {{a, k}}, options);
  // Copied: b and out1; everything else is shared.
  BOOST_TEST(g.num_nodes() == before + 2);
  BOOST_TEST(g.node(before).name == "sub/b");
  BOOST_TEST(g.node(before + 1).name == "sub/out1");
  BOOST_TEST((r.outputs[0] == (Output{&g, before + 1, 0})));
  BOOST_TEST((r.outputs[1] == out2));  // does not depend on a: shared
  BOOST_TEST((r.outputs[2] == k));     // a replaced tensor maps to its replacement
  BOOST_TEST((r.map(c) == c));
  BOOST_TEST(r.copies[static_cast<std::size_t>(b.node)] == before);
  for (int id : {x.node, a.node, c.node, out2.node, k.node}) BOOST_TEST(!r.copied(id));
  // The copy reads k and the shared c.
  const Node& out1_copy = g.node(before + 1);
  BOOST_TEST(out1_copy.inputs[0].node == before);
  BOOST_TEST(out1_copy.inputs[1].node == c.node);
  BOOST_TEST(g.node(before).inputs[0].node == k.node);
  Session s(g);
  std::vector<Feed> feeds{{x, vec({1, 2})}};
  BOOST_TEST(values(s, r.outputs[0], feeds) == (std::vector<float>{11 * -2.f, 21 * -1.f}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s, out1, feeds) == (std::vector<float>{3 * -2.f, 5 * -1.f}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s, r.outputs[1], feeds) == (std::vector<float>{4, 1}),
             boost::test_tools::per_element());
  // A second clone with the same scope gets a scope of its own.
  CloneResult again = clone({out1}, {{a, k}}, options);
  BOOST_TEST(again.outputs[0].producer().name == "sub_1/out1");
}

// The lookahead of Nesterov momentum: loss(theta + beta m) from loss(theta).
BOOST_AUTO_TEST_CASE(lookahead_clone_evaluates_the_loss_at_the_shifted_point) {
  Graph g;
  Output theta = variable(g, vec({1, -2}), "theta");
  Output m = variable(g, vec({4, 8}), "m");
  Output loss = sum(square(theta), {}, false, "loss");
  Output shifted = theta + 0.5 * m;
  CloneResult r = clone({loss}, {{theta, shifted}}, CloneOptions{.scope = "lookahead"});
  BOOST_TEST(r.outputs[0].producer().name == "lookahead/loss");
  Session s(g);
  s.initialize_variables();
  // (1 + 2)^2 + (-2 + 4)^2 = 13; the original stays 1 + 4 = 5.
  BOOST_TEST(s.run(r.outputs[0]).item<float>() == 13.f);
  BOOST_TEST(s.run(loss).item<float>() == 5.f);
}

// An inference graph: the dropout mask replaced by ones.
BOOST_AUTO_TEST_CASE(dropout_mask_replaced_by_ones) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{4}, "x");
  Output mask = bernoulli_like(x, 0.5, 3, "mask");
  Output y = mul(x, mask, "dropped") * 2.0;
  CloneResult r = clone({y}, {{mask, ones_like(x)}}, CloneOptions{.scope = "inference"});
  BOOST_TEST(!r.copied(mask.node));
  Session s(g);
  std::vector<Feed> feeds{{x, vec({1, 2, 3, 4})}};
  BOOST_TEST(values(s, r.outputs[0], feeds) == (std::vector<float>{2, 4, 6, 8}),
             boost::test_tools::per_element());
}

// Control inputs point to copies where they exist; site and backward tag carry over. A node
// that z depends on only through a control edge is still in the region when it depends on x.
BOOST_AUTO_TEST_CASE(control_inputs_sites_and_backward_tags_are_remapped) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output other = placeholder(g, DType::float32, Shape{2}, "other");
  Output outside = identity(other, "outside");
  Output ordered = identity(x, "ordered");
  Output inside = square(x, "inside");
  Output z;
  {
    auto deps = g.control_dependencies({outside, ordered});
    auto section = g.backward_section();
    z = neg(inside, "z");
  }
  Output k = constant(g, vec({3, 4}), "k");
  CloneResult r = clone({z}, {{x, k}});
  int inside_copy = r.copies[static_cast<std::size_t>(inside.node)];
  int ordered_copy = r.copies[static_cast<std::size_t>(ordered.node)];
  BOOST_TEST_REQUIRE(inside_copy >= 0);
  BOOST_TEST_REQUIRE(ordered_copy >= 0);
  BOOST_TEST(!r.copied(outside.node));  // does not depend on x
  BOOST_TEST(g.node(ordered_copy).name == "clone/ordered");
  const Node& zc = r.outputs[0].producer();
  BOOST_TEST(zc.control_inputs == (std::vector<int>{outside.node, ordered_copy}),
             boost::test_tools::per_element());
  BOOST_TEST(zc.backward);
  BOOST_TEST(!g.node(inside_copy).backward);
  BOOST_TEST(zc.site.to_string() == z.producer().site.to_string());
  BOOST_TEST(zc.name == "clone/z");
  Session s(g);
  BOOST_TEST(values(s, r.outputs[0], {{other, vec({0, 0})}}) == (std::vector<float>{-9, -16}),
             boost::test_tools::per_element());
}

// An assign in the region: refused naming it (before anything is added), or copied.
BOOST_AUTO_TEST_CASE(assign_in_the_region_is_refused_or_copied) {
  Graph g;
  Output v = variable(g, vec({1, 1}), "v");
  Output p = placeholder(g, DType::float32, Shape{2}, "p");
  Output update = assign_add(v, p * 2.0, "update");
  Output out = mul(update, scalar(g, 3.0), "out");
  Output q = constant(g, vec({5, 6}), "q");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(clone({out}, {{p, q}}), GraphError,
                        message_has({"'update'", "assign_add", "'v'"}));
  BOOST_TEST(g.num_nodes() == before);
  CloneOptions keep;
  keep.stateful = StatefulPolicy::Copy;
  CloneResult r = clone({out}, {{p, q}}, keep);
  BOOST_TEST(r.copied(update.node));
  BOOST_TEST(!r.copied(v.node));
  Session s(g);
  s.initialize_variables();
  // v = 1 + 2 * (5, 6) = (11, 13); out' = 3 v.
  BOOST_TEST(values(s, r.outputs[0]) == (std::vector<float>{33, 39}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s, v) == (std::vector<float>{11, 13}), boost::test_tools::per_element());
}

// Same stream: explicit seeds are kept, seed 0 becomes the explicit seed of the original's
// stream, and the copies draw what the originals draw. Fresh stream: new seeds, other values.
BOOST_AUTO_TEST_CASE(random_nodes_follow_the_random_policy) {
  Graph g;
  g.set_seed(99);
  Output x = placeholder(g, DType::float32, Shape{64}, "x");
  Output h = identity(x, "h");
  Output r0 = random_uniform_like(h, 0, 1, 0, "r0");
  Output r7 = random_uniform_like(h, 0, 1, 7, "r7");
  Output k = constant(g, Tensor(DType::float32, Shape{64}), "k");
  CloneResult same = clone({r0, r7}, {{x, k}}, CloneOptions{.scope = "same"});
  CloneOptions fresh_options;
  fresh_options.scope = "fresh";
  fresh_options.random = RandomPolicy::FreshStream;
  CloneResult fresh = clone({r0, r7}, {{x, k}}, fresh_options);
  auto seed = [](Output o) { return o.producer().attrs.get_int("seed"); };
  BOOST_TEST(seed(same.outputs[1]) == 7);
  BOOST_TEST(seed(same.outputs[0]) != 0);
  BOOST_TEST(seed(fresh.outputs[0]) != 0);
  BOOST_TEST(seed(fresh.outputs[1]) != 7);
  BOOST_TEST(seed(fresh.outputs[1]) != 0);
  Session s(g);
  std::vector<Feed> feeds{{x, Tensor(DType::float32, Shape{64})}};
  auto draws =
      s.run({r0, r7, same.outputs[0], same.outputs[1], fresh.outputs[0], fresh.outputs[1]}, feeds);
  std::vector<float> a0 = draws[0].to_vector<float>(), a7 = draws[1].to_vector<float>();
  BOOST_TEST(a0 != a7);
  BOOST_TEST(draws[2].to_vector<float>() == a0, boost::test_tools::per_element());
  BOOST_TEST(draws[3].to_vector<float>() == a7, boost::test_tools::per_element());
  BOOST_TEST(draws[4].to_vector<float>() != a0);
  BOOST_TEST(draws[5].to_vector<float>() != a7);
  // The second draws agree too: each copy's generator follows the original's.
  auto second = s.run({r0, same.outputs[0]}, feeds);
  BOOST_TEST(second[0].to_vector<float>() != a0);
  BOOST_TEST(second[1].to_vector<float>() == second[0].to_vector<float>(),
             boost::test_tools::per_element());
}

// A copy that fails part way (here a rewrite the shape function rejects) leaves the graph as it
// was: no copies, no names or scopes taken, use-lists unchanged.
BOOST_AUTO_TEST_CASE(a_failed_clone_leaves_the_graph_unchanged) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output a = tanh(x, "a");
  Output b = exp(a, "b");
  Output c = reshape(b, {3, 1}, "c");
  const int before = g.num_nodes();
  CloneOptions options;
  options.scope = "copy";
  options.rewrite = [](const Node& original, NodeSpec& spec) {
    if (original.name == "c")
      spec.attrs.set("shape", std::vector<std::int64_t>{4, 1});  // 3 elements
  };
  BOOST_CHECK_THROW(clone({c}, {{a, x}}, options), ShapeError);
  BOOST_TEST(g.num_nodes() == before);
  BOOST_TEST(!g.find_node("copy/b"));
  BOOST_TEST(g.consumers(x.node) == (std::vector<int>{a.node}), boost::test_tools::per_element());
  // "copy" is free again.
  BOOST_TEST(clone({c}, {{a, x}}, CloneOptions{.scope = "copy"}).outputs[0].name() == "copy/c");
}

// A whole-graph copy into another graph: same names and ids, variables registered, a rewrite
// hook changing an attribute, shape functions run again.
BOOST_AUTO_TEST_CASE(whole_graph_clone_with_a_rewrite_hook) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output w = variable(g, vec({1, 1, 1}), VariableOptions{false, {"frozen"}}, "w");
  Output y = leaky_relu(x * w, 0.5, "y");
  Graph other;
  CloneOptions options;
  options.target = &other;
  options.whole_graph = true;
  options.rewrite = [](const Node& original, NodeSpec& copy) {
    if (original.op->name == "leaky_relu") copy.attrs.set("alpha", 0.25);
  };
  g.set_signature("predict", {{{"x", x}}, {{"y", y}}});
  CloneResult r = clone({y}, {}, options);
  BOOST_REQUIRE_EQUAL(other.num_nodes(), g.num_nodes());
  BOOST_REQUIRE(other.signature("predict"));
  BOOST_TEST((other.signature("predict")->outputs[0].second == r.outputs[0]));
  BOOST_TEST((other.signature("predict")->inputs[0].second == other.output("x")));
  for (int id = 0; id < g.num_nodes(); ++id) BOOST_TEST(other.node(id).name == g.node(id).name);
  BOOST_TEST((r.outputs[0] == other.output("y")));
  BOOST_REQUIRE(other.variables().size() == 1u);
  BOOST_TEST(!other.variables()[0].trainable);  // the flag and collections come along
  BOOST_TEST(other.variables()[0].collections == (std::vector<std::string>{"frozen"}),
             boost::test_tools::per_element());
  Session s(other);
  s.initialize_variables();
  BOOST_TEST(values(s, r.outputs[0], {{other.output("x"), vec({-4, 2, -8})}}) ==
                 (std::vector<float>{-1, 2, -2}),
             boost::test_tools::per_element());
  // A region clone cannot target another graph.
  CloneOptions elsewhere;
  elsewhere.target = &other;
  BOOST_CHECK_THROW(clone({y}, {{x, x}}, elsewhere), GraphError);
}

// A whole-graph copy into the same graph: under "clone/", with variables of its own.
BOOST_AUTO_TEST_CASE(whole_graph_clone_into_the_same_graph_copies_variables) {
  Graph g;
  Output w = variable(g, vec({2, 3}), "w");
  Output y = square(w, "y");
  int before = g.num_nodes();
  CloneOptions options;
  options.whole_graph = true;
  CloneResult r = clone({y}, {}, options);
  BOOST_TEST(g.num_nodes() == 2 * before);
  for (int id = 0; id < before; ++id)
    BOOST_TEST(g.node(r.copies[static_cast<std::size_t>(id)]).name == "clone/" + g.node(id).name);
  BOOST_REQUIRE_EQUAL(g.variables().size(), 2u);
  Output w_copy = r.map(w);
  BOOST_TEST(g.variables()[1].variable == w_copy.node);
  Session s(g);
  s.initialize_variables();
  s.set_variable_value(w_copy, vec({5, 7}));
  BOOST_TEST(values(s, r.outputs[0]) == (std::vector<float>{25, 49}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s, y) == (std::vector<float>{4, 9}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(promote_to_float64_keeps_random_seeds_and_draws) {
  Graph g;
  g.set_seed(11);
  Output r = random_uniform(g, Shape{8}, 0, 1, DType::float32, 0, "r");
  std::unique_ptr<Graph> wide = promote_to_float64(g);
  BOOST_TEST(wide->node(r.node).attrs.get_int("seed") == 0);
  BOOST_TEST(wide->output("r").dtype() == DType::float64);
  Session narrow_session(g), wide_session(*wide);
  std::vector<float> narrow = narrow_session.run(r).to_vector<float>();
  std::vector<double> w = wide_session.run(wide->output("r")).to_vector<double>();
  BOOST_REQUIRE_EQUAL(w.size(), narrow.size());
  // Same stream: the float64 draws are the float32 draws up to float32 rounding.
  for (std::size_t i = 0; i < w.size(); ++i) BOOST_TEST(std::abs(w[i] - narrow[i]) < 1e-6);
}

BOOST_AUTO_TEST_SUITE_END()
