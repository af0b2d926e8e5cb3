"""The observer hooks of a run, fired the same way by every entry point (``harness run``,
``harness rescore``, the platform's workers, the pytest plugin through ``harness run``):
``run_started`` once when a run starts sending, ``case_finished`` for every stored
attempt, ``run_finished`` when the report is made (in ``finish``). An observer (a
dashboard, a notifier) that fails neither stops the run nor hides the event from the
others: its failure is logged and recorded on the run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import AttemptResult
    from .plugins import Registry

log = logging.getLogger("harness.run")

#: failures of observers kept on one run; more are only logged
MAX_ERRORS = 100


def notify(hook: Any, errors: list[str], **kwargs: Any) -> None:
    """Call each implementation of an observer hook on its own, in pluggy's order."""
    for impl in reversed(hook.get_hookimpls()):
        try:
            impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception as exc:  # noqa: BLE001 - an observer must not end a run
            message = f"{hook.name} in {impl.plugin_name}: {type(exc).__name__}: {exc}"
            if len(errors) < MAX_ERRORS:
                errors.append(message)
            log.warning("observer hook failed: %s", message)


class Observers:
    """One run's observers: ``started`` fires ``run_started``, ``on_result`` is the
    runner's callback that fires ``case_finished`` (None when nobody listens, so the
    runner does no work for it), ``errors`` goes to ``finish``."""

    def __init__(self, registry: Registry, run_id: str) -> None:
        self.hooks = registry.pm.hook
        self.run_id = run_id
        self.errors: list[str] = []

    def started(self, manifest: dict[str, Any]) -> None:
        notify(self.hooks.run_started, self.errors, run_id=self.run_id, manifest=manifest)

    def on_result(self, *also: Callable[[AttemptResult], None]) -> Callable[[AttemptResult], None] | None:
        """The callback for each stored attempt: ``also`` (the early-stop decider) and
        then ``case_finished``."""
        listeners = list(also)
        hook = self.hooks.case_finished
        if hook.get_hookimpls():
            listeners.append(lambda result: notify(hook, self.errors, run_id=self.run_id, result=result))
        if not listeners:
            return None

        def call(result: AttemptResult) -> None:
            for listen in listeners:
                listen(result)
        return call
