"""Run a real Prometheus over backfilled OpenMetrics data, for tests and recordings.

Backfill with ``promtool tsdb create-blocks-from openmetrics``, then start ``prometheus`` on a
free loopback port. Nothing is mocked: queries go over HTTP to the real server.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


class PrometheusMissing(RuntimeError):
    pass


def binaries() -> tuple[str, str]:
    prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not promtool:
        raise PrometheusMissing(
            "prometheus and promtool are not on PATH (Debian: apt-get install prometheus)"
        )
    return prom, promtool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backfill(openmetrics: Path | str, data_dir: Path) -> None:
    """Create TSDB blocks from an OpenMetrics file (plain or .gz)."""
    _, promtool = binaries()
    src = Path(openmetrics)
    with tempfile.TemporaryDirectory(prefix="om-") as tmp:
        plain = Path(tmp) / "metrics.om"
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fin, open(plain, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        proc = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(plain), str(data_dir)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {proc.stderr.strip()[-500:]}")


@contextlib.contextmanager
def running_prometheus(
    openmetrics: Path | str | None = None, config: str = "global: {scrape_interval: 30s}\n"
) -> Iterator[str]:
    """Yield the base URL of a Prometheus serving the given data (and scraping per ``config``)."""
    prom, _ = binaries()
    tmp = Path(tempfile.mkdtemp(prefix="prom-"))
    proc = None
    try:
        data = tmp / "data"
        data.mkdir()
        if openmetrics is not None:
            backfill(openmetrics, data)
        cfg = tmp / "prometheus.yml"
        cfg.write_text(config)
        port = free_port()
        proc = subprocess.Popen(
            [
                prom,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=100y",
                "--query.lookback-delta=5m",
                "--web.enable-lifecycle",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("prometheus did not become ready") from None
                time.sleep(0.1)
        yield url
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
