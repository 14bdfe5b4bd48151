"""capfence: a shell gate for AI agents.

The public Python API (in the seed's shape): `ActionRuntime`, `ActionEvent`, `RuntimeVerdict`, `RunResult`, plus
the core result types `Verdict` and `Decision`. Names load on first use, so importing the package (as the lean
`capfence exec` entry point does) costs nothing.
"""

from __future__ import annotations

# `typing` costs milliseconds at import; this module sits on the gate's hot path.
TYPE_CHECKING = False

__all__ = ["ActionEvent", "ActionRuntime", "RuntimeVerdict", "RunResult", "Verdict", "Decision"]

if TYPE_CHECKING:
    from capfence_sh.api import ActionEvent, ActionRuntime, RunResult, RuntimeVerdict
    from capfence_sh.decision import Decision, Verdict


def __getattr__(name: str):
    if name in ("ActionEvent", "ActionRuntime", "RuntimeVerdict", "RunResult"):
        from capfence_sh import api

        return getattr(api, name)
    if name in ("Verdict", "Decision"):
        from capfence_sh import decision

        return getattr(decision, name)
    raise AttributeError(f"module 'capfence_sh' has no attribute {name!r}")
