"""Tests for capfence_sh.parse.bashlex_loader (the cached LALR table for bashlex).

The loader acts once per process (it drives the import of bashlex), so every scenario runs in fresh
subprocesses with CAPFENCE_CACHE_DIR pointing into tmp_path and HOME redirected there as well.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

from capfence_sh.parse import bashlex_loader as L  # importable through tests/parse/conftest.py

# Prints one JSON object describing how bashlex was obtained and what it produced.
PROBE = r"""
import os, sys
mode, corpus = sys.argv[1], sys.argv[2]
info = {}
if mode == "plain":
    import bashlex
    info["outcome"] = "plain-import"
else:
    from capfence_sh.parse import bashlex_loader as L
    if "PROBE_RACY_NS" in os.environ:
        L._RACY_WINDOW_NS = int(os.environ["PROBE_RACY_NS"])
    bashlex = L.load_bashlex()
    info["outcome"] = L._last_outcome
    info["error"] = L._last_error
info["inspect_loaded"] = "inspect" in sys.modules
info["hashlib_loaded"] = "hashlib" in sys.modules
import json
import bashlex.parser, bashlex.yacc

info["bashlex_file"] = bashlex.__file__
info["yacc_restored"] = (bashlex.yacc.yacc.__module__, bashlex.yacc.yacc.__qualname__) == ("bashlex.yacc", "yacc")
results = []
for command in json.loads(corpus):
    try:
        results.append(["ok", [tree.dump() for tree in bashlex.parse(command)]])
    except Exception as exc:
        results.append(["error", type(exc).__module__ + "." + type(exc).__qualname__, str(exc)])
info["results"] = results
y = bashlex.parser.yaccparser
info["tables"] = {
    "action": sorted((state, sorted(row.items())) for state, row in y.action.items()),
    "goto": sorted((state, sorted(row.items())) for state, row in y.goto.items()),
    "defaulted": sorted(y.defaulted_states.items()),
    "productions": [
        (p.number, p.name, list(p.prod), list(p.prec), p.func, p.file, p.line, p.len, p.str,
         getattr(p.callable, "__qualname__", None), type(p).__qualname__)
        for p in y.productions
    ],
    "errorfunc": y.errorfunc.__qualname__,
    "parser_type": type(y).__module__ + "." + type(y).__qualname__,
}
if mode != "plain":
    path = L.cache_file_path()
    entry = L._read_cache(path)
    info["cache"] = {
        "path": path,
        "valid": entry is not None,
        "key_ok": entry is not None and entry.key == L.table_cache_key(),
        "sig_recorded": entry is not None and entry.sig is not None,
    }
print(json.dumps(info))
"""

# Checks that the cache holds the tables exactly as yacc builds them, before bashlex's corrections.
PRE_HACK_PROBE = r"""
import json, sys
from capfence_sh.parse import bashlex_loader as L
bashlex = L.load_bashlex()
outcome = L._last_outcome
inspect_before = "inspect" in sys.modules
import bashlex.parser as P, bashlex.yacc as Y
entry = L._read_cache(L.cache_file_path())
# A fresh build goes through yacc's introspection, i.e. through the stand-in for `inspect`.
fresh = Y.yacc(debug=False, module=P)
plain = lambda table: {state: dict(row) for state, row in table.items()}
print(json.dumps({
    "outcome": outcome,
    "inspect_before": inspect_before,
    "inspect_after": "inspect" in sys.modules,
    "stored_equals_fresh": entry.action == plain(fresh.action) and entry.goto == plain(fresh.goto),
    "stored_equals_live": entry.action == plain(P.yaccparser.action),
    "goto_live_equals_fresh": plain(P.yaccparser.goto) == plain(fresh.goto),
    "productions_equal": list(entry.productions) == [
        (p.name, tuple(p.prod), tuple(p.prec), p.func, p.file, p.line) for p in fresh.productions
    ],
}))
"""

CORPUS = [
    # simple commands, assignments, words
    "ls",
    "ls -la",
    "echo hello world",
    "cat /etc/passwd",
    "rm -rf /tmp/x",
    "git status",
    "git commit -m 'a message'",
    "python3 -c 'print(1)'",
    "FOO=bar env",
    "A=1 B=2 cmd arg",
    "x=1",
    "x+=1",
    "cd /tmp",
    "true",
    ":",
    "echo",
    "echo ''",
    'echo ""',
    "echo \\$HOME",
    "sudo rm -rf /",
    "curl http://example.com/install.sh | sh",
    "bash -c 'rm -rf /'",
    "env -i PATH=/bin sh -c 'id'",
    "echo a#b",
    "echo a # comment",
    "export A=1",
    "exec ls",
    "eval 'ls -l'",
    "source ~/.bashrc",
    ". ./env.sh",
    "nice -n 10 make -j4",
    "find . -name '*.py' -exec rm {} \\;",
    "xargs -0 rm < list",
    "printf '%s\\n' a b c",
    "[ -f x ]",
    "test -n \"$x\"",
    "((x++))",
    "let x=1",
    # pipelines
    "ls | grep x",
    "cat f | sort | uniq -c | sort -rn | head",
    "! grep -q x f",
    "a |& b",
    "ps aux | grep -v grep | awk '{print $2}' | xargs kill",
    "yes | head -n 3",
    "! ls",
    # lists
    "a && b",
    "a || b",
    "a; b",
    "a & b",
    "a && b || c; d &",
    "a\nb",
    "a;\nb",
    "a ; b ;",
    "a &\nb",
    "make && make install || echo failed",
    "cd /tmp && rm -rf * ; ls",
    "a\n\n\nb\n",
    # compound commands
    "if true; then echo y; fi",
    "if a; then b; elif c; then d; else e; fi",
    "if ! a; then b; fi",
    "while true; do sleep 1; done",
    "while read line; do echo \"$line\"; done < file",
    "until false; do x; done",
    "for i in 1 2 3; do echo $i; done",
    "for i; do echo $i; done",
    "for f in *.txt; do mv \"$f\" \"${f%.txt}.md\"; done",
    "for ((i=0;i<3;i++)); do echo $i; done",
    "case $x in a) echo a;; b|c) echo bc;; *) echo d;; esac",
    "case x in",
    "{ a; b; }",
    "(a; b)",
    "( cd /tmp && ls )",
    "{ echo a; } > f",
    "(echo a) | cat",
    "if true; then (cd x; ls) fi",
    "while true; do if a; then break; fi; done",
    "select x in a b; do echo $x; done",
    "[[ -f x ]]",
    "time ls",
    "coproc cat",
    # functions
    "f() { echo hi; }",
    "function f { echo hi; }",
    "function f() { ls; }; f",
    "f() ( echo sub )",
    "f() { local x=1; echo $x; } ; f a b",
    "g() { f \"$@\"; }",
    # redirections
    "ls > out",
    "ls >> out",
    "ls 2> err",
    "ls 2>&1",
    "ls &> all",
    "ls > /dev/null 2>&1",
    "cat < in",
    "cat <> f",
    "exec 3>&-",
    "exec 3< file",
    "echo x >&2",
    "cmd 1>&2 2>/dev/null",
    "ls >| f",
    "cat <<< 'here string'",
    "cat <<< \"$var\"",
    "> empty",
    "< in cat",
    "echo a > f1 > f2",
    "ls 2>&1 | tee log",
    "cat > ~/.ssh/authorized_keys",
    # heredocs
    "cat <<EOF\nhello\nEOF",
    "cat <<-EOF\n\thello\n\tEOF",
    "cat <<'EOF'\n$x\nEOF",
    "cat <<\"EOF\"\n$x\nEOF",
    "cat <<EOF > f\na\nb\nEOF\necho done",
    "cat <<EOF | grep a\na\nEOF",
    "cat <<A <<B\na\nA\nb\nB",
    "cat <<EOF\n$(date)\n${HOME}\nEOF",
    "cat <<EOF",
    "python3 - <<'PY'\nimport os\nos.system('id')\nPY",
    # substitutions and expansions
    "echo $(date)",
    "echo `date`",
    "echo $(echo $(echo nested))",
    "x=$(ls | wc -l)",
    'echo "$(whoami)"',
    "diff <(ls a) <(ls b)",
    "tee >(cat) < f",
    "echo ${HOME}",
    "echo ${x:-default}",
    "echo ${x:=default}",
    "echo ${#x}",
    "echo ${x/a/b}",
    "echo ${x##*/}",
    "echo ${x",
    "echo $((1 + 2))",
    "echo $[1+2]",
    "echo ~",
    "echo ~/x",
    "echo *.py",
    "echo {a,b,c}",
    "echo $1 $@ $* $# $? $$ $!",
    "rm -rf \"$(pwd)\"/*",
    "$(echo rm) -rf /",
    "`echo ls`",
    "echo $(",
    "echo `",
    "echo \"$(echo \"$(echo deep)\")\"",
    # quoting
    "echo 'single $x'",
    'echo "double $x"',
    "echo $'ansi\\n'",
    'echo $"locale"',
    "echo a\\ b",
    "echo 'a'\"b\"c",
    "echo \"nested 'q'\"",
    'echo "esc \\" q"',
    "echo 'unterminated",
    'echo "unterminated',
    "echo \\'",
    "'l''s' -la",
    '"rm" -rf x',
    "echo \"a\nb\"",
    # syntax errors
    "if true; then",
    "fi",
    "done",
    "a &&",
    "| b",
    "a ||",
    ")",
    "(",
    "{ a",
    "for in",
    "f() {",
    "while",
    ";;",
    "a ;; b",
    "then",
    "cat <<",
    "ls >",
    "&& a",
    "a | | b",
    "if; then fi",
    "x=(a b)",
    "declare -a x=(1 2)",
    "!",
    "((",
    # odd inputs
    "",
    "   ",
    "# only a comment",
    "\n\n",
]


def _env(tmp_path: Path, cache_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAPFENCE_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env["HOME"] = str(tmp_path / "home")
    env["CAPFENCE_CACHE_DIR"] = str(cache_dir)
    env.update(extra)
    return env


def _command(mode: str, corpus: list[str]) -> list[str]:
    return [sys.executable, "-c", PROBE, mode, json.dumps(corpus)]


def _probe(tmp_path: Path, cache_dir: Path, mode: str = "loader", corpus: list[str] = CORPUS, **extra: str) -> dict:
    # A venv created seconds ago would make bashlex's files "racy" (see the loader); tests that are
    # about the racy window set it themselves.
    extra.setdefault("PROBE_RACY_NS", "0")
    proc = subprocess.run(
        _command(mode, corpus),
        cwd=REPO,
        env=_env(tmp_path, cache_dir, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def _only_file(cache_dir: Path) -> Path:
    files = sorted(cache_dir.iterdir())
    assert len(files) == 1, files
    return files[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The corpus parsed by a plain `import bashlex`."""
    tmp = tmp_path_factory.mktemp("reference")
    return _probe(tmp, tmp / "unused", mode="plain")


def _assert_same_parser(got: dict, reference: dict) -> None:
    assert got["results"] == reference["results"]
    assert got["tables"] == reference["tables"]


# ---------------------------------------------------------------------------------------------


def test_corpus_is_varied(reference: dict) -> None:
    assert len(CORPUS) >= 150
    kinds = [r[0] if r[0] == "ok" else r[1] for r in reference["results"]]
    assert kinds.count("ok") >= 100
    assert kinds.count("bashlex.errors.ParsingError") >= 20
    assert kinds.count("builtins.NotImplementedError") >= 5


def test_cold_then_warm(tmp_path: Path, reference: dict) -> None:
    cache_dir = tmp_path / "cache"
    cold = _probe(tmp_path, cache_dir)
    assert cold["outcome"] == "built"
    assert cold["error"] == ""
    assert cold["cache"] == {"path": cold["cache"]["path"], "valid": True, "key_ok": True, "sig_recorded": True}
    path = _only_file(cache_dir)
    assert str(path) == cold["cache"]["path"]
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (cache_dir.stat().st_mode & 0o777) == 0o700
    _assert_same_parser(cold, reference)

    warm = _probe(tmp_path, cache_dir)
    assert warm["outcome"] == "cache"
    assert warm["error"] == ""
    assert warm["yacc_restored"] and cold["yacc_restored"]
    # The fast path needs neither inspect (bashlex.yacc's introspection) nor hashlib (the content key).
    assert not warm["inspect_loaded"]
    assert not warm["hashlib_loaded"]
    _assert_same_parser(warm, reference)
    assert [p.name for p in cache_dir.iterdir()] == [path.name]  # no temporary files left


def test_identity_with_warm_cache(tmp_path: Path, reference: dict) -> None:
    cache_dir = tmp_path / "cache"
    _probe(tmp_path, cache_dir, corpus=[])
    plain = _probe(tmp_path, cache_dir, mode="plain")
    cached = _probe(tmp_path, cache_dir)
    assert cached["outcome"] == "cache"
    assert cached["tables"]["parser_type"] == plain["tables"]["parser_type"] == "bashlex.yacc.LRParser"
    assert cached["results"] == plain["results"]
    # action/goto after bashlex's correction edits, productions, defaulted states, error function.
    assert cached["tables"] == plain["tables"]
    assert plain == reference  # and a plain import is itself deterministic across processes


def test_cache_holds_tables_as_yacc_built_them(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    _probe(tmp_path, cache_dir, corpus=[])
    proc = subprocess.run(
        [sys.executable, "-c", PRE_HACK_PROBE],
        cwd=REPO,
        env=_env(tmp_path, cache_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["outcome"] == "cache"
    assert got["stored_equals_fresh"]
    assert got["productions_equal"]
    # bashlex edits action rows after yacc returns; storing them edited would apply the edits twice.
    assert not got["stored_equals_live"]
    assert got["goto_live_equals_fresh"]
    # The stand-in let the fresh build use inspect, importing it only then.
    assert not got["inspect_before"]
    assert got["inspect_after"]


def _corrupt(kind: str, valid: bytes) -> bytes:
    header = len(L._MAGIC) + 4

    def framed(body: bytes) -> bytes:  # correct magic and CRC, so deeper checks are exercised
        return L._MAGIC + zlib.crc32(body).to_bytes(4, "big") + body

    entry = L._decode(valid)
    assert entry is not None
    payload = (entry.productions, entry.action, entry.goto)
    if kind == "random-bytes":
        return os.urandom(len(valid))
    if kind == "empty":
        return b""
    if kind == "truncated":
        return valid[: len(valid) // 2]
    if kind == "truncated-with-good-crc":
        return framed(valid[header : len(valid) // 2])
    if kind == "header-only":
        return valid[:header]
    if kind == "bit-flip":
        flipped = bytearray(valid)
        flipped[len(valid) // 2] ^= 0x04
        return bytes(flipped)
    if kind == "wrong-format":
        return valid[: len(L._MAGIC) - 1] + b"\x7f" + valid[len(L._MAGIC) :]
    if kind == "wrong-key":
        return L._encode("0" * 64, None, payload)
    if kind == "stale-signature-wrong-key":
        assert entry.sig is not None
        files = tuple((0, 0, 0, 0, 0) for _ in entry.sig[2])
        return L._encode("1" * 64, (entry.sig[0], entry.sig[1], files), payload)
    if kind == "other-python":
        identity = (L.FORMAT_VERSION, sys.implementation.name, "3.99.0 (other)", marshal.version + 1)
        return L._encode("2" * 64, (identity,) + tuple(entry.sig[1:]), payload)
    if kind == "marshal-unknown-type-code":
        return framed(b"\xfe" + valid[header + 1 :])
    if kind == "marshal-wrong-shape":
        return framed(marshal.dumps(("key", None)))
    if kind == "unknown-grammar-action":
        productions = list(entry.productions)
        name, rhs, prec, _func, file, line = productions[5]
        productions[5] = (name, rhs, prec, "p_no_such_function", file, line)
        return L._encode(entry.key, None, (tuple(productions), entry.action, entry.goto))
    raise AssertionError(kind)


CORRUPTIONS = [
    "random-bytes",
    "empty",
    "truncated",
    "truncated-with-good-crc",
    "header-only",
    "bit-flip",
    "wrong-format",
    "wrong-key",
    "stale-signature-wrong-key",
    "other-python",
    "marshal-unknown-type-code",
    "marshal-wrong-shape",
    "unknown-grammar-action",
]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_cache_falls_back_and_is_rewritten(tmp_path: Path, reference: dict, kind: str) -> None:
    cache_dir = tmp_path / "cache"
    _probe(tmp_path, cache_dir, corpus=[])
    path = _only_file(cache_dir)
    path.write_bytes(_corrupt(kind, path.read_bytes()))

    got = _probe(tmp_path, cache_dir)
    assert got["outcome"] == "built"
    _assert_same_parser(got, reference)
    assert got["cache"]["valid"] and got["cache"]["key_ok"] and got["cache"]["sig_recorded"]
    if kind == "unknown-grammar-action":
        assert "p_no_such_function" in got["error"]
    assert _only_file(cache_dir) == path
    assert (path.stat().st_mode & 0o777) == 0o600

    again = _probe(tmp_path, cache_dir)
    assert again["outcome"] == "cache"
    _assert_same_parser(again, reference)


def test_cache_writable_by_others_is_ignored(tmp_path: Path, reference: dict) -> None:
    cache_dir = tmp_path / "cache"
    _probe(tmp_path, cache_dir, corpus=[])
    path = _only_file(cache_dir)
    path.chmod(0o666)
    got = _probe(tmp_path, cache_dir)
    assert got["outcome"] == "built"
    _assert_same_parser(got, reference)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert _probe(tmp_path, cache_dir, corpus=[])["outcome"] == "cache"


def test_fifo_at_cache_path_does_not_hang(tmp_path: Path, reference: dict) -> None:
    cache_dir = tmp_path / "cache"
    _probe(tmp_path, cache_dir, corpus=[])
    path = _only_file(cache_dir)
    path.unlink()
    os.mkfifo(path, 0o600)
    got = _probe(tmp_path, cache_dir)  # _probe has a timeout
    assert got["outcome"] == "built"
    _assert_same_parser(got, reference)
    assert got["cache"]["valid"] and path.is_file()


def test_cache_dir_that_cannot_be_created(tmp_path: Path, reference: dict) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    cache_dir = blocker / "cache"
    for _ in range(2):
        got = _probe(tmp_path, cache_dir)
        assert got["outcome"] == "built"
        assert got["error"].startswith("writing the cache: NotADirectoryError")
        assert not got["cache"]["valid"]
        _assert_same_parser(got, reference)
    assert blocker.read_text() == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_cache_dir(tmp_path: Path, reference: dict) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o500)
    try:
        got = _probe(tmp_path, cache_dir)
        assert got["outcome"] == "built"
        assert got["error"].startswith("writing the cache: PermissionError")
        _assert_same_parser(got, reference)
        assert list(cache_dir.iterdir()) == []
    finally:
        cache_dir.chmod(0o700)


def test_concurrent_first_runs(tmp_path: Path, reference: dict) -> None:
    cache_dir = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            _command("loader", CORPUS),
            cwd=REPO,
            env=_env(tmp_path, cache_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert err == ""
        got = json.loads(out)
        assert got["outcome"] in ("built", "cache")
        _assert_same_parser(got, reference)
    path = _only_file(cache_dir)  # one cache file, no temporary files left behind
    entry = L._read_cache(str(path))
    assert entry is not None and entry.key == L.table_cache_key()
    after = _probe(tmp_path, cache_dir)
    assert after["outcome"] == "cache"
    _assert_same_parser(after, reference)


# ---------------------------------------------------------------------------------------------
# Invalidation, on a private copy of bashlex that the tests may edit.


@pytest.fixture()
def bashlex_copy(tmp_path: Path) -> Path:
    import bashlex

    site = tmp_path / "site"
    shutil.copytree(Path(bashlex.__file__).parent, site / "bashlex", ignore=shutil.ignore_patterns("__pycache__"))
    dist = site / "bashlex-0.18.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bashlex\nVersion: 0.18\n")
    return site


def _probe_copy(tmp_path: Path, site: Path, racy_ns: int = 0) -> dict:
    got = _probe(tmp_path, tmp_path / "cache", PYTHONPATH=str(site), PROBE_RACY_NS=str(racy_ns))
    assert got["bashlex_file"] == str(site / "bashlex" / "__init__.py")
    return got


def _key_of(cache_path: str) -> str:
    entry = L._read_cache(cache_path)
    assert entry is not None
    return entry.key


def test_changed_source_is_never_served_stale(tmp_path: Path, bashlex_copy: Path, reference: dict) -> None:
    first = _probe_copy(tmp_path, bashlex_copy)
    assert first["outcome"] == "built" and first["cache"]["sig_recorded"]
    assert _probe_copy(tmp_path, bashlex_copy)["outcome"] == "cache"
    key1 = _key_of(first["cache"]["path"])

    parser_py = bashlex_copy / "bashlex" / "parser.py"
    parser_py.write_text(parser_py.read_text() + "\n# edited\n")
    edited = _probe_copy(tmp_path, bashlex_copy)
    assert edited["outcome"] == "built"
    # Same grammar (only a comment changed); productions differ only in the file they name.
    assert edited["results"] == reference["results"]
    assert edited["tables"]["action"] == reference["tables"]["action"]
    key2 = _key_of(edited["cache"]["path"])
    assert key2 != key1


def test_same_size_same_mtime_edit_is_detected(tmp_path: Path, bashlex_copy: Path) -> None:
    assert _probe_copy(tmp_path, bashlex_copy)["outcome"] == "built"
    tokenizer_py = bashlex_copy / "bashlex" / "tokenizer.py"
    before = tokenizer_py.stat()
    data = tokenizer_py.read_bytes()
    assert data.endswith(b"\n")
    tokenizer_py.write_bytes(data[:-1] + b" ")  # same size, still valid Python
    os.utime(tokenizer_py, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = tokenizer_py.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    got = _probe_copy(tmp_path, bashlex_copy)
    assert got["outcome"] == "built"
    assert got["hashlib_loaded"]  # the signature changed (ctime), so the content was hashed


def test_touched_source_is_verified_by_content(tmp_path: Path, bashlex_copy: Path) -> None:
    first = _probe_copy(tmp_path, bashlex_copy)
    key = _key_of(first["cache"]["path"])
    os.utime(bashlex_copy / "bashlex" / "yacc.py")
    verified = _probe_copy(tmp_path, bashlex_copy)
    assert verified["outcome"] == "cache"
    assert verified["hashlib_loaded"]
    assert verified["cache"]["sig_recorded"]
    assert _key_of(first["cache"]["path"]) == key
    fast = _probe_copy(tmp_path, bashlex_copy)
    assert fast["outcome"] == "cache"
    assert not fast["hashlib_loaded"]


def test_recently_changed_sources_are_not_trusted_by_signature(tmp_path: Path, bashlex_copy: Path) -> None:
    # The copy was just made, so with a window of ten minutes every file is "racy": no signature is
    # recorded and each start verifies the content until the files are old enough.
    window = 600 * 10**9
    first = _probe_copy(tmp_path, bashlex_copy, racy_ns=window)
    assert first["outcome"] == "built"
    assert first["cache"]["valid"] and first["cache"]["key_ok"]
    assert not first["cache"]["sig_recorded"]
    second = _probe_copy(tmp_path, bashlex_copy, racy_ns=window)
    assert second["outcome"] == "cache"
    assert second["hashlib_loaded"]
    assert not second["cache"]["sig_recorded"]


def test_new_bashlex_version_changes_the_key(tmp_path: Path, bashlex_copy: Path) -> None:
    first = _probe_copy(tmp_path, bashlex_copy)
    key1 = _key_of(first["cache"]["path"])
    (bashlex_copy / "bashlex-0.18.dist-info").rename(bashlex_copy / "bashlex-0.19.dist-info")
    got = _probe_copy(tmp_path, bashlex_copy)
    assert got["outcome"] == "built"
    assert _key_of(got["cache"]["path"]) != key1


# ---------------------------------------------------------------------------------------------
# warm_cache, table_cache_key, defaults


WARM = r"""
import json, os, sys
from capfence_sh.parse import bashlex_loader as L
before = None
if sys.argv[1] == "import-first":
    import bashlex
    before = bashlex
path = L.warm_cache()
import bashlex
assert before is None or sys.modules["bashlex"] is before  # what was imported is put back
assert bashlex.parse("ls")
st1 = os.stat(path)
assert L.warm_cache() == path
st2 = os.stat(path)
entry = L._read_cache(path)
print(json.dumps({"path": path, "valid": entry is not None and entry.key == L.table_cache_key(),
                  "rewritten": (st1.st_ino, st1.st_mtime_ns) != (st2.st_ino, st2.st_mtime_ns)}))
"""


@pytest.mark.parametrize("order", ["import-first", "loader-first"])
def test_warm_cache(tmp_path: Path, reference: dict, order: str) -> None:
    cache_dir = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-c", WARM, order],
        cwd=REPO,
        env=_env(tmp_path, cache_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["valid"] and not got["rewritten"]
    assert Path(got["path"]) == _only_file(cache_dir)
    after = _probe(tmp_path, cache_dir)
    assert after["outcome"] == "cache"
    _assert_same_parser(after, reference)


def test_warm_cache_reports_unwritable_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code = "from capfence_sh.parse import bashlex_loader as L; L.warm_cache()"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(tmp_path, blocker / "c"), capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "NotADirectoryError" in proc.stderr


def test_already_imported_bashlex_is_returned(tmp_path: Path) -> None:
    code = (
        "import bashlex; from capfence_sh.parse import bashlex_loader as L; "
        "assert L.load_bashlex() is bashlex; print(L._last_outcome)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(tmp_path, tmp_path / "c"), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "already-imported"
    assert not (tmp_path / "c").exists()


def test_table_cache_key_is_stable(tmp_path: Path) -> None:
    key = L.table_cache_key()
    assert len(key) == 64 and int(key, 16) >= 0
    code = "from capfence_sh.parse import bashlex_loader as L; print(L.table_cache_key())"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(tmp_path, tmp_path / "c"), capture_output=True, text=True
    )
    assert proc.stdout.strip() == key


def test_racy_window() -> None:
    now = 10**18

    def sig(age_s: float) -> tuple:
        t = now - int(age_s * 10**9)
        return ((), "/x", ((1, 2, 3, t, t), (1, 4, t, t)))

    assert L._is_racy(sig(0), now)
    assert L._is_racy(sig(1), now)
    assert not L._is_racy(sig(10), now)
    old, fresh = sig(10), sig(0)
    mixed = (old[0], old[1], (old[2][0], fresh[2][1]))  # the dist-info directory changed just now
    assert L._is_racy(mixed, now)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CAPFENCE_CACHE_DIR", "/x/explicit")
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/xdg")
    assert L.default_cache_dir() == "/x/explicit"
    monkeypatch.setenv("CAPFENCE_CACHE_DIR", "")
    assert L.default_cache_dir() == "/x/xdg/capfence"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert L.default_cache_dir() == str(tmp_path / ".cache" / "capfence")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("CAPFENCE_CACHE_DIR")
    assert L.default_cache_dir() == str(tmp_path / ".cache" / "capfence")
