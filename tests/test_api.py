"""The Python API in the seed's shape, over the same core as the CLI."""

from __future__ import annotations

import json
import textwrap

import pytest

from capfence_sh import ActionEvent, ActionRuntime
from tests.conftest import scratch_env

ABSENT = "/capfence-test-absent-dir/never/exists"
SEED = textwrap.dedent("""
    deny:
      - capability: shell.exec.production
        contains: "rm -rf"
    require_approval:
      - contains: "terraform apply"
    allow:
      - capability: shell.exec.readonly
      - capability: shell.exec.development
""")


@pytest.fixture
def runtime(tmp_path):
    policy = tmp_path / "shell.yaml"
    policy.write_text(SEED)
    env = scratch_env(tmp_path / "home")
    return ActionRuntime.from_policy(str(policy), audit_path=str(tmp_path / "audit.jsonl"), env=env,
                                     workspace=str(tmp_path)), tmp_path


def shell_event(command, environment="production", **payload):
    return ActionEvent.create(actor="ops-agent", resource="shell", action="exec", environment=environment,
                              payload={"command": command, **payload})


def test_the_seed_example(runtime):
    rt, tmp_path = runtime
    verdict = rt.execute(shell_event("rm -rf /var/lib/postgresql"))
    assert verdict.authorized is False
    assert verdict.decision == "deny"
    assert verdict.rule == "deny[0]"
    assert "denied by policy rule deny[0]" in verdict.reason
    assert verdict.actions[0].action.program == "rm"
    assert verdict.actions[0].action.capabilities == ("fs.delete",)
    assert verdict.audit_seq == 1
    record = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[0])
    assert record["actor"] == "ops-agent" and record["environment"] == "production"
    assert record["decision"] == "deny"


@pytest.mark.parametrize("command", ["rm -fr /x", "sudo rm -r -f /x", "bash -c 'rm -rf /x'", "echo /x | xargs rm -rf"])
def test_spellings_are_denied_too(runtime, command):
    assert runtime[0].execute(shell_event(command)).decision == "deny"


def test_readonly_allowed_and_approval(runtime):
    rt, _ = runtime
    assert rt.execute(shell_event("ls -la /var/lib")).authorized is True
    approval = rt.execute(shell_event("terraform apply -auto-approve"))
    assert (approval.decision, approval.authorized) == ("require_approval", False)


def test_check_does_not_audit(runtime):
    rt, tmp_path = runtime
    rt.check(shell_event("ls"))
    assert not (tmp_path / "audit.jsonl").exists()


def test_run_spawns_only_on_allow(runtime):
    rt, tmp_path = runtime
    marker = tmp_path / "created"
    result = rt.run(shell_event(f"touch {marker} && echo ok", environment="development"))
    assert (result.ran, result.exit_status) == (True, 0)
    assert marker.exists()
    marker.unlink()
    denied = rt.run(shell_event(f"touch {marker} && rm -rf {ABSENT}"))
    assert (denied.ran, denied.exit_status) == (False, 126)
    assert not marker.exists()
    argv = rt.run(shell_event(["sh", "-c", "exit 4"], environment="development"))
    assert (argv.ran, argv.exit_status) == (True, 4)


def test_events_without_a_command_use_the_seed_capability(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("require_approval:\n  - payment.transfer.*\ndeny:\n  - capability: '*'\n    contains: refund\n"
                      "allow:\n  - capability: payment.*.*\n")
    rt = ActionRuntime.from_policy(str(policy), audit_path=str(tmp_path / "a.jsonl"), env=scratch_env(tmp_path))
    transfer = ActionEvent.create(actor="pay", resource="payment", action="transfer", environment="production",
                                  payload={"amount": 10})
    assert rt.execute(transfer).decision == "require_approval"
    refund = ActionEvent.create(actor="pay", resource="payment", action="issue", payload={"note": "Refund it"})
    assert rt.execute(refund).decision == "deny"
    lookup = ActionEvent.create(actor="pay", resource="payment", action="lookup")
    assert rt.execute(lookup).decision == "allow"


def test_bad_events_and_policies(tmp_path):
    with pytest.raises(ValueError):
        ActionEvent.create(actor="", resource="shell", action="exec")
    with pytest.raises(ValueError):
        ActionEvent.create(actor="a", resource="shell", action="exec", payload={"x": object()})
    with pytest.raises(ValueError):
        shell_event(42).command
    from capfence_sh.errors import PolicyError

    bad = tmp_path / "bad.yaml"
    bad.write_text("default: nope\n")
    with pytest.raises(PolicyError, match="bad.yaml:1: default"):
        ActionRuntime.from_policy(str(bad), env=scratch_env(tmp_path))
