// Which loaded object is a copy of libkashim.so, by its file name: libkashim.so, or a
// versioned name such as libkashim.so.0, in any directory. One rule for the library (a copy
// in front of this one, loaded_objects.cpp) and the audit module (the hooks' object).
#pragma once

#include "start_text.hpp"

namespace kashim {

inline bool is_kashim_library(const char* path) {
  if (path == nullptr) return false;
  const char* name = path;
  for (const char* c = path; *c != '\0'; ++c) {
    if (*c == '/') name = c + 1;
  }
  return start::begins_with(name, "libkashim.so") && (name[12] == '\0' || name[12] == '.');
}

}  // namespace kashim
