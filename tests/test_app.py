"""The app object itself: what Gatehouse changes of Flask's behaviour."""
from __future__ import annotations

import os
import threading
import uuid

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from api import request_ids
from api.requests import ApiRequest
from tests.conftest import make_app


class _Unhashable:
    def __eq__(self, other: object) -> bool:  # defines no __hash__: unhashable
        return self is other

    def __call__(self) -> str:
        return "called"


def test_ensure_sync_answers_as_flask_does() -> None:
    """Worked out once per function (Flask asks on every request), same answers."""
    app = make_app()

    def view() -> str:
        return "plain"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view  # the remembered answer
    odd = _Unhashable()
    assert app.ensure_sync(odd) is odd

    async def coroutine_view() -> str:
        return "async"

    # as in Flask: an async view needs the async extra (not installed), every time
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine_view)


def test_the_one_error_handler() -> None:
    """Gatehouse.handle_user_exception sends an AppError straight to the
    app's error handler, which holds only while it is the only one."""
    from api.errors.handlers import handle_exception

    app = make_app()
    assert {name: {code: dict(handlers) for code, handlers in by_code.items()}
            for name, by_code in app.error_handler_spec.items()} == \
        {None: {None: {Exception: handle_exception}}}


def test_new_request_ids_are_uuid4_hex_and_never_repeat() -> None:
    """Made 128 at a time from one read of the OS's random bytes."""
    ids = [request_ids.new_request_id() for _ in range(3 * request_ids._ID_BATCH + 5)]
    assert len(set(ids)) == len(ids)
    for rid in ids:
        assert uuid.UUID(hex=rid).version == 4 and uuid.UUID(hex=rid).hex == rid


def test_threads_never_share_a_request_id() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def take(out: list[str]) -> None:
        out.extend(request_ids.new_request_id() for _ in range(2000))

    threads = [threading.Thread(target=take, args=(out,)) for out in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [rid for out in found for rid in out]
    assert len(set(every)) == len(every) == 8000


def test_a_forked_worker_does_not_reuse_its_parents_ids() -> None:
    request_ids.new_request_id()  # the parent now holds spare ids
    spare = set(request_ids._spare_ids)
    assert spare
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first id and leave at once
        os.write(write, request_ids.new_request_id().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child_id) == 32 and child_id not in spare


@pytest.mark.parametrize("environ", [
    {}, {"CONTENT_LENGTH": "12"}, {"CONTENT_LENGTH": "0"}, {"CONTENT_LENGTH": "-3"},
    {"CONTENT_LENGTH": "x1"}, {"CONTENT_LENGTH": " 7 "},
    {"HTTP_TRANSFER_ENCODING": "chunked"},
    {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "5"},
])
def test_content_length_as_werkzeug_reads_it(environ: dict[str, str]) -> None:
    environ = {**EnvironBuilder(method="POST").get_environ(), **environ}
    assert ApiRequest(environ).content_length == Request(environ).content_length
