"""Where credentials live: reading these paths is `secret.read`, whichever program does it.

Patterns are globs; `~` is the user's home. `**` spans directories. Matching of unknown or glob targets is
"may match" (see capfence_sh.policy.pathmatch), so `cat ~/.ssh/*` and `tar c ~/.ssh` count as reads too.
"""

from __future__ import annotations

SECRET_PATTERNS: tuple[str, ...] = (
    # SSH and TLS private keys, wherever they are
    "~/.ssh/id_*",
    "~/.ssh/*_rsa",
    "~/.ssh/*_dsa",
    "~/.ssh/*_ecdsa",
    "~/.ssh/*_ed25519",
    "~/.ssh/*.pem",
    "~/.ssh/*.key",
    "**/id_rsa",
    "**/id_dsa",
    "**/id_ecdsa",
    "**/id_ed25519",
    "**/*.pem",
    "**/*.key",
    "**/*.p12",
    "**/*.pfx",
    "**/*.jks",
    "**/*.keystore",
    "/etc/ssh/ssh_host_*_key",
    "/etc/ssl/private/**",
    # Cloud, cluster and registry credentials
    "~/.aws/credentials",
    "~/.aws/sso/cache/**",
    "~/.aws/cli/cache/**",
    "~/.config/gcloud/**",
    "~/.azure/**",
    "~/.kube/config",
    "~/.kube/**/config",
    "~/.docker/config.json",
    "~/.config/doctl/**",
    "~/.config/gh/hosts.yml",
    "~/.config/hub",
    "~/.terraform.d/credentials.tfrc.json",
    "~/.vault-token",
    "~/.databrickscfg",
    "~/.fly/config.yml",
    "~/.netlify/**",
    "~/.config/netlify/**",
    "~/.config/heroku/**",
    "~/.netrc",
    "**/.netrc",
    "~/.git-credentials",
    "**/.git-credentials",
    "~/.config/git/credentials",
    "~/.npmrc",
    "~/.pypirc",
    "~/.gem/credentials",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
    "~/.pgpass",
    "~/.my.cnf",
    "**/*.tfstate",
    "**/*.tfstate.backup",
    "**/service-account*.json",
    "**/credentials.json",
    # Password stores and keyrings
    "~/.gnupg/**",
    "~/.password-store/**",
    "~/.local/share/keyrings/**",
    "~/.config/op/**",
    "~/.mozilla/**/logins.json",
    "~/.mozilla/**/key4.db",
    "~/.config/google-chrome/**/Login Data",
    "~/.config/chromium/**/Login Data",
    # System secrets
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/sudoers.d/**",
    "/proc/*/environ",
    "/var/run/secrets/**",
    "/run/secrets/**",
)


# Public halves and non-secret files that the patterns above would otherwise catch.
NOT_SECRET_SUFFIXES: tuple[str, ...] = (".pub", ".pub.pem", "known_hosts", "known_hosts.old", ".crt", ".csr")


def expand_home(pattern: str, home: str) -> str:
    if pattern == "~":
        return home
    if pattern.startswith("~/"):
        return home.rstrip("/") + pattern[1:]
    return pattern


# Where a credential named after its vendor belongs: sending GITHUB_TOKEN to api.github.com is using it; sending it
# anywhere else is exfiltrating it. Keys: a word in the variable's name. Values: host suffixes.
CREDENTIAL_HOMES: dict[str, tuple[str, ...]] = {
    "GITHUB": ("github.com", "githubusercontent.com", "ghcr.io"),
    "GH": ("github.com", "githubusercontent.com", "ghcr.io"),
    "GITLAB": ("gitlab.com",),
    "GL": ("gitlab.com",),
    "BITBUCKET": ("bitbucket.org", "atlassian.com"),
    "NPM": ("npmjs.org", "npmjs.com"),
    "PYPI": ("pypi.org",),
    "TWINE": ("pypi.org",),
    "CARGO": ("crates.io",),
    "OPENAI": ("openai.com",),
    "ANTHROPIC": ("anthropic.com",),
    "AWS": ("amazonaws.com", "aws.amazon.com"),
    "GOOGLE": ("googleapis.com", "google.com"),
    "GCP": ("googleapis.com",),
    "AZURE": ("azure.com", "microsoft.com", "windows.net"),
    "SLACK": ("slack.com",),
    "DISCORD": ("discord.com", "discordapp.com"),
    "STRIPE": ("stripe.com",),
    "SENTRY": ("sentry.io",),
    "HF": ("huggingface.co",),
    "HUGGINGFACE": ("huggingface.co",),
    "DOCKER": ("docker.io", "docker.com"),
    "CLOUDFLARE": ("cloudflare.com",),
    "CF": ("cloudflare.com",),
    "VERCEL": ("vercel.com",),
    "NETLIFY": ("netlify.com",),
    "HEROKU": ("heroku.com",),
    "DIGITALOCEAN": ("digitalocean.com",),
    "DO": ("digitalocean.com",),
    "TWILIO": ("twilio.com",),
    "SENDGRID": ("sendgrid.com",),
    "DATADOG": ("datadoghq.com", "datadoghq.eu"),
    "DD": ("datadoghq.com", "datadoghq.eu"),
    "LINEAR": ("linear.app",),
    "NOTION": ("notion.com", "notion.so"),
    "JIRA": ("atlassian.net", "atlassian.com"),
}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal")
