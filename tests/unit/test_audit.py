"""The hash-chained audit log against real databases: a SQLite file always, PostgreSQL
when HARNESS_TEST_PG_URL names one (each test in a schema of its own, dropped after)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from harness.audit import GENESIS, entry_hash, verify_chain
from harness.store import Store
from harness.store._migrate import HEAD, MIGRATIONS


def fill(store: Store, n: int = 5) -> list[dict[str, Any]]:
    actions = ["run.requested", "run.started", "run.finished", "decision", "certificate.issued",
               "certificate.revoked", "profile.changed"]
    return [
        store.append_audit("ci@example", actions[i % len(actions)], f"run-{i}", {"i": i, "note": "审计 ok"})
        for i in range(n)
    ]


def sql(db_url: str, statement: str, **params: Any) -> None:
    """Run raw SQL on the database behind the store's back, as a tamperer would."""
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            statement = statement.replace(":data", "CAST(:data AS json)")
        conn.execute(sa.text(statement), params)
    engine.dispose()


def problems(store: Store, anchor: str | None = None) -> list[str]:
    return verify_chain(store.iter_audit(), anchor=anchor)


# -- appending and reading --------------------------------------------------------------


def test_appended_entries_form_an_intact_chain(store: Store) -> None:
    written = fill(store)
    read = list(store.iter_audit())
    assert read == written
    assert [e["seq"] for e in read] == [1, 2, 3, 4, 5]
    assert read[0]["prev_sha256"] == GENESIS
    assert all(b["prev_sha256"] == a["sha256"] for a, b in zip(read, read[1:], strict=False))
    assert read[2]["sha256"] == entry_hash(read[1]["sha256"], 3, read[2]["at"], "ci@example", "run.finished",
                                           "run-2", {"i": 2, "note": "审计 ok"})
    assert read[0]["at"].endswith("Z")
    assert problems(store) == []
    assert problems(store, anchor=read[-1]["sha256"]) == []
    assert problems(store, anchor=read[1]["sha256"].upper()) == []


def test_empty_log_is_intact(store: Store) -> None:
    assert list(store.iter_audit()) == []
    assert problems(store) == []


def test_data_is_hashed_as_it_reads_back(store: Store) -> None:
    store.append_audit("me", "decision", "run-1", {1: (2, 3), "path": Path("a/b")})
    store.append_audit("me", "decision", "run-1")
    entries = list(store.iter_audit())
    assert entries[0]["data"] == {"1": [2, 3], "path": "a/b"}
    assert entries[1]["data"] == {}
    assert problems(store) == []


def test_nan_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.append_audit("me", "decision", "run-1", {"rate": float("nan")})
    assert list(store.iter_audit()) == []


# -- tampering ----------------------------------------------------------------------------


def test_edited_data_is_caught_naming_its_seq(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "UPDATE audit SET data = :data WHERE seq = 3", data=json.dumps({"i": 99}))
    found = problems(store)
    assert len(found) == 1
    assert found[0].startswith("entry 3: edited")
    assert "at, actor, action, subject, data" in found[0]


def test_edited_and_rehashed_entry_is_caught_at_the_next_link(store: Store, db_url: str) -> None:
    entries = fill(store)
    e = entries[2]
    forged = entry_hash(e["prev_sha256"], 3, e["at"], "intruder", e["action"], e["subject"], e["data"])
    sql(db_url, "UPDATE audit SET actor = 'intruder', sha256 = :h WHERE seq = 3", h=forged)
    found = problems(store)
    assert len(found) == 1
    assert found[0].startswith("entry 4: prev_sha256") and "entry 3" in found[0]


def test_edited_link_is_caught(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "UPDATE audit SET prev_sha256 = :h WHERE seq = 2", h="ab" * 32)
    found = problems(store)
    assert any(p.startswith("entry 2: prev_sha256") for p in found)
    assert any(p.startswith("entry 2: edited") and "prev_sha256" in p for p in found)


def test_deleted_middle_entry_is_caught(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "DELETE FROM audit WHERE seq = 3")
    found = problems(store)
    assert any("entries 3 are missing" in p for p in found)
    assert any(p.startswith("entry 4: prev_sha256") for p in found)


def test_deleted_first_entry_is_caught(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "DELETE FROM audit WHERE seq = 1")
    assert any("entries 1..1 are missing" in p for p in problems(store))


def test_swapped_data_is_caught_naming_both(store: Store, db_url: str) -> None:
    entries = fill(store)
    sql(db_url, "UPDATE audit SET data = :data WHERE seq = 2", data=json.dumps(entries[3]["data"]))
    sql(db_url, "UPDATE audit SET data = :data WHERE seq = 4", data=json.dumps(entries[1]["data"]))
    found = problems(store)
    assert [p.split(":")[0] for p in found] == ["entry 2", "entry 4"]


def test_reordered_entries_are_caught(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "UPDATE audit SET seq = 100 WHERE seq = 2")
    sql(db_url, "UPDATE audit SET seq = 2 WHERE seq = 3")
    sql(db_url, "UPDATE audit SET seq = 3 WHERE seq = 100")
    found = problems(store)
    assert any(p.startswith("entry 2: edited") for p in found)
    assert any(p.startswith("entry 3: edited") for p in found)


def test_truncated_tail_needs_an_anchor(store: Store, db_url: str) -> None:
    entries = fill(store)
    anchor = entries[-1]["sha256"]
    sql(db_url, "DELETE FROM audit WHERE seq >= 4")
    assert problems(store) == []  # intact in itself: undetectable without an anchor
    found = problems(store, anchor=anchor)
    assert len(found) == 1 and found[0].startswith(f"anchor {anchor} is not in the log")


def test_appending_after_a_truncation_does_not_hide_it(store: Store, db_url: str) -> None:
    entries = fill(store)
    sql(db_url, "DELETE FROM audit WHERE seq = 5")
    store.append_audit("me", "decision", "run-9")
    assert problems(store, anchor=entries[-1]["sha256"])


# -- concurrency and migration ----------------------------------------------------------


def test_concurrent_appends_form_one_chain(db_url: str) -> None:
    Store.open(db_url).close()  # migrate once up front; the appends are what is tested

    def append(worker: int) -> int:
        with Store.open(db_url) as opened:
            for i in range(25):
                opened.append_audit(f"worker-{worker}", "run.started", f"run-{worker}-{i}", {"i": i})
        return worker

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(append, range(4))) == [0, 1, 2, 3]
    with Store.open(db_url) as opened:
        entries = list(opened.iter_audit())
        assert [e["seq"] for e in entries] == list(range(1, 101))
        assert verify_chain(entries) == []
        assert len({e["subject"] for e in entries}) == 100


def test_a_0001_database_upgrades(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from harness.store._engine import make_engine

    engine = make_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO runs (id, created_at, updated_at, status, inputs_sha256, manifest) "
            "VALUES ('old', 't', 't', 'finished', 'x', '{}')"
        ))
    engine.dispose()
    assert HEAD >= "0002"
    with Store.open(db_url) as opened:
        assert opened.get_run("old").status == "finished"
        opened.append_audit("me", "run.finished", "old")
        assert problems(opened) == []


# -- the command ----------------------------------------------------------------------------


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=120)


def test_cli_verify_and_log(store: Store, db_url: str) -> None:
    entries = fill(store, 3)
    done = harness("audit", "verify", "--db", db_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"intact: 3 entries, last sha256 {entries[-1]['sha256']}"
    assert harness("audit", "verify", "--db", db_url, "--anchor", entries[1]["sha256"]).returncode == 0

    logged = harness("audit", "log", "--db", db_url, "--json")
    assert logged.returncode == 0, logged.stderr
    assert [json.loads(line) for line in logged.stdout.splitlines()] == entries
    plain = harness("audit", "log", "--db", db_url)
    assert plain.returncode == 0 and len(plain.stdout.splitlines()) == 3

    missing = harness("audit", "verify", "--db", db_url, "--anchor", "f" * 64)
    assert missing.returncode == 1 and "anchor" in missing.stdout

    sql(db_url, "UPDATE audit SET data = :data WHERE seq = 2", data=json.dumps({"i": 7}))
    broken = harness("audit", "verify", "--db", db_url)
    assert broken.returncode == 1
    assert "entry 2: edited" in broken.stdout


def test_cli_finds_a_run_store_and_refuses_no_store(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "runs" / "r1" / "store.db")) as opened:
        fill(opened, 2)
    done = harness("audit", "verify", "--out", str(tmp_path / "runs"), "--run-id", "r1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("intact: 2 entries")
    assert harness("audit", "verify").returncode == 2
    assert harness("audit", "verify", "--out", str(tmp_path / "runs"), "--run-id", "nope").returncode == 2
