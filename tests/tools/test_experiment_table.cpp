// The experiments' shared pieces (tools/experiments/experiment.cpp): tables as text, Markdown and
// CSV; mean and spread over seeds; row selection and accuracy.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "tools/experiments/experiment.hpp"

using namespace dagrad;
using namespace dagrad::tools::experiments;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(experiment_table)

BOOST_AUTO_TEST_CASE(text_pads_columns_and_right_aligns_numbers) {
  Table t({"optimizer", "test accuracy"});
  t.add({"sgd", "0.8512 ± 0.0031"});
  t.add({"nesterov", "0.87"});
  // Widths: 9 and 15 display columns (± is one column, two bytes).
  BOOST_TEST(t.text() ==
             "optimizer  test accuracy\n"
             "--------------------------\n"
             "sgd        0.8512 ± 0.0031\n"
             "nesterov              0.87\n");
  BOOST_CHECK_THROW(t.add({"only one cell"}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(markdown_and_csv_escape_what_their_syntax_needs) {
  Table t({"variant", "value"});
  t.add({"a|b", "1"});
  t.add({"say \"hi\", then", "2"});
  BOOST_TEST(t.markdown() ==
             "| variant | value |\n"
             "|---|---:|\n"
             "| a\\|b | 1 |\n"
             "| say \"hi\", then | 2 |\n");
  BOOST_TEST(t.csv() ==
             "variant,value\n"
             "a|b,1\n"
             "\"say \"\"hi\"\", then\",2\n");
}

BOOST_AUTO_TEST_CASE(mean_and_sample_standard_deviation) {
  // 0.80, 0.82, 0.84: mean 0.82, sample variance (0.0004 + 0 + 0.0004) / 2 = 0.0004, sd 0.02.
  Spread s = spread({0.80, 0.82, 0.84});
  BOOST_TEST(s.mean == 0.82, tt::tolerance(1e-12));
  BOOST_TEST(s.stddev == 0.02, tt::tolerance(1e-9));
  BOOST_TEST(mean_spread({0.80, 0.82, 0.84}) == "0.8200 ± 0.0200");
  BOOST_TEST(mean_spread({0.5}) == "0.5000");
  BOOST_TEST(mean_spread({0.5, NAN}) == "nan");
  BOOST_TEST(spread({0.5}).stddev == 0.0);
  BOOST_TEST(fixed(INFINITY) == "inf");
  BOOST_TEST(fixed(0.123456, 2) == "0.12");
  BOOST_TEST(general(0.0000123) == "1.23e-05");
  BOOST_TEST(general(0.00551, 2) == "0.0055");
  BOOST_TEST(mean_spread_general({0.01, 0.01}) == "0.01");  // no spread: one value
  // 0.004 and 0.007: mean 0.0055, sample sd 0.0015 * sqrt(2) = 0.00212...
  BOOST_TEST(mean_spread_general({0.004, 0.007}) == "0.0055 ± 0.0021");
}

BOOST_AUTO_TEST_CASE(rows_are_taken_and_gathered_for_any_dtype) {
  Tensor x = Tensor::from_vector<float>(Shape{3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor mid = take_rows(x, 1, 3);
  BOOST_TEST(mid.shape() == (Shape{2, 2}));
  BOOST_TEST(mid.data<float>()[0] == 3.0f);
  BOOST_TEST(mid.data<float>()[3] == 6.0f);
  Tensor labels = Tensor::from_vector<std::int32_t>(Shape{3}, {7, 8, 9});
  Tensor picked = gather(labels, {2, 0, 2});
  BOOST_TEST(picked.data<std::int32_t>()[0] == 9);
  BOOST_TEST(picked.data<std::int32_t>()[1] == 7);
  BOOST_TEST(picked.data<std::int32_t>()[2] == 9);
  BOOST_TEST(take_rows(x, 1, 1).shape()[0] == 0);
  BOOST_CHECK_THROW(take_rows(x, 2, 4), std::out_of_range);
  BOOST_CHECK_THROW(take_rows(x, -1, 1), std::out_of_range);
  BOOST_CHECK_THROW(gather(x, {3}), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(accuracy_counts_rows_whose_largest_output_is_the_label) {
  Tensor p = Tensor::from_vector<float>(Shape{3, 3},
                                        {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.2f, 0.3f, 0.5f});
  Tensor y = Tensor::from_vector<std::int32_t>(Shape{3}, {1, 1, 2});
  BOOST_TEST(accuracy(p, y) == 2.0 / 3.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
