"""gunicorn settings: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (see README).
"""
import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


bind = os.environ.get("BIND") or (
    f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
# sync workers, 2 x cores + 1: each request is short and CPU-bound (argon2,
# JWT); see bench/README.md for the measurements behind these defaults
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _int("GUNICORN_THREADS", 1)
# recycle workers now and then (jitter keeps them from restarting together)
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# build the app once in the master: a bad configuration stops start-up with
# one line, and workers share the loaded code
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = ('%(h)s "%(r)s" %(s)s %(B)s %(M)sms '
                     'request_id=%({x-request-id}o)s')


def post_fork(server, worker):  # noqa: ARG001
    """No pooled connection may cross a fork: each worker opens its own."""
    import sys

    wsgi = sys.modules.get("wsgi")  # the preloaded app (absent for other apps)
    if wsgi is None:
        return
    from api.extensions import db

    with wsgi.app.app_context():
        db.engine.dispose(close=False)
