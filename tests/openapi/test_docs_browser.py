"""The docs page, rendered by a real headless Chromium against gunicorn."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server import migrate, running, server_env

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=15000"]


def test_docs_page_renders_the_endpoints(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    env = server_env(f"sqlite:///{tmp_path}/docs.db")
    migrate(env)
    for server in running(env, workers=1):
        out = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
             server.url + "/docs"], capture_output=True, text=True, timeout=120)
        dom = out.stdout
        # rendered by Swagger UI's JavaScript, not present in the HTML we serve
        assert 'class="swagger-ui' in dom, out.stderr[-2000:]
        for path in ("/v1/auth/login", "/v1/users/me", "/v1/auth/2fa/verify", "/health/ready"):
            assert path in dom
        assert "Gatehouse" in dom
