"""Writes the package as a wheel: build_wheel.py OUT.whl FILE...

Each FILE lies beneath a `python/` folder (a source, or the extension Bazel
built); it goes into the wheel at its path below that folder. No network
and no build backend: a wheel is a zip with a dist-info folder."""

import base64
import hashlib
import sys
import zipfile

NAME = "tftpd"
VERSION = "0.1.0"
TAG = "cp311-cp311-linux_x86_64"


def record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (arcname, digest.decode(), len(data))


def main(out, files):
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    entries = {}
    for path in files:
        arcname = path[path.rindex("python/") + len("python/"):]
        with open(path, "rb") as f:
            entries[arcname] = f.read()
    entries[dist_info + "/METADATA"] = (
        "Metadata-Version: 2.1\n"
        "Name: %s\n"
        "Version: %s\n"
        "Summary: fbtftp's API on the tftpd engine (import tftpd, or fbtftp)\n"
        "License: see the project's README\n"
        "Requires-Python: >=3.11,<3.12\n" % (NAME, VERSION)
    ).encode()
    entries[dist_info + "/WHEEL"] = (
        "Wheel-Version: 1.0\n"
        "Generator: tftpd build_wheel.py\n"
        "Root-Is-Purelib: false\n"
        "Tag: %s\n" % TAG
    ).encode()
    entries[dist_info + "/top_level.txt"] = b"fbtftp\ntftpd\n"
    record = [record_line(name, data) for name, data in sorted(entries.items())]
    record.append(dist_info + "/RECORD,,")
    entries[dist_info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in sorted(entries.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
