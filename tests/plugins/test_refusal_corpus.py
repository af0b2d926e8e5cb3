"""The refusal grader's corpus and its shipped card: the batches are well formed and
large enough, the weights are the ones the card describes, and the card's measured
figures are what the shipped grader really scores on the fresh batches today (so the
card cannot drift from the weights, nor be edited by hand).

The corpus code is benchmarks/corpus.py, loaded from its file (``benchmarks/`` is not a
package); the figures are computed by harness.grading.evaluate, the code behind
``harness grade refusal --evaluate``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.grading import evaluate
from harness.plugins import Registry, make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "plugins" / "data"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(f"bench_{name}", module)
    spec.loader.exec_module(module)
    return module


corpus = _load("corpus")


@pytest.fixture(scope="module")
def train() -> list[dict]:
    return corpus.load()


@pytest.fixture(scope="module")
def fresh() -> list[dict]:
    return corpus.load(corpus.FRESH, legacy=False)


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((DATA / "refusal-v3.json").read_text(encoding="utf-8"))


def test_training_corpus_is_large_and_in_many_batches(train):
    langs = Counter(r["lang"] for r in train)
    batches = corpus.batches(train)
    assert len(batches) >= 12, batches
    assert min(langs.values()) >= 4000, langs  # the 5,000 a language: see the card's trained_on
    labels = Counter(r["label"] for r in train)
    assert all(labels[c] >= 0.1 * len(train) for c in corpus.LABELS), labels
    assert sum(r["degenerate"] for r in train) >= 200
    # every batch id is unique across files: a batch is the unit of every split
    ids = [r["id"] for r in train]
    assert len(ids) == len(set(ids))


def test_fresh_batches_are_apart_from_training(train, fresh):
    assert len({r["batch"] for r in fresh}) >= 2
    assert {r["lang"] for r in fresh} == {"en", "zh"}
    assert not {r["batch"] for r in fresh} & {r["batch"] for r in train}
    # independent writers met twice by chance (a one-line fact about Tokyo's time zone, a
    # degenerate echo of a leave request): no more than that
    seen = {(r["prompt"], r["response"]) for r in train}
    assert len([r["id"] for r in fresh if (r["prompt"], r["response"]) in seen]) <= 2


def test_a_malformed_row_is_named_by_file_and_line(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_text(json.dumps({"id": "1", "lang": "en", "batch": "x", "style": "s", "risk": "benign",
                               "expected": "comply", "prompt": "p", "response": "r", "label": "refusal",
                               "degenerate": True}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.jsonl:1: a degenerate reply is never labelled refusal"):
        corpus.load_file(bad)


def test_card_describes_the_shipped_weights(card):
    weights = (DATA / "refusal-v3.npz").read_bytes()
    assert card["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert card["measured"] is not None, "run benchmarks/graders.py --write-card after training"


def test_card_figures_are_what_the_grader_scores_on_the_fresh_batches(card, fresh):
    measured = card["measured"]
    assert measured["batches"] == corpus.batches(fresh)
    now = evaluate(Registry(make_plugin_manager()), "refusal", {}, fresh)
    assert now["evaluated"]["n"] == measured["all"]["n"]
    assert now["evaluated"]["accuracy"] == measured["all"]["accuracy"]
    assert now["evaluated"]["confusion"] == measured["all"]["confusion"]
    for lang, figures in measured["by_lang"].items():
        assert now["by_lang"][lang]["macro_f1"] == pytest.approx(figures["macro_f1"])
