"""Signed reports: RFC 8785 canonical JSON, Ed25519 keys, signing and verifying, and the
check of suite and profile files against the sha256 in a report's manifest."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from harness import ProbeSpec, hookimpl, signing
from harness.criteria import load_profile
from harness.errors import ConfigError
from harness.plugins import Registry, make_plugin_manager
from harness.probes import expand
from harness.resources import data_dir
from harness.signing import (
    canonical_json,
    generate_keys,
    key_id,
    load_public_key,
    sign,
    verify,
)
from harness.suite import load_suite, resolve_suite
from tests.helpers import write

# ---------------------------------------------------------------------------
# canonical JSON (RFC 8785)
# ---------------------------------------------------------------------------

# RFC 8785 appendix B: IEEE 754 bits -> the ECMAScript form; the expected strings follow
# Number.prototype.toString: shortest round-trip digits, plain notation for decimal
# exponents from -6 to 21, else d.ddde+/-x
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # -0
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBERS, ids=[b for b, _ in NUMBERS])
def test_numbers_are_written_as_ecmascript_writes_them(bits, expected):
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize(("value", "expected"), [
    (1.0, "1"), (100.0, "100"), (0.5, "0.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
    (1e-6, "0.000001"), (1e-7, "1e-7"), (123e-20, "1.23e-18"), (-1.5, "-1.5"), (0.1 + 0.2, "0.30000000000000004"),
    (4.50, "4.5"), (2e-3, "0.002"), (1e30, "1e+30"), (0, "0"), (-7, "-7"), (2**53 - 1, "9007199254740991"),
])
def test_more_numbers(value, expected):
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 2**53, -(2**53), 10**30])
def test_nan_infinity_and_unsafe_integers_are_refused(bad):
    with pytest.raises(ValueError):
        canonical_json({"x": [bad]})


def test_rfc8785_example_of_section_3_2_2():
    # the input of RFC 8785 3.2.2, as JSON text, and the output it gives in 3.2.3
    text = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
            ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
            ' "literals": [null, true, false]}')
    expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canonical_json(json.loads(text)) == expected.encode("utf-8")


def test_rfc8785_sorting_example_orders_keys_by_utf16_code_units():
    doc = json.loads('{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With '
                     'Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
                     '"\\u00f6": "Latin Small Letter O With Diaeresis"}')
    out = canonical_json(doc).decode("utf-8")
    keys = list(json.loads(out))
    # U+1F600 sorts before U+FB33: its first UTF-16 code unit is 0xD83D (by code point it would come last)
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert out.startswith('{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":')
    assert '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}' in out


def test_strings_escape_only_what_jcs_escapes():
    value = "".join(chr(i) for i in range(0x20)) + '"\\/\x7f\u2028é中'
    expected = ('"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f'
                '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c'
                '\\u001d\\u001e\\u001f\\"\\\\/\x7f\u2028é中"')
    assert canonical_json(value) == expected.encode("utf-8")
    assert signing._py_string(value) == expected  # the fallback without the json C module


def test_structure_whitespace_and_literals():
    doc = {"b": [1, {"z": None, "a": True}, []], "a": {}, "c": False, "": "empty", "aa": (1, 2)}
    assert canonical_json(doc) == b'{"":"empty","a":{},"aa":[1,2],"b":[1,{"a":true,"z":null},[]],"c":false}'


def test_what_is_not_json_is_refused():
    with pytest.raises(TypeError):
        canonical_json({1: "int key"})
    with pytest.raises(TypeError):
        canonical_json({"x": {1, 2}})
    with pytest.raises(ValueError):
        canonical_json("\ud800 lone surrogate")


# ---------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path) -> tuple[Path, Path]:
    return generate_keys(tmp_path / "keys")


def test_generated_keys_are_pem_ed25519_and_the_private_one_is_private(keys):
    private, public = keys
    assert private.name == "private.pem" and public.name == "public.pem"
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")  # SubjectPublicKeyInfo
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_public_key(public)
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key) == hashlib.sha256(raw).hexdigest()[:16]
    assert key_id(load_public_key(private)) == key_id(key)  # a private key gives its public half


def test_keys_are_not_replaced_without_force(keys):
    private, public = keys
    before = private.read_bytes()
    with pytest.raises(ConfigError, match="already exist"):
        generate_keys(private.parent)
    assert private.read_bytes() == before
    generate_keys(private.parent, force=True)
    assert private.read_bytes() != before
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_unreadable_or_wrong_keys_are_config_errors(tmp_path, keys):
    private, public = keys
    with pytest.raises(ConfigError, match="cannot be read"):
        signing.load_private_key(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        signing.load_private_key(public)
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_public_key(write(tmp_path / "junk.pem", "hello"))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "ec.pem").write_bytes(other)
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        signing.load_private_key(tmp_path / "ec.pem")


# ---------------------------------------------------------------------------
# sign and verify
# ---------------------------------------------------------------------------

SUITE = "id: genai.refusal\nversion: '1'\ntitle: Refusal\nscorer: contains\ncases:\n  - {id: a, prompt: 'hi', expected: hi}\n"
OTHER = "id: other\nversion: '2'\ntitle: Other\nscorer: contains\ncases:\n  - {id: b, prompt: 'yo', expected: yo}\n"
PROFILE = """\
$id: test-profile
title: Test profile
x-profile: {version: "1"}
type: object
properties:
  suites:
    properties:
      genai.refusal:
        properties:
          pass_rate:
            properties:
              value: {minimum: 0.5, x-criterion: {id: passes, clause: test, message: Too few passes.}}
"""


def rate(value: float, n: int) -> dict[str, float | int]:
    return {"value": value, "ci_low": value / 2, "ci_high": min(1.0, value * 1.1), "n": n}


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    return {"suites": tmp_path / "suites", "refusal": write(tmp_path / "suites" / "genai" / "refusal.yaml", SUITE),
            "other": write(tmp_path / "suites" / "other.yaml", OTHER), "profile": write(tmp_path / "profile.yaml", PROFILE)}


@pytest.fixture
def report(files) -> dict:
    suites = [load_suite(files["refusal"]), load_suite(files["other"])]
    profile = load_profile(files["profile"])
    return {
        "format": "harness-report/1", "verdict": "PASS", "reason": "all criteria pass",
        "criteria": [{"id": "passes", "status": "pass", "clause": "test", "message": "Too few passes.",
                      "measured": 0.8125, "rate": rate(0.8125, 16)}],
        "metrics": {"suites": {"genai.refusal": {"n": 16, "pass_rate": rate(0.8125, 16), "error_rate": 0.0,
                                                 "by_language": {"zh": {"n": 8}, "en": {"n": 8}}}}},
        "run": {"id": "r1", "status": "finished", "created_at": "2026-01-01T00:00:00.000000Z"},
        "manifest": {"suites": [{"id": s.id, "version": s.version, "sha256": s.sha256, "cases": len(s.cases),
                                 "path": str(s.path)} for s in suites],
                     "profile": {"id": profile.id, "version": profile.version, "sha256": profile.sha256},
                     "seed": 0, "epochs": 1},
        "failures": [{"prompt": "说明一下 \u2028 \"quoted\"", "response": "拒绝"}],
    }


def test_sign_adds_the_signature_member_and_leaves_the_rest(report, keys):
    signed = sign(report, keys[0])
    assert {k: v for k, v in signed.items() if k != "signature"} == report
    sig = signed["signature"]
    assert sig["alg"] == "Ed25519" and sig["canonical"] == "RFC8785"
    assert sig["key_id"] == key_id(load_public_key(keys[1]))
    assert len(base64.b64decode(sig["value"])) == 64
    assert "signature" not in report  # the caller's report is not changed
    # the signature covers the canonical JSON without the signature member
    load_public_key(keys[1]).verify(base64.b64decode(sig["value"]), canonical_json(report))
    # signing again replaces the old signature rather than signing it
    assert sign(signed, keys[0])["signature"] == sig  # Ed25519 is deterministic


def test_a_signed_report_verifies_in_memory_and_from_any_rendering_of_the_file(report, keys, tmp_path):
    signed = sign(report, keys[0])
    assert verify(signed, keys[1]) == []
    for text in (json.dumps(signed, indent=2, ensure_ascii=False),  # as report.json is written
                 json.dumps(signed, ensure_ascii=True),
                 json.dumps(dict(reversed(list(signed.items()))), indent=4)):
        path = write(tmp_path / "report.json", text)
        assert verify(signing.load_report(path), keys[1]) == []


def _flip_digit(text: str, anchor: str) -> str:
    at = text.index(anchor) + len(anchor)
    while not text[at].isdigit():
        at += 1
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1:]


def test_flipping_one_byte_of_the_file_is_caught(report, keys, tmp_path):
    path = write(tmp_path / "report.json", json.dumps(sign(report, keys[0]), indent=2, ensure_ascii=False))
    text = path.read_text(encoding="utf-8")
    tampered = _flip_digit(text, '"pass_rate": {\n')  # a digit of a metric's value
    assert len(tampered.encode()) == len(text.encode()) and tampered != text
    path.write_text(tampered, encoding="utf-8")
    assert verify(signing.load_report(path), keys[1]) == [
        "the signature does not match: the report was changed after signing"]


def test_changing_a_metric_value_is_caught(report, keys):
    signed = sign(report, keys[0])
    signed["metrics"]["suites"]["genai.refusal"]["pass_rate"]["value"] = 0.99
    assert verify(signed, keys[1]) == ["the signature does not match: the report was changed after signing"]


@pytest.mark.parametrize("change", [
    lambda r: r.__setitem__("verdict", "FAIL"),
    lambda r: r["criteria"].append({"id": "x", "status": "pass", "clause": "c", "message": "m"}),
    lambda r: r["manifest"]["suites"][0].__setitem__("sha256", "0" * 64),
    lambda r: r.__setitem__("extra", None),
    lambda r: r["failures"][0].__setitem__("response", "拒绝 "),
    lambda r: r["metrics"]["suites"]["genai.refusal"].__setitem__("n", 16.5),
])
def test_any_change_of_content_is_caught(report, keys, change):
    signed = json.loads(json.dumps(sign(report, keys[0])))
    change(signed)
    assert verify(signed, keys[1]) == ["the signature does not match: the report was changed after signing"]


def test_a_removed_signature_is_caught(report, keys):
    signed = sign(report, keys[0])
    del signed["signature"]
    [problem] = verify(signed, keys[1])
    assert "no signature" in problem


def test_a_report_that_cannot_be_canonical_is_caught(report, keys):
    signed = sign(report, keys[0])
    signed["metrics"]["suites"]["genai.refusal"]["n"] = float("nan")
    [problem] = verify(signed, keys[1])
    assert "changed after signing" in problem and "NaN" in problem


def test_a_garbled_signature_is_caught(report, keys):
    signed = sign(report, keys[0])
    signed["signature"]["value"] = "not base64!"
    assert verify(signed, keys[1]) == ["the signature's value is not base64"]
    signed["signature"] = "abc"
    assert verify(signed, keys[1]) == ["the report's signature is not an object"]


def test_the_wrong_key_is_caught_with_both_key_ids(report, keys, tmp_path):
    signed = sign(report, keys[0])
    _, other_public = generate_keys(tmp_path / "other")
    mine, theirs = key_id(load_public_key(keys[1])), key_id(load_public_key(other_public))
    assert verify(signed, other_public) == [f"signed with key {mine}, you gave {theirs}"]
    # a key id rewritten to match the other key does not help: the signature fails
    signed["signature"]["key_id"] = theirs
    assert verify(signed, other_public) == ["the signature does not match: the report was changed after signing"]


def test_matching_suite_and_profile_files_are_intact(report, keys, files):
    signed = sign(report, keys[0])
    assert verify(signed, keys[1], files["suites"], files["profile"]) == []


def test_a_suite_file_edited_on_disk_is_named(report, keys, files):
    signed = sign(report, keys[0])
    recorded = report["manifest"]["suites"][0]["sha256"]
    write(files["refusal"], SUITE.replace("prompt: 'hi'", "prompt: 'hello'"))
    now = load_suite(files["refusal"]).sha256
    assert verify(signed, keys[1], files["suites"]) == [
        f"suite genai.refusal: sha256 {recorded[:12]}… in the report, {now[:12]}… on disk ({files['refusal']})"]


def test_a_suite_missing_from_the_folder_is_named(report, keys, files):
    signed = sign(report, keys[0])
    files["other"].unlink()
    assert verify(signed, keys[1], files["suites"]) == [f"suite other of the report is not in {files['suites']}"]


def test_a_suite_file_that_no_longer_loads_is_named(report, keys, files):
    signed = sign(report, keys[0])
    write(files["other"], OTHER.replace("title: Other\n", ""))  # still id: other, but invalid
    [problem] = verify(signed, keys[1], files["suites"])
    assert problem.startswith(f"suite other: {files['other']} cannot be loaded")


def test_an_edited_profile_is_named(report, keys, files):
    signed = sign(report, keys[0])
    write(files["profile"], PROFILE.replace("minimum: 0.5", "minimum: 0.1"))
    [problem] = verify(signed, keys[1], profile=files["profile"])
    assert problem.startswith("profile test-profile: sha256 ") and str(files["profile"]) in problem


def test_file_problems_and_a_bad_signature_are_all_reported(report, keys, files):
    signed = sign(report, keys[0])
    signed["verdict"] = "FAIL"
    write(files["refusal"], SUITE + "# edited\n")
    problems = verify(signed, keys[1], files["suites"], files["profile"])
    assert len(problems) == 2 and "changed after signing" in problems[0] and "suite genai.refusal" in problems[1]


def test_missing_folder_profile_or_key_are_config_errors(report, keys, files, tmp_path):
    signed = sign(report, keys[0])
    with pytest.raises(ConfigError, match="no such folder"):
        verify(signed, keys[1], tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no such profile file"):
        verify(signed, keys[1], profile=tmp_path / "nowhere.yaml")
    with pytest.raises(ConfigError, match="cannot be read"):
        verify(signed, tmp_path / "nowhere.pem")


# ---------------------------------------------------------------------------
# derived suites: expanded with the manifest's seed
# ---------------------------------------------------------------------------


class Probes:
    @hookimpl
    def register_probes(self):
        def shout():
            return lambda case, rng: replace(case, messages=({"role": "user", "content": case.prompt.upper()},))

        return [ProbeSpec("shout", shout, "1")]


DERIVED = "id: jb\nversion: '1'\ntitle: Jailbreak\nderive: {from: genai.refusal, probes: [shout]}\n"


@pytest.fixture
def probes_registry() -> Registry:
    pm = make_plugin_manager()
    pm.register(Probes())
    return Registry(pm)


def test_a_derived_suite_is_expanded_with_the_seed_and_its_base_from_the_folder(report, keys, files, probes_registry):
    path = write(files["suites"] / "jb.yaml", DERIVED)

    class InFolder:  # the run found genai.refusal in the folder (by id, as a run does)
        def __getattr__(self, name):
            return getattr(probes_registry, name)

        def suite_dirs(self):
            return [files["suites"]]

    jb = expand(load_suite(path), InFolder(), seed=7)  # type: ignore[arg-type]
    report["manifest"]["seed"] = 7
    report["manifest"]["suites"].append({"id": "jb", "version": "1", "sha256": jb.sha256, "cases": len(jb.cases)})
    signed = sign(report, keys[0])
    assert verify(signed, keys[1], files["suites"], registry=probes_registry) == []
    assert verify(signed, keys[1], files["suites"], registry=lambda: probes_registry) == []

    # the base changes: both the base and the derived suite differ from the report
    write(files["refusal"], SUITE + "# edited\n")
    problems = verify(signed, keys[1], files["suites"], registry=probes_registry)
    assert [p.split(":")[0] for p in problems] == ["suite genai.refusal", "suite jb"]
    assert f"a derived suite: its hash covers jb.yaml, its base genai.refusal ({files['refusal']}) and seed 7" in problems[1]


def test_a_derived_suite_checked_with_another_seed_differs(report, keys, files, probes_registry):
    write(files["suites"] / "jb.yaml", DERIVED)
    report["manifest"]["seed"] = 7
    report["manifest"]["suites"].append({"id": "jb", "version": "1", "sha256": "0" * 64, "cases": 1})
    [problem] = verify(sign(report, keys[0]), keys[1], files["suites"], registry=probes_registry)
    assert problem.startswith("suite jb: sha256 000000000000… in the report")


def test_a_derived_suite_whose_probe_is_unknown_is_named(report, keys, files):
    write(files["suites"] / "jb.yaml", DERIVED.replace("[shout]", "[no-such-probe]"))
    report["manifest"]["suites"].append({"id": "jb", "version": "1", "sha256": "0" * 64, "cases": 1})
    [problem] = verify(sign(report, keys[0]), keys[1], files["suites"], registry=Registry(make_plugin_manager()))
    assert problem.startswith("suite jb: ") and "no-such-probe" in problem


def test_the_shipped_jailbreak_suite_checks_against_the_shipped_folder(registry, report, keys):
    jailbreak = expand(resolve_suite("genai.jailbreak", registry), registry, 3)
    report["manifest"]["seed"] = 3
    report["manifest"]["suites"] = [{"id": "genai.jailbreak", "version": jailbreak.version,
                                     "sha256": jailbreak.sha256, "cases": len(jailbreak.cases)}]
    signed = sign(report, keys[0])
    assert verify(signed, keys[1], data_dir("suites")) == []  # the installed plugins' probes
    signed["manifest"]["seed"] = 4  # (changes the report too, so the signature fails first)
    problems = verify(signed, keys[1], data_dir("suites"))
    assert "changed after signing" in problems[0] and problems[1].startswith("suite genai.jailbreak: sha256")
