"""Test application: a stdlib HTTP server taking its socket by systemd
socket activation (LISTEN_FDS), answering with its instance and version."""
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import six  # the requirement the test's release installs


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps({
            "instance": os.environ.get("DEPLOYKIT_INSTANCE"),
            "version": os.environ.get("APP_VERSION"),
            "six": six.__version__,
            "user": os.getuid(),
            "has_db": bool(os.environ.get("DATABASE_URL")),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if os.environ.get("LISTEN_PID") == str(os.getpid()):
    sock = socket.socket(fileno=3)
else:
    sock = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
srv = ThreadingHTTPServer(sock.getsockname()[:2], H, bind_and_activate=False)
srv.socket.close()
srv.socket = sock
# A graceful stop: on SIGTERM stop accepting, finish the requests in
# flight (server_close joins their threads), then exit. The listening
# socket stays open in the supervisor (or systemd) and in the new process.
srv.daemon_threads = False
srv.block_on_close = True
# The handler only records the signal (it runs between any two bytecodes
# of the main thread, so it starts no thread and takes no lock); a thread
# started here asks the server to stop.
stopping = []


def stopper():
    while not stopping:
        time.sleep(0.05)
    srv.shutdown()


threading.Thread(target=stopper, daemon=True).start()
signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
sys.stderr.write("serving\n")
srv.serve_forever()
srv.server_close()
