"""Where counters live between processes (prometheus_client's multiprocess mode).

Every process that counts writes its own files under PROMETHEUS_MULTIPROC_DIR (default
`var/prometheus`); a scrape, answered by any web process, adds up every file on the machine,
so counts from all gunicorn workers and all Celery children show up in one answer.

Process groups (a gunicorn master and its workers, a Celery worker and its pool) each get
their own subdirectory, `<root>/<name>-<parent pid>`, created by `group_start()` in the
parent before it forks. A group starting removes only what its dead predecessors left (the
subdirectories of parents that are gone, and the files of ungrouped processes that are
gone), never the files of a live group: restarting the web server leaves the worker's
counts alone, and each group's counters only reset when that group restarts (Prometheus'
rate() handles a reset).

A child that exits (gunicorn recycles workers every `max_requests`) leaves its counts
behind: `child_exited()` folds its files into the group's `*_archive.db` files, so totals
never go down and the number of files a scrape reads stays bounded (one set per live
process, plus the archive) however often workers are recycled. A scrape holds a shared lock
on the root while it reads; folding and clean-up hold it exclusively, so a scrape never
sees a count twice or not at all.

Processes outside any group (runserver, management commands, tests) write to the root.
"""

import contextlib
import fcntl
import glob
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"
# The shared root, remembered when a group points PROMETHEUS_MULTIPROC_DIR at its own
# subdirectory (children inherit both).
ROOT_ENV = "REVIEWQUEUE_PROMETHEUS_ROOT"
_GROUP_DIR = re.compile(r"[a-z]+-(\d+)")
_FILE_PID = re.compile(r"_(\d+)\.db$")
_FOLDED_TYPES = ("counter", "histogram", "summary")  # gauges: see mark_process_dead


def metrics_root() -> Path:
    """The shared root; settings' default (var/prometheus under REVIEWQUEUE_VAR_DIR) also
    where no settings are loaded yet (a gunicorn master)."""
    if root := os.environ.get(ROOT_ENV) or os.environ.get(ENV):
        return Path(root)
    var_dir = os.environ.get("REVIEWQUEUE_VAR_DIR") or Path(__file__).resolve().parents[2] / "var"
    return Path(var_dir) / "prometheus"


@contextlib.contextmanager
def _locked(*, exclusive: bool) -> Iterator[Path]:
    root = metrics_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def group_start(name: str) -> Path:
    """Call in a process group's parent before it forks and before anything is counted."""
    with _locked(exclusive=True) as root:
        for entry in root.iterdir():
            group = _GROUP_DIR.fullmatch(entry.name)
            if entry.is_dir() and group and not _alive(int(group.group(1))):
                shutil.rmtree(entry, ignore_errors=True)
            file_pid = _FILE_PID.search(entry.name)
            if entry.is_file() and file_pid and not _alive(int(file_pid.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
        own = root / f"{name}-{os.getpid()}"
        own.mkdir(exist_ok=True)
    os.environ[ROOT_ENV] = str(root)
    os.environ[ENV] = str(own)
    return own


def metric_files(root: Path) -> list[str]:
    return glob.glob(str(root / "*.db")) + glob.glob(str(root / "*" / "*.db"))


def merged_metrics() -> list[Any]:
    """Every counter file on the machine, added up (the scrape)."""
    from prometheus_client.multiprocess import MultiProcessCollector

    with _locked(exclusive=False) as root:
        return list(MultiProcessCollector.merge(metric_files(root), accumulate=True))


def child_exited(pid: int) -> None:
    """A child of this group exited: fold its counts into the group's archive files and
    drop its live-gauge files."""
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    directory = Path(os.environ.get(ENV) or metrics_root())
    with _locked(exclusive=True):
        multiprocess.mark_process_dead(pid, str(directory))
        for typ in _FOLDED_TYPES:
            dead = directory / f"{typ}_{pid}.db"
            if not dead.exists():
                continue
            archive = directory / f"{typ}_archive.db"
            sources = [str(p) for p in (archive, dead) if p.exists()]
            # Not cumulated: the archive stores what a process stores (histogram buckets
            # one by one), so it reads back like any other file.
            merged = multiprocess.MultiProcessCollector.merge(sources, accumulate=False)
            partial = directory / f".{typ}_archive.partial"  # not *.db: never scraped
            partial.unlink(missing_ok=True)
            out = MmapedDict(str(partial))
            try:
                for metric in merged:
                    for sample in metric.samples:
                        key = mmap_key(
                            metric.name,
                            sample.name,
                            list(sample.labels),
                            list(sample.labels.values()),
                            metric.documentation,
                        )
                        out.write_value(key, sample.value, 0.0)
            finally:
                out.close()
            os.replace(partial, archive)
            dead.unlink()
