"""gunicorn settings: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (see README).
"""
import gc
import http
import json
import multiprocessing
import os
import uuid

from gunicorn import util


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


bind = os.environ.get("BIND") or (
    f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
_kind = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
# "gthread" is gunicorn's threaded worker accepting a connection only while
# it has a thread free (config/workers.py): gunicorn's own let one worker take
# every connection of a burst. Any other value goes to gunicorn as it is.
# It also reads each request in full (headers and body) before a thread
# serves it (config/buffering.py): clients sending a byte a second cost a
# socket, not a thread, and must finish within GUNICORN_REQUEST_READ_TIMEOUT.
worker_class = "config.buffering.BufferingThreadWorker" if _kind == "gthread" else _kind
if _kind == "gthread":
    from config.buffering import read_timeout

    read_timeout()  # a bad GUNICORN_REQUEST_READ_TIMEOUT stops start-up with one line
# One threaded worker per core served every scenario but login (bound by
# argon2) faster than 2 x cores + 1 workers of 2 threads, with a p99 as low or
# lower (bench/shapes.py; bench/README.md, "Worker class and count"): fewer
# processes share the caches and cores with less switching, and a thread
# waiting on the database frees the GIL for another. 8 threads, not 4: a
# login waiting for its turn to hash (PASSWORD_HASH_CONCURRENCY) holds its
# thread, and with 4 a burst of 8 logins held nearly all of them, so reads
# queued behind logins (bench/login_burst.py; bench/README.md).
# Single-threaded workers (sync) keep 2 x cores + 1.
# gunicorn silently runs gthread for "sync" with threads > 1: sync means 1.
threads = _int("GUNICORN_THREADS", 1 if _kind == "sync" else 8)
_cores = multiprocessing.cpu_count()
workers = _int("WEB_CONCURRENCY", _cores if threads > 1 else 2 * _cores + 1)
# Recycle workers now and then (jitter keeps them from restarting together):
# rarely enough that restarts cost little, often enough to bound a leak
# (a worker's memory stays flat: bench/memory.py, bench/README.md).
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# build the app once in the master: a bad configuration stops start-up with
# one line, and workers share the loaded code
preload_app = True
# gunicorn's control socket (gunicornc) is opt-in: by default every instance on
# a host would share one path ($HOME/.gunicorn/gunicorn.ctl), the last to start
# taking it over from the others
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
# whose X-Forwarded-Proto gunicorn believes; the app reads the same variable
# for whose X-Forwarded-For names the client (api/proxies.py), and checks it
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
if accesslog:
    # one access line per request: gunicorn's (with the request id), so the
    # app, loaded after this file, does not write its own (LOG_ACCESS)
    os.environ.setdefault("LOG_ACCESS", "false")
errorlog = "-"
# control characters from clients escaped in both logs (config/gunicorn_logging.py)
logger_class = "config.gunicorn_logging.EscapingLogger"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# path without the query string, as api/logging.py logs it; %(M)s is milliseconds
access_log_format = ('%(h)s %(m)s %(U)s %(s)s %(B)s %(M)sms '
                     'request_id=%({x-request-id}o)s')


def when_ready(server):  # noqa: ARG001
    """Before the first fork: move the preloaded app's objects (modules,
    catalog, schemas, compiled queries) out of the garbage collector's reach.
    Workers then never scan them in a full collection, nor write to their
    pages (no copy-on-write), so a worker's collections and its start after
    a recycle cost what the request objects cost, not the whole heap.
    The common-password list (read on first use) is read here first,
    so the workers share one copy of it instead of reading one each."""
    import sys

    if "wsgi" in sys.modules:  # our preloaded app (not another app's)
        from api.auth.password_policy import common_passwords

        common_passwords()
    gc.collect()
    gc.freeze()


def post_fork(server, worker):  # noqa: ARG001
    """No pooled connection may cross a fork: each worker opens its own."""
    import sys

    wsgi = sys.modules.get("wsgi")  # the preloaded app (absent for other apps)
    if wsgi is None:
        return
    from api.extensions import db

    with wsgi.app.app_context():
        db.engine.dispose(close=False)
    # the outbox's courier: a thread of this worker (a thread does not survive a fork)
    from api.mail.courier import start_embedded

    start_embedded(wsgi.app)


def write_json_error(sock, status_int, reason, mesg):  # noqa: ARG001
    """gunicorn's own answer when a request never reaches the app (request
    line or headers too long, broken framing, a crash outside Flask): the
    envelope instead of gunicorn's HTML page. Its text (`mesg`) echoes the
    request, so it is not sent; the access log keeps gunicorn's status."""
    from api.errors.catalog import CATALOG, reason_of

    if status_int == 501:  # gunicorn's answer to a Transfer-Encoding it does not know
        code, name = 88, "request.header.unsupported_transfer_encoding"
    elif status_int == 413:  # config/buffering.py: a body over the app's limit, unread
        code, name = 88, "request.body.too_large"
    elif status_int == 408:  # config/buffering.py: the request did not arrive in time
        code, name = 88, "request.read.timeout"
    elif status_int >= 500:
        code, name = 500, "server.internal.error"
    else:
        code, name = 88, "request.body.bad_request"
    entry = CATALOG[code]
    request_id = uuid.uuid4().hex
    body = json.dumps({"meta": {
        "code": code, "message": entry.title, "description": reason_of(name).description,
        "reason": name, "request_id": request_id}}, separators=(",", ":")).encode() + b"\n"
    head = (f"HTTP/1.1 {entry.status} {http.HTTPStatus(entry.status).phrase}\r\n"
            f"Connection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n"
            f"X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


# workers call util.write_error for requests gunicorn itself rejects; gunicorn
# has no public hook for that answer, so it is pinned exactly and
# tests/test_library_pins.py fails on an upgrade that changes the call
util.write_error = write_json_error
