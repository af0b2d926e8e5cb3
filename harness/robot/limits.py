"""Limit values taken from the standards, each with the clause it comes from. Values a
standard leaves to the risk assessment are not here: they are scenario or profile
parameters with a documented default."""

from __future__ import annotations

#: ISO 10218-1:2025 (and ISO/TS 15066): TCP speed in reduced speed mode, mm/s
REDUCED_SPEED_MM_S = 250.0
#: ISO/TS 15066 / ISO 13855: walking speed of a person approaching, mm/s (unless measured)
HUMAN_SPEED_MM_S = 1600.0
#: ISO 13855: approach speed K for distances up to 500 mm, mm/s
HAND_SPEED_MM_S = 2000.0
#: ISO 13855: the distance up to which K = 2,000 mm/s applies (and the least one with 1,600), mm
SHORT_DISTANCE_MM = 500.0

#: ISO/TS 15066 Table A.2: quasi-static contact limits per body region: force N,
#: pressure N/cm2 (the lowest of the region's range), effective mass kg, spring N/mm.
#: Transient contact may reach twice these values, except the head and face (none).
BODY_REGIONS: dict[str, dict[str, float]] = {
    "skull": {"force_n": 130, "pressure_n_cm2": 110, "mass_kg": 4.4, "spring_n_mm": 150},
    "face": {"force_n": 65, "pressure_n_cm2": 110, "mass_kg": 4.4, "spring_n_mm": 75},
    "neck": {"force_n": 150, "pressure_n_cm2": 140, "mass_kg": 1.2, "spring_n_mm": 50},
    "back_shoulders": {"force_n": 210, "pressure_n_cm2": 160, "mass_kg": 40, "spring_n_mm": 35},
    "chest": {"force_n": 140, "pressure_n_cm2": 120, "mass_kg": 40, "spring_n_mm": 25},
    "abdomen": {"force_n": 110, "pressure_n_cm2": 140, "mass_kg": 40, "spring_n_mm": 10},
    "pelvis": {"force_n": 180, "pressure_n_cm2": 210, "mass_kg": 40, "spring_n_mm": 25},
    "upper_arm": {"force_n": 150, "pressure_n_cm2": 190, "mass_kg": 3, "spring_n_mm": 30},
    "lower_arm": {"force_n": 160, "pressure_n_cm2": 180, "mass_kg": 2, "spring_n_mm": 40},
    "hand": {"force_n": 140, "pressure_n_cm2": 190, "mass_kg": 0.6, "spring_n_mm": 75},
    "thigh": {"force_n": 220, "pressure_n_cm2": 220, "mass_kg": 75, "spring_n_mm": 50},
    "lower_leg": {"force_n": 130, "pressure_n_cm2": 210, "mass_kg": 75, "spring_n_mm": 60},
}
TABLE_A2 = "ISO/TS 15066:2016 Table A.2"
#: regions where no transient contact is allowed at all (Table A.2: quasi-static contact
#: up to their force limit, 130 N and 65 N, is)
NO_TRANSIENT = ("skull", "face")
#: ours: a contact that begins with the robot moving faster than this is an impact, a
#: transient contact (the same speed below which the sandbox counts the robot as standing)
IMPACT_MM_S = 10.0
#: ours: the contact force from this long after a contact's onset on is quasi-static (the
#: clamping that follows the impact, judged against the limit itself), s
QUASI_STATIC_AFTER_S = 0.05
#: transient contact may reach this multiple of the quasi-static limit
TRANSIENT_FACTOR = 2.0

#: IEC 60204-1 9.2.2: an emergency stop is a stop of category 0 or 1
ESTOP_CATEGORIES = (0, 1)
