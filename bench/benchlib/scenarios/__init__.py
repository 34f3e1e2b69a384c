"""The scenarios, by the letter ``--only`` selects them with, and the profiles of a full run.

Each scenario is a function of a ``Bench`` that returns the ``Section`` of the report it
measured; bench/README.md writes its method under ``### <letter>.``. To add one, write its
module here, add it below, and describe it in the README.
"""

from __future__ import annotations

from collections.abc import Callable

from benchlib.harness import Bench
from benchlib.profiles import ProfileRun
from benchlib.results import Section
from benchlib.scenarios.before_overhead import before_overhead
from benchlib.scenarios.contention import mixed_contention
from benchlib.scenarios.dispatcher import dispatcher_throughput, profile_dispatcher
from benchlib.scenarios.memory import memory
from benchlib.scenarios.metrics_cost import metrics_cost
from benchlib.scenarios.receiver import (
    profile_receiver,
    receiver_before_latency,
    receiver_throughput,
)
from benchlib.scenarios.rest import profile_rest, rest_scaling
from benchlib.scenarios.rest_changes import rest_changes
from benchlib.scenarios.sendmsg import sendmsg_throughput

SCENARIOS: dict[str, Callable[[Bench], Section]] = {
    "a": receiver_throughput,
    "b": receiver_before_latency,
    "c": dispatcher_throughput,
    "d": rest_scaling,
    "e": before_overhead,
    "f": memory,
    "g": mixed_contention,
    "m": metrics_cost,
    "r": rest_changes,
    "s": sendmsg_throughput,
}

PROFILES: tuple[Callable[[Bench], ProfileRun], ...] = (
    profile_receiver,
    profile_dispatcher,
    profile_rest,
)
