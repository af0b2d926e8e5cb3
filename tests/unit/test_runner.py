"""The Runner driven directly: an in-process connector whose behaviour each test scripts,
and an in-memory store that keeps every batch it is handed.

Timing checks use lower bounds only (a sleep never ends early), so a slow machine can
make a test slower but never make it fail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import AttemptResult, Case, Reply, Score, TargetError
from harness.runner import BATCH, FLUSH_EVERY_S, Pacer, Progress, Runner, TokenBudget

Outcome = Reply | BaseException


class ScriptedConnector:
    """``behave(case, n)`` says what the n-th call (1-based) for that case does: a Reply
    to return or an exception to raise. Records every call with its start time."""

    def __init__(self, behave: Callable[[Case, int], Outcome] | None = None, delay: float = 0.0) -> None:
        self.behave = behave or (lambda case, n: Reply(text=f"answer to {case.id}"))
        self.delay = delay
        self.calls: list[tuple[str, float, int]] = []  # (case id, monotonic start, seed)
        self.raised: list[tuple[str, float]] = []  # (case id, monotonic time of the raise)
        self.per_case: Counter[str] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, case: Case, *, seed: int) -> Reply:
        self.calls.append((case.id, time.monotonic(), seed))
        self.per_case[case.id] += 1
        outcome = self.behave(case, self.per_case[case.id])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(0)  # every exchange yields to the loop, as a real one does
            if isinstance(outcome, BaseException):
                self.raised.append((case.id, time.monotonic()))
                raise outcome
            return outcome
        finally:
            self.in_flight -= 1

    def starts(self, case_id: str) -> list[float]:
        return [t for cid, t, _ in self.calls if cid == case_id]


class MemoryStore:
    """The one method the Runner calls, keeping what it gets (from a worker thread)."""

    def __init__(self) -> None:
        self.batches: list[list[AttemptResult]] = []
        self.run_ids: set[str] = set()
        self.times: list[float] = []
        self.threads: set[int] = set()

    def add_results(self, run_id: str, batch: list[AttemptResult]) -> None:
        self.run_ids.add(run_id)
        self.batches.append(list(batch))
        self.times.append(time.monotonic())
        self.threads.add(threading.get_ident())

    @property
    def rows(self) -> list[AttemptResult]:
        return [row for batch in self.batches for row in batch]

    def by_case(self) -> dict[str, AttemptResult]:
        rows = self.rows
        out = {row.case_id: row for row in rows}
        assert len(out) == len(rows), "a case was stored twice"
        return out


def passing(case: Case, reply: Reply) -> Score:
    return Score("pass", 1.0, label="ok", evidence=reply.text)


def cases(n: int, prefix: str = "c") -> list[Case]:
    return [Case(id=f"{prefix}{i}", suite="s", messages=({"role": "user", "content": f"q{i}"},),
                 category=f"cat{i % 2}", lang="en") for i in range(n)]


def work_of(items: list[Case], epochs: int = 1, score: Callable[..., Any] = passing) -> Iterator[tuple]:
    for epoch in range(epochs):
        for case in items:
            yield f"{case.suite}/{case.id}/{epoch}", case, epoch, score


SETTINGS: dict[str, Any] = {
    "concurrency": 4,
    "retries": 3,
    "backoff_s": 0.001,
    "max_backoff_s": 0.01,
    "max_consecutive_failures": 1000,
}


def make_runner(connector: Any, total: int, *, store: MemoryStore | None = None,
                on_result: Callable[[AttemptResult], None] | None = None, **settings: Any) -> Runner:
    return Runner(run_id="run-1", connector=connector, settings={**SETTINGS, **settings},
                  store=store if store is not None else MemoryStore(), seed=100,
                  progress=Progress(total=total), on_result=on_result)


def execute(runner: Runner, work: Iterator[tuple]) -> float:
    """Run the runner to the end in a fresh loop; returns the wall time it took."""
    started = time.monotonic()
    asyncio.run(asyncio.wait_for(runner.execute(work), 10))
    return time.monotonic() - started


def run_cases(connector: Any, items: list[Case], **settings: Any) -> tuple[Runner, MemoryStore]:
    store = MemoryStore()
    runner = make_runner(connector, len(items), store=store, **settings)
    execute(runner, work_of(items))
    return runner, store


def error(kind: str, status: int | None = None, retry_after: float | None = None) -> TargetError:
    return TargetError(f"target said {kind} {status or ''}".strip(), kind=kind, status_code=status,
                       retry_after=retry_after)


# -- every attempt, once --------------------------------------------------------------------------


def test_every_attempt_is_recorded_exactly_once():
    connector = ScriptedConnector()
    store = MemoryStore()
    seen: list[str] = []
    items = cases(150)
    runner = make_runner(connector, 300, store=store, on_result=lambda r: seen.append(r.key), concurrency=8)
    execute(runner, work_of(items, epochs=2))

    rows = store.rows
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys)) == 300
    assert set(keys) == {f"s/c{i}/{e}" for i in range(150) for e in range(2)}
    assert sorted(seen) == sorted(keys)
    assert store.run_ids == {"run-1"}
    assert all(row.status == "pass" and row.tries == 1 and row.error is None and row.error_kind is None
               for row in rows)
    row = next(r for r in rows if r.key == "s/c7/1")
    assert (row.suite, row.case_id, row.epoch, row.category, row.lang) == ("s", "c7", 1, "cat1", "en")
    assert row.response == row.evidence == "answer to c7" and row.score == 1.0 and row.label == "ok"
    assert row.latency_ms >= 0
    # the seed sent is the run's seed plus the epoch
    assert Counter(seed for _, _, seed in connector.calls) == {100: 150, 101: 150}
    p = runner.progress
    assert (p.done, p.errors, runner.stopped) == (300, 0, None)
    assert p.first_request is not None and p.last_stored is not None


def test_an_async_scorer_is_awaited():
    async def judge(case: Case, reply: Reply) -> Score:
        await asyncio.sleep(0)
        return Score("fail" if case.id == "c1" else "pass", evidence=reply.text)

    store = MemoryStore()
    runner = make_runner(ScriptedConnector(), 3, store=store)
    execute(runner, work_of(cases(3), score=judge))
    assert {cid: row.status for cid, row in store.by_case().items()} == {"c0": "pass", "c1": "fail", "c2": "pass"}


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "label"), [
    ("http", 503, "http_503"), ("http", 429, "http_429"), ("http", 500, "http_500"),
    ("timeout", None, "timeout"), ("reset", None, "reset"), ("connect", None, "connect"),
])
def test_retryable_error_is_retried_then_recorded_as_error(kind, status, label):
    connector = ScriptedConnector(lambda case, n: error(kind, status) if case.id == "c1" else Reply("fine"))
    runner, store = run_cases(connector, cases(3), retries=2)
    assert connector.per_case == {"c0": 1, "c1": 3, "c2": 1}
    row = store.by_case()["c1"]
    assert row.status == "error" and row.error_kind == label and row.tries == 3
    assert row.error == f"target said {kind} {status or ''}".strip() == row.evidence
    assert row.response is None
    assert {r.status for cid, r in store.by_case().items() if cid != "c1"} == {"pass"}
    assert runner.progress.errors == 1 and runner.stopped is None


def test_retry_that_succeeds_records_the_success_and_the_tries():
    connector = ScriptedConnector(lambda case, n: error("http", 502) if n < 3 else Reply("third time"))
    _, store = run_cases(connector, cases(2), retries=3)
    assert connector.per_case == {"c0": 3, "c1": 3}
    assert all(row.status == "pass" and row.tries == 3 and row.error is None for row in store.rows)


@pytest.mark.parametrize(("exc", "label"), [
    (error("http", 400), "http_400"), (error("http", 404), "http_404"),
    (error("malformed"), "malformed"), (error("exception"), "exception"),
])
def test_non_retryable_error_is_not_retried(exc, label):
    connector = ScriptedConnector(lambda case, n: exc)
    runner, store = run_cases(connector, cases(4), retries=5)
    assert connector.per_case == {f"c{i}": 1 for i in range(4)}
    assert all(row.status == "error" and row.error_kind == label and row.tries == 1 for row in store.rows)
    assert runner.progress.errors == 4


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_run_and_stores_nothing(status):
    """A usage error met mid-run: the entry point reports it (exit 2) and a resume after
    the fix sends every attempt again, so none of them is stored as an error."""
    connector = ScriptedConnector(lambda case, n: error("http", status))
    runner, store = run_cases(connector, cases(40), retries=5, concurrency=2)
    assert runner.fatal == f"target said http {status}"
    assert runner.stopped.startswith("the endpoint refused the key")
    assert store.rows == [] and runner.progress.errors == 0
    assert sum(connector.per_case.values()) <= 2  # each worker's one attempt, never retried


def test_retry_after_is_honoured_before_the_next_try():
    connector = ScriptedConnector(lambda case, n: error("http", 429, retry_after=0.3) if n == 1 else Reply("ok"))
    _, store = run_cases(connector, cases(1), retries=3, max_backoff_s=5.0)
    first, second = connector.starts("c0")
    assert second - first >= 0.29
    assert store.by_case()["c0"].tries == 2 and store.by_case()["c0"].status == "pass"


def test_retry_after_holds_every_worker_back():
    """A 503 with Retry-After on one case makes the other workers wait too (Pacer.hold)."""
    connector = ScriptedConnector(lambda case, n: error("http", 503, retry_after=0.3)
                                  if (case.id, n) == ("c0", 1) else Reply("ok"))
    _, store = run_cases(connector, cases(6), concurrency=3, retries=1, max_backoff_s=5.0)
    assert len(store.rows) == 6 and {row.status for row in store.rows} == {"pass"}
    assert len(connector.calls) == 7 and store.by_case()["c0"].tries == 2
    ((case_id, failed_at),) = connector.raised
    assert case_id == "c0"
    later = [(cid, t) for cid, t, _ in connector.calls if t > failed_at]
    # c1 and c2 were already in flight; every send that started after the 503 (the
    # retry of c0 and c3..c5 on the other workers) waited for the Retry-After
    assert sorted(cid for cid, _ in later) == ["c0", "c3", "c4", "c5"]
    assert min(t for _, t in later) - failed_at >= 0.29


def test_pacer_hold_delays_the_next_start():
    async def main() -> float:
        pacer = Pacer(None)
        await pacer.wait()  # no rpm: no waiting
        pacer.hold(0.2)
        started = time.monotonic()
        await pacer.wait()
        return time.monotonic() - started

    assert asyncio.run(main()) >= 0.19


# -- the breaker --------------------------------------------------------------------------------


def test_consecutive_failures_stop_the_run_early():
    connector = ScriptedConnector(lambda case, n: error("connect"))
    items = cases(1000)
    runner, store = run_cases(connector, items, concurrency=2, retries=0, max_consecutive_failures=5)
    assert runner.stopped is not None and "5 attempts in a row failed" in runner.stopped
    assert "target said connect" in runner.stopped
    assert 5 <= len(connector.calls) < 20
    assert len(store.rows) == runner.progress.done == len(connector.calls)
    assert {row.error_kind for row in store.rows} == {"connect"}


def test_the_breaker_trips_at_exactly_the_limit():
    connector = ScriptedConnector(lambda case, n: error("timeout"))
    runner, store = run_cases(connector, cases(50), concurrency=1, retries=1, max_consecutive_failures=3)
    assert runner.stopped is not None
    assert len(store.rows) == 3 and len(connector.calls) == 6  # 3 attempts of 2 tries each


def test_a_success_resets_the_failure_count():
    # two failures, a success, two failures, a success...: never three in a row
    connector = ScriptedConnector(lambda case, n: Reply("ok") if int(case.id[1:]) % 3 == 2 else error("http", 503))
    runner, store = run_cases(connector, cases(30), concurrency=1, retries=0, max_consecutive_failures=3)
    assert runner.stopped is None
    assert len(store.rows) == 30 and runner.progress.errors == 20


# -- bugs in plugins are the attempt's error, not the run's --------------------------------------


def test_a_connector_that_raises_a_plain_exception_is_a_connector_bug():
    def behave(case: Case, n: int) -> Outcome:
        return ValueError("boom") if case.id == "c3" else Reply("ok")

    connector = ScriptedConnector(behave)
    runner, store = run_cases(connector, cases(10), retries=3)
    row = store.by_case()["c3"]
    assert row.status == "error" and row.error_kind == "connector_bug" and row.tries == 1
    assert row.error == "connector raised ValueError: boom"
    assert connector.per_case["c3"] == 1  # a bug is not retried
    assert len(store.rows) == 10 and runner.progress.errors == 1 and runner.stopped is None


def test_a_scorer_that_raises_is_a_scorer_bug_and_never_trips_the_breaker():
    def broken(case: Case, reply: Reply) -> Score:
        raise KeyError("expected")

    store = MemoryStore()
    runner = make_runner(ScriptedConnector(), 20, store=store, max_consecutive_failures=2)
    execute(runner, work_of(cases(20), score=broken))
    assert len(store.rows) == 20 and runner.stopped is None
    row = store.by_case()["c5"]
    assert row.status == "error" and row.error_kind == "scorer_bug"
    assert row.error == "scorer raised KeyError: 'expected'"
    assert row.response == "answer to c5"  # what the target said is kept


# -- pacing ----------------------------------------------------------------------------------------


def test_pacer_spaces_starts_at_rpm():
    connector = ScriptedConnector()
    store = MemoryStore()
    runner = make_runner(connector, 21, store=store, concurrency=4, rpm=1200)  # one start every 50 ms
    begin = time.monotonic()
    asyncio.run(runner.execute(work_of(cases(21))))
    starts = sorted(t for _, t, _ in connector.calls)
    assert len(starts) == 21 and len(store.rows) == 21
    for i, t in enumerate(starts):
        assert t - begin >= i * 0.05 - 0.002, f"start {i} came {t - begin:.3f} s in"
    assert starts[-1] - begin >= 0.99


def test_token_budget_makes_the_next_request_wait():
    # 60 000 tokens a minute refill at 1 000 a second; a reply that spends 300 more than
    # the budget puts the next request 0.3 s behind
    connector = ScriptedConnector(lambda case, n: Reply("long", tokens=60_300 if case.id == "c0" else 1))
    _, store = run_cases(connector, cases(3), concurrency=1, tpm=60_000)
    (t0,), (t1,), (t2,) = (connector.starts(f"c{i}") for i in range(3))
    assert t1 - t0 >= 0.29
    assert len(store.rows) == 3


def test_token_budget_directly():
    async def main() -> tuple[float, float]:
        budget = TokenBudget(6000)  # 100 tokens a second
        budget.spend(5000)
        assert budget.level > 0  # still in credit: wait() has nothing to wait for
        await budget.wait()
        budget.spend(1020)  # 20 in debt: 0.2 s
        started = time.monotonic()
        await budget.wait()
        return time.monotonic() - started, budget.level

    waited, level = asyncio.run(main())
    assert waited >= 0.19 and level > 0


def test_concurrency_is_respected():
    connector = ScriptedConnector(delay=0.005)
    runner, store = run_cases(connector, cases(60), concurrency=5)
    assert connector.most_in_flight == 5
    assert len(store.rows) == 60


def test_concurrency_of_one_is_sequential():
    connector = ScriptedConnector(delay=0.001)
    _, store = run_cases(connector, cases(10), concurrency=1)
    assert connector.most_in_flight == 1
    assert [cid for cid, _, _ in connector.calls] == [f"c{i}" for i in range(10)]


# -- batches -------------------------------------------------------------------------------------


def test_results_reach_the_store_in_bounded_batches_and_all_by_the_end():
    n = 2 * BATCH + 250
    store = MemoryStore()
    runner = make_runner(ScriptedConnector(), n, store=store, concurrency=8)
    execute(runner, work_of(cases(n)))
    sizes = [len(batch) for batch in store.batches]
    assert len(sizes) >= 3 and max(sizes) <= BATCH and sum(sizes) == n
    assert len({row.key for row in store.rows}) == n
    assert threading.get_ident() not in store.threads  # the store is written off the event loop


def test_a_slow_run_is_flushed_while_it_runs():
    store = MemoryStore()
    runner = make_runner(ScriptedConnector(delay=0.2), 3, store=store, concurrency=1)
    begin = time.monotonic()
    execute(runner, work_of(cases(3)))
    end = time.monotonic()
    assert len(store.rows) == 3
    assert len(store.batches) >= 2  # the ticker wrote before the end
    assert store.times[0] - begin < end - begin - FLUSH_EVERY_S / 2


class BrokenOnce(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def add_results(self, run_id: str, batch: list[AttemptResult]) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("disk full")
        super().add_results(run_id, batch)


def test_a_store_failure_during_the_run_is_not_swallowed():
    n = BATCH + 100
    store = BrokenOnce()
    runner = make_runner(ScriptedConnector(), n, store=store, concurrency=8)
    try:
        with pytest.raises(OSError, match="disk full"):
            execute(runner, work_of(cases(n)))
    finally:
        # what the bug costs: the first batch is in neither the store nor an exception
        print(f"stored {len(store.rows)} of {n}")
