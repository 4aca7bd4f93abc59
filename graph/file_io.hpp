// Reading whole files for the graph-file and .npy loaders (private to graph/).
#pragma once

#include <string>

namespace dagrad::detail {

// The bytes of the regular file at `path`. Throws FileError "WHAT: why" when the path is
// missing, a directory or another non-regular file, or cannot be read; `what` names the file
// ("cannot read 'x.npy'").
std::string read_regular_file(const std::string& path, const std::string& what);

}  // namespace dagrad::detail
