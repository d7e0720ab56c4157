"""One client process of the descriptor-exhaustion scenario.

Usage: hold_connections.py HOST PORT COUNT MAX_SECONDS

Opens COUNT connections without blocking (those the server cannot accept wait in its
listen backlog, or keep retrying their SYN), sends one line on each as soon as it is
connected, and counts the lines that come back. Holds everything until its standard
input ends or MAX_SECONDS pass, whichever is first, then closes every socket and prints
one line: "connected=N echoed=M". Bounded in count and time: it stops by itself.
"""
import os
import selectors
import socket
import sys
import time

host, port, count, max_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + max_seconds
selector = selectors.DefaultSelector()
selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
sockets = []
connected = 0
echoed = 0
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((host, port))
    selector.register(s, selectors.EVENT_WRITE, i)
    sockets.append(s)
print("started", flush=True)

done = False
while not done and time.monotonic() < deadline:
    for key, events in selector.select(timeout=0.2):
        if key.data == "stdin":
            if not os.read(key.fd, 4096):
                done = True
            continue
        s = key.fileobj
        if events & selectors.EVENT_WRITE:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                selector.unregister(s)
                continue
            connected += 1
            try:
                s.send(b"held %d\n" % key.data)
            except OSError:
                selector.unregister(s)
                continue
            selector.modify(s, selectors.EVENT_READ, key.data)
        elif events & selectors.EVENT_READ:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                echoed += 1
            selector.unregister(s)

for s in sockets:
    s.close()
print("connected=%d echoed=%d" % (connected, echoed), flush=True)
