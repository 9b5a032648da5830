// Example 1: a boot-config server. pxelinux, GRUB and iPXE configs are made
// per machine from templates, keyed by the MAC address in the requested name
// (pxelinux.cfg/01-aa-bb-cc-dd-ee-ff, grub.cfg-01-aa-bb-...) or else by the
// client's IP address, falling back to the "default" host entry; every other
// name is served from --root as tftpd does.
//
//   bazel run //server/examples:boot_config_server --
//       --root=/srv/tftp --templates=$PWD/server/examples/boot_templates
//
// Templates and the hosts table are read once at start, so the handler
// never touches the disk: it runs on the shard threads and must not block.
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gflags/gflags.h"
#include "server/api/request_handler.h"
#include "server/daemon/tftpd_runner.h"

DEFINE_string(templates, "",
              "Directory with the templates pxelinux.cfg, grub.cfg, "
              "boot.ipxe and the hosts table 'hosts'.");

namespace {

using Variables = std::map<std::string, std::string>;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "aa-bb-cc-dd-ee-ff" or "AA:BB:..." as "aa:bb:cc:dd:ee:ff"; empty if not a
// MAC address.
std::string NormalizeMac(absl::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(text, absl::ByAnyChar(":-"));
  if (parts.size() != 6) return "";
  for (std::string& part : parts) {
    if (part.size() != 2 || !absl::ascii_isxdigit(part[0]) ||
        !absl::ascii_isxdigit(part[1])) {
      return "";
    }
    absl::AsciiStrToLower(&part);
  }
  return absl::StrJoin(parts, ":");
}

class BootConfigHandler : public tftpd::RequestHandler {
 public:
  static absl::StatusOr<std::shared_ptr<BootConfigHandler>> Load(
      const std::string& dir) {
    auto handler = std::make_shared<BootConfigHandler>();
    for (const char* name : {"pxelinux.cfg", "grub.cfg", "boot.ipxe"}) {
      std::string text = ReadAll(dir + "/" + name);
      if (text.empty()) {
        return absl::NotFoundError(
            absl::StrCat("--templates: no template ", dir, "/", name));
      }
      handler->templates_[name] = std::move(text);
    }
    for (absl::string_view line :
         absl::StrSplit(ReadAll(dir + "/hosts"), '\n')) {
      line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
      if (line.empty()) continue;
      std::vector<absl::string_view> fields =
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      std::string key(fields[0]);
      if (std::string mac = NormalizeMac(key); !mac.empty()) key = mac;
      Variables& vars = handler->hosts_[key];
      for (size_t i = 1; i < fields.size(); ++i) {
        std::pair<std::string, std::string> kv =
            absl::StrSplit(fields[i], absl::MaxSplits('=', 1));
        vars[kv.first] = kv.second;
      }
    }
    if (!handler->hosts_.count("default")) {
      return absl::NotFoundError("--templates: hosts has no default entry");
    }
    return handler;
  }

  tftpd::Response Handle(const tftpd::RequestContext& request) override {
    const std::string& path = request.path;
    std::string kind;
    std::string mac;
    if (absl::StartsWith(path, "pxelinux.cfg/")) {
      kind = "pxelinux.cfg";
      absl::string_view name = absl::StripPrefix(path, "pxelinux.cfg/");
      if (absl::ConsumePrefix(&name, "01-")) mac = NormalizeMac(name);
    } else if (path == "grub.cfg" || absl::StartsWith(path, "grub.cfg-")) {
      kind = "grub.cfg";
      absl::string_view name = absl::StripPrefix(path, "grub.cfg-");
      if (absl::ConsumePrefix(&name, "01-")) mac = NormalizeMac(name);
    } else if (path == "boot.ipxe") {
      kind = "boot.ipxe";
    } else {
      return tftpd::Response::File(path);
    }
    const std::string ip = request.peer.HostString();
    Variables vars = hosts_.at("default");
    if (auto it = hosts_.find(mac.empty() ? ip : mac); it != hosts_.end()) {
      for (const auto& [k, v] : it->second) vars[k] = v;
    }
    vars["ip"] = ip;
    vars["mac"] = mac.empty() ? "unknown" : mac;
    std::vector<std::pair<std::string, std::string>> replacements;
    for (const auto& [k, v] : vars)
      replacements.emplace_back("{{" + k + "}}", v);
    return tftpd::Response::Bytes(
        absl::StrReplaceAll(templates_.at(kind), replacements));
  }

 private:
  std::map<std::string, std::string> templates_;
  std::map<std::string, Variables> hosts_;  // By MAC, IP or "default".
};

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "TFTP server generating per-machine boot configs\n"
      "usage: boot_config_server --templates=DIR [tftpd flags]");
  return tftpd::RunTftpd(argc, argv, [](tftpd::ServerConfig& config) {
    absl::StatusOr<std::shared_ptr<BootConfigHandler>> handler =
        BootConfigHandler::Load(FLAGS_templates);
    if (!handler.ok()) return handler.status();
    config.handler = *handler;
    return absl::OkStatus();
  });
}
