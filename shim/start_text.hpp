// Comparing text with a literal at process start, without libc and without reading the
// literal: libc's string functions are indirect functions the loader would resolve for
// libkashim.so in every process, and a string in .rodata sits on a page of the library that
// nothing else touches at start (its fault cost more than the comparison). Unrolled, the
// literal's characters become constants in the code.
#pragma once

#include <cstddef>

namespace kashim::start {

// Whether `text` begins with `literal` (its terminating NUL aside).
template <std::size_t N>
[[gnu::always_inline]] inline bool begins_with(const char* text, const char (&literal)[N]) {
#pragma GCC unroll 32
  for (std::size_t i = 0; i + 1 < N; ++i) {
    if (text[i] != literal[i]) return false;
  }
  return true;
}

}  // namespace kashim::start
