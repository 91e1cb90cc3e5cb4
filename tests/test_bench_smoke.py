"""The benchmark runs (its numbers are bench/README.md's business, not the suite's)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import NOT_PG, ON_PG, fresh_database

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("GET /v1/users/me", "GET /v1/users/{id}", "unknown path (10)", "bad token (99)",
        "invalid body (88)", "login ", "logins/s per core", "goal (")


def need_wrk() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed; .ci/run installs it")
        pytest.skip("wrk is not installed (apt-get install wrk); CI installs it")


@pytest.mark.slow
def test_bench_smoke_prints_every_scenario() -> None:
    need_wrk()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    out = subprocess.run([sys.executable, "bench/run.py", "--smoke"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    for row in ROWS:
        assert row in out.stdout, out.stdout


@pytest.mark.slow
def test_bench_against_users_compares_two_sizes() -> None:
    """bench/run.py --against-users N: Gatehouse on two databases seeded apart,
    measured at once; both sizes named, the goal read at 10 %."""
    need_wrk()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    out = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--users", "400",
                          "--against-users", "100", "--only", "me"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "400 users against SQLite file, 100 users" in out.stdout, out.stdout
    assert "AGAINST: both apps are Gatehouse" in out.stdout, out.stdout
    assert "CPU ratio >= 0.909" in out.stdout, out.stdout
    refused = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--self-check",
                              "--against-users", "100"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--against-users" in refused.stderr, refused.stderr


@pytest.mark.slow
def test_scale_bench_runs() -> None:
    """bench/scale.py (issue 21): seeds accounts and a long session history,
    times the auth path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    out = subprocess.run([sys.executable, "bench/scale.py", "--users", "100",
                          "--requests", "50"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "sqlite users=100 " in out.stdout and "GET /v1/users/me" in out.stdout, out.stdout


@pytest.mark.slow
@pytest.mark.skipif(not ON_PG, reason=NOT_PG)
def test_bench_smoke_on_postgresql(tmp_path: Path) -> None:
    """bench/run.py --database URL: both apps on PostgreSQL, the floor on a copy
    (NAME_floor, dropped by the bench), accounts seeded in bulk (--users). One
    scenario measured; every scenario's answer (a login too) is checked first."""
    need_wrk()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    with fresh_database(tmp_path, "bench") as url:
        out = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--database", url,
                              "--users", "1000", "--only", "me"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "database: PostgreSQL" in out.stdout and "1,000 users" in out.stdout, out.stdout
    for row in ("GET /v1/users/me", "goal ("):
        assert row in out.stdout, out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_migrate_scale_bench_runs(database: str) -> None:
    """bench/migrate_scale.py (issue 21): accounts seeded at the first revision,
    then every migration to head; rows, secrets and new ids checked after."""
    if database == "postgresql" and not ON_PG:
        pytest.skip(NOT_PG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    out = subprocess.run([sys.executable, "bench/migrate_scale.py", "--database", database,
                          "--users", "3000"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "3,000 accounts and sessions seeded at 85f705500721" in out.stdout, out.stdout
    assert "-> head in" in out.stdout, out.stdout
    assert "rows, secrets and ids: as expected" in out.stdout, out.stdout


@pytest.mark.slow
def test_login_burst_bench_runs() -> None:
    """bench/login_burst.py: GET /v1/users/me idle and during 8 concurrent logins."""
    need_wrk()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    out = subprocess.run([sys.executable, "bench/login_burst.py", "--smoke"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    for row in ("idle ", "during 8 logins", "p50 during / idle:", "PASSWORD_HASH_CONCURRENCY="):
        assert row in out.stdout, out.stdout


@pytest.mark.slow
@pytest.mark.skipif(not ON_PG, reason=NOT_PG)
def test_online_migration_bench_runs() -> None:
    """bench/online_migration.py: the previous release serves sign-ins while
    this checkout's migrations run; none may be refused."""
    release = subprocess.run(["git", "cat-file", "-e", "5fa5332^{commit}"], cwd=ROOT)
    if release.returncode != 0:
        pytest.skip("the release commit 5fa5332 is not in this clone (a shallow clone?)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    out = subprocess.run([sys.executable, "bench/online_migration.py", "--users", "500",
                          "--around", "1"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    for row in ("migrations 5fa5332 head -> this checkout's head", "during ",
                "goal (no sign-in refused): met"):
        assert row in out.stdout, out.stdout
