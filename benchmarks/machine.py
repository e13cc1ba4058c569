"""How busy the machine was with work other than the benchmark's own, while a phase ran.

The load average cannot tell: it counts the benchmark's server, its client
and its database backends too.  :class:`OtherLoad` reads every process's CPU
ticks from ``/proc`` at the start and the end of a phase and subtracts the
ones that are the benchmark's — the given process trees (server, client) and
the PostgreSQL backends connected to its database — from the machine's busy
ticks.  What remains is in units of one core (0.5 = half a core busy with
something else).  Linux only; elsewhere it reports nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def busy_ticks() -> int:
    """CPU ticks the whole machine spent busy since boot: everything but idle and iowait."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return user + nice + system + irq + softirq + steal


def _process_table() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, CPU ticks used so far, children that ended included)."""
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]))
    return table


def _descendants(roots: Iterable[int], table: dict[int, tuple[int, int]]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (parent, _ticks) in table.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


class OtherLoad:
    """``with OtherLoad(lambda: {server.pid}, database_pids) as load: …`` then ``load.cores``."""

    def __init__(self, roots: Callable[[], set[int]], extra_pids: Callable[[], set[int]] = set):
        self.roots, self.extra_pids = roots, extra_pids
        self.cores: float | None = None

    def _our_pids(self, table: dict[int, tuple[int, int]]) -> set[int]:
        return _descendants({os.getpid(), *self.roots()}, table) | self.extra_pids()

    def __enter__(self) -> OtherLoad:
        if (PROC / "stat").exists():
            self._started = (os.times().elapsed, busy_ticks(), _process_table())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not hasattr(self, "_started"):
            return
        elapsed_then, busy_then, table_then = self._started
        table = _process_table()
        # Children that ended and were waited for are in their parent's cutime/cstime; a process of ours
        # that started during the phase counts from zero.
        ours = sum(table[pid][1] - table_then.get(pid, (0, 0))[1] for pid in self._our_pids(table) if pid in table)
        seconds = max(os.times().elapsed - elapsed_then, 1e-3)
        self.cores = max(0.0, (busy_ticks() - busy_then - ours) / TICKS / seconds)
