"""gunicorn's threaded worker, handing a request to a thread only once it has arrived.

gthread gives a connection a thread as soon as its first byte arrives, and
the thread then blocks reading the rest of the request. A client sending its
headers or body a byte a second holds that thread as long as it likes: as
many slow clients as there are threads, and nobody else is answered
(bench/slowloris.py; bench/README.md, "Slow clients").

This worker reads each request in its main loop instead, as nginx does:
non-blocking, whatever bytes are there, until the headers and the whole body
(Content-Length or chunked, up to the app's 64 KiB) are in memory. Only then
does a thread parse and serve it, from memory, without waiting on the
client. A request must arrive within GUNICORN_REQUEST_READ_TIMEOUT seconds
(default 10) of the connection's accept (or, on a kept-alive connection, of
its first byte), or the connection is closed (with an 88 if part of it
came); a slow connection meanwhile costs a socket and a buffer, not a
thread. A body over the limit, or headers over 64 KiB, are answered 88 at
once, unread.
`Expect: 100-continue` is answered here, so the body arrives here too.

TLS and HTTP/2 prior knowledge need the socket in the thread from the start:
with either configured the worker behaves as FairThreadWorker. Behind nginx
(deploy/nginx.conf) nginx buffers requests itself; this is the defence of a
gunicorn that clients reach directly.

A connection to close lingers in the poller too (RFC 9112 9.6: half-close,
drain, close), where gthread would block its main loop on it.

It overrides gthread internals (enqueue_req, finish_request, murder_pending,
TConn's parser and unreader), so gunicorn is pinned exactly (requirements.txt), and
tests/test_buffering.py checks the shapes it relies on.
"""
from __future__ import annotations

import os
import selectors
import socket
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn import util

from config import BaseConfig
from config.workers import FairThreadWorker

MORE, COMPLETE, TOO_LARGE, HEAD_TOO_LARGE = "more", "complete", "too large", "head too large"
# the app refuses larger bodies (88); the worker refuses them unread
BODY_LIMIT = BaseConfig.MAX_CONTENT_LENGTH
# gunicorn's own limits: a 4094-byte request line and 100 fields of 8190
HEAD_LIMIT = 64 * 1024
DEFAULT_READ_TIMEOUT = 10.0
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# a refused connection is read (and dropped) this long, this much, before the close
LINGER = 2.0
LINGER_BYTES = 256 * 1024


def read_timeout() -> float:
    """GUNICORN_REQUEST_READ_TIMEOUT: seconds for a request to arrive whole."""
    value = os.environ.get("GUNICORN_REQUEST_READ_TIMEOUT")
    if not value:
        return DEFAULT_READ_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise ValueError(f"GUNICORN_REQUEST_READ_TIMEOUT must be a number of seconds "
                         f"(0 < s <= 3600), not {value!r}")
    return seconds


def _chunked(buffer: bytes | bytearray, start: int, limit: int) -> str:
    pos, total = start, 0
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return MORE if len(buffer) - pos <= 1024 else COMPLETE  # a size line that long
        try:
            size = int(bytes(buffer[pos:eol]).split(b";")[0].strip(), 16)
        except ValueError:
            return COMPLETE  # malformed: gunicorn answers it from what is here
        if size < 0:
            return COMPLETE
        if size == 0:  # the last chunk, then trailers up to an empty line
            return COMPLETE if buffer.find(b"\r\n\r\n", eol) >= 0 else MORE
        total += size
        if total > limit:
            return TOO_LARGE
        pos = eol + 2 + size + 2
        if pos > len(buffer):
            return MORE


def arrival(buffer: bytes | bytearray, body_limit: int = BODY_LIMIT,
            head_limit: int = HEAD_LIMIT) -> tuple[str, int, bool]:
    """Has a whole HTTP/1.x request arrived at the start of ``buffer``?

    (state, end of the head or -1, whether the head asks for 100-continue).
    Anything this does not understand is COMPLETE: every byte the client
    sent is there, and gunicorn's parser answers it without waiting."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return (MORE if len(buffer) <= head_limit else HEAD_TOO_LARGE), -1, False
    lines = bytes(buffer[:end]).split(b"\r\n")
    length: int | None = None
    chunked = expect = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            if not value.isdigit() or length is not None:
                return COMPLETE, end, False
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"expect" and value.lower() == b"100-continue":
            expect = lines[0].endswith(b"HTTP/1.1")
    body = end + 4
    if chunked:
        if length is not None:
            return COMPLETE, end, False  # both: gunicorn refuses it
        return _chunked(buffer, body, body_limit), end, expect
    if length is None:
        return COMPLETE, end, False
    if length > body_limit:
        return TOO_LARGE, end, False
    return (COMPLETE if len(buffer) - body >= length else MORE), end, expect


def without_expect(buffer: bytes | bytearray, end: int) -> bytearray:
    """The request with its `Expect: 100-continue` line removed (answered here)."""
    lines = bytes(buffer[:end]).split(b"\r\n")
    kept = [lines[0]] + [line for line in lines[1:]
                         if line.partition(b":")[0].strip().lower() != b"expect"]
    return bytearray(b"\r\n".join(kept)) + buffer[end:]


class BufferingThreadWorker(FairThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: deque[Any] = deque()  # by deadline: one timeout for all
        self.lingering: deque[Any] = deque()  # refused, draining before the close
        self.read_timeout = read_timeout()
        self.buffering = False

    def init_process(self) -> None:
        # the thread must own the socket from the first byte for a TLS
        # handshake, an HTTP/2 preface or another protocol than HTTP/1.x
        self.buffering = (not self.cfg.is_ssl
                          and self.cfg.http2_cleartext not in ("prior-knowledge", "both")
                          and getattr(self.cfg, "protocol", "http") == "http")
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        if not self.buffering or getattr(conn, "arrived", False):
            conn.arrived = False
            super().enqueue_req(conn)
            return
        # a new connection, a kept-alive one readable again, or one with the
        # start of its next request already read
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.buffer = bytearray(leftover)
        conn.continued = False
        conn.read_deadline = time.monotonic() + self.read_timeout
        conn.sock.setblocking(False)
        # a kept-alive connection comes here readable: most requests have
        # arrived whole already, and go to a thread without a poller round
        if self._read(conn):
            return
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._on_readable, conn))

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        self._read(conn)

    def _read(self, conn: Any) -> bool:
        """Read what is there and act on it; True when the connection left
        buffering (handed to a thread, answered or closed)."""
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return bool(conn.buffer) and self._check(conn)  # e.g. a pipelined leftover
        except OSError:
            data = b""
        if not data:  # the client went away
            self._forget(conn)
            self._close(conn)
            return True
        conn.buffer += data
        return self._check(conn)

    def _check(self, conn: Any) -> bool:
        """Act on what has arrived; True when the connection left buffering."""
        state, end, expect = arrival(conn.buffer)
        if state == MORE:
            if expect and not conn.continued:
                conn.buffer = without_expect(conn.buffer, end)
                conn.continued = True
                try:
                    conn.sock.send(CONTINUE)
                except OSError:
                    pass
            return False
        if state == COMPLETE:
            self._dispatch(conn)
        else:
            self._refuse(conn, 413 if state == TOO_LARGE else 431)
        return True

    def _dispatch(self, conn: Any) -> None:
        self._forget(conn)
        conn.sock.setblocking(True)
        conn.init()  # the parser, reading the buffer before the socket
        conn.parser.unreader.unread(bytes(conn.buffer))
        conn.buffer = bytearray()
        conn.data_ready = True
        conn.arrived = True
        self.enqueue_req(conn)

    def _refuse(self, conn: Any, status: int) -> None:
        """Answer in the envelope (config/gunicorn.conf.py's write_error), then
        close as RFC 9112 9.6 asks: half-close, and read (and drop) what the
        client is still sending for up to LINGER seconds, so that the close
        does not reset the connection before the client reads the answer.
        gunicorn's close_graceful does the same, blocking; this is the
        poller's version of it."""
        self._forget(conn)
        try:
            util.write_error(conn.sock, status, "", "")
        except OSError:
            self._close(conn)
            return
        self._linger(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        """A connection done with (its response said close, or it failed)
        lingers in the poller. gthread would close it here, on the main
        thread, with gunicorn's close_graceful: up to 2 s blocked reading a
        client that does not close, the whole worker stopped meanwhile (a
        client sending `Connection: close` requests and never closing
        stops the service that way)."""
        if (self.buffering and not fs.cancelled() and fs.exception() is None
                and fs.result() is False):
            self.busy_threads -= 1  # as FairThreadWorker.finish_request counts
            self._linger(conn)
            return
        super().finish_request(conn, fs)

    def _linger(self, conn: Any) -> None:
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.linger_until = time.monotonic() + LINGER
        conn.drained = 0
        self.lingering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_linger, conn))

    def _on_linger(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.drained += len(data)
        if not data or conn.drained > LINGER_BYTES:
            self._end_linger(conn)

    def _end_linger(self, conn: Any) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.lingering.remove(conn)
        except ValueError:
            pass
        self._close(conn)

    def _forget(self, conn: Any) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.arriving.remove(conn)
        except ValueError:
            pass

    def _close(self, conn: Any) -> None:
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also close the requests that did not arrive in time."""
        super().murder_pending()
        now = time.monotonic()
        while self.arriving and (self.arriving[0].read_deadline <= now or not self.alive):
            conn = self.arriving.popleft()
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
            if conn.buffer.strip():  # part of a request came: say why it is dropped
                self._refuse(conn, 408)
            else:
                self._close(conn)
        while self.lingering and (self.lingering[0].linger_until <= now or not self.alive):
            self._end_linger(self.lingering[0])
