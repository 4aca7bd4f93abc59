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
// fsync of a file or directory, so that a later rename cannot overtake it. Throws FileError
// naming the path when it cannot be opened or synced (a file system that cannot sync a
// directory, EINVAL, is not an error).
void sync_to_disk(const std::string& path);
// "PID-RANDOM", for temporary sibling names that concurrent writers do not share.
std::string unique_suffix();
// Puts directory `fresh` at `target`, deleting target's old contents: the old directory exists
// under some name at every moment and is back at `target` if anything fails. One
// renameat2(RENAME_EXCHANGE) where the file system has it; elsewhere (EINVAL, ENOSYS,
// EOPNOTSUPP, or DAGRAD_TEST_NO_RENAME_EXCHANGE=1 in the environment, for tests only) target is
// renamed to a backup ".NAME.old-PID-N" beside it, fresh renamed to target, the backup deleted.
void swap_in_directory(const std::string& fresh, const std::string& target);
// The directory a loader should read instead of `target` after a save was killed between the
// fallback's two renames: when `target` does not exist, its newest ".NAME.old-*" backup sibling
// (complete: it is the previous version); otherwise, or without one, "". Loaders read it where
// it is (they change nothing on disk); the next save of `target` deletes it.
std::string interrupted_backup(const std::string& target);
// Deletes the ".NAME.tmp-PID-*" and ".NAME.old-PID-*" siblings of `target` whose writing
// process no longer exists (saves that were killed); best effort.
void remove_stale_siblings(const std::string& target);
// Writes a directory atomically: `fill` writes into a new temporary sibling of `target`, which
// is then synced and swapped in (swap_in_directory), and the parent synced. On any failure the
// temporary is removed and the exception propagates (creating the temporary fails with a
// FileError naming it), so an older `target` stays intact. `fill` must sync every file it
// writes (write_file_synced, or a nested replace_directory). After a success, the leftovers of
// killed earlier saves of `target` are deleted (remove_stale_siblings).
void replace_directory(const std::string& target,
                       const std::function<void(const std::string& dir)>& fill);

}  // namespace dagrad::detail
