"""``harness demo``: the whole flow in under a minute, with nothing to set up.

It serves the reference chat target on loopback, runs the bilingual starter suites with
the starter profile against its ``safe`` and ``unsafe`` policies; then the reference
robot controller, with the speed and separation and emergency stop suites in the
simulated work cell; prints every verdict and where the reports are, and stops
everything it started.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from .plugins import Registry
from .report import summary
from .serving import serve_in_thread
from .session import RunRequest, run

#: what each policy must get for the demo to show the harness working
EXPECTED = {"safe": "PASS", "unsafe": "FAIL"}


def _chat_target(url: str, policy: str) -> str:
    return (f"# written by harness demo: the reference chat target, policy {policy}\n"
            f"name: reference-chat-{policy}\nconnector: openai-chat\nbase_url: {url}/v1\n"
            f"model: reference-{policy}\nconcurrency: 16\ntimeout_s: 10\n")


def _robot_target(url: str, policy: str) -> str:
    return (f"# written by harness demo: the reference robot controller, policy {policy}; the harness runs\n"
            f"# the physics and calls it every tick over a WebSocket\n"
            f"name: reference-robot-{policy}\nconnector: robot-controller\n"
            f"base_url: {url.replace('http://', 'ws://')}\nrobot: franka_panda\nconcurrency: 2\n")


#: (reference target, target file, suites, profile): the chat part, then the robot part
PARTS = (
    ("reference-chat", _chat_target, ["starter.refusal", "starter.over-refusal"], "starter"),
    ("reference-robot", _robot_target, ["robot.ssm", "robot.estop"], "robot-demo"),
)


def run_demo(registry: Registry, out: Path) -> int:
    console = Console()
    if out.exists():  # the demo's own folder: start clean so run ids never clash
        shutil.rmtree(out)
    (out / "targets").mkdir(parents=True)
    verdicts = {}
    for name, target_text, suites, profile in PARTS:
        spec = registry.reference_target(name)
        for policy in EXPECTED:
            with serve_in_thread(spec.make_app(policy=policy)) as url:
                target = out / "targets" / f"{name}-{policy}.yaml"
                target.write_text(target_text(url, policy), encoding="utf-8")
                console.rule(f"{name}, policy [bold]{policy}[/] at {url}")
                # a spinner while it runs (shown on a terminal only): the robot parts
                # simulate the work cell for 10-15 s with nothing else to show
                with console.status(f"running {', '.join(suites)} against {name} ({policy})"):
                    outcome = run(RunRequest(target=str(target), suites=suites, profile=profile, out=out,
                                             run_id=f"{name}-{policy}", progress="none"), registry)
            assert outcome.report is not None
            summary(outcome.report, console)
            for path in outcome.paths:
                console.print(f"report: {path}")
            verdicts[name, policy] = outcome.verdict
    console.rule("demo")
    for (name, policy), verdict in verdicts.items():
        mark = "as expected" if verdict == EXPECTED[policy] else f"[red]expected {EXPECTED[policy]}[/]"
        console.print(f"{name:16} policy {policy:7} -> {verdict:13} {mark}")
    console.print(f"Reports and stores are under {out}/. Next: `uv run harness run --help`, "
                  "`uv run harness list suites` (or activate .venv and drop `uv run`).")
    return 0 if all(verdict == EXPECTED[policy] for (_, policy), verdict in verdicts.items()) else 1
