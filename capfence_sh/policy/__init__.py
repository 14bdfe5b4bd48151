"""Policies: YAML -> validated plain data (load.py) -> compiled rules (model.py), cached between runs (cache.py),
chosen by packs.py."""

from __future__ import annotations

from capfence_sh.errors import PolicyError
from capfence_sh.policy.model import Policy, compile_policy
from capfence_sh.policy.packs import PolicyChoice, bundled_packs, choose_policy, resolve_pack

__all__ = ["Policy", "PolicyError", "PolicyChoice", "load_policy", "load_choice", "bundled_packs", "choose_policy",
           "resolve_pack"]


def load_policy(path: str, *, cache_dir: str | None = None) -> Policy:
    """Load one policy file (with what it extends), from the compiled cache when nothing changed."""
    from capfence_sh.policy import cache

    if cache_dir:
        hit = cache.read(cache_dir, path)
        if hit is not None:
            data, sha = hit
            return compile_policy(data, sha)
    from capfence_sh.policy.load import load_policy_data

    data = load_policy_data(path, resolve_pack)
    sha = _sha256_of(data["sources"])
    if cache_dir:
        cache.write(cache_dir, path, data, sha, data["sources"], [cache.signature(s) for s in data["sources"]])
    return compile_policy(data, sha)


def load_choice(choice: PolicyChoice, *, cache_dir: str | None = None, memory: dict | None = None) -> Policy:
    """The policy a choice names (a workspace overlay sits on its base). `memory`: a long-lived process (the
    decision service) keeps compiled policies here and reuses one while none of its files changed."""
    from capfence_sh.policy import cache

    key = (choice.path, choice.workspace_overlay, cache_dir)
    if memory is not None and key in memory:
        policy, signatures = memory[key]
        if all(cache.signature(source) == sig for source, sig in signatures):
            return policy
    policy = load_policy(choice.path, cache_dir=cache_dir)
    sources = list(policy.sources)
    if choice.workspace_overlay:
        overlay = load_policy(choice.workspace_overlay, cache_dir=cache_dir)
        overlay.base = policy
        sources += overlay.sources
        policy = overlay
    if memory is not None:
        memory[key] = (policy, [(source, cache.signature(source)) for source in sources])
    return policy


def _sha256_of(sources: list[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for source in sources:
        try:
            with open(source, "rb") as handle:
                digest.update(handle.read())
        except OSError as exc:
            raise PolicyError(f"{source}: cannot read policy: {exc.strerror}") from None
    return digest.hexdigest()

