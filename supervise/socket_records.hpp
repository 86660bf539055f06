// What the supervisor remembers about the program's sockets between notified calls, keyed
// by the socket's inode: descriptor numbers are per process and reused after close(), an
// inode names one socket for as long as it exists (and the kernel does not reuse it soon).
#pragma once

#include <sys/types.h>

#include <unordered_map>

#include "decide.hpp"

namespace kashim::supervise {

struct SocketRecord {
  bool decided = false;        // a connect, listen or first sight settled this socket
  bool tuned = false;          // and kashim's values were applied to it
  OptionBits program_set = 0;  // fallback mode: what the program set itself, left alone
};

class SocketRecords {
 public:
  // The record of the socket behind `fd` (a duplicate in the supervisor); null when the
  // kernel cannot say which socket it is.
  SocketRecord* of(int fd);

 private:
  // Sockets that close are never reported: the table is emptied when it grows this large.
  // Forgetting costs only a repeated decision, never a wrong call.
  static constexpr std::size_t kMaxRecords = 1 << 16;
  std::unordered_map<ino_t, SocketRecord> records_;
};

}  // namespace kashim::supervise
