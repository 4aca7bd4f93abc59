// What every gnuplot picture of the tools shares: numbers and text in gnuplot's syntax, running
// gnuplot in a child process with a deadline (files.hpp writes the pictures).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace dagrad::tools::gnuplot {

// The shortest text that reads back as `v`.
std::string number(double v);
// Text as a gnuplot single-quoted string: valid UTF-8, control characters as spaces, ' doubled.
std::string quoted(const std::string& text);

enum class Format { png, svg };

// The terminal line of `format` for a picture of width x height pixels, without markup in texts.
std::string terminal(Format format, int width, int height);

// Runs `gnuplot --default-settings` on `source` and returns the picture it wrote to standard
// output. Throws FileError "cannot draw WHAT 'PATH': ..." when gnuplot is missing, fails, crashes,
// writes no picture of `format`, or is still running at `deadline` (then it is killed).
std::string render(const std::string& source, Format format, const std::string& what,
                   const std::string& path, std::chrono::steady_clock::time_point deadline,
                   double timeout_seconds);

// The SVG path beside `path_png`, after checking that `path_png` ends in .png (any case) and that
// the timeout is in (0, 1e6]; FileError naming the path otherwise.
std::string svg_beside(const std::string& path_png, const std::string& what,
                       double timeout_seconds);

// The deadline `timeout_seconds` from now.
std::chrono::steady_clock::time_point deadline_after(double timeout_seconds);

}  // namespace dagrad::tools::gnuplot
