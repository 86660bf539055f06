#include "next_definition.hpp"

#include <elf.h>
#include <link.h>

#include <cstdint>

#include "elf_symbols.hpp"
#include "loaded_objects.hpp"

namespace kashim {
namespace {

constexpr int kMostNames = 16;

}  // namespace

void find_next_definitions(const char* const names[], void* found[], int count) {
  const int looked_up = count < kMostNames ? count : kMostNames;  // the rest: dlsym
  std::uint32_t hashes[kMostNames];
  for (int i = 0; i < looked_up; ++i) hashes[i] = elf::gnu_hash(names[i]);
  const std::uint32_t all = (std::uint32_t{1} << looked_up) - 1;
  std::uint32_t settled = 0;     // bit i: names[i] found, or known to need dlsym
  std::uint32_t found_bits = 0;  // bit i: found[i] written

  const LoadedObjectsView view;
  const LoadedObjects& objects = view.get();
  for (int k = 0; k < objects.behind_count && settled != all; ++k) {
    const LoadedObjects::Object& object = objects.behind[k];
    const elf::DynamicSymbols table = elf::read_dynamic(object.base, object.dynamic);
    // Without a GNU hash table this walk cannot tell what the object defines: dlsym decides.
    if (table.gnu_hash == nullptr) break;
    for (int i = 0; i < looked_up; ++i) {
      const std::uint32_t bit = std::uint32_t{1} << i;
      if ((settled & bit) != 0) continue;
      const ElfW(Sym)* symbol = elf::find_definition(table, names[i], hashes[i]);
      if (symbol == nullptr) continue;
      settled |= bit;
      // An indirect function (its resolver picks the address) or data: dlsym decides.
      if (ELF64_ST_TYPE(symbol->st_info) == STT_FUNC) {
        found[i] = reinterpret_cast<void*>(table.base + symbol->st_value);
        found_bits |= bit;
      }
    }
  }
  // Conditional stores, where a plain zeroing loop would become a call to libc's memset
  // (an indirect function the loader resolves for us).
  for (int i = 0; i < count; ++i) {
    if (i >= kMostNames || (found_bits & (std::uint32_t{1} << i)) == 0) found[i] = nullptr;
  }
}

}  // namespace kashim
