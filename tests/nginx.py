"""Debian's nginx running deploy/nginx.conf in front of a test gunicorn.

The site file is used as it ships; only its listen port, its upstream's
address and its log paths are substituted. nginx runs in the foreground
(``daemon off``, no master process: no privileges dropped, no pid games)
with every path under a temporary prefix, on loopback only.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.server import ROOT, free_port, stop_process

SITE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")

MAIN = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/site.conf;
}}
"""


def site_config(port: int, upstream: str, log_dir: Path) -> str:
    """deploy/nginx.conf with the test's port, upstream and log directory."""
    text = SITE.read_text()
    for old, new in (("listen 80;", f"listen 127.0.0.1:{port};"),
                     ("server 127.0.0.1:8000;", f"server {upstream};"),
                     ("/var/log/nginx/", f"{log_dir}/")):
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


class Nginx:
    def __init__(self, prefix: Path, upstream: str) -> None:
        assert NGINX is not None
        self.prefix = prefix
        prefix.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (prefix / "site.conf").write_text(site_config(self.port, upstream, prefix))
        (prefix / "nginx.conf").write_text(MAIN.format(prefix=prefix))
        self.command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                        "-e", str(prefix / "error.log")]
        check = subprocess.run([*self.command, "-t"], capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 10) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("nginx did not listen in time")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc.stderr.close()
