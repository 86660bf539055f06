// Two copies of libkashim.so in one process (/etc/ld.so.preload names one, the wrapper
// another): the one in front works, the one behind must only forward, or every socket is
// tuned twice.
#pragma once

namespace kashim {

// True in the copy behind: the first libkashim.so among the loaded objects (which come in
// load order, preloaded ones first) is not this one. Noted at start (loaded_objects.hpp).
bool another_kashim_in_front();

}  // namespace kashim
