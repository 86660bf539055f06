// Reading a loaded object's dynamic symbol table: the GNU hash look-up the dynamic linker
// itself makes, for the two places that must find a definition without asking the loader:
// the audit module (libkashim.so's hooks, from inside ld.so's audit namespace) and
// libkashim.so's constructor (the real functions behind the hooks, without dlsym).
// No allocation, no libc call: both run where calling into libc is unsafe or costly.
#pragma once

#include <link.h>

#include <cstdint>

namespace kashim::elf {

// What an object's dynamic section says about its symbols.
struct DynamicSymbols {
  ElfW(Addr) base = 0;  // where the object is loaded (what its symbol values add to)
  const ElfW(Sym) * symbols = nullptr;
  const char* strings = nullptr;
  const std::uint32_t* gnu_hash = nullptr;  // nullptr: the object has no GNU hash table
  const ElfW(Half) * versions = nullptr;    // nullptr: the object has no symbol versions
};

DynamicSymbols read_dynamic(ElfW(Addr) base, const ElfW(Dyn) * dynamic);

// The object's DT_SONAME, or nullptr.
const char* soname(ElfW(Addr) base, const ElfW(Dyn) * dynamic);

std::uint32_t gnu_hash(const char* name);

// Whether two names are the same, byte by byte: libc's strcmp is an indirect function that
// the loader would have to resolve for libkashim.so at every process start, and the audit
// module links no libc at all.
bool same_name(const char* a, const char* b);

// The object's default definition of `name` (a defined, non-hidden-version symbol), or
// nullptr. `symbols.gnu_hash` must be set.
const ElfW(Sym) *
    find_definition(const DynamicSymbols& symbols, const char* name, std::uint32_t hash);

}  // namespace kashim::elf
