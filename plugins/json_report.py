"""The JSON report format: ``report.json``, the document of record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import ReporterSpec, hookimpl


def render(report: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / "report.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return path


@hookimpl
def register_reporters() -> list[ReporterSpec]:
    return [ReporterSpec("json", render, "the JSON report (report.json), checked against schemas/report.schema.json")]
