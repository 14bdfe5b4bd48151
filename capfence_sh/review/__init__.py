"""`capfence review`: a terminal UI for the human side of the gate — the queue of pending approval requests (approve
once or for the session, reject with a reason, details) and the audit log's history (filtered, paged, each record's
action tree and chain status).

It is an edge over the approvals store and the audit readers: it decides nothing. Its one rule of its own is the
refusal below: a review needs a person at a terminal.

  app.py       state, keys, the loop; approve/reject exactly as `capfence approve` / `capfence reject`
  screens.py   rendering (rich)
  history.py   the log's records newest first, indexed lazily, read a window at a time
  chain.py     chain verification and summary counts, in a background thread
  query.py     the `/` filter language
  terminal.py  cbreak mode, keys, signals, restoring the terminal
"""

from __future__ import annotations

import os
import sys

from capfence_sh.errors import EXIT_USAGE

NOT_A_TERMINAL = ("capfence: review needs a terminal on stdin and stdout (approvals are a person's decision; "
                  "an agent cannot approve its own requests)")


def main() -> int:
    # An agent runs commands with pipes, not a terminal: refusing here keeps a gated or ungated agent from driving
    # the UI with scripted keys. (The bundled packs also deny `capfence review` on the gated path.)
    if not (os.isatty(0) and os.isatty(1)):
        print(NOT_A_TERMINAL, file=sys.stderr)
        return EXIT_USAGE
    from rich.console import Console

    from capfence_sh.gate import GateOptions, open_gate
    from capfence_sh.review.app import ReviewApp
    from capfence_sh.review.terminal import Terminal

    gate = open_gate(GateOptions())
    console = Console()
    return ReviewApp(gate, console, Terminal(0)).run()
