#include <boost/test/unit_test.hpp>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

BOOST_AUTO_TEST_SUITE(core)

BOOST_AUTO_TEST_CASE(add_and_run) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output w = variable(g, Tensor::from_vector<float>({2}, {10, 20}), "w");
  Output y = x * w + 1.0;
  Session s(g);
  s.initialize_variables();
  Tensor out = s.run(y, {{x, Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6})}});
  BOOST_TEST(out.to_vector<float>() == (std::vector<float>{11, 41, 31, 81, 51, 121}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// Graph::rollback undoes a construction: nodes, the names they and their scopes took, and
// variables registered since the checkpoint.
BOOST_AUTO_TEST_SUITE(rollback)

BOOST_AUTO_TEST_CASE(removes_nodes_names_scopes_and_variables) {
  using namespace dagrad;
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Graph::Checkpoint before = g.checkpoint();
  {
    auto scope = g.name_scope("layer");
    variable(g, Tensor::from_vector<double>({2}, {1, 2}), "w");
    tanh(x, "act");
  }
  tanh(x, "x");  // takes "x_1"
  BOOST_TEST(g.variables().size() == 1u);
  g.rollback(before);
  BOOST_TEST(g.num_nodes() == 1);
  BOOST_TEST(g.variables().empty());
  BOOST_TEST(!g.find_node("layer/w"));
  BOOST_TEST(!g.find_node("x_1"));
  BOOST_TEST(g.current_scope() == "");
  BOOST_TEST(g.consumers(x.node).empty());  // use-lists forget the removed consumers
  // The names are free again: the same construction gets the same names.
  {
    auto scope = g.name_scope("layer");
    BOOST_TEST(g.current_scope() == "layer/");
    BOOST_TEST(tanh(x, "act").name() == "layer/act");
  }
  BOOST_TEST(tanh(x, "x").name() == "x_1");
  BOOST_TEST(g.node(g.num_nodes() - 1).id == g.num_nodes() - 1);
  BOOST_TEST(g.consumers(x.node) == (std::vector<int>{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(nested_checkpoints_restore_the_names_of_their_time) {
  using namespace dagrad;
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  neg(x, "n");  // "n" taken
  Graph::Checkpoint outer = g.checkpoint();
  neg(x, "n");  // "n_1"
  {
    Graph::Checkpoint inner = g.checkpoint();
    {
      auto scope = g.name_scope("s");
      BOOST_TEST(neg(x, "n").name() == "s/n");
      BOOST_TEST(neg(x, "n").name() == "s/n_1");
    }
    g.rollback(inner);
    // The inner checkpoint's names are free again, the outer's "n_1" is still taken.
    BOOST_TEST(neg(x, "n").name() == "n_2");
  }
  {
    auto scope = g.name_scope("s");  // free again: the inner rollback undid it
    BOOST_TEST(g.current_scope() == "s/");
  }
  g.rollback(outer);
  BOOST_TEST(neg(x, "n").name() == "n_1");
  BOOST_TEST(neg(x, "s").name() == "s");  // the scope "s" was taken after `outer`
  BOOST_TEST(g.rollbacks() == 2u);
}

BOOST_AUTO_TEST_CASE(refuses_a_foreign_or_outdated_checkpoint) {
  using namespace dagrad;
  Graph g, other;
  Output x = placeholder(g, DType::float64, Shape{2}, "x");
  Graph::Checkpoint early = g.checkpoint();
  neg(x);
  Graph::Checkpoint late = g.checkpoint();
  BOOST_CHECK_THROW(other.rollback(early), GraphError);
  g.rollback(early);
  BOOST_CHECK_THROW(g.rollback(late), GraphError);  // the graph is older than `late` now
  BOOST_TEST(g.num_nodes() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
