// Reading JSON documents that users hand to dagrad (graph files, model files), private to the
// library: bounded nesting, time linear in the size, and error messages that quote a bounded
// excerpt of the user's value rather than the whole of it.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dagrad::detail {

// Deeper than any dagrad file needs (a graph file nests 6 levels, a model file 5): a limit far
// below what would exhaust the stack when a value is copied, compared or destroyed.
constexpr std::size_t kMaxJsonDepth = 64;

// Parses `text` into a JSON value whose objects keep their keys in file order, in time linear in
// the text's size. Throws FileError starting "FILE: " for every problem: a syntax error or a
// number out of range ("invalid JSON at byte N: ..."), nesting deeper than kMaxJsonDepth, a key
// that appears twice in one object.
nlohmann::ordered_json parse_json_document(std::string_view text, const std::string& file);

// `value` written as JSON, cut to about `limit` characters ("..." marks the cut); the cost is
// bounded by `limit`, not by the value's size or depth.
std::string json_excerpt(const nlohmann::ordered_json& value, std::size_t limit = 80);
// `text` cut to about `limit` bytes, at a UTF-8 character boundary ("..." marks the cut).
std::string clip_text(std::string text, std::size_t limit = 80);

}  // namespace dagrad::detail
