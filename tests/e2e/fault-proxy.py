#!/usr/bin/env python3
"""A misbehaving upstream for pull tests: an HTTP proxy in front of a real
pulpdist server that damages chosen answers.

    fault-proxy.py UPSTREAM_URL PORTFILE FAULT [COUNT]

It listens on 127.0.0.1 (a free port, written to PORTFILE once it
listens), forwards every request to UPSTREAM_URL without Accept-Encoding
(so it sees plain bytes), and applies FAULT to the first COUNT answers it
concerns (default: all of them):

    manifest      change one byte of every whole manifest; patches get 404
    content       flip a byte of the first object in an object, batch or
                  pack answer
    packcontent   the same in pack answers only (what is asked for again
                  comes whole, so the count of damaged packs is exact)
    delta         flip bytes in the middle of the first delta in a delta,
                  batch or pack answer
    nopack        answer 404 to every pack request (a node that cannot
                  make packs)
    grow          append 1 MiB of zeros to object answers (Content-Length
                  grown to match)
    die N         send only N bytes of the body of object answers, then
                  close the connection
    slow MS       send every body in 64 KiB pieces, MS milliseconds apart
    busy          answer 503 with Retry-After: 1 (an overloaded node),
                  forwarding nothing, logged as "503 busy"
    none          change nothing

Requests and what was done are appended to PORTFILE.log.
"""
import http.client
import http.server
import os
import socketserver
import sys
import threading
import time
import urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
portfile = sys.argv[2]
fault = sys.argv[3]
rest = sys.argv[4:]
arg = int(rest.pop(0)) if fault in ("die", "slow") else None
left = int(rest[0]) if rest else 1 << 30
lock = threading.Lock()


def log(msg):
    with lock, open(portfile + ".log", "a") as f:
        f.write(msg + "\n")


def take():
    """One more damaged answer allowed?"""
    global left
    with lock:
        if left <= 0:
            return False
        left -= 1
        return True


def flip(b, i):
    return b[:i] + bytes([b[i] ^ 0x5A]) + b[i + 1:]


def batch_damage(body, kind):
    """Damage the first record of kind ("object" or "delta") of a batch
    or a pack part (whose records are "o SIZE" and "d SIZE")."""
    i = 0
    while i < len(body):
        nl = body.index(b"\n", i)
        words = body[i:nl].split(b" ")
        i = nl + 1
        if words[0] in (b"object", b"delta", b"o", b"d"):
            size = int(words[-1])
            if words[0].decode()[0] == kind[0] and size > 0:
                return flip(body, i + size // 2), True
            i += size
    return body, False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def forward(self, body=None):
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                          timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("accept-encoding", "host",
                                        "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        hdrs = [(k, v) for k, v in r.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding",
                                     "connection", "content-encoding")]
        conn.close()
        return r.status, hdrs, data

    def answer(self, status, hdrs, data, cut=None):
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault == "slow":
            for i in range(0, len(data), 65536):
                self.wfile.write(data[i:i + 65536])
                self.wfile.flush()
                time.sleep(arg / 1000.0)
            return
        if cut is not None:
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def handle_one(self, body=None):
        path = self.path
        if fault == "busy" and take():
            log("%s %s 503 busy" % (self.command, path))
            self.answer(503, [("Content-Type", "application/json"),
                              ("Retry-After", "1")],
                        b'{"error": "overloaded", "status": 503}')
            return
        if fault == "nopack" and "/pack/" in path:
            log("404 " + path)
            self.answer(404, [("Content-Type", "application/json")],
                        b'{"error": "no pack here", "status": 404}')
            return
        if fault == "manifest" and "/manifest?from=" in path:
            log("404 " + path)
            self.answer(404, [("Content-Type", "application/json")],
                        b'{"error": "no patch here", "status": 404}')
            return
        status, hdrs, data = self.forward(body)
        cut = None
        what = "pass"
        if status == 200 and fault == "manifest" and \
                path.endswith("/manifest") and take():
            # A byte in the first entry line: a size digit or hash.
            i = data.index(b"\nf ") + 10 if b"\nf " in data else len(data) // 2
            data = flip(data, i)
            what = "tampered"
        elif status == 200 and fault == "content" and \
                path.startswith("/v1/objects/") and len(data) > 0 and take():
            data = flip(data, len(data) // 2)
            what = "flipped"
        elif status == 200 and (fault in ("content", "delta") and
                                path == "/v1/batch" or
                                fault in ("content", "delta", "packcontent")
                                and "/pack/" in path):
            kind = "delta" if fault == "delta" else "object"
            new, hit = batch_damage(data, kind)
            if hit and take():
                data = new
                what = "flipped " + kind
        elif status == 200 and fault == "delta" and \
                path.startswith("/v1/deltas/") and len(data) > 16 and take():
            for off in range(8, len(data), max(1, len(data) // 8)):
                data = flip(data, off)
            what = "flipped delta"
        elif status == 200 and fault == "grow" and \
                path.startswith("/v1/objects/") and take():
            # More bytes than the signed manifest allows, sent honestly
            # (Content-Length says so): the receiver must stop reading.
            data = data + b"\0" * (1 << 20)
            what = "grown"
        elif status in (200, 206) and fault == "die" and \
                path.startswith("/v1/objects/") and len(data) > arg and \
                take():
            cut = arg
            what = "cut at %d" % arg
        log("%s %s %d %s" % (self.command, path, status, what))
        self.answer(status, hdrs, data, cut)

    def do_GET(self):
        self.handle_one()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.handle_one(self.rfile.read(n))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
