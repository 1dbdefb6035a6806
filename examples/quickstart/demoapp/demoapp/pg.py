"""A minimal PostgreSQL client on the standard library alone.

The quickstart must run offline on a fresh machine, where no PostgreSQL
driver wheel (psycopg2) is available, so the demo speaks the frontend/backend
protocol itself: startup, authentication (trust/peer, cleartext, MD5,
SCRAM-SHA-256) and the simple query protocol, returning rows as text.
It is just enough for the demo; real applications use a driver.
"""

import base64
import hashlib
import hmac
import os
import socket
import struct
import urllib.parse


class Error(Exception):
    pass


def _parse_url(url):
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query)
    host = urllib.parse.unquote(u.hostname or "") if u.hostname else ""
    if "host" in q:
        host = q["host"][0]
    port = u.port or int(q.get("port", ["5432"])[0])
    user = urllib.parse.unquote(u.username or "") or q.get("user", [os.environ.get("USER", "postgres")])[0]
    password = urllib.parse.unquote(u.password or "") or q.get("password", [""])[0]
    db = urllib.parse.unquote(u.path.lstrip("/")) or user
    return host, port, user, password, db


class Connection:
    def __init__(self, url):
        host, port, self.user, self.password, db = _parse_url(url)
        if not host or host.startswith("/"):
            path = os.path.join(host or "/var/run/postgresql", ".s.PGSQL.%d" % port)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        params = b"user\0" + self.user.encode() + b"\0database\0" + db.encode() + b"\0\0"
        body = struct.pack("!i", 196608) + params
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self._auth()

    def _recv(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Error("connection closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _msg(self):
        t = self._recv(1)
        (n,) = struct.unpack("!i", self._recv(4))
        return t, self._recv(n - 4)

    def _send(self, t, body):
        self.sock.sendall(t + struct.pack("!i", len(body) + 4) + body)

    @staticmethod
    def _error(body):
        fields = {}
        for part in body.split(b"\0"):
            if part:
                fields[part[:1]] = part[1:].decode("utf-8", "replace")
        return Error(fields.get(b"M", "server error"))

    def _auth(self):
        nonce = None
        while True:
            t, body = self._msg()
            if t == b"E":
                raise self._error(body)
            if t == b"R":
                (code,) = struct.unpack("!i", body[:4])
                if code == 0:
                    continue
                if code == 3:
                    self._send(b"p", self.password.encode() + b"\0")
                elif code == 5:
                    salt = body[4:8]
                    inner = hashlib.md5(self.password.encode() + self.user.encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + salt).hexdigest()
                    self._send(b"p", b"md5" + outer.encode() + b"\0")
                elif code == 10:
                    nonce = base64.b64encode(os.urandom(18)).decode()
                    self.first_bare = "n=,r=" + nonce
                    msg = ("n,," + self.first_bare).encode()
                    self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(msg)) + msg)
                elif code == 11:
                    server_first = body[4:].decode()
                    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
                    if not attrs["r"].startswith(nonce):
                        raise Error("SCRAM: bad server nonce")
                    salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
                    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
                    stored = hashlib.sha256(client_key).digest()
                    final_bare = "c=biws,r=" + attrs["r"]
                    auth_msg = ",".join([self.first_bare, server_first, final_bare]).encode()
                    sig = hmac.new(stored, auth_msg, "sha256").digest()
                    proof = bytes(a ^ b for a, b in zip(client_key, sig))
                    self._send(b"p", (final_bare + ",p=" + base64.b64encode(proof).decode()).encode())
                elif code == 12:
                    continue
                else:
                    raise Error("unsupported authentication method %d" % code)
            elif t == b"Z":
                return

    def query(self, sql):
        """Runs sql (simple protocol); returns the rows of the last result."""
        self._send(b"Q", sql.encode() + b"\0")
        rows, err = [], None
        while True:
            t, body = self._msg()
            if t == b"T":
                rows = []
            elif t == b"D":
                (n,) = struct.unpack("!h", body[:2])
                pos, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", body[pos:pos + 4])
                    pos += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(body[pos:pos + ln].decode())
                        pos += ln
                rows.append(tuple(row))
            elif t == b"E":
                err = self._error(body)
            elif t == b"Z":
                if err:
                    raise err
                return rows

    def close(self):
        try:
            self._send(b"X", b"")
        finally:
            self.sock.close()


def literal(s):
    """Quotes s as an SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"
