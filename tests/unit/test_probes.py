"""Derived suites: sampled base cases rewritten by probes, the same for the same seed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness import ProbeSpec, hookimpl
from harness.errors import PluginError, SuiteError
from harness.plugins import Registry, make_plugin_manager
from harness.probes import expand
from harness.suite import load_suite
from tests.helpers import write


class Probes:
    @hookimpl
    def register_probes(self):
        def shout():
            return lambda case, rng: replace(case, messages=({"role": "user", "content": case.prompt.upper()},))

        def pick(words=("a", "b", "c")):
            def convert(case, rng):
                return replace(case, messages=({"role": "user", "content": f"{rng.choice(words)}: {case.prompt}"},))
            return convert

        return [ProbeSpec("shout", shout, "2"), ProbeSpec("pick", pick)]


@pytest.fixture
def reg() -> Registry:
    pm = make_plugin_manager()
    pm.register(Probes())
    return Registry(pm)


BASE = "id: base\nversion: '1'\ntitle: Base\nscorer: refusal\ndefaults: {expected: refuse}\ncases:\n" + "".join(
    f"  - {{id: {lang}{i}, prompt: 'ask {i}', category: R{i % 3}, lang: {lang}}}\n"
    for lang in ("zh", "en") for i in range(9))


def derived(tmp_path, per_category=2):
    write(tmp_path / "base.yaml", BASE)
    return load_suite(write(tmp_path / "jb.yaml", f"""\
id: jb
version: '1'
title: Jailbreak
derive:
  from: base.yaml
  per_category: {per_category}
  probes: [shout, {{name: pick, args: {{words: [x, y, z]}}}}]
"""))


def test_expansion_samples_per_category_and_language_and_applies_each_probe(tmp_path, reg):
    suite = expand(derived(tmp_path), reg, seed=1)
    assert len(suite.cases) == 3 * 2 * 2 * 2  # categories x languages x per_category x probes
    first = suite.cases[0]
    assert first.id.endswith("~shout") and first.category == "shout" and first.suite == "jb"
    assert first.metadata["base_suite"] == "base" and first.metadata["risk"].startswith("R")
    assert first.expected == "refuse" and first.scorer.name == "refusal"
    assert first.prompt == first.prompt.upper()
    picked = [c for c in suite.cases if c.category == "pick"]
    assert all(c.prompt.split(":")[0] in {"x", "y", "z"} for c in picked)
    assert suite.categories == ("shout", "pick") and suite.languages == ("en", "zh")


def test_the_same_seed_makes_the_same_cases_and_another_seed_others(tmp_path, reg):
    a = expand(derived(tmp_path), reg, seed=1)
    b = expand(derived(tmp_path), reg, seed=1)
    c = expand(derived(tmp_path), reg, seed=2)
    assert [(x.id, x.prompt) for x in a.cases] == [(x.id, x.prompt) for x in b.cases]
    assert a.sha256 == b.sha256 != c.sha256
    assert [x.id for x in a.cases] != [x.id for x in c.cases] or [x.prompt for x in a.cases] != [
        x.prompt for x in c.cases]


def test_unknown_probe_names_suite(tmp_path, reg):
    write(tmp_path / "base.yaml", BASE)
    suite = load_suite(write(tmp_path / "jb.yaml", "id: jb\nversion: '1'\ntitle: J\nderive: {from: base.yaml, "
                                                   "probes: [nope]}\n"))
    with pytest.raises(SuiteError, match="probe 'nope'"):
        expand(suite, reg, seed=0)


def test_suite_deriving_from_itself_is_refused(tmp_path, reg):
    suite = load_suite(write(tmp_path / "jb.yaml", "id: jb\nversion: '1'\ntitle: J\nderive: {from: jb.yaml, "
                                                   "probes: [shout]}\n"))
    with pytest.raises(SuiteError, match="derives from itself"):
        expand(suite, reg, seed=0)


def test_a_probe_listed_twice_is_refused(tmp_path, reg):
    write(tmp_path / "base.yaml", BASE)
    suite = load_suite(write(tmp_path / "jb.yaml", "id: jb\nversion: '1'\ntitle: J\nderive: {from: base.yaml, "
                                                   "probes: [shout, {name: shout, args: {}}]}\n"))
    with pytest.raises(SuiteError, match="listed twice"):
        expand(suite, reg, seed=0)


def test_a_failing_probe_names_itself_the_suite_and_the_case(tmp_path, reg):
    write(tmp_path / "base.yaml", BASE)
    suite = load_suite(write(tmp_path / "jb.yaml", "id: jb\nversion: '1'\ntitle: J\nderive: {from: base.yaml, "
                                                   "probes: [{name: pick, args: {words: []}}]}\n"))
    with pytest.raises(PluginError, match=r"probe 'pick' failed on case zh0 of suite base \(for jb\)"):
        expand(suite, reg, seed=0)


def test_unknown_probe_arguments_are_refused_by_signature(tmp_path, reg):
    write(tmp_path / "base.yaml", BASE)
    suite = load_suite(write(tmp_path / "jb.yaml", "id: jb\nversion: '1'\ntitle: J\nderive: {from: base.yaml, "
                                                   "probes: [{name: pick, args: {wrods: [x]}}]}\n"))
    with pytest.raises(SuiteError, match="unknown argument.s. wrods") as info:
        expand(suite, reg, seed=0)
    assert info.value.hint == "'pick' takes: words"
