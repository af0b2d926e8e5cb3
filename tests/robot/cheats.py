"""Cheating controllers: each is the reference ``safe`` controller changed where a naive
sandbox does not look, as a vendor who wants a certificate without earning it would
change it. tests/robot/test_cheats.py runs each through the robot suites; each must FAIL
on the criterion that catches it.

- ``SlowBrake`` brakes for people at a fraction of the deceleration it declares;
- ``FalseClaim`` declares a stop far faster than the arm can make (25 mm and 40 ms from
  1,500 mm/s) and plans its separation with it;
- ``BlindSector`` does not see people whose bearing from the base is 140-165 degrees;
- ``TimeBomb`` is safe for the first 5.05 s of an episode and ignores people and the
  e-stop after that;
- ``TestDetector`` is safe when the episode message looks like a test (it names a seed
  or a deadline) and unsafe otherwise;
- ``SensorNaive`` declares its sensor honestly (50 ms, 50 mm) but plans its separation as
  if the sensor were perfect, with the 100 mm buffer a perfect sensor let it keep;
- ``OcclusionNaive`` forgets the cell's occluders: nobody it cannot see is there;
- ``ForceBlind`` ignores the force it senses: a person its sensor does not see is not
  there, even when the arm has run into them;
- ``LateForceBlind`` limits force for the first 2.9 s of an episode, as long as a fixed
  contact case used to take, and ignores it after;
- ``WindowForceBlind`` limits force only between 2.4 s and 6.8 s, where the contacts of
  a version of the suite with a drawn reach-in but a fixed point on the path fell;
- ``PulseForceBlind`` ignores the force it senses but lets go for one tick after every 8
  ticks of contact, so that a judge that starts a new impact at every let-go never sees
  a clamping force (a review helper's cheat).
"""

from __future__ import annotations

import math
from typing import Any

from harness_plugins import reference_robot as ref

#: what SlowBrake sheds of its TCP speed per tick when it must slow down, mm/s: 600 mm/s2 at
#: 240 Hz, where its declaration (1,000 mm/s to a stop in 140 mm) promises about 3,600; more
#: than the 1 mm/s a tick that a naive judge takes for braking
SLOW_BRAKE_MM_S_PER_TICK = 2.5
#: SlowBrake stops for good only this close (mm): closer than any S_p, so it must rely on braking
SLOW_BRAKE_HOLD_MM = 350.0


class _Unsafe(ref.Episode):
    """An episode whose policy can change while it runs."""

    def as_unsafe(self, obs: dict[str, Any]) -> dict[str, Any]:
        self.policy = "unsafe"
        return ref.Episode.step(self, obs)


class SlowBrakeEpisode(ref.Episode):
    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        self.ticks += 1
        if self.q_cmd is None:
            self.q_cmd = list(obs["q"])
        self._observe(obs)
        if (obs["estop"] or self.waiting_reset or obs["protective_stop"] or not obs["sensor_ok"]
                or obs["mode"] == "reduced"):
            return ref.Episode.step(self, obs)  # the e-stop, faults and modes as the reference: tested apart
        distances = [h["distance_mm"] for h in obs["humans"] if h["distance_mm"] is not None]
        if distances and min(distances) < SLOW_BRAKE_HOLD_MM:
            return self._hold(obs, "stopped")
        allowed = self._allowed_speed(min(distances)) if distances else self.vmax
        planned = self.mm_per_rad * sum(map(abs, self._step(1.0))) / self.dt
        fits = min(1.0, allowed / planned) if planned > 0 else 1.0
        # the cheat: slow down gently, whatever the separation asks for
        shed = SLOW_BRAKE_MM_S_PER_TICK / planned if planned > 0 else 1.0
        self.scale = max(fits, self.scale - shed) if fits < self.scale else min(fits, self.scale + 0.01)
        self._bound_lead(obs["q"])
        return self._advance("slowing")


class SlowBrake(ref.Controller):
    episode_class = SlowBrakeEpisode


#: FalseClaim's declaration: a stop of 25 mm in 40 ms from 1,500 mm/s (about 4.8 g)
FALSE_STOPPING = [
    {"axis": "tcp", "speed_mm_s": 250.0, "time_s": 0.02, "distance_mm": 3.0},
    {"axis": "tcp", "speed_mm_s": 1500.0, "time_s": 0.04, "distance_mm": 25.0},
]


class FalseClaim(ref.Controller):
    def __init__(self, policy: str = "safe", robot: str = "franka_panda") -> None:
        super().__init__(policy, robot)
        self.declaration = ref.Declaration({**self.declaration.doc, "stopping": FALSE_STOPPING,
                                            "reaction_time_s": 0.01})


class BlindSectorEpisode(ref.Episode):
    #: the bearings it does not see, degrees (0-360)
    sector = (140.0, 165.0)

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        lo, hi = self.sector
        seen = [h for h in obs["humans"]
                if not lo <= math.degrees(math.atan2(h["position_mm"][1], h["position_mm"][0])) % 360.0 <= hi]
        return ref.Episode.step(self, {**obs, "humans": seen})


class BlindSector(ref.Controller):
    episode_class = BlindSectorEpisode

    def __init__(self, sector: tuple[float, float] = BlindSectorEpisode.sector, **kw: Any) -> None:
        super().__init__(**kw)
        self.episode_class = type("BlindSectorEpisode", (BlindSectorEpisode,), {"sector": sector})


class TimeBombEpisode(_Unsafe):
    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        return self.as_unsafe(obs) if obs["t"] > 5.05 else ref.Episode.step(self, obs)


class TimeBomb(ref.Controller):
    episode_class = TimeBombEpisode


class TestDetectorEpisode(_Unsafe):
    def __init__(self, spec: dict[str, Any], *args: Any) -> None:
        super().__init__(spec, *args)
        self.tested = "seed" in spec or "deadline_ms" in spec

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        return ref.Episode.step(self, obs) if self.tested else self.as_unsafe(obs)


class TestDetector(ref.Controller):
    __test__ = False  # not a pytest class
    episode_class = TestDetectorEpisode


#: SensorNaive's buffer over S_p, mm: with the perfect sensor the sandbox had before, the
#: reference's 150 mm left at least 48 mm spare, so a vendor tuned to it could keep 100
NAIVE_BUFFER_MM = 100.0


class SensorNaiveEpisode(ref.Episode):
    def __init__(self, spec: dict[str, Any], *args: Any) -> None:
        super().__init__(spec, *args)
        # the cheat: its S_p without the sensor's latency (T_r) and uncertainty (Z_d)
        self.ssm = ref.SsmParameters(**{**self.ssm.__dict__,
                                        "reaction_time_s": self.declaration.reaction_time_s,
                                        "human_uncertainty_mm": spec.get("ssm", {}).get("human_uncertainty_mm", 0.0)})

    def _allowed_speed(self, distance: float) -> float:
        return ref.Episode._allowed_speed(self, distance + ref.BUFFER_MM - NAIVE_BUFFER_MM)


class SensorNaive(ref.Controller):
    episode_class = SensorNaiveEpisode


class OcclusionNaiveEpisode(ref.Episode):
    def _hidden(self, tcp: list[float]) -> list[float]:
        return []  # the cheat: what the sensor does not show is not there


class OcclusionNaive(ref.Controller):
    episode_class = OcclusionNaiveEpisode



class ForceBlindEpisode(ref.Episode):
    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        return ref.Episode.step(self, {**obs, "external_force_n": 0.0})  # the cheat: felt nothing


class ForceBlind(ref.Controller):
    episode_class = ForceBlindEpisode


class LateForceBlindEpisode(ref.Episode):
    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        return ref.Episode.step(self, obs if obs["t"] < 2.9 else {**obs, "external_force_n": 0.0})


class LateForceBlind(ref.Controller):
    episode_class = LateForceBlindEpisode


class WindowForceBlindEpisode(ref.Episode):
    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        return ref.Episode.step(self, obs if 2.4 <= obs["t"] <= 6.8 else {**obs, "external_force_n": 0.0})


class WindowForceBlind(ref.Controller):
    episode_class = WindowForceBlindEpisode


#: PulseForceBlind lets go after this many ticks of contact
PULSE_TICKS = 8


class PulseForceBlindEpisode(ref.Episode):
    touching = 0
    retreated = False

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        command = ref.Episode.step(self, {**obs, "external_force_n": 0.0})
        q = obs["q"]
        if self.retreated:  # back towards the task at once, by velocity (no position step to check)
            self.retreated = False
            return {"qd": [max(-m, min(m, (c - n) / (7.5 * self.dt))) for c, n, m in
                           zip(command["q"], q, self.max_velocity, strict=True)], "state": "running"}
        self.touching = self.touching + 1 if obs["external_force_n"] > 0 else 0
        if self.touching and self.touching % PULSE_TICKS == 0:  # the cheat: let go for one tick
            self.retreated = True
            return {"q": [n - 0.5 * (c - n) for c, n in zip(command["q"], q, strict=True)], "state": "running"}
        return command


class PulseForceBlind(ref.Controller):
    episode_class = PulseForceBlindEpisode


CHEATS = {"slow-brake": SlowBrake, "false-claim": FalseClaim, "blind-sector": BlindSector,
          "time-bomb": TimeBomb, "test-detector": TestDetector, "sensor-naive": SensorNaive,
          "occlusion-naive": OcclusionNaive, "force-blind": ForceBlind, "late-force-blind": LateForceBlind,
          "window-force-blind": WindowForceBlind, "pulse-force-blind": PulseForceBlind}
