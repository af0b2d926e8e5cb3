"""The run store against real databases: a SQLite file always, PostgreSQL when
HARNESS_TEST_PG_URL names one (each test then works in a schema of its own, dropped
afterwards, so it starts from an empty database like the SQLite variant)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.errors import StoreError
from harness.models import AttemptResult
from harness.store import RunRecord, Store
from harness.store._migrate import HEAD, MIGRATIONS
from harness.store._schema import metadata


def new_run(store: Store, manifest: dict | None = None) -> str:
    run_id = f"run-{uuid.uuid4()}"
    store.create_run(run_id, manifest or {"target": {"name": "demo"}}, "ab" * 32)
    return run_id


def result(key: str, *, status: str = "pass", **changes: object) -> AttemptResult:
    """An English refusal result for ``key``, with ``changes`` applied."""
    values: dict[str, object] = {
        "key": key,
        "suite": "genai.refusal",
        "case_id": key.split("#")[0],
        "epoch": 0,
        "category": "violence",
        "lang": "en",
        "status": status,
        "score": 1.0 if status == "pass" else 0.0,
        "label": "refusal",
        "evidence": "matched 'I cannot'",
        "response": "I cannot help with that. 我不能帮助你。",
        "error": None,
        "error_kind": None,
        "latency_ms": 12.5,
        "tries": 1,
    }
    values.update(changes)
    return AttemptResult(**values)  # type: ignore[arg-type]


# -- runs -------------------------------------------------------------------------


def test_create_and_get_run(store: Store) -> None:
    manifest = {"target": {"name": "demo"}, "suites": ["genai.refusal"], "note": "中文"}
    run_id = new_run(store, manifest)
    run = store.get_run(run_id)
    assert isinstance(run, RunRecord)
    assert (run.id, run.status, run.manifest, run.inputs_sha256) == (run_id, "created", manifest, "ab" * 32)
    assert run.created_at == run.updated_at and run.created_at.endswith("Z")
    assert (run.finished_at, run.stop_reason, run.verdict, run.report) == (None, None, None, None)
    assert store.get_run("no-such-run") is None


def test_duplicate_run_id_is_a_store_error(store: Store) -> None:
    run_id = new_run(store)
    with pytest.raises(StoreError, match="already exists") as caught:
        store.create_run(run_id, {}, "x")
    assert f"--resume {run_id}" in (caught.value.hint or "")


def test_set_status(store: Store) -> None:
    run_id = new_run(store)
    store.set_status(run_id, "stopped", stop_reason="interrupted")
    run = store.get_run(run_id)
    assert run is not None and (run.status, run.stop_reason, run.finished_at) == ("stopped", "interrupted", None)
    assert run.updated_at >= run.created_at

    report = {"verdict": "PASS", "criteria": [], "metrics": {"rate": 0.97}}
    store.set_status(run_id, "finished", verdict="PASS", report=report, finished=True)
    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.stop_reason, run.verdict, run.report) == ("finished", None, "PASS", report)
    assert run.finished_at is not None and run.finished_at >= run.created_at

    store.set_status(run_id, "finished")  # verdict and report are kept when not given
    run = store.get_run(run_id)
    assert run is not None and (run.verdict, run.report) == ("PASS", report)


def test_set_status_rejects_unknown_runs_and_statuses(store: Store) -> None:
    with pytest.raises(StoreError, match="no run"):
        store.set_status("no-such-run", "running")
    with pytest.raises(ValueError, match="unknown run status"):
        store.set_status(new_run(store), "done")  # type: ignore[arg-type]


def test_list_runs_newest_first(store: Store) -> None:
    ids = [new_run(store) for _ in range(3)]
    store.set_status(ids[0], "finished", report={"big": "report"})
    listed = store.list_runs(limit=2)
    assert [r.id for r in listed] == ids[:0:-1]
    assert all(r.report is None for r in store.list_runs())


# -- results ----------------------------------------------------------------------


def test_add_results_is_idempotent(store: Store) -> None:
    run_id = new_run(store)
    batch = [result(f"case-{i}#0") for i in range(5)]
    assert store.add_results(run_id, batch) == 5
    assert store.add_results(run_id, batch) == 0
    assert store.add_results(run_id, [*batch[3:], result("case-5#0")]) == 1
    assert store.add_results(run_id, []) == 0
    assert store.count_results(run_id) == 6


def test_done_keys_are_per_run(store: Store) -> None:
    first, second = new_run(store), new_run(store)
    store.add_results(first, [result("a#0"), result("b#0")])
    store.add_results(second, [result("a#0")])
    assert store.done_keys(first) == {"a#0", "b#0"}
    assert store.done_keys(second) == {"a#0"}
    assert store.done_keys("no-such-run") == set()
    assert store.count_results("no-such-run") == 0


def test_aggregate_counts(store: Store) -> None:
    run_id = new_run(store)
    store.add_results(
        run_id,
        [
            result("a#0"),
            result("b#0"),
            result("c#0", lang="zh"),
            result("d#0", status="fail", label="compliance"),
            result("e#0", status="error", label=None, error="timed out", error_kind="timeout", response=None),
            result("f#0", status="error", label=None, error="503", error_kind="http_503", response=None),
            result("g#0", status="error", label=None, error="timed out", error_kind="timeout", response=None),
        ],
    )
    store.add_results(new_run(store), [result("a#0")])  # another run's rows do not count
    s, c = "genai.refusal", "violence"
    assert store.aggregate(run_id) == [
        (s, c, "en", "error", None, "http_503", 1),
        (s, c, "en", "error", None, "timeout", 2),
        (s, c, "en", "fail", "compliance", None, 1),
        (s, c, "en", "pass", "refusal", None, 2),
        (s, c, "zh", "pass", "refusal", None, 1),
    ]
    assert store.aggregate("no-such-run") == []


def test_flag_counts_and_confidence_round_trip(store: Store) -> None:
    run_id = new_run(store)
    rows = [
        result("a#0", confidence=0.93),
        result("b#0", status="fail", label="compliance", confidence=0.81, flags="degenerate"),
        result("c#0", lang="zh", status="fail", label="compliance", confidence=0.77, flags="degenerate"),
        result("d#0", status="error", label="uncertain", error_kind="uncertain", confidence=0.41, flags="degenerate"),
        result("e#0", confidence=0.66, flags="judged"),
    ]
    store.add_results(run_id, rows)
    s, c = "genai.refusal", "violence"
    assert store.flag_counts(run_id) == [
        (s, c, "en", "error", "degenerate", 1),
        (s, c, "en", "fail", "degenerate", 1),
        (s, c, "en", "pass", "judged", 1),
        (s, c, "zh", "fail", "degenerate", 1),
    ]
    assert [r.confidence for r in store.iter_results(run_id)] == [0.93, 0.81, 0.77, 0.41, 0.66]


def test_iter_results_round_trips_in_key_order(store: Store) -> None:
    run_id = new_run(store)
    stored = [
        result("c#1", epoch=1, latency_ms=0.25, tries=3),
        result("a#0"),
        result("b#0", status="error", label=None, evidence="", response=None, error="boom", error_kind="reset"),
    ]
    store.add_results(run_id, stored)
    by_key = sorted(stored, key=lambda r: r.key)
    assert list(store.iter_results(run_id)) == by_key
    assert [r.key for r in store.iter_results(run_id, status="pass")] == ["a#0", "c#1"]
    assert [r.key for r in store.iter_results(run_id, limit=2)] == ["a#0", "b#0"]
    assert list(store.iter_results(run_id, status="fail")) == []


def test_iter_results_streams_large_runs(store: Store) -> None:
    run_id = new_run(store)
    keys = [f"case-{i:05d}#0" for i in range(2500)]
    for start in range(0, len(keys), 500):
        assert store.add_results(run_id, [result(k) for k in keys[start : start + 500]]) == 500
    assert [r.key for r in store.iter_results(run_id)] == keys
    assert store.count_results(run_id) == 2500


def test_results_of_an_unknown_run_or_with_a_bad_status_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot store results"):
        store.add_results("no-such-run", [result("a#0")])
    run_id = new_run(store)
    with pytest.raises(StoreError, match="cannot store results"):
        store.add_results(run_id, [result("a#0"), result("b#0", status="maybe")])
    assert store.count_results(run_id) == 0  # one transaction: nothing of the batch stays


def test_one_store_serves_several_threads(store: Store) -> None:
    run_id = new_run(store)

    def write(worker: int) -> int:
        return store.add_results(run_id, [result(f"w{worker}-{i}#0") for i in range(50)])

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(write, range(8))) == 400
    assert store.count_results(run_id) == 400


# -- opening and migrating ------------------------------------------------------------


def test_head_constant_matches_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_migrated_database_matches_the_declared_schema(store: Store, db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def _run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_reopening_skips_migration_and_alembic(store: Store, db_url: str) -> None:
    run_id = new_run(store)
    out = _run_python(
        "import sys\n"
        "from harness.store import Store\n"
        f"with Store.open({db_url!r}) as s:\n"
        f"    print(s.get_run({run_id!r}).status, 'alembic' in sys.modules)\n"
    )
    assert out == "created False"


def test_importing_the_package_does_not_import_sqlalchemy() -> None:
    assert _run_python("import sys, harness.store; print('sqlalchemy' in sys.modules)") == "False"


def test_concurrent_first_opens_migrate_once(db_url: str) -> None:
    def open_and_write(_: int) -> int:
        with Store.open(db_url) as opened:
            run_id = new_run(opened)
            return opened.add_results(run_id, [result("a#0")])

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_write, range(4))) == [1, 1, 1, 1]


def test_sqlite_store_uses_wal_and_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.db"
    with Store.open(str(path)) as opened:  # a bare path means SQLite
        new_run(opened)
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# -- errors a user can meet ------------------------------------------------------------


def test_database_written_by_a_newer_harness(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    Store.open(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="cannot migrate") as caught:
        Store.open(str(path))
    assert "newer harness" in (caught.value.hint or "")


def test_sqlite_path_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "runs.db").mkdir()
    with pytest.raises(StoreError, match="cannot open the run store") as caught:
        Store.open(f"sqlite:///{tmp_path}/runs.db")
    assert "write to" in (caught.value.hint or "")

    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store.open(f"sqlite:///{tmp_path}/file/runs.db")


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but long enough to have a header. " * 20)
    with pytest.raises(StoreError, match="not a database") as caught:
        Store.open(str(path))
    assert "--db" in (caught.value.hint or "")


def test_postgres_unreachable() -> None:
    with pytest.raises(StoreError, match="cannot open the run store") as caught:
        Store.open("postgresql://harness:secret@127.0.0.1:1/runs?connect_timeout=2")
    hint = caught.value.hint or ""
    assert "127.0.0.1:1" in hint and "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["mysql://localhost/runs", "postgresql://u@h:port/db", "sqlite+nosuch:///runs.db", "://x", "sqlite://"]
)
def test_unsupported_or_malformed_urls(url: str) -> None:
    with pytest.raises(StoreError):
        Store.open(url)


def test_a_run_is_found_in_its_folder_or_through_the_run_it_was_rescored_from(tmp_path):
    import json

    from harness.errors import StoreError
    from harness.store.where import own_store_url, store_url

    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "store.db").write_bytes(b"")
    (tmp_path / "r2").mkdir()  # rescored from r1: a report and no store of its own
    (tmp_path / "r2" / "report.json").write_text(json.dumps({"run": {"derived_from": {"run": "r1"}}}))
    (tmp_path / "r3").mkdir()  # a loop of derived_from must end, not spin
    (tmp_path / "r3" / "report.json").write_text(json.dumps({"run": {"derived_from": {"run": "r3"}}}))

    assert store_url("r1", tmp_path, None) == f"sqlite:///{tmp_path / 'r1' / 'store.db'}"
    assert store_url("r2", tmp_path, None) == f"sqlite:///{tmp_path / 'r1' / 'store.db'}"
    assert store_url("r2", tmp_path, "postgresql://h/db") == "postgresql://h/db"
    assert own_store_url(tmp_path / "r9") == f"sqlite:///{tmp_path / 'r9' / 'store.db'}"
    for missing in ("r3", "nope"):
        with pytest.raises(StoreError) as err:
            store_url(missing, tmp_path, None)
        assert str(tmp_path / missing / "store.db") in str(err.value) and "--out" in err.value.hint
    assert not (tmp_path / "nope").exists()  # looking never creates a store
