"""The demo web server: http.server, socket activation, a notes table."""

import html
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import greeting

from . import __version__, pg


def _db():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    return pg.Connection(url)


class Handler(BaseHTTPRequestHandler):
    server_version = "demoapp/" + __version__

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def _send(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self._send(200, '{"ok": true}')
        notes = []
        conn = _db()
        if conn:
            try:
                notes = [r[0] for r in conn.query("SELECT body FROM notes ORDER BY id")]
            finally:
                conn.close()
        doc = {
            "app": "demoapp",
            "version": __version__,
            "instance": os.environ.get("DEPLOYKIT_INSTANCE", ""),
            "greeting": greeting.hello(os.environ.get("DEPLOYKIT_INSTANCE", "world")),
            "notes": notes,
        }
        if "text/html" in self.headers.get("Accept", ""):
            items = "".join("<li>%s</li>" % html.escape(n) for n in notes)
            return self._send(200, "<h1>%s</h1><ul>%s</ul>" % (html.escape(doc["greeting"]), items), "text/html")
        return self._send(200, json.dumps(doc))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            body = urllib.parse.parse_qs(body).get("body", [""])[0]
        conn = _db()
        if not conn:
            return self._send(503, '{"error": "no database"}')
        try:
            conn.query("INSERT INTO notes (body) VALUES (%s)" % pg.literal(body))
        finally:
            conn.close()
        return self._send(201, json.dumps({"stored": body}))


def listening_socket():
    """The socket from socket activation (LISTEN_FDS), else bind $PORT."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and int(os.environ.get("LISTEN_FDS", "0")) >= 1:
        return socket.socket(fileno=3)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(os.environ.get("PORT", "8000"))))
    s.listen(128)
    return s


def main():
    sock = listening_socket()
    server = ThreadingHTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    # A graceful stop on SIGTERM (a restart during an upgrade): stop
    # accepting, finish the requests in flight, exit. The listening socket
    # lives on in the supervisor (or systemd) and the new process.
    server.daemon_threads = False
    server.block_on_close = True
    # The signal handler only records the signal: it runs in the main
    # thread between any two bytecodes, wherever that thread is, so it must
    # not start a thread or take a lock. A thread started here asks the
    # server to stop (shutdown() waits for serve_forever to return).
    stopping = []

    def stopper():
        while not stopping:
            time.sleep(0.05)
        server.shutdown()

    threading.Thread(target=stopper, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
