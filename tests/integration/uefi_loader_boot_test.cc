// UEFI boot loaders from Debian's signed packages booting Linux from tftpd
// under OVMF, whose own PXE client loads the first one: GRUB's network image
// (grub-efi-amd64-signed's grubnetx64.efi), which reads /grub/grub.cfg and
// fetches the kernel and initramfs it names over (tftp); and shim
// (shim-signed's shimx64.efi), which fetches grubx64.efi from its own
// directory on the same server (the network image under that name, as
// network installs place it) and starts it. Secure Boot stays off: OVMF's
// default variable store enrolls no keys, so shim loads GRUB unverified.
// ARM64 UEFI (AAVMF, qemu-efi-aarch64) does the same with GRUB's arm64
// network image and Debian's arm64 kernel (tools/fetch_arm64_guest).
// On a tap device in a network namespace of the test's own, tftpd on
// port 69; GRUB once more from behind a NAT (nftables masquerade in a
// router namespace), tftpd in single-port mode, and once more with 5% of
// datagrams lost each way (the server's --inject_faults): OVMF's windowed
// download of GRUB, and GRUB's own lock-step ones, recover. And GRUB once
// over IPv6: OVMF's PXEv6 client takes its address and the boot file URL
// from DHCPv6 (dnsmasq), fetches GRUB from tftpd on IPv6, and GRUB boots on
// with the address the firmware was given.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
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

constexpr char kGrubNet[] =
    "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed";
constexpr char kShim[] = "/usr/lib/shim/shimx64.efi.signed";
constexpr auto kBootLimit = std::chrono::seconds(180);

struct Chain {
  const char* name;
  const char* boot_file;  // What DHCP names.
  // Every file the chain must have fetched whole.
  std::vector<std::string> fetched;
  // Through a NAT, with the server in single-port mode.
  bool through_nat = false;
  // The server's --inject_faults: datagrams lost both ways.
  const char* faults = "";
  // ARM64 UEFI (AAVMF) on QEMU's virt board, booting the arm64 guest
  // (tools/fetch_arm64_guest) with GRUB's arm64 network image.
  bool arm64 = false;
  // OVMF's PXE over IPv6, configured by DHCPv6 and router advertisements.
  bool ipv6 = false;
};

class UefiLoaderBoot : public ::testing::TestWithParam<Chain> {};

// Whether the server's log has a transfer of `name` that ended with one of
// `outcomes`.
bool Ended(const std::string& log, const std::string& name,
           const std::vector<std::string>& outcomes) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (!absl::StrContains(line, absl::StrCat("file=", name, " "))) continue;
    for (const std::string& outcome : outcomes) {
      if (absl::StrContains(line, "outcome=" + outcome + " ")) return true;
    }
  }
  return false;
}

TEST_P(UefiLoaderBoot, LoadsGrubWhichBootsLinux) {
  const Chain& chain = GetParam();
  const std::string qemu =
      FindProgram(chain.arm64 ? "qemu-system-aarch64" : "qemu-system-x86_64");
  if (qemu.empty()) GTEST_SKIP() << "QEMU for this machine is not installed";
  const std::string guest = Arm64Guest();
  const std::string grub = chain.arm64 ? guest + "/grubnetaa64.efi" : kGrubNet;
  for (const std::string& file :
       chain.arm64
           ? std::vector<std::string>{grub, kAavmfCode, kAavmfVars}
           : std::vector<std::string>{grub, kShim, kOvmfCode, kOvmfVars}) {
    ASSERT_EQ(access(file.c_str(), R_OK), 0)
        << file << ": tools/setup --tests installs grub-efi-amd64-signed, "
        << "shim-signed, ovmf and qemu-efi-aarch64, and fetches the arm64 "
        << "guest";
  }
  const std::string kernel = chain.arm64 ? guest + "/Image" : FindKernel();
  ASSERT_FALSE(kernel.empty())
      << "no /boot/vmlinuz-*: tools/setup installs linux-image-amd64";
  const std::string busybox =
      ReadFile(chain.arm64 ? guest + "/busybox" : "/bin/busybox");
  ASSERT_FALSE(busybox.empty()) << "tools/setup installs busybox-static";

  TempDir root;
  ASSERT_EQ(mkdir(root.Join("grub").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(root.Join("efi").c_str(), 0755), 0);
  root.Write(chain.arm64 ? "grubnetaa64.efi" : "grubnetx64.efi",
             ReadFile(grub));
  if (!chain.arm64) {
    root.Write("efi/shimx64.efi", ReadFile(kShim));
    root.Write("efi/grubx64.efi", ReadFile(kGrubNet));
  }
  root.Write("grub/grub.cfg", absl::StrCat("set timeout=0\n"
                                           "echo tftpd grub config\n"
                                           "linux /vmlinuz console=",
                                           chain.arm64 ? "ttyAMA0" : "ttyS0",
                                           " quiet panic=-1\n"
                                           "initrd /initrd.cpio\n"
                                           "boot\n"));
  root.Write("vmlinuz", ReadFile(kernel));
  root.Write("initrd.cpio", MakeInitramfs(busybox));

  TapNamespace tap(chain.through_nat ? TapNamespace::Path::kThroughNat
                                     : TapNamespace::Path::kDirect);
  if (!tap.status().ok()) GTEST_SKIP() << tap.status().message();
  const std::string server_address =
      chain.ipv6 ? TapNamespace::kServerAddress6 : tap.server_address();
  std::optional<Udhcpd> dhcp;
  std::optional<Dnsmasq6> dhcp6;
  if (chain.ipv6) {
    dhcp6.emplace(
        tap, absl::StrCat("tftp://[", server_address, "]/", chain.boot_file));
    ASSERT_TRUE(dhcp6->status().ok()) << dhcp6->status();
  } else {
    dhcp.emplace(tap, chain.boot_file);
    ASSERT_TRUE(dhcp->status().ok()) << dhcp->status();
  }
  TftpdProcess server;
  std::vector<std::string> flags = {"--port=69"};
  if (chain.through_nat) flags.push_back("--single_port");
  if (*chain.faults != '\0') {
    // Short waits: neither EDK2 nor GRUB asks for a timeout, and each loss
    // they leave to the server then costs little of the boot's time.
    flags.insert(flags.end(), {absl::StrCat("--inject_faults=", chain.faults),
                               "--timeout=0.05", "--max_timeout=0.4"});
  }
  TFTPD_START_OR_SKIP(server, root.path(), flags, server_address);

  TempDir firmware;
  std::vector<std::string> argv = MachineArgs(qemu);
  for (std::string& arg :
       chain.arm64 ? AavmfArgs(firmware) : OvmfArgs(firmware)) {
    argv.push_back(std::move(arg));
  }
  if (chain.ipv6) {  // Straight to PXEv6, not after PXEv4's minute of DHCP.
    argv.insert(argv.end(),
                {"-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n"});
  }
  // No option ROM: the firmware's own PXE client.
  for (std::string& arg : TapNamespace::NetdevArgs("virtio-net-pci,romfile=")) {
    argv.push_back(std::move(arg));
  }
  const CommandResult boot =
      TimedBoot(chain.name, tap.GuestSide(argv), kBootLimit);
  ASSERT_TRUE(absl::StrContains(boot.output, kBootMarker))
      << boot.output << "\n"
      << server.log() << "\n"
      << (chain.ipv6 ? dhcp6->log() : dhcp->log());
  const std::string log = server.LogOnceItContains(
      "file=/initrd.cpio ", std::chrono::milliseconds(5000));
  std::printf("%s\n", log.c_str());
  // With loss, a client's final ACK may be lost: it has the file (the
  // boot went on), the server, never told so, ends the transfer when its
  // retransmissions run out (RFC 1350's last ACK).
  std::vector<std::string> outcomes = {"completed"};
  if (*chain.faults != '\0') outcomes.push_back("timed_out");
  for (const std::string& name : chain.fetched) {
    EXPECT_TRUE(Ended(log, name, outcomes)) << name << "\n" << log;
  }
  if (chain.through_nat) {  // Every request from the router's address.
    EXPECT_TRUE(absl::StrContains(log, "peer=10.0.3.1:")) << log;
    EXPECT_FALSE(absl::StrContains(log, "peer=10.0.2.")) << log;
  }
  if (chain.ipv6) {  // Every request from the address DHCPv6 leased.
    EXPECT_TRUE(absl::StrContains(log, "peer=[fd00:2::1")) << log;
    EXPECT_FALSE(absl::StrContains(log, "peer=10.")) << log;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Loaders, UefiLoaderBoot,
    ::testing::Values(
        Chain{"Grub",
              "grubnetx64.efi",
              {"grubnetx64.efi", "/grub/grub.cfg", "/vmlinuz", "/initrd.cpio"}},
        // shim asks for grubx64.efi by its own directory's path.
        Chain{"ShimThenGrub",
              "efi/shimx64.efi",
              {"efi/shimx64.efi", "efi/grubx64.efi", "/grub/grub.cfg",
               "/vmlinuz", "/initrd.cpio"}},
        Chain{"GrubThroughNat",
              "grubnetx64.efi",
              {"grubnetx64.efi", "/grub/grub.cfg", "/vmlinuz", "/initrd.cpio"},
              true},
        Chain{"GrubAtFivePercentLoss",
              "grubnetx64.efi",
              {"grubnetx64.efi", "/grub/grub.cfg", "/vmlinuz", "/initrd.cpio"},
              false,
              "loss=0.05,seed=7"},
        Chain{"Arm64Grub",
              "grubnetaa64.efi",
              {"grubnetaa64.efi", "/grub/grub.cfg", "/vmlinuz", "/initrd.cpio"},
              false,
              "",
              true},
        Chain{"GrubOverIpv6",
              "grubnetx64.efi",
              {"grubnetx64.efi", "/grub/grub.cfg", "/vmlinuz", "/initrd.cpio"},
              false,
              "",
              false,
              true}),
    [](const ::testing::TestParamInfo<Chain>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace tftpd::testing
