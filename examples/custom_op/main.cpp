// Loads the custom-op plugin, builds a graph with its ops, runs it, and checks their gradients.
// Usage: custom_op_demo PATH/TO/libdagrad_custom_ops.so
#include <dagrad/dagrad.hpp>
#include <dagrad/graph/plugin.hpp>
#include <iostream>

int main(int argc, char** argv) {
  using namespace dagrad;
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " PLUGIN.so\n";
    return 2;
  }
  try {
    for (const std::string& name : load_plugin(argv[1], default_registry()))
      std::cout << "loaded op " << name << "\n";
    Graph g;
    Output x = placeholder(g, DType::float64, Shape{-1}, "x");
    Output y = g.add("swish", {x}, {}, NodeOptions{"swish", {}});
    Output h = g.add("huber", {x}, {{"delta", 1.0}}, NodeOptions{"huber", {}});
    Output dy = gradients(sum(y + h), {x})[0];
    Session session(g);
    Tensor xs = Tensor::from_vector<double>({4}, {-2, -0.5, 0.5, 2});
    auto out = session.run({y, h, dy}, {{x, xs}});
    std::cout << "x                 = " << xs.to_string() << "\n"
              << "swish(x)          = " << out[0].to_string() << "\n"
              << "huber(x, 1)       = " << out[1].to_string() << "\n"
              << "d(swish+huber)/dx = " << out[2].to_string() << "\n";
    bool ok = true;
    std::vector<GradCheckResult> results;
    for (const char* op : {"swish", "huber"}) {
      auto r = check_op_gradients(default_registry(), op);
      results.insert(results.end(), r.begin(), r.end());
    }
    for (const auto& r : results) ok = ok && r.passed;
    std::cout << format_gradcheck_table(results);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
