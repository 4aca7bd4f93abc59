// graph_basics: the first steps with dagrad. Builds a small two-layer network as a static
// graph (name scopes, a placeholder with an unknown batch dimension, variables), runs it on a
// batch in a Session, and writes the graph three ways: DOT source, an SVG picture rendered by
// Graphviz, and a graph file that `dagrad dot` (or load_graph) reads back.
//
//   graph_basics [OUTPUT_DIR]     (default "out")
#include <cmath>
#include <filesystem>
#include <iostream>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

// One fully connected layer, y = activation(x W + b), in its own name scope. The kernel starts
// from small random normal values and the bias from zeros; both live in the session.
Output dense(Output x, std::int64_t units, const char* scope_name, bool with_relu,
             std::int64_t seed) {
  Graph& g = *x.graph;
  auto scope = g.name_scope(scope_name);
  std::int64_t inputs = x.shape()[x.shape().rank() - 1];
  Output kernel = variable(
      random_normal(g, Shape{inputs, units}, 0.0, 0.5, DType::float32, seed, "kernel_init"),
      "kernel");
  Output bias = variable(g, Tensor(DType::float32, Shape{units}), "bias");  // zeros
  Output y = add(matmul(x, kernel), bias, "logits");
  return with_relu ? relu(y, "relu") : y;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out_dir = argc > 1 ? argv[1] : "out";
  try {
    Graph g;
    g.set_seed(42);  // random initial values are the same on every run

    // A batch of 4 features per example; the batch size is known only when the graph runs.
    Output x = placeholder(g, DType::float32, Shape{Shape::kUnknown, 4}, "x");
    Output hidden = dense(x, 8, "layer1", /*with_relu=*/true, /*seed=*/1);
    Output logits = dense(hidden, 3, "layer2", /*with_relu=*/false, /*seed=*/2);
    Output probabilities;
    {
      auto scope = g.name_scope("output");
      probabilities = softmax(logits, -1, "probabilities");
    }
    std::cout << "built " << g.num_nodes() << " nodes; x is " << x.shape().to_string()
              << ", probabilities is " << probabilities.shape().to_string() << "\n";

    // Variables are initialized once per session; each run feeds x and fetches the output.
    Session session(g);
    session.initialize_variables();
    Tensor batch = Tensor::from_vector<float>({3, 4}, {0.5f, -1.0f, 2.0f, 0.0f,  //
                                                       1.0f, 1.0f, 1.0f, 1.0f,   //
                                                       -2.0f, 0.5f, 0.0f, 3.0f});
    Tensor result = session.run(probabilities, {{x, batch}});
    std::cout << "probabilities for a batch of 3:\n  " << result.to_string() << "\n";

    std::filesystem::create_directories(out_dir);
    const std::string dot_path = (out_dir / "graph_basics.dot").string();
    const std::string svg_path = (out_dir / "graph_basics.svg").string();
    const std::string graph_path = (out_dir / "graph_basics.dagrad").string();
    write_dot_file(g, dot_path);
    write_dot_file(g, svg_path);
    save_graph(g, graph_path);

    // The graph file rebuilds the same graph: same seed, same initial values, same output.
    auto loaded = load_graph(graph_path, default_registry());
    Session reloaded(*loaded);
    reloaded.initialize_variables();
    Tensor again =
        reloaded.run(loaded->output("output/probabilities"), {{loaded->output("x"), batch}});
    double max_difference = 0.0;
    for (std::int64_t i = 0; i < again.size(); ++i)
      max_difference =
          std::max(max_difference, std::abs(again.value_as_double(i) - result.value_as_double(i)));
    std::cout << "reloaded " << graph_path << ": " << loaded->num_nodes()
              << " nodes, largest difference in the output " << max_difference << "\n";
    std::cout << "wrote " << dot_path << ", " << svg_path << " and " << graph_path << "\n";
    return max_difference == 0.0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "graph_basics: error: " << e.what() << "\n";
    return 1;
  }
}
