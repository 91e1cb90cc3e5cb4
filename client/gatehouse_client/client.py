"""GatehouseClient: every endpoint, tokens kept, errors typed, retries as the catalog advises."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import requests

from gatehouse_client.catalog import BACKOFF, ONCE, RETRY_AFTER
from gatehouse_client.errors import AuthRequired, GatehouseError, TransportError, from_envelope

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass
class TwoFactorChallenge:
    """A login that needs a second factor: complete it with a TOTP or recovery code."""

    client: "GatehouseClient"
    challenge_token: str
    expires_in: int

    def complete(self, code: str) -> dict[str, Any]:
        return self.client.verify_2fa(self.challenge_token, code)


class GatehouseClient:
    """A client for one user at a time (tokens are kept on the instance).

    Retries 77 and 429 (honouring Retry-After) up to ``max_retries`` times and
    500 once, with exponential backoff and full jitter; never retries other
    4xx. Only idempotent requests are retried unless ``retry_unsafe`` is set
    (here or per call). An expired access token is refreshed once, then the
    request is sent again.
    """

    def __init__(self, base_url: str, *, max_retries: int = 3, backoff: float = 0.5,
                 max_backoff: float = 30.0, timeout: float = 10.0, retry_unsafe: bool = False,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.retry_unsafe = retry_unsafe
        self.http = session or requests.Session()
        self.sleep = sleep
        self.rng = rng
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "GatehouseClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------

    def delay(self, attempt: int, error: GatehouseError | None) -> float:
        """Seconds before retry number ``attempt`` (1-based)."""
        if error is not None and error.retry_after is not None:
            return min(error.retry_after, self.max_backoff)
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return ceiling * (0.5 + self.rng() / 2)  # jitter in [ceiling/2, ceiling]

    def _send(self, method: str, path: str, body: Any, params: Mapping[str, Any] | None,
              auth: bool) -> requests.Response:
        headers = {"Accept": "application/json"}
        if auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return self.http.request(method, self.base_url + path, json=body, params=params,
                                 headers=headers, timeout=self.timeout)

    def request(self, method: str, path: str, body: Any = None, *,
                params: Mapping[str, Any] | None = None, auth: bool = True,
                retry_unsafe: bool | None = None) -> dict[str, Any]:
        """Send one API call; return the whole success envelope or raise its error."""
        method = method.upper()
        may_retry = method in IDEMPOTENT or (self.retry_unsafe if retry_unsafe is None
                                             else retry_unsafe)
        attempt, refreshed = 0, False
        while True:
            try:
                resp = self._send(method, path, body, params, auth)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error: GatehouseError = TransportError(status=None, code=None,
                                                       message=type(exc).__name__)
                if may_retry and attempt < self.max_retries:
                    attempt += 1
                    self.sleep(self.delay(attempt, None))
                    continue
                raise error from exc
            envelope = _json(resp)
            if resp.status_code == 200 and envelope.get("meta", {}).get("code") == 200:
                return envelope
            error = from_envelope(resp.status_code, envelope, resp.headers)
            if (isinstance(error, AuthRequired) and error.should_refresh and auth
                    and not refreshed and self.refresh_token):
                refreshed = True
                self.refresh()
                continue
            limit = 1 if error.retry_policy == ONCE else self.max_retries
            if (error.retry_policy in (BACKOFF, RETRY_AFTER, ONCE) and may_retry
                    and attempt < limit):
                attempt += 1
                self.sleep(self.delay(attempt, error))
                continue
            raise error

    def _data(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request(method, path, body, **kwargs)["data"]

    def _keep(self, tokens: dict[str, Any]) -> dict[str, Any]:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        return tokens

    # --- /v1/auth ---------------------------------------------------------------

    def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        return self._data("POST", "/v1/auth/register",
                          {"username": username, "email": email, "password": password},
                          auth=False)

    def login(self, login: str, password: str) -> dict[str, Any] | TwoFactorChallenge:
        """Tokens (kept), or a TwoFactorChallenge to complete with a code."""
        data = self._data("POST", "/v1/auth/login", {"login": login, "password": password},
                          auth=False)
        if data.get("two_factor_required"):
            return TwoFactorChallenge(self, data["challenge_token"], data["expires_in"])
        return self._keep(data)

    def verify_2fa(self, challenge_token: str, code: str) -> dict[str, Any]:
        return self._keep(self._data("POST", "/v1/auth/2fa/verify",
                                     {"challenge_token": challenge_token, "code": code},
                                     auth=False))

    def refresh(self) -> dict[str, Any]:
        if not self.refresh_token:
            raise AuthRequired(status=None, code=99, message="Auth Required",
                               description="No refresh token held; log in first.",
                               reason="auth.refresh.invalid")
        try:
            tokens = self._data("POST", "/v1/auth/refresh",
                                {"refresh_token": self.refresh_token}, auth=False)
        except AuthRequired:
            self.access_token = self.refresh_token = None
            raise
        return self._keep(tokens)

    def logout(self) -> None:
        try:
            self._data("POST", "/v1/auth/logout")
        finally:
            self.access_token = self.refresh_token = None

    def change_password(self, current_password: str, new_password: str) -> dict[str, Any]:
        return self._data("POST", "/v1/auth/password", {"current_password": current_password,
                                                        "new_password": new_password})

    def setup_2fa(self) -> dict[str, Any]:
        return self._data("POST", "/v1/auth/2fa/setup")

    def enable_2fa(self, code: str) -> list[str]:
        """Turn 2FA on; keeps the new 2f. tokens and returns the recovery codes."""
        data = self._keep(self._data("POST", "/v1/auth/2fa/enable", {"code": code}))
        return list(data["recovery_codes"])

    def disable_2fa(self, password: str, code: str) -> dict[str, Any]:
        return self._keep(self._data("POST", "/v1/auth/2fa/disable",
                                     {"password": password, "code": code}))

    # --- /v1/users --------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._data("GET", "/v1/users/me")

    def update_me(self, **changes: Any) -> dict[str, Any]:
        return self._data("PATCH", "/v1/users/me", changes)

    def delete_me(self, password: str) -> None:
        self._data("DELETE", "/v1/users/me", {"password": password})
        self.access_token = self.refresh_token = None

    def get_user(self, user_id: int) -> dict[str, Any]:
        return self._data("GET", f"/v1/users/{int(user_id)}")

    def list_users(self, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        """One page: {"data": [...], "pagination": {"limit", "next_cursor"}}."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        envelope = self.request("GET", "/v1/users", params=params)
        return {"data": envelope["data"], "pagination": envelope["pagination"]}

    def iter_users(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every user (admins only), walking the cursor."""
        cursor = None
        while True:
            page = self.list_users(page_size, cursor)
            yield from page["data"]
            cursor = page["pagination"]["next_cursor"]
            if not cursor:
                return

    # --- service ----------------------------------------------------------------

    def health(self, ready: bool = True) -> dict[str, Any]:
        return self._data("GET", "/health/ready" if ready else "/health/live", auth=False)

    def error_catalog(self) -> list[dict[str, Any]]:
        return self._data("GET", "/v1/errors", auth=False)


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise TransportError(status=resp.status_code, code=None,
                             message=f"HTTP {resp.status_code} without a JSON envelope") \
            from None
    if not isinstance(body, dict):
        raise TransportError(status=resp.status_code, code=None,
                             message="response is not an envelope")
    return body
