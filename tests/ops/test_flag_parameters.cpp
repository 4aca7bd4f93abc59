// The yes/no parameters of the builders and of Graph::name_scope are Flags
// (include/dagrad/graph/flag.hpp): a name, number or pointer passed where a flag is expected
// must not compile. With plain bool, `matmul(a, b, "mm")` compiled and computed a^T b. The
// checks are requires-expressions over the exact calls, so a regression fails the build of
// this file; the run-time cases check that the well-formed calls mean what they say.
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

// Each concept holds when its call is well formed. They are templates over the handle type
// so that an ill-formed call is a false concept rather than a compile error.
template <class O>
concept matmul_name_as_transpose_a = requires(O a) {
  dagrad::matmul(a, a, "mm");
};
template <class O>
concept matmul_name_as_transpose_b = requires(O a) {
  dagrad::matmul(a, a, true, "mm");
};
template <class O>
concept matmul_string_as_flag = requires(O a) {
  dagrad::matmul(a, a, std::string("mm"));
};
template <class O>
concept matmul_int_as_flag = requires(O a) {
  dagrad::matmul(a, a, 1);
};
template <class O>
concept matmul_nullptr_as_flag = requires(O a) {
  dagrad::matmul(a, a, nullptr);
};
template <class O>
concept sum_name_as_keepdims = requires(O a) {
  dagrad::sum(a, {1}, "total");
};
template <class O>
concept sum_int_as_keepdims = requires(O a) {
  dagrad::sum(a, {1}, 1);
};
template <class O>
concept mean_name_as_keepdims = requires(O a) {
  dagrad::mean(a, {}, "m");
};
template <class O>
concept max_name_as_keepdims = requires(O a) {
  dagrad::max(a, {0}, "mx");
};
template <class O>
concept min_name_as_keepdims = requires(O a) {
  dagrad::min(a, {0}, "mn");
};
template <class G>
concept name_scope_name_as_reuse = requires(G& g) {
  (void)g.name_scope("dense", "x");
};
template <class G>
concept name_scope_int_as_reuse = requires(G& g) {
  (void)g.name_scope("dense", 1);
};

static_assert(!matmul_name_as_transpose_a<Output>);
static_assert(!matmul_name_as_transpose_b<Output>);
static_assert(!matmul_string_as_flag<Output>);
static_assert(!matmul_int_as_flag<Output>);
static_assert(!matmul_nullptr_as_flag<Output>);
static_assert(!sum_name_as_keepdims<Output>);
static_assert(!sum_int_as_keepdims<Output>);
static_assert(!mean_name_as_keepdims<Output>);
static_assert(!max_name_as_keepdims<Output>);
static_assert(!min_name_as_keepdims<Output>);
static_assert(!name_scope_name_as_reuse<Graph>);
static_assert(!name_scope_int_as_reuse<Graph>);
static_assert(!std::is_convertible_v<const char*, Flag>);
static_assert(!std::is_convertible_v<int, Flag>);
static_assert(!std::is_convertible_v<std::nullptr_t, Flag>);

// The good calls: flags first, then the name.
template <class O>
concept matmul_flag = requires(O a) {
  dagrad::matmul(a, a, true);
};
template <class O>
concept matmul_flags_then_name = requires(O a) {
  dagrad::matmul(a, a, false, false, "mm");
};
template <class O>
concept matmul_flags_then_string = requires(O a) {
  dagrad::matmul(a, a, true, false, std::string("mm"));
};
template <class O>
concept sum_keepdims_then_name = requires(O a) {
  dagrad::sum(a, {1}, true, "total");
};
template <class O>
concept mean_keepdims_then_name = requires(O a) {
  dagrad::mean(a, {}, false, "m");
};
template <class O>
concept max_min_defaults = requires(O a) {
  dagrad::max(a);
  dagrad::min(a, {0}, true);
};
template <class G>
concept name_scope_reuse = requires(G& g) {
  (void)g.name_scope("dense", true);
};

static_assert(matmul_flag<Output>);
static_assert(matmul_flags_then_name<Output>);
static_assert(matmul_flags_then_string<Output>);
static_assert(sum_keepdims_then_name<Output>);
static_assert(mean_keepdims_then_name<Output>);
static_assert(max_min_defaults<Output>);
static_assert(name_scope_reuse<Graph>);
static_assert(std::is_convertible_v<bool, Flag>);

// The double, integer and dtype parameters take no name either: a pointer converts to none of
// them (only to bool, which Flag closes).
template <class O>
concept elu_name_as_alpha = requires(O x) {
  dagrad::elu(x, "e");
};
template <class O>
concept leaky_relu_name_as_alpha = requires(O x) {
  dagrad::leaky_relu(x, "l");
};
template <class O>
concept softmax_name_as_axis = requires(O x) {
  dagrad::softmax(x, "s");
};
template <class O>
concept argmax_name_as_axis = requires(O x) {
  dagrad::argmax(x, "a");
};
template <class O>
concept one_hot_name_as_dtype = requires(O x) {
  dagrad::one_hot(x, 3, "oh");
};
template <class O>
concept bernoulli_name_as_seed = requires(O x) {
  dagrad::bernoulli_like(x, 0.5, "mask");
};
template <class G>
concept scalar_name_as_dtype = requires(G& g) {
  dagrad::scalar(g, 1.0, "s");
};
template <class G>
concept fill_name_as_dtype = requires(G& g) {
  dagrad::fill(g, Shape{2}, 1.0, "f");
};

static_assert(!elu_name_as_alpha<Output>);
static_assert(!leaky_relu_name_as_alpha<Output>);
static_assert(!softmax_name_as_axis<Output>);
static_assert(!argmax_name_as_axis<Output>);
static_assert(!one_hot_name_as_dtype<Output>);
static_assert(!bernoulli_name_as_seed<Output>);
static_assert(!scalar_name_as_dtype<Graph>);
static_assert(!fill_name_as_dtype<Graph>);

}  // namespace

BOOST_AUTO_TEST_SUITE(flag_parameters)

// a = [[1, 2], [3, 4]], b = [[5, 6], [7, 8]]: a b = [[19, 22], [43, 50]] and
// a^T b = [[26, 30], [38, 44]], so the two cannot be confused.
BOOST_AUTO_TEST_CASE(matmul_flags_then_name_is_the_plain_product) {
  Graph g;
  Output a = constant(g, Tensor::from_vector<double>({2, 2}, {1, 2, 3, 4}), "a");
  Output b = constant(g, Tensor::from_vector<double>({2, 2}, {5, 6, 7, 8}), "b");
  Output mm = matmul(a, b, false, false, "mm");
  Output ta = matmul(a, b, true);
  BOOST_TEST(mm.producer().name == "mm");
  Session s(g);
  check_values(s.run(mm), {19, 22, 43, 50}, 0.0, "a b");
  check_values(s.run(ta), {26, 30, 38, 44}, 0.0, "a^T b");
}

BOOST_AUTO_TEST_CASE(reductions_keepdims_then_name) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6}), "x");
  Output total = sum(x, {1}, true, "total");
  Output m = mean(x, {}, false, "m");
  BOOST_TEST(total.producer().name == "total");
  BOOST_TEST(m.producer().name == "m");
  BOOST_TEST((total.shape() == Shape{2, 1}));
  BOOST_TEST((m.shape() == Shape{}));
  Session s(g);
  check_values(s.run(total), {6, 15}, 0.0, "row sums");
  check_values(s.run(m), {3.5}, 0.0, "mean of 1..6");
}

BOOST_AUTO_TEST_CASE(name_scope_reuse_flag) {
  Graph g;
  { auto s = g.name_scope("dense"); }
  {
    auto s = g.name_scope("dense", true);
    BOOST_TEST(g.current_scope() == "dense/");
  }
  {
    auto s = g.name_scope("dense", false);
    BOOST_TEST(g.current_scope() == "dense_1/");
  }
}

BOOST_AUTO_TEST_SUITE_END()
