"""A replay of an episode from its summary: the episode records a compact frame every
few ticks (:func:`frame`: the time, the robot's joint positions, each person's place on
the floor); :func:`render` rebuilds the work cell, poses it as recorded and draws each
frame with PyBullet's TinyRenderer (headless), as PNG images the HTML report shows as a
flip-book. Nothing is simulated again: the frames are what the episode recorded.

:func:`frame` and :func:`png` need neither PyBullet nor NumPy; :func:`render` needs
PyBullet (and NumPy, which PyBullet's images come in when it is built with it).
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

#: frames an episode records, spread evenly over it (the summary carries at most this many)
FRAME_SAMPLES = 48
#: frames a replay shows, centred on the moment that matters
REPLAY_FRAMES = 16
#: the size of a replay frame, pixels
WIDTH, HEIGHT = 240, 180


def frame(world: Any, t: float, q: Sequence[float]) -> list[Any]:
    """One recorded frame: ``[t, [joint positions rad], [[x m, y m, heading rad, lift m,
    arm height m] per person]]``, rounded so a frame takes about 100 bytes of JSON."""
    people = []
    for human in world.humans:
        x, y, heading, _, _ = human.path.at(t)
        people.append([round(x, 3), round(y, 3), round(heading, 3), round(float(getattr(human.path, "lift", 0.0)), 3),
                       round(float(human.path.arm_height), 3)])
    return [round(t, 3), [round(float(v), 4) for v in q], people]


def pick(frames: Sequence[Sequence[Any]], focus_s: float | None, count: int = REPLAY_FRAMES) -> list[Any]:
    """``count`` consecutive frames centred on ``focus_s`` (the closest approach, the
    e-stop, the first contact...), or the first ``count`` without one."""
    frames = [f for f in frames if _valid(f)]
    if len(frames) <= count:
        return list(frames)
    if focus_s is None:
        centre = len(frames) // 2
    else:
        centre = min(range(len(frames)), key=lambda i: abs(float(frames[i][0]) - focus_s))
    start = max(0, min(len(frames) - count, centre - count // 2))
    return list(frames[start:start + count])


def _valid(f: Any) -> bool:
    try:
        return (isinstance(f, (list, tuple)) and len(f) == 3 and isinstance(f[1], (list, tuple))
                and isinstance(f[2], (list, tuple)) and all(len(p) == 5 for p in f[2])
                and float(f[0]) == float(f[0]))
    except (TypeError, ValueError):
        return False


class _Standing:
    """A person's path that keeps them where a frame says (what ``World`` asks of a path)."""

    def __init__(self, x: float, y: float, heading: float, arm_height: float) -> None:
        self.place = (x, y, heading)
        self.arm_height = arm_height

    def at(self, t: float) -> tuple[float, float, float, float, float]:
        x, y, heading = self.place
        return x, y, heading, 0.0, 0.0


def render(robot_id: str, frames: Sequence[Sequence[Any]], width: int = WIDTH, height: int = HEIGHT) -> list[bytes]:
    """The PNG images of ``frames`` of an episode of robot ``robot_id``."""
    import pybullet as pb

    from .robots import robot_model
    from .sim import HumanPath, World

    model = robot_model(robot_id)
    frames = [f for f in frames if _valid(f)]
    first = frames[0][2] if frames else []
    paths = [HumanPath([(p[0], p[1])] * 2, 0.0, arm_height=float(p[4])) for p in first]
    out = []
    with World(model, paths) as world:
        for human, p in zip(world.humans, first, strict=True):
            lift = float(p[3])
            if lift:
                human.offsets = [(x, y, z + lift) for x, y, z in human.offsets]
        joints = model.joints
        for t, q, people in frames:
            for j, v in zip(joints, q, strict=False):  # as recorded, even beyond a limit
                pb.resetJointState(world.robot, j, float(v), physicsClientId=world.client)
            if hasattr(world, "forget"):
                world.forget()  # the world's cached readings are stale now
            for human, p in zip(world.humans, people, strict=False):
                human.path = _Standing(float(p[0]), float(p[1]), float(p[2]), float(p[4]))
            world.t = float(t)
            world._place_humans()  # noqa: SLF001 - the same placement the episode used
            out.append(png(_rgb(world.render(width, height), width, height), width, height))
    return out


def _rgb(image: Any, width: int, height: int) -> bytes:
    """The RGB bytes of an RGBA image from ``getCameraImage`` (a NumPy array or a flat
    sequence, depending on how PyBullet was built)."""
    try:
        import numpy as np

        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]).tobytes()
    except ImportError:  # pragma: no cover - PyBullet without NumPy hands back a flat list
        flat = bytes(int(v) & 0xFF for v in image)
        return b"".join(flat[i:i + 3] for i in range(0, len(flat), 4))


def png(rgb: bytes, width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (``height`` rows of ``width`` pixels), with zlib and
    struct only."""
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"{len(rgb)} bytes is not a {width}x{height} RGB image")
    raw = b"".join(b"\x00" + rgb[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def data_uris(images: Iterable[bytes]) -> list[str]:
    return ["data:image/png;base64," + base64.b64encode(image).decode("ascii") for image in images]
