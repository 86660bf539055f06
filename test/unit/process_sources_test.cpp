// The process side of the configuration: the environment taken in one pass, the file read
// with its permissions checked, and load_configuration() putting them together.
#include "process_sources.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace kashim {
namespace {

class TempDirectory {
 public:
  TempDirectory() {
    char pattern[] = "/tmp/kashim-config-test.XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDirectory() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) {
    std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets variables for one test and restores them afterwards.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old, had_ = true;
    setenv(name, value, 1);
  }
  ~ScopedVariable() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

ConfigFile read(const char* configured, ConfigText* text, const ProgramNames* program = nullptr) {
  ConfigFile file;
  read_config_file(configured, program, text, &file);
  return file;
}

TEST(ConfigFileRead, AReadableFileIsParsed) {
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\n[program app]\ncnt = 3\n");
  ConfigText text;
  ProgramNames app{"app", "app"};
  ConfigFile file = read(path.c_str(), &text, &app);
  EXPECT_TRUE(file.error.empty()) << file.error.view();
  EXPECT_TRUE(file.present);
  EXPECT_STREQ(file.path, path.c_str());
  ASSERT_NE(file.find_variable("KASHIM_CNT"), nullptr);
  EXPECT_EQ(file.find_variable("KASHIM_CNT")->value, "3");
}

TEST(ConfigFileRead, WritableByOthersIsRefused) {
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\n", 0666);
  ConfigText text;
  ConfigFile file = read(path.c_str(), &text);
  EXPECT_FALSE(file.present);
  EXPECT_EQ(file.error.view(), path +
                                   ": refused, it is writable by others (mode 0666; accepted: "
                                   "writable only by its owner and root, e.g. chmod go-w)");
  EXPECT_EQ(file.find_variable("KASHIM_IDLE"), nullptr);
}

TEST(ConfigFileRead, WritableByAGroupOtherThanRootsIsRefused) {
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\n", 0664);
  ASSERT_EQ(chown(path.c_str(), -1, 100) == 0 || geteuid() != 0, true);
  struct stat status;
  ASSERT_EQ(stat(path.c_str(), &status), 0);
  ConfigText text;
  ConfigFile file = read(path.c_str(), &text);
  if (status.st_gid == 0) {
    EXPECT_TRUE(file.error.empty()) << "root's group may write: " << file.error.view();
  } else {
    EXPECT_NE(file.error.view().find(": refused, it is writable by its group (mode 0664;"),
              std::string_view::npos)
        << file.error.view();
  }
}

// A file of another user's (nobody's, a service's) could be rewritten by any process that
// runs as that user: refused. Root's, or the reader's own, is read.
TEST(ConfigFileRead, AFileOfAnotherUsersIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\n", 0644);
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  ConfigText text;
  ConfigFile file = read(path.c_str(), &text);
  EXPECT_FALSE(file.present);
  EXPECT_EQ(file.error.view(), path +
                                   ": refused, it belongs to user 65534 (accepted: a file of "
                                   "root's, or of the user the program runs as, 0)");
  ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(read(path.c_str(), &text).error.empty());
}

TEST(ConfigFileRead, GroupRootMayWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file to group root";
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\n", 0664);
  ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  ConfigText text;
  EXPECT_TRUE(read(path.c_str(), &text).error.empty());
}

TEST(ConfigFileRead, AConfiguredFileMustExistTheDefaultNeedNot) {
  ConfigText text;
  ConfigFile file = read("/nonexistent/kashim.conf", &text);
  EXPECT_EQ(file.error.view(),
            "/nonexistent/kashim.conf: cannot be opened (no such file; accepted: KASHIM_CONFIG "
            "naming a readable file, or /dev/null)");
  ConfigFile none = read("/dev/null", &text);
  EXPECT_TRUE(none.error.empty());
  EXPECT_EQ(none.path, nullptr) << "/dev/null reads no file";
  ConfigFile relative = read("kashim.conf", &text);
  EXPECT_EQ(relative.error.view(),
            "KASHIM_CONFIG=kashim.conf is not an absolute path (accepted: a path starting with "
            "/, or /dev/null for no file)");
}

TEST(ConfigFileRead, OnlyRegularFilesOfBoundedSize) {
  TempDirectory directory;
  ConfigText text;
  EXPECT_EQ(read(directory.path().c_str(), &text).error.view(),
            directory.path() + ": is not a regular file (accepted: a regular file)");
  std::string fifo = directory.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_NE(read(fifo.c_str(), &text).error.view().find("is not a regular file"),
            std::string_view::npos)
      << "a FIFO without a writer must not hang the program";
  std::string big = directory.write("big.conf", std::string(kMaxConfigFileBytes, '#'));
  EXPECT_EQ(read(big.c_str(), &text).error.view(), big + ": is too large (accepted: at most " +
                                                       std::to_string(kMaxConfigFileBytes - 1) +
                                                       " bytes)");
  std::string fits = directory.write("fits.conf", std::string(kMaxConfigFileBytes - 1, '#'));
  EXPECT_TRUE(read(fits.c_str(), &text).error.empty());
}

TEST(ProcessEnvironment, OnePassFindsEveryNameIncludingSystemds) {
  ScopedVariable idle("KASHIM_IDLE", "17");
  ScopedVariable fds("LISTEN_FDS", "2");
  ScopedVariable pid("LISTEN_PID", "1234");
  ScopedVariable other("KASHIM_SOMETHING_NEW", "x");
  ProcessEnvironment environment = ProcessEnvironment::capture();
  EXPECT_STREQ(environment.get("KASHIM_IDLE"), "17");
  EXPECT_STREQ(environment.get("LISTEN_FDS"), "2");
  EXPECT_STREQ(environment.get("LISTEN_PID"), "1234");
  EXPECT_STREQ(environment.get("KASHIM_SOMETHING_NEW"), "x") << "unknown names still answer";
  EXPECT_EQ(environment.get("KASHIM_INTVL"), nullptr);
}

TEST(ProcessEnvironment, KeptEntriesStandForTheEnvironmentAsItIsNow) {
  ScopedVariable idle("KASHIM_IDLE", "17");  // what the process has now: not what counts
  const char* const kept[] = {"KASHIM_IDLE=31", "KASHIM_IDLE=99", "LISTEN_FDS=1", nullptr};
  ProcessEnvironment environment = ProcessEnvironment::capture(kept);
  EXPECT_STREQ(environment.get("KASHIM_IDLE"), "31") << "the first definition, as getenv";
  EXPECT_STREQ(environment.get("LISTEN_FDS"), "1");
  EXPECT_EQ(environment.get("KASHIM_CNT"), nullptr);
}

TEST(LoadConfiguration, AFileKnownAbsentIsNotLookedForAgain) {
  // KASHIM_CONFIG naming a missing file is an error, unless the look was made already.
  const char* const kept[] = {"KASHIM_CONFIG=/nonexistent/kashim.conf", "KASHIM_IDLE=31", nullptr};
  Config looked;
  load_configuration(ProcessEnvironment::capture(kept), &looked);
  EXPECT_FALSE(looked.active);
  EXPECT_NE(looked.error.view().find("/nonexistent/kashim.conf: cannot be opened"),
            std::string_view::npos)
      << looked.error.view();
  ProcessEnvironment known = ProcessEnvironment::capture(kept);
  known.note_no_file();
  Config config;
  load_configuration(known, &config);
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.idle_s.value, 31);
  EXPECT_STREQ(config.file, "");
}

TEST(LoadConfiguration, ReadsTheConfiguredFileUnderTheEnvironment) {
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\nintvl = 9\n");
  ScopedVariable config_path("KASHIM_CONFIG", path.c_str());
  ScopedVariable intvl("KASHIM_INTVL", "8");
  Config config;
  load_configuration(&config);
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.idle_s.value, 42);
  EXPECT_EQ(config.idle_s.line, 1);
  EXPECT_EQ(config.intvl_s.value, 8);
  EXPECT_STREQ(config.file, path.c_str());
  EXPECT_EQ(config.scope_program.view(), "unit_tests") << "this process's own name";
}

// The file is read into memory mapped for the parse (not onto a stack that may be small).
// Where none can be mapped, or no descriptor is left to open it, the parse says it was short
// of resources, and a later one reads the file.
TEST(LoadConfiguration, ShortOfMemoryOrDescriptorsTheFileIsLeftForALaterParse) {
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "idle = 42\nintvl = 9\n");
  ScopedVariable config_path("KASHIM_CONFIG", path.c_str());
  static Config config;  // not on the heap: the child below can allocate nothing
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit limit{};
    getrlimit(RLIMIT_AS, &limit);
    const rlimit none = {0, limit.rlim_max};  // below what is mapped already: mmap fails
    if (setrlimit(RLIMIT_AS, &none) != 0) _exit(2);
    if (mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
      _exit(3);  // the premise
    }
    load_configuration(&config);
    // Said, for the routes that report it; the preload library keeps it to itself.
    if (!config.short_of_resources || config.active || config.error.empty()) _exit(4);
    setrlimit(RLIMIT_AS, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    const rlimit no_descriptor = {0, limit.rlim_max};  // open fails with EMFILE
    if (setrlimit(RLIMIT_NOFILE, &no_descriptor) != 0) _exit(2);
    load_configuration(&config);
    if (!config.short_of_resources || config.active) _exit(5);
    setrlimit(RLIMIT_NOFILE, &limit);
    load_configuration(&config);
    _exit(!config.short_of_resources && config.active && config.idle_s.value == 42 &&
                  config.intvl_s.value == 9
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: not the file's values at last; 3: the premise; 4: without memory, 5: without a "
         "descriptor, not left for later";
}

// KASHIM_USER_TIMEOUT=auto reads sysctls: without a descriptor to open one, the same.
TEST(LoadConfiguration, ShortOfDescriptorsForASysctlTheParseIsLeftForLater) {
  ScopedVariable no_file("KASHIM_CONFIG", "/dev/null");
  ScopedVariable automatic("KASHIM_USER_TIMEOUT", "auto");
  static Config config;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    const rlimit no_descriptor = {0, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &no_descriptor) != 0) _exit(2);
    load_configuration(&config);
    if (!config.short_of_resources || config.active) _exit(4);
    setrlimit(RLIMIT_NOFILE, &limit);
    load_configuration(&config);
    _exit(!config.short_of_resources && config.active && config.user_timeout_ms.set ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: not parsed at last; 4: not left for later";
}

TEST(LoadConfiguration, CheckProgramNamesTheProgramTheReportIsFor) {
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "programs = !ssh*, *\n");
  ScopedVariable config_path("KASHIM_CONFIG", path.c_str());
  ScopedVariable check("KASHIM_CHECK", "1");
  ScopedVariable program("KASHIM_CHECK_PROGRAM", "sshd");
  Config config;
  load_configuration(&config);
  EXPECT_TRUE(config.out_of_scope);
  EXPECT_EQ(config.scope_program.view(), "sshd");
  Config for_curl;
  load_configuration_for({"curl", "curl"}, &for_curl);
  EXPECT_TRUE(for_curl.active) << for_curl.error.view();
}

TEST(LoadConfiguration, TheUnitTestProgramItselfCanBeExcluded) {
  ScopedVariable config_path("KASHIM_CONFIG", "/dev/null");
  ScopedVariable programs("KASHIM_PROGRAMS", "!unit_test?, *");
  Config config;
  load_configuration(&config);
  EXPECT_TRUE(config.out_of_scope);
  EXPECT_STREQ(config.file, "");
}

TEST(ProcessSources, IncludeTheFilesGlobalPart) {
  // process_sources() reads the file once per process, so this is the one test that calls
  // it; a file given with KASHIM_CONFIG before the first call is the one it keeps.
  TempDirectory directory;
  std::string path = directory.write("kashim.conf", "cnt = 4\n[program unit_tests]\ncnt = 5\n");
  ScopedVariable config_path("KASHIM_CONFIG", path.c_str());
  Config config;
  parse_config(process_sources(), &config);
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.cnt.value, 4) << "the sections concern the program a route acts for";
  EXPECT_FALSE(config.out_of_scope);
}

}  // namespace
}  // namespace kashim
