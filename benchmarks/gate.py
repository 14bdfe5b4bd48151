"""Whole-process cost of the gate, side by side with its baselines, measured in one run.

    python benchmarks/gate.py [--runs 40] [--json benchmarks/results/gate.json]

Reports the median wall time of: the interpreter floor (`python -c pass`, `python -I -S -c pass`), `bash -c true`,
`capfence exec -- true`, `capfence exec -c 'test -d . && true'`, `capfence check -c '<typical command>'`, and the
PATH shims (`true` through a per-program shim, `bash -c true` through the bash shim) against the same without
shims; and each as a ratio of `python -c pass`. Everything runs under a scratch HOME; nothing is written to the
real one. Medians over repeated runs, after warm-up runs that build the caches. Not a test: machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TYPICAL = "git status --short && ls -la src | grep -v pyc"


def timed(argv: list[str], env: dict, cwd: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env)
        os.waitpid(pid, 0)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def capfence_executable() -> str:
    found = Path(sys.executable).parent / "capfence"
    if found.exists():
        return str(found)
    which = shutil.which("capfence")
    if not which:
        raise SystemExit("capfence is not installed next to this interpreter or on PATH")
    return which


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "gate.json"))
    args = parser.parse_args()
    installed = capfence_executable()
    bash = shutil.which("bash") or "/bin/bash"
    true = shutil.which("true") or "/bin/true"
    with tempfile.TemporaryDirectory(prefix="capfence-bench-") as scratch:
        home = Path(scratch) / "home"
        workspace = home / "project"
        (workspace / ".git").mkdir(parents=True)
        (workspace / "src").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPFENCE_", "XDG_"))}
        env.update(HOME=str(home), CAPFENCE_ACTOR="bench")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # The command as install.sh installs it (a lean launcher, not pip's script, which imports `re`).
        launcher = home / "bin" / "capfence"
        launcher.parent.mkdir()
        subprocess.run([str(Path(installed).parent / "python"), "-c",
                        "import sys; from capfence_sh.shims import write_launcher; write_launcher(sys.argv[1])",
                        str(launcher)], check=True, env=env)
        capfence = str(launcher)
        shim_dir = home / "shims"
        subprocess.run([capfence, "shims", "install", "--dir", str(shim_dir), "--commands", "true"], env=env,
                       check=True, capture_output=True, cwd=workspace)
        local = dict(env, CAPFENCE_SERVICE="off")
        served = dict(env, CAPFENCE_SERVICE="auto", CAPFENCE_SERVICE_IDLE="600")
        def shimmed(base: dict) -> dict:
            return dict(base, PATH=f"{shim_dir}:{env['PATH']}", CAPFENCE_SHIM_DIR=str(shim_dir))
        gated = [
            ("exec -- true", [capfence, "exec", "--", "true"]),
            ("exec -c 'test -d . && true'", [capfence, "exec", "-c", "test -d . && true"]),
            (f"check --json -c '{TYPICAL}'", [capfence, "check", "--json", "-c", TYPICAL]),
            ("true through its shim", [str(shim_dir / "true")]),
            ("bash -c true through the bash shim", [str(shim_dir / "bash"), "-c", "true"]),
        ]
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], env),
            ("python -I -S -c pass", [sys.executable, "-I", "-S", "-c", "pass"], env),
            ("bash -c true", [bash, "-c", "true"], env),
            ("true (no shims)", [true], env),
        ]
        for name, argv in gated:
            cases.append((f"{name}  [decision service]", argv, shimmed(served) if "shim" in name else served))
            cases.append((f"{name}  [in process]", argv, shimmed(local) if "shim" in name else local))
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(1)
        os.dup2(devnull, 1)
        os.chdir(workspace)
        try:
            for _, argv, case_env in cases:  # warm-up: starts the service, builds caches and bytecode
                for _ in range(3):
                    timed(argv, case_env, str(workspace), 1)
            time.sleep(1.0)
            results = {name: timed(argv, case_env, str(workspace), args.runs) for name, argv, case_env in cases}
        finally:
            os.dup2(saved, 1)
            os.close(devnull)
            _stop_service(served)
    floor = results["python -c pass"]
    width = max(len(name) for name in results)
    print(f"{'case':<{width}}  median ms  x python -c pass")
    for name, value in results.items():
        print(f"{name:<{width}}  {value:9.1f}  {value / floor:6.2f}x")
    report = {"python": sys.version.split()[0], "runs": args.runs, "machine": os.uname().machine,
              "cpus": os.cpu_count(), "load_average": os.getloadavg(), "median_ms": results,
              "ratio_to_python_pass": {name: round(value / floor, 3) for name, value in results.items()}}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")
    return 0


def _stop_service(env: dict) -> None:
    from capfence_sh import service_client

    service_client.stop(env)


if __name__ == "__main__":
    sys.exit(main())
