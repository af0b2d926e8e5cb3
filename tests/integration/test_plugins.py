"""Plugins from outside the project: a third-party distribution installed from its
wheel (tests/fixtures/example_plugin), a module given with ``-p``, blocking an entry
point, and plugins that are broken in the ways a user's plugin can be."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from harness.serving import serve_in_thread
from tests.helpers import write
from tests.integration.conftest import harness_cli, pass_rate_profile, target_file

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "example_plugin"
DIST = "harness-example-plugin"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """The example plugin built into a wheel by ``uv build`` and unpacked: an installed
    layout (module plus ``.dist-info`` with its entry points) to put on PYTHONPATH."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH; it builds the example plugin's wheel")
    work = tmp_path_factory.mktemp("example_plugin")
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    source = shutil.copytree(FIXTURE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                  "__pycache__"))
    done = subprocess.run([uv, "build", "--wheel", "--python", sys.executable, "--out-dir", str(work / "dist"),
                           str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = list((work / "dist").glob("*.whl"))
    assert [w.name for w in wheels] == ["harness_example_plugin-1.0.0-py3-none-any.whl"]
    site = work / "site"
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(site)
    assert (site / "harness_example_plugin.py").is_file()
    assert "example = harness_example_plugin" in (
        site / "harness_example_plugin-1.0.0.dist-info" / "entry_points.txt").read_text()
    return site


def on_path(*folders: Path) -> dict[str, str]:
    """Environment with ``folders`` first on the import path of the subprocess."""
    return {"PYTHONPATH": os.pathsep.join([*map(str, folders), *filter(None, [os.environ.get("PYTHONPATH")])])}


def listing(what: str, *options: str, env: dict[str, str] | None = None) -> list[dict]:
    done = harness_cli(*options, "list", what, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def listings(*calls: tuple[str, tuple[str, ...]], env: dict[str, str] | None = None) -> list[list[dict]]:
    """``listing(what, *options)`` for each call, side by side: every call is a new
    interpreter that loads every plugin."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda call: listing(call[0], *call[1], env=env), calls))


# ---------------------------------------------------------------------------
# an installed third-party distribution
# ---------------------------------------------------------------------------


def test_installed_plugin_offers_its_scorer_and_names_its_distribution(example_site):
    env = on_path(example_site)
    scorers, plugins = listings(("scorers", ()), ("plugins", ()), env=env)
    scorers = {s["name"]: s for s in scorers}
    assert scorers["shouts"]["distribution"] == DIST
    assert scorers["shouts"]["plugin"] == "example"
    assert scorers["shouts"]["version"] == "2"  # the scorer's own version (ScorerSpec.version)
    assert scorers["shouts"]["labels"] == ["shouting", "quiet"]
    assert scorers["contains"]["distribution"] == "sandbox-harness"  # the built-ins are all still there
    plugins = {p["name"]: p for p in plugins}
    assert plugins["example"] == {"name": "example", "distribution": DIST, "version": "1.0.0"}
    assert "rule_scorers" in plugins


def test_blocking_the_installed_plugin_removes_it(example_site):
    scorers, plugins = listings(("scorers", ("--block", "example")), ("plugins", ("--block", "example")),
                                env=on_path(example_site))
    assert "shouts" not in {s["name"] for s in scorers} and "contains" in {s["name"] for s in scorers}
    assert "example" not in {p["name"] for p in plugins}


def test_grade_and_validate_with_the_installed_scorer(example_site, tmp_path):
    env = on_path(example_site)
    rows = [{"id": 1, "prompt": "p", "response": "HELLO THERE!"}, {"id": 2, "prompt": "p", "response": "Hello."}]
    done = harness_cli("grade", "shouts", input="".join(json.dumps(r) + "\n" for r in rows), env=env)
    assert done.returncode == 1, done.stderr  # the quiet one failed
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(o["id"], o["status"], o["label"]) for o in out] == [(1, "pass", "shouting"), (2, "fail", "quiet")]

    suite = shouting_suite(tmp_path)
    done = harness_cli("validate", str(suite), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ok: {suite} (suite)"
    done = harness_cli("validate", str(suite))  # without the plugin the scorer is unknown
    assert done.returncode == 2
    assert "scorer 'shouts' is not installed" in done.stderr


def shouting_suite(folder: Path, loud: int = 8, quiet: int = 4) -> Path:
    cases = [f"  - {{id: loud-{i}, prompt: 'Say it loud, number {i}.'}}" for i in range(loud)]
    cases += [f"  - {{id: quiet-{i}, prompt: 'Say it softly, number {i}.'}}" for i in range(quiet)]
    return write(folder / "shout.yaml", "id: shout\nversion: '1'\ntitle: Shouting\nscorer: shouts\n"
                 "defaults: {lang: en}\ncases:\n" + "\n".join(cases) + "\n")


def town_crier() -> FastAPI:
    """An OpenAI-compatible endpoint that shouts when asked to say it loud."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        prompt = (await request.json())["messages"][-1]["content"]
        text = f"You said: {prompt}"
        return {"choices": [{"message": {"role": "assistant", "content": text.upper() if "loud" in prompt else text},
                             "finish_reason": "stop"}], "usage": {"total_tokens": 9}}

    return app


def test_run_with_the_installed_scorer_names_the_plugin_in_the_manifest(example_site, tmp_path):
    with serve_in_thread(town_crier()) as url:
        target = target_file(tmp_path, url)
        done = harness_cli("run", "--target", str(target), "--suite", str(shouting_suite(tmp_path)), "--profile",
                           str(pass_rate_profile(tmp_path, suite="shout", minimum=0.6)), "--out",
                           str(tmp_path / "runs"), "--run-id", "loud", env=on_path(example_site))
    assert done.returncode == 0, done.stdout + done.stderr  # 8 of 12 pass: 0.67 >= 0.6
    report = json.loads((tmp_path / "runs" / "loud" / "report.json").read_text())
    assert report["verdict"] == "PASS"
    m = report["metrics"]["suites"]["shout"]
    assert (m["n"], m["passed"], m["failed"], m["errors"]) == (12, 8, 4, 0)
    assert m["shouting_rate"]["value"] == pytest.approx(8 / 12) and m["quiet_rate"]["value"] == pytest.approx(4 / 12)
    assert {"name": "example", "distribution": DIST, "version": "1.0.0"} in report["manifest"]["plugins"]
    assert report["manifest"]["scorers"] == {"shouts": "2"}


# ---------------------------------------------------------------------------
# -p MODULE and --block NAME
# ---------------------------------------------------------------------------

WHISPERS = '''\
"""A plugin that no distribution installs: loaded with -p only."""
from harness import Score, ScorerSpec, hookimpl

__version__ = "0.3"


def make(**args):
    return lambda case, reply: Score("pass" if reply.text.islower() else "fail", 1.0 if reply.text.islower() else 0.0)


@hookimpl
def register_scorers():
    return [ScorerSpec(name="whispers", factory=make, version="1")]
'''


def test_p_loads_a_module_that_no_entry_point_names(tmp_path):
    write(tmp_path / "mymod.py", WHISPERS)
    env = on_path(tmp_path)
    without, scorers, plugins = listings(("scorers", ()), ("scorers", ("-p", "mymod")), ("plugins", ("-p", "mymod")),
                                         env=env)
    assert "whispers" not in {s["name"] for s in without}  # importable, yet not loaded
    scorers = {s["name"]: s for s in scorers}
    assert scorers["whispers"]["plugin"] == "mymod"
    assert {"contains", "refusal"} <= set(scorers)
    plugins = {p["name"]: p for p in plugins}
    assert plugins["mymod"]["version"] == "0.3"  # no distribution: the module's __version__
    done = harness_cli("-p", "mymod", "grade", "whispers", input='{"id": 1, "prompt": "p", "response": "psst"}\n',
                       env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "pass"


def test_block_removes_a_built_in_entry_point_plugin():
    scorers, plugins = listings(("scorers", ("--block", "rule_scorers")), ("plugins", ("--block", "rule_scorers")))
    assert "contains" not in {s["name"] for s in scorers} and "regex" not in {s["name"] for s in scorers}
    assert "refusal" in {s["name"] for s in scorers}
    assert "rule_scorers" not in {p["name"] for p in plugins} and "refusal_scorer" in {p["name"] for p in plugins}


def test_a_blocked_built_in_can_be_replaced_by_a_p_module(tmp_path):
    write(tmp_path / "my_contains.py", WHISPERS.replace('"whispers"', '"contains"'))
    env = on_path(tmp_path)
    done = harness_cli("-p", "my_contains", "list", "scorers", "--json", env=env)  # two called 'contains'
    assert done.returncode == 2
    assert "two plugins offer a scorer called 'contains'" in done.stderr and "--block" in done.stderr
    scorers = {s["name"]: s for s in listing("scorers", "--block", "rule_scorers", "-p", "my_contains", env=env)}
    assert scorers["contains"]["plugin"] == "my_contains"


# ---------------------------------------------------------------------------
# broken plugins fail loudly, naming themselves, without a traceback
# ---------------------------------------------------------------------------

BROKEN = {
    "missing-dependency": "import does_not_exist_anywhere\n",
    "syntax-error": "def register_scorers(:\n",
    "raises-at-import": "raise RuntimeError('boom at import')\n",
}


@pytest.mark.parametrize("body", [
    pytest.param(BROKEN["missing-dependency"], id="missing-dependency"),
    pytest.param(BROKEN["syntax-error"], id="syntax-error"),
    pytest.param(BROKEN["raises-at-import"], id="raises-at-import"),
])
def test_p_module_that_fails_to_import_exits_2(tmp_path, body):
    write(tmp_path / "brokenmod.py", body)
    done = harness_cli("-p", "brokenmod", "list", "scorers", "--json", env=on_path(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "plugin '-p brokenmod' cannot be imported" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


UNKNOWN_HOOK = "from harness import hookimpl\n\n\n@hookimpl\ndef register_widgets():\n    return []\n"
WRONG_ARGUMENT = "from harness import hookimpl\n\n\n@hookimpl\ndef register_scorers(colour):\n    return []\n"


def installed(site: Path, dist: str, entry_point: str, module: str, body: str) -> Path:
    """``module`` installed in ``site`` by the distribution ``dist`` under ``entry_point``."""
    write(site / f"{module}.py", body)
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    write(info / "entry_points.txt", f"[harness]\n{entry_point} = {module}\n")
    return site


def test_p_module_with_a_hook_that_matches_no_spec_fails_naming_it(tmp_path):
    write(tmp_path / "oddmod.py", UNKNOWN_HOOK)
    done = harness_cli("-p", "oddmod", "list", "scorers", "--json", env=on_path(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "oddmod" in done.stderr and "register_widgets" in done.stderr and "matches no spec" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_installed_plugin_with_a_hook_that_matches_no_spec_fails_naming_it(tmp_path):
    site = installed(tmp_path / "site", "odd-dist", "odd", "odd_widgets", UNKNOWN_HOOK)
    done = harness_cli("list", "scorers", "--json", env=on_path(site))
    assert done.returncode == 2, done.stderr
    assert "odd_widgets" in done.stderr and "register_widgets" in done.stderr
    assert "Traceback" not in done.stderr
    done = harness_cli("--block", "odd", "list", "scorers", "--json", env=on_path(site))  # the way out
    assert done.returncode == 0, done.stderr


def test_p_module_with_a_hook_argument_the_spec_lacks_exits_2(tmp_path):
    write(tmp_path / "argmod.py", WRONG_ARGUMENT)
    done = harness_cli("-p", "argmod", "list", "scorers", "--json", env=on_path(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "argmod" in done.stderr and "colour" in done.stderr and "Traceback" not in done.stderr


def test_installed_plugin_with_a_hook_argument_the_spec_lacks_exits_2(tmp_path):
    site = installed(tmp_path / "site", "arg-dist", "argy", "arg_scorers", WRONG_ARGUMENT)
    done = harness_cli("list", "scorers", "--json", env=on_path(site))
    assert done.returncode == 2, done.stderr
    assert "'argy'" in done.stderr and "colour" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr


def test_installed_plugin_that_fails_to_import_names_itself(tmp_path):
    site = installed(tmp_path / "site", "boom-dist", "boomer", "boom_plugin", BROKEN["raises-at-import"])
    done = harness_cli("list", "scorers", "--json", env=on_path(site))
    assert done.returncode == 2, done.stderr
    assert "boom at import" in done.stderr and "Traceback" not in done.stderr
    assert "boomer" in done.stderr or "boom-dist" in done.stderr, done.stderr
