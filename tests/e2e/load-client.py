#!/usr/bin/env python3
"""Clients that load a pulpdist server, for tests/e2e/t3201-load.sh.

    load-client.py flood HOST PORT N PATH
        Open N connections one after the other, each sending one GET of
        PATH, and keep every one open until all N are answered (or 30 s
        pass).  Prints one line per connection: the status (0 if the
        connection ended with no answer), then "retry-after=V" when the
        answer had Retry-After, then "json error=TEXT" when its body was
        the JSON error {"error": TEXT, "status": 503} (spaces in TEXT as
        underscores).

    load-client.py loris HOST PORT PATH INTERVAL COUNT
        Send a request head one byte every INTERVAL seconds, COUNT bytes
        of a header that never ends.  Prints "closed after K bytes" when
        the server closes the connection first, "answered STATUS" if it
        answers instead, "survived" when all COUNT bytes went and it is
        still open.

    load-client.py transfers HOST PORT N BIG SMALL
        Start N GETs of BIG, each on its own connection, and read only
        their first bytes, so that their replies stay in flight; then
        GET SMALL on another connection and print its answer as flood
        does.

    load-client.py slowread HOST PORT PATH
        GET PATH and read its body 64 KiB every 0.1 s.  Prints "cut at
        K of N bytes" if the server closes it before the N bytes of its
        Content-Length came, "whole N bytes" otherwise.

    load-client.py keepalive HOST PORT PATH N
        N GETs one after the other on one connection, then wait for the
        server to close it.  Prints the N statuses, then "closed" when
        it did within 30 s, "open" otherwise.

    load-client.py get HOST PORT PATH
        One GET; prints its status.
"""
import json
import socket
import sys
import time


def parse_head(head):
    """Status and headers of an answer's head, or None."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return int(parts[1]), headers


def parse(data):
    """Status, headers and body of a complete answer, or None."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or parse_head(head) is None:
        return None
    status, headers = parse_head(head)
    n = int(headers.get("content-length", "-1"))
    if n >= 0 and len(body) < n:
        return None
    return status, headers, body[:n] if n >= 0 else body


def request(path):
    return ("GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path).encode()


def describe(got):
    if got is None:
        return "0"
    status, headers, body = got
    line = str(status)
    if "retry-after" in headers:
        line += " retry-after=" + headers["retry-after"]
    try:
        j = json.loads(body)
        if set(j) == {"error", "status"} and j["status"] == status:
            line += " json error=" + j["error"].replace(" ", "_")
    except ValueError:
        pass
    return line


def answer(s, deadline):
    """Read s until a whole answer came (or EOF, or the deadline)."""
    data = b""
    got = None
    while got is None and time.time() < deadline:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
        got = parse(data)
    return got


def flood(host, port, n, path):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(request(path))
        socks.append(s)
    deadline = time.time() + 30
    out = [describe(answer(s, deadline)) for s in socks]
    for s in socks:
        s.close()
    sys.stdout.write("".join(l + "\n" for l in out))


def transfers(host, port, n, big, small):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(request(big))
        # The status line: the reply has started.
        if not s.recv(64).startswith(b"HTTP/1.1 200"):
            sys.exit("load-client.py: %s did not start a 200" % big)
        socks.append(s)
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(request(small))
    print(describe(answer(s, time.time() + 30)))
    for s in socks + [s]:
        s.close()


def slowread(host, port, path):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(request(path))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("load-client.py: no answer to " + path)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = int(parse_head(head)[1].get("content-length", "-1"))
    got = len(body)
    while got < n:
        time.sleep(0.1)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            print("cut at %d of %d bytes" % (got, n))
            return
        got += len(chunk)
    print("whole %d bytes" % n)


def loris(host, port, path, interval, count):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: test\r\n" % path).encode())
    sent = 0
    for i in range(count):
        # A closed connection shows as EOF on read, or an error on write.
        s.settimeout(interval)
        try:
            first = s.recv(64)
            if first == b"":
                print("closed after %d bytes" % sent)
                return
            print("answered " + first.split(b"\r\n")[0].decode())
            return
        except socket.timeout:
            pass
        except ConnectionResetError:
            print("closed after %d bytes" % sent)
            return
        try:
            s.sendall(b"X-Slow: y\r\n"[i % 11:i % 11 + 1])
        except (BrokenPipeError, ConnectionResetError):
            print("closed after %d bytes" % sent)
            return
        sent += 1
    print("survived")


def keepalive(host, port, path, n):
    s = socket.create_connection((host, port), timeout=30)
    for _ in range(n):
        s.sendall(request(path))
        print(describe(answer(s, time.time() + 30)).split(" ")[0])
    s.settimeout(30)
    try:
        print("closed" if s.recv(1) == b"" else "answered")
    except ConnectionResetError:
        print("closed")
    except socket.timeout:
        print("open")


def get(host, port, path):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(request(path))
    data = b""
    got = None
    while got is None:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        got = parse(data)
    print(got[0] if got else 0)


cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if cmd == "flood":
    flood(host, port, int(sys.argv[4]), sys.argv[5])
elif cmd == "loris":
    loris(host, port, sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
elif cmd == "transfers":
    transfers(host, port, int(sys.argv[4]), sys.argv[5], sys.argv[6])
elif cmd == "slowread":
    slowread(host, port, sys.argv[4])
elif cmd == "keepalive":
    keepalive(host, port, sys.argv[4], int(sys.argv[5]))
elif cmd == "get":
    get(host, port, sys.argv[4])
else:
    sys.exit("load-client.py: unknown command " + cmd)
