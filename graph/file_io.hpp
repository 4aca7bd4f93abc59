// Reading whole files for the graph-file, checkpoint and .npy loaders, and writing directories
// atomically for checkpoints (private to graph/).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace dagrad::detail {

// The bytes of the regular file at `path`. Throws FileError "WHAT: why" when the path is
// missing, a directory or another non-regular file, or cannot be read; `what` names the file
// ("cannot read 'x.npy'").
std::string read_regular_file(const std::string& path, const std::string& what);

}  // namespace dagrad::detail

namespace dagrad::detail {

// Writes `bytes` to `path` (created or truncated) and flushes it to disk; throws FileError
// naming the path.
void write_file_synced(const std::string& path, std::string_view bytes);
// Best effort fsync of a file or directory, so that a later rename cannot overtake it.
void sync_to_disk(const std::string& path);
// "PID-RANDOM", for temporary sibling names that concurrent writers do not share.
std::string unique_suffix();
// Puts directory `fresh` at `target`, deleting target's old contents: the old directory exists
// under some name at every moment and is back at `target` if anything fails.
void swap_in_directory(const std::string& fresh, const std::string& target);
// Writes a directory atomically: `fill` writes into a new temporary sibling of `target`, which
// is then synced and swapped in (swap_in_directory), and the parent synced. On any failure the
// temporary is removed and the exception propagates (creating the temporary fails with a
// FileError naming it), so an older `target` stays intact.
void replace_directory(const std::string& target, const std::function<void(const std::string& dir)>& fill);

}  // namespace dagrad::detail
