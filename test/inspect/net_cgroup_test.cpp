// pidfd_getfd, like SCM_RIGHTS, gives a socket the receiver's net_cls class id and net_prio
// index (the kernel's __receive_sock). Neither `kashim status` nor `kashim apply` may change
// how a process's traffic is classified: the sockets of a process in other net_cls or
// net_prio cgroups than kashim's are not duplicated, and one line says why.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "inspect_helpers.hpp"

namespace kashim::testing {
namespace {

bool kernel_has_net_cls() {
  std::ifstream cgroups("/proc/cgroups");
  for (std::string name; cgroups >> name;) {
    if (name == "net_cls") return true;
  }
  return false;
}

// The class id sock_diag reports for the connection to port `port` ("" if none).
std::string class_id_to(int port) {
  const ProcessRun ss = run_command(
      {"ss", "-tnH", "--tos", "state", "established", "( dport = :" + std::to_string(port) + " )"},
      {});
  const std::size_t at = ss.out.find("class_id:");
  return at == std::string::npos ? "" : ss.out.substr(at, ss.out.find_first_of(" \n", at) - at);
}

// A net_cls hierarchy mounted on a scratch directory, with one cgroup of class `class_id`
// ("": none, as kashim's). The kernel has one net_cls hierarchy however often it is mounted,
// so the cgroup is named after this test process: tests run side by side (ctest -j) must not
// share it, or one would join the other's class.
class NetClsCgroup {
 public:
  explicit NetClsCgroup(const std::string& class_id)
      : mount_(scratch_path("net_cls")),
        cgroup_(mount_ + "/kashim-test." + std::to_string(getpid())) {
    mkdir(mount_.c_str(), 0700);
    mounted_ = mount("none", mount_.c_str(), "cgroup", 0, "net_cls") == 0;
    made_ = mounted_ && mkdir(cgroup_.c_str(), 0755) == 0;
    if (made_ && !class_id.empty()) {
      std::ofstream(cgroup_ + "/net_cls.classid") << class_id << "\n";
    }
  }
  ~NetClsCgroup() {
    rmdir(cgroup_.c_str());
    if (mounted_) umount(mount_.c_str());
    rmdir(mount_.c_str());
  }
  bool ready() const { return made_; }
  bool add(pid_t pid) const {
    std::ofstream procs(cgroup_ + "/cgroup.procs");
    procs << pid << std::endl;
    return static_cast<bool>(procs);
  }

 private:
  std::string mount_, cgroup_;
  bool mounted_ = false;
  bool made_ = false;
};

TEST(InspectNetCgroup, ASocketsNetClsClassIsNotChangedByStatusOrApply) {
  if (!kernel_has_net_cls()) GTEST_SKIP() << "this kernel has no net_cls controller";
  KASHIM_REQUIRE(running_as_root(), "root (to mount a net_cls hierarchy)");
  KASHIM_REQUIRE(access("/usr/bin/ss", X_OK) == 0 || access("/bin/ss", X_OK) == 0, "ss (iproute2)");
  const NetClsCgroup net_cls("0x100001");
  KASHIM_REQUIRE(net_cls.ready(), "a net_cls cgroup v1 hierarchy (mount -t cgroup -o net_cls)");
  Child target = start_target();
  ASSERT_TRUE(net_cls.add(target.pid()));
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_GE(client, 0);
  const std::string values = target.ask("values " + std::to_string(client));
  const int port = port_in(listening);
  ASSERT_EQ(class_id_to(port), "class_id:0x100001");

  const std::string pid = std::to_string(target.pid());
  const ProcessRun status = kashim({"status", pid});
  EXPECT_EQ(class_id_to(port), "class_id:0x100001") << "after status";
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_NE(status.out.find("net_cls"), std::string::npos) << status.out;
  const ProcessRun apply = kashim({"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(class_id_to(port), "class_id:0x100001") << "after apply";
  EXPECT_EQ(apply.exit_code, 3) << apply.out << apply.err;
  EXPECT_EQ(lines_of(apply.err).size(), 1u) << apply.err;
  EXPECT_NE(apply.err.find("net_cls"), std::string::npos) << apply.err;
  EXPECT_EQ(target.ask("values " + std::to_string(client)), values);
  target.kill_and_wait();
}

// A cgroup of the hierarchy with kashim's class (none: Docker on cgroup v1 makes one per
// container): a duplicate changes nothing, and the values are read.
TEST(InspectNetCgroup, AnotherCgroupWithKashimsClassIsInspectedAsAny) {
  if (!kernel_has_net_cls()) GTEST_SKIP() << "this kernel has no net_cls controller";
  KASHIM_REQUIRE(running_as_root(), "root (to mount a net_cls hierarchy)");
  const NetClsCgroup net_cls("");
  KASHIM_REQUIRE(net_cls.ready(), "a net_cls cgroup v1 hierarchy (mount -t cgroup -o net_cls)");
  Child target = start_target();
  ASSERT_TRUE(net_cls.add(target.pid()));
  const int listener = fd_in(target.ask("listen 127.0.0.1"));
  const ProcessRun status = kashim({"status", "--json", std::to_string(target.pid())});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_EQ(field(socket_object(status.out, target.pid(), listener), "keepalive"), "false")
      << status.out;
  target.kill_and_wait();
}

}  // namespace
}  // namespace kashim::testing
