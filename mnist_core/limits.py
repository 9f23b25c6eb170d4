"""What this process may take: the memory its container leaves, a process's own, and the
largest network the app reads or trains. The bottom floor under reading, training and the jobs.

    available_memory()          # bytes still free to this process: its cgroup's, else the machine's
    container_memory()          # (limit, used) of this process's memory cgroup, or None
    process_memory(pid)         # a process's proportional memory (PSS)
    MAX_PARAMETERS              # 20 million: a model file's and a job's largest network
"""

from __future__ import annotations

from pathlib import Path

# The largest network a model file may declare and a job may train (both may be set lower: the
# deployer's budget, $MNIST_MAX_PARAMETERS). A 2048-2048 dense network has 5.8 million; the shipped best, 1.9.
MAX_PARAMETERS = 20_000_000


def available_memory() -> int:
    """Bytes this process may still take: its container's limit less what the container uses
    (cgroup v2 or v1), else the machine's MemAvailable."""
    container = container_memory()
    if container is not None:
        limit, used = container
        return max(0, limit - used)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2**40  # unknown: the configured limit decides


CGROUP = Path("/sys/fs/cgroup")
UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


def container_memory(cgroup: Path = CGROUP, own: Path = Path("/proc/self/cgroup")) -> tuple[int, int] | None:
    """(limit, used) bytes of this process's memory cgroup, as the kernel counts them (v2's
    memory.max and memory.current, or v1's memory.limit_in_bytes and usage_in_bytes), less the
    file cache it would reclaim before it killed anything (memory.stat's inactive file pages): the
    process's own group when the mount shows it, else the mount's root (a container sees its own
    group there). None when no limit applies."""
    groups = {}  # controller ("" for v2) -> the process's group path
    try:
        for line in own.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                groups[controller] = path.lstrip("/")
    except (OSError, ValueError):
        pass
    candidates = [(cgroup / groups.get("", ""), "memory.max", "memory.current", "inactive_file"),
                  (cgroup, "memory.max", "memory.current", "inactive_file"),
                  (cgroup / "memory" / groups.get("memory", ""), "memory.limit_in_bytes", "memory.usage_in_bytes",
                   "total_inactive_file"),
                  (cgroup / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")]
    for folder, limit_name, used_name, cache_name in candidates:
        try:
            limit = (folder / limit_name).read_text().strip()
            used = int((folder / used_name).read_text())
        except (OSError, ValueError):
            continue
        if limit != "max" and int(limit) < UNLIMITED:
            return int(limit), max(0, used - _stat(folder, cache_name))
    return None


def _stat(folder: Path, name: str) -> int:
    """One figure of a cgroup's memory.stat (0 when it has none)."""
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def process_memory(pid: int) -> int:
    """A process's proportional memory (PSS) in bytes; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
