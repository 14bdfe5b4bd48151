"""Tests for the bashlex pre-pass: exact rewrites, bashlex acceptance, adversarial visibility, bounds."""

from __future__ import annotations

import inspect
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import bashlex
import pytest

from capfence_sh.parse.prepass import (
    ARITH,
    ARRAY,
    CASE,
    COND,
    HEREDOC_PREFIX,
    MAX_DEPTH,
    RESERVED_PREFIX,
    Heredoc,
    Prepassed,
    PrepassError,
    prepass,
)


def _parses(text: str) -> None:
    result = prepass(text)
    bashlex.parse(result.text)


# ----- exact rewrites ---------------------------------------------------------------------

EXACT = [
    # heredocs
    ("cat <<EOF\nhi $x\nEOF\necho after", "cat <__capfence_heredoc_0__\necho after", "unquoted heredoc body removed"),
    ("python3 - <<'EOF'\nprint(1)\nEOF\n", "python3 - <__capfence_heredoc_0__\n", "quoted delimiter bashlex rejects"),
    ("cat << EOF\nx\nEOF", "cat <__capfence_heredoc_0__\n", "space before delimiter, no final newline"),
    ("3<<EOF cat\nx\nEOF\n", "3<__capfence_heredoc_0__ cat\n", "fd prefix kept"),
    ("cat <<-EOF\n\tx\n\tEOF\n", "cat <__capfence_heredoc_0__\n", "<<- matches tab-indented delimiter"),
    (
        "cat <<A <<B\na\nA\nb\nB\necho done",
        "cat <__capfence_heredoc_0__ <__capfence_heredoc_1__\necho done",
        "two on one line",
    ),
    ("x=$(cat <<EOF\nbody\nEOF\n)", "x=$(cat <__capfence_heredoc_0__\n)", "heredoc inside $( )"),
    ("cat <<<'x'", "cat <<<'x'", "here-string left alone"),
    ("cat <<EOF && [[ x ]] && ls", "cat <__capfence_heredoc_0__ && __capfence_cond__ && ls", "no newline after it"),
    # [[ ]]
    ("[[ -d build ]]", COND, "plain test"),
    (
        '[[ -f "$(which x)" && $y == *.py ]] && echo hi',
        '__capfence_cond__ "$(which x)" && echo hi',
        "substitution kept, && inside is not a list operator",
    ),
    ("[[ $x =~ ^(a|b)$ ]] || exit 1", "__capfence_cond__ || exit 1", "regex with parens and |"),
    ("if [[ -n `id -u` ]]; then :; fi", 'if __capfence_cond__ "`id -u`"; then :; fi', "backquote kept"),
    ("[[ -s <(ls) ]]", "__capfence_cond__ <(ls)", "process substitution kept unquoted"),
    ('[[ "$a" == "]]" ]]; ls', "__capfence_cond__; ls", "quoted ]] does not end it"),
    ("echo [[ x ]]", "echo [[ x ]]", "not at command position"),
    ("x=1 [[ a ]]", "x=1 [[ a ]]", "after an assignment bash runs a command named [["),
    # arithmetic
    ("(( i++ ))", ARITH, "arithmetic command"),
    ("((i=1+2)) && echo", "__capfence_arith__ && echo", "no spaces"),
    ("echo $((3 + 4))", "echo $(__capfence_arith__)", "arithmetic expansion"),
    ('echo "$((1+2))"', 'echo "$(__capfence_arith__)"', "inside double quotes"),
    ("echo $(( $(wc -l <f) + 1 ))", 'echo $(__capfence_arith__ "$(wc -l <f)")', "substitution kept"),
    ("echo $[1+2]", "echo $(__capfence_arith__)", "deprecated $[ ]"),
    ("echo $((cd x; ls) )", "echo $( (cd x; ls) )", "$( (subshell) ) spelled without space"),
    ("( (cd x; ls) )", "( (cd x; ls) )", "nested subshells untouched"),
    ("((cd x; ls) )", "((cd x; ls) )", "(( that is a subshell"),
    ("echo '$((1))'", "echo '$((1))'", "single quoted"),
    # for (( ))
    ("for ((i=0;i<3;i++)); do echo $i; done", "for __capfence_i__ in 1; do echo $i; done", "C-style for"),
    ("for ((;;)) do echo; done", "for __capfence_i__ in 1; do echo; done", "no ; before do"),
    ("for (( i=$(id -u); i<3; i++ ))\ndo :; done", 'for __capfence_i__ in "$(id -u)"\ndo :; done', "subst kept"),
    # time
    ("time make test", "     make test", "time removed"),
    ("time -p ls", "        ls", "time -p removed"),
    ("! time ls", "!      ls", "after !"),
    ("a | time ls", "a | \\time ls", "after a pipe bash runs /usr/bin/time"),
    ("time", ":   ", "bare time"),
    ("echo time", "echo time", "argument"),
    # case
    (
        "case $x in a) echo a;; b|c) echo bc;; *) echo other;; esac",
        "{ __capfence_case__ $x; echo a ; echo bc ; echo other ; }",
        "one-liner",
    ),
    (
        "case $x in\n  a)\n    echo a\n    ;;\n  (b) echo b ;;\n  *)\n    echo default\nesac\n",
        "{ __capfence_case__ $x; echo a ; echo b ; echo default ; }\n",
        "multi-line, (pattern), last clause without ;;",
    ),
    ("case x in esac", "{ __capfence_case__ x; }", "esac right after in"),
    ("case x in a) ;; esac", "{ __capfence_case__ x; }", "empty body"),
    ("case x in a) sleep 1 & ;; esac", "{ __capfence_case__ x; sleep 1 & }", "body ending with &"),
    ("case x in ')') echo;; esac", "{ __capfence_case__ x; echo ; }", ") inside a quoted pattern"),
    (
        "case x in a) case y in b) echo;; esac;; esac",
        "{ __capfence_case__ x; { __capfence_case__ y; echo ; } ; }",
        "nested case",
    ),
    ("x=$(case a in a) echo ok;; esac)", "x=$({ __capfence_case__ a; echo ok ; })", "case in $( )"),
    ("case a in a) x;& b) y;;& c) z;; esac", "{ __capfence_case__ a; x ; y ; z ; }", "all terminators"),
    ('case "$1" in $(pwd)) cd;; esac', '{ __capfence_case__ "$1" "$(pwd)"; cd ; }', "pattern substitution kept"),
    # select / coproc
    ("select x in a b; do echo $x; done", "for    x in a b; do echo $x; done", "select becomes for"),
    ("coproc cat", "       cat", "coproc simple command"),
    ("coproc NAME { cat; }", "            { cat; }", "named coproc"),
    ("coproc ( ls )", "       ( ls )", "coproc subshell"),
    # arrays
    ("a=(1 2 3)", 'a="$(__capfence_array__ 1 2 3)"', "array literal"),
    ("a+=(x)", 'a+="$(__capfence_array__ x)"', "append"),
    ("declare -a arr=(1 2)", 'declare -a arr="$(__capfence_array__ 1 2)"', "declare argument"),
    ("local -A m=([k]=\"v w\")", 'local -A m="$(__capfence_array__ [k]="v w")"', "associative, quoted"),
    ("a=(1 # one\n 2\n)", 'a="$(__capfence_array__ 1   2 )"', "comment and newlines inside"),
    ("x=() y=(a) cmd", 'x="$(__capfence_array__ )" y="$(__capfence_array__ a)" cmd', "assignment prefix"),
    # comments
    ("# comment", "", "comment only"),
    ("# one\n  # two\n", "", "comments and blank lines only"),
    ("echo a # comment", "echo a ", "trailing comment"),
    ("echo a;# c", "echo a;", "comment after operator"),
    ("echo $# ${#x} a#b '#' \"#\"", "echo $# ${#x} a#b '#' \"#\"", "not comments"),
    # continuations
    ("echo a \\\n  b", "echo a   b", "line continuation"),
    ("ec\\\nho a", "echo a", "continuation inside a word"),
    ("echo 'a\\\nb'", "echo 'a\\\nb'", "kept in single quotes"),
    ('echo "a\\\nb"', 'echo "ab"', "removed in double quotes"),
    # substitutions bashlex rejects unless the list ends with a newline
    ("x=$(a && b)", "x=$(a && b\n)", "&& in $( )"),
    ('x="$(cd "$(dirname "$0")" && pwd)"', 'x="$(cd "$(dirname "$0")" && pwd\n)"', "common idiom"),
    ("cat <(a || b) >(c; d)", "cat <(a || b\n) >(c; d\n)", "process substitutions"),
    ("echo `echo \\`ls\\``", "echo $(echo `ls`\n)", "nested backquotes"),
    ("x=`a && b # c`", "x=$(a && b \n)", "backquotes rewritten to $( )"),
    # bash removes continuations before tokenising, so split tokens are still tokens
    ('"$\\\n(echo "x #y")"; ls', '"$(echo "x #y")"; ls', "split $( in double quotes"),
    ("[[ x \\\n]]; ls", "__capfence_cond__; ls", "continuation before ]]"),
    ("[[ x ]\\\n]; ls", "__capfence_cond__; ls", "]] split by a continuation"),
    ("cat <\\\n<EOF\nbody\nEOF\n", "cat <__capfence_heredoc_0__\n", "<< split by a continuation"),
    ("cat <<E\\\nOF\nbody\nEOF\nls", "cat <__capfence_heredoc_0__\nls", "delimiter split by a continuation"),
    ("case x in a) b;; es\\\nac; ls", "{ __capfence_case__ x; b ; }; ls", "esac split by a continuation"),
    ("cat <<\\\n< x", "cat <<< x", "here-string split by a continuation"),
    # words continue across a process substitution or an array literal, as in bash
    ("echo <(ls)#x; pwd # c", "echo <(ls)#x; pwd ", "hash after <( ) is inside the word"),
    ("a=(1)#x; pwd", 'a="$(__capfence_array__ 1)"#x; pwd', "hash after an array literal is inside the word"),
    ("(ls)#x; pwd", "(ls)", "hash after a subshell starts a comment"),
]


@pytest.mark.parametrize(("source", "expected", "why"), EXACT, ids=[case[2] for case in EXACT])
def test_exact_rewrite(source: str, expected: str, why: str) -> None:
    result = prepass(source)
    assert result.text == expected
    assert result.rewritten is (expected != source)


# ----- heredoc records --------------------------------------------------------------------


HEREDOCS = [
    ("cat <<EOF\nhi $x\nEOF\n", [Heredoc(0, "hi $x\n", False, "EOF")], "unquoted"),
    ("cat <<'EOF'\n$(rm)\nEOF\n", [Heredoc(0, "$(rm)\n", True, "EOF")], "single-quoted"),
    ('cat <<"EOF"\nx\nEOF\n', [Heredoc(0, "x\n", True, "EOF")], "double-quoted"),
    ("cat <<\\EOF\nx\nEOF\n", [Heredoc(0, "x\n", True, "EOF")], "backslash"),
    ('cat <<E"O"F\nx\nEOF\n', [Heredoc(0, "x\n", True, "EOF")], "partly quoted"),
    ("cat <<-EOF\n\t\tx\n\ty\n\tEOF\n", [Heredoc(0, "x\ny\n", False, "EOF")], "<<- strips tabs"),
    ("cat <<EOF\n\tEOF\nEOF\n", [Heredoc(0, "\tEOF\n", False, "EOF")], "<< does not strip tabs"),
    ("cat <<EOF\nEOF \nEOF\n", [Heredoc(0, "EOF \n", False, "EOF")], "trailing blank is not the delimiter"),
    ("cat <<EOF\nrest\nof input", [Heredoc(0, "rest\nof input", False, "EOF")], "unterminated: rest of input"),
    ("cat <<EOF", [Heredoc(0, "", False, "EOF")], "no newline at all"),
    ("cat <<A <<'B'\na\nA\nb\nB\n", [Heredoc(0, "a\n", False, "A"), Heredoc(1, "b\n", True, "B")], "two"),
    ("cat <<EOF\n\nEOF\n", [Heredoc(0, "\n", False, "EOF")], "empty line body"),
    ("cat <<EOF\nEOF\n", [Heredoc(0, "", False, "EOF")], "empty body"),
    (
        "cat <<A; echo $(cat <<B\nb\nB\n)\na\nA\n",
        [Heredoc(0, "a\n", False, "A"), Heredoc(1, "b\n", False, "B")],
        "bash reads the substitution's own heredoc first, the outer one after the outer newline",
    ),
    ("x=`cat <<EOF\nb\nEOF\n`", [Heredoc(0, "b\n", False, "EOF")], "inside backquotes"),
    (
        "case x in a) cat <<EOF ;;\nbody\nEOF\nesac",
        [Heredoc(0, "body\n", False, "EOF")],
        "heredoc in a case clause",
    ),
]


@pytest.mark.parametrize(("source", "expected", "why"), HEREDOCS, ids=[case[2] for case in HEREDOCS])
def test_heredoc_records(source: str, expected: list[Heredoc], why: str) -> None:
    result = prepass(source)
    assert list(result.heredocs) == expected
    for heredoc in expected:
        assert f"{HEREDOC_PREFIX}{heredoc.index}__" in result.text
    bashlex.parse(result.text)


def test_unquoted_heredoc_continuation_joins_delimiter() -> None:
    # bash joins `E\` + `OF` into the delimiter line, so `echo RUN` is a command, not body.
    result = prepass("cat <<EOF\nE\\\nOF\necho RUN\n")
    assert "echo RUN" in result.text
    assert result.heredocs == (Heredoc(0, "", False, "EOF"),)


def test_quoted_heredoc_does_not_join_lines() -> None:
    result = prepass("cat <<'EOF'\nE\\\nOF\necho BODY\nEOF\n")
    assert "echo BODY" not in result.text
    assert "echo BODY" in result.heredocs[0].body


# ----- bashlex accepts the output of everyday scripts ---------------------------------------

CI_SCRIPT = r"""#!/usr/bin/env bash
# CI script
set -euo pipefail
IFS=$'\n\t'

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
declare -a TARGETS=(lint test build)
declare -A OPTS=([verbose]=1 [jobs]="$(nproc)")

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

function die {
  log "error: $*"
  exit 1
}

usage() {
  cat <<EOF
usage: $0 [-v] [target...]
EOF
}

while getopts ":vh" opt; do
  case "$opt" in
    v) OPTS[verbose]=$(( OPTS[verbose] + 1 )) ;;
    h) usage; exit 0 ;;
    \?) die "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))

for (( i = 0; i < ${#TARGETS[@]}; i++ )); do
  if [[ ! "${TARGETS[$i]}" =~ ^(lint|test|build)$ ]]; then
    die "bad target"
  fi
done

run_lint() {
  time ruff check . \
    --select E,F \
    --exclude build  # trailing comment
  (( OPTS[verbose] > 1 )) && log "lint done"
}

run_test() {
  local -a args=(
    -q        # quiet
    "$ROOT/tests"
  )
  python3 - <<'PY'
import sys
print(sys.version)
PY
  pytest "${args[@]}" || die "tests failed"
}

run_build() {
  cat > build/info.txt <<-INFO
	built at $(date)
	INFO
  coproc WATCH { sleep 1; echo done; }
  select choice in yes no; do break; done < /dev/null
}

for t in "${TARGETS[@]}"; do
  case $t in
    lint|style) run_lint ;;
    test) run_test ;&
    build)
      run_build
      ;;
    *) die "unreachable" ;;
  esac
done
count=0
while read -r line; do
  (( count++ ))
done < <(git ls-files)
echo "files: $count, sum: $[count * 2]"
"""

EVERYDAY = [
    # case statements
    ("case $1 in start) run;; stop) halt;; esac", "one-line case"),
    ("case $1 in\n  start)\n    run\n    ;;\n  stop)\n    halt\n    ;;\nesac", "multi-line case"),
    ("case $f in *.tar.gz|*.tgz) tar xzf \"$f\";; *.zip) unzip \"$f\";; esac", "alternatives and globs"),
    (
        "case \"$x\" in\n  # a comment\n  [0-9]*) echo num ;;  # trailing\n  *) echo other\nesac",
        "comments around clauses",
    ),
    ("case $x\nin\n(a) echo a;;\nesac", "in on its own line, leading paren"),
    ("case x in a) ;; b) ;; esac", "all bodies empty"),
    ("case x in esac", "no clauses"),
    ("case $x in a) echo 1;& b) echo 2;;& *) echo 3;; esac", "fall-through terminators"),
    ("case $x in a) case $y in b) echo;; esac;; esac", "nested case"),
    ("v=$(case $a in a) echo x;; esac)", "case inside $( )"),
    ("case $x in ')') echo paren;; \"a b\") echo sp;; esac", "quoted patterns"),
    ("case $x in a) echo esac ;; esac > out 2>&1", "esac as argument, redirect"),
    ("echo x | case $(cat) in x) echo y;; esac | tr y z", "case in a pipeline"),
    ("for f in *; do case $f in *.py) python $f;; esac; done", "case in a loop"),
    ("case $x in a) if [[ -n $y ]]; then echo; fi;; esac", "[[ ]] inside a clause"),
    # [[ ]]
    ("[[ -d build ]] && rm -rf build", "directory test"),
    ("[[ $x =~ ^v[0-9]+\\.[0-9]+$ ]] && echo ok", "regex with escapes"),
    ("[[ $x =~ ^(a|b)$ && -n $y || -z $z ]]", "regex with groups and && ||"),
    ("if [[ $a == \"b\" && ( $c < $d ) ]]; then echo; fi", "grouping and < inside"),
    ("while [[ $i -lt 10 ]]; do i=$((i+1)); done", "while [[ ]]"),
    ("[[ -f \"$(which python3)\" ]] || exit 1", "substitution inside"),
    ("! [[ -e x ]]", "negated"),
    ("[[ a &&\n b ]] && echo", "newline inside"),
    ("{ [[ -z $x ]]; } 2>/dev/null", "in a group"),
    # arithmetic
    ("(( i++ ))", "increment"),
    ("((total += ${#arr[@]}))", "with parameter length"),
    ("if (( $# < 2 )); then exit 2; fi", "in if"),
    ("echo $(( (a + b) * c ))", "nested parens"),
    ("x=$(( 16#ff << 2 ))", "base notation and shift"),
    ("echo \"$(( $(date +%s) - start ))s\"", "substitution in arithmetic in quotes"),
    ("let 'x = 1 << 2'", "quoted shift is not a heredoc"),
    ("echo $[ 2 * 3 ]", "deprecated form"),
    ("echo $( (cd /tmp && ls) )", "subshell in command substitution"),
    ("echo $((cd /tmp; ls) )", "subshell right after $("),
    # heredocs
    ("python3 - <<'EOF'\nimport os\nprint(os.getcwd())\nEOF\n", "quoted delimiter"),
    ("cat > f <<EOF\nname=$NAME\nEOF\necho done", "unquoted with redirect"),
    ("cat <<-EOF\n\tindented\n\tEOF\n", "<<-"),
    ("cat <<A <<B\na\nA\nb\nB\n", "two on one line"),
    ("x=$(cat <<'EOF'\nbody\nEOF\n)\necho \"$x\"", "in $( )"),
    ("cat <<EOF | grep x\nfoo\nEOF\n", "piped"),
    ("sudo tee /etc/x >/dev/null <<'CONF'\n[section]\nkey = value\nCONF", "no final newline"),
    ("git commit -F - <<EOF\nfix: thing\n\nbody # not a comment\nEOF\n", "hash in body"),
    # for (( )), select, coproc, time
    ("for ((i=0; i<10; i++)); do echo $i; done", "C-style for"),
    ("for (( ; ; ))\ndo\n  break\ndone", "empty clauses, do on next line"),
    ("select opt in a b c; do echo $opt; break; done", "select"),
    ("coproc cat; echo hi >&${COPROC[1]}", "coproc"),
    ("coproc SRV { nc -l 8080; }", "named coproc"),
    ("time make -j4 test", "time"),
    ("time -p sleep 1 && echo done", "time -p"),
    ("ls | time wc -l", "external time after pipe"),
    # arrays
    ("arr=(a b c); echo ${arr[1]}", "array"),
    ("files=(*.py \"$HOME\"/x); for f in \"${files[@]}\"; do echo $f; done", "array with globs"),
    ("declare -A map=([a]=1 [b]=2)", "associative"),
    ("local -a parts=($(echo a b))", "local with substitution"),
    ("arr+=(\"new item\")", "append"),
    ("a=(\n  one\n  two  # comment\n)", "multi-line array"),
    # comments and continuations
    ("# just a comment", "comment only"),
    ("ls # list\n# another\npwd", "comments between commands"),
    ("docker run \\\n  --rm \\\n  -v \"$PWD\":/w \\\n  image", "continuations"),
    ("echo ${#} $# ${#arr[@]}", "hash in expansions"),
    # substitution lists bashlex needs terminated
    ("dir=\"$(cd \"$(dirname \"$0\")\" && pwd)\"", "cd && pwd idiom"),
    ("out=$(make 2>&1 || true)", "|| in $( )"),
    ("diff <(sort a; echo) <(sort b)", "; in <( )"),
    ("x=`a && b`", "backquotes"),
    # misc everyday
    ("set -euo pipefail; trap 'rm -f \"$tmp\"' EXIT", "trap"),
    ("f() { local x=$1; [[ -n $x ]] && echo \"$x\"; }", "function with [[ ]]"),
    ("function g { time ls; }", "function keyword"),
    ("if ! grep -q x f; then echo; elif [[ -z $y ]]; then :; else (( z++ )); fi", "if/elif/else"),
    ("while read -r l; do (( n++ )); done < <(ls)", "loop over process substitution"),
    ("echo \"${x:-$(date)}\" $'a\\'b' $\"msg\"", "quoting forms"),
    ("until (( i >= 3 )); do i=$((i + 1)); done", "until"),
    ("git commit -m \"$(cat <<'EOF'\nFix parser\n\nCo-authored-by: x\nEOF\n)\"", "commit message heredoc in $( )"),
    ("cat > /tmp/x.py << 'PYEOF'\ndef f(x):\n    return x ** 2  # square\nPYEOF\npython3 /tmp/x.py", "write a file"),
    ("echo \"Total: $(( $(wc -l < a.txt) + $(wc -l < b.txt) ))\"", "substitutions in arithmetic"),
    ("case \"$(uname -s)\" in Linux*) os=linux;; Darwin*) os=mac;; *) os=unknown;; esac; echo $os", "uname case"),
    ("result=$(python3 -c \"print(1+1)\") && [[ $result == 2 ]] && echo ok", "[[ ]] after $( )"),
    ("exec 3>&1; out=$( { cmd 2>&1 1>&3 3>&-; } 3>&- ); exec 3>&-", "fd juggling"),
    ("if (( $(echo \"$v > 1.5\" | bc -l) )); then echo big; fi", "bc in (( ))"),
    ("declare -A counts; while read -r w; do ((counts[$w]++)); done < words.txt", "associative counter"),
    ("time (for i in $(seq 1 3); do echo $i > /dev/null; done)", "time a subshell"),
    ("select f in *.txt; do echo \"$f\"; break; done <<< \"1\"", "select with here-string"),
    ("case $x in @(a|b)) echo;; esac", "extglob pattern in case"),
    ("x=$(a && b \\\n)", "continuation before ) of a joined list"),
    (CI_SCRIPT, "CI script"),
]


@pytest.mark.parametrize(("source", "why"), EVERYDAY, ids=[case[1] for case in EVERYDAY])
def test_bashlex_accepts_prepassed(source: str, why: str) -> None:
    result = prepass(source)
    if result.text:
        bashlex.parse(result.text)


def test_everyday_corpus_fails_in_bashlex_without_prepass() -> None:
    # The pre-pass is needed: most of the corpus above breaks bashlex as written.
    failures = 0
    for source, _why in EVERYDAY:
        try:
            bashlex.parse(source)
        except Exception:  # noqa: BLE001 - bashlex raises several unrelated types
            failures += 1
    assert failures > len(EVERYDAY) // 2


# ----- adversarial: substitutions stay visible ----------------------------------------------

HIDDEN = [
    ("[[ -n $(rm -rf /) ]]", "in [[ ]]"),
    ("[[ -n \"$(rm -rf /)\" && x == y ]]", "quoted in [[ ]]"),
    ("[[ -n ${x:-$(rm -rf /)} ]]", "in ${ } in [[ ]]"),
    ("[[ x == `rm -rf /` ]]", "backquotes in [[ ]]"),
    ("(( $(rm -rf /) ))", "in (( ))"),
    ("(( x[$(rm -rf /)]++ ))", "array subscript in (( ))"),
    ("echo $(( 1 + $(rm -rf /) ))", "in $(( ))"),
    ("echo \"$(( $(rm -rf /) ))\"", "in quoted $(( ))"),
    ("echo $[ $(rm -rf /) ]", "in $[ ]"),
    ("for (( i=$(rm -rf /); i<1; i++ )); do :; done", "in for (( ))"),
    ("case $(rm -rf /) in *) ;; esac", "case word"),
    ("case x in $(rm -rf /)) ;; esac", "case pattern"),
    ("case x in a|\"$(rm -rf /)\") ;; esac", "quoted case pattern alternative"),
    ("case x in a) $(rm -rf /) ;; esac", "case body"),
    ("case x in \"esac\") $(rm -rf /);; esac", "quoted esac pattern"),
    ("a=( $(rm -rf /) )", "array element"),
    ("declare -a a=(x \"$(rm -rf /)\")", "declare array element"),
    ("time $(rm -rf /)", "after time"),
    ("coproc $(rm -rf /)", "after coproc"),
    ("select x in $(rm -rf /); do :; done", "select words"),
    ("[[ x ]] # ]]\n$(rm -rf /)", "comment after [[ ]]"),
    ("case x in a) ;; esac; $(rm -rf /)", "after esac"),
    ("[[ \"]]\" ]]; $(rm -rf /)", "quoted ]] in [[ ]]"),
    ("a#b $(rm -rf /)", "hash inside a word is no comment"),
    ("echo `echo \\`rm -rf /\\``", "nested backquotes"),
    ("cat <<EOF\nE\\\nOF\n$(rm -rf /)\nEOF\n", "continuation joins the delimiter line"),
    ("cat <<'EOF' <<EOF\nEOF\n$(rm -rf /)\nEOF\n", "second heredoc body"),
    ('"$\\\n(echo "x #y")"; rm -rf /', "$ and ( split by a continuation, hash in the substitution"),
    ("[[ x \\\n]]; rm -rf /", "continuation before ]]"),
    ("[[ x ]\\\n]; rm -rf /", "]] split by a continuation"),
    ("cat <\\\n<EOF\n# $(rm -rf /)\nEOF\n", "<< split: body with a hash line"),
    ("cat <<\\\nEOF\nbody\nEOF\nrm -rf /\n", "continuation before the delimiter"),
    ("cat <<\"E\\\nOF\"\nbody\nEOF\nrm -rf /\n", "continuation inside a quoted delimiter"),
    ("case x in a) ;; es\\\nac\nrm -rf /", "esac split by a continuation"),
    ("echo <(ls)#x; rm -rf /", "hash after a process substitution"),
    ("a=(1)#x; rm -rf /", "hash after an array literal"),
    ("echo $(ls)#x; rm -rf /", "hash after a command substitution"),
    ("cat <<EOF && [[ -n x ]] && rm -rf /", "heredoc operator without a following newline"),
]


@pytest.mark.parametrize(("source", "why"), HIDDEN, ids=[case[1] for case in HIDDEN])
def test_substitution_stays_visible(source: str, why: str) -> None:
    result = prepass(source)
    visible = result.text + "".join(h.body for h in result.heredocs if not h.quoted)
    assert "rm -rf /" in visible
    bashlex.parse(result.text)


def test_unquoted_heredoc_body_keeps_substitution() -> None:
    result = prepass("cat <<EOF > out\n$(rm -rf /)\n`id`\nEOF\n")
    assert result.heredocs == (Heredoc(0, "$(rm -rf /)\n`id`\n", False, "EOF"),)
    assert "rm -rf" not in result.text


def test_comment_is_dropped_like_bash_does() -> None:
    assert prepass("echo a #$(rm -rf /)").text == "echo a "


# ----- errors -----------------------------------------------------------------------------

UNTERMINATED = [
    ("[[ x ]]; echo 'abc", "single quote"),
    ('[[ x ]]; echo "abc', "double quote"),
    ("[[ x ]]; echo $'abc", "ANSI-C quote"),
    ("echo $(ls # [[", "command substitution"),
    ("echo `ls # [[", "backquote"),
    ("echo ${x # [[", "parameter expansion"),
    ("echo $((1 + 2", "arithmetic expansion"),
    ("echo $[1 + 2", "$[ ]"),
    ("(( x", "arithmetic command"),
    ("for ((i=0; i<3", "for (( ))"),
    ("[[ -d x", "[[ ]]"),
    ("case x in a) echo;;", "case without esac"),
    ("case x", "case without in"),
    ("case x in a echo;; esac", "case pattern without )"),
    ("a=(1 2", "array literal"),
    ("cat <(ls # [[", "process substitution"),
    ("(ls # [[", "subshell"),
    ("cat <<\n[[ x ]]", "heredoc without delimiter"),
    ("cat <<'EOF\n[[ x ]]", "quoted delimiter"),
    ("[[ \"$(ls\" ]]", "substitution in [[ ]]"),
    ("a=(1; rm)", "operator inside an array literal"),
]


@pytest.mark.parametrize(("source", "why"), UNTERMINATED, ids=[case[1] for case in UNTERMINATED])
def test_unterminated_raises_prepass_error(source: str, why: str) -> None:
    with pytest.raises(PrepassError, match="offset"):
        prepass(source)


def test_untriggered_text_is_not_validated() -> None:
    # Without a trigger nothing is scanned: bashlex itself reports the unterminated quote.
    assert prepass("echo 'abc") == Prepassed("echo 'abc", (), False)


@pytest.mark.parametrize(
    "source",
    ["__capfence_cond__ && rm -rf /", "cat <__capfence_heredoc_0__", "echo '__capfence_array__'"],
)
def test_reserved_prefix_is_rejected(source: str) -> None:
    # Otherwise a script could run its own command disguised as one of our pseudo-commands.
    with pytest.raises(PrepassError, match="reserved"):
        prepass(source)


def test_prepass_error_is_value_error() -> None:
    assert issubclass(PrepassError, ValueError)


# ----- bounds -----------------------------------------------------------------------------

DEEP = [
    ("$(" * 1000 + "ls" + ")" * 1000, "command substitutions"),
    ("( " * 1000 + "ls" + " )" * 1000, "subshells"),
    ("(" * 1000 + "ls" + ")" * 1000, "parens without spaces"),
    ('"$(' * 1000 + "ls" + ')"' * 1000, "quoted substitutions"),
    ("${x:-" * 1000 + "}" * 1000, "parameter expansions"),
    ("case x in a) " * 1000 + "ls" + ";; esac" * 1000, "case statements"),
    ("[[ $(" * 1000 + "ls" + ") ]]" * 1000, "[[ ]] and substitutions"),
    ("echo $(( $(( " * 1000 + "1" + " )) ))" * 1000, "arithmetic"),
    ("a=( $(" * 1000 + ") )" * 1000, "arrays"),
    ("$(" * 1000, "unterminated"),
    ("((" * 1000, "unterminated parens"),
]


@pytest.mark.parametrize(("source", "why"), DEEP, ids=[case[1] for case in DEEP])
def test_deep_nesting_is_bounded(source: str, why: str) -> None:
    started = time.perf_counter()
    try:
        prepass("[[ x ]]; " + source)
    except PrepassError:
        pass
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "source",
    [
        "echo " + "$(" * MAX_DEPTH + "ls" + ")" * MAX_DEPTH,
        "echo " + "${x:-" * MAX_DEPTH + "}" * MAX_DEPTH,
        "( " * MAX_DEPTH + "ls" + " )" * MAX_DEPTH,
        "echo " + '"$(' * (MAX_DEPTH // 2) + "ls" + ')"' * (MAX_DEPTH // 2),
        "case x in a) " * MAX_DEPTH + "ls" + ";; esac" * MAX_DEPTH,
    ],
    ids=["substitutions", "parameters", "subshells", "quoted substitutions", "case"],
)
def test_nesting_up_to_the_limit_is_accepted(source: str) -> None:
    assert prepass("[[ x ]]; " + source).rewritten


def test_python_recursion_limit_becomes_prepass_error() -> None:
    # A caller already deep in its own stack must still get PrepassError, never RecursionError.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 120)
    try:
        with pytest.raises(PrepassError, match="nested too deeply"):
            prepass("[[ x ]]; " + "$(" * 150 + "ls" + ")" * 150)
    finally:
        sys.setrecursionlimit(limit)


def test_nesting_beyond_the_limit_is_an_error() -> None:
    with pytest.raises(PrepassError, match="nesting"):
        prepass("[[ x ]]; echo " + "$(" * (MAX_DEPTH + 1) + "ls" + ")" * (MAX_DEPTH + 1))


def test_100kb_script_is_fast() -> None:
    script = CI_SCRIPT * (100_000 // len(CI_SCRIPT) + 1)
    started = time.perf_counter()
    result = prepass(script)
    assert time.perf_counter() - started < 0.5
    assert len(result.heredocs) == 3 * (100_000 // len(CI_SCRIPT) + 1)


def test_long_adversarial_inputs_are_fast() -> None:
    for source in (
        "(( " * 5000,
        "$(( " * 5000,
        "((a) " * 20000,
        "[[ " * 20000,
        "# " * 50000,
        "a=(" + "x " * 30000 + ")",
        "cat <<EOF\n" + "line\n" * 20000,
        "\\\n" * 30000 + "ls",
        "echo '" + "x" * 100000 + "'",
    ):
        started = time.perf_counter()
        try:
            prepass(source)
        except PrepassError:
            pass
        assert time.perf_counter() - started < 0.5, source[:20]


# ----- untriggered input ------------------------------------------------------------------

UNTRIGGERED = [
    "ls -la",
    "git status --short",
    "echo \"hello world\" > out.txt",
    "grep -rn 'TODO' src/ | wc -l",
    "cd /tmp && make -j4",
    "python3 -m pytest -q tests/",
    "echo $(ls) `pwd`",
    "x=$(date +%s)",
]


@pytest.mark.parametrize("source", UNTRIGGERED)
def test_untriggered_text_is_returned_unchanged(source: str) -> None:
    result = prepass(source)
    assert result == Prepassed(source, (), False)
    assert result.text is source


@pytest.mark.parametrize(
    "source",
    ["echo '#' \"#\" ${#x} $# a#b", "cat <<<'x'", "echo \"[[ x ]]\" '((' case time", "x=$(ls | wc)"],
)
def test_scanned_but_unchanged_text_is_not_rewritten(source: str) -> None:
    result = prepass(source)
    assert result.text == source
    assert not result.rewritten


def test_empty_and_blank_input() -> None:
    assert prepass("") == Prepassed("", (), False)
    assert prepass("  \n\t") == Prepassed("", (), True)


def test_untriggered_check_is_cheap() -> None:
    source = "git commit -m 'fix the parser bug' && git push origin main -f"
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        prepass(source)
    assert (time.perf_counter() - started) / rounds < 50e-6  # generous: CI machines vary


def test_pseudo_command_names() -> None:
    assert all(name.startswith(RESERVED_PREFIX) for name in (COND, ARITH, CASE, ARRAY, HEREDOC_PREFIX))
    assert (COND, ARITH, CASE, ARRAY, HEREDOC_PREFIX) == (
        "__capfence_cond__",
        "__capfence_arith__",
        "__capfence_case__",
        "__capfence_array__",
        "__capfence_heredoc_",
    )


# ----- differential check against bash: nothing bash runs may disappear ----------------------

# Script pieces, joined at random; %M% becomes a numbered `echo MnX` marker command.
_FRAGMENTS = [
    "%M%",
    "%M% # c ' \" ` $(",
    "[[ -n x && ( a < b ) ]] && %M%",
    "(( 1 << 2 )) && %M%",
    "case a in a) %M%;; b|c) %M%;& esac",
    "case a in\n (a)\n  %M%\n  ;;\n *) ;;\nesac",
    "cat <<EOF\n$(%M%)\nEOF\n",
    "cat <<-'EOF'\n\t%M%\n\tEOF\n",
    "x=$(%M%); echo $x",
    "a=( $(%M%) 'x y' ); echo ${a[@]}",
    "echo $(( $(%M% | wc -c) ))",
    " \\\n ",
    "\n",
    "; ",
    " && ",
    " | ",
    "time %M%",
    "for ((i=0;i<1;i++)); do %M%; done",
    "[[ $(%M%) ]]",
    "%M% <(true)#x",
    "select v in a; do %M%; break; done <<< 1",
    '"$(echo "%M%")"',
    "coproc %M%",
    "`%M%`",
    "if [[ -z '' ]]; then %M%; fi",
    "f() { %M%; }; f",
    "echo \"${x:-$(%M%)}\"",
    "cat <<A <<B\n$(%M%)\nA\n$(%M%)\nB\n",
    "echo 'a\\\nb'; %M%",
    "echo $[ $(%M% | wc -c) ]",
    "case $(%M%) in $(%M%)) ;; esac",
    "#",
    "'",
    "]]",
    "<<EOF",
    "$(",
]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_every_command_bash_runs_stays_visible(tmp_path: Path) -> None:
    generator = random.Random(20240601)
    for _ in range(150):
        counter = iter(range(1, 100))
        script = "".join(generator.choice(_FRAGMENTS) for _ in range(generator.randint(1, 6)))
        script = re.sub("%M%", lambda _match: f"echo M{next(counter)}X", script)
        try:
            result = prepass(script)
        except PrepassError:
            continue  # fails closed
        ran = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, errors="replace", timeout=5, cwd=tmp_path
        )
        visible = result.text + "".join(heredoc.body for heredoc in result.heredocs)
        for marker in set(re.findall(r"M\d+X", ran.stdout)):
            assert marker in visible, script
