// What the shim remembers about a socket between calls, keyed by descriptor number.
//
// Two kinds, both for the kernel's default descriptor limit (fs.nr_open), in memory mapped
// when first needed (the records a page of 4096 numbers at a time), touched only for the
// numbers in use:
//   - Seen: a bit per number, set when socket() hands out a TCP socket under it (or the
//     shim has looked at an inherited listener under it): a listener whose number was never
//     seen came from elsewhere (across exec, or over a Unix socket) and is looked at once,
//     at its first accept(). No system call ever: it is asked on every accept(). A bit is
//     never cleared (close() is not hooked): a listener that arrives under the number of a
//     TCP socket this process made and closed is not looked at.
//   - Records: option bits for one socket (with a filter: whether kashim tuned it, which
//     options the program set itself; an inherited listener whose queue is being drained).
//     Each record names the socket it was made for (its inode), so a number reused by
//     dup2(), socketpair(), SCM_RIGHTS or anything else never inherits another socket's
//     record: reading one that exists costs an fstat().
#pragma once

#include "decide.hpp"

namespace kashim::records {

inline constexpr OptionBits kTuned = 0x80;     // kashim decided to tune this connection
inline constexpr OptionBits kDraining = 0x40;  // an inherited listener, see inherited.hpp
static_assert((kAllOptionBits & (kTuned | kDraining)) == 0, "the option bits leave room");

void mark_seen(int fd);
bool seen(int fd);

// The record of the socket now under `fd`; 0 when there is none or it was another socket's.
OptionBits read(int fd);
// Adds bits to the record of the socket now under `fd` (a fresh record if the one under
// that number was another socket's).
void add(int fd, OptionBits bits);
void remove(int fd, OptionBits bits);
// socket() or accept() just handed the number out: whatever was recorded under it is gone.
void forget(int fd);

}  // namespace kashim::records
