// Checkpoints: the values of a session's variables, by variable name, apart from the graph's
// structure (a graph file holds that). A checkpoint is a directory holding checkpoint.json
// (format, version, and per variable: name, dtype, shape, file) and one .npy file per
// variable, so numpy reads it and a checkpoint restores into any graph with the same
// variables (a rebuilt, reloaded or transformed copy).
#pragma once

#include <string>

#include "session.hpp"

namespace dagrad {

inline constexpr int kCheckpointVersion = 1;

// Writes every variable of the session's graph, atomically: into a temporary sibling
// directory that then replaces `dir`, so a failed save leaves an older checkpoint intact. An
// existing `dir` must be a checkpoint or an empty directory. Throws FileError naming the
// directory (and the variable, when one is not initialized).
void save_checkpoint(const Session& session, const std::string& dir);

// Sets every variable of the session's graph from the checkpoint at `dir`. Everything is read
// and checked first (each variable present, with the graph's dtype and shape, in the index and
// in its .npy file), so a failed restore changes no value. Checkpoint entries the graph lacks
// are ignored. Throws FileError naming the directory, the variable and the file.
void restore_checkpoint(Session& session, const std::string& dir);

}  // namespace dagrad
