// Builds and runs a graph against the installed dagrad: y = x * w + 1 with x fed at run time.
#include <dagrad/dagrad.hpp>
#include <iostream>

int main() {
  using namespace dagrad;
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output w = variable(g, Tensor::from_vector<float>({2}, {10, 20}), "w");
  Output y = x * w + 1.0;
  Session session(g);
  session.initialize_variables();
  Tensor out = session.run(y, {{x, Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})}});
  std::cout << "consumer ok: y = [";
  auto v = out.to_vector<float>();
  for (std::size_t i = 0; i < v.size(); ++i) std::cout << (i ? ", " : "") << v[i];
  std::cout << "]\n";
  return 0;
}
