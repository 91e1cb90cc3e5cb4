"""GatehouseClient: every endpoint, tokens kept, errors typed, retries as the catalog advises."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import quote

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

    def passkey_options(self) -> dict[str, Any]:
        """Options to answer this challenge with a passkey: pass ``public_key`` to
        the authenticator (navigator.credentials.get), then ``complete_with_passkey``."""
        return self.client.second_factor_passkey_options(self.challenge_token)

    def complete_with_passkey(self, credential: dict[str, Any]) -> Tokens:
        """Tokens (kept) for the authenticator's answer (PublicKeyCredential JSON)."""
        return self.client.verify_2fa_passkey(self.challenge_token, credential)


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
        sent = self.refresh_token
        try:
            tokens = self._data("POST", "/v1/auth/refresh",
                                {"refresh_token": sent}, auth=False)
        except AuthRequired as error:
            if self.refresh_token != sent and self.tokens is not None:
                # another thread of this client refreshed meanwhile (the
                # server said superseded): keep the pair it received
                if error.reason == "auth.refresh.superseded":
                    return self.tokens
            else:
                self.forget_tokens()
            raise
        return self._keep(tokens)

    def logout(self, scope: str = "current") -> int:
        """End this session ("current"), every other one of the account
        ("others") or all of them ("all"); how many live sessions it ended.
        Unless the scope is "others", the kept tokens are cleared even if
        that fails."""
        try:
            body = None if scope == "current" else {"scope": scope}
            return int(self._data("POST", "/v1/auth/logout", body)
                       .get("revoked_sessions", 1))
        finally:
            if scope != "others":
                self.forget_tokens()

    def list_sessions(self) -> list[dict[str, Any]]:
        """Where the account is signed in: live sessions (created, last used,
        expires, address, user agent and its parsed ``agent``, ``current``)."""
        return list(self._data("GET", "/v1/auth/sessions"))

    def revoke_session(self, session_id: str) -> None:
        """End one of the account's sessions (InvalidParameter
        ``auth.session.not_found`` for an unknown, ended or foreign id)."""
        self._data("DELETE", f"/v1/auth/sessions/{quote(session_id, safe='')}")

    def change_password(self, current_password: str, new_password: str) -> dict[str, Any]:
        """``{password_changed, revoked_sessions}``: every other session is revoked."""
        return self._data("POST", "/v1/auth/password", {"current_password": current_password,
                                                        "new_password": new_password})

    def setup_2fa(self, password: str | None = None) -> dict[str, Any]:
        """``{secret, otpauth_uri}``: show it to the user, then ``enable_2fa(code)``.

        Needs the current ``password`` unless the session signed in within the
        last 5 minutes (else AuthRequired with ``needs_password``).
        """
        return self._data("POST", "/v1/auth/2fa/setup",
                          {} if password is None else {"password": password})

    def enable_2fa(self, code: str, password: str | None = None) -> list[str]:
        """Turn 2FA on: keeps the new ``2f.`` tokens and returns the 10 recovery codes.

        ``password`` as for ``setup_2fa``.
        """
        body = {"code": code} if password is None else {"code": code, "password": password}
        data = self._data("POST", "/v1/auth/2fa/enable", body)
        self._keep(data)
        return list(data["recovery_codes"])

    def disable_2fa(self, password: str, code: str) -> Tokens:
        """Turn 2FA off (password and a TOTP or recovery code); keeps the new plain tokens."""
        return self._keep(self._data("POST", "/v1/auth/2fa/disable",
                                     {"password": password, "code": code}))

    # --- passkeys (the authenticator's part, creating and signing, is the caller's) ---
    # Options are ``{challenge_id, expires_in, public_key}``: ``public_key`` is
    # the WebAuthn options JSON; an answer is a PublicKeyCredential as JSON.

    def passkey_register_options(self, password: str | None = None) -> dict[str, Any]:
        """Creation options for a new passkey (``password`` as for ``setup_2fa``)."""
        return self._data("POST", "/v1/auth/passkeys/register/options",
                          {} if password is None else {"password": password})

    def register_passkey(self, credential: dict[str, Any],
                         name: str | None = None) -> dict[str, Any]:
        """The stored passkey. The first one turns 2FA on: the new ``2f.`` tokens
        are kept (every other session was revoked)."""
        body: dict[str, Any] = {"credential": credential}
        if name is not None:
            body["name"] = name
        data = self._data("POST", "/v1/auth/passkeys/register", body)
        if data.get("tokens"):
            self._keep(data["tokens"])
        return dict(data["passkey"])

    def list_passkeys(self) -> list[dict[str, Any]]:
        return list(self._data("GET", "/v1/auth/passkeys"))

    def rename_passkey(self, passkey_id: int, name: str) -> dict[str, Any]:
        return self._data("PATCH", f"/v1/auth/passkeys/{int(passkey_id)}", {"name": name})

    def passkey_confirm_options(self) -> dict[str, Any]:
        """Request options over the account's passkeys: the answer
        ``remove_passkey`` needs when removing the last second factor."""
        return self._data("POST", "/v1/auth/passkeys/confirm/options")

    def remove_passkey(self, passkey_id: int, password: str | None = None,
                       credential: dict[str, Any] | None = None) -> Tokens | None:
        """Remove a passkey (``password`` unless the session signed in within 5
        minutes). The last second factor needs ``password`` and ``credential``
        (an answer to ``passkey_confirm_options``): 2FA turns off and the new
        plain tokens are kept and returned; otherwise None."""
        body: dict[str, Any] = {}
        if password is not None:
            body["password"] = password
        if credential is not None:
            body["credential"] = credential
        data = self._data("DELETE", f"/v1/auth/passkeys/{int(passkey_id)}", body)
        return self._keep(data["tokens"]) if data.get("tokens") else None

    def passkey_login_options(self) -> dict[str, Any]:
        """Request options for signing in with a passkey alone (no name typed)."""
        return self._data("POST", "/v1/auth/passkeys/login/options", auth=False)

    def login_with_passkey(self, challenge_id: str, credential: dict[str, Any]) -> Tokens:
        """Tokens (kept; always ``2f.``) for the authenticator's answer."""
        return self._keep(self._data("POST", "/v1/auth/passkeys/login",
                                     {"challenge_id": challenge_id, "credential": credential},
                                     auth=False))

    def second_factor_passkey_options(self, challenge_token: str) -> dict[str, Any]:
        return self._data("POST", "/v1/auth/2fa/passkey/options",
                          {"challenge_token": challenge_token}, auth=False)

    def verify_2fa_passkey(self, challenge_token: str, credential: dict[str, Any]) -> Tokens:
        return self._keep(self._data("POST", "/v1/auth/2fa/verify",
                                     {"challenge_token": challenge_token,
                                      "credential": credential}, auth=False))

    # --- mail: verification, recovery, email change -----------------------------

    def verify_email(self, token: str | None = None, *, email: str | None = None,
                     code: str | None = None) -> None:
        """Verify the account's address: the mailed link's ``token``, or the
        ``email`` and the 6-digit ``code`` from the mail."""
        body = {"token": token} if token is not None else {"email": email, "code": code}
        self._data("POST", "/v1/auth/email/verify", body, auth=False)

    def resend_verification(self, email: str) -> None:
        """Send the verification mail again (the same answer for any address)."""
        self._data("POST", "/v1/auth/email/resend", {"email": email}, auth=False)

    def forgot_password(self, email: str) -> None:
        """Mail a reset link to the account with this address, if there is one
        (the answer is the same either way)."""
        self._data("POST", "/v1/auth/password/forgot", {"email": email}, auth=False)

    def reset_password(self, token: str, new_password: str) -> int:
        """Set the password with a reset link's token; every session ends
        (no tokens: log in next). How many sessions ended."""
        return int(self._data("POST", "/v1/auth/password/reset",
                              {"token": token, "new_password": new_password},
                              auth=False)["revoked_sessions"])

    def confirm_email_change(self, token: str) -> str:
        """Confirm an email change with the link mailed to the new address; the address."""
        return str(self._data("POST", "/v1/auth/email/confirm", {"token": token},
                              auth=False)["email"])

    # --- /v1/users --------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._data("GET", "/v1/users/me")

    def update_me(self, current_password: str | None = None, **changes: Any) -> dict[str, Any]:
        """``update_me(email=…, display_name=…, locale=…)``: the account. An
        email change needs ``current_password`` (the address recovers the
        account) and takes effect once the link mailed to the new address is
        confirmed (``confirm_email_change``)."""
        if current_password is not None:
            changes["current_password"] = current_password
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

    def events_page(self, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        """One page of the account's security events, newest first:
        ``{"data": [...], "pagination": {limit, next_cursor}}``."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        envelope = self.request("GET", "/v1/users/me/events", params=params)
        return {"data": envelope["data"], "pagination": envelope["pagination"]}

    def my_events(self, page_size: int = 50,
                  cursor: str | None = None) -> Iterator[dict[str, Any]]:
        """Every kept security event of the account, newest first, page by page."""
        while True:
            page = self.events_page(page_size, cursor)
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
