"""Loading policies: every mistake is reported with file, line and key; the seed's forms load as written."""

from __future__ import annotations

import textwrap

import pytest

from capfence_sh.errors import PolicyError
from capfence_sh.policy import load_policy


def write(tmp_path, text: str, name: str = "policy.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("text, line, fragment", [
    ("rules: [\n", 2, "not valid YAML"),
    ("default: maybe\n", 1, "default: must be one of allow, deny, require_approval (got 'maybe')"),
    ("mode: loud\n", 1, "mode: must be one of enforce, observe"),
    ("colour: red\n", 1, "colour: unknown key"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    capabilty: fs.delete\n", 5,
     "rules[0].capabilty: unknown rule key"),
    ("rules:\n  - id: a\n    reason: r\n    capability: fs.delete\n", 2, "rules[0]: rule needs a decision"),
    ("rules:\n  - decision: deny\n    reason: r\n    capability: fs.delete\n", 2, "rules[0]: rule needs an id"),
    ("rules:\n  - id: a\n    decision: deny\n    capability: fs.delete\n", 2, "rule needs a reason"),
    ("rules:\n  - id: a\n    decision: nope\n    reason: r\n    capability: x\n", 3,
     "rules[0].decision: must be one of"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n", 2, "rule has no conditions"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    access: [read, eat]\n    paths: [x]\n", 5,
     "rules[0].access: unknown access 'eat'"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    regex: '('\n", 5, "invalid regular expression"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    program: rm\n"
     "  - id: a\n    decision: allow\n    reason: r\n    program: ls\n", 6, "duplicate rule id 'a'"),
    ("deny:\n  - capability: fs.delete\n    decision: allow\n", 3, "a rule under deny: cannot decide 'allow'"),
    ("deny: fs.delete\n", 1, "deny: must be a list"),
    ("audit:\n  on_failure: maybe\n", 2, "audit.on_failure: must be deny or allow"),
    ("approval:\n  wait: soon\n", 2, "approval.wait: must be a number of seconds"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    args: [{glob: '*', regex: x}]\n", 5,
     "rules[0].args[0]: must be a string, or a mapping with one of exact/glob/regex"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    remote: yes please\n", 5,
     "rules[0].remote: must be true or false"),
    ("rules:\n  - id: a\n    decision: deny\n    reason: r\n    program: rm\n    program: ls\n", 6, "duplicate key"),
    ("- just\n- a list\n", 1, "a policy must be a YAML mapping"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
def test_errors_name_file_line_and_key(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert fragment in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(str(tmp_path / "absent.yaml"))
    with pytest.raises(PolicyError, match="is a directory"):
        load_policy(str(tmp_path))


def test_not_utf8(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"default: allow\n# \xff\xfe\n")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(str(path))


def test_seed_list_form_loads(tmp_path):
    path = write(tmp_path, """
        deny:
          - capability: shell.exec.production
            contains: "rm -rf"
          - payment.transfer.*
        require_approval:
          - contains: "terraform apply"
        allow:
          - capability: shell.exec.readonly
    """)
    policy = load_policy(str(path))
    assert [r.id for r in policy.rules] == ["deny[0]", "deny[1]", "require_approval[0]", "allow[0]"]
    assert [r.decision.value for r in policy.rules] == ["deny", "deny", "require_approval", "allow"]
    assert policy.default.value == "deny", "the seed's default: what no rule allows is denied"
    assert policy.rules[0].reason == "denied by policy rule deny[0]"


def test_extends_disable_and_override(tmp_path):
    base = write(tmp_path, """
        default: allow
        rules:
          - {id: one, decision: deny, reason: r1, program: rm}
          - {id: two, decision: deny, reason: r2, program: dd}
          - {id: three, decision: deny, reason: r3, program: mkfs}
    """, "base.yaml")
    child = write(tmp_path, f"""
        extends: {base.name}
        disable: [two]
        rules:
          - {{id: three, decision: require_approval, reason: softer, program: mkfs}}
          - {{id: four, decision: deny, reason: r4, program: shred}}
    """, "child.yaml")
    policy = load_policy(str(child))
    assert [(r.id, r.decision.value) for r in policy.rules] == [
        ("one", "deny"), ("three", "require_approval"), ("four", "deny")]
    assert policy.default.value == "allow", "inherited"
    assert policy.sources == [str(child), str(base)]


def test_extends_bundled_pack_and_cycles(tmp_path):
    policy = load_policy(str(write(tmp_path, "extends: default\ndisable: [dotenv]\n")))
    assert policy.rule_by_id("dotenv") is None and policy.rule_by_id("secrets") is not None
    a = write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(PolicyError, match="extends itself"):
        load_policy(str(a))
    with pytest.raises(PolicyError, match="no rule with id nope"):
        load_policy(str(write(tmp_path, "extends: default\ndisable: [nope]\n", "c.yaml")))


def test_decision_aliases(tmp_path):
    policy = load_policy(str(write(tmp_path, """
        rules:
          - {id: a, decision: block, reason: r, program: rm}
          - {id: b, action: ask, reason: r, program: dd}
    """)))
    assert [r.decision.value for r in policy.rules] == ["deny", "require_approval"]
