"""The sizes and durations of one harness run: the full run's, and ``--quick``'s."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Sizes and durations of one harness run."""

    quick: bool = False
    runs: int = 3
    duration: float = 5.0  # seconds of measured load per closed-loop measurement
    warmup: float = 1.0  # seconds of load before measuring
    connections: int = 32  # load generator connections; dispatcher concurrency is 32 too
    before_rate: float = 1000.0
    outbox_rows: int = 20_000
    drain_cap: float = 15.0  # seconds a drain may take before the rate is read from a part
    yardstick_cap: float = 5.0  # seconds of the (slow) httpx yardstick
    rest_calls: int = 200  # calls per add_subscriber / add_group_member batch
    rest_connections: int = 8
    change_calls: int = 10_000  # calls per batch of one-change REST calls (r)
    oa_size: int = 100_000
    group_size: int = 5_000
    group_max: int = 6_000
    create_calls: int = 300  # create_official_account calls per batch (one connection)
    memory_events: int = 100_000
    memory_cap: float = 60.0
    profile: bool = True
    profile_seconds: float = 8.0
    contention_seconds: float = 15.0  # measured seconds of mixed adds and removes (g)
    contention_clients: int = 32
    pg_url: str | None = None  # a PostgreSQL database for c's workers and g's configurations

    @classmethod
    def quick_run(cls) -> Settings:
        """A seconds-long smoke run: one run of everything, small sizes."""
        return cls(
            quick=True,
            runs=1,
            duration=0.5,
            warmup=0.2,
            outbox_rows=400,
            drain_cap=1.5,
            yardstick_cap=1.0,
            rest_calls=10,
            change_calls=100,
            oa_size=10_000,
            create_calls=30,
            memory_events=400,
            memory_cap=3.0,
            profile=False,
            profile_seconds=3.0,
            contention_seconds=1.0,
        )
