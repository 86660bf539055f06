// libkashim-audit.so: reaches the code that LD_PRELOAD cannot.
//
// A library loaded with RTLD_DEEPBIND (PHP loads every extension so, among them the
// sockets extension behind socket_create()) looks symbols up in its own dependencies
// first: its socket() and connect() bind straight to libc, past every preloaded library.
// The dynamic linker's audit interface (rtld-audit(7), LD_AUDIT) is told of every symbol
// binding; this module turns a binding of one of the hooked names to libkashim.so's
// hook, and leaves every other binding, and libkashim.so's own look-ups of the real
// functions, exactly as the linker made them.
//
// Loaded by ld.so in a namespace of its own, before anything else: no C++ runtime, no
// allocation, nothing but reading the ELF tables of libkashim.so.
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace {

constexpr const char* kHooked[] = {"socket",     "connect", "accept", "accept4",
                                   "setsockopt", "sendto",  "sendmsg"};
constexpr std::string_view kShimName = "libkashim.so";

struct link_map* g_shim = nullptr;  // libkashim.so in the program's namespace, once seen
ElfW(Addr) g_hooks[sizeof kHooked / sizeof kHooked[0]] = {};
bool g_hooks_found = false;

bool is_shim(std::string_view path) {
  return path.size() >= kShimName.size() &&
         path.substr(path.size() - kShimName.size()) == kShimName &&
         (path.size() == kShimName.size() || path[path.size() - kShimName.size() - 1] == '/');
}

int hooked_index(const char* name) {
  for (int i = 0; i < static_cast<int>(sizeof kHooked / sizeof kHooked[0]); ++i) {
    if (std::strcmp(name, kHooked[i]) == 0) return i;
  }
  return -1;
}

// Dynamic-section pointers are absolute once glibc has adjusted them, relative on loaders
// and architectures that leave the section read-only.
template <typename T>
const T* dynamic_pointer(const struct link_map* map, ElfW(Addr) value) {
  return reinterpret_cast<const T*>(value < map->l_addr ? value + map->l_addr : value);
}

std::uint32_t gnu_hash(const char* name) {
  std::uint32_t hash = 5381;
  for (const unsigned char* c = reinterpret_cast<const unsigned char*>(name); *c != 0; ++c) {
    hash = hash * 33 + *c;
  }
  return hash;
}

// The address of a symbol libkashim.so defines, found through its GNU hash table.
ElfW(Addr) find_in_shim(const struct link_map* map, const char* name) {
  const ElfW(Sym)* symbols = nullptr;
  const char* strings = nullptr;
  const std::uint32_t* table = nullptr;
  for (const ElfW(Dyn)* entry = map->l_ld; entry->d_tag != DT_NULL; ++entry) {
    if (entry->d_tag == DT_SYMTAB) symbols = dynamic_pointer<ElfW(Sym)>(map, entry->d_un.d_ptr);
    if (entry->d_tag == DT_STRTAB) strings = dynamic_pointer<char>(map, entry->d_un.d_ptr);
    if (entry->d_tag == DT_GNU_HASH) table = dynamic_pointer<std::uint32_t>(map, entry->d_un.d_ptr);
  }
  if (symbols == nullptr || strings == nullptr || table == nullptr) return 0;
  const std::uint32_t buckets_count = table[0], first_symbol = table[1], bloom_words = table[2];
  const std::uint32_t* buckets =
      table + 4 + bloom_words * (sizeof(ElfW(Addr)) / sizeof(std::uint32_t));
  const std::uint32_t* chain = buckets + buckets_count;
  const std::uint32_t hash = gnu_hash(name);
  for (std::uint32_t index = buckets[hash % buckets_count]; index >= first_symbol; ++index) {
    const std::uint32_t entry_hash = chain[index - first_symbol];
    const ElfW(Sym)& symbol = symbols[index];
    if ((entry_hash | 1) == (hash | 1) && std::strcmp(strings + symbol.st_name, name) == 0 &&
        symbol.st_shndx != SHN_UNDEF) {
      return map->l_addr + symbol.st_value;
    }
    if (entry_hash & 1) break;
  }
  return 0;
}

bool find_hooks() {
  if (!g_hooks_found && g_shim != nullptr) {
    for (int i = 0; i < static_cast<int>(sizeof kHooked / sizeof kHooked[0]); ++i) {
      g_hooks[i] = find_in_shim(g_shim, kHooked[i]);
      if (g_hooks[i] == 0) return false;
    }
    g_hooks_found = true;
  }
  return g_hooks_found;
}

// Loaded after libkashim.so: where libkashim.so's own dlsym(RTLD_NEXT) looks (libc). A
// definition loaded before it (another preloaded library, torsocks say) keeps its place in
// the chain.
bool loaded_after_shim(uintptr_t definer) {
  for (const struct link_map* map = g_shim->l_next; map != nullptr; map = map->l_next) {
    if (reinterpret_cast<uintptr_t>(map) == definer) return true;
  }
  return false;
}

uintptr_t bind(uintptr_t address, const uintptr_t* referrer, const uintptr_t* definer,
               const char* name) {
  const int index = hooked_index(name);
  const uintptr_t shim = reinterpret_cast<uintptr_t>(g_shim);
  // Not ours to change: other names, libkashim.so finding the real functions, bindings
  // already made to the hook or to a library in front of it.
  if (index < 0 || shim == 0 || *referrer == shim || *definer == shim ||
      !loaded_after_shim(*definer)) {
    return address;
  }
  return find_hooks() ? g_hooks[index] : address;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) unsigned la_version(unsigned version) {
  return version >= 1 ? (version < LAV_CURRENT ? version : LAV_CURRENT) : 0;
}

__attribute__((visibility("default"))) unsigned la_objopen(struct link_map* map,
                                                           Lmid_t namespace_id, uintptr_t* cookie) {
  if (namespace_id != LM_ID_BASE) return 0;
  *cookie = reinterpret_cast<uintptr_t>(map);
  if (g_shim == nullptr && map->l_name != nullptr && is_shim(map->l_name)) g_shim = map;
  return LA_FLG_BINDTO | LA_FLG_BINDFROM;
}

#if __ELF_NATIVE_CLASS == 64
__attribute__((visibility("default"))) uintptr_t la_symbind64(Elf64_Sym* symbol, unsigned,
                                                              uintptr_t* referrer,
                                                              uintptr_t* definer, unsigned*,
                                                              const char* name) {
  return bind(symbol->st_value, referrer, definer, name);
}
#else
__attribute__((visibility("default"))) uintptr_t la_symbind32(Elf32_Sym* symbol, unsigned,
                                                              uintptr_t* referrer,
                                                              uintptr_t* definer, unsigned*,
                                                              const char* name) {
  return bind(symbol->st_value, referrer, definer, name);
}
#endif

}  // extern "C"
