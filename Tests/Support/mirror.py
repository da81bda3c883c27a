#!/usr/bin/env python3
"""Fake signature mirror for sigctl's end-to-end tests and demo.

A small HTTP/1.1 file server (Python 3.11 standard library only) that serves a
directory on the loopback interface and can be told, request by request, to
misbehave the way real ClamAV mirrors sometimes do.

Usage
-----
    python3 mirror.py --root DIR [--port 0] [--port-file FILE]
                      [--faults FILE] [--log FILE] [--host 127.0.0.1]

--root       directory whose files are served (GET and HEAD only).
--port       TCP port; 0 (the default) lets the kernel pick a free one.
--port-file  once the socket is listening, the chosen port number plus a
             newline is written here (written to a temp file, then renamed,
             so a reader never sees a half-written file).
--faults     JSON file describing faults (see below). It is read again on
             every request, so a test can change behaviour while the server
             runs. Missing or unparsable file = no faults.
--log        append one JSON object per request to this file (see below).
--host       address to bind. Only loopback is accepted: 127.0.0.0/8 or ::1.

SIGTERM or SIGINT stops the server and exits with status 0.

What is served
--------------
URL paths are percent-decoded and mapped below --root. Any ".." segment, a
path that resolves outside the root, a directory, or a missing file gives a
404 with a short text body. Responses carry a strong ETag (the first 16 hex
digits of the SHA-256 of the content, in double quotes), Last-Modified (file
mtime), Accept-Ranges: bytes and Content-Length. Content-Type is text/html
for .html/.htm and application/octet-stream otherwise.

  * If-None-Match (a list, "*", or W/-prefixed tags) that matches -> 304.
  * If-Modified-Since (only looked at when If-None-Match is absent) not older
    than the file's mtime (whole seconds) -> 304.
  * Range: one "bytes=a-b", "bytes=a-" or "bytes=-n" -> 206 + Content-Range;
    a range starting beyond the end -> 416 + "Content-Range: bytes */SIZE".
    Malformed or multi-range headers are ignored (full 200). If-Range with an
    ETag or an HTTP date that does not match the current file -> full 200.
  * 304 responses carry ETag/Last-Modified but no body and no Content-Length.

Faults file
-----------
A JSON object. Keys are URL paths as the client requests them (for example
"/sanesecurity/phish.ndb") or "*" for every path; an exact path beats "*".
Each value is an object with any combination of these optional keys:

  "status": 503          reply with this status and a short text body instead
                         of the file.
  "retry_after": 120     Retry-After header value (string or number).
  "headers": {"X": "y"}  extra response headers.
  "body": "<html>..."    serve this text (UTF-8) as the resource with 200
                         instead of the file (its ETag is computed the same
                         way). With "status" it becomes that reply's body.
  "content_type": "..."  Content-Type for "body" (default: chosen from the
                         path's extension, like a file).
  "truncate": N          announce the full Content-Length but send only the
                         first N body bytes, then close the connection.
  "reset": true          read the request, then close the socket with
                         SO_LINGER (1, 0) so the client sees a TCP RST.
  "delay": 2.5           wait this many seconds before sending anything
                         (the wait is cut short when the server is stopped).
  "stall_after": N       send the headers and N body bytes, then pause for
  "stall": 30            "stall" seconds, then send the rest. Either may be
                         given alone: stall_after defaults to 0, stall to
                         3600 seconds.
  "ignore_if_range": true  serve a Range request even when its If-Range no
                         longer matches (a broken mirror that splices versions).
  "times": N             only the first N requests matching this key get the
                         fault; later ones are served normally. Counts live
                         in memory per (key, fault spec): a restart, or
                         writing a different spec for the key, starts over.

Order when combined: delay, then reset, then status/body, then the body is
sent with stall and/or truncate applied.

Example:
    {"/daily.cvd": {"status": 429, "retry_after": 60, "times": 2},
     "*": {"delay": 0.2}}

Request log
-----------
With --log, each request appends one line when it finishes (written and
flushed under a lock; "t" is when the request arrived):
    {"t": 1700000000.123, "method": "GET", "path": "/daily.cvd",
     "status": 200, "bytes": 1234, "if_none_match": null,
     "if_modified_since": null, "range": null, "user_agent": "sigctl/1.0",
     "fault": null}
"bytes" counts body bytes actually written to the socket (0 for HEAD/304).
"path" is the percent-decoded URL path without the query string. "status"
is null for "reset". "fault" names the fault kinds applied, joined with "+"
(e.g. "status", "body", "truncate", "delay+stall"), or null.
"""

import argparse
import datetime
import email.utils
import hashlib
import io
import ipaddress
import json
import os
import signal
import socket
import socketserver
import stat as stat_mod
import struct
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024
STOP = threading.Event()          # set on SIGTERM/SIGINT
START_TIME = int(time.time())     # Last-Modified for fault "body" entities


def sleep_interruptible(seconds):
    """Sleep up to `seconds`; return False if the server is stopping."""
    end = time.monotonic() + max(0.0, seconds)
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            return not STOP.is_set()
        if STOP.wait(min(0.05, remaining)):
            return False


def make_etag(digest_hex):
    return '"' + digest_hex[:16] + '"'


def content_type_for(path):
    lower = path.lower()
    if lower.endswith(".html") or lower.endswith(".htm"):
        return "text/html"
    return "application/octet-stream"


def parse_http_date(value):
    """Return a POSIX timestamp (int) or None if unparsable."""
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        # RFC 7231 dates are GMT; a naive result means "-0000"/GMT.
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    try:
        return int(dt.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def _is_digits(text, allow_empty=False):
    if not text:
        return allow_empty
    return all("0" <= c <= "9" for c in text)


def etag_list_matches(header, etag):
    """Weak comparison of an If-None-Match style list against `etag`."""
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        if item == "*":
            return True
        if item.startswith("W/") or item.startswith("w/"):
            item = item[2:].strip()
        if item == etag:
            return True
    return False


class Entity:
    """The thing being served: a file or a fault-supplied body."""

    def __init__(self, size, etag, mtime, content_type, opener):
        self.size = size
        self.etag = etag
        self.mtime = mtime            # whole seconds
        self.content_type = content_type
        self._opener = opener

    def open(self):
        return self._opener()


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, root, faults_path, log_path):
        self.root = root
        self.faults_path = faults_path
        self.log_path = log_path
        self.log_lock = threading.Lock()
        self.fault_lock = threading.Lock()
        self.fault_counts = {}
        self.etag_lock = threading.Lock()
        self.etag_cache = {}
        super().__init__(addr, handler)

    def server_bind(self):
        # Skip HTTPServer.server_bind's socket.getfqdn(), which may do a
        # slow reverse DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        if isinstance(exc, OSError) and exc.errno in (9, 32, 104, 107):
            return
        super().handle_error(request, client_address)

    # --- faults -----------------------------------------------------------

    def load_faults(self):
        if not self.faults_path:
            return {}
        try:
            with open(self.faults_path, "r", encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(data, dict):
            return {}
        return data

    def fault_for(self, candidates):
        """Return (key, spec) of the active fault for this request or None."""
        faults = self.load_faults()
        for key in candidates + ["*"]:
            spec = faults.get(key)
            if isinstance(spec, dict):
                break
        else:
            return None
        times = spec.get("times")
        if times is not None and not isinstance(times, bool):
            try:
                limit = int(times)
            except (TypeError, ValueError):
                limit = None
            if limit is not None:
                try:
                    ident = (key, json.dumps(spec, sort_keys=True))
                except (TypeError, ValueError):
                    ident = (key, repr(spec))
                with self.fault_lock:
                    n = self.fault_counts.get(ident, 0)
                    self.fault_counts[ident] = n + 1
                if n >= limit:
                    return None
        return key, spec

    # --- etags ------------------------------------------------------------

    def file_etag(self, path, st):
        ident = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        with self.etag_lock:
            cached = self.etag_cache.get(ident)
        if cached:
            return cached
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                block = f.read(1024 * 1024)
                if not block:
                    break
                h.update(block)
        etag = make_etag(h.hexdigest())
        with self.etag_lock:
            if len(self.etag_cache) > 4096:
                self.etag_cache.clear()
            self.etag_cache[ident] = etag
        return etag

    # --- log --------------------------------------------------------------

    def write_log(self, record):
        if not self.log_path:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.log_lock:
            try:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(line)
                    f.flush()
            except OSError:
                pass


class Abort(Exception):
    """Stop handling this request and drop the connection."""


class MirrorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigctl-test-mirror/1.0"
    sys_version = ""
    timeout = 120                 # idle keep-alive connections are dropped

    def version_string(self):
        return self.server_version

    # ---------------------------------------------------------------- plumbing

    def log_message(self, format, *args):   # noqa: A002 - silence stderr
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError, socket.timeout, Abort):
            self.close_connection = True
        except OSError as exc:
            if exc.errno in (9, 32, 104, 107):
                self.close_connection = True
            else:
                raise

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def send_response(self, code, message=None):
        self._status = int(code)
        super().send_response(code, message)

    def _extra_headers(self):
        spec = self._fault_spec or {}
        if "retry_after" in spec and spec["retry_after"] is not None:
            ra = spec["retry_after"]
            if isinstance(ra, float) and ra.is_integer():
                ra = int(ra)
            self.send_header("Retry-After", str(ra))
        hdrs = spec.get("headers")
        if isinstance(hdrs, dict):
            for name, value in hdrs.items():
                name = str(name)
                if not name or any(c in name for c in "\r\n:"):
                    continue
                value = str(value).replace("\r", " ").replace("\n", " ")
                self.send_header(name, value)

    def _write(self, data):
        if not data:
            return
        self.wfile.write(data)
        self._bytes += len(data)

    def _drain_request_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
            return
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            return
        if n > 1024 * 1024:
            self.close_connection = True
            return
        while n > 0:
            chunk = self.rfile.read(min(n, CHUNK))
            if not chunk:
                break
            n -= len(chunk)

    # ---------------------------------------------------------------- entry

    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)

    def _not_allowed(self):
        self._begin()
        try:
            self._drain_request_body()
            self._simple(405, "method not allowed\n", {"Allow": "GET, HEAD"})
        finally:
            self._log()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _begin(self):
        self._t0 = time.time()
        self._status = None
        self._bytes = 0
        self._fault_names = []
        self._fault_spec = None
        raw = urlsplit(self.path).path if self.path else ""
        self._raw_path = raw
        try:
            self._url_path = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            self._url_path = unquote(raw)

    def _log(self):
        h = self.headers
        self.server.write_log({
            "t": self._t0,
            "method": self.command,
            "path": self._url_path,
            "status": self._status,
            "bytes": self._bytes,
            "if_none_match": h.get("If-None-Match") if h else None,
            "if_modified_since": h.get("If-Modified-Since") if h else None,
            "range": h.get("Range") if h else None,
            "user_agent": h.get("User-Agent") if h else None,
            "fault": "+".join(self._fault_names) or None,
        })

    def _serve(self, head):
        self._begin()
        try:
            self._drain_request_body()
            self._serve_inner(head)
        except Abort:
            self.close_connection = True
        finally:
            self._log()

    # ---------------------------------------------------------------- faults

    @staticmethod
    def _num(spec, key, kind=float):
        value = spec.get(key)
        if value is None or isinstance(value, bool):
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            return None

    def _reset(self):
        self.close_connection = True
        conn = self.connection
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The socket is only really closed (and the RST sent) once the
        # makefile() wrappers are closed too; swap in inert stand-ins so the
        # base class's final flush/close calls have something to act on.
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except OSError:
                pass
        self.wfile = io.BytesIO()
        self.rfile = io.BytesIO()
        try:
            conn.close()
        except OSError:
            pass

    def _serve_inner(self, head):
        candidates = [self._url_path]
        if self._raw_path != self._url_path:
            candidates.append(self._raw_path)
        found = self.server.fault_for(candidates)
        spec = found[1] if found else {}
        self._fault_spec = spec if found else None
        names = self._fault_names

        delay = self._num(spec, "delay")
        if delay is not None and delay > 0:
            names.append("delay")
            if not sleep_interruptible(delay):
                raise Abort()

        if spec.get("reset") is True:
            names.append("reset")
            self._reset()
            return

        status = self._num(spec, "status", int)
        body = spec.get("body")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)

        if status is not None and 100 <= status <= 999:
            names.append("status")
            if body is not None:
                names.append("body")
                text = body
                ctype = spec.get("content_type") or content_type_for(
                    self._url_path)
            else:
                try:
                    phrase = HTTPStatus(status).phrase
                except ValueError:
                    phrase = "Fault"
                text = "%d %s\n" % (status, phrase)
                ctype = spec.get("content_type") or "text/plain; charset=utf-8"
            self._send_status_fault(status, text, str(ctype), head, spec)
            return

        if body is not None:
            names.append("body")
            data = body.encode("utf-8")
            ctype = spec.get("content_type") or content_type_for(self._url_path)
            entity = Entity(len(data),
                            make_etag(hashlib.sha256(data).hexdigest()),
                            START_TIME, str(ctype),
                            lambda: io.BytesIO(data))
        else:
            entity = self._file_entity()
            if entity is None:
                self._simple(404, "404 Not Found\n")
                return
        self._send_entity(entity, head, spec)

    def _send_status_fault(self, status, text, ctype, head, spec):
        data = text.encode("utf-8")
        no_body = status < 200 or status in (204, 304)
        self.send_response(status)
        if not no_body:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self._extra_headers()
        self.end_headers()
        if not head and not no_body:
            self._send_body(io.BytesIO(data), 0, len(data), spec)

    # ---------------------------------------------------------------- files

    def _file_entity(self):
        path = self._url_path
        if not path.startswith("/") or "\x00" in path:
            return None
        parts = path.split("/")
        if any(p == ".." for p in parts):
            return None
        if path.endswith("/"):
            return None
        segs = [p for p in parts if p not in ("", ".")]
        if not segs:
            return None
        root = self.server.root
        full = os.path.realpath(os.path.join(root, *segs))
        try:
            if os.path.commonpath([root, full]) != root or full == root:
                return None
            st = os.stat(full)
        except (OSError, ValueError):
            return None
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        try:
            etag = self.server.file_etag(full, st)
        except OSError:
            return None
        return Entity(st.st_size, etag, int(st.st_mtime),
                      content_type_for(full), lambda: open(full, "rb"))

    def _not_modified(self, entity):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag_list_matches(inm, entity.etag)
        ims = parse_http_date(self.headers.get("If-Modified-Since"))
        if ims is not None:
            return entity.mtime <= ims
        return False

    def _range_for(self, entity):
        """None (send all), (start, end) inclusive, or 'unsatisfiable'."""
        header = self.headers.get("Range")
        if not header:
            return None
        if_range = self.headers.get("If-Range")
        if (self._fault_spec or {}).get("ignore_if_range") is True:
            if_range = None
        if if_range is not None:
            if_range = if_range.strip()
            if if_range.startswith('"') or if_range[:2] in ("W/", "w/"):
                if if_range != entity.etag:      # strong comparison
                    return None
            else:
                when = parse_http_date(if_range)
                if when is None or when != entity.mtime:
                    return None
        header = header.strip()
        unit, sep, spec = header.partition("=")
        if not sep or unit.strip().lower() != "bytes":
            return None
        spec = spec.strip()
        if "," in spec:
            return None
        first, dash, last = spec.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or not _is_digits(first, True) or \
                not _is_digits(last, True):
            return None
        size = entity.size
        if not first:
            if not last:
                return None
            n = int(last)
            if n == 0 or size == 0:
                return "unsatisfiable"
            return (max(0, size - n), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            return "unsatisfiable"
        return (start, min(end, size - 1))

    def _send_entity(self, entity, head, spec):
        if self._not_modified(entity):
            self.send_response(304)
            self.send_header("ETag", entity.etag)
            self.send_header("Last-Modified",
                             email.utils.formatdate(entity.mtime, usegmt=True))
            self._extra_headers()
            self.end_headers()
            return

        rng = self._range_for(entity)
        if rng == "unsatisfiable":
            self._simple(416, "416 Range Not Satisfiable\n",
                         {"Content-Range": "bytes */%d" % entity.size,
                          "Accept-Ranges": "bytes"})
            return

        if rng is None:
            start, length, status = 0, entity.size, 200
        else:
            start, length, status = rng[0], rng[1] - rng[0] + 1, 206
        self.send_response(status)
        self.send_header("Content-Type", entity.content_type)
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d"
                             % (rng[0], rng[1], entity.size))
        self.send_header("ETag", entity.etag)
        self.send_header("Last-Modified",
                         email.utils.formatdate(entity.mtime, usegmt=True))
        self.send_header("Accept-Ranges", "bytes")
        self._extra_headers()
        self.end_headers()
        if head:
            return
        try:
            src = entity.open()
        except OSError:
            raise Abort()
        with src:
            self._send_body(src, start, length, spec)

    def _send_body(self, src, start, length, spec):
        truncate = self._num(spec, "truncate", int)
        stall_after = self._num(spec, "stall_after", int)
        stall = self._num(spec, "stall")
        if stall_after is not None or stall is not None:
            if stall_after is None:
                stall_after = 0
            if stall is None:
                stall = 3600.0
        limit = length
        if truncate is not None:
            self._fault_names.append("truncate")
            limit = max(0, min(truncate, length))
        if stall_after is not None:
            self._fault_names.append("stall")
        if start:
            src.seek(start)

        sent = 0
        stalled = stall_after is None
        while sent < limit:
            want = min(CHUNK, limit - sent)
            if not stalled and stall_after >= sent:
                want = min(want, stall_after - sent)
                if want == 0:
                    self.wfile.flush()
                    stalled = True
                    if not sleep_interruptible(stall):
                        raise Abort()
                    continue
            data = src.read(want)
            if not data:
                # File shrank under us: we cannot honour Content-Length.
                raise Abort()
            self._write(data)
            sent += len(data)
        if truncate is not None:
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _simple(self, status, text, extra=None):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self._extra_headers()
        self.end_headers()
        if self.command != "HEAD":
            self._write(data)


def check_host(host):
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    if addr.version == 4 and addr in ipaddress.ip_network("127.0.0.0/8"):
        return socket.AF_INET
    if addr.version == 6 and addr == ipaddress.ip_address("::1"):
        return socket.AF_INET6
    return None


def write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("%d\n" % port)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Loopback HTTP mirror with fault injection for sigctl tests.")
    ap.add_argument("--root", required=True, help="directory to serve")
    ap.add_argument("--port", type=int, default=0, help="port (0 = any free)")
    ap.add_argument("--port-file", help="write the bound port here")
    ap.add_argument("--faults", help="JSON fault file, re-read per request")
    ap.add_argument("--log", help="append JSON lines request log here")
    ap.add_argument("--host", default="127.0.0.1",
                    help="loopback address to bind (127.0.0.0/8 or ::1)")
    args = ap.parse_args(argv)

    family = check_host(args.host)
    if family is None:
        ap.error("refusing to bind %r: only 127.0.0.0/8 or ::1 allowed"
                 % args.host)
    if not (0 <= args.port <= 65535):
        ap.error("invalid port %d" % args.port)
    root = os.path.realpath(args.root)
    if not os.path.isdir(root):
        ap.error("--root %r is not a directory" % args.root)

    class Server(MirrorServer):
        address_family = family

    try:
        server = Server((args.host, args.port), MirrorHandler, root,
                        os.path.abspath(args.faults) if args.faults else None,
                        os.path.abspath(args.log) if args.log else None)
    except OSError as exc:
        print("mirror: cannot listen on %s:%d: %s"
              % (args.host, args.port, exc), file=sys.stderr)
        return 1

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A parent may start us with these signals blocked (threads of a test
    # runner often block everything); unblock them so SIGTERM stops us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.1},
                              name="mirror-accept", daemon=True)
    thread.start()
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print("mirror: serving %s on http://%s:%d/"
          % (root, "[::1]" if family == socket.AF_INET6 else args.host, port),
          file=sys.stderr, flush=True)

    while not STOP.is_set():
        STOP.wait(0.2)

    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
