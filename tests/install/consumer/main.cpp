// y = relu(x W + b) for a batch x fed at run time, then its DOT picture.
#include <dagrad/dagrad.hpp>
#include <iostream>

int main() {
  using namespace dagrad;
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");  // batch size known at run time
  Output y;
  {
    auto scope = g.name_scope("dense");
    Output w = variable(g, Tensor::from_vector<float>({2, 2}, {1, -1, 2, 0.5f}), "kernel");
    Output b = variable(g, Tensor::from_vector<float>({2}, {0.5f, -3}), "bias");
    y = relu(matmul(x, w) + b, "y");
  }
  Session session(g);
  session.initialize_variables();
  Tensor batch = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor out = session.run(y, {{x, batch}});
  std::cout << "y = " << out.to_string() << "\n";  // [[5.5, 0], [11.5, 0]]
  write_dot_file(g, "dense.dot");                  // or .svg / .png, rendered by Graphviz
  return 0;
}
