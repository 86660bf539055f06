// The definitions behind libkashim.so's hooks, found the way dlsym(RTLD_NEXT, name) finds
// them — the first definition in an object loaded after this one — but by reading those
// objects' symbol tables (elf_symbols.hpp) in one walk over the loaded objects
// (dl_iterate_phdr), without entering dlsym. Seven dlsym calls were half of what
// libkashim.so cost every process at start.
#pragma once

namespace kashim {

// For each of `count` names, the address of its next definition, or nullptr where this
// walk cannot be sure of dlsym's answer: no definition after this library (as when it was
// dlopen()ed, after libc), an indirect function (IFUNC: its resolver picks the address),
// or an object on the way without a GNU hash table. The caller asks dlsym for those.
void find_next_definitions(const char* const names[], void* found[], int count);

}  // namespace kashim
