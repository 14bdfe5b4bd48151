"""bashlex AST -> actions: walks every command that would run, tracking the shell state that changes its meaning.

The walk is an abstract interpretation of the script: both branches of every `if`, every loop body (with the loop
variable bound to each listed value), every function body (at its call sites, with the arguments bound), every
command substitution and nested shell. State that changes what a later command means is tracked: variables
(`c=rm; $c -rf /`), the working directory (`cd /; rm -rf *`), aliases and functions defined in the same script,
files written by the script and then run (`echo 'rm -rf ~' > x.sh && sh x.sh`) and binaries copied under a new
name (`cp /bin/rm x; ./x -rf /`). What cannot be known becomes an action of its own instead of a guess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from capfence_sh.actions import Access, Action, Redirect, Target
from capfence_sh.parse import paths
from capfence_sh.parse.context import Context
from capfence_sh.parse.prepass import HEREDOC_PREFIX, Heredoc, PrepassError, prepass
from capfence_sh.parse.sensitive import BLOCK_DEVICE_PREFIXES, credential_destination, derived_capabilities
from capfence_sh.parse.words import (
    DEFAULT_IFS,
    Field,
    WordError,
    expand_heredoc,
    expand_single,
    expand_word,
    literal,
)

MAX_DEPTH = 16  # nested shells, substitutions, eval, function calls
MAX_NESTING = 150  # compound commands inside one another within a single parse
MAX_SCRIPT_CHARS = 256 * 1024
MAX_ACTIONS = 10_000
MAX_LOOP_VALUES = 64
TIME_BUDGET_SECONDS = 5.0

UNPARSED = "shell.unparsed"
DYNAMIC = "shell.dynamic"

# Redirect targets that are not files (writing to them is harmless or handled elsewhere).
_NULL_DEVICES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/zero", "/dev/random",
                 "/dev/urandom", "/dev/full")


# Variables bash sets itself (some only when the environment lacks them), so an env without them says nothing.
_SHELL_SET_VARIABLES = frozenset({
    "BASH", "BASHOPTS", "BASH_ARGV0", "BASH_COMMAND", "BASH_EXECUTION_STRING", "BASH_SOURCE", "BASH_SUBSHELL",
    "BASH_VERSINFO", "BASH_VERSION", "DIRSTACK", "EPOCHREALTIME", "EUID", "FUNCNAME", "GROUPS", "HISTCMD",
    "HOSTNAME", "HOSTTYPE", "MACHTYPE", "OPTERR", "OPTIND", "OSTYPE", "PIPESTATUS", "PS4", "SHELL", "SHELLOPTS",
    "SHLVL", "SRANDOM", "UID",
})
# Where piped data came from, which stays true of it through every filter downstream.
_STDIN_TAINTS = frozenset({"net.fetch", "data.decode", "secret.read", "env.read"})


class BudgetExceeded(Exception):
    """Analysis ran past its time or size budget."""


@dataclass(frozen=True, slots=True)
class StdinSource:
    """What feeds a command's standard input."""

    kind: str  # pipe | file | heredoc | herestring
    program: str = ""  # upstream program of a pipe
    capabilities: tuple[str, ...] = ()  # upstream capabilities (net.fetch, data.decode, ...)
    content: str | None = None  # known content (an echo'd literal, a heredoc body, a written file)
    path: str = ""
    prefix: str = ""  # every line of an unknown content starts with this (find DIR -> "DIR/")
    prefix_trusted: bool = False
    flags: frozenset[str] = frozenset()  # the upstream action's flags (`ps -e`: all-processes)

    def describe(self) -> str:
        if self.kind == "pipe":
            return f"pipe:{self.program or '?'}"
        if self.kind == "file":
            return f"file:{self.path}"
        return self.kind


@dataclass(frozen=True, slots=True)
class Where:
    """Where in the analysis a command sits."""

    via: tuple[str, ...] = ()
    depth: int = 0
    stdin: StdinSource | None = None
    in_pipeline: bool = False
    remote: str = ""
    background: bool = False  # started with `&`


@dataclass(slots=True)
class Outcome:
    action: Action | None = None
    stdout: str | None = None  # known output (echo/printf of literals), for `echo ... | sh` and `$(...)`
    stdout_prefix: str = ""  # known prefix of the output (mktemp -> "/tmp/")
    stdout_trusted: bool = False


@dataclass(slots=True)
class Shared:
    """Effects that outlive subshells: the file system."""

    files: dict[str, str | None] = field(default_factory=dict)  # path written by the script -> content if known
    programs: dict[str, str] = field(default_factory=dict)  # path of a copied/linked binary -> program it is
    downloaded: set[str] = field(default_factory=set)  # paths written by a download (curl -o, wget)
    called: set[str] = field(default_factory=set)
    links: dict[str, str] = field(default_factory=dict)  # link made by the script -> the path it points to
    fifos: set[str] = field(default_factory=set)  # named pipes made by the script (mkfifo)


class State:
    """Shell state that subshells copy and the current shell mutates."""

    __slots__ = ("vars", "cwds", "oldpwd", "dirstack", "functions", "aliases", "hashed", "positional", "errexit",
                 "shared", "ifs")

    def __init__(self, ctx: Context) -> None:
        self.vars: dict[str, Field | None] = {}  # None = unset by the script
        self.cwds: tuple[str, ...] = (ctx.cwd,)
        self.oldpwd: str = ""
        self.dirstack: list[tuple[str, ...]] = []
        self.functions: dict[str, tuple[object, str, Heredocs]] = {}
        self.aliases: dict[str, str | None] = {}  # None: defined from text not known statically
        self.hashed: dict[str, str | None] = {}  # `hash -p PATH NAME`: NAME runs PATH (None: not known)
        self.positional: tuple[str, ...] | None = ctx.positional
        self.errexit = ctx.errexit
        self.shared = Shared()

    def copy(self) -> State:
        other = State.__new__(State)
        other.vars = dict(self.vars)
        other.cwds = self.cwds
        other.oldpwd = self.oldpwd
        other.dirstack = list(self.dirstack)
        other.functions = dict(self.functions)
        other.aliases = dict(self.aliases)
        other.hashed = dict(self.hashed)
        other.positional = self.positional
        other.errexit = self.errexit
        other.shared = self.shared
        return other

    @property
    def cwd(self) -> str:
        """The directory if it is certain, else "" (see paths.UNDER for directories known only by a prefix)."""
        cwd = self.cwds[0] if len(self.cwds) == 1 else ""
        return "" if cwd.startswith(paths.UNDER) else cwd


Heredocs = dict[int, Heredoc]


class Analyser:
    """Analyses one proposed command into actions. Create one per decision; not thread-safe."""

    def __init__(self, ctx: Context, *, bashlex_module: object | None = None) -> None:
        self.ctx = ctx
        self.actions: list[Action] = []
        self.warnings: list[str] = []
        self._deadline = time.monotonic() + TIME_BUDGET_SECONDS
        self._bashlex = bashlex_module
        self._nesting = 0
        self._active_functions: dict[str, int] = {}  # function name -> calls of it on the current call stack
        # Heredocs of the text being walked: a substitution is a slice of it and may use them
        # (`python3 -c "$(cat <<'EOF' ... EOF)"`).
        self._heredocs: Heredocs = {}

    # --- entry points ------------------------------------------------------------------------------------------

    def analyse_script(self, text: str) -> tuple[Action, ...]:
        state = State(self.ctx)
        try:
            self.script(text, state, Where())
            self._finish_uncalled_functions(state)
        except BudgetExceeded as exc:
            self.unparsed(text, str(exc), Where(), state)
        except RecursionError:
            # Every recursive step is bounded, but their product may still exhaust the stack: fail closed.
            self.unparsed(text, "nesting too deep to analyse", Where(), state)
        return tuple(self.actions)

    def analyse_argv(self, argv: list[str]) -> tuple[Action, ...]:
        state = State(self.ctx)
        try:
            fields = [literal(a) for a in argv]
            self.invoke(fields, [], [], state, Where(), " ".join(shell_quote(a) for a in argv), raw0=argv[0] if argv else "")
        except BudgetExceeded as exc:
            self.unparsed(" ".join(argv), str(exc), Where(), state)
        except RecursionError:
            self.unparsed(" ".join(argv), "nesting too deep to analyse", Where(), state)
        return tuple(self.actions)

    # --- scripts -----------------------------------------------------------------------------------------------

    def script(self, text: str, state: State, where: Where, *, checked: bool = False) -> Outcome:
        self._check_budget()
        if where.depth > MAX_DEPTH:
            self.unparsed(text, f"nesting deeper than {MAX_DEPTH} levels", where, state)
            return Outcome()
        if len(text) > MAX_SCRIPT_CHARS:
            self.unparsed(text[:200] + "...", f"script longer than {MAX_SCRIPT_CHARS} characters", where, state)
            return Outcome()
        if not text.strip():
            return Outcome()
        try:
            pre = prepass(text, checked=checked)
        except PrepassError as exc:
            self.unparsed(text, str(exc), where, state)
            return Outcome()
        heredocs = {h.index: h for h in pre.heredocs}
        if checked:
            # A checked text is a slice of the script being walked: its heredoc markers are that script's.
            heredocs = {**self._heredocs, **heredocs}
        if not pre.text.strip():
            return Outcome()
        saved = self._heredocs
        try:
            nodes, error = self._parse(pre.text)
            if error is None:
                last = Outcome()
                for node in nodes:
                    last = self.node(node, pre.text, heredocs, state, where)
                return last
            return self._parse_in_pieces(pre.text, heredocs, state, where, error)
        finally:
            self._heredocs = saved

    def _parse(self, text: str) -> tuple[list, str | None]:
        bashlex = self._bashlex_module()
        try:
            return bashlex.parse(text), None
        except RecursionError:
            return [], "nesting too deep for the parser"
        except (bashlex.errors.ParsingError, NotImplementedError, AttributeError, IndexError, ValueError,
                TypeError, AssertionError, KeyError) as exc:
            # bashlex signals unsupported syntax with a zoo of exception types; any of them means "not parsed".
            return [], _parser_message(exc)

    def _parse_in_pieces(self, text: str, heredocs: Heredocs, state: State, where: Where, error: str) -> Outcome:
        """The narrower re-parse: parse each top-level command on its own; only what still fails is unparsed."""
        from capfence_sh.parse.segments import split_top_level

        pieces = split_top_level(text)
        if len(pieces) <= 1:
            self.unparsed(text, error, where, state)
            return Outcome()
        last = Outcome()
        for piece in pieces:
            nodes, piece_error = self._parse(piece)
            if piece_error is not None:
                self.unparsed(piece, piece_error, where, state)
                continue
            for node in nodes:
                last = self.node(node, piece, heredocs, state, where)
        return last

    def _bashlex_module(self):
        if self._bashlex is None:
            from capfence_sh.parse.bashlex_loader import load_bashlex

            self._bashlex = load_bashlex()
            _guard_parameter_expansion(self._bashlex)
        return self._bashlex

    # --- AST nodes ---------------------------------------------------------------------------------------------

    def node(self, node, src: str, heredocs: Heredocs, state: State, where: Where) -> Outcome:
        self._check_budget()
        self._heredocs = heredocs
        kind = node.kind
        if kind == "command":
            return self.command(node, src, heredocs, state, where)
        if kind == "list":
            return self.list_node(node, src, heredocs, state, where)
        if kind == "pipeline":
            return self.pipeline(node, src, heredocs, state, where)
        self._nesting += 1
        try:
            if self._nesting > MAX_NESTING:
                raise BudgetExceeded(f"compound commands nested deeper than {MAX_NESTING}")
            if kind == "compound":
                return self.compound(node, src, heredocs, state, where)
            if kind in ("if", "while", "until"):
                last = Outcome()
                for part in node.parts:
                    if part.kind not in ("reservedword", "operator"):
                        last = self.node(part, src, heredocs, state, where)
                return last
            if kind == "for":
                return self.for_node(node, src, heredocs, state, where)
            if kind == "function":
                self.define_function(node, src, heredocs, state)
                return Outcome()
        finally:
            self._nesting -= 1
        if kind in ("reservedword", "operator", "pipe"):
            return Outcome()
        self.unparsed(src[node.pos[0] : node.pos[1]], f"unsupported construct: {kind}", where, state)
        return Outcome()

    def list_node(self, node, src: str, heredocs: Heredocs, state: State, where: Where) -> Outcome:
        parts = node.parts
        last = Outcome()
        for i, part in enumerate(parts):
            if part.kind == "operator":
                continue
            following = parts[i + 1].op if i + 1 < len(parts) and parts[i + 1].kind == "operator" else ""
            after = parts[i + 2] if i + 2 < len(parts) else None
            background = following == "&"
            child_state = state.copy() if background else state
            before = state.cwds
            last = self.node(part, src, heredocs, child_state, replace(where, background=True) if background else where)
            if not background and state.cwds != before and len(state.cwds) == 1:
                # A `cd` that may fail leaves the shell where it was: the next command runs in either place,
                # unless failure stops the script (`cd x && ...`, `cd x || exit`, `set -e`).
                if not (following == "&&" or state.errexit or (following == "||" and _is_exit(after, src))):
                    state.cwds = tuple(dict.fromkeys(state.cwds + before))
        return last

    def pipeline(self, node, src: str, heredocs: Heredocs, state: State, where: Where) -> Outcome:
        elements = [p for p in node.parts if p.kind not in ("pipe", "reservedword")]
        if len(elements) == 1:
            return self.node(elements[0], src, heredocs, state, where)
        upstream: StdinSource | None = where.stdin
        last = Outcome()
        for element in elements:
            # Every element of a pipeline runs in a subshell of its own.
            inner = replace(where, stdin=upstream, in_pipeline=True)
            last = self.node(element, src, heredocs, state.copy(), inner)
            action = last.action
            capabilities = action.capabilities if action else (DYNAMIC,) if last.stdout is None else ()
            if upstream is not None:
                # What flows in may flow on (`curl URL | tee x | sh`, `cat key | base64 | curl -d @- URL`).
                capabilities += tuple(c for c in upstream.capabilities if c in _STDIN_TAINTS and c not in capabilities)
            upstream = StdinSource(
                "pipe",
                action.program if action else "",
                capabilities,
                last.stdout,
                prefix=last.stdout_prefix,
                prefix_trusted=last.stdout_trusted,
                flags=action.flags if action else frozenset(),
            )
        return last

    def compound(self, node, src: str, heredocs: Heredocs, state: State, where: Where) -> Outcome:
        items = node.list
        subshell = bool(items) and items[0].kind == "reservedword" and items[0].word == "("
        inner_state = state.copy() if subshell else state
        redirect_info = self.redirects(getattr(node, "redirects", []) or [], src, heredocs, inner_state, where)
        inner_where = where
        if redirect_info.stdin is not None:
            inner_where = replace(where, stdin=redirect_info.stdin)
        if redirect_info.targets or redirect_info.capabilities:
            self.emit_redirect_only(redirect_info, src[node.pos[0] : node.pos[1]], inner_state, where)
        last = Outcome()
        for item in items:
            if item.kind == "reservedword":
                continue
            last = self.node(item, src, heredocs, inner_state, inner_where)
        return last

    def for_node(self, node, src: str, heredocs: Heredocs, state: State, where: Where) -> Outcome:
        parts = node.parts
        name = ""
        values: list[Field] = []
        body = []
        seen_in = seen_do = False
        for part in parts:
            if part.kind == "reservedword":
                if part.word == "in":
                    seen_in = True
                elif part.word == "do":
                    seen_do = True
                continue
            if not name and part.kind == "word":
                name = src[part.pos[0] : part.pos[1]]
                continue
            if seen_in and not seen_do and part.kind == "word":
                values.extend(self.expand(src[part.pos[0] : part.pos[1]], state, where))
                continue
            if seen_do:
                body.append(part)
        if name.startswith("CAPFENCE_"):
            from capfence_sh.parse.shells import capfence_variables

            capfence_variables(Call(self, [literal("for")], [], [], state, where, src[node.pos[0]:node.pos[1]], "for"),
                               [name])
        if not seen_in:
            positional = state.positional
            values = [literal(v) for v in positional] if positional is not None else [Field("$@", False)]
        if not values:
            return Outcome()
        if len(values) > MAX_LOOP_VALUES or any(v.glob or not v.known for v in values):
            # Too many or not known: analyse the body once with the variable standing for any of them.
            merged = _merge_fields(values)
            values = [merged] if len(values) > MAX_LOOP_VALUES else values[:MAX_LOOP_VALUES]
        last = Outcome()
        for value in values:
            state.vars[name] = value
            for part in body:
                last = self.node(part, src, heredocs, state, where)
        return last

    def define_function(self, node, src: str, heredocs: Heredocs, state: State) -> None:
        name = node.name.word if hasattr(node.name, "word") else str(node.name)
        body = node.body
        state.functions[name] = (body, src, heredocs)

    def _finish_uncalled_functions(self, state: State) -> None:
        # A function that is defined but never called where we can see it may still be called (a trap, an
        # eval): its body is analysed once with unknown arguments.
        for name, (body, src, heredocs) in list(state.functions.items()):
            if name in state.shared.called:
                continue
            state.shared.called.add(name)
            inner = state.copy()
            inner.positional = None
            self.node(body, src, heredocs, inner, Where(via=(f"function {name}",), depth=1))

    def call_function(self, name: str, args: list[Field], state: State, where: Where) -> Outcome:
        body, src, heredocs = state.functions[name]
        state.shared.called.add(name)
        active = self._active_functions.get(name, 0)
        if active and (where.in_pipeline or where.background):
            # `:(){ :|:& };:`: each call starts two more processes, without end.
            Call(self, [literal(name)], [], [], state, where, name, name).emit(
                ("sys.exhaust",), note=f"function {name} runs itself in a pipeline or the background: a fork bomb")
        if active >= 2:
            # Recursion: the recursive call was already analysed once with unknown arguments, which stands for
            # every deeper level (a legitimate recursive function must not exhaust the depth budget).
            return Outcome()
        if where.depth + 1 > MAX_DEPTH:
            raise BudgetExceeded(f"function calls nested deeper than {MAX_DEPTH}")
        saved = state.positional
        if active or not all(a.known and not a.glob for a in args):
            state.positional = None
        else:
            state.positional = tuple(a.value for a in args)
        self._active_functions[name] = active + 1
        try:
            inner = replace(where, via=where.via + (f"function {name}",), depth=where.depth + 1)
            return self.node(body, src, heredocs, state, inner)
        finally:
            state.positional = saved
            self._active_functions[name] = active

    # --- simple commands ---------------------------------------------------------------------------------------

    def command(self, node, src: str, heredocs: Heredocs, state: State, where: Where) -> Outcome:
        text = src[node.pos[0] : node.pos[1]]
        assignments: list[tuple[str, Field]] = []
        words: list[str] = []
        redirect_nodes = []
        for part in node.parts:
            kind = part.kind
            if kind == "assignment" and not words:
                assignments.append(self.assignment(src[part.pos[0] : part.pos[1]], state, where))
            elif kind in ("word", "assignment"):
                words.append(src[part.pos[0] : part.pos[1]])
            elif kind == "redirect":
                redirect_nodes.append(part)
        info = self.redirects(redirect_nodes, src, heredocs, state, where)
        fields: list[Field] = []
        raw0 = ""
        for k, raw in enumerate(words):
            if k == 0 and raw in state.aliases and fields == []:
                alias_text = state.aliases[raw]
                if info.targets or info.capabilities:
                    # The command's own redirections still apply (`ll > /etc/x`).
                    self.emit_redirect_only(info, text, state, where)
                if alias_text is None:
                    call = Call(self, [literal(raw)], assignments, [], state, where, text, raw)
                    return call.dynamic(f"runs alias {raw}, whose text is not known statically")
                # Aliases are expanded textually before parsing the rest of the command. Whether bash expands
                # one at all depends on `shopt -s expand_aliases` (off in scripts) and on the alias having been
                # defined on an earlier line, so both readings are analysed and the stricter decision wins:
                # `alias rm=ls; rm -rf /` runs the real rm.
                expanded = alias_text + " " + " ".join(words[1:])
                inner = replace(where, via=where.via + (f"alias {raw}",), depth=where.depth + 1)
                before = state.cwds
                self.script(expanded, state, inner)
                if state.cwds != before:
                    state.cwds = tuple(dict.fromkeys(state.cwds + before))
            expanded_fields = self.expand(raw, state, where, assignment_like=_looks_like_assignment(raw))
            if not fields and expanded_fields:
                raw0 = raw
            fields.extend(expanded_fields)
        if not fields:
            for name, value in assignments:
                state.vars[name] = value
            # Assigning a variable that is (or may already be) exported changes what later programs run or load.
            exported = [(n, v) for n, v in assignments if n in self.ctx.env or not self.ctx.env_complete]
            if exported:
                from capfence_sh.parse.shells import dangerous_assignments

                dangerous_assignments(Call(self, [], exported, [info], state, where, text, ""), exported)
            if info.targets or info.capabilities:
                return Outcome(self.emit_redirect_only(info, text, state, where))
            return Outcome()
        stdin = info.stdin or where.stdin
        call_where = replace(where, stdin=stdin)
        outcome = self.invoke(fields, assignments, [info], state, call_where, text, raw0=raw0)
        for path in info.written:
            # The content of a file written by redirect is known when the command's output is known.
            state.shared.files[path] = outcome.stdout if outcome.stdout is not None else None
        for path in info.appended:
            previous = state.shared.files.get(path)
            if path in state.shared.files and previous is not None and outcome.stdout is not None:
                state.shared.files[path] = previous + outcome.stdout
            else:
                state.shared.files[path] = None
        return outcome

    def assignment(self, raw: str, state: State, where: Where) -> tuple[str, Field]:
        name, _, value = raw.partition("=")
        append = name.endswith("+")
        name = name.rstrip("+")
        field_value = self.expand_one(value, state, where, assignment=True)
        if field_value.glob:
            # No pathname expansion in assignments: `x=*` holds a star, not the files it would match.
            field_value = replace(field_value, glob=False)
        if append:
            previous = self.lookup_field(name, state)
            if previous is not None and previous.known and field_value.known:
                field_value = literal(previous.value + field_value.value)
            else:
                field_value = Field(f"${name}{value}", False, False, "", "", False)
        return name, field_value

    def expand(self, raw: str, state: State, where: Where, *, assignment_like: bool = False) -> list[Field]:
        try:
            return expand_word(raw, _Host(self, state, where), assignment=assignment_like)
        except WordError as exc:
            self.unparsed(raw, str(exc), where, state)
        except RecursionError:
            # `${a:-${a:-...}}`, `"$(echo "$(...)")"` a thousand deep: the scanner recurses per level.
            self.unparsed(raw, "word nested too deeply", where, state)
        return [Field(raw, False, False, "", "", False)]

    def _expand_heredoc(self, body: str, state: State, where: Where) -> str | None:
        try:
            expanded = expand_heredoc(body, _Host(self, state, where))
        except WordError as exc:
            self.unparsed(body, f"heredoc: {exc}", where, state)
            return None
        except RecursionError:
            self.unparsed(body, "heredoc nested too deeply", where, state)
            return None
        return expanded.value if expanded.known else None

    def expand_one(self, raw: str, state: State, where: Where, *, assignment: bool = False) -> Field:
        try:
            return expand_single(raw, _Host(self, state, where), assignment=assignment)
        except WordError as exc:
            self.unparsed(raw, str(exc), where, state)
        except RecursionError:
            self.unparsed(raw, "word nested too deeply", where, state)
        return Field(raw, False, False, "", "", False)

    # --- redirects ---------------------------------------------------------------------------------------------

    def redirects(self, nodes, src: str, heredocs: Heredocs, state: State, where: Where) -> RedirectInfo:
        info = RedirectInfo()
        for node in nodes:
            op = node.type
            fd = node.input if isinstance(node.input, int) else (0 if op.startswith("<") else 1)
            output = node.output
            if isinstance(output, (int, str)):
                # `2>&1`, and bashlex's plain-string forms of a duplication or close (`2>&-`).
                info.redirects.append(Redirect(fd, op, str(output), "dup"))
                continue
            raw = src[output.pos[0] : output.pos[1]]
            if op == "<" and raw.startswith(HEREDOC_PREFIX):
                digits = raw[len(HEREDOC_PREFIX) :].split("_", 1)[0]
                if not digits.isdigit() or raw != f"{HEREDOC_PREFIX}{digits}__":
                    # The marker glued to other text: not a form the pre-pass produces for valid input.
                    self.unparsed(raw, "unexpected text after a heredoc", where, state)
                    continue
                heredoc = heredocs.get(int(digits))
                content: str | None = None
                if heredoc is not None:
                    if heredoc.quoted:
                        content = heredoc.body
                    else:
                        content = self._expand_heredoc(heredoc.body, state, where)
                info.redirects.append(Redirect(fd, "<<", "heredoc", "heredoc"))
                if fd == 0:
                    info.stdin = StdinSource("heredoc", content=content)
                continue
            if op == "<<<":
                value = self.expand_one(raw, state, where)
                info.redirects.append(Redirect(fd, op, "herestring", "herestring"))
                info.stdin = StdinSource("herestring", content=(value.value + "\n") if value.known else None)
                continue
            value = self.expand_one(raw, state, where)
            if op in (">&", "<&") and (value.value.isdigit() or value.value == "-"):
                info.redirects.append(Redirect(fd, op, value.value, "dup"))
                continue
            mode = _REDIRECT_MODES.get(op, "write")
            cwds = state.cwds or ("",)
            shown = paths.normalise(value.value, cwds[0]) if value.known else value.value
            info.redirects.append(Redirect(fd, op, shown, mode))
            # A relative target after an uncertain `cd` may be in either directory.
            for cwd in (cwds if value.known and not value.value.startswith("/") and not where.remote else cwds[:1]):
                self._redirect_effects(info, value, mode, cwd, state, where.remote)
        return info

    def _redirect_effects(self, info: RedirectInfo, value: Field, mode: str, cwd: str, state: State,
                          remote: str) -> None:
        if value.known and not value.value:
            return  # `> "$unset"` is an error, not a write to the working directory
        if remote:
            # `ssh host 'cat > x'`: the file is on the other machine.
            if mode in ("read", "readwrite"):
                info.capabilities.append("fs.read")
                info.targets.append(paths.target(value, Access.READ, "", remote=remote))
            if mode != "read":
                info.capabilities.append("fs.write")
                info.targets.append(paths.target(value, Access.WRITE, "", remote=remote))
            return
        path = paths.normalise(value.value, cwd) if value.known else value.value
        if value.known and (path in _NULL_DEVICES or path.startswith("/dev/fd/") or path.startswith("/proc/self/fd/")):
            return
        if value.known and (path.startswith("/dev/tcp/") or path.startswith("/dev/udp/")):
            info.capabilities.append("net.send" if mode != "read" else "net.fetch")
            return
        if mode == "read":
            info.capabilities.append("fs.read")
            info.targets.append(paths.target(value, Access.READ, cwd))
            if state.shared.links:
                info.targets.extend(through_links(info.targets[-1:], state.shared.links))
            if value.known:
                info.stdin = StdinSource("file", path=path, content=state.shared.files.get(path))
            else:
                info.stdin = StdinSource("file", path=path)
            return
        if mode == "readwrite":
            info.capabilities.append("fs.read")
            info.targets.append(paths.target(value, Access.READ, cwd))
        info.targets.append(paths.target(value, Access.WRITE, cwd))
        if state.shared.links:
            info.targets.extend(through_links(info.targets[-1:], state.shared.links))
        if value.known and path.startswith(BLOCK_DEVICE_PREFIXES):
            info.capabilities.append("disk.write")
        else:
            info.capabilities.append("fs.write")
        if value.known:
            (info.appended if mode == "append" else info.written).append(path)

    def emit_redirect_only(self, info: RedirectInfo, text: str, state: State, where: Where) -> Action:
        capabilities = derived_capabilities(list(info.capabilities), info.targets, self.ctx.home)
        action = Action(
            program="",
            written="",
            argv=(),
            capabilities=tuple(dict.fromkeys(capabilities)),
            targets=tuple(info.targets),
            cwd=state.cwd,
            redirects=tuple(info.redirects),
            via=where.via,
            depth=where.depth,
            text=text,
            remote=where.remote,
        )
        self.add(action)
        return action

    # --- invoking a command ------------------------------------------------------------------------------------

    def invoke(self, fields: list[Field], assignments: list[tuple[str, Field]], infos: list[RedirectInfo],
               state: State, where: Where, text: str, *, raw0: str = "") -> Outcome:
        from capfence_sh.parse import programs

        call = Call(self, fields, assignments, infos, state, where, text, raw0 or fields[0].value)
        return programs.dispatch(call)

    def add(self, action: Action) -> None:
        if len(self.actions) >= MAX_ACTIONS:
            raise BudgetExceeded(f"more than {MAX_ACTIONS} commands")
        self.actions.append(action)

    def unparsed(self, text: str, message: str, where: Where, state: State | None = None) -> None:
        self.actions.append(Action(
            program="",
            written="",
            argv=(),
            capabilities=(UNPARSED,),
            cwd=state.cwd if state else "",
            via=where.via,
            depth=where.depth,
            text=text[:500],
            note=message,
            remote=where.remote,
        ))

    def _check_budget(self) -> None:
        if time.monotonic() > self._deadline:
            raise BudgetExceeded(f"analysis took longer than {TIME_BUDGET_SECONDS:g}s")

    # --- variables -----------------------------------------------------------------------------------------------

    def lookup_field(self, name: str, state: State) -> Field | None:
        if name in state.vars:
            value = state.vars[name]
            return literal("") if value is None else value
        ctx = self.ctx
        if name == "PWD":
            return literal(state.cwd) if state.cwd else None
        if name == "OLDPWD" and state.oldpwd:
            return literal(state.oldpwd)
        if name == "HOME" and ctx.home:
            return literal(ctx.env.get("HOME", ctx.home))
        if name in ctx.env:
            return literal(ctx.env[name])
        if name == "IFS":
            return literal(DEFAULT_IFS)
        if name == "USER" and ctx.user:
            return literal(ctx.user)
        if name == "0":
            return literal("bash")
        if name in _SHELL_SET_VARIABLES:
            return None  # bash sets these itself (`$BASH -c ...`): absent from the environment is not empty
        return literal("") if ctx.env_complete else None


@dataclass(slots=True)
class RedirectInfo:
    redirects: list[Redirect] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    stdin: StdinSource | None = None
    written: list[str] = field(default_factory=list)
    appended: list[str] = field(default_factory=list)


_REDIRECT_MODES = {"<": "read", ">": "write", ">|": "write", ">>": "append", "&>": "write", "&>>": "append",
                   "<>": "readwrite", ">&": "write", "<&": "read"}


class _Host:
    """Adapts the analyser's state to what word expansion asks for."""

    __slots__ = ("analyser", "state", "where")

    def __init__(self, analyser: Analyser, state: State, where: Where) -> None:
        self.analyser = analyser
        self.state = state
        self.where = where

    @property
    def cwd(self) -> str:
        return self.state.cwd

    def lookup(self, name: str) -> str | None:
        value = self.analyser.lookup_field(name, self.state)
        if value is None or not value.known:
            return None
        return value.value

    def is_glob(self, name: str) -> bool:
        value = self.state.vars.get(name)
        return value is not None and value.glob

    def partial(self, name: str) -> tuple[str, bool, bool, bool] | None:
        value = self.analyser.lookup_field(name, self.state)
        if value is None or value.known:
            return None
        return value.prefix, value.trusted, value.decoded, value.fetched

    def is_set(self, name: str) -> bool:
        if name in self.state.vars:
            return self.state.vars[name] is not None
        return name in self.analyser.ctx.env or name in ("HOME", "PWD", "IFS")

    def positional(self) -> tuple[str, ...] | None:
        return self.state.positional

    def home(self, user: str) -> str | None:
        ctx = self.analyser.ctx
        if not user or user == ctx.user:
            return ctx.env.get("HOME", ctx.home) or None
        if user == "root":
            return "/root"
        return None

    def substitute(self, script: str, kind: str) -> tuple[str | None, bool, str, bool, bool]:
        where = self.where
        label = {"$()": "$(...)", "``": "`...`", "<()": "<(...)", ">()": ">(...)"}.get(kind, kind)
        inner = Where(via=where.via + (label,), depth=where.depth + 1, remote=where.remote)
        before = len(self.analyser.actions)
        # The substitution's text is a slice of a script the pre-pass already checked (and maybe rewrote).
        outcome = self.analyser.script(script, self.state.copy(), inner, checked=True)
        produced = self.analyser.actions[before:]
        decoded = any("data.decode" in a.capabilities for a in produced)
        fetched = any("net.fetch" in a.capabilities for a in produced)
        if kind in ("<()", ">()"):
            return None, True, "/dev/fd/", decoded, fetched
        return outcome.stdout, outcome.stdout_trusted, outcome.stdout_prefix, decoded, fetched


class Call:
    """One simple command about to be classified: what the program handlers see and use."""

    __slots__ = ("analyser", "argv", "assignments", "infos", "state", "where", "text", "raw0", "program",
                 "stdout", "stdout_prefix", "stdout_trusted")

    def __init__(self, analyser: Analyser, argv: list[Field], assignments: list[tuple[str, Field]],
                 infos: list[RedirectInfo], state: State, where: Where, text: str, raw0: str) -> None:
        self.analyser = analyser
        self.argv = argv
        self.assignments = assignments
        self.infos = infos
        self.state = state
        self.where = where
        self.text = text
        self.raw0 = raw0
        self.program = ""
        self.stdout: str | None = None
        self.stdout_prefix = ""
        self.stdout_trusted = False

    @property
    def ctx(self) -> Context:
        return self.analyser.ctx

    @property
    def args(self) -> list[Field]:
        return self.argv[1:]

    @property
    def cwd(self) -> str:
        return self.state.cwd

    @property
    def stdin(self) -> StdinSource | None:
        return self.where.stdin

    def values(self) -> list[str]:
        return [f.value for f in self.argv]

    def target(self, value: Field, access: Access, *, recursive: bool = False, remote: str = "") -> list[Target]:
        """Targets for one path word: one per directory the command may run in."""
        if value.known and not value.value:
            return []  # an empty path names no file (`rm -rf "$unset"` fails): it is not the working directory
        if remote or self.where.remote:
            return [paths.target(value, access, "", recursive=recursive, remote=remote or self.where.remote)]
        if value.known and value.value.startswith("/"):
            targets = [paths.target(value, access, "", recursive=recursive)]
        else:
            targets = [paths.target(value, access, cwd, recursive=recursive) for cwd in (self.state.cwds or ("",))]
        links = self.state.shared.links
        return targets + through_links(targets, links) if links else targets

    def emit(self, capabilities: tuple[str, ...] | list[str], targets: list[Target] | tuple[Target, ...] = (), *,
             subcommand: str = "", flags: frozenset[str] = frozenset(), note: str = "", program: str | None = None,
             argv: list[Field] | None = None) -> Action:
        caps = list(capabilities)
        all_targets = list(targets)
        redirects: list[Redirect] = []
        for info in self.infos:
            caps.extend(info.capabilities)
            all_targets.extend(info.targets)
            redirects.extend(info.redirects)
        argv = self.argv if argv is None else argv
        stdin = self.where.stdin
        caps = derived_capabilities(caps, all_targets, self.ctx.home,
                                    stdin.capabilities if stdin is not None else ())
        credential = credential_destination(argv, caps)
        if credential:
            caps.append(credential)
        action = Action(
            program=self.program if program is None else program,
            written=self.raw0,
            argv=tuple(f.value for f in argv),
            capabilities=tuple(dict.fromkeys(caps)),
            targets=tuple(dict.fromkeys(all_targets)),
            subcommand=subcommand,
            flags=flags,
            cwd=self.state.cwd,
            assignments=tuple((name, value.value) for name, value in self.assignments),
            redirects=tuple(redirects),
            stdin=self.where.stdin.describe() if self.where.stdin else "",
            in_pipeline=self.where.in_pipeline,
            via=self.where.via,
            depth=self.where.depth,
            text=self.text,
            note=note,
            remote=self.where.remote,
        )
        self.analyser.add(action)
        return action

    def outcome(self, action: Action | None) -> Outcome:
        return Outcome(action, self.stdout, self.stdout_prefix, self.stdout_trusted)

    def run_script(self, text: str, label: str, *, positional: tuple[str, ...] | None | bool = False,
                   stdin: StdinSource | None = None, share_state: bool = False, remote: str = "",
                   errexit: bool | None = None, arg0: Field | None = None) -> Outcome:
        """Analyse `text` as a nested script (bash -c, eval, ssh payloads, inline system() calls)."""
        state = self.state if share_state else self.state.copy()
        if positional is not False:
            state.positional = positional  # type: ignore[assignment]
        if arg0 is not None:
            state.vars["0"] = arg0
        if errexit is not None:
            state.errexit = errexit
        where = Where(via=self.where.via + (label,), depth=self.where.depth + 1, stdin=stdin,
                      remote=remote or self.where.remote)
        return self.analyser.script(text, state, where)

    def run_argv(self, argv: list[Field], label: str, *, assignments: list[tuple[str, Field]] | None = None,
                 keep_redirects: bool = False, stdin: StdinSource | None | bool = False, remote: str = "",
                 share_state: bool = True, cwd: str | None = None) -> Outcome:
        """Analyse an argv a wrapper would run (sudo CMD, env CMD, xargs CMD, find -exec CMD)."""
        if not argv:
            return Outcome()
        state = self.state if share_state and cwd is None else self.state.copy()
        if cwd is not None:
            state.cwds = (cwd,)
        where = Where(via=self.where.via + (label,), depth=self.where.depth + 1,
                      stdin=self.where.stdin if stdin is False else stdin,  # type: ignore[arg-type]
                      in_pipeline=self.where.in_pipeline, remote=remote or self.where.remote)
        if where.depth > MAX_DEPTH:
            self.analyser.unparsed(" ".join(f.value for f in argv), f"wrappers nested deeper than {MAX_DEPTH}",
                                   where, state)
            return Outcome()
        infos = self.infos if keep_redirects else []
        return self.analyser.invoke(argv, assignments or [], infos, state, where, self.text, raw0=argv[0].value)

    def dynamic(self, note: str, *, capabilities: tuple[str, ...] = (DYNAMIC,)) -> Outcome:
        return self.outcome(self.emit(capabilities, note=note, program=self.program))


def through_links(targets: list[Target], links: dict[str, str]) -> list[Target]:
    """The same accesses seen through links the script made: `ln -s / r; rm -rf r/*` deletes /*, and writing or
    reading the link itself reaches what it points to (removing the link itself does not)."""
    extra: list[Target] = []
    for target in targets:
        if not target.known or target.remote:
            continue
        path = target.path
        for _ in range(8):  # a link to a link
            resolved = _resolve_link(path, links, exact=target.access != Access.DELETE)
            if resolved is None:
                break
            path = resolved
            extra.append(paths.target(Field(path, True, target.glob), target.access, "", recursive=target.recursive))
    return extra


def _resolve_link(path: str, links: dict[str, str], *, exact: bool) -> str | None:
    for link, destination in links.items():
        if path == link and exact:
            return destination
        if path.startswith(link.rstrip("/") + "/") and link != "/":
            return paths.normalise(destination + "/" + path[len(link.rstrip("/")) + 1 :], "")
    return None


def _merge_fields(values: list[Field]) -> Field:
    prefix = paths_common_prefix([v.prefix for v in values])
    return Field("|".join(v.value for v in values[:8]) + ("|..." if len(values) > 8 else ""), False,
                 any(v.glob for v in values), prefix, "", all(v.trusted for v in values))


def paths_common_prefix(items: list[str]) -> str:
    if not items:
        return ""
    first, last = min(items), max(items)
    k = 0
    while k < len(first) and k < len(last) and first[k] == last[k]:
        k += 1
    return first[:k]


def _looks_like_assignment(raw: str) -> bool:
    eq = raw.find("=")
    if eq <= 0:
        return False
    name = raw[:eq].rstrip("+")
    return bool(name) and (name[0].isalpha() or name[0] == "_") and all(c.isalnum() or c == "_" for c in name)


def _is_exit(node, src: str) -> bool:
    if node is None or node.kind != "command":
        return False
    first = src[node.pos[0] : node.pos[1]].split(None, 1)
    return bool(first) and first[0] in ("exit", "return", "false")


def _guard_parameter_expansion(bashlex) -> None:
    """bashlex 0.18 loops forever on a word whose `${` has no `}` after quote removal (`echo '${a'b`): its
    `_paramexpand` takes `find('}')`'s -1 as the end and restarts at 0. The time budget cannot interrupt it,
    so such a word is a parse error instead. (Better fixed where bashlex is loaded; kept here until then.)"""
    subst = getattr(bashlex, "subst", None)
    original = getattr(subst, "_paramexpand", None)
    if original is None or getattr(original, "capfence_guarded", False):
        return

    def guarded(parserobj, string, sindex):
        if string.startswith("${", sindex) and string.find("}", sindex + 2) < 0:
            raise bashlex.errors.ParsingError("unterminated ${", string, sindex)
        return original(parserobj, string, sindex)

    guarded.capfence_guarded = True  # type: ignore[attr-defined]
    subst._paramexpand = guarded


def _parser_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot parse: {text}"


def shell_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "@%+=:,./-_" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"
