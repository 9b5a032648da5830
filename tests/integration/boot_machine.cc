#include "tests/integration/boot_machine.h"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tftpd::testing {
namespace {

// Writes the "newc" format, which the kernel unpacks into its rootfs.
class Cpio {
 public:
  void Directory(const std::string& name) { Add(name, S_IFDIR | 0755, ""); }
  void File(const std::string& name, mode_t mode, const std::string& data) {
    Add(name, S_IFREG | mode, data);
  }
  void CharacterDevice(const std::string& name, int major, int minor) {
    Add(name, S_IFCHR | 0600, "", major, minor);
  }
  std::string Finish() {
    Add("TRAILER!!!", 0, "");
    out_.resize((out_.size() + 511) / 512 * 512, '\0');
    return out_;
  }

 private:
  void Add(const std::string& name, unsigned mode, const std::string& data,
           int major = 0, int minor = 0) {
    char header[111];
    std::snprintf(header, sizeof header,
                  "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                  ++inode_, mode, 0, 0, 1, 0,
                  static_cast<unsigned>(data.size()), 0, 0, major, minor,
                  static_cast<unsigned>(name.size() + 1), 0);
    out_.append(header, 110);
    out_.append(name);
    out_.push_back('\0');
    Pad();
    out_.append(data);
    Pad();
  }
  void Pad() { out_.resize((out_.size() + 3) / 4 * 4, '\0'); }

  std::string out_;
  unsigned inode_ = 0;
};

absl::Status Run(const std::vector<std::string>& command) {
  const CommandResult r = RunCommand(command);
  if (r.exit_code == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(absl::StrJoin(command, " "), ": ", r.output));
}

}  // namespace

std::string FindKernel() {
  std::vector<std::string> kernels;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/boot", error)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, "vmlinuz-")) {
      kernels.push_back(entry.path().string());
    }
  }
  std::sort(kernels.begin(), kernels.end());
  return kernels.empty() ? "" : kernels.back();
}

std::string MakeInitramfs(const std::string& busybox) {
  const std::string init = absl::StrCat(
      "#!/bin/busybox sh\n"
      "/bin/busybox mkdir -p /proc\n"
      "/bin/busybox mount -t proc proc /proc\n"
      "cd /files\n"
      "for f in *; do [ -f \"$f\" ] && /bin/busybox sha256sum \"$f\"; done\n"
      "echo ",
      kBootMarker,
      "\n"
      "/bin/busybox poweroff -f\n");
  Cpio cpio;
  cpio.Directory("bin");
  cpio.Directory("dev");
  cpio.CharacterDevice("dev/console", 5, 1);
  cpio.Directory("files");
  cpio.File("bin/busybox", 0755, busybox);
  cpio.File("init", 0755, init);
  return cpio.Finish();
}

std::map<std::string, std::string> Sha256Lines(const std::string& output) {
  std::map<std::string, std::string> sums;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    const size_t space = line.find("  ");
    if (space != 64) continue;
    sums[std::string(line.substr(66))] = std::string(line.substr(0, 64));
  }
  return sums;
}

std::vector<std::string> MachineArgs(const std::string& qemu) {
  return {qemu,       "-accel",     "tcg",      "-m",   "1024",
          "-display", "none",       "-monitor", "none", "-serial",
          "stdio",    "-no-reboot", "-boot",    "n"};
}

std::vector<std::string> OvmfArgs(const TempDir& dir) {
  dir.Write("vars.fd", ReadFile(kOvmfVars));
  const std::string vars_copy = dir.Join("vars.fd");
  return {
      "-drive",
      absl::StrCat("if=pflash,format=raw,unit=0,readonly=on,file=", kOvmfCode),
      "-drive", absl::StrCat("if=pflash,format=raw,unit=1,file=", vars_copy)};
}

CommandResult TimedBoot(const std::string& name,
                        const std::vector<std::string>& argv,
                        std::chrono::seconds limit) {
  const auto start = std::chrono::steady_clock::now();
  CommandResult boot = RunCommand(argv, limit);
  std::printf(
      "%s boot took %.1f s\n", name.c_str(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return boot;
}

std::vector<std::string> UbootX86Args() {
  return {"-vga", "none", "-bios", kUbootX86Rom};
}

std::vector<std::string> Arm64BoardArgs() {
  return {"-machine", "virt", "-cpu", "cortex-a57"};
}

std::vector<std::string> AavmfArgs(const TempDir& dir) {
  dir.Write("vars.fd", ReadFile(kAavmfVars));
  std::vector<std::string> args = Arm64BoardArgs();
  args.insert(
      args.end(),
      {"-drive",
       absl::StrCat("if=pflash,format=raw,unit=0,readonly=on,file=",
                    kAavmfCode),
       "-drive",
       absl::StrCat("if=pflash,format=raw,unit=1,file=", dir.Join("vars.fd"))});
  return args;
}

std::string Arm64Guest() {
  const char* dir = getenv("TFTPD_ARM64_GUEST");
  return dir != nullptr ? dir : "/var/cache/tftpd-tests/arm64";
}

TapNamespace::TapNamespace(Path path, int machines) {
  const std::string ip = FindProgram("ip");
  if (ip.empty()) {
    status_ = absl::FailedPreconditionError("tools/setup installs iproute2");
    return;
  }
  if (access("/dev/net/tun", R_OK | W_OK) != 0) {
    status_ = absl::UnavailableError(
        "this kernel offers no tap devices (/dev/net/tun)");
    return;
  }
  original_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || unshare(CLONE_NEWNET) != 0) {
    status_ = absl::UnavailableError(absl::StrCat(
        "cannot make a network namespace here: ", std::strerror(errno)));
    if (original_ >= 0) close(original_);
    original_ = -1;
    return;
  }
  status_ = Run({ip, "link", "set", "lo", "up"});
  if (!status_.ok()) return;
  if (path == Path::kThroughNat) {
    status_ = MakeRouter(ip);
    return;
  }
  std::vector<std::vector<std::string>> commands;
  if (machines > 1) {
    link_ = "br0";
    commands.push_back({ip, "link", "add", "br0", "type", "bridge"});
  }
  for (int i = 0; i < machines; ++i) {
    const std::string tap = absl::StrCat("tap", i);
    commands.push_back({ip, "tuntap", "add", "dev", tap, "mode", "tap"});
    if (machines > 1)
      commands.push_back({ip, "link", "set", tap, "master", "br0"});
    commands.push_back({ip, "link", "set", tap, "up"});
  }
  commands.push_back({ip, "addr", "add", "10.0.2.2/24", "dev", link_});
  // nodad: usable at once, so tftpd can bind it before the guest starts.
  commands.push_back({ip, "addr", "add", absl::StrCat(kServerAddress6, "/64"),
                      "dev", link_, "nodad"});
  commands.push_back({ip, "link", "set", link_, "up"});
  for (const std::vector<std::string>& command : commands) {
    status_ = Run(command);
    if (!status_.ok()) return;
  }
}

absl::Status TapNamespace::MakeRouter(const std::string& ip) {
  const std::string nft = FindProgram("nft");
  if (nft.empty()) {
    return absl::FailedPreconditionError("tools/setup installs nftables");
  }
  router_ = absl::StrCat("tftpd-router-", getpid());
  absl::Status made = Run({ip, "netns", "add", router_});
  if (!made.ok()) {
    router_.clear();
    return absl::UnavailableError(made.message());
  }
  const std::vector<std::string> in_router = {ip, "netns", "exec", router_};
  auto there = [&](std::vector<std::string> command) {
    command.insert(command.begin(), in_router.begin(), in_router.end());
    return command;
  };
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{
           {ip, "link", "add", "veth-server", "type", "veth", "peer", "name",
            "veth-router", "netns", router_},
           {ip, "addr", "add", "10.0.3.2/24", "dev", "veth-server"},
           {ip, "link", "set", "veth-server", "up"},
           there({ip, "link", "set", "lo", "up"}),
           there({ip, "addr", "add", "10.0.3.1/24", "dev", "veth-router"}),
           there({ip, "link", "set", "veth-router", "up"}),
           there({ip, "tuntap", "add", "dev", "tap0", "mode", "tap"}),
           there({ip, "addr", "add", "10.0.2.2/24", "dev", "tap0"}),
           there({ip, "link", "set", "tap0", "up"}),
           there({"sysctl", "-qw", "net.ipv4.ip_forward=1"}),
           there({nft,
                  "add table ip nat; add chain ip nat post { type nat "
                  "hook postrouting priority 100 ; }; add rule ip nat "
                  "post oifname veth-router masquerade"})}) {
    made = Run(command);
    if (!made.ok()) return made;
  }
  return absl::OkStatus();
}

TapNamespace::~TapNamespace() {
  if (!router_.empty())
    Run({FindProgram("ip"), "netns", "del", router_}).IgnoreError();
  if (original_ < 0) return;
  setns(original_, CLONE_NEWNET);
  close(original_);
}

std::string TapNamespace::server_address() const {
  return router_.empty() ? "10.0.2.2" : "10.0.3.2";
}

std::vector<std::string> TapNamespace::GuestSide(
    std::vector<std::string> argv) const {
  if (router_.empty()) return argv;
  argv.insert(argv.begin(), {FindProgram("ip"), "netns", "exec", router_});
  return argv;
}

std::vector<std::string> TapNamespace::NetdevArgs(const std::string& device,
                                                  int index) {
  return {
      "-netdev",
      absl::StrCat("tap,id=n0,ifname=tap", index, ",script=no,downscript=no"),
      "-device", absl::StrCat(device, ",netdev=n0")};
}

Udhcpd::Udhcpd(const TapNamespace& tap, const std::string& boot_file,
               const std::string& more) {
  config_.Write("udhcpd.conf",
                absl::StrCat(more, "start 10.0.2.15\nend 10.0.2.40\n",
                             "interface ", tap.link(), "\nsiaddr ",
                             tap.server_address(), "\nboot_file ", boot_file,
                             "\n"
                             "option subnet 255.255.255.0\n"
                             "option router 10.0.2.2\noption lease 600\n"
                             "lease_file ",
                             config_.Join("leases"), "\npidfile ",
                             config_.Join("udhcpd.pid"), "\n"));
  config_.Write("leases", "");
  status_ = process_.Start(tap.GuestSide(
      {"/bin/busybox", "udhcpd", "-f", config_.Join("udhcpd.conf")}));
}

Dnsmasq6::Dnsmasq6(const TapNamespace& tap, const std::string& boot_file_url) {
  const std::string dnsmasq = FindProgram("dnsmasq");
  if (dnsmasq.empty()) {
    status_ = absl::FailedPreconditionError(
        "no dnsmasq: tools/setup --tests installs dnsmasq-base");
    return;
  }
  status_ = process_.Start(tap.GuestSide(
      {dnsmasq, "--keep-in-foreground", "--log-facility=-", "--log-dhcp",
       "--conf-file=/dev/null", "--port=0", "--pid-file",
       absl::StrCat("--dhcp-leasefile=", state_.Join("leases")),
       absl::StrCat("--interface=", tap.link()), "--bind-interfaces",
       "--dhcp-range=fd00:2::100,fd00:2::1ff,64", "--enable-ra",
       absl::StrCat("--dhcp-option=option6:bootfile-url,", boot_file_url)}));
}

}  // namespace tftpd::testing
