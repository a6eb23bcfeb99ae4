"""Hard time limits for scoring code that may hang (symbolic math on untrusted LaTeX).

Two mechanisms, chosen per call by :func:`call_with_time_limit`:

* **Main thread (Unix):** a ``SIGALRM`` interval timer (``setitimer``, sub-second). The handler raises
  :class:`ScoringTimeout`, a ``BaseException`` so that libraries' ``except Exception`` cannot swallow it, and
  it re-fires every 50 ms until the limit is cleared in case something swallows it anyway. A previously armed
  ``ITIMER_REAL`` (e.g. a caller's own limit) is restored afterwards.
* **Any other thread** (signals only work in the main thread): the call goes to a persistent worker
  *process* (``python -m g2rpo.metrics.timeouts``) that runs it under the signal timer in its own main thread;
  if the worker does not answer within the limit plus a 1 s grace it is killed (this also bounds hangs inside C
  code that a signal cannot interrupt) and a fresh one starts on the next call. Calls from several threads are
  serialised. Starting the worker (importing sympy) takes a few seconds once; that start is not charged to the
  call's limit. If the worker cannot be started at all, such calls return the default and an error is logged
  once. A module of a sandboxed function may define ``warm_up()``; it runs before the worker is ready. Only
  functions registered in :data:`SANDBOXED` can run there, with JSON-encodable arguments.

A caller that must know whether a limit fired (the batch reward scorer flags such items instead of counting
their 0 as a grade) wraps the work in :func:`watch_time_limits`: every limit that expires inside it, in this
thread or in the worker process on its behalf, and every refusal of work that would overrun a limit
(:func:`note_expiry`, e.g. math's guard on power towers), is counted in the yielded :class:`TimeLimitLog`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "SANDBOXED",
    "ScoringTimeout",
    "TimeLimitLog",
    "call_with_time_limit",
    "note_expiry",
    "signals_available",
    "time_limit",
    "watch_time_limits",
]

SANDBOXED: dict[str, str] = {"math_equiv": "g2rpo.metrics.math:math_equiv_unlimited"}
"""Functions the worker process may run: name → ``module:function``."""

_LOG = logging.getLogger(__name__)
_REFIRE_S = 0.05
_WORKER_START_S = 120.0
_GRACE_S = 1.0


class ScoringTimeout(BaseException):
    """Raised inside a time-limited call when its limit expires."""


class TimeLimitLog:
    """What :func:`watch_time_limits` saw: ``expired`` counts limits that fired and work refused as too costly."""

    def __init__(self) -> None:
        self.expired = 0


_WATCHERS = threading.local()


def _watchers() -> list[TimeLimitLog]:
    if not hasattr(_WATCHERS, "stack"):
        _WATCHERS.stack = []
    return _WATCHERS.stack


@contextlib.contextmanager
def watch_time_limits() -> Iterator[TimeLimitLog]:
    """Count the time limits that expire in the body (this thread; nested watchers all see them)."""
    log = TimeLimitLog()
    stack = _watchers()
    stack.append(log)
    try:
        yield log
    finally:
        stack.remove(log)


def note_expiry() -> None:
    """Record, for every active :func:`watch_time_limits`, that a limit expired or work was refused as one
    that would overrun it (the result is then the caller's default, not a grade)."""
    for log in _watchers():
        log.expired += 1


def signals_available() -> bool:
    """Whether a ``SIGALRM`` timer can interrupt the current thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _on_alarm(signum: int, frame: object) -> None:
    raise ScoringTimeout


def _disarm(old_handler: Any) -> None:
    # The interval timer may fire once more while we disarm it; retry until both steps have run, so that a
    # late alarm can never leave our re-firing timer armed behind the caller's back.
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            return
        except ScoringTimeout:
            continue


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`ScoringTimeout` in the body after ``seconds`` (main thread only)."""
    if not signals_available():
        raise RuntimeError("time_limit needs the main thread on a Unix system; use call_with_time_limit")
    start = time.monotonic()
    old_delay, old_interval = signal.getitimer(signal.ITIMER_REAL)
    # An enclosing limit that ends first fires first: this body ends then and the enclosing timer, restored
    # with ~0 s left, fires right after, so an inner limit never stretches an outer one.
    delay = min(seconds, old_delay) if old_delay > 0 else seconds
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(delay, 1e-3), _REFIRE_S)
    try:
        yield
    finally:
        _disarm(old_handler)
        if old_delay > 0:
            remaining = old_delay - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3), old_interval)


class _Worker:
    """A persistent scoring subprocess speaking JSON lines on stdin/stdout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[str] | None = None
        self.broken = False

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.Popen(
            [sys.executable, "-m", "g2rpo.metrics.timeouts"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            env=env,
        )
        if self._read(proc, _WORKER_START_S) != {"ready": True}:
            self._kill(proc)
            raise RuntimeError("the scoring worker process failed to start")
        return proc

    @staticmethod
    def _kill(proc: subprocess.Popen[str]) -> None:
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(Exception):
                pipe.close()  # type: ignore[union-attr]

    def close(self) -> None:
        """Stop the worker process (registered with ``atexit``: it must not outlive the interpreter)."""
        with self.lock:
            if self.proc is not None:
                self._kill(self.proc)
                self.proc = None

    @staticmethod
    def _read(proc: subprocess.Popen[str], timeout_s: float) -> Any:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout_s)
        if not box or not box[0]:
            return None
        return json.loads(box[0])

    def call(self, name: str, args: list[Any], timeout_s: float, default: float) -> float:
        with self.lock:
            if self.broken:
                return default
            if self.proc is None or self.proc.poll() is not None:
                try:
                    self.proc = self._start()
                except (OSError, RuntimeError, ValueError) as error:
                    self.broken = True
                    _LOG.error(
                        "cannot start the scoring worker process (%s): time-limited calls made outside the main "
                        "thread now score %s; call them from the main thread or a process pool instead",
                        error,
                        default,
                    )
                    return default
            proc = self.proc
            try:
                proc.stdin.write(json.dumps({"fn": name, "args": args, "timeout": timeout_s}) + "\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
                reply = self._read(proc, timeout_s + _GRACE_S)
            except (OSError, ValueError):
                reply = None
            if not isinstance(reply, dict) or "result" not in reply:
                self._kill(proc)
                self.proc = None
                note_expiry()
                return default
            if reply.get("expired"):
                note_expiry()
            result = reply["result"]
            return default if result is None else float(result)


_WORKER = _Worker()
atexit.register(_WORKER.close)


def _resolve(name: str) -> Callable[..., float]:
    if name not in SANDBOXED:
        raise KeyError(f"unknown sandboxed function {name!r}; valid names: {', '.join(sorted(SANDBOXED))}")
    module, attr = SANDBOXED[name].split(":")
    return getattr(importlib.import_module(module), attr)


def call_with_time_limit(name: str, args: list[Any], timeout_s: float, default: float = 0.0) -> float:
    """Run the registered function ``name(*args)`` under a hard limit of ``timeout_s`` seconds.

    Returns ``default`` when the limit expires (or the worker dies), and records it for
    :func:`watch_time_limits`. Exceptions other than the timeout propagate in the main thread; in the worker
    they are reported as ``default``.
    """
    fn = _resolve(name)
    if signals_available():
        try:
            with time_limit(timeout_s):
                return fn(*args)
        except ScoringTimeout:
            note_expiry()
            return default
    return _WORKER.call(name, args, timeout_s, default)


def _serve() -> None:
    """Worker loop: one JSON request per line in, one JSON reply per line out."""
    for path in SANDBOXED.values():
        module = importlib.import_module(path.split(":")[0])
        if hasattr(module, "warm_up"):
            module.warm_up()  # import heavy dependencies and build parsers before announcing readiness
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        with watch_time_limits() as log:
            try:
                request = json.loads(line)
                result: float | None = call_with_time_limit(request["fn"], request["args"], request["timeout"])
            except Exception:
                result = None
        sys.stdout.write(json.dumps({"result": result, "expired": log.expired > 0}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    # Serve from the importable module, not this ``__main__`` copy: the sandboxed functions record expiries
    # in ``g2rpo.metrics.timeouts``'s watchers, which must be the ones the replies read.
    from g2rpo.metrics.timeouts import _serve as serve

    serve()
