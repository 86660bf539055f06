// libkashim-audit.so: reaches the code that LD_PRELOAD cannot.
//
// A library loaded with RTLD_DEEPBIND (PHP loads every extension so, among them the
// sockets extension behind socket_create()) looks symbols up in its own dependencies
// first: its socket() and connect() bind straight to libc, past every preloaded library.
// The dynamic linker's audit interface (rtld-audit(7), LD_AUDIT) is told of every symbol
// binding; this module turns exactly those bindings to libkashim.so's hooks: one of the
// hooked names, made by an object the program loaded itself with dlopen() (after start-up),
// bound to libc's definition. Everything else is left as the linker made it:
// every binding of the objects loaded at start (the program, LD_PRELOAD libraries such as
// torsocks or proxychains, their dependencies: for them the normal lookup already finds
// the hooks first), and every dlsym() (an interposer's dlsym(RTLD_NEXT, "connect") must get
// what is next, or two interposers call each other for ever).
//
// Loaded by ld.so in a namespace of its own, before anything else: no C++ runtime, no
// allocation, nothing but reading the ELF tables of libkashim.so. Not even libc: a module
// that needs it makes the loader load a second libc into that namespace, which cost every
// process of the command's tree 145 us at start. It is linked with -nostdlib, so that a call
// into libc (one the compiler made of a loop too) fails the link.
#include <elf.h>
#include <link.h>

#include <cstdint>

#include "elf_symbols.hpp"
#include "library_name.hpp"

namespace {

constexpr const char* kHooked[] = {"socket",     "connect", "accept", "accept4",
                                   "setsockopt", "sendto",  "sendmsg"};

struct link_map* g_shim = nullptr;  // libkashim.so in the program's namespace, once seen
bool g_started = false;             // the start-up objects are all in: what opens now is dlopen()ed

// The cookie of each object: its link_map, with the low bit set for one opened after
// start-up (link_maps are aligned, so the bit is free).
constexpr uintptr_t kOpenedLater = 1;
const struct link_map* map_of(uintptr_t cookie) {
  return reinterpret_cast<const struct link_map*>(cookie & ~kOpenedLater);
}
ElfW(Addr) g_hooks[sizeof kHooked / sizeof kHooked[0]] = {};
bool g_hooks_found = false;

int hooked_index(const char* name) {
  for (int i = 0; i < static_cast<int>(sizeof kHooked / sizeof kHooked[0]); ++i) {
    if (kashim::elf::same_name(name, kHooked[i])) return i;
  }
  return -1;
}

// The address of a symbol libkashim.so defines, found through its GNU hash table.
ElfW(Addr) find_in_shim(const struct link_map* map, const char* name) {
  const kashim::elf::DynamicSymbols table = kashim::elf::read_dynamic(map->l_addr, map->l_ld);
  if (table.gnu_hash == nullptr) return 0;
  const ElfW(Sym)* symbol = kashim::elf::find_definition(table, name, kashim::elf::gnu_hash(name));
  return symbol == nullptr ? 0 : table.base + symbol->st_value;
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
// libc itself: the only definition the module takes bindings away from. A library of the
// plugin's own that wraps connect() (loaded after the shim, too) keeps its bindings.
bool is_libc(const struct link_map* map) {
  if (map == nullptr || map->l_name == nullptr) return false;
  return kashim::start::begins_with(kashim::file_name(map->l_name), "libc.so");
}

bool loaded_after_shim(const struct link_map* definer) {
  for (const struct link_map* map = g_shim->l_next; map != nullptr; map = map->l_next) {
    if (map == definer) return true;
  }
  return false;
}

uintptr_t bind(uintptr_t address, unsigned flags, uintptr_t referrer, uintptr_t definer,
               const char* name) {
  // Not ours to change: a dlsym() look-up, a binding of an object loaded at start-up,
  // other names, bindings to the hook or to a library in front of it.
  if ((flags & LA_SYMB_DLSYM) != 0 || (referrer & kOpenedLater) == 0 || g_shim == nullptr) {
    return address;
  }
  const int index = hooked_index(name);
  if (index < 0 || !is_libc(map_of(definer)) || !loaded_after_shim(map_of(definer))) {
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
  *cookie = reinterpret_cast<uintptr_t>(map) | (g_started ? kOpenedLater : 0);
  if (g_shim == nullptr && map->l_name != nullptr &&
      kashim::is_kashim_object(map->l_name, map->l_addr, map->l_ld))
    g_shim = map;
  return LA_FLG_BINDTO | LA_FLG_BINDFROM;
}

// The first time the list of objects is consistent, every object of the program's start-up
// is in (before any constructor runs); whatever opens after that, a constructor's dlopen()
// included, was asked for by the program.
__attribute__((visibility("default"))) void la_activity(uintptr_t*, unsigned flag) {
  if (flag == LA_ACT_CONSISTENT) g_started = true;
}

#if __ELF_NATIVE_CLASS == 64
__attribute__((visibility("default"))) uintptr_t la_symbind64(Elf64_Sym* symbol, unsigned,
                                                              uintptr_t* referrer,
                                                              uintptr_t* definer, unsigned* flags,
                                                              const char* name) {
  return bind(symbol->st_value, *flags, *referrer, *definer, name);
}
#else
__attribute__((visibility("default"))) uintptr_t la_symbind32(Elf32_Sym* symbol, unsigned,
                                                              uintptr_t* referrer,
                                                              uintptr_t* definer, unsigned* flags,
                                                              const char* name) {
  return bind(symbol->st_value, *flags, *referrer, *definer, name);
}
#endif

}  // extern "C"
