"""Library internals we rely on, pinned: each test fails on the first upgrade that breaks one.

Three pieces use a library beyond its public API (bench/README.md, "Public
APIs instead of private machinery", has the reasons). Two are gunicorn's,
which offers no public way to do the same:

- config/workers.py (FairThreadWorker) overrides gthread's `enqueue_req`
  and `finish_request` and turns `worker_connections` into a property;
- config/gunicorn.conf.py replaces `gunicorn.util.write_error` (gunicorn's
  HTML answer to a request that never reaches the app).

The third is api/loader.py, which loads request bodies with marshmallow's
fields without `Schema.load`'s general machinery (it pays on every invalid
body) and reads `Schema._hooks`, `Field._validate`, `Field._validate_all`
and `String._deserialize`.

So gunicorn and marshmallow are pinned exactly in requirements.txt and
setup.cfg, and the shapes these overrides depend on are checked here;
tests/test_workers.py, tests/test_gunicorn_conf.py and tests/test_loader.py
check what they do.
"""
from __future__ import annotations

import configparser
import inspect
import re
from importlib.metadata import version
from pathlib import Path

from gunicorn import util
from gunicorn.workers import base, gthread
from marshmallow import Schema, fields, post_load, pre_load, validates, validates_schema
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

ROOT = Path(__file__).resolve().parent.parent


def _pinned(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\[[^\]]*\])?==(\S+)", line, re.IGNORECASE)
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def _install_requires() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return [line.strip() for line in cfg["options"]["install_requires"].splitlines()
            if line.strip()]


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_gunicorn_and_marshmallow_run_and_are_required_at_the_exact_pinned_versions() -> None:
    for name in ("gunicorn", "marshmallow"):
        pinned = _pinned(name)
        assert version(name) == pinned
        assert f"{name}=={pinned}" in _install_requires()


def test_every_runtime_range_holds_the_pinned_version() -> None:
    """setup.cfg allows only the minor series CI runs (~=X.Y.Z), gunicorn exactly."""
    for requirement in _install_requires():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?(~=|==)(\S+)$", requirement)
        assert match, f"{requirement}: not ~= or == a pinned version"
        assert match.group(4) == _pinned(match.group(1)), requirement


def test_gthread_calls_the_methods_fair_thread_worker_overrides() -> None:
    worker = gthread.ThreadWorker
    assert _params(worker.enqueue_req) == ["self", "conn"]
    assert _params(worker.finish_request) == ["self", "conn", "fs"]
    # finish_request runs on the worker's main thread (its method queue), as
    # enqueue_req does: the busy count is kept without a lock
    assert "method_queue.defer(self.finish_request, conn" in inspect.getsource(worker.enqueue_req)
    # the loop accepts while nr_conns < worker_connections, read on every turn
    assert "self.nr_conns < self.worker_connections" in inspect.getsource(worker.run)
    # and sets the limit once, through the property's setter
    assert "self.worker_connections = self.cfg.worker_connections" in \
        inspect.getsource(worker.__init__)


def test_gunicorn_writes_its_error_page_through_util_write_error() -> None:
    assert _params(util.write_error) == ["sock", "status_int", "reason", "mesg"]
    # looked up on the module at call time, so the replacement is the one called
    assert "util.write_error(client, status_int, reason, mesg)" in \
        inspect.getsource(base.Worker.handle_error)
    assert _params(util.write_nonblock)[:2] == ["sock", "data"]


def test_marshmallow_has_what_the_loader_reads() -> None:
    class Plain(Schema):
        name = fields.String()

    class Hooked(Plain):
        @pre_load
        def before(self, data: dict, **_: object) -> dict:
            return data

        @post_load
        def after(self, data: dict, **_: object) -> dict:
            return data

        @validates("name")
        def check_name(self, value: str, **_: object) -> None:
            pass

        @validates_schema
        def check(self, data: dict, **_: object) -> None:
            pass

    # a schema's own processors and validators, listed by tag
    for tag in (PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA):
        assert not Plain()._hooks[tag] and Hooked()._hooks[tag], tag
    # the loader compares each field's class attributes with Field's own to
    # know that a string field validates as Field does
    assert callable(fields.Field._validate) and callable(fields.Field._deserialize)
    assert isinstance(inspect.getattr_static(fields.Field, "_validate_all"), property)
    assert fields.String._deserialize is not fields.Field._deserialize
    assert _params(fields.Field.deserialize)[:4] == ["self", "value", "attr", "data"]
