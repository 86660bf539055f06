#include "loaded_objects.hpp"

#include <atomic>

#include "start_text.hpp"

namespace kashim {
namespace {

LoadedObjects g_noted;
std::atomic<bool> g_noted_ready{false};

struct Walk {
  LoadedObjects* into;
  bool past_this_library;
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

// libkashim.so, or a versioned name such as libkashim.so.0, in any directory.
bool is_kashim(const char* path) {
  if (path == nullptr) return false;
  const char* name = path;
  for (const char* c = path; *c != '\0'; ++c) {
    if (*c == '/') name = c + 1;
  }
  return start::begins_with(name, "libkashim.so") && (name[12] == '\0' || name[12] == '.');
}

int visit(dl_phdr_info* object, size_t, void* data) {
  Walk& walk = *static_cast<Walk*>(data);
  LoadedObjects& objects = *walk.into;
  if (!walk.past_this_library) {
    walk.past_this_library = contains(*object, reinterpret_cast<ElfW(Addr)>(&note_loaded_objects));
    // The first copy in the list works: this one, or another in front of it.
    if (!walk.past_this_library && is_kashim(object->dlpi_name)) {
      objects.another_copy_in_front = true;
    }
    return 0;
  }
  const ElfW(Dyn)* dynamic = dynamic_section(*object);
  if (dynamic == nullptr) return 0;  // defines nothing
  if (objects.behind_count == LoadedObjects::kMostBehind) {
    objects.more_behind = true;
    return 1;
  }
  objects.behind[objects.behind_count++] = {object->dlpi_addr, dynamic};
  return 0;
}

// Field by field: zeroing the whole would be a call to libc's memset at start.
void walk_into(LoadedObjects* objects) {
  objects->another_copy_in_front = false;
  objects->more_behind = false;
  objects->behind_count = 0;
  Walk walk{objects, false};
  dl_iterate_phdr(visit, &walk);
}

#ifdef __GLIBC__
// The same walk over the loader's list itself, without calling into libc: for the
// constructor only, which the loader runs while nothing else can change the list.
void walk_list_into(LoadedObjects* objects) {
  objects->another_copy_in_front = false;
  objects->more_behind = false;
  objects->behind_count = 0;
  bool past_this_library = false;
  for (const link_map* map = _r_debug.r_map; map != nullptr; map = map->l_next) {
    if (!past_this_library) {
      past_this_library = map->l_ld == _DYNAMIC;  // this library's (link.h)
      if (!past_this_library && is_kashim(map->l_name)) objects->another_copy_in_front = true;
      continue;
    }
    if (map->l_ld == nullptr) continue;
    if (objects->behind_count == LoadedObjects::kMostBehind) {
      objects->more_behind = true;
      break;
    }
    objects->behind[objects->behind_count++] = {map->l_addr, map->l_ld};
  }
}
#endif

}  // namespace

void note_loaded_objects() {
  if (g_noted_ready.load(std::memory_order_acquire)) return;
#ifdef __GLIBC__
  walk_list_into(&g_noted);
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
