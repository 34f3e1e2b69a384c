"""Every metric is documented, and ``timhooks worker --metrics-port`` serves metrics and health
on a port of its own (a worker listens nowhere else)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from loopback import HOST, free_port, running, timhooks_argv
from timhooks.metrics import ReceiverMetrics, ServerMetrics

README = Path(__file__).resolve().parents[2] / "README.md"


def exported_names() -> set[str]:
    """The metric families of serve, worker and listen, as a scrape names them."""
    names: set[str] = set()
    for metrics in (ServerMetrics(), ReceiverMetrics()):
        for family in metrics.registry.collect():
            suffix = "_total" if family.type == "counter" else ""
            names.add(family.name + suffix)
    return names


def test_every_metric_is_documented_in_the_readme() -> None:
    """README's metrics table names every metric timhooks exports, and only those."""
    text = README.read_text()
    table = set(re.findall(r"^\| `(timhooks_[a-z_*]+)` \|", text, re.MULTILINE))
    names = exported_names()
    own = {n for n in names if not n.startswith("timhooks_process_")}
    assert own <= table
    assert table - {"timhooks_process_*"} == own
    assert all(re.fullmatch(r"timhooks_[a-z_]+", n) for n in names)


@pytest.mark.slow
def test_worker_serves_metrics_and_health_on_its_metrics_port(tmp_path: Path) -> None:
    """A worker started with --metrics-port answers /metrics, /healthz and /readyz there."""
    port = free_port()
    argv = timhooks_argv(
        "worker", "--db", str(tmp_path / "chat.db"), "--metrics-port", str(port), "--host", HOST
    )
    with running(argv, port, tmp_path / "worker.out", tmp_path / "worker.err"):
        base = f"http://{HOST}:{port}"
        scrape = httpx.get(f"{base}/metrics", timeout=10)
        assert scrape.status_code == 200
        assert "timhooks_outbox_pending 0.0" in scrape.text
        assert "# TYPE timhooks_webhooks_sent_total counter" in scrape.text
        assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
