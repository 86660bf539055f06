#include "records.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cstdint>

#include "guards.hpp"
#include "kernel.hpp"
#include "mapped_once.hpp"

namespace kashim::records {
namespace {

constexpr int kNumbers = 1 << 20;  // the kernel's default limit, fs.nr_open

// Each kind is mapped at its first use, not kept in the library's zeroed data (which the
// loader would map in every process): the seen bits (128 KiB of address space) at the
// first TCP socket() of a process kashim tunes; the records, which only filters and
// inherited listeners make, a table of pages at the first record and a page of 32 KiB for
// each 4096 numbers when one of them first gets a record. All of them for every number
// would be 8 MiB of the program's address space (RLIMIT_AS, overcommit 2) for the few in use.
// An entry is (inode << 8) | bits, written and read as one word.
using Word = std::atomic<std::uint64_t>;
constexpr std::size_t kSeenWords = kNumbers / 64;
constexpr int kPageNumbers = 4096;
constexpr std::size_t kPages = kNumbers / kPageNumbers;
std::atomic<Word*> g_seen{nullptr};
std::atomic<std::atomic<Word*>*> g_pages{nullptr};

bool in_range(int fd) {
  return fd >= 0 && fd < kNumbers;
}

// The record under `fd`; nullptr when there is none yet, or (`make`) no memory for one.
Word* entry_of(int fd, bool make) {
  if (!in_range(fd)) return nullptr;
  std::atomic<Word*>* pages =
      make ? mapped_once(g_pages, kPages) : g_pages.load(std::memory_order_acquire);
  if (pages == nullptr) return nullptr;
  std::atomic<Word*>& page = pages[fd / kPageNumbers];
  Word* records = make ? mapped_once(page, kPageNumbers) : page.load(std::memory_order_acquire);
  return records != nullptr ? &records[fd % kPageNumbers] : nullptr;
}

// The socket's identity: its inode, 0 when it cannot be had. Sockets' inode numbers are
// 32-bit and unique while the socket lives.
std::uint64_t identity(int fd) {
  ErrnoGuard keep_errno;
  struct stat file;
  if (kernel::fstat(fd, &file) != 0) return 0;
  return static_cast<std::uint64_t>(file.st_ino) & 0x00ffffffffffffffu;
}

}  // namespace

void mark_seen(int fd) {
  Word* seen = in_range(fd) ? mapped_once(g_seen, kSeenWords) : nullptr;
  if (seen != nullptr) seen[fd / 64].fetch_or(1ull << (fd % 64), std::memory_order_relaxed);
}

bool seen(int fd) {
  Word* seen = g_seen.load(std::memory_order_acquire);
  return seen != nullptr && in_range(fd) &&
         (seen[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1) != 0;
}

OptionBits read(int fd) {
  Word* record = entry_of(fd, /*make=*/false);
  if (record == nullptr) return 0;
  const std::uint64_t entry = record->load(std::memory_order_relaxed);
  if (entry == 0 || entry >> 8 != identity(fd)) return 0;
  return static_cast<OptionBits>(entry & 0xff);
}

void add(int fd, OptionBits bits) {
  const std::uint64_t inode = in_range(fd) ? identity(fd) : 0;
  Word* record = inode != 0 ? entry_of(fd, /*make=*/true) : nullptr;
  if (record == nullptr) return;
  Word& slot = *record;
  std::uint64_t entry = slot.load(std::memory_order_relaxed);
  std::uint64_t wanted;
  do {
    wanted = entry >> 8 == inode ? entry | bits : inode << 8 | bits;
  } while (!slot.compare_exchange_weak(entry, wanted, std::memory_order_relaxed));
}

void remove(int fd, OptionBits bits) {
  if (Word* record = entry_of(fd, /*make=*/false)) record->fetch_and(~std::uint64_t{bits});
}

void forget(int fd) {
  if (Word* record = entry_of(fd, /*make=*/false)) record->store(0, std::memory_order_relaxed);
}

}  // namespace kashim::records
