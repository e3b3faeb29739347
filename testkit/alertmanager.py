"""A real ``prometheus-alertmanager`` on free loopback ports, clustering off, state in a temp dir."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from testkit.promserver import free_port

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")


def binary() -> str | None:
    return next((found for name in BINARY_NAMES if (found := shutil.which(name))), None)


def webhook_config(url: str, bearer: str | None = None) -> str:
    auth = (
        f"\n        http_config:\n          authorization:\n            credentials: {bearer}"
        if bearer
        else ""
    )
    return f"""\
route:
  receiver: tugboat
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: tugboat
    webhook_configs:
      - url: {url}
        send_resolved: true{auth}
"""


@contextlib.contextmanager
def running_alertmanager(config: str) -> Iterator[str]:
    """Yield ``127.0.0.1:<port>`` of an Alertmanager started with ``config``."""
    exe = binary()
    if exe is None:
        raise RuntimeError(
            "prometheus-alertmanager is not on PATH (Debian: apt-get install prometheus-alertmanager)"
        )
    tmp = Path(tempfile.mkdtemp(prefix="am-"))
    (tmp / "alertmanager.yml").write_text(config)
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            f"--config.file={tmp / 'alertmanager.yml'}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{address}/-/ready", timeout=1)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode()[-800:] if proc.stderr else ""
                    raise RuntimeError(f"alertmanager did not become ready: {err}") from None
                time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)
