"""The context each replayed command is decided in, deciding each distinct command once, and changed/unchanged
rows with and without a second policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from capfence_sh.decision import Decision
from capfence_sh.policy import load_policy, resolve_pack
from capfence_sh.replay.engine import PolicyReplayer, ReplayTotals, Situation, replay_events, \
    situation_from_environment
from capfence_sh.replay.proposed import MalformedLine, ProposedCommand, SkippedLine
from tests.replay.helpers import NO_PUSH

HOME = "/home/dev"


def _command(text: str = "git status", **fields) -> ProposedCommand:
    return ProposedCommand(text=text, source="t:1", format="jsonl", **fields)


@pytest.fixture(scope="module")
def default_policy():
    return load_policy(resolve_pack("default"))


def test_replay_does_not_know_the_shells_variables(default_policy):
    ctx = PolicyReplayer(default_policy, Situation(home=HOME)).context_for(_command(cwd="/home/dev/project"))
    assert ctx.env_complete is False and dict(ctx.env) == {}
    assert (ctx.cwd, ctx.home, ctx.workspace) == ("/home/dev/project", HOME, "/home/dev/project")


@pytest.mark.parametrize("fields, situation, expected", [
    # (record fields, --options, (cwd, workspace, environment, actor))
    ({}, {}, ("", "", "development", "replay")),  # nothing known: cwd unknown, no workspace
    ({"cwd": "/srv/app"}, {}, ("/srv/app", "/srv/app", "development", "replay")),
    ({"cwd": "/srv/app/src", "workspace": "/srv/app"}, {}, ("/srv/app/src", "/srv/app", "development", "replay")),
    ({"cwd": "/srv/app/src", "workspace": "/srv/app"}, {"workspace": "/srv"}, ("/srv/app/src", "/srv",
                                                                              "development", "replay")),
    ({"cwd": HOME}, {}, (HOME, "", "development", "replay")),  # the home directory is never a workspace
    ({"cwd": "/"}, {}, ("/", "", "development", "replay")),
    ({"environment": "production"}, {"environment": "staging"}, ("", "", "production", "replay")),
    ({}, {"environment": "staging"}, ("", "", "staging", "replay")),
    ({"actor": "codex"}, {"actor": "ci"}, ("", "", "development", "codex")),
    ({}, {"actor": "ci"}, ("", "", "development", "ci")),
])
def test_context_precedence(default_policy, fields, situation, expected):
    replayer = PolicyReplayer(default_policy, Situation(home=HOME, **situation))
    ctx = replayer.context_for(_command(**fields))
    assert (ctx.cwd, ctx.workspace, ctx.environment, ctx.actor) == expected


def test_the_policys_environment_is_the_default(tmp_path: Path):
    path = tmp_path / "staging.yaml"
    path.write_text("name: staging\nextends: default\nenvironment: staging\nrules: []\n")
    replayer = PolicyReplayer(load_policy(str(path)), Situation(home=HOME))
    assert replayer.context_for(_command()).environment == "staging"
    assert replayer.context_for(_command(environment="production")).environment == "production"


def test_capfence_own_directories_are_protected_under_the_given_home(monkeypatch):
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "CAPFENCE_CACHE_DIR",
                 "CAPFENCE_POLICY", "CAPFENCE_AUDIT", "CAPFENCE_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    situation = situation_from_environment(home="/home/other", workspace=None, environment=None, actor=None,
                                           audit_path="/var/log/capfence/audit.jsonl")
    assert situation.home == "/home/other"
    assert "/home/other/.config/capfence" in situation.capfence_paths
    assert "/home/other/.local/state/capfence" in situation.capfence_paths
    assert "/var/log/capfence/audit.jsonl*" in situation.capfence_paths


def test_each_distinct_command_is_decided_once(default_policy, monkeypatch):
    replayer = PolicyReplayer(default_policy, Situation(home=HOME))
    calls = []
    original = replayer.engine.decide_script
    monkeypatch.setattr(replayer.engine, "decide_script", lambda text, ctx: calls.append(text) or original(text, ctx))
    for _ in range(50):
        replayer.decide(_command("git status", cwd="/srv/app"))
        replayer.decide(_command("git status", cwd="/srv/other"))  # another cwd is another decision
        replayer.decide(_command("ls", cwd="/srv/app"))
    assert calls == ["git status", "git status", "ls"]
    assert replayer.distinct == 3


def test_an_error_while_deciding_means_deny(default_policy, monkeypatch):
    replayer = PolicyReplayer(default_policy, Situation(home=HOME))

    def broken(text, ctx):
        raise RecursionError("too deep")

    monkeypatch.setattr(replayer.engine, "decide_script", broken)
    result = replayer.decide(_command("ls"))
    assert (result.decision, result.rule) == (Decision.DENY, "internal-error")
    assert "RecursionError" in result.reason


def test_rows_changed_against_the_record_or_the_other_policy(default_policy):
    no_push = load_policy(str(NO_PUSH))
    events = [
        _command("git push", cwd="/srv/app", original=Decision.ALLOW),
        _command("git status", cwd="/srv/app", original=Decision.ALLOW),
        _command("git status", cwd="/srv/app", original=Decision.DENY),  # the record disagrees with the policy
        _command("git push", cwd="/srv/app"),  # no recorded decision: nothing to compare
        SkippedLine("t:5", "blank line"),
        MalformedLine("t:6", "not valid JSON"),
    ]
    totals = ReplayTotals()
    rows = list(replay_events(events, PolicyReplayer(no_push, Situation(home=HOME)), None, totals))
    assert [getattr(r, "changed", None) for r in rows] == [True, False, True, False, None]
    assert (totals.commands, totals.changed, totals.skipped, totals.malformed) == (4, 2, 1, 1)
    assert totals.transitions == {(Decision.ALLOW, Decision.DENY): 1, (Decision.DENY, Decision.ALLOW): 1}
    # With --against the recorded decisions are not compared: the two policies are.
    totals = ReplayTotals()
    rows = list(replay_events(events[:4], PolicyReplayer(default_policy, Situation(home=HOME)),
                              PolicyReplayer(no_push, Situation(home=HOME)), totals))
    assert [(r.original, r.replayed.decision, r.changed) for r in rows] == [
        (Decision.ALLOW, Decision.DENY, True), (Decision.ALLOW, Decision.ALLOW, False),
        (Decision.ALLOW, Decision.ALLOW, False), (Decision.ALLOW, Decision.DENY, True)]
    assert rows[0].replayed.rule == "no-git-push" and rows[0].original_rule == "default"
