"""Word expansion from source text, as bash does it: quoting, ANSI-C escapes, parameter operations, field splitting,
brace expansion, tilde forms, empty-field removal, "$@", and what stays unknown. Pure: a small fake host stands
in for the analyser's shell state, and substitutions only `echo`."""

from __future__ import annotations

import pytest

from capfence_sh.parse.words import WordError, decode_ansi_c, expand_heredoc, expand_single, expand_word


class Host:
    """The ExpansionHost protocol over plain dictionaries. `vars` values of None are unknown."""

    def __init__(self, vars: dict[str, str | None] | None = None, positional: tuple[str, ...] | None = (),
                 cwd: str = "/w", glob_vars: tuple[str, ...] = ()) -> None:
        self.vars = {"HOME": "/home/me", "IFS": " \t\n", "OLDPWD": "/old", **(vars or {})}
        self.pos = positional
        self._cwd = cwd
        self.glob_vars = glob_vars
        self.substituted: list[str] = []

    def lookup(self, name: str) -> str | None:
        return self.vars.get(name, "")

    def is_set(self, name: str) -> bool:
        return name in self.vars

    def is_glob(self, name: str) -> bool:
        return name in self.glob_vars

    def partial(self, name: str):
        if name == "tmp":
            return "/tmp/", True, False, False
        return None

    def positional(self) -> tuple[str, ...] | None:
        return self.pos

    def substitute(self, script: str, kind: str):
        self.substituted.append(script)
        if script.startswith("echo "):
            return script[5:] + "\n", True, "", False, False
        if script.startswith("curl"):
            return None, False, "", False, True
        return None, False, "", False, False

    def home(self, user: str) -> str | None:
        return {"": "/home/me", "root": "/root"}.get(user)

    @property
    def cwd(self) -> str:
        return self._cwd


def values(raw: str, host: Host | None = None) -> list[str]:
    return [f.value for f in expand_word(raw, host or Host())]


X = {"x": "a/b/c"}
# (raw word, variables, expected fields, why)
CASES = [
    # quoting
    ("'a b'", {}, ["a b"], "single quotes"),
    ('"a b"', {}, ["a b"], "double quotes"),
    ("a\\ b", {}, ["a b"], "escaped space"),
    ("'a'\"b\"c", {}, ["abc"], "adjacent quoted parts"),
    ('"a\\$b"', {}, ["a$b"], "escaped dollar in double quotes"),
    ('"a\\qb"', {}, ["a\\qb"], "other backslashes stay in double quotes"),
    ("'$x'", {"x": "v"}, ["$x"], "no expansion in single quotes"),
    ("$\"a b\"", {}, ["a b"], "translatable string"),
    ("a\\\nb", {}, ["ab"], "line continuation inside a word"),
    # ANSI-C quoting
    ("$'\\x72\\x6d'", {}, ["rm"], "hex escapes"),
    ("$'\\162\\155'", {}, ["rm"], "octal escapes"),
    ("$'\\u0072m'", {}, ["rm"], "unicode escape"),
    ("$'\\U00000072m'", {}, ["rm"], "long unicode escape"),
    ("$'\\cA'", {}, ["\x01"], "control character"),
    ("$'a\\'b'", {}, ["a'b"], "escaped single quote"),
    ("$'\\e[0m'", {}, ["\x1b[0m"], "escape character"),
    ("$'a\\tb\\n'", {}, ["a\tb\n"], "tab and newline"),
    ("$'\\q'", {}, ["\\q"], "unknown escape kept"),
    # parameters
    ('"$x"', {"x": "1 2"}, ["1 2"], "quoted variable"),
    ("${x}", {"x": "v"}, ["v"], "braced variable"),
    ("${x:-def}", {}, ["def"], ":- on unset"),
    ("${x:-def}", {"x": ""}, ["def"], ":- on empty"),
    ("${x-def}", {"x": ""}, [], "- on empty set: the empty value vanishes"),
    ("${x-def}", {}, ["def"], "- on unset"),
    ("${x:+alt}", {"x": "v"}, ["alt"], ":+ on set"),
    ("${x:+alt}", {}, [], ":+ on unset"),
    ("${x:=d}", {}, ["d"], ":= on unset"),
    ("${x:?msg}", {"x": "v"}, ["v"], ":? on set"),
    ("${x#*/}", X, ["b/c"], "# shortest prefix"),
    ("${x##*/}", X, ["c"], "## longest prefix"),
    ("${x%/*}", X, ["a/b"], "% shortest suffix"),
    ("${x%%/*}", X, ["a"], "%% longest suffix"),
    ("${x/b/X}", {"x": "abab"}, ["aXab"], "/ first"),
    ("${x//b/X}", {"x": "abab"}, ["aXaX"], "// all"),
    ("${x^^}", {"x": "ab"}, ["AB"], "^^ upper"),
    ("${x,,}", {"x": "AB"}, ["ab"], ",, lower"),
    ("${x:1:2}", {"x": "abcd"}, ["bc"], "offset and length"),
    ("${x: -2}", {"x": "abcd"}, ["cd"], "negative offset"),
    ("${#x}", {"x": "abcd"}, ["4"], "length"),
    ("${!x}", {"x": "y", "y": "rm"}, ["rm"], "indirection"),
    ("${x:-$(echo q)}", {}, ["q"], "substitution in the default"),
    # field splitting
    ("$x", {"x": "1 2"}, ["1", "2"], "default IFS"),
    ("$x", {"x": "  a  b  "}, ["a", "b"], "leading and trailing whitespace"),
    ("$x", {"x": "a:b", "IFS": ":"}, ["a", "b"], "custom IFS"),
    ("$x", {"x": "a b", "IFS": ""}, ["a b"], "empty IFS does not split"),
    ("x$y", {"y": " a"}, ["x", "a"], "literal text glued to the first field"),
    ("x=$y", {"y": "a b"}, ["x=a", "b"], "an argument that looks like an assignment still splits"),
    ("$(echo a b)", {}, ["a", "b"], "unquoted substitution splits"),
    ('"$(echo a b)"', {}, ["a b"], "quoted substitution does not"),
    # brace expansion
    ("{a,b}c", {}, ["ac", "bc"], "list"),
    ("{1..3}", {}, ["1", "2", "3"], "numeric range"),
    ("{3..1}", {}, ["3", "2", "1"], "descending range"),
    ("{a..c}", {}, ["a", "b", "c"], "letter range"),
    ("{1..10..3}", {}, ["1", "4", "7", "10"], "range with a step"),
    ("{01..03}", {}, ["01", "02", "03"], "zero padding"),
    ("a{b,{c,d}}e", {}, ["abe", "ace", "ade"], "nested"),
    ("{,-}rf", {}, ["rf", "-rf"], "empty alternative"),
    ("'{a,b}'", {}, ["{a,b}"], "single-quoted braces are literal"),
    ('"{a,b}"', {}, ["{a,b}"], "double-quoted braces are literal"),
    ("\\{a,b}", {}, ["{a,b}"], "escaped brace is literal"),
    ("{a}", {}, ["{a}"], "no comma: literal"),
    ("${x}{a,b}", {"x": "p"}, ["pa", "pb"], "braces after a parameter"),
    # tilde
    ("~", {}, ["/home/me"], "bare tilde"),
    ("~/x", {}, ["/home/me/x"], "tilde slash"),
    ("~root/x", {}, ["/root/x"], "another user"),
    ("~+/x", {}, ["/w/x"], "working directory"),
    ("~-/x", {}, ["/old/x"], "previous directory"),
    ("a~/x", {}, ["a~/x"], "not at the start"),
    ("'~'/x", {}, ["~/x"], "quoted tilde"),
    # empty-field removal
    ("$e", {}, [], "unquoted empty vanishes"),
    ('"$e"', {}, [""], "quoted empty stays"),
    ("$e$e", {}, [], "two empties vanish"),
    ("a$e", {}, ["a"], "literal text keeps the field"),
    ("''", {}, [""], "empty quotes stay"),
]


@pytest.mark.parametrize("raw,variables,expected", [pytest.param(*c[:3], id=c[3]) for c in CASES])
def test_expansion(raw, variables, expected):
    assert values(raw, Host(variables)) == expected


# "$@" and friends: (raw, positional, expected, why)
POSITIONAL = [
    ('"$@"', ("a", "b c"), ["a", "b c"], "one field per parameter"),
    ('"${@}"', ("a", "b c"), ["a", "b c"], "braced"),
    ('"$@"', (), [], "no parameters: no field at all"),
    ('"x$@y"', ("a", "b c"), ["xa", "b cy"], "text glued to the first and last"),
    ('"x$@y"', (), ["xy"], "glued text stays when there are none"),
    ("$@", ("a", "b c"), ["a", "b", "c"], "unquoted: each is split"),
    ('"$*"', ("a", "b c"), ["a b c"], "quoted $* joins"),
    ("$*", ("a", "b c"), ["a", "b", "c"], "unquoted $* splits"),
    ('"${@:2}"', ("a", "b", "c"), ["b", "c"], "slice"),
    ('"${@: -1}"', ("a", "b", "c"), ["c"], "last parameter"),
    ('"${@:1:1}"', ("a", "b", "c"), ["a"], "slice with a length"),
    ("$1", ("a b",), ["a", "b"], "$1 splits"),
    ('"$2"', ("a",), [""], "missing parameter is empty"),
    ("$#", ("a", "b"), ["2"], "count"),
    ('"$@"', ("", "a"), ["", "a"], "quoted empty parameter is kept"),
    ("$@", ("", "a"), ["a"], "unquoted empty parameter vanishes"),
]


@pytest.mark.parametrize("raw,positional,expected", [pytest.param(*c[:3], id=c[3]) for c in POSITIONAL])
def test_positional_parameters(raw, positional, expected):
    assert values(raw, Host(positional=positional)) == expected


def test_positional_parameters_unknown():
    fields = expand_word('"$@"', Host(positional=None))
    assert [(f.value, f.known) for f in fields] == [("$@", False)]


# What is unknown stays marked unknown: (raw, variables, value, known, prefix, trusted, why)
UNKNOWN = [
    ("$u", {"u": None}, "$u", False, "", False, "unknown variable"),
    ("/tmp/$u", {"u": None}, "/tmp/$u", False, "/tmp/", False, "known prefix, untrusted rest"),
    ("/tmp/$$", {}, "/tmp/$$", False, "/tmp/", True, "process id is trusted"),
    ("/x/$RANDOM", {"RANDOM": None}, "/x/$RANDOM", False, "/x/", True, "RANDOM is trusted"),
    ("$tmp/x", {"tmp": None}, "/tmp/$tmp/x", False, "/tmp/", True, "a variable with a known prefix"),
    ("$(other)", {}, "$(other)", False, "", False, "substitution with unknown output"),
    ("${u:-x}", {"u": None}, "${u:-x}", False, "", False, "operator on an unknown variable"),
    ("${a[0]}", {}, "${a[0]}", False, "", False, "arrays are not tracked"),
    ("~nobody/x", {}, "~nobody/x", False, "", False, "unknown user"),
]


@pytest.mark.parametrize("raw,variables,value,known,prefix,trusted",
                         [pytest.param(*c[:6], id=c[6]) for c in UNKNOWN])
def test_unknown_parts(raw, variables, value, known, prefix, trusted):
    field = expand_single(raw, Host(variables))
    assert (field.value, field.known, field.prefix, field.trusted) == (value, known, prefix, trusted)


def test_unknown_ifs_makes_a_split_unknown():
    class UnknownIFS(Host):
        def lookup(self, name: str) -> str | None:
            return None if name == "IFS" else super().lookup(name)

    assert [(f.value, f.known) for f in expand_word("$x", UnknownIFS({"x": "a b"}))] == [("a b", False)]
    assert [(f.value, f.known) for f in expand_word("plain", UnknownIFS())] == [("plain", True)]


# Pathname expansion: (raw, variables, glob vars, expected glob flag, why)
GLOBS = [
    ("*", {}, (), True, "bare star"),
    ("'*'", {}, (), False, "quoted star"),
    ("[ab]", {}, (), True, "bracket class"),
    ("[", {}, (), False, "lone bracket"),
    ("$x", {"x": "*.py"}, (), True, "unquoted expansion is globbed"),
    ('"$x"', {"x": "*.py"}, (), False, "quoted expansion is not"),
    ('"$f"', {"f": "/srv/*"}, ("f",), True, "a loop variable bound to a glob stands for its matches"),
    ('"${f}"/x', {"f": "/srv/*"}, ("f",), True, "braced, with a suffix"),
]


@pytest.mark.parametrize("raw,variables,glob_vars,glob", [pytest.param(*c[:4], id=c[4]) for c in GLOBS])
def test_glob_detection(raw, variables, glob_vars, glob):
    fields = expand_word(raw, Host(variables, glob_vars=glob_vars))
    assert [f.glob for f in fields] == [glob]


# Errors are reported, never raised as anything else: (raw, why)
ERRORS = [
    ("'unterminated", "single quote"),
    ('"unterminated', "double quote"),
    ("$(unterminated", "substitution"),
    ("${", "parameter"),
    ("${}", "empty parameter"),
    ("`unterminated", "backquote"),
    ("$'unterminated", "ANSI-C quote"),
    ("{1..5000}", "range past the size limit"),
    ("{a,b}" * 13, "product past the size limit"),
    ("{1..99999999999999999999999}", "range bound out of range"),
]


@pytest.mark.parametrize("raw", [pytest.param(r, id=why) for r, why in ERRORS])
def test_malformed_words_raise_word_error(raw):
    with pytest.raises(WordError):
        expand_word(raw, Host())


def test_brace_expansion_at_the_limit_is_expanded():
    assert len(values("{1..4096}")) == 4096


def test_substitutions_in_operator_words_are_analysed_once():
    for raw, variables in [("${x:-$(echo a)}", {}), ("${x:-$(echo a)}", {"x": "v"}), ("${x#$(echo a)}", {"x": "v"}),
                           ("${u:-$(echo a)}", {"u": None})]:
        host = Host(variables)
        expand_word(raw, host)
        assert host.substituted == ["echo a"], raw


def test_downloaded_and_decoded_parts_are_marked():
    field = expand_single('"$(curl -s x)"', Host())
    assert field.fetched and not field.known
    assert not expand_single("$(echo a)", Host()).fetched


def test_heredoc_body_expansion_keeps_quotes():
    assert expand_heredoc("rm \"$x\" '$x'\n", Host({"x": "/a"})).value == "rm \"/a\" '/a'\n"


def test_decode_ansi_c_is_total():
    for body in ("\\", "\\x", "\\u", "\\c", "\\0", "\\777", "\\U110000"):
        assert isinstance(decode_ansi_c(body), str)
