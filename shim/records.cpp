#include "records.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>

#include "guards.hpp"

namespace kashim::records {
namespace {

constexpr int kNumbers = 1 << 20;  // the kernel's default limit, fs.nr_open

// An entry is (inode << 8) | bits, written and read as one word. The table is mapped at the
// first socket() of a process that tunes (8 MiB of address space, pages touched only for
// the numbers in use): a process that opens no socket pays nothing for it, not even the
// loader's mapping of zeroed memory at start.
using Entry = std::atomic<std::uint64_t>;
struct Table {
  std::atomic<std::uint64_t> seen[kNumbers / 64];  // a bit per number
  Entry entries[kNumbers];
};
std::atomic<Table*> g_table{nullptr};

Table* table() {
  Table* table = g_table.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  void* mapped = mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) return nullptr;
  if (!g_table.compare_exchange_strong(table, static_cast<Table*>(mapped),
                                       std::memory_order_acq_rel)) {
    munmap(mapped, sizeof(Table));  // another thread mapped it first
    return table;
  }
  return static_cast<Table*>(mapped);
}

bool in_range(int fd) {
  return fd >= 0 && fd < kNumbers;
}

// The socket's identity: its inode, 0 when it cannot be had. Sockets' inode numbers are
// 32-bit and unique while the socket lives.
std::uint64_t identity(int fd) {
  ErrnoGuard keep_errno;
  struct stat file;
  if (fstat(fd, &file) != 0) return 0;
  return static_cast<std::uint64_t>(file.st_ino) & 0x00ffffffffffffffu;
}

}  // namespace

void mark_seen(int fd) {
  Table* table = in_range(fd) ? kashim::records::table() : nullptr;
  if (table != nullptr) table->seen[fd / 64].fetch_or(1ull << (fd % 64), std::memory_order_relaxed);
}

bool seen(int fd) {
  Table* table = g_table.load(std::memory_order_acquire);
  return table != nullptr && in_range(fd) &&
         (table->seen[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1) != 0;
}

OptionBits read(int fd) {
  Table* table = g_table.load(std::memory_order_acquire);
  if (table == nullptr || !in_range(fd)) return 0;
  const std::uint64_t entry = table->entries[fd].load(std::memory_order_relaxed);
  if (entry == 0 || entry >> 8 != identity(fd)) return 0;
  return static_cast<OptionBits>(entry & 0xff);
}

void add(int fd, OptionBits bits) {
  const std::uint64_t inode = in_range(fd) ? identity(fd) : 0;
  Table* table = inode != 0 ? kashim::records::table() : nullptr;
  if (table == nullptr) return;
  Entry& slot = table->entries[fd];
  std::uint64_t entry = slot.load(std::memory_order_relaxed);
  std::uint64_t wanted;
  do {
    wanted = entry >> 8 == inode ? entry | bits : inode << 8 | bits;
  } while (!slot.compare_exchange_weak(entry, wanted, std::memory_order_relaxed));
}

void remove(int fd, OptionBits bits) {
  Table* table = g_table.load(std::memory_order_acquire);
  if (table != nullptr && in_range(fd)) table->entries[fd].fetch_and(~std::uint64_t{bits});
}

void forget(int fd) {
  Table* table = g_table.load(std::memory_order_acquire);
  if (table != nullptr && in_range(fd)) table->entries[fd].store(0, std::memory_order_relaxed);
}

}  // namespace kashim::records
