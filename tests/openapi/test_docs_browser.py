"""The docs page, rendered by a real headless Chromium against gunicorn.

The page is loaded under a non-loopback host name with every other host
unresolvable, as on a machine without internet: Swagger UI must render from
the locally served bundle alone, and must not reach for validator.swagger.io
(which it does for any non-localhost page unless told not to).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server import migrate, running, server_env

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOST = "gatehouse.test"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP * ~NOTFOUND",
         "--virtual-time-budget=15000"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_docs_page_renders_the_endpoints(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    env = server_env(f"sqlite:///{tmp_path}/docs.db")
    migrate(env)
    for server in running(env, workers=1):
        url = f"http://{HOST}:{server.port}/docs"
        out = chromium(tmp_path, "--dump-dom", url)
        dom = out.stdout
        # rendered by Swagger UI's JavaScript, not present in the HTML we serve
        assert 'class="swagger-ui' in dom, out.stderr[-2000:]
        for path in ("/v1/auth/login", "/v1/users/me", "/v1/auth/2fa/verify", "/health/ready",
                     "/v1/users/{user_id}", "/v1/errors/{code}"):
            assert path in dom, path
        assert "Gatehouse" in dom and "Log in with a username or email" in dom
        assert "validator.swagger.io" not in dom
        # the same page as a picture, for a person to look at when it breaks
        shot = tmp_path / "docs.png"
        chromium(tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", url)
        assert shot.stat().st_size > 10_000
        if os.environ.get("DOCS_SCREENSHOT"):
            shutil.copy(shot, os.environ["DOCS_SCREENSHOT"])
