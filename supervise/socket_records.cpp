#include "socket_records.hpp"

#include <sys/stat.h>

namespace kashim::supervise {

SocketRecord* SocketRecords::of(int fd) {
  struct stat file;
  if (fstat(fd, &file) != 0 || !S_ISSOCK(file.st_mode)) return nullptr;
  if (records_.size() >= kMaxRecords && records_.find(file.st_ino) == records_.end()) {
    records_.clear();
  }
  return &records_[file.st_ino];
}

}  // namespace kashim::supervise
