"""The hot path: send attempts concurrently, pace them, retry them, score them, and hand
them to one writer in batches.

Only this module creates tasks. ``concurrency`` workers pull from one lazy iterator of
work, so a run of a million cases holds no more than ``concurrency`` attempts and one
batch in memory. A failure of the endpoint is an ``error`` verdict for that attempt;
after ``max_consecutive_failures`` of them in a row the run stops early.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import TargetError
from .models import AttemptResult, Case, Connector, Score
from .scoring import judge_attempt

WorkItem = tuple[str, Case, int, Callable[..., Any]]

BATCH = 500
FLUSH_EVERY_S = 0.25


class Pacer:
    """Spaces request starts evenly at ``rpm`` per minute; a Retry-After from the server
    holds every request back until it has passed."""

    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next = 0.0

    def hold(self, seconds: float) -> None:
        self.next = max(self.next, time.monotonic() + seconds)

    async def wait(self) -> None:
        now = time.monotonic()
        if self.next <= now and not self.interval:
            return
        start = max(now, self.next)
        self.next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class TokenBudget:
    """Tokens per minute, from the usage the endpoint reports: a bucket that refills
    at ``tpm / 60`` per second; a request waits while the bucket is in debt."""

    def __init__(self, tpm: float) -> None:
        self.rate = tpm / 60.0
        self.capacity = tpm
        self.level = tpm
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def spend(self, tokens: int) -> None:
        self._refill()
        self.level -= tokens

    async def wait(self) -> None:
        self._refill()
        while self.level <= 0:
            await asyncio.sleep(-self.level / self.rate + 0.001)
            self._refill()


@dataclass
class Progress:
    """Counters the progress display reads."""

    total: int
    done: int = 0
    errors: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    first_request: float | None = None
    last_stored: float | None = None


class Runner:
    """Sends one run's attempts. Build it, then ``await execute(work)``."""

    def __init__(
        self,
        *,
        run_id: str,
        connector: Connector,
        settings: dict[str, Any],
        store: Any,
        seed: int,
        progress: Progress,
        on_result: Callable[[AttemptResult], None] | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.run_id = run_id
        self.connector = connector
        self.store = store
        self.seed = seed
        self.progress = progress
        self.on_result = on_result
        #: stop on SIGINT/SIGTERM (the CLI); a worker leaves signals to its own process manager
        self.handle_signals = handle_signals
        self.concurrency = int(settings["concurrency"])
        self.retries = int(settings["retries"])
        self.backoff = float(settings["backoff_s"])
        self.max_backoff = float(settings["max_backoff_s"])
        self.max_failures = int(settings["max_consecutive_failures"])
        self.pacer = Pacer(settings.get("rpm"))
        self.tokens = TokenBudget(settings["tpm"]) if settings.get("tpm") else None
        self.jitter = random.Random(seed)
        self.buffer: list[AttemptResult] = []
        self.write_lock = asyncio.Lock()
        self.failures_in_a_row = 0
        self.last_error = ""
        #: why the run stopped before the end, or None
        self.stopped: str | None = None
        #: a usage error met mid-run (the endpoint refused the key): the run stops, its
        #: attempt is not stored (a resume after the fix sends it again), and the entry
        #: point reports it as a usage error, not as an INCONCLUSIVE verdict
        self.fatal: str | None = None
        self.interrupted = False
        self._flushes: set[asyncio.Task[None]] = set()
        self.write_error: BaseException | None = None

    # -- one attempt ------------------------------------------------------------------

    async def _attempt(self, key: str, case: Case, epoch: int, score: Callable[..., Any]) -> AttemptResult | None:
        tries = 0
        while True:
            tries += 1
            await self.pacer.wait()
            if self.tokens:
                await self.tokens.wait()
            if self.progress.first_request is None:
                self.progress.first_request = time.monotonic()
            started = time.perf_counter()
            try:
                reply = await self.connector.send(case, seed=self.seed + epoch)
            except TargetError as exc:
                latency = (time.perf_counter() - started) * 1000
                if exc.retry_after is not None and exc.status_code in (429, 503):
                    self.pacer.hold(exc.retry_after)
                if exc.status_code in (401, 403):
                    self.fatal = self.fatal or exc.message
                    self.stopped = self.stopped or f"the endpoint refused the key: {exc.message}"
                    return None
                if exc.retryable and tries <= self.retries and not self.stopped:
                    cap = min(self.max_backoff, self.backoff * 2 ** (tries - 1))
                    delay = exc.retry_after if exc.retry_after is not None else self.jitter.uniform(0, cap)
                    await asyncio.sleep(min(delay, self.max_backoff))
                    continue
                return self._result(key, case, epoch, Score("error", evidence=exc.message), None,
                                    exc.message, exc.label, latency, tries)
            except Exception as exc:  # a connector's bug must not end the run
                latency = (time.perf_counter() - started) * 1000
                msg = f"connector raised {type(exc).__name__}: {exc}"
                return self._result(key, case, epoch, Score("error", evidence=msg), None, msg, "connector_bug",
                                    latency, tries)
            latency = (time.perf_counter() - started) * 1000
            if self.tokens and reply.tokens:
                self.tokens.spend(reply.tokens)
            verdict, error, kind = await judge_attempt(score, case, reply)
            return self._result(key, case, epoch, verdict, reply.text, error, kind, latency, tries)

    def _result(self, key: str, case: Case, epoch: int, verdict: Score, response: str | None,
                error: str | None, error_kind: str | None, latency: float, tries: int) -> AttemptResult:
        return AttemptResult.of(verdict, key=key, suite=case.suite, case_id=case.id, epoch=epoch,
                                category=case.category, lang=case.lang, response=response, error=error,
                                error_kind=error_kind, latency_ms=latency, tries=tries)

    # -- results and the writer ----------------------------------------------------------

    def _record(self, result: AttemptResult) -> None:
        p = self.progress
        p.done += 1
        if result.status == "error":
            p.errors += 1
            # only the endpoint's failures count towards the breaker, not the scorers' (a
            # scorer's bug, or a grader that does not know: those carry no ``error``)
            if result.error is not None and result.error_kind != "scorer_bug":
                self.failures_in_a_row += 1
                self.last_error = result.error or ""
            if self.failures_in_a_row >= self.max_failures and not self.stopped:
                self.stopped = (f"{self.failures_in_a_row} attempts in a row failed "
                                f"(last: {self.last_error[:160]})")
        else:
            self.failures_in_a_row = 0
        if self.on_result:
            self.on_result(result)
        self.buffer.append(result)
        if len(self.buffer) >= BATCH:
            self._spawn_flush()

    def _spawn_flush(self) -> None:
        batch, self.buffer = self.buffer, []
        task = asyncio.create_task(self._write(batch))
        self._flushes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if not task.cancelled() and task.exception() is not None and self.write_error is None:
            # results that cannot be stored must not be sent for: stop, and say so
            self.write_error = task.exception()
            self.stopped = self.stopped or f"the store failed: {self.write_error}"

    async def _write(self, batch: list[AttemptResult]) -> None:
        if not batch:
            return
        async with self.write_lock:  # one writer: batches land in order, one at a time
            await asyncio.to_thread(self.store.add_results, self.run_id, batch)
        self.progress.last_stored = time.monotonic()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            if self.buffer:
                self._spawn_flush()

    async def flush(self) -> None:
        """Store everything buffered; raise the first write error of the run, if any
        (what was not stored is sent again on resume)."""
        self._spawn_flush()
        while self._flushes:
            await asyncio.gather(*list(self._flushes), return_exceptions=True)
        if self.write_error is not None:
            raise self.write_error

    # -- the run -------------------------------------------------------------------------

    async def _worker(self, work: Iterator[WorkItem]) -> None:
        for key, case, epoch, score in work:
            result = await self._attempt(key, case, epoch, score)
            if result is not None:
                self._record(result)
            if self.stopped:
                return

    async def execute(self, work: Iterator[WorkItem]) -> None:
        """Send everything in ``work``; return when done, stopped early or interrupted.
        Everything scored is stored before this returns."""
        loop = asyncio.get_running_loop()
        workers = [asyncio.create_task(self._worker(work)) for _ in range(self.concurrency)]
        ticker = asyncio.create_task(self._ticker())

        def interrupt() -> None:
            self.interrupted = True
            self.stopped = self.stopped or "interrupted"
            for w in workers:
                w.cancel()

        signals = (signal.SIGINT, signal.SIGTERM) if self.handle_signals else ()
        for sig in signals:
            try:
                loop.add_signal_handler(sig, interrupt)
            except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
                pass
        try:
            await asyncio.gather(*workers, return_exceptions=True)
            for w in workers:
                if not w.cancelled() and w.exception():
                    raise w.exception()  # type: ignore[misc]  # a bug of ours: show it
        finally:
            ticker.cancel()
            for sig in signals:
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass
            await self.flush()
