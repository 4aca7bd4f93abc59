#include "json_reader.hpp"

#include <unordered_set>
#include <utility>
#include <vector>

#include "dagrad/graph/errors.hpp"

namespace dagrad::detail {

using Json = nlohmann::ordered_json;

namespace {

// Error messages keep at most this much of nlohmann's text, which quotes the offending token
// in full (a 200 KB string, say).
constexpr std::size_t kMaxMessage = 200;

}  // namespace

std::string clip_text(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  text.resize(limit);
  // Do not end inside a UTF-8 sequence: drop the last one if the cut took some of its bytes.
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t lead = text.size();
  while (lead > 0 && (byte(lead - 1) & 0xC0) == 0x80) --lead;
  if (lead > 0 && byte(lead - 1) >= 0xC0) {
    std::size_t length = byte(lead - 1) >= 0xF0 ? 4 : byte(lead - 1) >= 0xE0 ? 3 : 2;
    if (text.size() - (lead - 1) < length) text.resize(lead - 1);
  }
  return text + "...";
}

namespace {

// Builds the document from nlohmann's SAX events. nlohmann's own ordered_json parser looks up
// every key in a linear map before inserting it (quadratic in an object's size); here each open
// object has a hash set of its keys and values are appended in order. The parser is iterative,
// so the depth of `open` is the only recursion the document can cause, and it is bounded.
class DocumentBuilder : public nlohmann::json_sax<Json> {
 public:
  explicit DocumentBuilder(const std::string& file) : file_(file) {}
  Json take() { return std::move(root_); }

  bool null() override { return add(nullptr); }
  bool boolean(bool v) override { return add(v); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override { return add(v); }
  bool number_float(number_float_t v, const string_t&) override { return add(v); }
  bool string(string_t& v) override { return add(std::move(v)); }
  bool binary(binary_t&) override { fail("binary values are not JSON"); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (!open_.back().keys.insert(k).second)
      fail("the key " + json_excerpt(Json(k)) + " appears twice in one object");
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    fail("invalid JSON at byte " + std::to_string(position) + ": " +
         clip_text(e.what(), kMaxMessage));
  }

 private:
  struct Open {
    Json* value;
    std::unordered_set<std::string> keys;
  };

  [[noreturn]] void fail(const std::string& what) const { throw FileError(file_ + ": " + what); }

  // Appends to the innermost open container. Containers are filled one at a time, so the open
  // ones never move: only the last element of each is open, and nothing is appended after it
  // until it closes.
  bool add(Json value) {
    append(std::move(value));
    return true;
  }
  Json* append(Json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *open_.back().value;
    if (parent.is_array()) {
      auto& array = parent.get_ref<Json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    auto& object = parent.get_ref<Json::object_t&>();
    static_cast<Json::object_t::Container&>(object).emplace_back(std::move(key_), std::move(value));
    return &object.back().second;
  }
  bool open(Json container) {
    if (open_.size() >= kMaxJsonDepth)
      fail("JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
           " levels (arrays and objects inside each other), more than any dagrad file holds");
    Json* at = append(std::move(container));
    open_.push_back({at, {}});
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  const std::string& file_;
  Json root_;
  std::vector<Open> open_;
  std::string key_;
};

}  // namespace

Json parse_json_document(std::string_view text, const std::string& file) {
  DocumentBuilder builder(file);
  try {
    Json::sax_parse(text, &builder);
  } catch (const Json::exception& e) {  // the parser's own, should one escape the SAX events
    throw FileError(file + ": invalid JSON: " + clip_text(e.what(), kMaxMessage));
  }
  return builder.take();
}

std::string json_excerpt(const Json& value, std::size_t limit) {
  std::string out;
  auto scalar = [&](const Json& v) {
    // A long string is cut before it is escaped, so that its cost is bounded too.
    if (v.is_string())
      out += Json(v.get_ref<const std::string&>().substr(0, limit + 1))
                 .dump(-1, ' ', false, Json::error_handler_t::replace);
    else
      out += v.dump();
  };
  struct Frame {
    const Json* container;
    std::size_t next;
  };
  std::vector<Frame> open;
  auto visit = [&](const Json& v) {
    if (!v.is_array() && !v.is_object()) return scalar(v);
    out += v.is_array() ? '[' : '{';
    open.push_back({&v, 0});
  };
  visit(value);
  while (!open.empty() && out.size() <= limit) {
    const Json& c = *open.back().container;
    std::size_t i = open.back().next++;
    if (i == c.size()) {
      out += c.is_array() ? ']' : '}';
      open.pop_back();
      continue;
    }
    if (i > 0) out += ',';
    if (c.is_array()) {
      visit(c[i]);
    } else {
      const auto& [key, v] =
          static_cast<const Json::object_t::Container&>(c.get_ref<const Json::object_t&>())[i];
      scalar(Json(key.substr(0, limit + 1)));
      out += ':';
      visit(v);
    }
  }
  return clip_text(std::move(out), limit);
}

}  // namespace dagrad::detail
