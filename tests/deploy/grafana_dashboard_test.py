"""The Grafana dashboard (tools/deploy/grafana/tftpd.json) against a running
tftpd: every metric family a panel queries is one tftpd exports."""
import json
import re
import subprocess
import sys
import tempfile
import urllib.request

DASHBOARD = "tools/deploy/grafana/tftpd.json"
TFTPD = "server/tftpd"


def queried_families(dashboard):
    families = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], "panel %r queries nothing" % panel["title"]
        for target in panel["targets"]:
            families.update(re.findall(r"\btftpd_[a-z0-9_]+", target["expr"]))
    return families


def exported_families():
    with tempfile.TemporaryDirectory() as root:
        server = subprocess.Popen(
            [TFTPD, "--root", root, "--address=127.0.0.1", "--port=0",
             "--metrics_address=127.0.0.1:0"],
            stderr=subprocess.PIPE, text=True)
        try:
            url = None
            for line in server.stderr:  # Until the endpoint is announced.
                match = re.search(r"metrics at (http://\S+)", line)
                if match:
                    url = match.group(1)
                    break
            assert url, "tftpd never announced its metrics endpoint"
            with urllib.request.urlopen(url, timeout=30) as response:
                text = response.read().decode()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))


def main():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    assert dashboard["uid"] == "tftpd" and dashboard["panels"]
    queried = queried_families(dashboard)
    exported = exported_families()
    assert len(exported) > 20, exported
    missing = sorted(queried - exported)
    if missing:
        print("queried by the dashboard, not exported by tftpd:", missing)
        return 1
    print("%d panels query %d families, all exported" %
          (len(dashboard["panels"]), len(queried)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
