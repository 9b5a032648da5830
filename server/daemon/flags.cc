// tftpd's flags, grouped as `tftpd --help` shows them (help.cc).
#include "server/daemon/flags.h"

DEFINE_string(root, "",
              "Directory to serve. Empty: the bundled example root "
              "(tftproot/ in the source tree).");
DEFINE_string(address, "::",
              "Address to listen on, IPv4 or IPv6. The default '::' is "
              "dual-stack (IPv4 too); it falls back to 0.0.0.0 on hosts "
              "without IPv6.");
DEFINE_int32(port, 69,
             "UDP port. When left at its default and port 69 cannot be bound "
             "(not root, or in use), tftpd uses 6969 instead. 0 picks a free "
             "port (see --port_file).");
DEFINE_string(port_file, "",
              "If set, write the bound port number to this file once serving.");
DEFINE_int32(threads, 0,
             "Worker threads (shards), each with its own io_uring and socket. "
             "0: one per CPU.");
DEFINE_int32(
    blksize_max, 65464,
    "Largest blksize granted (RFC 2348, 8..65464); larger requests are "
    "lowered to it.");
DEFINE_int32(
    windowsize_max, 64,
    "Largest windowsize granted (RFC 7440; 1..32768: beyond, a late ACK "
    "could name a block of the current window).");
DEFINE_double(timeout, 1.0,
              "Seconds before the first retransmission when the client "
              "negotiates no timeout.");
DEFINE_double(max_timeout, 8.0,
              "Cap in seconds for the exponential backoff between "
              "retransmissions.");
DEFINE_int32(retries, 5,
             "Retransmissions of one packet before a transfer is abandoned.");
DEFINE_bool(resend_on_duplicate_ack, false,
            "Resend unacknowledged data once when a duplicate ACK arrives "
            "(helps some U-Boot builds recover faster).");
DEFINE_int32(max_transfers, 10000,
             "Transfers open at once, over all shards. When full, the "
             "transfer that has waited longest for a client that never "
             "answered makes room (with --single_port, where no answer proves "
             "a client, the transfer whose client has been silent longest); "
             "only when every client has answered is a request refused with "
             "ERROR 0 'server busy'. Each transfer holds "
             "a socket (not with --single_port): tftpd raises its descriptor "
             "limit to what this needs at start, or fails saying what to "
             "set.");
// The names these limits had before "transfer" became the one word for it:
// flag files written for them keep working.
DEFINE_int32(max_sessions, 0, "Old name of --max_transfers, still accepted.");
DEFINE_int32(max_sessions_per_address, -1,
             "Old name of --max_transfers_per_address, still accepted.");
DEFINE_int32(max_transfers_per_address, 128,
             "Transfers open at once from one client address (any port) "
             "whose client has answered; more are refused with ERROR 0. "
             "Transfers not yet answered do not count: a request forged "
             "with a client's address cannot use up its share. Not applied "
             "with --single_port, where a forger can answer for any address. "
             "0: no limit.");
DEFINE_int32(requests_per_second_per_address, 1000,
             "Requests accepted per second from one client address and port "
             "(a forger does not know a real client's port); more are refused "
             "with ERROR 0. 0: no limit.");
DEFINE_int32(unverified_bytes_max, 8192,
             "Bytes sent per minute to a client address that has not yet "
             "answered, beyond each request's first answer: retransmissions, "
             "ERRORs to requests and ERROR 5 to strangers. With the first "
             "answers it bounds what spoofed requests make tftpd send to "
             "their victim. An address proven on a transfer's own port (whole "
             "windows acknowledged, round after round) is exempt for 5 "
             "minutes. 0: no limit.");
DEFINE_double(unanswered_timeout, 10,
              "Seconds a transfer whose client has never answered is kept "
              "after its latest packet to that client (whatever timeout it "
              "asked for): longer than a client's longest wait between its "
              "retransmissions, so that one whose answers were lost is still "
              "heard; the oldest of such transfers (spoofed requests) make "
              "room for new requests when the table is full.");
DEFINE_int64(rcvbuf, 16 << 20,
             "SO_RCVBUF of each service socket in bytes: room for a burst of "
             "requests. The default holds more than 10,000 requests. With "
             "--single_port, where every transfer's ACKs arrive on the "
             "service sockets, at least 1 KiB per transfer a socket may "
             "serve (--max_transfers / sockets). The log says if the kernel "
             "grants less (raise net.core.rmem_max, or run with "
             "CAP_NET_ADMIN).");
DEFINE_double(shutdown_grace, 2.0,
              "Seconds transfers may run on after SIGINT or SIGTERM; a second "
              "signal stops at once.");
DEFINE_int32(spin_us, 50,
             "While a shard serves 1 to 8 transfers, it looks for their "
             "datagrams for up to this many microseconds before it sleeps: "
             "on a fast network the next ACK comes sooner than a sleeping "
             "core wakes. Spins that find nothing back off (at most one in "
             "64 waits then spins). It costs CPU while those few transfers "
             "run, none when idle or busy. 0: never spin.");
DEFINE_bool(portable_resolver, false,
            "Resolve names with the portable walk (no symlinks followed) "
            "instead of openat2(RESOLVE_BENEATH).");
DEFINE_string(user, "",
              "Once the port is bound and the workers run, switch to this "
              "user (and its group), dropping root. Started as root without "
              "it, tftpd switches to the first of tftpd, tftp and nobody "
              "that exists; --user=root keeps root (and says so). Files must "
              "be readable by that user (the root directory is opened "
              "before, so the directories above it need not be).");
DEFINE_bool(chroot, false,
            "Once serving, confine the process to --root with chroot(2) "
            "(tftpd-hpa's --secure); needs root. --map_file is then read "
            "from inside the root on SIGHUP.");
DEFINE_bool(secure, false, "The same as --chroot.");
DEFINE_bool(permissive, false,
            "Serve files that are not world-readable too, and with "
            "--overwrite let uploads replace files that are not "
            "world-writable. By default only files everyone may read are "
            "served and only files everyone may write replaced, as "
            "tftpd-hpa does, even when tftpd runs as root.");
DEFINE_string(io_backend, "auto",
              "Event backend: auto (io_uring when the kernel allows it, else "
              "epoll, with a log line saying why), io_uring, epoll, or kqueue "
              "(FreeBSD, macOS). A backend that cannot run is a start-up "
              "error.");
DEFINE_string(listener, "auto",
              "How requests reach the shards: reuseport (each shard its own "
              "SO_REUSEPORT socket; the kernel spreads clients), single (one "
              "socket, read by shard 0, which hands each request to a shard "
              "by client), or auto (reuseport on Linux and FreeBSD, single "
              "elsewhere).");
DEFINE_bool(single_port, false,
            "Answer every transfer from the service port itself (transfers "
            "told apart by the client's address and port), for clients behind "
            "NAT or firewalls that let only the service port through. Off: "
            "each transfer has a port of its own, as RFC 1350 intends.");
DEFINE_bool(single_port_uploads, false,
            "With --single_port: accept uploads (--allow_write) in "
            "single-port mode too. Off by default: nothing received on the "
            "service port proves where it came from, so a forger who never "
            "reads a reply can send a WRQ and its blocks under any address, "
            "past every rule that trusts the client's address (a map rule "
            "with \\i, a handler checking the peer).");
DEFINE_bool(allow_write, false,
            "Accept uploads (WRQ) into --write_root. Off by default. Each "
            "upload goes to a temporary file in its directory and is renamed "
            "into place only once complete; directories are never created.");
DEFINE_string(write_root, "",
              "Directory uploads are written beneath (default: --root), "
              "confined as reads are.");
DEFINE_bool(create, false, "With --allow_write: uploads may create new files.");
DEFINE_bool(overwrite, false,
            "With --allow_write: uploads may replace existing files that are "
            "world-writable (as tftpd-hpa; any file with --permissive). A "
            "replaced file keeps its permission bits, never its set-user-ID, "
            "set-group-ID or sticky bit.");
DEFINE_string(umask, "077",
              "With --allow_write: the permission bits (octal) taken from "
              "0666 for files uploads create; 077 makes them private, 022 "
              "world-readable (and so served back).");
DEFINE_string(upload_database, "",
              "With --allow_write: keep each completed upload as a row in "
              "PostgreSQL instead of a file; a libpq connection string, e.g. "
              "'host=db dbname=backups user=tftpd'. See --upload_table.");
DEFINE_string(upload_spool, "/var/tmp",
              "With --upload_database: where uploads wait, as unnamed files, "
              "until their row is written (memory stays bounded whatever "
              "their size). Under --chroot, a directory inside the root.");
DEFINE_string(upload_table, "tftp_uploads",
              "The table --upload_database writes (created if missing).");
DEFINE_int64(max_upload_bytes, 0,
             "Largest upload accepted, checked against tsize up front and "
             "while receiving (ERROR 3). 0: no limit.");
DEFINE_int32(commit_queue, 256,
             "With --allow_write: completed uploads that may wait to be "
             "stored (fsync and rename, or the database); an upload that "
             "completes while that many wait is refused with ERROR 0.");
DEFINE_string(inject_faults, "",
              "For testing only: lose, duplicate and delay datagrams in both "
              "directions, decided by a seeded generator, e.g. "
              "loss=0.1,duplicate=0.05,reorder=0.05,seed=7. Off when empty.");
DEFINE_string(log_level, "info", "debug, info, warning or error.");
DEFINE_string(map_file, "",
              "Rules rewriting requested names, in tftpd-hpa's --map-file "
              "syntax (operations r g i e s a ~ G P 4 6; \\0-\\9, \\i, "
              "\\x). Reloaded on SIGHUP; a file with errors is refused at "
              "start and, on reload, leaves the rules in force unchanged.");
DEFINE_string(metrics_address, "",
              "Serve Prometheus metrics over HTTP at host:port (path "
              "/metrics); port 0 picks a free one (logged). Off when empty.");
DEFINE_int32(metrics_connections, 32,
             "HTTP connections the metrics endpoint holds open at once (8 "
             "at most from one address); more wait in the kernel's backlog.");
DEFINE_int32(metrics_timeout, 10,
             "Seconds an HTTP connection to the metrics endpoint may stay "
             "idle before it is closed.");
DEFINE_double(stats_interval, 60,
              "Seconds between server statistics: the callbacks of programs "
              "built on the library, and tftpd's own 'stats' log line, "
              "written at info level for an interval that saw traffic and at "
              "debug level for an idle one (0: no log line).");
DEFINE_double(source_timeout, 30,
              "Seconds a streaming response source may take to begin, or "
              "pause between bytes, before its transfer ends with ERROR 0.");
