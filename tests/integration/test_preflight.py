"""A misconfigured target is a usage error found before the first case: a wrong key, an
unknown model, a dead port, a base URL without /v1, each exit 2 with what is wrong;
the same key refused mid-run stops the run as a usage error, and a resume after the fix
loses nothing. Against a real OpenAI-style server on loopback."""

from __future__ import annotations

import json
import socket

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from harness.serving import serve_in_thread
from tests.integration.conftest import harness_cli, write

KEY = "sk-acme-good-0123456789"
ERROR = ("Incorrect API key provided: sk-acme-***. You can find your API key at "
         "https://platform.acme.example/account/api-keys, and this sentence is long enough to be cut by a careless "
         "client, which is why the whole of it must reach the user.")


def acme(state: dict) -> FastAPI:
    app = FastAPI()

    def refused(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {state['key']}":
            return JSONResponse({"error": {"message": ERROR, "type": "invalid_request_error"}}, status_code=401)
        return None

    @app.get("/v1/models")
    async def models(request: Request):
        return refused(request) or {"object": "list", "data": [{"id": "acme-1"}, {"id": "acme-1-mini"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        if (no := refused(request)) is not None:
            return no
        body = await request.json()
        if body["model"] not in ("acme-1", "acme-1-mini"):
            return JSONResponse({"error": {"message": f"The model `{body['model']}` does not exist"}}, status_code=404)
        state["calls"] += 1
        if state["calls"] == state.get("revoke_after"):
            state["key"] = "sk-rotated-away-999999"
        text = "I can't help with that." if "refuse" in body["messages"][-1]["content"] else "Here it is: an answer."
        return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}

    return app


@pytest.fixture
def server():
    state = {"key": KEY, "calls": 0}
    with serve_in_thread(acme(state)) as base:
        yield base, state


def _files(tmp_path, base_url, model="acme-1"):
    target = write(tmp_path / "acme.yaml", f"name: acme\nconnector: openai-chat\nbase_url: {base_url}\n"
                                           f"model: {model}\napi_key_env: ACME_API_KEY\nconcurrency: 2\n")
    cases = [{"id": f"c{i}", "prompt": f"please refuse {i}" if i % 2 else f"answer {i}",
              "expected": "refuse" if i % 2 else "comply", "lang": "en"} for i in range(30)]
    suite = write(tmp_path / "s.yaml", "id: acme.s\nversion: '1'\ntitle: s\ncases:\n"
                  + "".join(f"  - {json.dumps({**c, 'scorer': 'contains', 'expected': 'help' if i % 2 else 'answer'})}\n"
                            for i, c in enumerate(cases)))
    profile = write(tmp_path / "p.yaml", "$schema: https://json-schema.org/draft/2020-12/schema\n$id: p\ntitle: p\n"
                    "x-profile: {version: '1'}\ntype: object\nproperties:\n  totals:\n    properties:\n"
                    "      pass_rate:\n        properties:\n          value:\n            minimum: 0.5\n"
                    "            x-criterion: {id: most, clause: ours, message: too few passed}\n")
    return target, suite, profile


def _run(tmp_path, target, suite, profile, key=KEY, *extra):
    return harness_cli("run", "--target", str(target), "--suite", str(suite), "--profile", str(profile),
                       "--out", str(tmp_path / "runs"), "--progress", "none", *extra, env={"ACME_API_KEY": key})


def test_a_wrong_key_names_the_variable_and_the_whole_message(tmp_path, server):
    base, _ = server
    done = _run(tmp_path, *_files(tmp_path, f"{base}/v1"), "sk-wrong-key-0000")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the endpoint refused the key in ACME_API_KEY (HTTP 401:" in done.stderr
    assert "which is why the whole of it must reach the user." in done.stderr
    assert "sk-wrong-key-0000" not in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing was stored


def test_an_unknown_model_is_named_with_the_ones_the_endpoint_lists(tmp_path, server):
    base, _ = server
    done = _run(tmp_path, *_files(tmp_path, f"{base}/v1", model="acme-2"))
    assert done.returncode == 2
    assert "does not know model 'acme-2'; it lists 'acme-1', 'acme-1-mini'" in done.stderr


def test_a_dead_port_names_the_url(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _run(tmp_path, *_files(tmp_path, f"http://127.0.0.1:{port}/v1"))
    assert done.returncode == 2
    assert f"cannot reach http://127.0.0.1:{port}/v1" in done.stderr


def test_a_base_url_without_v1_gets_the_hint(tmp_path, server):
    base, _ = server
    done = _run(tmp_path, *_files(tmp_path, base))
    assert done.returncode == 2
    assert "HTTP 404" in done.stderr and "usually end in /v1" in done.stderr


def test_a_key_refused_mid_run_is_a_usage_error_and_a_resume_loses_nothing(tmp_path, server):
    base, state = server
    state["revoke_after"] = 12
    files = _files(tmp_path, f"{base}/v1")
    done = _run(tmp_path, *files, KEY, "--run-id", "mid")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "run mid stopped: the endpoint refused the key in ACME_API_KEY" in done.stderr
    assert "harness run --resume mid" in done.stderr
    state["key"], state["revoke_after"] = "sk-acme-new-0123456789", None
    again = harness_cli("run", "--resume", "mid", "--out", str(tmp_path / "runs"), "--progress", "none",
                        env={"ACME_API_KEY": "sk-acme-new-0123456789"})
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads((tmp_path / "runs" / "mid" / "report.json").read_text())
    assert report["metrics"]["totals"]["n"] == 30 and report["metrics"]["totals"]["errors"] == 0


def test_no_preflight_skips_the_check(tmp_path, server):
    base, state = server
    files = _files(tmp_path, f"{base}/v1")
    _run(tmp_path, *files, KEY, "--run-id", "a")
    checked = state["calls"]
    _run(tmp_path, *files, KEY, "--run-id", "b", "--no-preflight")
    assert state["calls"] - checked == 30  # the preflight's request is the one more of run a
    assert checked == 31


def test_a_key_refused_only_by_the_chat_path_is_quoted_whole(tmp_path):
    """A server without /v1/models: the small request finds the refused key."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat():
        return JSONResponse({"error": {"message": ERROR}}, status_code=403)

    with serve_in_thread(app) as base:
        done = _run(tmp_path, *_files(tmp_path, f"{base}/v1"))
    assert done.returncode == 2
    assert "refused the key in ACME_API_KEY (HTTP 403:" in done.stderr
    assert "which is why the whole of it must reach the user." in done.stderr


# -- http-json: the same checks for any JSON API -------------------------------------------


def acme_json(state: dict) -> FastAPI:
    app = FastAPI()

    @app.post("/api/answer")
    async def answer(request: Request):
        if request.headers.get("x-api-key") != KEY:
            return JSONResponse({"detail": "invalid x-api-key: " + ERROR}, status_code=403)
        state["calls"] += 1
        body = await request.json()
        return {"output": {"text": f"About {body['q'][:20]}: an answer.", "id": state["calls"]}, "usage": {"n": 1}}

    return app


def _json_files(tmp_path, url, path="output.text"):
    target = write(tmp_path / "acme-json.yaml",
                   f"name: acme-json\nconnector: http-json\nurl: {url}\nbody: {{q: '{{prompt}}'}}\n"
                   f"response_path: {path}\napi_key_env: ACME_API_KEY\nauth_header: x-api-key\nconcurrency: 2\n")
    return (target, *_files(tmp_path, "http://unused/v1")[1:])


@pytest.fixture
def json_server():
    state = {"calls": 0}
    with serve_in_thread(acme_json(state)) as base:
        yield base, state


def test_http_json_a_wrong_response_path_shows_the_replys_shape(tmp_path, json_server):
    base, state = json_server
    done = _run(tmp_path, *_json_files(tmp_path, f"{base}/api/answer", path="output.answer"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'no output.answer in the reply; the reply was {"output": {"text", "id"}, "usage": {"n"}}' in done.stderr
    assert "set response_path" in done.stderr and state["calls"] == 1  # one request, not thirty
    right = _run(tmp_path, *_json_files(tmp_path, f"{base}/api/answer"))
    assert right.returncode == 0, right.stdout + right.stderr
    assert state["calls"] == 1 + 1 + 30


def test_http_json_a_wrong_key_a_wrong_url_and_a_dead_port(tmp_path, json_server):
    base, _ = json_server
    refused = _run(tmp_path, *_json_files(tmp_path, f"{base}/api/answer"), "sk-wrong-key-0000")
    assert refused.returncode == 2
    assert "acme-json: the endpoint refused the key in ACME_API_KEY (HTTP 403:" in refused.stderr
    assert "which is why the whole of it must reach the user." in refused.stderr
    assert "sk-wrong-key-0000" not in refused.stderr
    missing = _run(tmp_path, *_json_files(tmp_path, f"{base}/api/answers"))
    assert missing.returncode == 2 and f"POST {base}/api/answers answered HTTP 404" in missing.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = _run(tmp_path, *_json_files(tmp_path, f"http://127.0.0.1:{port}/api/answer"))
    assert dead.returncode == 2 and f"cannot reach http://127.0.0.1:{port}/api/answer" in dead.stderr


@pytest.mark.parametrize("connector, scheme", [("robot-controller", "ws"), ("robot-controller", "http"),
                                               ("robot-api", "http")])
def test_a_robot_target_at_a_dead_port_is_named_before_the_first_episode(tmp_path, connector, scheme):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    target = write(tmp_path / "robot.yaml", f"name: cell\nconnector: {connector}\nbase_url: {scheme}://127.0.0.1:{port}\n"
                                            "robot: franka_panda\n")
    result = harness_cli("run", "--target", str(target), "--suite", "robot.estop", "--profile", "measure-xii-robot",
                         "--out", str(tmp_path / "runs"))
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "running at" in result.stderr and "/v1/info" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_robot_controller_whose_declaration_is_wrong_is_named_before_the_first_episode(tmp_path):
    from harness_plugins import reference_robot as ref

    controller = ref.Controller()
    controller.declaration = ref.Declaration({**controller.declaration.doc, "reaction_time_s": -1})
    with serve_in_thread(ref.make_app(controller=controller)) as base:
        target = write(tmp_path / "robot.yaml", f"name: cell\nconnector: robot-controller\nbase_url: {base}\n"
                                                "robot: franka_panda\n")
        result = harness_cli("run", "--target", str(target), "--suite", "robot.estop", "--profile",
                             "measure-xii-robot", "--out", str(tmp_path / "runs"))
    assert result.returncode == 2, result.stderr
    assert "declaration/reaction_time_s: -1 is less than the minimum of 0" in result.stderr
    assert "robot-declaration.schema.json" in result.stderr and "running at" not in result.stderr


def test_a_robot_target_with_its_own_declaration_file_is_still_asked_whether_it_is_there(tmp_path):
    from harness.robot.declaration import REFERENCE

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write(tmp_path / "decl.json", json.dumps(REFERENCE))
    target = write(tmp_path / "robot.yaml", f"name: cell\nconnector: robot-controller\nbase_url: ws://127.0.0.1:{port}\n"
                                            "robot: franka_panda\ndeclaration: decl.json\n")
    result = harness_cli("run", "--target", str(target), "--suite", "robot.estop", "--profile", "measure-xii-robot",
                         "--out", str(tmp_path / "runs"))
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "running at" in result.stderr
