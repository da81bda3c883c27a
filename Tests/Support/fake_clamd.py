#!/usr/bin/env python3
"""A clamd impostor for sigctl's tests: it speaks clamd's socket protocol on a
unix socket, answers PING, VERSION and RELOAD, but reports every INSTREAM scan
clean. It stands for a clamd that accepts RELOAD yet never loads the new set.

With --silent it accepts every connection and never answers anything: a clamd
that hangs.

Usage: python3 fake_clamd.py SOCKET_PATH [--silent]
"""
import os
import signal
import socket
import struct
import sys
import threading


SILENT = "--silent" in sys.argv[2:]
HELD = []


def handle(conn):
    if SILENT:
        HELD.append(conn)  # keep it open, say nothing
        return
    with conn:
        data = b""
        while b"\0" not in data and b"\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        command = data.split(b"\0")[0].split(b"\n")[0].lstrip(b"zn")
        rest = data[data.find(b"\0") + 1:] if b"\0" in data else b""
        if command == b"PING":
            conn.sendall(b"PONG\0")
        elif command == b"VERSION":
            conn.sendall(b"ClamAV 0.0.0/0/fake\0")
        elif command == b"RELOAD":
            conn.sendall(b"RELOADING\0")
        elif command == b"INSTREAM":
            buf = rest
            while True:
                while len(buf) < 4:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                (size,) = struct.unpack(">I", buf[:4])
                buf = buf[4:]
                if size == 0:
                    break
                while len(buf) < size:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[size:]
            conn.sendall(b"stream: OK\0")
        else:
            conn.sendall(b"UNKNOWN COMMAND\0")


def main():
    path = sys.argv[1]
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    # The harness waits for this line instead of polling for the socket.
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
