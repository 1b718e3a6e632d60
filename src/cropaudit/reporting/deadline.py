"""Deadlines, not timeouts: a bound on how long a block may run, wherever it blocks.

A socket timeout bounds each read: a server that sends one byte every few seconds never
trips it, and a client that retries multiplies it. A deadline bounds the whole call. It is
armed as a real-time interval timer (``SIGALRM``); when it expires, the handler raises
:class:`DeadlineExceeded` in the main thread, which interrupts a blocked socket read, a retry's
sleep or a lock wait alike (Python runs signal handlers between those system calls and lets
their exception through). Deadlines nest: the earliest end applies. A timer or handler that
was there before (a test runner's own) is put back with the time it had left.

Signals reach only the main thread, so off it :func:`deadline` bounds nothing; the commands
that use it (``log-run``, ``log-croppers``) run there.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlineExceeded(BaseException):
    """The block ran past its deadline. A BaseException, like KeyboardInterrupt, so that no
    library's ``except Exception`` (a retry loop, a wrapper) swallows it and carries on."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what}: no result within {seconds:g} s")
        self.what, self.seconds = what, seconds


@dataclass(frozen=True)
class _Armed:
    end: float
    what: str
    seconds: float


_stack: list[_Armed] = []
_saved: dict[str, Any] = {}


def _supported() -> bool:
    return (hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread())


def _arm() -> None:
    """Set the timer to the earliest end among the armed deadlines (at least 1 ms ahead)."""
    if not _stack:
        return
    first = min(a.end for a in _stack)
    signal.setitimer(signal.ITIMER_REAL, max(first - time.monotonic(), 0.001))


def _on_alarm(_signum: int, _frame: Any) -> None:
    expired = [a for a in _stack if a.end <= time.monotonic() + 0.001]
    if not expired:  # fired early (clock granularity): wait for the rest
        _arm()
        return
    first = min(expired, key=lambda a: a.end)
    raise DeadlineExceeded(first.what, first.seconds)


def _restore() -> None:
    """Put back the handler and timer that were there before the outermost deadline."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    handler = _saved.pop("handler")  # None: not set from Python; the default is closest
    signal.signal(signal.SIGALRM, signal.SIG_DFL if handler is None else handler)
    delay, interval = _saved.pop("timer")
    if delay > 0:
        left = delay - (time.monotonic() - _saved.pop("since"))
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), interval)
    else:
        _saved.pop("since")


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Raise :class:`DeadlineExceeded` (naming ``what``) if the block runs past ``seconds``."""
    if not _supported():
        yield
        return
    if not _stack:
        _saved.update(handler=signal.getsignal(signal.SIGALRM),
                      timer=signal.getitimer(signal.ITIMER_REAL), since=time.monotonic())
        signal.signal(signal.SIGALRM, _on_alarm)
    armed = _Armed(time.monotonic() + seconds, what, seconds)
    _stack.append(armed)
    try:
        _arm()
        yield
    finally:
        _stack.remove(armed)
        if _stack:
            _arm()
        else:
            _restore()


def within(seconds: float, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, bounded by a deadline of ``seconds``."""
    with deadline(seconds, what):
        return fn(*args, **kwargs)
