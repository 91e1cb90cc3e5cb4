"""At most PASSWORD_HASH_CONCURRENCY argon2 hashes run at once per worker
(issue 21): memory stays workers x concurrency x ARGON2_MEMORY_COST, and a
burst of logins leaves CPU to the requests that only read."""
from __future__ import annotations

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
