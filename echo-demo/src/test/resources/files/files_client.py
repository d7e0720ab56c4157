#!/usr/bin/env python3
"""A minimal client for the selectloop files protocol, written from docs/FILES-PROTOCOL.md
alone (python3 standard library only), to prove the document is enough.

    files_client.py HOST PORT ls [PATH]
    files_client.py HOST PORT put LOCAL REMOTE
    files_client.py HOST PORT get REMOTE LOCAL

get resumes from LOCAL.part if it exists (section 4.2), put resumes where the server says
(section 4.3). Prints one result line; on an ERR reply prints it and exits 1.
"""
import hashlib
import os
import socket
import struct
import sys

MAX_FRAME = 65536


class Refused(Exception):
    pass


def recv_exact(sock, n):
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("server closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def send_frame(sock, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    assert len(payload) <= MAX_FRAME
    sock.sendall(struct.pack(">I", len(payload)) + payload)


def recv_frame(sock):
    (length,) = struct.unpack(">I", recv_exact(sock, 4))
    if length > MAX_FRAME:
        raise ValueError("frame too long: %d" % length)
    text = recv_exact(sock, length).decode("utf-8")
    if text.startswith("ERR "):
        raise Refused(text)
    return text


def ls(sock, path):
    send_frame(sock, "LS " + path)
    while True:
        reply = recv_frame(sock)
        if reply.startswith("END "):
            print(reply)
            return
        kind, size, name = reply[len("ENTRY "):].split(" ", 2)
        print(kind, size, name)


def get(sock, remote, local):
    part = local + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    send_frame(sock, "GET %d %s" % (have, remote))
    word, size, start = recv_frame(sock).split(" ")
    size, start = int(size), int(start)
    digest = hashlib.sha256()
    with open(part, "ab+") as f:
        f.truncate(start)
        f.seek(0)
        remaining = start
        while remaining:
            block = f.read(min(remaining, 1 << 20))
            digest.update(block)
            remaining -= len(block)
        f.seek(start)
        remaining = size - start
        while remaining:
            block = sock.recv(min(remaining, 1 << 20))
            if not block:
                raise EOFError("server closed the connection")
            digest.update(block)
            f.write(block)
            remaining -= len(block)
    trailer = recv_frame(sock)
    if trailer != "SHA256 " + digest.hexdigest():
        os.remove(part)
        raise Refused("checksum mismatch: " + trailer)
    os.replace(part, local)
    print("got %s %d bytes from %d sha256 %s" % (remote, size, start, digest.hexdigest()))


def put(sock, local, remote):
    size = os.path.getsize(local)
    send_frame(sock, "PUT %d %s" % (size, remote))
    offset = int(recv_frame(sock).split(" ")[1])
    digest = hashlib.sha256()
    with open(local, "rb") as f:
        remaining = offset
        while remaining:
            block = f.read(min(remaining, 1 << 20))
            digest.update(block)
            remaining -= len(block)
        while True:
            block = f.read(MAX_FRAME)
            if not block:
                break
            digest.update(block)
            send_frame(sock, block)
    send_frame(sock, "DONE " + digest.hexdigest())
    reply = recv_frame(sock)
    if reply != "OK " + digest.hexdigest():
        raise Refused("unexpected reply: " + reply)
    print("put %s %d bytes from %d sha256 %s" % (remote, size, offset, digest.hexdigest()))


def main(argv):
    host, port, command = argv[1], int(argv[2]), argv[3]
    with socket.create_connection((host, port), timeout=60) as sock:
        try:
            if command == "ls":
                ls(sock, argv[4] if len(argv) > 4 else "")
            elif command == "get":
                get(sock, argv[4], argv[5])
            elif command == "put":
                put(sock, argv[4], argv[5])
            else:
                print("unknown command " + command, file=sys.stderr)
                return 2
        except Refused as e:
            print(str(e))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
