"""Time from `harness run` to its exit on each misconfiguration of a target.

    uv run python benchmarks/preflight.py

Serves an OpenAI-style endpoint on loopback that takes one key and knows one model, and
runs the real command (a subprocess, as a user would) with a wrong key, an unknown
model, a dead port and a base URL without /v1. Prints, per case, the exit code, the
seconds to exit (Python start and plugin loading included) and the message's first line.
Issue 13's goal: exit 2 within 5 s on each.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.serving import serve_in_thread  # noqa: E402

KEY = "sk-bench-good-0123456789"


def app() -> FastAPI:
    api = FastAPI()

    def denied(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": {"message": "Incorrect API key provided."}}, status_code=401)
        return None

    @api.get("/v1/models")
    async def models(request: Request):
        return denied(request) or {"data": [{"id": "bench-1"}]}

    @api.post("/v1/chat/completions")
    async def chat(request: Request):
        if (no := denied(request)) is not None:
            return no
        body = await request.json()
        if body["model"] != "bench-1":
            return JSONResponse({"error": {"message": "model not found"}}, status_code=404)
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}

    return api


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with serve_in_thread(app()) as base, tempfile.TemporaryDirectory() as tmp:
        cases = {"wrong key": (f"{base}/v1", "bench-1", "sk-wrong-0000000"),
                 "unknown model": (f"{base}/v1", "bench-2", KEY),
                 "dead port": (f"http://127.0.0.1:{dead}/v1", "bench-1", KEY),
                 "no /v1 in base_url": (base, "bench-1", KEY)}
        print(f"{'misconfiguration':22} {'exit':>4} {'seconds':>8}  message")
        for name, (url, model, key) in cases.items():
            target = Path(tmp) / "t.yaml"
            target.write_text(f"name: bench\nconnector: openai-chat\nbase_url: {url}\nmodel: {model}\n"
                              "api_key_env: BENCH_KEY\n")
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "harness", "run", "--target", str(target), "--suite",
                                   "starter.refusal", "--profile", "starter", "--out", str(Path(tmp) / "runs"),
                                   "--progress", "none"], capture_output=True, text=True,
                                  env={**os.environ, "BENCH_KEY": key}, timeout=120)
            seconds = time.perf_counter() - started
            first = next((line for line in done.stderr.splitlines() if line.startswith("error")), done.stderr[:80])
            print(f"{name:22} {done.returncode:>4} {seconds:8.2f}  {first[:110]}")


if __name__ == "__main__":
    main()
