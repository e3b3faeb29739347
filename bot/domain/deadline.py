"""Deadlines: a total wall-clock budget that a piece of work and all its retries share.

A timeout bounds one wait (connecting, or the gap between two bytes); a deadline bounds the
whole call, however many attempts and waits it takes. Each budget names what it belongs to, so
the note written when it runs out says what was slow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    """Ends ``budget_s`` seconds after it was made, on the monotonic clock."""

    budget_s: float
    what: str  # e.g. "the investigation", "one Prometheus query"
    clock: Clock = field(default=time.monotonic, repr=False, compare=False)
    ends_at: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.ends_at < 0:
            object.__setattr__(self, "ends_at", self.clock() + self.budget_s)

    def remaining(self) -> float:
        return max(self.ends_at - self.clock(), 0.0)

    @property
    def expired(self) -> bool:
        return self.clock() >= self.ends_at

    def clip(self, seconds: float) -> float:
        """``seconds``, or less when the deadline comes first."""
        return min(seconds, self.remaining())

    def within(self, budget_s: float, what: str) -> Deadline:
        """A budget of its own for a part of this work, ending no later than this one."""
        own = Deadline(budget_s, what, self.clock)
        return own if own.ends_at <= self.ends_at else self

    def describe(self) -> str:
        """``the 20 s budget of the investigation``."""
        return f"the {self.budget_s:g} s budget of {self.what}"


def soonest(budget_s: float, what: str, outer: Deadline | None) -> Deadline:
    """A call's own budget, cut short by the caller's deadline when that ends sooner."""
    return outer.within(budget_s, what) if outer is not None else Deadline(budget_s, what)
