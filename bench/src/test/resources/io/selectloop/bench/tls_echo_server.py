"""A TLS echo server on Python's ssl module (OpenSSL): a peer for the bench's load generator
that nobody here wrote. Usage: tls_echo_server.py CERT.pem KEY.pem; prints its port, then
serves one thread per connection until its standard input closes."""
import socket
import ssl
import sys
import threading

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
listener = socket.create_server(("127.0.0.1", 0), backlog=128)


def serve(raw):
    try:
        with context.wrap_socket(raw, server_side=True) as tls:
            while True:
                data = tls.recv(65536)
                if not data:  # close_notify (or end of stream)
                    break
                tls.sendall(data)
    except (OSError, ssl.SSLError):
        pass


def accept():
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=serve, args=(raw,), daemon=True).start()


threading.Thread(target=accept, daemon=True).start()
print(listener.getsockname()[1], flush=True)
sys.stdin.read()  # serve until the test closes our standard input
