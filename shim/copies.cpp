#include "copies.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstring>

namespace kashim {

bool another_kashim_in_front() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&another_kashim_in_front), &self) == 0) return false;
  struct Search {
    const void* own_base;
    bool behind = false;
  } search{self.dli_fbase};
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) {
        auto& search = *static_cast<Search*>(data);
        const char* slash =
            object->dlpi_name != nullptr ? std::strrchr(object->dlpi_name, '/') : nullptr;
        const char* name = slash != nullptr ? slash + 1 : object->dlpi_name;
        // libkashim.so, or a versioned name such as libkashim.so.0.
        if (name == nullptr || std::strncmp(name, "libkashim.so", 12) != 0 ||
            (name[12] != '\0' && name[12] != '.')) {
          return 0;
        }
        // The first copy in the list decides: this one, or another in front of it.
        search.behind = reinterpret_cast<const void*>(object->dlpi_addr) != search.own_base;
        return 1;
      },
      &search);
  return search.behind;
}

}  // namespace kashim
