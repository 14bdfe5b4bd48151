"""`capfence replay [POLICY] [--against OTHER] INPUT...`: decide recorded commands again and show what changes.
Parses arguments, loads the policies, streams the inputs through the replay engine, renders. Runs nothing.

Exit status: 0 replayed; 1 with --fail-on-change when a decision changed; 2 on a usage error, or when an input
could not be read or held malformed lines (the rest is still replayed and reported); 125 when a policy cannot be
loaded; 141 when the output pipe was closed."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from capfence_sh.errors import EXIT_CHANGED, EXIT_GATE_ERROR, EXIT_OK, EXIT_USAGE, CapfenceError, PolicyError

EXIT_INPUT = EXIT_USAGE  # an input that cannot be read is the caller's to fix, like a usage error
EXIT_BROKEN_PIPE = 128 + 13
PROBLEMS_PER_INPUT = 10  # malformed lines reported one by one per input; the rest are counted
PROGRESS_MIN_BYTES = 1 << 20  # inputs smaller than this finish before a progress bar would help

HELP = (
    "Decide recorded commands again under a policy, and show what would change. Runs nothing.\n\n"
    "capfence replay [POLICY] [OPTIONS] INPUT...\n\n"
    "capfence replay OLD.yaml --against NEW.yaml INPUT...\n\n"
    "POLICY is a policy file or bundled pack (default: the gate's lookup: CAPFENCE_POLICY, user config, bundled "
    "'default'). INPUT is a file, a directory (read recursively: every file whose format is recognised), or - for "
    "stdin. Formats: capfence's audit log (every segment; its recorded decisions are the Original), JSON Lines of "
    "{\"command\": ...}, plain text (one command per line), bash and zsh history, Claude Code transcripts "
    "(~/.claude/projects), Codex CLI rollouts (~/.codex/sessions).\n\n"
    "Exit status: 0 done; 1 with --fail-on-change when any decision changed; 2 usage error, or an input was "
    "unreadable or had malformed lines (everything else is still replayed); 125 policy error."
)


def replay_command(
    args: List[str] = typer.Argument(..., metavar="[POLICY] INPUT...", show_default=False,
                                     help="An optional policy, then the recordings to replay (- for stdin)."),
    policy: Optional[str] = typer.Option(None, "--policy", help="The policy (instead of the POLICY argument)."),
    against: Optional[str] = typer.Option(None, "--against", help="Compare with this policy: Original is "
                                          "POLICY's decision, Replayed is this one's."),
    format: str = typer.Option("auto", "--format", help="auto, audit, jsonl, text, bash-history, zsh-history, "
                               "claude or codex (auto: detected per file)."),
    only: Optional[str] = typer.Option(None, "--only", help="List only these commands: changed, deny, "
                                       "require_approval, allow or blocked (totals still count everything)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per command."),
    fail_on_change: bool = typer.Option(False, "--fail-on-change", help="Exit 1 when any decision changed "
                                        "(gate a policy change in CI)."),
    workspace: Optional[str] = typer.Option(None, "--workspace", help="The workspace for every command "
                                            "(default: the record's, else its cwd)."),
    env: Optional[str] = typer.Option(None, "--env", help="Environment name for records that name none "
                                      "(default: the policy's, else 'development')."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Actor for records that name none "
                                        "(default: 'replay')."),
    home: Optional[str] = typer.Option(None, "--home", help="The home directory the commands ran under "
                                       "(default: $HOME)."),
) -> None:
    raise typer.Exit(run_replay(args, policy=policy, against=against, format=format, only=only, as_json=as_json,
                                fail_on_change=fail_on_change, workspace=workspace, environment=env, actor=actor,
                                home=home))


def _usage(message: str) -> int:
    print(f"capfence replay: {message} (see `capfence replay --help`)", file=sys.stderr)
    return EXIT_USAGE


def _looks_like_policy(arg: str) -> bool:
    from capfence_sh.policy import bundled_packs

    if arg.endswith((".yaml", ".yml")):
        return True
    return arg in bundled_packs() and not os.path.exists(arg)


def run_replay(args: list[str], *, policy: str | None = None, against: str | None = None, format: str = "auto",
               only: str | None = None, as_json: bool = False, fail_on_change: bool = False,
               workspace: str | None = None, environment: str | None = None, actor: str | None = None,
               home: str | None = None) -> int:
    from capfence_sh.replay.detect import FORMATS
    from capfence_sh.replay.engine import ONLY

    inputs = list(args)
    if inputs and _looks_like_policy(inputs[0]) and (len(inputs) > 1 or not os.path.isfile(inputs[0])):
        if policy:
            return _usage(f"two policies given ({policy} and {inputs[0]}); compare them with --against")
        policy = inputs.pop(0)
    if not inputs:
        return _usage("give the recordings to replay (files, directories, or - for stdin)")
    if format not in ("auto", *FORMATS):
        return _usage(f"--format {format}: use auto, {', '.join(FORMATS)}")
    if only is not None and only not in ONLY:
        return _usage(f"--only {only}: use {', '.join(ONLY)}")
    try:
        return _replay(inputs, policy=policy, against=against, format=format, only=only, as_json=as_json,
                       fail_on_change=fail_on_change, workspace=workspace, environment=environment, actor=actor,
                       home=home)
    except PolicyError as exc:
        print(f"capfence: policy error: {exc}", file=sys.stderr)
        return EXIT_GATE_ERROR
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a pipeline expects.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_BROKEN_PIPE


def _load(name: str | None, origin: str, cwd: str, workspace_probe: str):
    from capfence_sh import paths
    from capfence_sh.policy import PolicyChoice, choose_policy, load_choice, resolve_pack
    from capfence_sh.replay.render import PolicyLabel

    if name is None:
        choice = choose_policy(None, os.environ, workspace_probe, cwd)
    else:
        choice = PolicyChoice(resolve_pack(name, cwd), origin)
    loaded = load_choice(choice, cache_dir=paths.cache_dir(os.environ))
    label = PolicyLabel(loaded.name, choice.origin, choice.path
                        + (f" tightened by {choice.workspace_overlay}" if choice.workspace_overlay else ""))
    return loaded, label


def _replay(inputs: list[str], *, policy, against, format, only, as_json, fail_on_change, workspace, environment,
            actor, home) -> int:
    from capfence_sh import paths
    from capfence_sh.replay.engine import PolicyReplayer, ReplayTotals, row_filter, situation_from_environment
    from capfence_sh.replay.inputs import IgnoredFile, UnreadableInput, open_inputs
    from capfence_sh.replay.render import ReplayHeader, make_renderer

    try:
        cwd = os.getcwd()
    except OSError:  # the directory was removed under us: policies are then looked up as from nowhere
        cwd = ""
    probe = workspace or os.environ.get("CAPFENCE_WORKSPACE") or cwd
    first_policy, first_label = _load(policy, "--policy", cwd, probe)
    second_policy, second_label = _load(against, "--against", cwd, probe) if against else (None, None)
    audit_path = (os.environ.get("CAPFENCE_AUDIT") or first_policy.audit.get("path")
                  or paths.default_audit_path(os.environ))
    situation = situation_from_environment(home=home, workspace=workspace, environment=environment, actor=actor,
                                           audit_path=os.path.abspath(os.path.expanduser(audit_path)))
    primary = PolicyReplayer(first_policy, situation)
    second = PolicyReplayer(second_policy, situation) if second_policy is not None else None
    header = ReplayHeader(first_label, second_label)
    renderer = make_renderer(header, as_json=as_json, listed=row_filter(only))
    totals = ReplayTotals()
    progress = _progress_for(inputs)
    try:
        for item in open_inputs(inputs, format):
            if isinstance(item, IgnoredFile):
                totals.ignored_files += 1
                continue
            if isinstance(item, UnreadableInput):
                totals.unreadable += 1
                progress.problem(f"capfence: replay: {item.name}: {item.problem}")
                continue
            _replay_input(item, primary, second, totals, renderer, progress)
    finally:
        progress.stop()
    totals.distinct = primary.distinct if second is None else max(primary.distinct, second.distinct)
    renderer.finish(totals)
    if totals.unreadable or totals.malformed:
        return EXIT_INPUT
    if fail_on_change and totals.changed:
        return EXIT_CHANGED
    return EXIT_OK


def _replay_input(item, primary, second, totals, renderer, progress) -> None:
    from capfence_sh.replay.engine import ReplayRow, replay_events

    totals.inputs += 1
    totals.formats[item.format] += 1
    progress.start_input(item)
    reported = 0
    count = 0
    try:
        for result in replay_events(item.events, primary, second, totals):
            if type(result) is ReplayRow:
                renderer.row(result)
                count += 1
                if not count & 1023:
                    progress.update()
                continue
            reported += 1
            if reported <= PROBLEMS_PER_INPUT:
                progress.problem(f"capfence: replay: {result.source}: {result.problem}")
    except BrokenPipeError:
        raise  # our own output closed, not the input: run_replay stops quietly
    except OSError as exc:  # removed or unreadable since it was listed, or a read error part way through
        totals.unreadable += 1
        progress.problem(f"capfence: replay: {item.name}: cannot read: {exc.strerror or exc}")
    except CapfenceError as exc:  # an audit log that cannot be opened
        totals.unreadable += 1
        progress.problem(f"capfence: replay: {item.name}: {exc}")
    if reported > PROBLEMS_PER_INPUT:
        progress.problem(f"capfence: replay: {item.name}: {reported - PROBLEMS_PER_INPUT} more malformed "
                         f"line{'s' if reported - PROBLEMS_PER_INPUT != 1 else ''} not shown")
    progress.end_input(item)


class _Progress:
    """A progress bar on the terminal for long inputs (by bytes read); nothing when output is piped. Problems
    are printed through it so that they do not tear the bar."""

    def __init__(self, total: int | None) -> None:
        self.bar = None
        self.done = 0
        self.current = None
        if total is None or total < PROGRESS_MIN_BYTES:
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("replaying"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("replay", total=total)
        self.bar.start()

    def start_input(self, item) -> None:
        self.current = item

    def update(self) -> None:
        if self.bar is not None and self.current is not None:
            self.bar.update(self.task, completed=self.done + self.current.bytes_read)

    def end_input(self, item) -> None:
        self.done += item.bytes_read
        self.current = None
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def problem(self, message: str) -> None:
        if self.bar is not None:
            from rich.markup import escape

            self.bar.console.print(escape(message), highlight=False)
        else:
            print(message, file=sys.stderr)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _progress_for(inputs: list[str]) -> _Progress:
    from capfence_sh.replay.inputs import total_size
    from capfence_sh.replay.render import is_terminal

    if not (is_terminal(sys.stdout) and is_terminal(sys.stderr)):
        return _Progress(None)
    return _Progress(total_size(inputs))
