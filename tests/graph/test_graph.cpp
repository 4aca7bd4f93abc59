#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

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

void copy_kernel(KernelContext&) {}

// A registry with the state ops and "bad_plugin", whose shape function reads input 3 of 1.
const OpRegistry& plugin_registry() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    register_state_ops(*r);
    OpRecord op;
    op.name = "bad_plugin";
    op.input_names = {"x"};
    op.shape_fn = [](ShapeContext& ctx) {
      ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(3));
    };
    op.kernels[static_cast<std::size_t>(DType::float32)] = &copy_kernel;
    op.not_differentiable_reason = "test op";
    r->add(std::move(op));
    return r;
  }();
  return *registry;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(graph)

// consumers: each data consumer once, in id order; control consumers apart.
BOOST_AUTO_TEST_CASE(use_lists_follow_added_nodes) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output y = mul(x, x, "y");  // reads x twice: listed once
  Output z = add(y, x, "z");
  BOOST_TEST(g.consumers(x.node) == (std::vector<int>{y.node, z.node}),
             boost::test_tools::per_element());
  BOOST_TEST(g.consumers(y.node) == std::vector<int>{z.node}, boost::test_tools::per_element());
  BOOST_TEST(g.consumers(z.node).empty());
  Output after;
  {
    auto deps = g.control_dependencies({y});
    after = identity(z, "after");
  }
  BOOST_TEST(g.control_consumers(y.node) == std::vector<int>{after.node},
             boost::test_tools::per_element());
  BOOST_TEST(g.consumers(y.node) == std::vector<int>{z.node}, boost::test_tools::per_element());
  BOOST_TEST(g.consumers(z.node) == std::vector<int>{after.node}, boost::test_tools::per_element());
  BOOST_TEST(g.control_consumers(x.node).empty());
  BOOST_CHECK_THROW(g.consumers(99), GraphError);
  // A failed add leaves the use-lists as they were.
  BOOST_CHECK_THROW(mul(x, placeholder(g, DType::float32, Shape{3}, "bad")), ShapeError);
  BOOST_TEST(g.consumers(x.node).size() == 2u);
}

BOOST_AUTO_TEST_CASE(outputs_hash_and_compare_on_graph_node_and_index) {
  Graph g, h;
  Output a{&g, 1, 0}, b{&g, 1, 0}, c{&g, 1, 1}, d{&g, 2, 0}, e{&h, 1, 0};
  BOOST_TEST((a == b));
  BOOST_TEST(!(a == c));
  BOOST_TEST(!(a == d));
  BOOST_TEST(!(a == e));
  BOOST_TEST(std::hash<Output>{}(a) == std::hash<Output>{}(b));
  std::unordered_set<Output> set{a, b, c, d, e};
  BOOST_TEST(set.size() == 4u);
}

// Bitwise float semantics: 0.0 and -0.0 differ, a NaN equals itself; kinds never coerce;
// tensors compare by dtype, shape and bytes.
BOOST_AUTO_TEST_CASE(attribute_values_hash_and_compare_bitwise) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(attr_equal(AttrValue(nan), AttrValue(nan)));
  BOOST_TEST(attr_hash(AttrValue(nan)) == attr_hash(AttrValue(nan)));
  BOOST_TEST(!attr_equal(AttrValue(0.0), AttrValue(-0.0)));
  BOOST_TEST(attr_equal(AttrValue(0.5), AttrValue(0.5)));
  BOOST_TEST(!attr_equal(AttrValue(std::int64_t{1}), AttrValue(1.0)));
  BOOST_TEST(!attr_equal(AttrValue(true), AttrValue(std::int64_t{1})));
  BOOST_TEST(attr_equal(AttrValue(std::vector<std::int64_t>{1, 2}),
                        AttrValue(std::vector<std::int64_t>{1, 2})));
  BOOST_TEST(!attr_equal(AttrValue(std::vector<std::int64_t>{1, 2}),
                         AttrValue(std::vector<std::int64_t>{2, 1})));
  BOOST_TEST(attr_equal(AttrValue(Shape{-1, 3}), AttrValue(Shape{-1, 3})));
  BOOST_TEST(!attr_equal(AttrValue(Shape{3}), AttrValue(Shape{1, 3})));
  BOOST_TEST(attr_equal(AttrValue(std::string("a")), AttrValue(std::string("a"))));
  BOOST_TEST(!attr_equal(AttrValue(DType::float32), AttrValue(DType::float64)));

  Tensor t = Tensor::from_vector<float>({2}, {1, 2});
  Tensor same = Tensor::from_vector<float>({2}, {1, 2});  // another buffer, same bytes
  BOOST_TEST(attr_equal(AttrValue(t), AttrValue(same)));
  BOOST_TEST(attr_hash(AttrValue(t)) == attr_hash(AttrValue(same)));
  BOOST_TEST(!attr_equal(AttrValue(t), AttrValue(Tensor::from_vector<float>({2}, {1, 3}))));
  BOOST_TEST(!attr_equal(AttrValue(t), AttrValue(Tensor::from_vector<float>({1, 2}, {1, 2}))));
  BOOST_TEST(!attr_equal(
      AttrValue(t), AttrValue(Tensor::from_vector<std::int32_t>({2}, {1065353216, 1073741824}))));
  BOOST_TEST(!attr_equal(AttrValue(Tensor::from_vector<float>({1}, {0.f})),
                         AttrValue(Tensor::from_vector<float>({1}, {-0.f}))));
  BOOST_TEST(attr_equal(AttrValue(Tensor()), AttrValue(Tensor())));
  BOOST_TEST(!attr_equal(AttrValue(Tensor()), AttrValue(t)));
  // Different values hash differently here (not guaranteed in general, but these must not
  // all collide).
  std::unordered_set<std::size_t> hashes{attr_hash(AttrValue(0.0)), attr_hash(AttrValue(-0.0)),
                                         attr_hash(AttrValue(std::int64_t{0})),
                                         attr_hash(AttrValue(false)), attr_hash(AttrValue(t))};
  BOOST_TEST(hashes.size() == 5u);

  AttrMap m1{{"alpha", 0.5}, {"axes", std::vector<std::int64_t>{1}}};
  AttrMap m2{{"alpha", 0.5}, {"axes", std::vector<std::int64_t>{1}}};
  AttrMap m3{{"alpha", -0.5}, {"axes", std::vector<std::int64_t>{1}}};
  BOOST_TEST((m1 == m2));
  BOOST_TEST(m1.hash() == m2.hash());
  BOOST_TEST(!(m1 == m3));
  std::unordered_set<AttrValue, AttrValueHash, AttrValueEqual> set{AttrValue(nan), AttrValue(nan),
                                                                   AttrValue(0.0), AttrValue(-0.0)};
  BOOST_TEST(set.size() == 3u);
}

// "a/a/.../a" with `parts` parts.
std::string deep_name(int parts) {
  std::string name = "a";
  for (int i = 1; i < parts; ++i) name += "/a";
  return name;
}

// Names are capped at kMaxNameDepth parts and kMaxNameBytes bytes, when nodes and scopes are made
// (graph files load through add_node, so loading too). Regression: a node name of 20,000 scope
// levels made `dagrad dot` take 16 s and 8.4 GB; errors quoted such names whole.
BOOST_AUTO_TEST_CASE(names_are_capped_in_depth_and_length) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  // At the limits: 64 parts, 1024 bytes.
  BOOST_TEST(identity(x, deep_name(kMaxNameDepth)).name() == deep_name(64));
  const std::string longest(kMaxNameBytes, 'n');
  BOOST_TEST(identity(x, longest).name() == longest);
  const int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(
      identity(x, deep_name(65)), GraphError,
      message_has({"op identity", "65 '/'-separated parts, more than 64", "'a/a/a/a"}));
  BOOST_CHECK_EXCEPTION(identity(x, longest + "n"), GraphError,
                        message_has({"longer than 1024 bytes", "...' (1025 bytes)"}));
  // 20,000 levels: refused at once, and the message quotes 80 bytes of the name, not 40,000.
  const auto start = std::chrono::steady_clock::now();
  try {
    identity(x, deep_name(20000));
    BOOST_FAIL("a name of 20,000 parts was accepted");
  } catch (const GraphError& e) {
    BOOST_TEST(std::string(e.what()).size() < 1000u, e.what());
    BOOST_TEST(std::string(e.what()).find("(39999 bytes)") != std::string::npos, e.what());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(seconds < 0.5);
  BOOST_TEST(g.num_nodes() == before);
  // Scopes: entering the 65th level fails; a node directly in the 64th has 65 parts.
  {
    auto scope = g.absolute_scope(deep_name(64));
    BOOST_CHECK_EXCEPTION((void)g.name_scope("b"), GraphError,
                          message_has({"invalid name scope", "65 '/'-separated parts"}));
    BOOST_CHECK_THROW(identity(x, "leaf"), GraphError);
  }
  BOOST_CHECK_THROW((void)g.absolute_scope(deep_name(65)), GraphError);
  BOOST_TEST(invalid_name_reason(deep_name(64)).empty());
}

BOOST_AUTO_TEST_CASE(every_error_is_a_dagrad_error) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  BOOST_CHECK_THROW(add(x, placeholder(g, DType::float32, Shape{3})), Error);  // ShapeError
  BOOST_CHECK_THROW(g.output("nothing"), Error);                               // GraphError
  Session s(g);
  BOOST_CHECK_THROW(s.run(x), Error);  // RunError: not fed
  BOOST_CHECK_THROW(load_graph("/nonexistent/graph.dagrad", default_registry()),
                    Error);  // FileError
  static_assert(std::is_base_of_v<std::runtime_error, Error>);
}

// A group has no outputs: asking for its dtype is a GraphError naming it, not std::out_of_range.
BOOST_AUTO_TEST_CASE(dtype_of_a_node_without_outputs_names_the_node) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Operation group_op = group(g, {x}, "done");
  Output done{&g, group_op.node, 0};  // an Output handle forced onto the group
  BOOST_CHECK_EXCEPTION(done.dtype(), GraphError,
                        message_has({"'done'", "group", "no output 0", "has 0"}));
  BOOST_CHECK_EXCEPTION(done.shape(), GraphError, message_has({"'done'"}));
  BOOST_CHECK_EXCEPTION((Output{&g, x.node, 1}).dtype(), GraphError,
                        message_has({"'x'", "no output 1"}));
  BOOST_CHECK_EXCEPTION((Output{&g, 42, 0}).shape(), GraphError, message_has({"node 42"}));
  BOOST_CHECK_THROW(Output{}.dtype(), GraphError);
  BOOST_CHECK_THROW(g.node(-1), GraphError);
}

BOOST_AUTO_TEST_CASE(attribute_kind_mismatch_names_attribute_and_kinds) {
  AttrMap m{{"alpha", std::int64_t{2}}};
  BOOST_CHECK_EXCEPTION(m.get_float("alpha"), GraphError, message_has({"'alpha'", "float", "int"}));
  BOOST_CHECK_EXCEPTION(m.get_shape("alpha"), GraphError, message_has({"'alpha'", "shape", "int"}));
  BOOST_CHECK_EXCEPTION(m.get_int("beta"), GraphError, message_has({"'beta'", "missing"}));
  BOOST_TEST(m.get_int("alpha") == 2);
}

// A plugin's shape function that reads a missing input gets an error, not undefined behavior.
BOOST_AUTO_TEST_CASE(shape_context_checks_input_indices) {
  Graph g(plugin_registry());
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(g.add("bad_plugin", {x}, {}, {"bad"}), GraphError,
                        message_has({"'bad'", "bad_plugin", "input 3", "1 inputs"}));
  BOOST_TEST(g.num_nodes() == before);
}

namespace {

// An op whose attribute "copies" says how many outputs it has, each a copy of x.
OpRecord copies_record() {
  OpRecord op;
  op.name = "copies";
  op.input_names = {"x"};
  op.output_names = {"y"};
  op.attrs = {{"copies", AttrKind::Int, {}}};
  op.output_count = [](const AttrMap& attrs) {
    std::int64_t n = attrs.get_int("copies");
    if (n > 100) throw std::invalid_argument("copies " + std::to_string(n) + " is over 100");
    return static_cast<int>(n);
  };
  op.shape_fn = [](ShapeContext& ctx) {
    for (int i = 0; i < static_cast<int>(ctx.outputs().size()); ++i)
      ctx.set_output(i, ctx.input_dtype(0), ctx.input_shape(0));
  };
  op.dispatch_input = 0;
  op.kernels[static_cast<std::size_t>(DType::float32)] = [](KernelContext& c) {
    for (Tensor* out : c.outputs) out->copy_from(c.input(0));
  };
  op.not_differentiable_reason = "test op";
  return op;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_attribute_can_give_the_number_of_outputs) {
  OpRegistry registry;
  register_state_ops(registry);
  registry.add(copies_record());
  Graph g(registry);
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  std::vector<Output> three = g.add_node("copies", {x}, {{"copies", std::int64_t{3}}});
  BOOST_TEST(three.size() == 3u);
  BOOST_TEST(three[2].name() == "copies:2");
  BOOST_TEST(three[2].shape() == Shape{2});
  BOOST_TEST(g.add_node("copies", {x}, {{"copies", std::int64_t{0}}}).empty());
  Session s(g);
  std::vector<Tensor> got =
      s.run({three[0], three[2]}, {{x, Tensor::from_vector<float>({2}, {1.5f, -2.0f})}});
  BOOST_TEST(got[1].to_vector<float>() == (std::vector<float>{1.5f, -2.0f}),
             boost::test_tools::per_element());
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(g.add_node("copies", {x}, {{"copies", std::int64_t{-1}}}, {"neg"}),
                        GraphError, message_has({"'neg'", "copies", "-1 outputs"}));
  BOOST_CHECK_EXCEPTION(g.add_node("copies", {x}, {{"copies", std::int64_t{101}}}, {"many"}),
                        ShapeError, message_has({"'many'", "over 100"}));
  BOOST_TEST(g.num_nodes() == before);

  // The registry wants one repeated output name and kernels that dispatch on an input.
  OpRecord two_names = copies_record();
  two_names.name = "two_names";
  two_names.output_names = {"a", "b"};
  BOOST_CHECK_EXCEPTION(registry.add(two_names), GraphError,
                        message_has({"two_names", "one (repeated) output"}));
  OpRecord on_output = copies_record();
  on_output.name = "on_output";
  on_output.dispatch_input = -1;
  BOOST_CHECK_EXCEPTION(registry.add(on_output), GraphError,
                        message_has({"on_output", "dispatch", "input"}));
}

BOOST_AUTO_TEST_SUITE_END()
