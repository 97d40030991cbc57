"""Django set-up and small helpers shared by the benchmark scripts: Parley's source roots
on the path, the configured database (default: a fresh SQLite file, never the development
database), and the testing namespace so a benchmark never meets a running Parley's queues or
cache keys."""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")
    if "DATABASE_URL" not in os.environ:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    os.environ.setdefault("PARLEY_TESTING", "1")
    # One namespace for this run and the processes it starts (queues, channels, keys).
    os.environ.setdefault("PARLEY_NAMESPACE", f"parley-bench-{os.getpid()}")

    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def p50_p99_ms(values: list[float], width: int = 6) -> str:
    """A timing's median and 99th percentile, in milliseconds, for a bench's line."""
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    return f"p50 {p50:{width}.2f} ms, p99 {p99:{width}.2f} ms"


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def machine_busy_seconds() -> tuple[float, float]:
    """(CPU seconds busy, seconds elapsed times cores) of the whole machine so far, from
    /proc/stat: how full the cores were, whoever used them (time the hypervisor took from
    a virtual machine counts as busy: the machine's work waited meanwhile)."""
    fields = _cpu_ticks()
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / tick, sum(fields) / tick


def kernel_seconds() -> tuple[float, float]:
    """(interrupts and soft interrupts, stolen by the hypervisor) of the whole machine so
    far, in CPU seconds: busy time that no process's own counts hold."""
    fields = _cpu_ticks()
    tick = os.sysconf("SC_CLK_TCK")
    return (fields[5] + fields[6]) / tick, fields[7] / tick


def _cpu_ticks() -> list[int]:
    # user nice system idle iowait irq softirq steal (guest time is inside user and nice).
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def cpu_by_process() -> dict[int, tuple[str, int, float]]:
    """(command, parent pid, CPU seconds so far) of every live process, by pid, from /proc.
    A process's seconds include those of its children that ended and were waited for: a
    PostgreSQL backend whose connection closed during a run (a thread's, when the thread
    ends) counts in the postmaster's, instead of in nobody's."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command, rest = text.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        found[int(stat.parent.name)] = (
            command,
            int(fields[1]),
            sum(int(f) for f in fields[11:15]) / tick,  # utime, stime, cutime, cstime
        )
    return found


Snapshot = dict[int, tuple[str, int, float]]  # what `cpu_by_process` read


def charge_ended(before: Snapshot, after: Snapshot) -> Snapshot:
    """`before` with the seconds of every process that ended by `after` added to its parent's
    (whose seconds at `after` include the ended child's whole life): the difference of the
    two readings then counts only what the ended process spent between them."""
    adjusted = dict(before)
    for pid, (_, parent, seconds) in before.items():
        if pid not in after and parent in after and parent in adjusted:
            command, grandparent, own = adjusted[parent]
            adjusted[parent] = (command, grandparent, own + seconds)
    return adjusted


def cpu_by_command(names: tuple[str, ...], snapshot: Snapshot | None = None) -> dict[int, float]:
    """CPU seconds so far of every live process whose command is one of `names` (say the
    PostgreSQL backends and the Redis server), by pid: from `snapshot`, or read now."""
    every = cpu_by_process() if snapshot is None else snapshot
    return {pid: t for pid, (command, _, t) in every.items() if command in names}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_by_command` readings by the processes alive at
    the second (one started meanwhile counts from zero)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def cpu_spent_by_command(
    before: Snapshot, after: Snapshot, leave_out: set[int]
) -> dict[str, float]:
    """CPU seconds spent between two `cpu_by_process` readings, by command, of the processes
    alive at the second, but those in `leave_out` and their children."""
    spent: dict[str, float] = {}
    for pid, (command, parent, t) in after.items():
        if pid in leave_out or parent in leave_out:
            continue
        spent[command] = spent.get(command, 0.0) + t - before.get(pid, ("", 0, 0.0))[2]
    return spent


def cpu_seconds(pid: int, snapshot: Snapshot | None = None) -> float:
    """CPU time of a process and its live children (a prefork worker's pool): from
    `snapshot`, or read from /proc now."""
    every = cpu_by_process() if snapshot is None else snapshot
    return sum(t for p, (_, parent, t) in every.items() if pid in (p, parent))
