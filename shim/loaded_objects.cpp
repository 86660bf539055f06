#include "loaded_objects.hpp"

#include <atomic>

#include "library_name.hpp"

#ifndef __GLIBC__
extern "C" ElfW(Dyn) _DYNAMIC[];  // glibc's <link.h> declares it; the linker defines it
#endif

namespace kashim {
namespace {

LoadedObjects g_noted;
std::atomic<bool> g_noted_ready{false};

const ElfW(Dyn) * dynamic_section(const dl_phdr_info& object) {
  for (int i = 0; i < object.dlpi_phnum; ++i) {
    if (object.dlpi_phdr[i].p_type == PT_DYNAMIC) {
      return reinterpret_cast<const ElfW(Dyn)*>(object.dlpi_addr + object.dlpi_phdr[i].p_vaddr);
    }
  }
  return nullptr;
}

// The objects in load order, one at a time, whichever way they are walked. Field by field:
// zeroing the whole would be a call to libc's memset at start.
class Noting {
 public:
  explicit Noting(LoadedObjects* into) : objects_(*into) {
    objects_.another_copy_in_front = false;
    objects_.more_behind = false;
    objects_.behind_count = 0;
  }
  // False once no more can be noted.
  bool note(ElfW(Addr) base, const char* name, const ElfW(Dyn) * dynamic) {
    if (!past_this_library_) {
      past_this_library_ = dynamic == _DYNAMIC;  // this library's own
      // The first copy in the list works: this one, or another in front of it.
      if (!past_this_library_ && is_kashim_object(name, base, dynamic)) {
        objects_.another_copy_in_front = true;
      }
      return true;
    }
    if (dynamic == nullptr) return true;  // defines nothing
    if (objects_.behind_count == LoadedObjects::kMostBehind) {
      objects_.more_behind = true;
      return false;
    }
    objects_.behind[objects_.behind_count++] = {base, dynamic};
    return true;
  }

 private:
  LoadedObjects& objects_;
  bool past_this_library_ = false;
};

void walk_into(LoadedObjects* objects) {
  Noting noting(objects);
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) {
        return static_cast<Noting*>(data)->note(object->dlpi_addr, object->dlpi_name,
                                                dynamic_section(*object))
                   ? 0
                   : 1;
      },
      &noting);
}

#ifdef __GLIBC__
// The loader's list, found as a debugger finds it: glibc's loader points the program's
// DT_DEBUG entry at its r_debug before any constructor runs. Found this way rather than by
// naming _r_debug, which would make libkashim.so need ld.so by name and cost the loader
// ~2,400 instructions at every process start. The program's headers are in the auxiliary
// vector, which the kernel puts after the environment on the initial stack: `environment`
// is that array only where it ends where argv does (not in a constructor run by a dlopen()
// after a setenv()). nullptr whenever anything is not as described: the caller then walks
// with dl_iterate_phdr.
const r_debug* loader_list(int argc, char** argv, char** environment) {
  if (argv == nullptr || argc < 0 || environment != argv + argc + 1) return nullptr;
  char** end = environment;
  while (*end != nullptr) ++end;
  // The loader removes variables it ignores in a set-user-ID program by moving the entries
  // behind them forward: one more null then stands in front of the vector, read as AT_NULL.
  const ElfW(Phdr)* headers = nullptr;
  ElfW(Addr) count = 0;
  for (auto* entry = reinterpret_cast<const ElfW(auxv_t)*>(end + 1); entry->a_type != AT_NULL;
       ++entry) {
    if (entry->a_type == AT_PHDR) headers = reinterpret_cast<const ElfW(Phdr)*>(entry->a_un.a_val);
    if (entry->a_type == AT_PHNUM) count = entry->a_un.a_val;
  }
  if (headers == nullptr) return nullptr;
  const ElfW(Phdr)* own = nullptr;  // the headers' own entry: where they are, unbiased
  const ElfW(Phdr)* dynamic = nullptr;
  for (ElfW(Addr) i = 0; i < count; ++i) {
    if (headers[i].p_type == PT_PHDR) own = &headers[i];
    if (headers[i].p_type == PT_DYNAMIC) dynamic = &headers[i];
  }
  if (own == nullptr || dynamic == nullptr) return nullptr;
  const ElfW(Addr) bias = reinterpret_cast<ElfW(Addr)>(headers) - own->p_vaddr;
  for (auto* entry = reinterpret_cast<const ElfW(Dyn)*>(bias + dynamic->p_vaddr);
       entry->d_tag != DT_NULL; ++entry) {
    if (entry->d_tag == DT_DEBUG) return reinterpret_cast<const r_debug*>(entry->d_un.d_ptr);
  }
  return nullptr;
}

// The same walk over the loader's list itself, without calling into libc and without the
// loader's lock: for the constructor only. At process start nothing changes the list but a
// thread an earlier constructor started, if it opens or fails to open a library meanwhile;
// then the list says it is not consistent and the walk takes the lock after all (a dlopen
// beginning during the walk itself is not seen: a window of a few hundred nanoseconds).
// When libkashim.so is itself dlopen()ed, the caller holds the lock.
void walk_list_into(const r_debug* list, LoadedObjects* objects) {
  if (list == nullptr || list->r_version < 1 || list->r_state != r_debug::RT_CONSISTENT) {
    walk_into(objects);
    return;
  }
  Noting noting(objects);
  for (const link_map* map = list->r_map; map != nullptr; map = map->l_next) {
    if (!noting.note(map->l_addr, map->l_name, map->l_ld)) break;
  }
}
#endif

}  // namespace

void note_loaded_objects([[maybe_unused]] int argc, [[maybe_unused]] char** argv,
                         [[maybe_unused]] char** environment) {
  if (g_noted_ready.load(std::memory_order_acquire)) return;
#ifdef __GLIBC__
  walk_list_into(loader_list(argc, argv, environment), &g_noted);
#else
  walk_into(&g_noted);
#endif
  g_noted_ready.store(true, std::memory_order_release);
}

LoadedObjectsView::LoadedObjectsView() : objects_(&g_noted) {
  if (!g_noted_ready.load(std::memory_order_acquire)) {
    walk_into(&now_);
    objects_ = &now_;
  }
}

}  // namespace kashim
