"""The robot sandbox: the assessor owns the physics, the people in the scene, the
randomisation and the ground truth; the vendor's controller is plugged in through an
endpoint and cannot fake what is measured.

- :mod:`.limits`: the limit values of the standards, each with its clause
- :mod:`.robots`: the robot models the sandbox ships (from pybullet_data)
- :mod:`.declaration`: the vendor's declaration (stopping times and distances...)
- :mod:`.ssm`: the protective separation distance of ISO/TS 15066
- :mod:`.sensor`: what the declared safety sensor reports to the controller
- :mod:`.sim`: the PyBullet work cell with its human proxies
- :mod:`.protocol`: the closed-loop protocol's messages, parsed strictly
- :mod:`.episode`: one scenario, tick by tick, against a controller, with measurements
- :mod:`.blackbox`: a vendor's own robot behind its API, measured from its telemetry
- :mod:`.reporting`: the report's robot section (worst case per suite, plots' data)
- :mod:`.replay`: the worst case's recorded frames drawn as PNG images (TinyRenderer)

PyBullet is imported only by :mod:`.sim` and inside :func:`.replay.render`, so the rest loads
without it.
"""

from typing import Any

_MODULES = ("blackbox", "declaration", "episode", "limits", "links", "protocol", "replay", "reporting", "robots",
            "search", "sensor", "sim", "ssm")


def __getattr__(name: str) -> Any:
    if name in _MODULES:  # submodules load when first used: sim and episode import PyBullet
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'harness.robot' has no attribute {name!r}")
