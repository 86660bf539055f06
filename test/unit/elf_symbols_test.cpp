// shim/elf_symbols: the GNU hash look-up libkashim.so uses in place of dlsym(RTLD_NEXT),
// over tables built here by hand, so that each rule of the dynamic linker is checked alone.
#include "elf_symbols.hpp"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace kashim::elf {
namespace {

// A table of `names` (index 1 onwards; 0 is the null symbol), all in one bucket, with
// a Bloom filter that lets every name through, and the given symbol versions.
struct HandBuiltTable {
  std::vector<char> strings{'\0'};
  std::vector<ElfW(Sym)> symbols{ElfW(Sym){}};
  std::vector<ElfW(Half)> versions{0};
  std::vector<std::uint32_t> hash;

  void add(const char* name, ElfW(Addr) value, ElfW(Half) version, unsigned char type = STT_FUNC) {
    ElfW(Sym) symbol{};
    symbol.st_name = static_cast<std::uint32_t>(strings.size());
    symbol.st_info = static_cast<unsigned char>((STB_GLOBAL << 4) | type);
    symbol.st_shndx = 1;
    symbol.st_value = value;
    strings.insert(strings.end(), name, name + std::strlen(name) + 1);
    symbols.push_back(symbol);
    versions.push_back(version);
  }
  DynamicSymbols build() {
    const std::uint32_t bloom_words = sizeof(ElfW(Addr)) / sizeof(std::uint32_t);
    hash = {1, 1, 1, 0};  // one bucket, first symbol 1, one word
    for (std::uint32_t i = 0; i < bloom_words; ++i) hash.push_back(~0u);  // lets all through
    hash.push_back(1);  // the bucket's chain starts at 1
    for (std::size_t i = 1; i < symbols.size(); ++i) {
      const std::uint32_t value = gnu_hash(strings.data() + symbols[i].st_name) & ~1u;
      hash.push_back(i + 1 == symbols.size() ? value | 1 : value);  // low bit: chain ends
    }
    DynamicSymbols table;
    table.symbols = symbols.data();
    table.strings = strings.data();
    table.gnu_hash = hash.data();
    table.versions = versions.data();
    return table;
  }
};

const ElfW(Sym) * find(const DynamicSymbols& table, const char* name) {
  return find_definition(table, name, gnu_hash(name));
}

TEST(ElfSymbols, FindsADefinitionByName) {
  HandBuiltTable table;
  table.add("socket", 0x100, 1);
  table.add("connect", 0x200, 1);
  const DynamicSymbols symbols = table.build();
  ASSERT_NE(find(symbols, "connect"), nullptr);
  EXPECT_EQ(find(symbols, "connect")->st_value, 0x200u);
  EXPECT_EQ(find(symbols, "socket")->st_value, 0x100u);
  EXPECT_EQ(find(symbols, "accept"), nullptr);
  EXPECT_EQ(find(symbols, "connec"), nullptr);
}

// dlsym without a version takes the default one: a hidden (old) version is passed over
// even when it comes first, whatever its index (2 here: the first version after the base).
TEST(ElfSymbols, AHiddenVersionIsPassedOverForTheDefaultOne) {
  HandBuiltTable table;
  table.add("connect", 0x100, 0x8000 | 2);  // connect@V1
  table.add("connect", 0x200, 3);           // connect@@V2
  const DynamicSymbols symbols = table.build();
  ASSERT_NE(find(symbols, "connect"), nullptr);
  EXPECT_EQ(find(symbols, "connect")->st_value, 0x200u);
}

TEST(ElfSymbols, AnUndefinedReferenceIsNoDefinition) {
  HandBuiltTable table;
  table.add("connect", 0x100, 1);
  table.symbols[1].st_shndx = SHN_UNDEF;
  const DynamicSymbols symbols = table.build();
  EXPECT_EQ(find(symbols, "connect"), nullptr);
}

TEST(ElfSymbols, TheBloomFilterAloneCanSayNo) {
  HandBuiltTable table;
  table.add("connect", 0x100, 1);
  DynamicSymbols symbols = table.build();
  const std::uint32_t bloom_words = sizeof(ElfW(Addr)) / sizeof(std::uint32_t);
  for (std::uint32_t i = 0; i < bloom_words; ++i) table.hash[4 + i] = 0;  // no bit set
  EXPECT_EQ(find(symbols, "connect"), nullptr);
}

}  // namespace
}  // namespace kashim::elf
