"""How rules combine and what each condition means, on small policies written for the case at hand."""

from __future__ import annotations

import textwrap

import pytest

from capfence_sh.engine import Engine
from capfence_sh.parse.context import Context
from capfence_sh.policy import load_policy

HOME = "/home/me"
WORKSPACE = "/home/me/project"


def context(**overrides) -> Context:
    values = dict(cwd=WORKSPACE, home=HOME, workspace=WORKSPACE, user="me", environment="development", actor="agent",
                  env={"HOME": HOME, "PATH": "/usr/bin:/bin"}, env_complete=True,
                  capfence_paths=(f"{HOME}/.local/state/capfence", f"{HOME}/.config/capfence"))
    values.update(overrides)
    return Context(**values)


@pytest.fixture
def engine_for(tmp_path):
    def make(text: str) -> Engine:
        path = tmp_path / "p.yaml"
        path.write_text(textwrap.dedent(text))
        return Engine(load_policy(str(path)))
    return make


def decide(engine: Engine, command: str, **ctx):
    return engine.decide_script(command, context(**ctx))


SEED = """
    deny:
      - capability: shell.exec.production
        contains: "rm -rf"
    allow:
      - capability: shell.exec.readonly
"""


@pytest.mark.parametrize("command", [
    "rm -rf /var/lib/postgresql",
    "rm -fr /var/lib/postgresql",
    "rm -r -f /var/lib/postgresql",
    "rm -Rf /var/lib/postgresql",
    "/bin/rm --recursive --force /var/lib/postgresql",
    "sudo rm -rf /var/lib/postgresql",
    "bash -c 'rm -rf /var/lib/postgresql'",
    "echo /var/lib/postgresql | xargs rm -rf",
    "\\rm -rf /var/lib/postgresql",
    "'r'm -rf /var/lib/postgresql",
    "cd /var/lib && rm -rf postgresql",
])
def test_seed_policy_denies_every_spelling_in_production(engine_for, command):
    verdict = decide(engine_for(SEED), command, environment="production")
    assert verdict.decision.value == "deny"
    assert verdict.rule == "deny[0]", "the seed rule itself decides, not the default"


def test_seed_policy_readonly_scope_and_default_deny(engine_for):
    engine = engine_for(SEED)
    assert decide(engine, "ls -la /var/lib", environment="production").decision.value == "allow"
    assert decide(engine, "cat README.md | grep x", environment="production").rule == "allow[0]"
    assert decide(engine, "echo 'rm -rf' is a string", environment="production").decision.value == "allow", \
        "a mention is not a command: better than a substring match"
    touch = decide(engine, "touch x", environment="production")
    assert (touch.decision.value, touch.rule) == ("deny", "default")


def test_seed_contains_is_scoped_to_its_environment(engine_for):
    engine = engine_for(SEED)
    verdict = decide(engine, "rm -rf /var/lib/postgresql", environment="development")
    assert verdict.rule == "default", "deny[0] only names production; the default still denies"


def test_most_restrictive_rule_wins_regardless_of_order(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - {id: allow-rm, decision: allow, reason: ok, program: rm}
          - {id: approve-rm, decision: require_approval, reason: ask, program: rm}
          - {id: deny-root, decision: deny, reason: never, program: rm, paths: ["/etc/**"]}
    """)
    assert decide(engine, "rm x").rule == "approve-rm"
    verdict = decide(engine, "rm /etc/passwd")
    assert (verdict.decision.value, verdict.rule) == ("deny", "deny-root")
    assert verdict.actions[0].matched == ("allow-rm", "approve-rm", "deny-root")


def test_script_is_decided_by_its_most_restrictive_action(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - {id: no-dd, decision: deny, reason: raw disk, program: dd}
          - {id: ask-curl, decision: require_approval, reason: net, program: curl}
    """)
    verdict = decide(engine, "echo a; curl x; dd if=/dev/zero of=x; ls")
    assert (verdict.decision.value, verdict.rule) == ("deny", "no-dd")
    assert verdict.deciding_action.action.program == "dd"
    assert decide(engine, "true").reason == "no rule matched; the policy's default is allow: true"
    assert decide(engine, "").reason == "nothing to run"


def test_flags_in_any_spelling(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - {id: a, decision: deny, reason: r, program: rm, flags: ["-r", "--force"]}
    """)
    for command in ("rm -rf x", "rm -fr x", "rm -r -f x", "rm -Rf x", "rm --recursive --force x", "rm -f -R x"):
        assert decide(engine, command).rule == "a", command
    assert decide(engine, "rm -f x").rule == "default"


def test_subcommand_and_args(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - id: push-main
            decision: deny
            reason: r
            subcommand: git push
            args: [{regex: "^(HEAD:)?main$"}]
          - {id: kdel, decision: deny, reason: r, subcommand: "kubectl delete", args: [{glob: "ns*"}]}
    """)
    assert decide(engine, "git push origin main").rule == "push-main"
    assert decide(engine, "git -C . push origin HEAD:main").rule == "push-main"
    assert decide(engine, "git push origin feature").rule == "default"
    assert decide(engine, "kubectl delete ns prod").rule == "kdel"


def test_paths_may_for_deny_surely_for_allow(engine_for):
    engine = engine_for("""
        default: require_approval
        rules:
          - {id: keep-secret, decision: deny, reason: r, paths: [secret.dat], access: [read]}
          - {id: reads-in-docs, decision: allow, reason: r, paths: ["docs/**"], access: [read], program: cat}
    """)
    assert decide(engine, "cat secret.dat").rule == "keep-secret"
    assert decide(engine, "cat *").rule == "keep-secret", "the glob may expand to secret.dat"
    assert decide(engine, "cat secret.dat.example").rule != "keep-secret"
    assert decide(engine, "echo secret.dat").rule != "keep-secret", "a mention is not a read"
    assert decide(engine, "cat docs/a.md").rule == "reads-in-docs"
    assert decide(engine, "cat docs/a.md /etc/hosts").decision.value == "require_approval", \
        "an allow rule must hold for every target"
    assert decide(engine, "cat docs/*.md").decision.value == "require_approval", "a glob is not surely inside"


def test_outside_counts_unknown_targets_as_outside(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - {id: out, decision: deny, reason: r, capability: fs.delete, outside: [workspace, tmp]}
    """)
    assert decide(engine, "rm -rf build").rule == "default"
    assert decide(engine, "rm -rf /tmp/x").rule == "default"
    assert decide(engine, "rm -rf ../other").rule == "out"
    assert decide(engine, "rm -rf \"$WHERE\"", env_complete=False, env={"HOME": HOME}).rule == "out"
    assert decide(engine, "d=$(mktemp -d); rm -rf \"$d\"").rule == "default", "mktemp's prefix is certain"


def test_unless_switches_a_rule_off_only_when_surely(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - id: env-files
            decision: deny
            reason: r
            paths: ["**/.env*"]
            access: [read]
            unless: {paths: ["**/.env.example"]}
    """)
    assert decide(engine, "cat .env").rule == "env-files"
    assert decide(engine, "cat .env.example").rule == "default"
    assert decide(engine, "cat .env.*").rule == "env-files", "a glob might also read .env.local"
    # Target by target: the exception removes the targets it names, not the whole action.
    assert decide(engine, "cp .env.example .env").rule == "default", "reads the example, writes .env"
    assert decide(engine, "cat .env.example .env").rule == "env-files"
    assert decide(engine, "cp .env .env.example").rule == "env-files", "reads .env"
    assert decide(engine, "diff .env.example .env.local").rule == "env-files"


def test_unless_with_other_conditions_applies_to_the_whole_action(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - id: env-files
            decision: deny
            reason: r
            paths: ["**/.env*"]
            access: [read]
            unless: {paths: ["**/.env.example"], program: diff}
    """)
    assert decide(engine, "diff .env.example .env.local").rule == "env-files"
    assert decide(engine, "diff .env.example .env.example").rule == "default"
    assert decide(engine, "cat .env.example").rule == "env-files", "the exception is for diff only"


def test_allow_rule_with_an_exception_covers_only_what_it_surely_names(engine_for):
    engine = engine_for("""
        default: deny
        rules:
          - id: docs
            decision: allow
            reason: r
            paths: ["docs/**"]
            access: [read]
            unless: {paths: ["docs/private/**"]}
          - {id: ls, decision: allow, reason: r, program: ls}
    """)
    assert decide(engine, "cat docs/a.md").rule == "docs"
    assert decide(engine, "cat docs/private/b.md").decision.value == "deny"
    assert decide(engine, "cat docs/*/b.md").decision.value == "deny", "the glob may reach docs/private"


def test_allow_capability_list_must_cover_every_capability(engine_for):
    engine = engine_for("""
        default: deny
        rules:
          - {id: reads, decision: allow, reason: r, capability: [fs.read, fs.list]}
    """)
    assert decide(engine, "cat a.txt").rule == "reads"
    assert decide(engine, "cat a.txt > b.txt").decision.value == "deny", "it also writes"


def test_environment_and_actor_conditions(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - {id: prod, decision: deny, reason: r, program: psql, environment: [production, prod*]}
          - {id: bots, decision: require_approval, reason: r, program: git, actor: ["ci-*"]}
    """)
    assert decide(engine, "psql -c 'select 1'", environment="production").rule == "prod"
    assert decide(engine, "psql -c 'select 1'", environment="prod-eu").rule == "prod"
    assert decide(engine, "psql -c 'select 1'").rule == "default"
    assert decide(engine, "git status", actor="ci-runner").rule == "bots"
    assert decide(engine, "git status").rule == "default"


def test_via_remote_redirect_and_regex(engine_for):
    engine = engine_for("""
        default: allow
        rules:
          - {id: sudo, decision: deny, reason: r, via: [sudo], program: cat}
          - {id: remote, decision: require_approval, reason: r, remote: true}
          - {id: net-redirect, decision: deny, reason: r, redirect: ["/dev/tcp/*"]}
          - {id: prod-url, decision: deny, reason: r, regex: "https://prod\\\\."}
    """)
    assert decide(engine, "sudo cat /etc/hosts").rule == "sudo"
    assert decide(engine, "cat /etc/hosts").rule == "default"
    assert decide(engine, "ssh host uptime").rule == "remote"
    assert decide(engine, "echo x > /dev/tcp/10.0.0.1/80").rule == "net-redirect"
    assert decide(engine, "curl https://prod.example.com").rule == "prod-url"


def test_contains_substring_for_non_commands(engine_for):
    engine = engine_for("""
        default: allow
        deny:
          - contains: "DROP TABLE"
    """)
    assert decide(engine, "psql -c 'drop table users'").decision.value == "deny"
    assert decide(engine, "psql -c 'select 1'").decision.value == "allow"


def test_workspace_policy_only_tightens(tmp_path):
    from capfence_sh.policy import PolicyChoice, load_choice

    base = tmp_path / "base.yaml"
    base.write_text("default: allow\nrules:\n  - {id: no-dd, decision: deny, reason: r, program: dd}\n")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("default: allow\nrules:\n"
                       "  - {id: allow-dd, decision: allow, reason: loosen, program: dd}\n"
                       "  - {id: no-curl, decision: deny, reason: r, program: curl}\n")
    engine = Engine(load_choice(PolicyChoice(str(base), "test", str(overlay))))
    assert decide(engine, "dd if=a of=b").rule == "no-dd", "the overlay cannot loosen the base"
    assert decide(engine, "curl x").rule == "no-curl", "but it can tighten"


def test_memoised_decisions_are_the_same_object(engine_for):
    engine = engine_for("default: allow\nrules:\n  - {id: a, decision: deny, reason: r, program: rm}\n")
    first = decide(engine, "rm x")
    assert decide(engine, "rm x") is first
    assert decide(engine, "rm x", cwd="/elsewhere") is not first, "the context is part of the key"
