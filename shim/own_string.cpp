// The string and memory functions kashim's own code uses (std::string_view's comparisons,
// the parser's searches, and what the compiler emits calls to), defined in libkashim.so
// itself and hidden: its calls bind here when it is linked, never to a definition the
// dynamic linker finds first. A program may
// define and export strcmp or memcmp itself (a CPU-dispatched version behind a pointer its
// own constructor sets, say); kashim, whose constructor runs first, would call it before
// it works, and every call after would be one the program never made
// (ExportedFunctions.*). The strings here are short: names, values, a line of a file.
#include <cstddef>
#include <cstdint>

#include "no_libc_idiom.hpp"

#define KASHIM_OWN extern "C" __attribute__((visibility("hidden")))

KASHIM_OWN std::size_t strlen(const char* text) {
  std::size_t length = 0;
  while (text[length] != '\0') {
    ++length;
    KASHIM_NO_LIBC_IDIOM;
  }
  return length;
}

KASHIM_OWN int strcmp(const char* a, const char* b) {
  const auto* x = reinterpret_cast<const unsigned char*>(a);
  const auto* y = reinterpret_cast<const unsigned char*>(b);
  while (*x != '\0' && *x == *y) {
    ++x, ++y;
    KASHIM_NO_LIBC_IDIOM;
  }
  return *x - *y;
}

KASHIM_OWN char* strchr(const char* text, int wanted) {
  const char c = static_cast<char>(wanted);
  for (;; ++text) {
    if (*text == c) return const_cast<char*>(text);
    if (*text == '\0') return nullptr;
    KASHIM_NO_LIBC_IDIOM;
  }
}

KASHIM_OWN int memcmp(const void* a, const void* b, std::size_t size) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (std::size_t i = 0; i < size; ++i) {
    if (x[i] != y[i]) return x[i] - y[i];
    KASHIM_NO_LIBC_IDIOM;
  }
  return 0;
}

KASHIM_OWN void* memchr(const void* data, int wanted, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  const auto c = static_cast<unsigned char>(wanted);
  for (std::size_t i = 0; i < size; ++i) {
    if (bytes[i] == c) return const_cast<unsigned char*>(bytes + i);
    KASHIM_NO_LIBC_IDIOM;
  }
  return nullptr;
}

KASHIM_OWN void* memmove(void* to, const void* from, std::size_t size) {
  auto* destination = static_cast<unsigned char*>(to);
  const auto* source = static_cast<const unsigned char*>(from);
  if (destination < source) {
    for (std::size_t i = 0; i < size; ++i) {
      destination[i] = source[i];
      KASHIM_NO_LIBC_IDIOM;
    }
  } else {
    for (std::size_t i = size; i > 0; --i) {
      destination[i - 1] = source[i - 1];
      KASHIM_NO_LIBC_IDIOM;
    }
  }
  return to;
}

// What compilers emit calls to themselves: struct copies, zeroing, memcmp() == 0 (clang),
// and the byte-order functions, which glibc inlines only when optimising (musl never).
KASHIM_OWN void* memcpy(void* to, const void* from, std::size_t size) {
  return memmove(to, from, size);
}

KASHIM_OWN void* memset(void* to, int value, std::size_t size) {
  auto* destination = static_cast<unsigned char*>(to);
  for (std::size_t i = 0; i < size; ++i) {
    destination[i] = static_cast<unsigned char>(value);
    KASHIM_NO_LIBC_IDIOM;
  }
  return to;
}

KASHIM_OWN int bcmp(const void* a, const void* b, std::size_t size) {
  return memcmp(a, b, size);
}

KASHIM_OWN std::uint32_t htonl(std::uint32_t value) {
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? __builtin_bswap32(value) : value;
}
KASHIM_OWN std::uint16_t htons(std::uint16_t value) {
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? __builtin_bswap16(value) : value;
}
KASHIM_OWN std::uint32_t ntohl(std::uint32_t value) {
  return htonl(value);
}
KASHIM_OWN std::uint16_t ntohs(std::uint16_t value) {
  return htons(value);
}
