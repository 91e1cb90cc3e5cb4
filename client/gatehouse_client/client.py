"""GatehouseClient: every endpoint, tokens kept, errors typed, retries as the catalog advises."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import requests

from gatehouse_client import __version__
from gatehouse_client.catalog import NEVER, ONCE
from gatehouse_client.errors import (
    AuthRequired, GatehouseError, TransportError, from_envelope)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# no answer (or half of one) arrived: worth another try for an idempotent request
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout,
                     requests.exceptions.ChunkedEncodingError)

_USER_AGENT = f"gatehouse-client/{__version__} {requests.utils.default_user_agent()}"

Tokens = dict[str, Any]


@dataclass
class TwoFactorChallenge:
    """A login that needs a second factor: ``complete()`` it with a TOTP or recovery code.

    A challenge expires (``expires_in`` seconds) and allows 5 wrong codes; after
    that ``complete()`` raises AuthRequired (``auth.challenge.invalid`` or
    ``auth.challenge.exhausted``) and the login starts again.
    """

    client: "GatehouseClient" = field(repr=False)
    challenge_token: str = field(repr=False)
    expires_in: int

    def complete(self, code: str) -> Tokens:
        """Tokens (kept by the client) once the code is right; InvalidParameter if not."""
        return self.client.verify_2fa(self.challenge_token, code)


class GatehouseClient:
    """A Gatehouse API client for one user at a time (tokens are kept on the instance).

    Errors raise one exception class per catalog code (``gatehouse_client.errors``).

    Retries follow the catalog: 77 with exponential backoff and jitter, 429
    after its ``Retry-After`` (when that is more than ``max_retry_after``
    seconds away the error is raised at once), 500 once; connection errors and
    timeouts with backoff. At most ``max_retries`` retries per call. Other 4xx
    are never retried. Only idempotent methods (GET, HEAD, PUT, DELETE,
    OPTIONS) are retried unless ``retry_unsafe`` is true, here or per call.

    An access token answered with ``auth.token.expired`` is refreshed once and
    the call sent again. An AuthRequired whose reason means the tokens are dead
    (blocked, revoked, deleted account, 2FA mismatch, …) clears them.
    ``on_tokens`` is called with the new token pair (or None when cleared)
    whenever the kept tokens change, so an application can persist them.
    """

    def __init__(self, base_url: str, *, access_token: str | None = None,
                 refresh_token: str | None = None, max_retries: int = 3,
                 backoff: float = 0.5, max_backoff: float = 30.0,
                 max_retry_after: float = 120.0, timeout: float = 10.0,
                 retry_unsafe: bool = False, language: str | None = None,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random,
                 on_tokens: Callable[[Tokens | None], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.retry_unsafe = retry_unsafe
        self.language = language
        self.http = session or requests.Session()
        self.sleep = sleep
        self.rng = rng
        self.on_tokens = on_tokens

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "GatehouseClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- tokens ---------------------------------------------------------------

    @property
    def tokens(self) -> Tokens | None:
        if self.access_token is None and self.refresh_token is None:
            return None
        return {"access_token": self.access_token, "refresh_token": self.refresh_token}

    def _keep(self, tokens: Tokens) -> Tokens:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        if self.on_tokens is not None:
            self.on_tokens(dict(tokens))
        return tokens

    def forget_tokens(self) -> None:
        had = self.tokens is not None
        self.access_token = self.refresh_token = None
        if had and self.on_tokens is not None:
            self.on_tokens(None)

    # --- transport ------------------------------------------------------------

    def delay(self, retry: int, error: GatehouseError | None = None) -> float | None:
        """Seconds to wait before retry number ``retry`` (1-based); None: do not retry.

        Retry-After is honoured as given, unless it exceeds ``max_retry_after``.
        Otherwise exponential backoff, capped at ``max_backoff``, with jitter:
        a random point in the upper half of the step.
        """
        if error is not None and error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return ceiling * (0.5 + self.rng() / 2)

    def _send(self, method: str, path: str, body: Any, params: Mapping[str, Any] | None,
              headers: Mapping[str, str] | None, token: str | None) -> requests.Response:
        sent = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if self.language:
            sent["Accept-Language"] = self.language
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return self.http.request(method, self.base_url + path,
                                 json=body, params=params, headers=sent, timeout=self.timeout)

    def request(self, method: str, path: str, body: Any = None, *,
                params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, auth: bool = True,
                retry_unsafe: bool | None = None) -> dict[str, Any]:
        """Send one API call (``body`` as JSON) and return the whole success envelope.

        Any path may be called this way; errors raise like every other method.
        """
        method = method.upper()
        unsafe = self.retry_unsafe if retry_unsafe is None else retry_unsafe
        may_retry = method in IDEMPOTENT or unsafe
        retries, refreshed = 0, False
        while True:
            token = self.access_token if auth else None
            try:
                resp = self._send(method, path, body, params, headers, token)
            except _TRANSPORT_ERRORS as exc:
                error: GatehouseError = TransportError(
                    status=None, code=None, message=f"{type(exc).__name__}: {exc}")
                wait = self.delay(retries + 1)
                if may_retry and retries < self.max_retries and wait is not None:
                    retries += 1
                    self.sleep(wait)
                    continue
                raise error from exc
            with resp:
                envelope, error = _answer(resp)
            if error is None:
                return envelope
            if isinstance(error, AuthRequired) and token is not None:
                if (error.should_refresh and not refreshed and self.refresh_token
                        and token == self.access_token):
                    refreshed = True
                    self.refresh()  # raises (and clears the tokens) if it fails
                    continue
                if error.should_logout and token == self.access_token:
                    self.forget_tokens()
            policy = error.retry_policy
            limit = min(1, self.max_retries) if policy == ONCE else self.max_retries
            if policy != NEVER and may_retry and retries < limit:
                wait = self.delay(retries + 1, error)
                if wait is not None:
                    retries += 1
                    self.sleep(wait)
                    continue
            raise error

    def _data(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request(method, path, body, **kwargs)["data"]

    # --- /v1/auth ---------------------------------------------------------------

    def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        """The new account (no tokens: log in next)."""
        return self._data("POST", "/v1/auth/register",
                          {"username": username, "email": email, "password": password},
                          auth=False)

    def login(self, login: str, password: str) -> Tokens | TwoFactorChallenge:
        """Tokens (kept), or a TwoFactorChallenge to ``complete()`` with a code."""
        data = self._data("POST", "/v1/auth/login", {"login": login, "password": password},
                          auth=False)
        if data.get("two_factor_required"):
            return TwoFactorChallenge(self, data["challenge_token"], data["expires_in"])
        return self._keep(data)

    def verify_2fa(self, challenge_token: str, code: str) -> Tokens:
        return self._keep(self._data("POST", "/v1/auth/2fa/verify",
                                     {"challenge_token": challenge_token, "code": code},
                                     auth=False))

    def refresh(self) -> Tokens:
        """Rotate the token pair (the old refresh token is spent)."""
        if not self.refresh_token:
            raise AuthRequired(status=None, code=99, message="Auth Required",
                               description="No refresh token held; log in first.",
                               reason="auth.refresh.invalid")
        try:
            tokens = self._data("POST", "/v1/auth/refresh",
                                {"refresh_token": self.refresh_token}, auth=False)
        except AuthRequired:
            self.forget_tokens()
            raise
        return self._keep(tokens)

    def logout(self) -> None:
        """Revoke the session; the kept tokens are cleared even if that fails."""
        try:
            self._data("POST", "/v1/auth/logout")
        finally:
            self.forget_tokens()

    def change_password(self, current_password: str, new_password: str) -> dict[str, Any]:
        """``{password_changed, revoked_sessions}``: every other session is revoked."""
        return self._data("POST", "/v1/auth/password", {"current_password": current_password,
                                                        "new_password": new_password})

    def setup_2fa(self) -> dict[str, Any]:
        """``{secret, otpauth_uri}``: show it to the user, then ``enable_2fa(code)``."""
        return self._data("POST", "/v1/auth/2fa/setup")

    def enable_2fa(self, code: str) -> list[str]:
        """Turn 2FA on: keeps the new ``2f.`` tokens and returns the 10 recovery codes."""
        data = self._data("POST", "/v1/auth/2fa/enable", {"code": code})
        self._keep(data)
        return list(data["recovery_codes"])

    def disable_2fa(self, password: str, code: str) -> Tokens:
        """Turn 2FA off (password and a TOTP or recovery code); keeps the new plain tokens."""
        return self._keep(self._data("POST", "/v1/auth/2fa/disable",
                                     {"password": password, "code": code}))

    # --- /v1/users --------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._data("GET", "/v1/users/me")

    def update_me(self, **changes: Any) -> dict[str, Any]:
        """``update_me(email=…, display_name=…)``: the changed account."""
        return self._data("PATCH", "/v1/users/me", changes)

    def delete_me(self, password: str) -> None:
        """Delete the account and all its sessions; the kept tokens are cleared."""
        self._data("DELETE", "/v1/users/me", {"password": password})
        self.forget_tokens()

    def get_user(self, user_id: int) -> dict[str, Any]:
        """A public profile, or UserNotExists."""
        return self._data("GET", f"/v1/users/{int(user_id)}")

    def users_page(self, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        """One page of the admin list: ``{"data": [...], "pagination": {limit, next_cursor}}``."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        envelope = self.request("GET", "/v1/users", params=params)
        return {"data": envelope["data"], "pagination": envelope["pagination"]}

    def list_users(self, page_size: int = 100,
                   cursor: str | None = None) -> Iterator[dict[str, Any]]:
        """Every account, oldest first (admins only), walking ``next_cursor`` page by page."""
        while True:
            page = self.users_page(page_size, cursor)
            yield from page["data"]
            cursor = page["pagination"]["next_cursor"]
            if not cursor:
                return

    # --- service ----------------------------------------------------------------

    def health(self, ready: bool = True) -> dict[str, Any]:
        """Readiness (checks the database: DatabaseRollback when it is down) or liveness."""
        return self._data("GET", "/health/ready" if ready else "/health/live", auth=False)

    def error_catalog(self) -> list[dict[str, Any]]:
        """``GET /v1/errors``: every code with its status, retry policy, hint and reasons."""
        return self._data("GET", "/v1/errors", auth=False)


def _answer(resp: requests.Response) -> tuple[dict[str, Any], GatehouseError | None]:
    """(success envelope, None) or ({}, the error this answer stands for)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or "code" not in meta:
        return {}, TransportError(status=resp.status_code, code=None,
                                  message=f"HTTP {resp.status_code} without a JSON envelope",
                                  request_id=resp.headers.get("X-Request-ID"))
    if resp.status_code == 200 and meta.get("code") == 200:
        return body, None
    return {}, from_envelope(resp.status_code, body, resp.headers)
