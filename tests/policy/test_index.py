"""The rule index is an optimisation only: for every action, the rules it offers that match are exactly the rules
that match when every rule is tried. Checked over both corpora (about 1,700 scripts, several thousand actions) with
a policy that has every indexable shape of rule, aimed at the paths, programs and capabilities those scripts use.
"""

from __future__ import annotations

import json
from pathlib import Path

from capfence_sh.parse import analyse_script
from capfence_sh.policy import load_policy
from capfence_sh.policy.examples import example_context
from capfence_sh.policy.model import MatchContext

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

POLICY = """
name: index-check
extends: default
rules:
  - {id: etc, decision: deny, reason: r, paths: ["/etc/**"]}
  - {id: passwd, decision: deny, reason: r, paths: ["/etc/passwd", "/etc/shadow"], access: [read]}
  - {id: ssh-keys, decision: require_approval, reason: r, paths: ["/home/me/.ssh/id_*"]}
  - {id: srv, decision: deny, reason: r, paths: ["/srv/data*/**"], access: [delete, write]}
  - {id: dev-disks, decision: deny, reason: r, paths: ["/dev/sd?"]}
  - {id: project-src, decision: allow, reason: r, paths: ["/home/me/project/src/**"], access: [read]}
  - {id: tmp-files, decision: require_approval, reason: r, paths: ["/tmp/*.sh"], access: [write]}
  - {id: with-exception, decision: deny, reason: r, paths: ["/home/me/project/secrets/**"],
     unless: {paths: ["/home/me/project/secrets/README*"]}}
  - {id: exact-cap, decision: require_approval, reason: r, capability: fs.delete}
  - {id: exact-caps, decision: require_approval, reason: r, capability: [net.fetch, secret.read]}
  - {id: event-cap, decision: deny, reason: r, capability: shell.exec.development}
  - {id: readonly-event, decision: allow, reason: r, capability: shell.exec.readonly}
  - {id: root-cap, decision: require_approval, reason: r, capability: "vcs.*"}
  - {id: custom-cap, decision: deny, reason: r, capability: payment.charge}
  - {id: glob-cap, decision: deny, reason: r, capability: "*.push*"}
  - {id: program, decision: require_approval, reason: r, program: [curl, wget]}
  - {id: subcommand, decision: deny, reason: r, subcommand: "git push"}
  - {id: relative, decision: deny, reason: r, paths: ["build/**"], access: [delete]}
  - {id: placeholder, decision: deny, reason: r, paths: ["{home}/.aws/**"]}
"""


def scripts() -> list[str]:
    found = []
    for name in ("bypass.jsonl", "everyday.jsonl"):
        for line in (CORPUS / name).read_text().splitlines():
            if line.strip():
                found.append(json.loads(line)["command"])
    return found


def test_indexed_candidates_match_a_full_scan(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    policy = load_policy(str(path))
    ctx = example_context()
    checked = matched = 0
    for script in scripts():
        for action in analyse_script(script, ctx).actions:
            mctx = MatchContext(ctx, "shell", "exec", "")
            every = [r.id for r in policy.rules if r.matches(action, mctx)]
            indexed = [r.id for r in policy.candidates(action, mctx) if r.matches(action, mctx)]
            assert indexed == every, (script, action.display)
            checked += 1
            matched += bool(every)
    assert checked > 3000 and matched > 1000


def test_rules_that_cannot_be_indexed_are_always_tried(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    policy = load_policy(str(path))
    general = {r.id for r in policy._general}
    assert {"relative", "placeholder", "glob-cap"} <= general
    assert not {"etc", "passwd", "srv", "exact-cap", "event-cap", "root-cap", "program", "subcommand"} & general
