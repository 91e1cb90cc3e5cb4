"""Every command block of README.md runs as pasted, in order, against a live server.

How the blocks run (what stands in for a person at a terminal):

- The working directory is the project root; the environment is a fresh
  terminal's (PATH, HOME, locale) plus ``DATABASE_URL`` naming a temporary
  SQLite file, so the server and the CLI share one empty database as the
  README says they must. Nothing else is substituted: the server listens on
  the quick start's 127.0.0.1:8000, the README's own address.
- The quick start is the server: its install steps (``python3 -m venv``,
  ``pip install``) are dropped, since the suite runs inside the ``.venv`` they
  made, and the rest (``flask db upgrade && gunicorn …``) runs in the
  background until every other block has run; it must answer
  ``GET /health/live``.
- Every other ``sh``/``bash``/``shell`` block runs with ``bash -euo pipefail``.
  A ``python`` block is compiled (many are fragments of a larger program);
  the complete programs named in ``RUN_PYTHON`` also run, with the project's
  ``.venv/bin/python`` and the client importable as after ``pip install
  ./client``. A prompt (a password) is answered with the README's example
  password, typed at a terminal when the prompt shows. A block must exit 0 within
  its time limit, or the test fails showing the block and its output.
- Only the blocks in ``NOT_RUN`` are left out, each with its reason; a block
  of unknown purpose runs. A block needing a program this machine lacks
  (exit 127) is reported as a skip outside CI and fails in CI.

127.0.0.1:8000 taken by another process skips the test outside CI (the
README's commands would talk to that process) and fails it in CI.
"""
from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from config import ROOT

README = ROOT / "README.md"
ADDRESS = ("127.0.0.1", 8000)
SHELLS = {"sh", "bash", "shell"}
PROMPT_ANSWER = "correct horse"  # the README's example password
BLOCK_TIMEOUT = 120
SERVER_TIMEOUT = 60

# (a pattern matching exactly one block, why that block does not run here)
NOT_RUN = [
    (r"pip install -r requirements\.txt -r tests/requirements\.txt",
     "installs into .venv and runs this very suite: .ci/run runs it verbatim first"),
    (r"export APP_ENV=production",
     "a production deployment: real secrets and a real network's hosts (db.internal, "
     "cache.internal); tests/test_server.py starts servers with production settings"),
    (r"bench/run\.py",
     "the benchmark: installs bench/requirements.txt and runs for minutes; "
     "tests/test_bench_smoke.py runs bench/run.py --smoke"),
]
# the quick start: installs, migrates, then serves until stopped
SERVE = re.compile(r"gunicorn -c config/gunicorn\.conf\.py wsgi:app\s*$")
INSTALL_STEP = re.compile(r"^(python3 -m venv \.venv|\.venv/bin/pip install .*)$")
# python blocks that are whole programs: they run (the others are compiled)
RUN_PYTHON = [r"api\.me\(\)"]  # the client example
# what a block's output must show besides its exit status 0
EXPECT = [
    (r"\$ACCESS_TOKEN", re.compile(r'"username": ?"ada"')),  # the try-it block: GET /me
    (r"api\.me\(\)", re.compile(r"^ada$", re.M)),  # the client example
]


@dataclass
class Block:
    lang: str
    text: str
    line: int

    def __str__(self) -> str:
        return f"README.md line {self.line} ({self.lang}):\n{self.text}"


def readme_blocks(path: Path = README) -> list[Block]:
    """Every fenced block of the README, with the line its fence opens on."""
    blocks: list[Block] = []
    lang: str | None = None
    start, body = 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"^```\s*([\w+-]*)\s*$", line)
        if lang is None and fence:
            lang, start, body = fence.group(1).lower(), number, []
        elif lang is not None and line.startswith("```"):
            blocks.append(Block(lang, "\n".join(body) + "\n", start))
            lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, f"README.md: the block opened on line {start} is never closed"
    return blocks


def not_run_reason(block: Block) -> str | None:
    for pattern, reason in NOT_RUN:
        if re.search(pattern, block.text):
            return reason
    return None


def runnable(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.lang in SHELLS or (
        b.lang == "python" and any(re.search(p, b.text) for p in RUN_PYTHON))]


def test_every_python_block_compiles() -> None:
    blocks = [b for b in readme_blocks() if b.lang == "python"]
    assert blocks
    for block in blocks:
        compile(block.text, f"README.md line {block.line}", "exec")


def server_command(block: Block) -> str:
    """The quick start without its install steps."""
    steps = [s.strip() for s in block.text.strip().split(" && ")]
    kept = [s for s in steps if not INSTALL_STEP.match(s)]
    assert kept and SERVE.search(kept[-1]), f"the quick start changed shape:\n{block}"
    return " && ".join(kept)


def test_every_exclusion_matches_exactly_one_block() -> None:
    """A stale pattern (its block rewritten or gone) fails here rather than
    quietly letting a block go unrun, or excluding a block it was not written for."""
    blocks = runnable(readme_blocks())
    for pattern, _ in NOT_RUN:
        matching = [b.line for b in blocks if re.search(pattern, b.text)]
        assert len(matching) == 1, f"{pattern!r} matches the blocks at lines {matching}"
    servers = [b for b in blocks if SERVE.search(b.text) and not_run_reason(b) is None]
    assert len(servers) == 1, [b.line for b in servers]
    server_command(servers[0])
    for pattern in [p for p, _ in EXPECT] + RUN_PYTHON:
        assert [b for b in blocks if re.search(pattern, b.text)], pattern
    assert any(b.lang in SHELLS for b in blocks if b not in servers and not_run_reason(b) is None)


def test_the_block_parser_reads_fences_and_languages(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text("text\n```sh\necho one\n```\n\n``` bash\necho two\n```\n"
                    "```json\n{}\n```\n", encoding="utf-8")
    blocks = readme_blocks(page)
    assert [(b.lang, b.text, b.line) for b in blocks] == [
        ("sh", "echo one\n", 2), ("bash", "echo two\n", 6), ("json", "{}\n", 9)]


# --- the run ---------------------------------------------------------------------

def _terminal_env(tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "SHELL")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/readme.db"
    env["PYTHONPATH"] = str(ROOT / "client")  # as after `pip install ./client`
    return env


def _port_taken() -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(ADDRESS) == 0


def _live(timeout: float, server: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + timeout
    url = "http://%s:%d/health/live" % ADDRESS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the quick start's server exited ({server.returncode}):\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"the quick start's server did not answer {url} in {timeout} s:\n"
                f"{log.read_text(errors='replace')[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _run(block: Block, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a block with its stderr and stdin on a terminal, answering each prompt
    (a line ending in ": ") once it is shown, as a person would: a password
    prompt flushes what was typed before it, and a pipe would let the block's
    first command buffer every answer meant for the later ones."""
    if block.lang == "python":
        command = [str(ROOT / ".venv" / "bin" / "python"), "-c", block.text]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.text]
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, start_new_session=True)
    os.close(slave)
    stdout: list[bytes] = []
    reader = threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)
    reader.start()
    terminal, pending = bytearray(), b""
    deadline = time.monotonic() + BLOCK_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every process of the block has closed it
                    chunk = b""
                if not chunk:
                    break
                terminal += chunk
                pending += chunk
                if pending.rstrip(b" ").endswith(b":") and pending.endswith(b" "):
                    os.write(master, f"{PROMPT_ANSWER}\n".encode())
                    pending = b""
                elif b"\n" in pending:
                    pending = pending.rsplit(b"\n", 1)[1]
            elif proc.poll() is not None:
                break
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            terminal += f"\ntimed out after {BLOCK_TIMEOUT} s".encode()
        returncode = proc.wait(timeout=10)
        reader.join(timeout=10)
    finally:
        os.close(master)
        proc.stdout.close()
    text = bytes(terminal).decode(errors="replace").replace("\r\n", "\n")
    out = b"".join(stdout).decode(errors="replace")
    return subprocess.CompletedProcess(command, returncode, out, text)


@pytest.mark.slow
def test_readme_blocks_run_as_pasted(tmp_path: Path) -> None:
    in_ci = bool(os.environ.get("CI"))
    if _port_taken():
        message = ("127.0.0.1:8000 is in use by another process; the README's commands "
                   "talk to port 8000, so they cannot be checked now")
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)
    env = _terminal_env(tmp_path)
    log = tmp_path / "server.log"
    server = None
    failures: list[str] = []
    missing: list[str] = []
    ran = 0
    try:
        for block in runnable(readme_blocks()):
            if not_run_reason(block) is not None:
                continue
            if SERVE.search(block.text):
                with log.open("w") as out:
                    server = subprocess.Popen(
                        ["bash", "-euo", "pipefail", "-c", server_command(block)], cwd=ROOT,
                        env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                        start_new_session=True)
                assert _live(SERVER_TIMEOUT, server, log)["meta"]["code"] == 200
                ran += 1
                continue
            result = _run(block, env)
            ran += 1
            output = f"--- stdout\n{result.stdout[-3000:]}--- stderr\n{result.stderr[-3000:]}"
            if result.returncode == 127 and "command not found" in result.stderr and not in_ci:
                missing.append(f"line {block.line}: {result.stderr.strip().splitlines()[-1]}")
                continue
            if result.returncode != 0:
                failures.append(f"{block}exit status {result.returncode}\n{output}")
                continue
            for pattern, expected in EXPECT:
                if re.search(pattern, block.text) and not expected.search(result.stdout):
                    failures.append(f"{block}the output lacks {expected.pattern!r}\n{output}")
    finally:
        if server is not None:
            _stop(server)
    assert server is not None, "no block started the server"
    assert not failures, "README blocks that do not run as pasted:\n\n" + "\n\n".join(failures)
    if missing:
        pytest.skip(f"{ran} blocks ran; not run for a missing program (CI installs it): "
                    + "; ".join(missing))
