// Files the tools write (pictures, tables) replaced atomically: a failed or interrupted write
// leaves the older files intact.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dagrad::tools {

// Writes each (path, bytes) to a temporary sibling, then renames each over its target. Throws
// FileError "cannot ACTION 'PATH': why" ("draw chart", "write table") naming the file, with every
// temporary removed.
void write_files_atomically(const std::vector<std::pair<std::string, std::string>>& files,
                            const std::string& action);

}  // namespace dagrad::tools
