// Checkpoints (checkpoint.hpp). Saving encodes every value in memory before touching the disk;
// restoring decodes and checks every value before setting any.
#include "dagrad/graph/checkpoint.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/npy.hpp"
#include "file_io.hpp"
#include "json_reader.hpp"

namespace dagrad {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kIndexName = "checkpoint.json";
constexpr const char* kFormatName = "dagrad-checkpoint";

std::string describe(DType dtype, const Shape& shape) {
  return std::string(dtype_name(dtype)) + " " + shape.to_string();
}

}  // namespace

void save_checkpoint(const Session& session, const std::string& dir) {
  fs::path target = fs::path(dir).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();  // "ckpt/"
  auto fail = [&](const std::string& why) {
    return FileError("cannot save checkpoint to '" + target.string() + "': " + why);
  };
  if (target.empty()) throw fail("empty path");
  std::error_code ec;
  if (fs::exists(target, ec)) {
    // Never replace something that is not ours: the swap below deletes the old contents.
    if (!fs::is_directory(target, ec)) throw fail("it exists and is not a directory");
    if (!fs::exists(target / kIndexName, ec) && !fs::is_empty(target, ec))
      throw fail(std::string("it is a non-empty directory without ") + kIndexName +
                 ", not a checkpoint");
  }
  const Graph& g = session.graph();
  Json entries = Json::array();
  std::vector<std::pair<std::string, std::string>> files;  // (file name, .npy bytes)
  for (const Node& n : g.nodes()) {
    if (n.op->role != OpRole::Variable) continue;
    Output v{const_cast<Graph*>(&g), n.id, 0};
    if (!session.is_initialized(v)) throw fail("variable '" + n.name + "' is not initialized");
    std::string file = std::to_string(files.size()) + ".npy";  // names hold '/', files do not
    Tensor value = session.variable_value(v);
    entries.push_back(Json{{"name", n.name},
                           {"dtype", std::string(dtype_name(value.dtype()))},
                           {"shape", value.shape().dims()},
                           {"file", file}});
    files.emplace_back(file, encode_npy(value));
  }
  std::string text;
  try {
    text = Json{{"format", kFormatName},
                {"version", kCheckpointVersion},
                {"variables", std::move(entries)}}
               .dump(1, ' ', false, Json::error_handler_t::strict) +
           "\n";
  } catch (const Json::exception& e) {
    throw fail(std::string("a variable name cannot be stored as JSON: ") + e.what());
  }

  try {
    detail::replace_directory(target.string(), [&](const std::string& dir) {
      for (const auto& [file, bytes] : files)
        detail::write_file_synced((fs::path(dir) / file).string(), bytes);
      detail::write_file_synced((fs::path(dir) / kIndexName).string(), text);
    });
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
}

void restore_checkpoint(Session& session, const std::string& dir) {
  // A save killed between the two renames of the fallback leaves the previous checkpoint whole
  // in a backup beside the missing directory (detail::interrupted_backup).
  std::string backup = detail::interrupted_backup(dir);
  fs::path root(backup.empty() ? dir : backup);
  std::string index_path = (root / kIndexName).string();
  auto fail = [&](const std::string& why) {
    return FileError("cannot restore checkpoint '" + dir + "': " + why);
  };
  std::string text =
      detail::read_regular_file(index_path, "cannot read checkpoint index '" + index_path + "'");
  Json doc;
  try {
    doc = detail::parse_json_document(text, kIndexName);
  } catch (const FileError& e) {
    throw fail(e.what());
  }
  if (!doc.is_object() || doc.value("format", Json()) != kFormatName)
    throw fail(std::string(kIndexName) + " is not a dagrad checkpoint index (no \"format\": \"" +
               kFormatName + "\")");
  if (!doc.contains("version") || !doc["version"].is_number_integer() ||
      doc["version"].get<std::int64_t>() != kCheckpointVersion)
    throw fail(std::string(kIndexName) + ": unsupported version (this build reads version " +
               std::to_string(kCheckpointVersion) + ")");
  if (!doc.contains("variables") || !doc["variables"].is_array())
    throw fail(std::string(kIndexName) + ": \"variables\" must be an array");

  struct Entry {
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::string file;
  };
  std::map<std::string, Entry> index;
  for (std::size_t i = 0; i < doc["variables"].size(); ++i) {
    const Json& e = doc["variables"][i];
    std::string where = std::string(kIndexName) + ": variables[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("dtype") ||
        !e["dtype"].is_string() || !e.contains("file") || !e["file"].is_string() ||
        !e.contains("shape") || !e["shape"].is_array())
      throw fail(where + " needs string \"name\", \"dtype\", \"file\" and an array \"shape\"");
    Entry entry{e["dtype"].get<std::string>(), {}, e["file"].get<std::string>()};
    for (const Json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
        throw fail(where + ": \"shape\" holds something other than a non-negative integer");
      entry.shape.push_back(d.get<std::int64_t>());
    }
    // The file must sit in the checkpoint directory: a plain name, no path.
    if (entry.file.empty() || entry.file.find('/') != std::string::npos || entry.file == "." ||
        entry.file == "..")
      throw fail(where + ": \"file\" '" + entry.file +
                 "' is not a file name inside the checkpoint");
    std::string name = e["name"].get<std::string>();
    if (!index.emplace(name, std::move(entry)).second)
      throw fail(where + ": variable '" + name + "' appears twice");
  }

  // Read and check every value before setting any.
  Graph& g = session.graph();
  std::vector<std::pair<Output, Tensor>> values;
  for (const Node& n : g.nodes()) {
    if (n.op->role != OpRole::Variable) continue;
    DType dtype = n.output_dtypes.at(0);
    const Shape& shape = n.output_shapes.at(0);
    auto it = index.find(n.name);
    if (it == index.end())
      throw fail("it has no variable '" + n.name + "' (" + describe(dtype, shape) + ")");
    const Entry& e = it->second;
    std::string file = (root / e.file).string();
    if (e.dtype != dtype_name(dtype) || Shape(e.shape) != shape)
      throw fail("variable '" + n.name + "' (file '" + file + "') is " + e.dtype + " " +
                 Shape(e.shape).to_string() + " in the checkpoint but " + describe(dtype, shape) +
                 " in the graph");
    Tensor value = read_npy(file);
    if (value.dtype() != dtype || value.shape() != shape)
      throw fail("variable '" + n.name + "': file '" + file + "' holds " +
                 describe(value.dtype(), value.shape()) + ", but the index and the graph say " +
                 describe(dtype, shape));
    values.emplace_back(Output{&g, n.id, 0}, std::move(value));
  }
  for (const auto& [v, value] : values) session.set_variable_value(v, value);
}

}  // namespace dagrad
