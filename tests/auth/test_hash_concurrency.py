"""At most PASSWORD_HASH_CONCURRENCY argon2 hashes run at once per worker
(issue 21): memory stays workers x concurrency x ARGON2_MEMORY_COST, and a
burst of logins leaves CPU to the requests that only read."""
from __future__ import annotations

import os
import select
import signal
import sys
import threading
from typing import Any

import pytest

from api.auth.passwords import passwords
from tests.conftest import make_app


def _count_running(owner: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Wrap argon2 itself: how many calls are inside it at once, at most."""
    hasher = owner.hasher
    seen = {"now": 0, "most": 0}
    lock = threading.Lock()

    def counted(real: Any) -> Any:
        def run(*args: Any) -> Any:
            with lock:
                seen["now"] += 1
                seen["most"] = max(seen["most"], seen["now"])
            try:
                return real(*args)
            finally:
                with lock:
                    seen["now"] -= 1
        return run

    class Counting:
        hash = staticmethod(counted(hasher.hash))
        verify = staticmethod(counted(hasher.verify))

    monkeypatch.setattr(owner, "hasher", Counting())
    return seen


@pytest.mark.parametrize("bound", [1, 2])
def test_threads_hashing_never_exceed_the_bound(bound: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(PASSWORD_HASH_CONCURRENCY=bound, ARGON2_TIME_COST=2,
                   ARGON2_MEMORY_COST=4096)
    with app.app_context():
        pw = passwords()
    stored = pw.hash("correct horse battery staple")
    seen = _count_running(pw, monkeypatch)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            if i % 2:
                assert pw.verify(stored, "correct horse battery staple")
            else:
                assert pw.verify(pw.hash(f"pw {i}"), f"pw {i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert seen["most"] == bound  # reached, never passed


def test_a_wrong_password_frees_its_slot() -> None:
    app = make_app(PASSWORD_HASH_CONCURRENCY=1)
    with app.app_context():
        pw = passwords()
    stored = pw.hash("right")
    assert not pw.verify(stored, "wrong")
    assert not pw.verify("not a hash", "wrong")
    assert pw.verify(stored, "right")  # would block forever if a slot leaked


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priority is Linux's")
def test_hashes_run_at_a_lower_cpu_priority() -> None:
    """Reads go first when the cores are busy: the hashing threads run
    PASSWORD_HASH_NICE lower than the request threads."""
    pw = passwords_of(make_app(PASSWORD_HASH_NICE=7))
    assert pw.pool.submit(_priority).result() == min(19, _priority() + 7)
    assert passwords_of(make_app(PASSWORD_HASH_NICE=0)).pool.submit(_priority).result() \
        == _priority()


def test_each_process_gets_its_own_hashing_threads() -> None:
    """gunicorn forks its workers from a process that built the app: a
    child must not inherit a pool whose threads live only in the parent."""
    pw = passwords_of(make_app())
    assert pw.verify(pw.hash("before the fork"), "before the fork")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child; its answer is asserted below)
        try:
            ok = pw.verify(pw.hash("in the child"), "in the child")
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 30)
    if not ready:  # the child waits for a thread that is not there
        os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as answer:
        assert ready and answer.read() == b"1"


def passwords_of(app: Any) -> Any:
    with app.app_context():
        return passwords()
