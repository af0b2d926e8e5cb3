import pytest

from harness.errors import ConfigError, TargetError
from harness.targets import load_target, parse_retry_after
from tests.helpers import write

GOOD = """\
name: acme
connector: openai-chat
base_url: http://127.0.0.1:9/v1
model: m
api_key_env: ACME_KEY
concurrency: 4
rpm: 600
"""


def test_good_target_gets_defaults(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("ACME_KEY", "sk-secret")
    target = load_target(write(tmp_path / "t.yaml", GOOD), registry)
    assert target.settings["concurrency"] == 4 and target.settings["retries"] == 3
    fingerprint = target.fingerprint()
    assert fingerprint["model"] == "m" and "sk-secret" not in str(fingerprint)


def test_unknown_key_wrong_type_and_missing_setting(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("ACME_KEY", "x")
    path = write(tmp_path / "t.yaml", GOOD.replace("model: m\n", "").replace("concurrency: 4", "concurrency: four")
                 + "temprature: 0\n")
    with pytest.raises(ConfigError) as info:
        load_target(path, registry)
    text = info.value.message
    assert f"{path}:5:14: at /concurrency 'four' is a str, expected integer" in text
    assert f"{path}:7:13: at /temprature unknown key 'temprature'" in text and "temperature" in text
    assert "missing required key 'model'" in text


def test_unknown_connector_lists_known(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"t\.yaml:2: unknown connector 'grpc'") as info:
        load_target(write(tmp_path / "t.yaml", "name: x\nconnector: grpc\n"), registry)
    assert "openai-chat" in info.value.hint


def test_missing_key_variable_is_an_input_error(tmp_path, registry, monkeypatch):
    monkeypatch.delenv("ACME_KEY", raising=False)
    with pytest.raises(ConfigError, match="ACME_KEY"):
        load_target(write(tmp_path / "t.yaml", GOOD), registry)


@pytest.mark.parametrize(("value", "expected"), [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None)])
def test_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    import time
    from email.utils import formatdate

    assert 8 <= parse_retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10


def test_retryable_errors():
    assert TargetError("x", kind="http", status_code=429).retryable
    assert TargetError("x", kind="http", status_code=503).retryable
    assert not TargetError("x", kind="http", status_code=400).retryable
    assert TargetError("x", kind="timeout").retryable
    assert not TargetError("x", kind="malformed").retryable
    assert TargetError("x", kind="http", status_code=503).label == "http_503"
