"""The time budget of a Lex turn: Lex waits at most 30 s for a code hook, and the Lambda may end
sooner; a turn that runs late is answered "still working" while its state is still saved."""

from __future__ import annotations

import threading
from typing import Any, Callable


def time_budget(settings: Any, context: Any = None) -> float:
    """Seconds this turn may take: the setting, and never closer than 1.5 s to the Lambda's end."""
    budget = float(getattr(settings, "lex_time_budget_seconds", 20.0))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        try:
            budget = min(budget, max(0.5, remaining() / 1000 - 1.5))
        except Exception:
            pass
    return budget


def run_with_budget(fn: Callable[[], Any], budget: float) -> tuple[bool, Any]:
    """(True, result) when ``fn`` finishes within ``budget`` seconds, else (False, None).

    ``fn`` runs in a daemon thread; a late result still saves its conversation state (the router
    does that) so the next question can use it. Exceptions propagate to the caller.
    """
    box: dict[str, Any] = {}
    finished = threading.Event()

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e
        finally:
            finished.set()

    threading.Thread(target=work, name="lex-turn", daemon=True).start()
    if not finished.wait(budget):
        return False, None
    if "error" in box:
        raise box["error"]
    return True, box.get("result")

