"""How many calls ``--stop-when-decided`` saves on the real profile, and how often an
early decision is wrong.

    uv run python benchmarks/decided.py              # both
    uv run python benchmarks/decided.py --simulate   # the simulation only (seconds)
    uv run python benchmarks/decided.py --profile-only

The profile: measure-xii-genai with all nine of its genai suites, against the reference
chat target's ``safe`` and ``unsafe`` policies (in their own process), with and without
the flag: calls made, the verdict, and whether every criterion's status agrees with the
full run. Issue 13's goal: at most 40% of the calls, the same verdict and statuses.

The simulation: a rate exactly 2 points beyond its threshold (0.97 and 0.93 against a
minimum of 0.95; 0.03 and 0.07 against a maximum of 0.05), watched after every attempt
of a bank of 2,000, 1,000 times each: how often the sequential betting test
(harness.decide) decides on the wrong side, next to the old rule (a 95% Wilson interval
looked at every 25 results), and how many attempts each took. Goal: wrong <= 5%.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(policy: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "target", "serve", "reference-chat", "--port",
                             str(port), "--policy", policy], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the reference target ({policy}) did not start")


SUITES = ["genai.refusal", "genai.over-refusal", "genai.disclosure", "genai.privacy", "genai.injection",
          "genai.jailbreak", "genai.bias", "genai.accuracy", "genai.safe-completion"]


def simulate(reps: int = 1000, bank: int = 2000, seed: int = 2026) -> None:
    import random

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from harness.decide import Sequence
    from harness.metrics import wilson

    rng = random.Random(seed)
    print(f"# {reps} runs per row, a bank of {bank}, looked at after every attempt (Wilson: every 25)")
    print(f"{'true rate':>9} {'bound':>14}  {'betting: wrong, mean n':>24}  {'Wilson/25: wrong, mean n':>26}")
    for rate, keyword, bound in ((0.97, "minimum", 0.95), (0.93, "minimum", 0.95), (0.03, "maximum", 0.05),
                                 (0.07, "maximum", 0.05), (0.95, "minimum", 0.95), (0.05, "maximum", 0.05)):
        # exactly at the bound there is no right side: every early decision counts as wrong
        truth_above = rate > bound if rate != bound else None
        bet_wrong = wil_wrong = 0
        bet_n = wil_n = 0
        for _ in range(reps):
            xs = [float(rng.random() < rate) for _ in range(bank)]
            seq = Sequence(bound)
            side = None
            for i, x in enumerate(xs, 1):
                seq.add(x)
                if seq.side:
                    side = seq.side
                    break
            bet_n += i
            bet_wrong += side is not None and (truth_above is None or (side == "above") != truth_above)
            k = 0
            side = None
            for i, x in enumerate(xs, 1):
                k += int(x)
                if i % 25 == 0:
                    w = wilson(k, i)
                    if w["ci_low"] > bound or w["ci_high"] < bound:
                        side = "above" if w["ci_low"] > bound else "below"
                        break
            wil_n += i
            wil_wrong += side is not None and (truth_above is None or (side == "above") != truth_above)
        print(f"{rate:9.2f} {keyword + ' ' + str(bound):>14}  {bet_wrong / reps:10.3f} {bet_n / reps:12.0f}  "
              f"{wil_wrong / reps:12.3f} {wil_n / reps:12.0f}")


def main() -> int:
    if "--profile-only" not in sys.argv:
        simulate()
    if "--simulate" in sys.argv:
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="decided-"))
    print("# measure-xii-genai, its nine genai suites")
    for policy in ("safe", "unsafe"):
        proc, port = serve(policy)
        try:
            target = tmp / f"{policy}.yaml"
            target.write_text(f"name: ref-{policy}\nconnector: openai-chat\nbase_url: http://127.0.0.1:{port}/v1\n"
                              "model: m\nconcurrency: 16\n")
            results = {}
            for mode, extra in (("every case", []), ("--stop-when-decided", ["--stop-when-decided"])):
                run_id = f"{policy}-{'decided' if extra else 'all'}"
                started = time.monotonic()
                suites = [arg for suite in SUITES for arg in ("--suite", suite)]
                done = subprocess.run([sys.executable, "-m", "harness", "run", "--target", str(target), *suites,
                                       "--profile", "measure-xii-genai", "--out", str(tmp / "runs"), "--run-id",
                                       run_id, "--progress", "none", "--format", "json", *extra],
                                      capture_output=True, text=True, env={**os.environ, "CI": "true"})
                seconds = time.monotonic() - started
                report = json.loads((tmp / "runs" / run_id / "report.json").read_text())
                calls = report["metrics"]["totals"]["n"]
                verdicts = {c["id"]: c["status"] for c in report["criteria"]}
                results[mode] = (report["verdict"], verdicts)
                results[mode] = (report["verdict"], verdicts, calls)
                print(f"reference-chat {policy}, {mode}: {calls} calls, verdict {report['verdict']}, "
                      f"{seconds:.1f} s (exit {done.returncode}); decided early: "
                      f"{report['run'].get('decided_early') or {}}")
            full, early = results["every case"], results["--stop-when-decided"]
            differ = {k: (full[1][k], early[1].get(k)) for k in full[1] if full[1][k] != early[1].get(k)}
            print(f"reference-chat {policy}: {early[2] / full[2]:.0%} of the calls; same verdict: "
                  f"{'yes' if full[0] == early[0] else 'NO'}; criteria that differ: {differ or 'none'}")
        finally:
            proc.terminate()
            proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
