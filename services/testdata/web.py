#!/usr/bin/python3
"""A tiny HTTP server for deploykit's service tests.

It never binds a socket itself: it takes its listening socket from the
socket-activation protocol (LISTEN_FDS/LISTEN_PID, fd 3 on, sd_listen_fds(3))
and exits with an error without one. It signals readiness with sd_notify when
NOTIFY_SOCKET is set, serves in-flight requests to the end on SIGTERM, and
reports what it can and cannot do (uid, capabilities, writable paths) at
/info so tests can check the hardening from the outside.

GET /        "ok PID"
GET /info    JSON: uid, gid, groups, capabilities, no_new_privs, writes
GET /slow    answers after 200 ms
"""
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time


def listen_socket():
    n = int(os.environ.get("LISTEN_FDS", "0") or 0)
    pid = int(os.environ.get("LISTEN_PID", "0") or 0)
    if n < 1 or pid != os.getpid():
        sys.exit("web.py: no socket passed (LISTEN_FDS=%r LISTEN_PID=%r, my pid %d)"
                 % (os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID"), os.getpid()))
    return socket.socket(fileno=3)


def status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        os.unlink(path)
        return "ok"
    except OSError as e:
        return type(e).__name__


def info():
    paths = os.environ.get("PROBE_PATHS", "/etc/dk-probe:/tmp/dk-probe").split(":")
    return {
        "pid": os.getpid(),
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
        "groups": os.getgroups(),
        "cap_eff": status_field("CapEff"), "cap_prm": status_field("CapPrm"),
        "cap_bnd": status_field("CapBnd"),
        "no_new_privs": status_field("NoNewPrivs"),
        "fdnames": os.environ.get("LISTEN_FDNAMES", ""),
        "instance": os.environ.get("DEPLOYKIT_INSTANCE", ""),
        "writes": {p: try_write(p) for p in paths if p},
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/info":
            body = json.dumps(info()).encode()
        elif self.path == "/slow":
            time.sleep(0.2)
            body = b"slow %d\n" % os.getpid()
        else:
            body = b"ok %d\n" % os.getpid()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False  # finish in-flight requests on shutdown
    block_on_close = True


def notify(msg):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), addr)


def main():
    sock = listen_socket()
    # The socket may be shared with another process of this component for
    # a moment (a supervisor's start-new-then-stop-old restart): never block
    # in accept() on a connection the other one took.
    sock.setblocking(False)
    srv = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
    srv.socket.close()
    srv.socket = sock
    srv.server_address = sock.getsockname()

    # The handler only records the signal: it runs in the main thread
    # between any two bytecodes, wherever that thread is (starting a
    # request's thread, say), so it starts no thread and takes no lock.
    # A thread started here asks the server to stop; shutdown() blocks
    # until serve_forever returns, so not from the main thread.
    stopping = []

    def stopper():
        while not stopping:
            time.sleep(0.05)
        srv.shutdown()

    threading.Thread(target=stopper, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGHUP, lambda s, f: print("reloaded", flush=True))
    print("web.py: serving pid %d on %r" % (os.getpid(), srv.server_address), flush=True)
    notify("READY=1")
    srv.serve_forever(poll_interval=0.05)
    srv.server_close()  # joins request threads; leaves the passed socket to its owner
    print("web.py: stopped", flush=True)


if __name__ == "__main__":
    main()
