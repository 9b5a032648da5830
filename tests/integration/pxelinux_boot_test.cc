// pxelinux and lpxelinux (Debian's pxelinux, with syslinux-common's
// ldlinux.c32) booting Linux from tftpd under SeaBIOS, whose PXE stack is
// QEMU's iPXE option ROM: DHCP gives pxelinux.0 as the boot file; pxelinux
// fetches ldlinux.c32 from its own directory, then searches
// pxelinux.cfg/ for its machine's configuration (the UUID, 01-<MAC>, the
// IP address in hex, shortened a digit at a time, then `default`), and
// boots the kernel and initramfs that configuration names. On a tap device
// in a network namespace of the test's own, tftpd on port 69.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/boot_machine.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr char kLdlinux[] = "/usr/lib/syslinux/modules/bios/ldlinux.c32";
// QEMU's first NIC's address, and how pxelinux names it.
constexpr char kMac[] = "52:54:00:12:34:56";
constexpr char kMacConfig[] = "pxelinux.cfg/01-52-54-00-12-34-56";
constexpr auto kBootLimit = std::chrono::seconds(180);

struct Loader {
  const char* name;  // In /usr/lib/PXELINUX.
  // Where its configuration is: the MAC's file, or only `default`.
  bool per_machine;
};

class PxelinuxBoot : public ::testing::TestWithParam<Loader> {};

TEST_P(PxelinuxBoot, SearchesItsConfigurationAndBootsLinux) {
  const Loader& loader = GetParam();
  const std::string qemu = FindProgram("qemu-system-x86_64");
  if (qemu.empty())
    GTEST_SKIP() << "QEMU (qemu-system-x86_64) is not installed";
  const std::string binary = absl::StrCat("/usr/lib/PXELINUX/", loader.name);
  ASSERT_EQ(access(binary.c_str(), R_OK), 0) << "tools/setup installs pxelinux";
  ASSERT_EQ(access(kLdlinux, R_OK), 0)
      << "tools/setup installs syslinux-common";
  const std::string kernel = FindKernel();
  ASSERT_FALSE(kernel.empty())
      << "no /boot/vmlinuz-*: tools/setup installs linux-image-amd64";
  const std::string busybox = ReadFile("/bin/busybox");
  ASSERT_FALSE(busybox.empty()) << "tools/setup installs busybox-static";

  TempDir root;
  root.Write(loader.name, ReadFile(binary));
  root.Write("ldlinux.c32", ReadFile(kLdlinux));
  root.Write("vmlinuz", ReadFile(kernel));
  root.Write("initrd.cpio", MakeInitramfs(busybox));
  ASSERT_EQ(mkdir(root.Join("pxelinux.cfg").c_str(), 0755), 0);
  const std::string config =
      "DEFAULT linux\n"
      "LABEL linux\n"
      "  KERNEL vmlinuz\n"
      "  APPEND console=ttyS0 quiet panic=-1 initrd=initrd.cpio\n";
  const std::string config_name =
      loader.per_machine ? kMacConfig : "pxelinux.cfg/default";
  root.Write(config_name, config);

  TapNamespace tap;
  if (!tap.status().ok()) GTEST_SKIP() << tap.status().message();
  Udhcpd dhcp(tap, loader.name);
  ASSERT_TRUE(dhcp.status().ok()) << dhcp.status();
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--port=69"}, "10.0.2.2");

  std::vector<std::string> argv = MachineArgs(qemu);
  for (std::string& arg :
       TapNamespace::NetdevArgs(absl::StrCat("virtio-net-pci,mac=", kMac))) {
    argv.push_back(std::move(arg));
  }
  const CommandResult boot = TimedBoot(loader.name, argv, kBootLimit);
  ASSERT_TRUE(absl::StrContains(boot.output, kBootMarker))
      << boot.output << "\n"
      << server.log() << "\n"
      << dhcp.log();

  const std::string log = server.LogOnceItContains(
      "file=initrd.cpio ", std::chrono::milliseconds(5000));
  std::printf("%s\n", log.c_str());
  for (const std::string& name :
       {std::string(loader.name), std::string("ldlinux.c32"), config_name,
        std::string("vmlinuz"), std::string("initrd.cpio")}) {
    SCOPED_TRACE(name);
    bool completed = false;
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      if (absl::StrContains(line, absl::StrCat("file=", name, " ")) &&
          absl::StrContains(line, "outcome=completed")) {
        completed = true;
      }
    }
    EXPECT_TRUE(completed) << log;
  }
  // The search order: with only `default` there, the MAC's file was asked
  // for first and not found.
  if (!loader.per_machine) {
    const size_t mac = log.find(kMacConfig);
    const size_t fallback = log.find("file=pxelinux.cfg/default ");
    ASSERT_NE(mac, std::string::npos) << log;
    EXPECT_LT(mac, fallback) << log;
  } else {
    EXPECT_FALSE(absl::StrContains(log, "pxelinux.cfg/default")) << log;
  }
}

INSTANTIATE_TEST_SUITE_P(Loaders, PxelinuxBoot,
                         ::testing::Values(Loader{"pxelinux.0", false},
                                           Loader{"lpxelinux.0", true}),
                         [](const ::testing::TestParamInfo<Loader>& info) {
                           return info.param.per_machine ? "Lpxelinux"
                                                         : "Pxelinux";
                         });

}  // namespace
}  // namespace tftpd::testing
