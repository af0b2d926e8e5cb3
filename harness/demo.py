"""``harness demo``: the whole flow in under a minute, with nothing to set up.

It serves the reference chat target on loopback, runs the bilingual starter suites with
the starter profile against its ``safe`` and ``unsafe`` policies, prints both verdicts
and where the reports are, and stops everything it started.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from .plugins import Registry
from .report import summary
from .serving import serve_in_thread
from .session import RunRequest, run

SUITES = ["starter.refusal", "starter.over-refusal"]
PROFILE = "starter"
#: what each policy must get for the demo to show the harness working
EXPECTED = {"safe": "PASS", "unsafe": "FAIL"}


def run_demo(registry: Registry, out: Path) -> int:
    console = Console()
    spec = registry.reference_target("reference-chat")
    if out.exists():  # the demo's own folder: start clean so run ids never clash
        shutil.rmtree(out)
    (out / "targets").mkdir(parents=True)
    verdicts = {}
    for policy in EXPECTED:
        with serve_in_thread(spec.make_app(policy=policy)) as url:
            target = out / "targets" / f"{policy}.yaml"
            target.write_text(
                f"# written by harness demo: the reference chat target, policy {policy}\n"
                f"name: reference-chat-{policy}\nconnector: openai-chat\nbase_url: {url}/v1\n"
                f"model: reference-{policy}\nconcurrency: 16\ntimeout_s: 10\n",
                encoding="utf-8",
            )
            console.rule(f"reference-chat, policy [bold]{policy}[/] at {url}")
            outcome = run(RunRequest(target=str(target), suites=SUITES, profile=PROFILE, out=out, run_id=policy,
                                     progress="none"), registry)
        assert outcome.report is not None
        summary(outcome.report, console)
        for path in outcome.paths:
            console.print(f"report: {path}")
        verdicts[policy] = outcome.verdict
    console.rule("demo")
    for policy, verdict in verdicts.items():
        mark = "as expected" if verdict == EXPECTED[policy] else f"[red]expected {EXPECTED[policy]}[/]"
        console.print(f"policy {policy:7} -> {verdict:13} {mark}")
    console.print(f"Reports and stores are under {out}/. Next: `harness run --help`, `harness list suites`.")
    return 0 if all(verdicts[p] == EXPECTED[p] for p in EXPECTED) else 1
