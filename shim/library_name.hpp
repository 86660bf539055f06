// Which loaded object is a copy of libkashim.so: by its file name (libkashim.so, or a
// versioned name such as libkashim.so.0, in any directory), or, for a copy under another
// name, by the DT_SONAME it keeps (libkashim.so). One rule for the library (a copy in front
// of this one, loaded_objects.cpp) and the audit module (the hooks' object).
#pragma once

#include <link.h>

#include "elf_symbols.hpp"
#include "start_text.hpp"

namespace kashim {

// What follows the last slash of `path`.
inline const char* file_name(const char* path) {
  const char* name = path;
  for (const char* c = path; *c != '\0'; ++c) {
    if (*c == '/') name = c + 1;
  }
  return name;
}

inline bool is_kashim_library(const char* path) {
  if (path == nullptr) return false;
  const char* name = file_name(path);
  return start::begins_with(name, "libkashim.so") && (name[12] == '\0' || name[12] == '.');
}

inline bool is_kashim_object(const char* path, ElfW(Addr) base, const ElfW(Dyn) * dynamic) {
  return is_kashim_library(path) ||
         (dynamic != nullptr && is_kashim_library(elf::soname(base, dynamic)));
}

}  // namespace kashim
