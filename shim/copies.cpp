#include "copies.hpp"

#include "loaded_objects.hpp"

namespace kashim {

bool another_kashim_in_front() {
  return LoadedObjectsView().get().another_copy_in_front;
}

}  // namespace kashim
