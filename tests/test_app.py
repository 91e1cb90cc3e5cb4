"""The app object itself: what Gatehouse changes of Flask's behaviour."""
from __future__ import annotations

import pytest

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
