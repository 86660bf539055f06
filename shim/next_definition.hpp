// The definitions behind libkashim.so's hooks, found the way dlsym(RTLD_NEXT, name) finds
// them — the first definition in an object behind this one — but by reading the symbol
// tables (elf_symbols.hpp) of the objects noted behind it at start (loaded_objects.hpp):
// no dlsym, no allocation, no lock.
#pragma once

namespace kashim {

// For each of `count` names, the address of its next definition, or nullptr where this
// look-up cannot be sure of dlsym's answer: no definition behind this library (as when it
// was dlopen()ed, after libc), an indirect function (IFUNC: its resolver picks the
// address), an object on the way without a GNU hash table, or a name not found in the
// first LoadedObjects::kMostBehind objects behind this library when there are more (gdb
// has 19). The caller asks dlsym.
void find_next_definitions(const char* const names[], void* found[], int count);

}  // namespace kashim
