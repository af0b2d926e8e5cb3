from harness import manifest


def doc(**changes):
    base = {
        "suites": [{"id": "s", "version": "1", "sha256": "a" * 64, "cases": 3, "path": "/x/s.yaml"}],
        "profile": {"id": "p", "version": "1", "sha256": "b" * 64, "path": "/x/p.yaml"},
        "target": {"name": "t", "connector": "openai-chat", "model": "m", "settings_sha256": "c" * 64},
        "scorers": {"contains": "1"},
        "seed": 0,
        "epochs": 1,
        "created_at": "2026-01-01T00:00:00Z",
    }
    base.update(changes)
    return base


def test_same_inputs_hash_the_same_wherever_the_files_lie():
    moved = doc(suites=[{**doc()["suites"][0], "path": "/elsewhere/s.yaml"}], created_at="2027-01-01T00:00:00Z")
    assert manifest.inputs_sha256(doc()) == manifest.inputs_sha256(moved)
    assert manifest.drift(doc(), moved) == []


def test_drift_names_what_changed():
    changed = doc(suites=[{**doc()["suites"][0], "sha256": "d" * 64}], seed=7,
                  target={**doc()["target"], "model": "m2", "settings_sha256": "e" * 64})
    found = manifest.drift(doc(), changed)
    assert any(f.startswith("suite s changed (sha256 aaaaaaaaaaaa") for f in found)
    assert "seed was 0 and is now 7" in found
    assert "the target changed (model, settings_sha256)" in found
    assert manifest.inputs_sha256(doc()) != manifest.inputs_sha256(changed)


def test_added_and_removed_suites():
    more = doc(suites=doc()["suites"] + [{"id": "t", "version": "1", "sha256": "f" * 64, "cases": 1}])
    assert manifest.drift(doc(), more) == ["suite t is given now and was not in the run"]
    assert manifest.drift(more, doc()) == ["suite t was in the run and is not given now"]


def test_canonical_json_is_stable_and_utf8():
    assert manifest.canonical({"b": 1, "a": "中文"}) == '{"a":"中文","b":1}'.encode()
