// The pieces of the layer-reuse experiments (tools/experiments/layer_reuse, rotations): rows
// chosen by label, relabelling, flattening, rotations by quarter turns, histories joined across
// phases, and models made of another model's lower layers. Expected values are worked out by hand.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <set>
#include <stdexcept>

#include "dagrad/dagrad.hpp"
#include "tools/experiments/layer_reuse.hpp"
#include "tools/experiments/rotations.hpp"

using namespace dagrad;
using namespace dagrad::tools::experiments;

namespace {

Tensor ints(std::vector<std::int32_t> values) {
  auto n = static_cast<std::int64_t>(values.size());
  return Tensor::from_vector<std::int32_t>(Shape{n}, values);
}

// Images (n, s, s) whose pixel (i, r, c) is 100 i + 10 r + c, so every value names its place.
Tensor numbered_images(std::int64_t n, std::int64_t s) {
  Tensor t(DType::float32, Shape{n, s, s});
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t r = 0; r < s; ++r)
      for (std::int64_t c = 0; c < s; ++c)
        p[(i * s + r) * s + c] = static_cast<float>(100 * i + 10 * r + c);
  return t;
}

std::vector<float> floats(const Tensor& t) {
  return t.to_vector<float>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(experiments_layer_reuse)

BOOST_AUTO_TEST_CASE(rows_where_keeps_the_matching_rows_in_order) {
  Tensor labels = ints({5, 0, 6, 6, 9, 5});
  auto rows = rows_where(labels, [](std::int32_t l) { return l == 5 || l == 6; });
  BOOST_TEST(rows == (std::vector<std::int64_t>{0, 2, 3, 5}), boost::test_tools::per_element());
  BOOST_TEST(rows_where(labels, [](std::int32_t l) { return l == 7; }).empty());
  BOOST_CHECK_THROW(
      rows_where(Tensor::from_vector<float>(Shape{2}, {5, 6}), [](std::int32_t) { return true; }),
      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(take_rows_copies_whole_rows_in_the_given_order) {
  Tensor x = numbered_images(3, 2);  // rows: [0 1 10 11], [100 101 110 111], [200 ...]
  Tensor picked = take_rows(x, {2, 0, 2});
  BOOST_TEST(picked.shape() == (Shape{3, 2, 2}));
  BOOST_TEST(
      floats(picked) == (std::vector<float>{200, 201, 210, 211, 0, 1, 10, 11, 200, 201, 210, 211}),
      boost::test_tools::per_element());
  Tensor none = take_rows(x, {});
  BOOST_TEST(none.shape() == (Shape{0, 2, 2}));
  BOOST_CHECK_THROW(take_rows(x, {3}), std::out_of_range);
  BOOST_CHECK_THROW(take_rows(x, {-1}), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(select_takes_the_first_matching_rows_up_to_a_count) {
  Tensor x = numbered_images(5, 1);  // one pixel per image: 0, 100, 200, 300, 400
  Tensor labels = ints({6, 1, 5, 6, 5});
  Subset s = select(
      x, labels, [](std::int32_t l) { return l >= 5; }, 2);
  BOOST_TEST(s.size() == 2);
  BOOST_TEST(floats(s.x) == (std::vector<float>{0, 200}), boost::test_tools::per_element());
  BOOST_TEST(s.y.to_vector<std::int32_t>() == (std::vector<std::int32_t>{6, 5}),
             boost::test_tools::per_element());
  Subset all = select(x, labels, [](std::int32_t l) { return l >= 5; });
  BOOST_TEST(all.size() == 4);
}

BOOST_AUTO_TEST_CASE(remap_labels_gives_the_book_task_a_labels) {
  // Task A: 5 and 6 are gone, 7, 8, 9 move down by 2.
  const std::vector<std::int32_t> task_a = {0, 1, 2, 3, 4, -1, -1, 5, 6, 7};
  BOOST_TEST(remap_labels(ints({0, 4, 7, 9, 8, 3}), task_a).to_vector<std::int32_t>() ==
                 (std::vector<std::int32_t>{0, 4, 5, 7, 6, 3}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(remap_labels(ints({0, 5}), task_a), std::invalid_argument);  // mapped to -1
  BOOST_CHECK_THROW(remap_labels(ints({10}), task_a), std::invalid_argument);    // beyond the map
  BOOST_CHECK_THROW(remap_labels(ints({-1}), task_a), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(as_column_and_flatten_images) {
  Tensor column = as_column(ints({0, 1, 1}));
  BOOST_TEST(column.dtype() == DType::float32);
  BOOST_TEST(column.shape() == (Shape{3, 1}));
  BOOST_TEST(floats(column) == (std::vector<float>{0, 1, 1}), boost::test_tools::per_element());

  Tensor flat = flatten_images(numbered_images(2, 2));
  BOOST_TEST(flat.shape() == (Shape{2, 4}));
  BOOST_TEST(floats(flat) == (std::vector<float>{0, 1, 10, 11, 100, 101, 110, 111}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(flatten_images(Tensor(DType::float32, Shape{2, 4})), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(rotations_by_quarter_turns_by_hand) {
  // 1 2 3
  // 4 5 6
  // 7 8 9, turned counterclockwise as displayed (numpy's rot90).
  Tensor image = Tensor::from_vector<float>(Shape{1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  BOOST_TEST(
      floats(rotate_quarter_turns(image, {0})) == (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}),
      boost::test_tools::per_element());
  BOOST_TEST(
      floats(rotate_quarter_turns(image, {1})) == (std::vector<float>{3, 6, 9, 2, 5, 8, 1, 4, 7}),
      boost::test_tools::per_element());
  BOOST_TEST(
      floats(rotate_quarter_turns(image, {2})) == (std::vector<float>{9, 8, 7, 6, 5, 4, 3, 2, 1}),
      boost::test_tools::per_element());
  BOOST_TEST(
      floats(rotate_quarter_turns(image, {3})) == (std::vector<float>{7, 4, 1, 8, 5, 2, 9, 6, 3}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rotations_apply_per_image_and_compose) {
  // Two 2x2 images (0 1 / 10 11 and 100 101 / 110 111), turned once and three times.
  Tensor images = numbered_images(2, 2);
  Tensor turned = rotate_quarter_turns(images, {1, 3});
  BOOST_TEST(floats(turned) == (std::vector<float>{1, 11, 0, 10, 110, 100, 111, 101}),
             boost::test_tools::per_element());
  // Four single turns, or a turn and three more, bring every image back.
  Tensor big = numbered_images(3, 5);
  Tensor t = big;
  for (int i = 0; i < 4; ++i) t = rotate_quarter_turns(t, {1, 1, 1});
  BOOST_TEST(floats(t) == floats(big), boost::test_tools::per_element());
  BOOST_TEST(
      floats(rotate_quarter_turns(rotate_quarter_turns(big, {1, 2, 3}), {3, 2, 1})) == floats(big),
      boost::test_tools::per_element());
  // int32 images turn the same way.
  Tensor int_image = Tensor::from_vector<std::int32_t>(Shape{1, 2, 2}, {1, 2, 3, 4});
  BOOST_TEST(rotate_quarter_turns(int_image, {1}).to_vector<std::int32_t>() ==
                 (std::vector<std::int32_t>{2, 4, 1, 3}),
             boost::test_tools::per_element());

  BOOST_CHECK_THROW(rotate_quarter_turns(images, {4, 0}), std::invalid_argument);
  BOOST_CHECK_THROW(rotate_quarter_turns(images, {-1, 0}), std::invalid_argument);
  BOOST_CHECK_THROW(rotate_quarter_turns(images, {1}), std::invalid_argument);
  BOOST_CHECK_THROW(rotate_quarter_turns(Tensor(DType::float32, Shape{1, 2, 3}), {0}),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(rotation_task_labels_each_image_with_its_turns) {
  // 2x2 images whose four pixels differ, so the turn can be read back from the corner that
  // moved to the top left: 0 turns keeps 100 i, 1 brings 100 i + 1, 2 brings + 11, 3 brings + 10.
  Tensor images = numbered_images(400, 2);
  Subset task = rotation_task(images, 7);
  BOOST_TEST(task.size() == 400);
  BOOST_TEST(task.y.dtype() == DType::int32);
  const std::vector<std::int32_t> turns = task.y.to_vector<std::int32_t>();
  const float* x = task.x.data<float>();
  const float corner_of_turns[4] = {0, 1, 11, 10};
  std::set<std::int32_t> seen;
  for (std::size_t i = 0; i < turns.size(); ++i) {
    BOOST_REQUIRE(turns[i] >= 0 && turns[i] <= 3);
    BOOST_TEST(x[4 * i] == 100.0f * static_cast<float>(i) + corner_of_turns[turns[i]]);
    seen.insert(turns[i]);
  }
  BOOST_TEST(seen.size() == 4u);
  // The same seed draws the same turns; another seed other ones.
  BOOST_TEST(rotation_task(images, 7).y.to_vector<std::int32_t>() == turns,
             boost::test_tools::per_element());
  BOOST_TEST(rotation_task(images, 8).y.to_vector<std::int32_t>() != turns);
}

BOOST_AUTO_TEST_CASE(append_joins_phases_and_pads_new_keys) {
  nn::History first, second;
  first.epochs = {0, 1};
  first.keys = {"loss"};
  first.history["loss"] = {0.9, 0.7};
  second.epochs = {2};
  second.keys = {"loss", "lr"};
  second.history["loss"] = {0.5};
  second.history["lr"] = {1e-4};
  nn::History all;
  append(all, first);
  append(all, second);
  BOOST_TEST(all.epochs == (std::vector<int>{0, 1, 2}), boost::test_tools::per_element());
  BOOST_TEST(all["loss"] == (std::vector<double>{0.9, 0.7, 0.5}), boost::test_tools::per_element());
  BOOST_TEST(all["lr"].size() == 3u);
  BOOST_TEST(std::isnan(all["lr"][0]));
  BOOST_TEST(std::isnan(all["lr"][1]));
  BOOST_TEST(all["lr"][2] == 1e-4);
}

BOOST_AUTO_TEST_CASE(per_seed_comparisons_and_percentages) {
  BOOST_TEST(compare_per_seed({0.9, 0.8, 0.7}, {0.8, 0.8, 0.9}) == "1 / 1 / 1");
  BOOST_TEST(compare_per_seed({0.9, 0.9}, {0.8, 0.1}) == "2 / 0 / 0");
  // Mean 2%, sample standard deviation sqrt((0.01^2 + 0.01^2) / 1) = 1.414%.
  BOOST_TEST(percent_spread({0.01, 0.03}) == "2.00% ± 1.41%");
  BOOST_TEST(percent_spread({0.0295}) == "2.95%");
  BOOST_TEST(percent_spread({0.5, NAN}) == "nan");
  BOOST_TEST(grouped(15915) == "15,915");
  BOOST_TEST(grouped(200) == "200");
  BOOST_TEST(grouped(1000000) == "1,000,000");
  BOOST_TEST(grouped(-4500) == "-4,500");
}

BOOST_AUTO_TEST_CASE(reuse_lower_layers_copies_weights_and_leaves_the_source_alone) {
  nn::Sequential source({nn::Flatten({2, 2}), nn::Dense(3, {.activation = "selu"}),
                         nn::Dense(2, {.activation = "softmax"})},
                        "", std::make_shared<nn::Backend>(5));
  std::vector<Tensor> before = source.get_weights();  // kernel 4x3, bias 3, kernel 3x2, bias 2
  std::unique_ptr<nn::Sequential> reused =
      reuse_lower_layers(source, nn::Dense(1, {.activation = "sigmoid"}));
  BOOST_TEST(reused->layers().size() == 3u);
  BOOST_TEST(reused->output_shapes()[0] == (Shape{-1, 1}));
  std::vector<Tensor> copied = reused->get_weights();
  BOOST_REQUIRE(copied.size() == 4u);
  BOOST_TEST(floats(copied[0]) == floats(before[0]), boost::test_tools::per_element());
  BOOST_TEST(floats(copied[1]) == floats(before[1]), boost::test_tools::per_element());
  BOOST_TEST(copied[2].shape() == (Shape{3, 1}));
  BOOST_TEST(&reused->backend() != &source.backend());

  // Changing the copy leaves the source as it was.
  copied[0].data<float>()[0] += 1.0f;
  reused->set_weights(copied);
  BOOST_TEST(floats(source.get_weights()[0]) == floats(before[0]),
             boost::test_tools::per_element());

  set_lower_layers_trainable(*reused, false);
  BOOST_TEST(reused->trainable_weights().size() == 2u);  // the head's kernel and bias
  set_lower_layers_trainable(*reused, true);
  BOOST_TEST(reused->trainable_weights().size() == 4u);
  BOOST_CHECK_THROW(reuse_lower_layers(source, nn::Dense(1), 4), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
