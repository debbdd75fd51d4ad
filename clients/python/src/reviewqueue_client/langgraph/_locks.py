"""Per-thread locks: resumes of one LangGraph thread never overlap within a process."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref

# Striped locks: resumes of one thread never overlap within a process, and the number of
# locks stays bounded however many threads pass through.
_STRIPES = 64
_thread_locks = [threading.Lock() for _ in range(_STRIPES)]
_async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _stripe(thread_id: str) -> int:
    return int(hashlib.sha256(thread_id.encode()).hexdigest()[:8], 16) % _STRIPES


def _thread_lock(thread_id: str) -> threading.Lock:
    return _thread_locks[_stripe(thread_id)]


def _async_thread_lock(thread_id: str) -> asyncio.Lock:
    # asyncio locks belong to one event loop.
    loop = asyncio.get_running_loop()
    locks = _async_locks.setdefault(loop, [asyncio.Lock() for _ in range(_STRIPES)])
    return locks[_stripe(thread_id)]
