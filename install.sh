#!/usr/bin/env bash
# Install capfence into its own virtual environment and put `capfence` on PATH. Idempotent: run it again to
# upgrade in place.
#
#   ./install.sh            install (or upgrade) capfence for this user
#   ./install.sh --shims    the same, and install the PATH shims (see `capfence shims --help`)
#   ./install.sh --test     install what the tests need into ./.venv and run the test suite
#
# Environment: CAPFENCE_PYTHON (interpreter, default python3), CAPFENCE_VENV (default
# $XDG_DATA_HOME/capfence/venv), CAPFENCE_BIN_DIR (where the `capfence` link goes; default: the first of
# ~/.local/bin, ~/bin, /usr/local/bin that is on PATH and writable).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${CAPFENCE_PYTHON:-python3}"
mode=install
shims=no
for arg in "$@"; do
  case "$arg" in
    --test) mode=test ;;
    --shims) shims=yes ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "install.sh: capfence needs Python 3.11 or newer ($python is $("$python" --version 2>&1 || echo missing))" >&2
  exit 1
fi

if [ "$mode" = test ]; then
  venv="$here/.venv"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check hatchling editables
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation -e "$here[test]"
  cd "$here"
  exec "$venv/bin/python" -m pytest  # -q comes from pyproject; the closing "N passed" line stays
fi

data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
venv="${CAPFENCE_VENV:-$data_home/capfence/venv}"
mkdir -p "$(dirname "$venv")"
chmod 700 "$(dirname "$venv")" 2>/dev/null || true
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$here"

# Build the parser and policy caches now, so the first gated command is as fast as the rest. Every snippet runs
# isolated (-I): from this directory, a plain `python -` would import the checkout instead of the installed copy.
"$venv/bin/python" -I - <<'PY'
from capfence_sh.parse.bashlex_loader import warm_cache
from capfence_sh.policy import load_policy, resolve_pack
from capfence_sh import paths
warm_cache()
for pack in ("default", "strict", "readonly"):
    load_policy(resolve_pack(pack), cache_dir=paths.cache_dir())
PY

on_path() { case ":$PATH:" in *":$1:"*) return 0 ;; *) return 1 ;; esac; }
bin_dir="${CAPFENCE_BIN_DIR:-}"
if [ -z "$bin_dir" ]; then
  for candidate in "$HOME/.local/bin" "$HOME/bin" /usr/local/bin; do
    if on_path "$candidate" && { [ -w "$candidate" ] || { [ ! -e "$candidate" ] && [ -w "$(dirname "$candidate")" ]; }; }; then
      bin_dir="$candidate"
      break
    fi
  done
fi
bin_dir="${bin_dir:-$HOME/.local/bin}"
mkdir -p "$bin_dir"
rm -f "$bin_dir/capfence"  # an earlier install's symlink
"$venv/bin/python" -I -c 'import sys; from capfence_sh.shims import write_launcher; write_launcher(sys.argv[1])' \
  "$bin_dir/capfence"

echo "capfence installed: $bin_dir/capfence (runs $venv/bin/python)"
if [ "$shims" = yes ]; then
  "$venv/bin/capfence" shims install
fi
if ! on_path "$bin_dir"; then
  echo "note: $bin_dir is not on your PATH; add it:  export PATH=\"$bin_dir:\$PATH\"" >&2
fi
