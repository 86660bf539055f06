#include "elf_symbols.hpp"

#include <elf.h>

namespace kashim::elf {
namespace {

// Dynamic-section pointers are absolute once glibc has adjusted them in place, relative on
// loaders and architectures that leave the section read-only (musl, the vDSO).
template <typename T>
const T* dynamic_pointer(ElfW(Addr) base, ElfW(Addr) value) {
  return reinterpret_cast<const T*>(value < base ? value + base : value);
}

// What dlsym accepts for a name without a version (glibc's DL_LOOKUP_RETURN_NEWEST): any
// symbol but one of a hidden (non-default) version.
bool default_version(const DynamicSymbols& table, std::uint32_t index) {
  if (table.versions == nullptr) return true;
  const ElfW(Half) version = table.versions[index];
  return (version & 0x8000) == 0 || (version & 0x7fff) < 2;
}

}  // namespace

bool same_name(const char* a, const char* b) {
  for (; *a != '\0'; ++a, ++b) {
    if (*a != *b) return false;
  }
  return *b == '\0';
}

DynamicSymbols read_dynamic(ElfW(Addr) base, const ElfW(Dyn) * dynamic) {
  DynamicSymbols table;
  table.base = base;
  for (const ElfW(Dyn)* entry = dynamic; entry->d_tag != DT_NULL; ++entry) {
    const ElfW(Addr) value = entry->d_un.d_ptr;
    switch (entry->d_tag) {
      case DT_SYMTAB:
        table.symbols = dynamic_pointer<ElfW(Sym)>(base, value);
        break;
      case DT_STRTAB:
        table.strings = dynamic_pointer<char>(base, value);
        break;
      case DT_GNU_HASH:
        table.gnu_hash = dynamic_pointer<std::uint32_t>(base, value);
        break;
      case DT_VERSYM:
        table.versions = dynamic_pointer<ElfW(Half)>(base, value);
        break;
      default:
        break;
    }
  }
  if (table.symbols == nullptr || table.strings == nullptr) table.gnu_hash = nullptr;
  return table;
}

const char* soname(ElfW(Addr) base, const ElfW(Dyn) * dynamic) {
  const char* strings = nullptr;
  const ElfW(Dyn)* name = nullptr;
  for (const ElfW(Dyn)* entry = dynamic; entry->d_tag != DT_NULL; ++entry) {
    if (entry->d_tag == DT_STRTAB) strings = dynamic_pointer<char>(base, entry->d_un.d_ptr);
    if (entry->d_tag == DT_SONAME) name = entry;
  }
  return strings != nullptr && name != nullptr ? strings + name->d_un.d_val : nullptr;
}

std::uint32_t gnu_hash(const char* name) {
  std::uint32_t hash = 5381;
  for (const unsigned char* c = reinterpret_cast<const unsigned char*>(name); *c != 0; ++c) {
    hash = hash * 33 + *c;
  }
  return hash;
}

// The table's layout (the GNU hash section): bucket count, first hashed symbol, Bloom
// filter size in words and shift, the filter, the buckets, then one hash per symbol whose
// low bit ends a bucket's chain.
const ElfW(Sym) *
    find_definition(const DynamicSymbols& table, const char* name, std::uint32_t hash) {
  const std::uint32_t* header = table.gnu_hash;
  const std::uint32_t buckets_count = header[0], first_symbol = header[1];
  const std::uint32_t bloom_words = header[2], bloom_shift = header[3];
  if (buckets_count == 0 || bloom_words == 0) return nullptr;
  const ElfW(Addr)* bloom = reinterpret_cast<const ElfW(Addr)*>(header + 4);
  constexpr unsigned kBits = sizeof(ElfW(Addr)) * 8;
  const ElfW(Addr) word = bloom[(hash / kBits) % bloom_words];
  const ElfW(Addr) mask =
      (ElfW(Addr){1} << (hash % kBits)) | (ElfW(Addr){1} << ((hash >> bloom_shift) % kBits));
  if ((word & mask) != mask) return nullptr;  // certainly not defined here

  const std::uint32_t* buckets =
      header + 4 + bloom_words * (sizeof(ElfW(Addr)) / sizeof(std::uint32_t));
  const std::uint32_t* chain = buckets + buckets_count;
  for (std::uint32_t index = buckets[hash % buckets_count]; index >= first_symbol; ++index) {
    const std::uint32_t entry_hash = chain[index - first_symbol];
    const ElfW(Sym)& symbol = table.symbols[index];
    if ((entry_hash | 1) == (hash | 1) && symbol.st_shndx != SHN_UNDEF && symbol.st_value != 0 &&
        default_version(table, index) && same_name(table.strings + symbol.st_name, name)) {
      return &symbol;
    }
    if (entry_hash & 1) break;
  }
  return nullptr;
}

}  // namespace kashim::elf
