"""Test application's web component: GET /send?token=T sends tasks.mark(T)
to the instance's broker; GET / answers with the instance's name."""
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tasks import mark


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urlparse(self.path)
        out = {"instance": os.environ.get("DEPLOYKIT_INSTANCE")}
        if u.path == "/send":
            token = parse_qs(u.query)["token"][0]
            out["task"] = mark.delay(token).id
        body = json.dumps(out).encode()
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
srv.serve_forever()
