"""Shell text or argv -> `Analysis` (a tuple of actions). Pure: no environment, clock or disk access beyond the
bounded parse budget; everything it needs arrives in a `Context`.

Imports are deferred so that importing a submodule (the bashlex loader, say) stays cheap."""

from __future__ import annotations

# `typing` costs milliseconds at import; this module sits on the gate's hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from capfence_sh.actions import Analysis
    from capfence_sh.parse.context import Context


def analyse_script(text: str, ctx: Context) -> Analysis:
    from capfence_sh.actions import Analysis
    from capfence_sh.parse.walker import Analyser

    analyser = Analyser(ctx)
    return Analysis(text, analyser.analyse_script(text), "script", tuple(analyser.warnings))


def analyse_argv(argv: list[str], ctx: Context) -> Analysis:
    from capfence_sh.actions import Analysis
    from capfence_sh.parse.walker import Analyser, shell_quote

    analyser = Analyser(ctx)
    return Analysis(" ".join(shell_quote(a) for a in argv), analyser.analyse_argv(argv), "argv",
                    tuple(analyser.warnings))
