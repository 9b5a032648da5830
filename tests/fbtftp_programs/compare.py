#!/usr/bin/env python3
"""Runs each fbtftp program here, unchanged, on fbtftp itself and on the
package, with real clients (curl, tftp-hpa, atftp), and compares side by
side what the clients got (bytes, or the error) and each session's
statistics. Exits non-zero on any difference not listed in KNOWN.

compare.py --fbtftp DIR --package-python PYTHON
  DIR: fbtftp's source (imported from there by /usr/bin/python3);
  PYTHON: an interpreter with the package installed (import fbtftp is ours)."""

import argparse
import functools
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_command(client, port, name, out):
    if client == "curl":
        return ["curl", "-sS", "--max-time", "30", "-o", out,
                "tftp://127.0.0.1:%d/%s" % (port, name)]
    if client == "curl-1428":
        return ["curl", "-sS", "--max-time", "30", "--tftp-blksize", "1428", "-o", out,
                "tftp://127.0.0.1:%d/%s" % (port, name)]
    if client == "tftp-hpa":
        return ["tftp", "-4", "-m", "binary", "127.0.0.1", str(port), "-c", "get", name, out]
    if client == "atftp":
        return ["atftp", "--get", "-r", name, "-l", out, "--option", "blksize 1024",
                "--option", "tsize 0", "127.0.0.1", str(port)]
    raise ValueError(client)


def fetch(client, port, name, work):
    """What the client got: ("bytes", sha256) or ("failed", its exit status)."""
    out = os.path.join(work, "out")
    if os.path.exists(out):
        os.unlink(out)
    result = subprocess.run(client_command(client, port, name, out),
                            capture_output=True, text=True, timeout=60)
    # tftp-hpa exits 0 on an ERROR; it prints it and leaves no file (or an
    # empty one).
    failed = result.returncode != 0 or "Error code" in result.stdout + result.stderr
    if failed or not os.path.exists(out):
        return {"failed": True}
    with open(out, "rb") as f:
        return {"sha256": hashlib.sha256(f.read()).hexdigest()}


class Engine:
    """One program running on one engine."""

    def __init__(self, name, argv, env):
        self.name = name
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def engines(args):
    fbtftp_env = dict(os.environ, PYTHONPATH=args.fbtftp)
    package_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return [("fbtftp", "/usr/bin/python3", fbtftp_env),
            ("package", args.package_python, package_env)]


def wait_serving(port, probe, work, engine):
    """Until the program answers a real client (bounded: a failure)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if engine.proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (engine.name, engine.proc.stderr.read()))
        if "sha256" in fetch("curl", port, probe, work):
            return
        time.sleep(0.1)  # The program is starting; nothing else to wait on.
    raise RuntimeError("%s never served %s" % (engine.name, probe))


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_sessions(path, count):
    deadline = time.monotonic() + 60
    while len(read_lines(path)) < count and time.monotonic() < deadline:
        time.sleep(0.05)  # Written by the program's callbacks, on their own time.
    return read_lines(path)


def own_counters(path):
    """The program's own counters, summed over the intervals written."""
    total = {}
    for line in read_lines(path):
        for key, value in line.items():
            if key.startswith(OWN_COUNTERS):
                total[key] = total.get(key, 0) + value
    return total


def wait_counted(path, requests):
    """Until an interval's counters include the last request."""
    deadline = time.monotonic() + 60
    while own_counters(path).get("process_count", 0) < requests and time.monotonic() < deadline:
        time.sleep(0.05)  # Written every interval (1 s).


def run_program(args, program, program_args, probe, cases, work):
    """Per engine: the probe, then each (client, name); returns
    {engine: [(case, got, session stats)]} and the stderr of each."""
    results = {}
    for name, python, env in engines(args):
        stats = os.path.join(work, "%s-%s.stats" % (program, name))
        counters = os.path.join(work, "%s-%s.counters" % (program, name))
        port = free_port()
        argv = [python, os.path.join(HERE, program), "--port", str(port), "--stats", stats]
        argv += [a.replace("{counters}", counters) for a in program_args]
        engine = Engine(name, argv, env)
        try:
            wait_serving(port, probe, work, engine)
            got = [fetch(case[0], port, case[1], work) for case in cases]
            sessions = wait_sessions(stats, len(cases) + 1)[1:]  # After the probe's.
            if any("{counters}" in a for a in program_args):
                wait_counted(counters, len(cases) + 1)
            results[name] = {"got": got, "sessions": sessions, "counters": counters}
        finally:
            engine.stop()
    return results


# Differences each engine is known to show, by the start of their line,
# and why (docs/python.md, "What differs").
# Each: (path, field or None for what the client got, the fbtftp session's
# error code or None for any, why).
KNOWN = [
    ("empty", None, None,
     "fbtftp announces tsize 0 for an empty file and curl refuses that OACK; the engine never announces 0"),
    ("empty", "*", None,
     "fbtftp announces tsize 0 for an empty file and curl refuses that OACK; the engine never announces 0"),
    (None, "options_in", 1,
     "fbtftp sets options_in only once it parsed the options, never for a request refused first"),
    (None, "options_in", 0,
     "fbtftp sets options_in only once it parsed the options, never for a request refused first"),
]


def known(path, field, fbtftp_session):
    for k_path, k_field, k_code, why in KNOWN:
        if k_path not in (None, path):
            continue
        if k_field == "*" and field is not None:
            return why
        if k_field != field:
            continue
        code = (fbtftp_session or {}).get("error", {}).get("error_code")
        if k_code is None or code == k_code:
            return why
    return None

# Statistics fields compared.
COMPARED = ["file_path", "error", "options_in", "options", "blksize", "packets_sent",
            "packets_acked", "bytes_sent", "retransmits"]


def compare(program, cases, results):
    """Rows (case, fbtftp's, package's) and differences (text, known why)."""
    differences = []
    rows = []
    for i, case in enumerate(cases):
        f = results["fbtftp"]
        p = results["package"]
        path = seen_path(case)
        fs = session_for(f["sessions"], path, i, cases)
        ps = session_for(p["sessions"], path, i, cases)
        if f["got"][i] != p["got"][i]:
            differences.append(("%s %s: fbtftp got %s, package %s"
                                % (program, case, f["got"][i], p["got"][i]),
                                known(path, None, fs)))
        for field in COMPARED:
            if fs is None or ps is None:
                differences.append(("%s %s: a session is missing (fbtftp %s, package %s)"
                                    % (program, case, fs, ps), None))
                break
            if fs.get(field) != ps.get(field):
                differences.append(("%s %s %s: fbtftp %r, package %r"
                                    % (program, case, field, fs.get(field), ps.get(field)),
                                    known(path, field, fs)))
        rows.append((case, f["got"][i], p["got"][i]))
    return rows, differences


def seen_path(case):
    """The path the server is asked for (curl resolves "..")."""
    return case[2] if len(case) > 2 else case[1]


def session_for(sessions, path, index, cases):
    """Case `index`'s session: the nth of its path, n counting the cases
    before it with that path (a session may end late: fbtftp's, waiting out
    its retransmissions to a client that gave up)."""
    nth = sum(1 for c in cases[:index] if seen_path(c) == path)
    matching = [s for s in sessions if s["file_path"] == path]
    return matching[nth] if nth < len(matching) else None


class Origin(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/broken"):
            self.send_error(500, "origin broken")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fbtftp", required=True)
    parser.add_argument("--package-python", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fbtftp-programs-")
    failures = []
    try:
        root = os.path.join(work, "root")
        os.mkdir(root)
        for name, size in (("vmlinuz", 3 * 1024 * 1024 + 17), ("initrd.img", 1024 * 1024 + 511),
                           ("probe", 10), ("empty", 0), ("exact.bin", 2048)):
            with open(os.path.join(root, name), "wb") as f:
                f.write(os.urandom(size))
        inventory = os.path.join(work, "inventory.json")
        with open(inventory, "w") as f:
            json.dump({"127.0.0.1": {"hostname": "rack1-node7", "kernel": "vmlinuz",
                                     "initrd": "initrd.img", "cmdline": "console=ttyS0"}}, f)
        origin = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Origin, directory=root))
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        origin_url = "http://127.0.0.1:%d" % origin.server_address[1]

        programs = [
            ("boot_config.py", ["--root", root, "--inventory", inventory], "probe",
             [("curl", "boot.ipxe"), ("tftp-hpa", "boot.ipxe"), ("atftp", "boot.ipxe"),
              ("curl-1428", "vmlinuz"), ("atftp", "initrd.img"), ("tftp-hpa", "missing.cfg"),
              ("curl", "empty"), ("curl", "exact.bin"), ("curl", "../etc/passwd", "etc/passwd")]),
            ("http_origin.py", ["--origin", origin_url], "probe",
             [("curl", "vmlinuz"), ("atftp", "initrd.img"), ("tftp-hpa", "exact.bin"),
              ("curl", "nothing-here"), ("curl", "broken/file"), ("curl-1428", "empty")]),
            ("counted_files.py", ["--root", root, "--counters", "{counters}"], "probe",
             [("curl", "vmlinuz"), ("curl-1428", "initrd.img"), ("atftp", "exact.bin"),
              ("tftp-hpa", "missing.cfg")]),
        ]
        for program, program_args, probe, cases in programs:
            results = run_program(args, program, program_args, probe, cases, work)
            rows, differences = compare(program, cases, results)
            print("== %s" % program)
            for case, f, p in rows:
                print("  %-12s %-16s fbtftp %-20s package %s" % (
                    case[0], case[1], summary(f), summary(p)))
            if program == "counted_files.py":
                differences += [(d, None) for d in compare_counters(results, len(cases) + 1)]
            for text, why in differences:
                print("  %s %s" % ("known:" if why else "DIFFERENCE", text))
                if why:
                    print("    (%s)" % why)
                else:
                    failures.append(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d differences" % len(failures))
        sys.exit(1)
    print("fbtftp programs: the same bytes, errors and statistics on both engines")


def summary(got):
    return "error" if got.get("failed") else "sha256 " + got["sha256"][:12]


OWN_COUNTERS = ("asked_for_", "asked_blksize", "process_count")


def compare_counters(results, requests):
    """The program's own counters, summed over its intervals, once every
    request was counted (process_count reaches `requests`)."""
    totals = {name: own_counters(r["counters"]) for name, r in results.items()}
    if totals["fbtftp"] != totals["package"]:
        return ["counted_files.py counters: fbtftp %r, package %r" % (totals["fbtftp"], totals["package"])]
    if totals["fbtftp"].get("process_count") != requests:
        return ["counted_files.py counters: %r for %d requests" % (totals["fbtftp"], requests)]
    return []


if __name__ == "__main__":
    main()
