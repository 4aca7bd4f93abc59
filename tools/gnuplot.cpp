#include "gnuplot.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include "dagrad/graph/errors.hpp"
#include "subprocess.hpp"

namespace dagrad::tools::gnuplot {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, const std::string& path, const std::string& why) {
  throw FileError("cannot draw " + what + " '" + path + "': " + why);
}

// gnuplot's messages in one line: the line with its error's location ("line 12: ..."), else the
// first one; cut to 200 characters.
std::string gnuplot_message(const std::string& messages) {
  static const std::regex located(R"(line [0-9]+:)");
  std::istringstream in(messages);
  std::string first, chosen;
  for (std::string line; std::getline(in, line);) {
    std::replace_if(
        line.begin(), line.end(), [](unsigned char c) { return c < 0x20; }, ' ');
    auto begin = line.find_first_not_of(' ');
    if (begin == std::string::npos) continue;
    line = line.substr(begin, line.find_last_not_of(' ') + 1 - begin);
    if (first.empty()) first = line;
    if (std::regex_search(line, located)) {
      chosen = line;
      break;
    }
  }
  if (chosen.empty()) chosen = first;
  if (chosen.empty()) return "no message from gnuplot";
  if (chosen.size() > 200) chosen = chosen.substr(0, 197) + "...";
  return chosen;
}

}  // namespace

std::string number(double v) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

// Text as a gnuplot single-quoted string: valid UTF-8 (an invalid byte becomes U+FFFD, so the
// SVG stays well-formed), control characters (a newline would end the command) as spaces, and
// ' doubled, the only escape inside single quotes.
std::string quoted(const std::string& text) {
  std::string out = "'";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char c = s[i];
    std::size_t length = c < 0x80           ? 1
                         : (c >> 5) == 0x6  ? 2
                         : (c >> 4) == 0xE  ? 3
                         : (c >> 3) == 0x1E ? 4
                                            : 0;
    bool valid = length > 0 && i + length <= n;
    for (std::size_t k = 1; valid && k < length; ++k) valid = (s[i + k] & 0xC0) == 0x80;
    if (valid && length > 1) {
      // Overlong forms, surrogates and code points above U+10FFFF are invalid too.
      std::uint32_t cp = c & (0x7F >> length);
      for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
      const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= smallest[length] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (!valid) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else if (length == 1) {
      if (c < 0x20 || c == 0x7F)
        out += ' ';
      else if (c == '\'')
        out += "''";
      else
        out += static_cast<char>(c);
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out + "'";
}

std::string terminal(Format format, int width, int height) {
  std::string size = " size " + std::to_string(width) + "," + std::to_string(height);
  if (format == Format::png)
    return "set terminal pngcairo" + size +
           " noenhanced font 'DejaVu Sans,11' linewidth 1.0 background rgb 'white'\n";
  return "set terminal svg" + size +
         " noenhanced font 'DejaVu Sans,12' linewidth 1.0 background rgb 'white'\n";
}

std::string render(const std::string& source, Format format, const std::string& what,
                   const std::string& path, std::chrono::steady_clock::time_point deadline,
                   double timeout_seconds) {
  double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
  // --default-settings: a user's ~/.gnuplot must not change the picture.
  ProgramResult run = run_program({"gnuplot", "--default-settings"}, source, std::max(left, 0.0));
  if (run.spawn_error != 0)
    fail(what, path,
         "cannot run gnuplot (" + std::string(std::strerror(run.spawn_error)) +
             "); install the gnuplot-nox package (scripts/install-deps.sh)");
  if (run.timed_out)
    fail(what, path,
         "gnuplot did not finish within " + number(timeout_seconds) + " s and was stopped");
  if (run.signal != 0)
    fail(
        what, path,
        "gnuplot crashed (signal " + std::to_string(run.signal) + "): " + gnuplot_message(run.err));
  if (run.exit_status != 0)
    fail(what, path,
         "gnuplot failed (exit status " + std::to_string(run.exit_status) +
             "): " + gnuplot_message(run.err));
  bool complete = format == Format::png ? run.out.rfind("\x89PNG\r\n\x1a\n", 0) == 0
                                        : run.out.find("<svg") != std::string::npos &&
                                              run.out.find("</svg>") != std::string::npos;
  if (!complete)
    fail(what, path,
         std::string("gnuplot wrote no ") + (format == Format::png ? "PNG" : "SVG") + " image (" +
             std::to_string(run.out.size()) + " bytes)" +
             (run.err.empty() ? "" : ": " + gnuplot_message(run.err)));
  return std::move(run.out);
}

std::string svg_beside(const std::string& path_png, const std::string& what,
                       double timeout_seconds) {
  fs::path png(path_png);
  std::string extension = png.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension != ".png") fail(what, path_png, "the file name must end in .png");
  if (!(timeout_seconds > 0) || timeout_seconds > 1e6)
    fail(what, path_png,
         "the timeout must be between 0 and 1e6 seconds, not " + number(timeout_seconds));
  return png.replace_extension(".svg").string();
}

std::chrono::steady_clock::time_point deadline_after(double timeout_seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             std::chrono::duration<double>(timeout_seconds));
}

}  // namespace dagrad::tools::gnuplot
