"""The closed-loop protocol's messages (schemas/robot-protocol.schema.json), read
strictly: a controller's reply is bytes from a stranger. It is parsed as JSON only
(never unpickled or evaluated), with NaN and Infinity refused, a size cap, and checked
against its schema; anything else is a malformed reply, counted, never an exception
that ends the run."""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

from ..errors import ProtocolError

PROTOCOL = "harness-robot/1"
#: a controller's reply larger than this is malformed (a command is a few hundred bytes)
MAX_MESSAGE_BYTES = 64 * 1024
SCHEMA_ID = "https://sandbox-harness.invalid/schemas/robot-protocol.schema.json"


#: a message that is not what the protocol says (the harness's error tree: errors.py)
Malformed = ProtocolError


def _refuse_constant(name: str) -> Any:
    raise Malformed(f"{name} is not a number JSON allows")


#: made once: ``json.loads`` and ``json.dumps`` with options build a new one per call
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def loads(data: bytes | str) -> Any:
    """JSON, strictly: no NaN or Infinity, at most MAX_MESSAGE_BYTES (``json.loads``
    with a decoder made once)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise Malformed(f"the message has {len(data)} bytes, more than {MAX_MESSAGE_BYTES}")
    try:
        if isinstance(data, str):
            if data.startswith("\ufeff"):
                raise Malformed("a byte order mark")
        else:
            data = data.decode(json.detect_encoding(data), "surrogatepass")
        return _DECODER.decode(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, or an integer of
        raise Malformed(f"not JSON: {str(exc)[:200]}") from None  # more digits than int() converts


def dumps(message: Any) -> str:
    """JSON for the wire; a NaN here is the harness's bug, so it raises."""
    return _ENCODER.encode(message)


@cache
def validator(kind: str) -> Any:
    """A validator for one message kind (a ``$defs`` name of the protocol schema)."""
    from jsonschema import Draft202012Validator

    from harness.files import _registry

    return Draft202012Validator({"$ref": f"{SCHEMA_ID}#/$defs/{kind}"}, registry=_registry())


def check(kind: str, message: Any) -> Any:
    """``message`` if it is a valid ``kind``; else Malformed naming the first problem."""
    error = next(validator(kind).iter_errors(message), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise Malformed(f"{kind} at {where}: {error.message[:200]}")
    return message


_COMMAND_KEYS = frozenset(("q", "qd", "state"))
_STATES = frozenset(("running", "slowing", "stopping", "stopped", "waiting_reset"))


def _plain_command(message: Any) -> bool:
    """The schema of a command, checked by hand: every tick has one, and the generic
    validator costs 200 us where this costs 2 (a test keeps the two in agreement)."""
    if type(message) is not dict or not message.keys() <= _COMMAND_KEYS or ("q" in message) == ("qd" in message):
        return False
    values = message.get("q", message.get("qd"))
    if type(values) is not list or not 1 <= len(values) <= 16:
        return False
    if not all(type(v) is float or type(v) is int for v in values):
        return False
    state = message.get("state", "running")
    return type(state) is str and state in _STATES  # (a list or an object is unhashable: no set lookup)


def command(message: Any, joints: int) -> tuple[str, list[float]]:
    """A controller's command as (``q`` or ``qd``, values), checked against the schema
    and the robot: one finite value per joint."""
    if not _plain_command(message):
        check("command", message)  # names the problem
        raise Malformed("command does not match the protocol")  # pragma: no cover - the test keeps them agreed
    key = "q" if "q" in message else "qd"
    values = message[key]
    if len(values) != joints:
        raise Malformed(f"command {key} has {len(values)} values for {joints} joints")
    try:
        floats = [float(v) for v in values]
    except OverflowError:  # an integer too large for a float (JSON allows any number of digits)
        raise Malformed(f"command {key} holds a number too large") from None
    if not all(math.isfinite(v) for v in floats):  # 1e999 parses as infinity
        raise Malformed(f"command {key} holds a value that is not finite")
    return key, floats
