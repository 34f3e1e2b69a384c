"""What a scenario measured: figures over runs, ratios, notes, and the bars it is held to."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class Series:
    """One figure measured once per run (a ratio is a figure of unit "x")."""

    label: str
    unit: str
    values: list[float] = field(default_factory=list)
    digits: int = 1

    def add(self, value: float) -> None:
        """Append this run's value."""
        self.values.append(float(value))

    @property
    def clean(self) -> list[float]:
        """The values that are numbers."""
        return [v for v in self.values if not math.isnan(v)]

    @property
    def median(self) -> float:
        """The median over runs (NaN when nothing was measured)."""
        values = self.clean
        return statistics.median(values) if values else math.nan

    def fmt(self, value: float) -> str:
        """A value with this figure's precision and thousands separators."""
        if math.isnan(value):
            return "n/a"
        return f"{value:,.{self.digits}f}"

    def cells(self) -> tuple[str, str, str]:
        """Median, min and max as text."""
        values = self.clean
        if not values:
            return "n/a", "n/a", "n/a"
        return self.fmt(statistics.median(values)), self.fmt(min(values)), self.fmt(max(values))


@dataclass
class Bar:
    """A target (the "Bar:" of a scenario in bench/README.md) and how the median compares."""

    what: str
    series: Series
    target: float | None  # None: shown in the summary for context, no bar
    higher_is_better: bool

    @property
    def met(self) -> bool | None:
        """True or False once measured; None when the figure is missing or there is no bar."""
        value = self.series.median
        if math.isnan(value) or self.target is None:
            return None
        return value >= self.target if self.higher_is_better else value < self.target

    @property
    def target_text(self) -> str:
        """The bar as text (">= 0.5 x", "< 5 ms")."""
        if self.target is None:
            return "-"
        op = ">=" if self.higher_is_better else "<"
        return f"{op} {self.target:g} {self.series.unit}"


@dataclass
class Section:
    """One scenario: how it was run and what it measured."""

    key: str
    title: str
    sizes: str = ""  # this run's sizes and durations (the method is in bench/README.md)
    figures: list[Series] = field(default_factory=list)
    ratios: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def figure(self, label: str, unit: str, digits: int = 1) -> Series:
        """The figure named ``label`` (created on first use, in order of first use)."""
        for s in self.figures:
            if s.label == label:
                return s
        series = Series(label, unit, digits=digits)
        self.figures.append(series)
        return series

    def ratio(self, label: str, digits: int = 2) -> Series:
        """The ratio named ``label`` (created on first use)."""
        for s in self.ratios:
            if s.label == label:
                return s
        series = Series(label, "x", digits=digits)
        self.ratios.append(series)
        return series


def ratio(a: float, b: float) -> float:
    """a / b, NaN when b is not a positive number."""
    return a / b if b > 0 and not math.isnan(a) else math.nan
