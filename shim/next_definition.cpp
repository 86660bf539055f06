#include "next_definition.hpp"

#include <elf.h>
#include <link.h>

#include <cstdint>

#include "elf_symbols.hpp"

namespace kashim {
namespace {

constexpr int kMostNames = 16;

struct Walk {
  const char* const* names;
  void** found;
  int count;
  std::uint32_t hashes[kMostNames];  // (filled for the first `count`; no memset at start)
  std::uint32_t settled = 0;         // bit i: names[i] found, or known to need dlsym
  std::uint32_t found_bits = 0;      // bit i: found[i] written
  bool past_this_library = false;
};

bool contains(const dl_phdr_info& object, ElfW(Addr) address) {
  for (int i = 0; i < object.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = object.dlpi_phdr[i];
    const ElfW(Addr) start = object.dlpi_addr + segment.p_vaddr;
    if (segment.p_type == PT_LOAD && address >= start && address - start < segment.p_memsz) {
      return true;
    }
  }
  return false;
}

const ElfW(Dyn) * dynamic_section(const dl_phdr_info& object) {
  for (int i = 0; i < object.dlpi_phnum; ++i) {
    if (object.dlpi_phdr[i].p_type == PT_DYNAMIC) {
      return reinterpret_cast<const ElfW(Dyn)*>(object.dlpi_addr + object.dlpi_phdr[i].p_vaddr);
    }
  }
  return nullptr;
}

// Settles every name still open; returns non-zero (stop walking) once all are.
int settle_all(Walk* walk) {
  walk->settled = ~std::uint32_t{0};
  return 1;
}

int visit(dl_phdr_info* object, size_t, void* data) {
  Walk* walk = static_cast<Walk*>(data);
  if (!walk->past_this_library) {
    walk->past_this_library =
        contains(*object, reinterpret_cast<ElfW(Addr)>(&find_next_definitions));
    return 0;
  }
  const ElfW(Dyn)* dynamic = dynamic_section(*object);
  if (dynamic == nullptr) return 0;  // defines nothing
  const elf::DynamicSymbols table = elf::read_dynamic(object->dlpi_addr, dynamic);
  // Without a GNU hash table this walk cannot tell what the object defines: dlsym decides.
  if (table.gnu_hash == nullptr) return settle_all(walk);
  bool open = false;
  for (int i = 0; i < walk->count; ++i) {
    const std::uint32_t bit = std::uint32_t{1} << i;
    if ((walk->settled & bit) != 0) continue;
    const ElfW(Sym)* symbol = elf::find_definition(table, walk->names[i], walk->hashes[i]);
    if (symbol == nullptr) {
      open = true;
      continue;
    }
    walk->settled |= bit;
    if (ELF64_ST_TYPE(symbol->st_info) == STT_FUNC) {
      walk->found[i] = reinterpret_cast<void*>(table.base + symbol->st_value);
      walk->found_bits |= bit;
    }
  }
  return open ? 0 : 1;
}

}  // namespace

void find_next_definitions(const char* const names[], void* found[], int count) {
  Walk walk;
  walk.names = names;
  walk.found = found;
  walk.count = count < kMostNames ? count : kMostNames;  // the rest: dlsym
  for (int i = 0; i < walk.count; ++i) walk.hashes[i] = elf::gnu_hash(names[i]);
  dl_iterate_phdr(visit, &walk);
  // Conditional stores, where a plain zeroing loop would become a call to libc's memset
  // (an indirect function the loader resolves for us at every process start).
  for (int i = 0; i < count; ++i) {
    if (i >= kMostNames || (walk.found_bits & (std::uint32_t{1} << i)) == 0) found[i] = nullptr;
  }
}

}  // namespace kashim
