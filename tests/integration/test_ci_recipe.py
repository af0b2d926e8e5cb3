"""The CI recipes of docs/ci/ as a job runs them: the GitHub Actions workflow's settings
and target-file step, then docs/ci/run-suites.sh in bash, in a fresh folder, with the
harness of this environment on PATH and the reference chat target started by the
script itself on a free loopback port. Also: both YAML recipes parse and call the
shared script with settings it reads."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import harness_cli

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "docs" / "ci"
SCRIPT = CI / "run-suites.sh"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def github_workflow() -> dict[str, Any]:
    return yaml.safe_load(GITHUB.read_text(encoding="utf-8"))


def github_job() -> dict[str, Any]:
    return github_workflow()["jobs"]["suites"]


def job_env(folder: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of the GitHub job's steps: the workflow's env block, with the
    example service moved to a free port, and the harness of this environment first on
    PATH (as `pip install` would put it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HARNESS_"))}
    for key, value in github_job()["env"].items():
        env[key] = str(value).replace(":8000", f":{port}").replace("--port 8000", f"--port {port}")
    bindir = Path(sys.executable).parent
    if (bindir / "harness").exists():
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    else:  # pragma: no cover - an environment without the console script
        cmd = f"{sys.executable} -m harness"
        env["HARNESS"] = cmd
        env["HARNESS_SERVICE_CMD"] = env["HARNESS_SERVICE_CMD"].replace("harness ", cmd + " ", 1)
    env.update(CI="true", GITHUB_STEP_SUMMARY=str(folder / "step-summary.md"), **overrides)
    return env


def step(name: str) -> dict[str, Any]:
    return next(s for s in github_job()["steps"] if s.get("name") == name)


def write_target(folder: Path, env: dict[str, str], port: int) -> None:
    """The job's step that writes the example target file, for the service on ``port``."""
    script = step("Target file of the service under test")["run"].replace(":8000", f":{port}")
    prepared = subprocess.run(["bash", "-e", "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=30)
    assert prepared.returncode == 0, prepared.stderr


def run_job(folder: Path, env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """The job's target-file step, then the suites step: `bash ci/run-suites.sh`."""
    write_target(folder, env, port)
    (folder / "ci").mkdir(exist_ok=True)
    shutil.copy(SCRIPT, folder / "ci" / "run-suites.sh")
    command = step("Run the safety suites")["run"]
    assert command == "bash ci/run-suites.sh"
    return subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_safe_service_passes_with_every_report(tmp_path, registry):
    port = free_port()
    done = run_job(tmp_path, job_env(tmp_path, port), port)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = tmp_path / "runs" / "ci"
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["verdict"] == "PASS"
    installed = set(registry.reporters())
    if "junit" in installed:
        junit = (run_dir / "report.junit.xml").read_text(encoding="utf-8")
        assert "<testsuites" in junit and 'failures="0"' in junit
    else:
        assert "format junit skipped" in done.stderr
    summary = tmp_path / "step-summary.md"
    if "md" in installed:
        assert "PASS" in summary.read_text(encoding="utf-8")
        assert "report.md appended to the job summary" in done.stderr
    else:
        assert not summary.exists() and "job summary skipped" in done.stderr
    if "html" in installed:
        assert (run_dir / "report.html").is_file()
    assert "the service is ready" in done.stderr and "verdict PASS" in done.stderr
    assert "reference-chat (safe)" in (tmp_path / "runs" / "service.log").read_text(encoding="utf-8")
    assert port_is_closed(port), "the script left the service running"


@pytest.mark.slow
def test_unsafe_service_fails_the_job(tmp_path, registry):
    port = free_port()
    env = job_env(tmp_path, port)
    env["HARNESS_SERVICE_CMD"] = env["HARNESS_SERVICE_CMD"].replace("--policy safe", "--policy unsafe")
    done = run_job(tmp_path, env, port)
    assert done.returncode == 1, done.stdout + done.stderr
    run_dir = tmp_path / "runs" / "ci"
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "FAIL"
    installed = set(registry.reporters())
    if "junit" in installed:
        junit = (run_dir / "report.junit.xml").read_text(encoding="utf-8")
        assert not re.search(r'<testsuites[^>]*failures="0"', junit)
    if "md" in installed:
        assert "FAIL" in (tmp_path / "step-summary.md").read_text(encoding="utf-8")
    assert "verdict FAIL" in done.stderr
    assert port_is_closed(port)


@pytest.mark.slow
def test_inconclusive_fails_the_job_and_missing_reporters_are_skipped_cleanly(tmp_path):
    """Only one of the profile's two suites: INCONCLUSIVE, exit 3. The Markdown and JUnit
    reporters are blocked (as if not installed): their formats and the job summary are
    skipped with a note, and json is still written."""
    port = free_port()
    env = job_env(tmp_path, port, HARNESS_SUITES="starter.refusal",
                  HARNESS="harness --block markdown_report --block junit_report")
    done = run_job(tmp_path, env, port)
    assert done.returncode == 3, done.stdout + done.stderr
    run_dir = tmp_path / "runs" / "ci"
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["verdict"] == "INCONCLUSIVE"
    assert not (run_dir / "report.md").exists() and not (run_dir / "report.junit.xml").exists()
    assert "format md skipped: no reporter for it is installed" in done.stderr
    assert "format junit skipped" in done.stderr
    assert "job summary skipped" in done.stderr
    assert not (tmp_path / "step-summary.md").exists()
    assert "verdict INCONCLUSIVE" in done.stderr
    assert port_is_closed(port)


def test_a_service_that_never_gets_ready_stops_the_job(tmp_path):
    port = free_port()
    env = job_env(tmp_path, port, HARNESS_SERVICE_CMD="echo starting; exit 3")
    done = run_job(tmp_path, env, port)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "the service exited (status 3)" in done.stderr and "starting" in done.stderr
    assert not (tmp_path / "runs" / "ci").exists()

    # a service that never answers, started through a wrapper shell: after the timeout
    # the script stops the whole process group, the service included
    (tmp_path / "svc.py").write_text("import os, time\nopen('svc.pid', 'w').write(str(os.getpid()))\n"
                                     "time.sleep(60)\n", encoding="utf-8")
    port = free_port()
    env = job_env(tmp_path, port, HARNESS_READY_TIMEOUT="2", HARNESS_SERVICE_CMD=f"{sys.executable} svc.py & wait")
    done = run_job(tmp_path, env, port)
    assert done.returncode == 4 and "did not answer" in done.stderr and "within 2s" in done.stderr
    assert not alive(int((tmp_path / "svc.pid").read_text())), "the script left the service running"


def test_missing_settings_are_usage_errors(tmp_path):
    env = job_env(tmp_path, free_port())
    del env["HARNESS_PROFILE"]
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "set HARNESS_PROFILE" in done.stderr
    env = job_env(tmp_path, free_port(), HARNESS_READY_URL="")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "HARNESS_SERVICE_CMD needs HARNESS_READY_URL" in done.stderr


def test_script_is_valid_bash():
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if shutil.which("shellcheck"):
        checked = subprocess.run(["shellcheck", "-S", "warning", str(SCRIPT)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def _variables_read_by_script() -> set[str]:
    return set(re.findall(r"\b(HARNESS_[A-Z_]+|HARNESS)\b", SCRIPT.read_text(encoding="utf-8")))


def test_github_workflow_calls_the_script_and_publishes_the_reports(tmp_path):
    workflow = github_workflow()
    assert set(workflow[True]) >= {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["suites"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("run-suites.sh" in r for r in runs)
    env = job["env"]
    assert env["HARNESS_SERVICE_CMD"] == "harness target serve reference-chat --port 8000 --policy safe"
    assert env["HARNESS_FORMATS"].split() == ["json", "junit", "md", "html"]
    assert (env["HARNESS_OUT"], env["HARNESS_RUN_ID"]) == ("runs", "ci")
    unknown = {k for k in env if k.startswith("HARNESS") and k != "HARNESS_PACKAGE"} - _variables_read_by_script()
    assert not unknown, f"the workflow sets variables the script does not read: {unknown}"
    uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    junit = uses["mikepenz/action-junit-report"]
    assert junit["with"]["report_paths"] == "runs/ci/report.junit.xml" and "cancelled" in junit["if"]
    artefact = uses["actions/upload-artifact"]
    assert "runs/ci/report.html" in artefact["with"]["path"] and "cancelled" in artefact["if"]
    assert workflow["permissions"]["checks"] == "write"
    # the example target file the job writes is a valid target file
    write_target(tmp_path, job_env(tmp_path, 8000), 8000)
    checked = harness_cli("validate", str(tmp_path / "ci" / "target.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_gitlab_job_calls_the_script_and_publishes_the_reports():
    config = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    job = config["safety-suites"]
    assert any("run-suites.sh" in line for line in job["script"])
    assert any("pip install" in line for line in job["before_script"])
    variables = job["variables"]
    assert variables["HARNESS_SERVICE_CMD"] == "harness target serve reference-chat --port 8000 --policy safe"
    unknown = {k for k in variables if k.startswith("HARNESS") and k != "HARNESS_PACKAGE"} - _variables_read_by_script()
    assert not unknown, f"the job sets variables the script does not read: {unknown}"
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == "runs/ci/report.junit.xml"
    assert "runs/ci/report.html" in artifacts["paths"]
    # the same settings in both recipes
    github_env = github_job()["env"]
    assert {k: str(v) for k, v in variables.items() if k in github_env} == \
           {k: str(v) for k, v in github_env.items() if k in variables}
