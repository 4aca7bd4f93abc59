// Shared by the fuzz targets: a per-process scratch directory (the loaders read paths, not
// bytes), and the one rule every target enforces: a loader may reject its input only with a
// dagrad error (dagrad::Error and its subclasses). Anything else escaping it (a raw library
// exception, std::bad_alloc from a size a header claimed) is a finding, so the target aborts
// and libFuzzer keeps the input.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "dagrad/graph/errors.hpp"

namespace dagrad::fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(base && *base ? base : "/tmp") /
                              ("dagrad-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// Runs `load`; returns normally when it succeeds or throws a dagrad error, aborts otherwise.
template <class F>
void expect_clean(F&& load) {
  try {
    load();
  } catch (const dagrad::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: a non-dagrad exception escaped the loader: %s\n", e.what());
    std::abort();
  }
}

}  // namespace dagrad::fuzz
