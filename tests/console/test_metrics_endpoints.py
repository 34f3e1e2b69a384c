"""Every metric is documented, and ``timhooks worker --metrics-port`` serves metrics and health
on a port of its own (a worker listens nowhere else)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

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


def test_webhook_attempts_and_latencies_read_back_as_prometheus_histograms() -> None:
    """The webhook tally, exported at scrape, reads as a counter and a histogram: a latency on
    a bucket's bound counts in that bucket, buckets are cumulative, an unknown command is
    ``other``."""
    metrics = ServerMetrics()
    for seconds in (0.0004, 0.001, 0.003, 3.0, 20.0):
        metrics.webhook_sent("Group.CallbackAfterCreateGroup", "delivered", seconds)
    metrics.webhook_sent("Not.AKnownCommand", "failed", 0.01)
    text = asyncio.run(metrics.exposition()).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    group = ("command", "Group.CallbackAfterCreateGroup")

    def bucket(le: str, command: tuple[str, str] = group) -> float:
        return samples["timhooks_webhook_duration_seconds_bucket", (command, ("le", le))]

    sent = "timhooks_webhooks_sent_total"
    assert samples[sent, (group, ("outcome", "delivered"))] == 5
    assert samples[sent, (("command", "other"), ("outcome", "failed"))] == 1
    assert [bucket(le) for le in ("0.001", "0.0025", "0.005", "2.0", "5.0", "10.0", "+Inf")] == [
        2,
        2,
        3,
        3,
        4,
        4,
        5,
    ]
    assert samples["timhooks_webhook_duration_seconds_count", (group,)] == 5
    assert samples["timhooks_webhook_duration_seconds_sum", (group,)] == pytest.approx(23.0044)
    assert bucket("0.005", ("command", "other")) == 0
    assert bucket("0.01", ("command", "other")) == 1
