"""What an inline interpreter program does: `python -c`, `node -e`, `perl -e`, `ruby -e`, heredocs into `python3 -`.

Python is read with Python's own parser (`ast`), so `import shutil as s; s.rmtree(p)` and
`__import__("os").system("...")` are seen through; the other languages are scanned with patterns for the calls that
run commands, delete, write or read files, or evaluate code built at run time. Shell commands found in string
literals (`os.system("rm -rf /")`, `execSync('...')`, backticks) are handed back to the shell analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(slots=True)
class Findings:
    scripts: list[str] = field(default_factory=list)  # shell command lines run via a shell
    argvs: list[list[str]] = field(default_factory=list)  # argv lists run without a shell
    deletes: list[tuple[str | None, bool]] = field(default_factory=list)  # (path or None if unknown, recursive)
    writes: list[str | None] = field(default_factory=list)
    reads: list[str | None] = field(default_factory=list)
    perms: list[str | None] = field(default_factory=list)
    capabilities: set[str] = field(default_factory=set)  # net.fetch, net.send, proc.kill, env.read, ...
    dynamic: list[str] = field(default_factory=list)  # why parts of it cannot be known
    flags: set[str] = field(default_factory=set)  # all-processes (`os.kill(-1, 9)`)


def scan(language: str, code: str, home: str = "") -> Findings:
    findings = scan_python(code, home) if language == "python" else scan_patterns(language, code, home)
    _whole_program(findings, language, code)
    return findings


def _whole_program(findings: Findings, language: str, code: str) -> None:
    """What follows from the program as a whole rather than from one call."""
    network = findings.capabilities & {"net.fetch", "net.send"}
    if network and "env.read" in findings.capabilities:
        # It reads the whole environment and talks to the network: it can send one over the other.
        findings.capabilities.add("net.send")
    if network and _EVALUATES.search(code):
        # `eval URI.open(url).read`, `fetch(url).then(r => r.text()).then(eval)`, `exec(urlopen(url).read())`.
        findings.capabilities.add("net.exec")
    if _SOCKET_SHELL.search(code) and ("net.send" in findings.capabilities or "net.fetch" in findings.capabilities) \
            and (findings.argvs or findings.scripts or "pty" in code):
        # A socket duplicated onto the standard streams of a shell: a remote shell.
        findings.capabilities.add("net.exec")
    for literal_text in _string_literals(language, code):
        capabilities, _ = _classify_sql(literal_text)
        if "db.drop" in capabilities:
            findings.capabilities.add("db.drop")
    if _CLOUD_SDK.search(code) and _CLOUD_DELETE_CALL.search(code):
        findings.capabilities.add("cloud.delete")
    if _DOTENV.search(code):
        findings.reads.append(".env")


_EVALUATES = re.compile(r"\b(?:eval|exec|instance_eval|class_eval|Function|execfile|compile|vm\.run\w*|"
                        r"load|loadstring|dofile|create_function)\b")
_SOCKET_SHELL = re.compile(r"\b(?:dup2|fdopen|IO\.for_fd|pty\.spawn|TCPSocket|/bin/(?:ba)?sh|\bsh\b\s*['\"]?\s*-i)")
_CLOUD_SDK = re.compile(r"\b(?:boto3|botocore|aws-sdk|@aws-sdk|google\.cloud|googleapiclient|@google-cloud|"
                        r"azure\.|@azure/|kubernetes|digitalocean|hcloud|Aws::)")
_CLOUD_DELETE_CALL = re.compile(r"[.:]\s*(?:delete|terminate|destroy|purge|remove|drop)\w*\s*\(|"
                                r"\b(?:Delete|Terminate|Destroy|Purge|Remove)\w*Command\b")
_DOTENV = re.compile(r"\b(?:dotenv_values|load_dotenv|find_dotenv|Dotenv\.(?:load|parse|overload)|"
                     r"require\(\s*['\"]dotenv(?:/config)?['\"]\s*\)|dotenv\.config\(|import\s+['\"]dotenv/config)")


def _string_literals(language: str, code: str) -> list[str]:
    if language == "python":
        import ast

        try:
            return [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and
                    isinstance(n.value, str)]
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    return [_literal(m) for m in re.finditer(_STR, code)]


def _classify_sql(text: str) -> tuple[list[str], str]:
    from capfence_sh.parse.classify import classify_sql

    if not _SQLISH.search(text):
        return [], ""
    return classify_sql(text)


_SQLISH = re.compile(r"(?i)\b(?:drop\s+(?:table|database|schema|collection)|truncate\b|delete\s+from|flushall|"
                     r"flushdb|update\s+\w+\s+set)")


# --- Python -----------------------------------------------------------------------------------------------------

_PY_SHELL = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput", "commands.getoutput",
             "commands.getstatusoutput", "platform.popen", "os.popen2", "os.popen3", "os.popen4"}
_PY_SUBPROCESS = {"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
                  "subprocess.Popen", "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
                  "pty.spawn", "sh.Command"}
_PY_EXEC_PREFIX = ("os.exec", "os.spawn", "os.posix_spawn")
_PY_DELETE = {"shutil.rmtree": True, "os.remove": False, "os.unlink": False, "os.rmdir": False,
              "os.removedirs": True, "pathlib.Path.unlink": False, "pathlib.Path.rmdir": False,
              "send2trash.send2trash": False}
_PY_WRITE = {"os.truncate", "os.symlink", "os.link", "os.makedirs", "os.mkdir", "os.mknod", "os.mkfifo",
             "pathlib.Path.write_text", "pathlib.Path.write_bytes", "pathlib.Path.touch", "pathlib.Path.mkdir",
             "pathlib.Path.symlink_to", "pathlib.Path.hardlink_to"}
_PY_READ = {"pathlib.Path.read_text", "pathlib.Path.read_bytes", "pathlib.Path.open", "io.open", "codecs.open",
            "os.open", "linecache.getlines", "tarfile.open", "zipfile.ZipFile", "sqlite3.connect"}
_PY_PERM = {"os.chmod", "os.chown", "os.lchown", "os.lchmod", "shutil.chown", "pathlib.Path.chmod",
            "os.chflags", "os.setxattr"}
_PY_COPY = {"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move", "os.rename",
            "os.replace", "os.renames", "pathlib.Path.rename", "pathlib.Path.replace"}
_PY_NET_SEND = {"requests.post", "requests.put", "requests.patch", "httpx.post", "httpx.put", "smtplib.SMTP",
                "ftplib.FTP", "paramiko.SSHClient", "socket.socket", "socket.create_connection",
                "urllib.request.Request"}
_PY_NET_FETCH = {"urllib.request.urlopen", "urllib.request.urlretrieve", "requests.get", "requests.request",
                 "httpx.get", "httpx.Client", "requests.Session", "http.client.HTTPConnection",
                 "http.client.HTTPSConnection", "aiohttp.ClientSession", "urllib.urlopen", "urllib2.urlopen"}
_PY_KILL = {"os.kill", "os.killpg", "signal.pthread_kill", "psutil.Process.kill", "psutil.Process.terminate"}
_PY_DYNAMIC = {"exec", "eval", "compile", "execfile", "marshal.loads", "pickle.loads", "pickle.load",
               "types.FunctionType", "ctypes.CDLL", "ctypes.cdll.LoadLibrary"}
_PY_POWER = {"os.reboot"}


def scan_python(code: str, home: str) -> Findings:
    import ast

    import warnings

    findings = Findings()
    try:
        # Compiling someone else's code must not print its SyntaxWarnings on the gate's stderr.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return scan_patterns("python", code, home)
    aliases: dict[str, str] = {}
    path_vars: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    evaluator = _PyValues(aliases, path_vars, home)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = evaluator.string(node.value)
            if value is not None:
                path_vars[node.targets[0].id] = value
        if isinstance(node, ast.Attribute) and evaluator.qualified(node) == "os.environ":
            findings.capabilities.add("env.read")
        if not isinstance(node, ast.Call):
            continue
        name = evaluator.qualified(node.func)
        method_on_path = evaluator.path_method(node.func)
        if name is None and method_on_path is None:
            continue
        args = node.args
        first = evaluator.string(args[0]) if args else None
        if name in _PY_SHELL or name == "asyncio.create_subprocess_shell":
            _take_script(findings, first, args, "a shell command built at run time")
        elif name in _PY_SUBPROCESS:
            shell = any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords)
            argv = evaluator.string_list(args[0]) if args else None
            if name == "asyncio.create_subprocess_exec":
                argv = [evaluator.string(a) for a in args]
                argv = None if any(a is None for a in argv) else argv  # type: ignore[assignment]
            if shell or (first is not None and argv is None):
                if first is not None and (shell or " " not in first):
                    (findings.scripts if shell else findings.argvs).append(first if shell else [first])  # type: ignore[arg-type]
                elif first is not None:
                    findings.argvs.append([first])
                else:
                    findings.dynamic.append(f"{name} with a command built at run time")
            elif argv is not None:
                findings.argvs.append(argv)
            else:
                findings.dynamic.append(f"{name} with a command built at run time")
        elif name and name.startswith(_PY_EXEC_PREFIX):
            values = [evaluator.string(a) for a in args]
            lists = [evaluator.string_list(a) for a in args]
            argv = next((lst for lst in lists if lst), None)
            if argv:
                findings.argvs.append(argv)
            elif values and values[0] is not None:
                findings.argvs.append([v for v in values if v is not None])
            else:
                findings.dynamic.append(f"{name} with a program built at run time")
        elif name in _PY_DELETE or (method_on_path and f"pathlib.Path.{method_on_path[0]}" in _PY_DELETE):
            if method_on_path:
                findings.deletes.append((method_on_path[1], False))
            else:
                findings.deletes.append((first, _PY_DELETE[name]))  # type: ignore[index]
        elif name in _PY_PERM or (method_on_path and f"pathlib.Path.{method_on_path[0]}" in _PY_PERM):
            findings.perms.append(method_on_path[1] if method_on_path else first)
        elif name in _PY_COPY or (method_on_path and f"pathlib.Path.{method_on_path[0]}" in _PY_COPY):
            if method_on_path:
                findings.deletes.append((method_on_path[1], False))
                findings.writes.append(evaluator.string(args[0]) if args else None)
            else:
                second = evaluator.string(args[1]) if len(args) > 1 else None
                findings.reads.append(first)
                findings.writes.append(second)
                if name in ("shutil.move", "os.rename", "os.replace", "os.renames"):
                    findings.deletes.append((first, name == "shutil.move"))
        elif name in _PY_WRITE or (method_on_path and f"pathlib.Path.{method_on_path[0]}" in _PY_WRITE):
            findings.writes.append(method_on_path[1] if method_on_path else first)
        elif name in ("open", "builtins.open") or name in _PY_READ or (
                method_on_path and f"pathlib.Path.{method_on_path[0]}" in _PY_READ):
            path = method_on_path[1] if method_on_path else first
            mode = evaluator.string(args[1]) if len(args) > 1 and not method_on_path else None
            mode = mode or next((evaluator.string(k.value) for k in node.keywords if k.arg == "mode"), None)
            if method_on_path and args:
                mode = evaluator.string(args[0])
            if mode and any(c in mode for c in "wax+"):
                findings.writes.append(path)
                if "+" in mode or "a" in mode:
                    findings.reads.append(path)
            else:
                findings.reads.append(path)
        elif name in _PY_NET_SEND:
            findings.capabilities.add("net.send")
        elif name in _PY_NET_FETCH:
            findings.capabilities.add("net.fetch")
            if len(args) > 1 or any(k.arg in ("data", "json", "files") for k in node.keywords):
                findings.capabilities.add("net.send")  # urlopen(url, data), requests.request("POST", ..., data=)
        elif name in _PY_KILL:
            findings.capabilities.add("proc.kill")
            if name in ("os.kill", "os.killpg") and args and _py_int(args[0]) in (-1, 0):
                findings.flags.add("all-processes")  # pid -1: every process the user may signal
        elif name in _PY_DYNAMIC or name in ("__import__", "importlib.import_module", "getattr", "builtins.getattr"):
            target = args[1] if name in ("getattr", "builtins.getattr") and len(args) > 1 else (args[0] if args else None)
            if target is None or evaluator.string(target) is None:
                findings.dynamic.append(f"{name}() of code or names built at run time")
            elif name in ("exec", "eval", "compile", "execfile"):
                literal_code = evaluator.string(target)
                if literal_code:
                    inner = scan_python(literal_code, home)
                    _merge(findings, inner)
    return findings


def _py_int(node) -> int | None:
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, int):
        return -node.operand.value
    return None


class _PyValues:
    """Static values of Python expressions: string literals, f-strings of literals, os.path.join, Path / '...'."""

    def __init__(self, aliases: dict[str, str], variables: dict[str, str], home: str) -> None:
        self.aliases = aliases
        self.variables = variables
        self.home = home

    def qualified(self, node) -> str | None:
        import ast

        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            if base is None:
                return None
            return f"{base}.{node.attr}"
        if isinstance(node, ast.Call):
            # __import__("os").system
            func = self.qualified(node.func)
            if func in ("__import__", "importlib.import_module") and node.args:
                module = self.string(node.args[0])
                return module
        return None

    def path_method(self, node) -> tuple[str, str | None] | None:
        """`Path("x").unlink()` -> ("unlink", "x")."""
        import ast

        if not isinstance(node, ast.Attribute):
            return None
        receiver = node.value
        if isinstance(receiver, ast.Call) and self.qualified(receiver.func) in ("pathlib.Path", "Path",
                                                                                "pathlib.PosixPath"):
            return node.attr, self.string(receiver.args[0]) if receiver.args else None
        if isinstance(receiver, (ast.BinOp, ast.Call, ast.Name)):
            value = self.string(receiver)
            if value is not None and (isinstance(receiver, ast.BinOp) or isinstance(receiver, ast.Name) or
                                      self.qualified(getattr(receiver, "func", None)) not in (None,)):
                if node.attr in ("unlink", "rmdir", "write_text", "write_bytes", "read_text", "read_bytes",
                                 "touch", "chmod", "rename", "replace", "open", "mkdir", "symlink_to"):
                    return node.attr, value
        return None

    def string(self, node) -> str | None:
        import ast

        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                else:
                    return None
            return "".join(parts)
        if isinstance(node, ast.Name):
            return self.variables.get(node.id)
        if isinstance(node, ast.BinOp):
            left, right = self.string(node.left), self.string(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Div):
                return left.rstrip("/") + "/" + right
            return None
        if isinstance(node, ast.Call):
            func = self.qualified(node.func)
            args = [self.string(a) for a in node.args]
            if func in ("os.path.join", "posixpath.join") and args and all(a is not None for a in args):
                out = ""
                for a in args:  # type: ignore[assignment]
                    out = a if a.startswith("/") else (out.rstrip("/") + "/" + a if out else a)  # type: ignore[union-attr]
                return out
            if func in ("os.path.expanduser", "posixpath.expanduser") and args and args[0] is not None:
                return self._home(args[0])
            if func in ("pathlib.Path", "Path", "pathlib.PosixPath", "str", "os.fspath", "os.path.abspath",
                        "os.path.realpath") and args and all(a is not None for a in args):
                return "/".join(a.rstrip("/") for a in args)  # type: ignore[union-attr]
            if func in ("pathlib.Path.home", "Path.home"):
                return self.home
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("expanduser", "resolve", "absolute"):
                inner = self.string(node.func.value)
                return self._home(inner) if inner is not None else None
            if isinstance(node.func, ast.Attribute) and node.func.attr == "join":
                sep = self.string(node.func.value)
                items = self.string_list(node.args[0]) if node.args else None
                if sep is not None and items is not None:
                    return sep.join(items)
        return None

    def _home(self, text: str) -> str:
        if text.startswith("~") and self.home:
            return self.home.rstrip("/") + text[1:]
        return text

    def string_list(self, node) -> list[str] | None:
        import ast

        if isinstance(node, (ast.List, ast.Tuple)):
            values = [self.string(e) for e in node.elts]
            if all(v is not None for v in values):
                return values  # type: ignore[return-value]
        if isinstance(node, ast.Call) and self.qualified(node.func) == "shlex.split" and node.args:
            text = self.string(node.args[0])
            if text is not None:
                import shlex

                try:
                    return shlex.split(text)
                except ValueError:
                    return None
        return None


def _take_script(findings: Findings, text: str | None, args, why: str) -> None:
    if text is not None:
        findings.scripts.append(text)
    else:
        findings.dynamic.append(why)


def _merge(into: Findings, other: Findings) -> None:
    into.scripts += other.scripts
    into.argvs += other.argvs
    into.deletes += other.deletes
    into.writes += other.writes
    into.reads += other.reads
    into.perms += other.perms
    into.capabilities |= other.capabilities
    into.dynamic += other.dynamic


# --- other languages, by pattern -------------------------------------------------------------------------------

_STR = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
_LANG_SHELL: dict[str, tuple[str, ...]] = {
    "node": (r"\b(?:exec|execSync|spawnSync|spawn|execFile|execFileSync|fork)\s*\(\s*",),
    "perl": (r"\b(?:system|exec|qx)\s*\(?\s*", r"\bopen\s*\(?\s*\w+\s*,\s*(?:'-\|'|\"-\|\"|'\|-'|\"\|-\")\s*,\s*"),
    "ruby": (r"\b(?:system|exec|spawn|IO\.popen|Open3\.\w+|%x)\s*\(?\s*", r"Kernel\.(?:system|exec|spawn)\s*\(?\s*"),
    "php": (r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(\s*",),
    "lua": (r"\bos\.execute\s*\(?\s*", r"\bio\.popen\s*\(?\s*"),
    "r": (r"\b(?:system|system2|shell)\s*\(\s*",),
    "awk": (r"\bsystem\s*\(\s*",),
    "osascript": (r"do\s+shell\s+script\s+",),
    "python": (r"\b(?:os\.system|os\.popen|subprocess\.\w+)\s*\(\s*",),
    "tcl": (r"\bexec\s+", r"\bspawn\s+"),
}
_TCL_RUNS = re.compile(r"\b(?:exec|spawn)\s+(?:-\w+\s+)*([^;\n\]]+)")
_LANG_DELETE = re.compile(
    r"\b(?:rmSync|rmdirSync|unlinkSync|unlink|rmdir|rm_rf|rm_r|rm_f|rmtree|remove_tree|remove_entry|"
    r"File\.delete|FileUtils\.rm\w*|fs\.rm|fs\.promises\.rm|Deno\.remove|Bun\.\w*remove|file\.remove|"
    r"os\.remove|unlink_file|delete_file)\b\s*\(?\s*")
_LANG_WRITE = re.compile(
    r"\b(?:writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream|File\.write|file_put_contents|"
    r"IO\.write|Deno\.writeTextFile|Deno\.writeFile|Bun\.write|fwrite|FileUtils\.touch|copyFileSync|"
    r"renameSync|FileUtils\.(?:cp|mv)\w*)\b\s*\(?\s*")
_LANG_READ = re.compile(
    r"\b(?:readFileSync|readFile|createReadStream|File\.read|File\.open|IO\.read|IO\.readlines|"
    r"file_get_contents|readfile|Deno\.readTextFile|Deno\.readFile|Bun\.file|io\.open|fopen|slurp|"
    r"readLines|read_file)\b\s*\(?\s*")
_LANG_DYNAMIC = re.compile(r"\b(?:eval|Function|instance_eval|class_eval|module_eval|vm\.run\w*|"
                           r"new\s+Function|create_function|assert|load|loadstring|dofile)\s*\(")
_LANG_NET = re.compile(r"\b(?:https?\.(?:get|request)|fetch\s*\(|net\.connect|Net::HTTP|LWP::|HTTP::Tiny|"
                       r"curl_exec|IO::Socket|TCPSocket|open-uri|URI\.open|socket\.|http\.request|XMLHttpRequest|"
                       r"Deno\.connect|WebSocket|require\(['\"](?:https?|net|dgram)['\"]\))")
_LANG_SEND = re.compile(r"(?i)method\s*:\s*['\"](?:post|put|patch)|\bbody\s*:|\.write\(|\bpost\b|\bsend\(|"
                        r"\bputs\b.*\b(?:sock|socket|conn)\b|print\s*\{?\s*\$sock")
# Signalling pid -1 (or 0) reaches every process the user may signal: `kill 9, -1`, `process.kill(-1)`.
_KILL_ALL = re.compile(r"\b(?:kill|Process\.kill|process\.kill|posix\.kill|os\.kill)\s*\(?\s*(?:-1|0)\s*[,)]|"
                       r"\b(?:kill|Process\.kill)\s*\(?\s*['\"]?-?\w+['\"]?\s*,\s*(?:-1|0)\b")
_PERL_OPEN = re.compile(r"""\bopen\s*\(?\s*(?:my\s+)?[\$\w]+\s*,\s*(?:(['"])([<>+]{1,2})\1\s*,\s*""" + _STR +
                        r"""|(['"])([<>+]{0,2})\s*([^'"]+)\5)""")  # 2-argument open: quote, mode, path
_BACKTICKS = re.compile(r"`([^`]*)`")
# Quote-like operators close with the bracket that matches the opening one, or with the same character.
_QUOTE_LIKE = r"\s*(?:\{(.*?)\}|\((.*?)\)|\[(.*?)\]|<(.*?)>|([^\w\s{(\[<])(.*?)\5)"
_PERL_QX = re.compile(r"\bqx" + _QUOTE_LIKE, re.DOTALL)
_RUBY_PX = re.compile(r"%x" + _QUOTE_LIKE, re.DOTALL)
_NODE_ARGV = re.compile(r"\b(?:spawn|spawnSync|execFile|execFileSync)\s*\(\s*" + _STR + r"\s*,\s*\[([^\]]*)\]")
_ARRAY_ITEM = re.compile(_STR)
_AWK_PIPE = re.compile(r"""\|\s*""" + _STR + r"""|""" + _STR + r"""\s*\|\s*getline""")
_AWK_REDIRECT = re.compile(r""">{1,2}\s*""" + _STR)
_ENV_DUMP = re.compile(r"\bprocess\.env\b(?!\s*\.|\s*\[)|%ENV\b|\bENV\.(?:to_h|each|inspect)|\bgetenv\s*\(\s*\)|"
                       r"\$_ENV\b|\bSys\.getenv\s*\(\s*\)")


_NEXT_LITERAL = re.compile(r"\s*,\s*" + _STR)


def _more_literals(text: str, at: int) -> list[str]:
    """The string literals that follow the one ending at `at`, separated by commas."""
    items = []
    while True:
        match = _NEXT_LITERAL.match(text, at)
        if not match:
            return items
        items.append(_literal(match))
        at = match.end()


# The home directory as the other languages spell it.
_HOME_REF = (r"""(?:process\.env\.HOME|process\.env\[\s*['"]HOME['"]\s*\]|(?:require\(\s*['"](?:node:)?os['"]\s*\)|os)"""
             r"""\.homedir\(\)|ENV\[\s*['"]HOME['"]\s*\]|ENV\.fetch\(\s*['"]HOME['"]\s*\)|Dir\.home|"""
             r"""\$ENV\{\s*['"]?HOME['"]?\s*\}|(?:os\.)?getenv\(\s*['"]HOME['"]\s*\)|\$_SERVER\[\s*['"]HOME['"]\s*\]|"""
             r"""Deno\.env\.get\(\s*['"]HOME['"]\s*\)|Deno\.env\.HOME)""")
_HOME_ONLY = re.compile(r"\s*" + _HOME_REF + r"\s*\Z")
_HOME_INTERPOLATED = re.compile(r"\$\{\s*" + _HOME_REF + r"\s*\}|#\{\s*" + _HOME_REF + r"\s*\}|" + _HOME_REF)
_JOINERS = re.compile(r"\s*(?:path\.(?:join|resolve)|File\.(?:join|expand_path)|os\.path\.join|join_paths)\s*\(")
_TEMPLATE = re.compile(r"`([^`]*)`\Z", re.DOTALL)


def path_expression(code: str, at: int, home: str) -> str | None:
    """The value of the path argument that starts at `at` (after `readFileSync(`), when it is built from string
    literals and the home directory: `process.env.HOME + "/.ssh/id_rsa"`, `File.expand_path("~/.aws/credentials")`,
    `path.join(os.homedir(), ".ssh")`. None when it depends on anything else."""
    return _path_value(_argument(code, at), home)


def _argument(code: str, at: int) -> str:
    """The text of one argument: up to the first comma or closing bracket at its own level."""
    depth, i, n = 0, at, len(code)
    while i < n:
        c = code[i]
        if c in "\"'`":
            end = i + 1
            while end < n and code[end] != c:
                end += 2 if code[end] == "\\" else 1
            i = end + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c in ",;\n" and depth == 0:
            break
        i += 1
    return code[at:i]


def _path_value(text: str, home: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    joiner = _JOINERS.match(text)
    if joiner and text.endswith(")"):
        inner = text[joiner.end() : -1]
        pieces, at = [], 0
        while at <= len(inner):
            piece = _argument(inner, at)
            pieces.append(_path_value(piece, home))
            at += len(piece) + 1
        if not pieces or any(p is None for p in pieces):
            return None
        out = ""
        for piece in pieces:  # type: ignore[assignment]
            out = piece if piece.startswith("/") else (out.rstrip("/") + "/" + piece if out else piece)  # type: ignore[union-attr]
        return _home(out, home) if "expand_path" in joiner.group(0) else out
    if _HOME_ONLY.match(text):
        return home or None
    literal = re.match(_STR + r"\s*\Z", text)
    if literal:
        value = _literal(literal)
        # "#{Dir.home}/.ssh" (Ruby), "$ENV{HOME}/.ssh" (Perl), and their like inside double quotes.
        return _HOME_INTERPOLATED.sub(home, value) if home and text[0] == '"' else value
    template = _TEMPLATE.match(text)
    if template:
        value = _HOME_INTERPOLATED.sub(home, template.group(1)) if home else template.group(1)
        return None if "${" in value else value
    for operator in (" + ", "+", " . "):
        if operator in text:
            pieces = [_path_value(p, home) for p in _split_top(text, operator.strip())]
            if len(pieces) > 1 and all(p is not None for p in pieces):
                return "".join(pieces)  # type: ignore[arg-type]
            return None
    return None


def _split_top(text: str, operator: str) -> list[str]:
    pieces, at = [], 0
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            end = i + 1
            while end < n and text[end] != c:
                end += 2 if text[end] == "\\" else 1
            i = end + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == operator and depth == 0:
            pieces.append(text[at:i])
            at = i + 1
        i += 1
    pieces.append(text[at:])
    return pieces


def _quoted_body(match: re.Match[str]) -> str:
    return next(g for g in (match.group(1), match.group(2), match.group(3), match.group(4), match.group(6))
                if g is not None)


def _literal(match: re.Match[str], group_a: int = 1, group_b: int = 2) -> str:
    raw = match.group(group_a) if match.group(group_a) is not None else match.group(group_b)
    return _unescape(raw)


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw)


def scan_patterns(language: str, code: str, home: str) -> Findings:
    findings = Findings()
    if language == "tcl":
        # Tcl `exec`/`spawn` (expect) take the command as bare words up to the end of the command.
        for match in _TCL_RUNS.finditer(code):
            words = match.group(1).strip().strip("{}").strip()
            if words and not words.startswith(("$", "[")):
                findings.scripts.append(words)
            else:
                findings.dynamic.append("exec/spawn of a command built at run time")
    for pattern in _LANG_SHELL.get(language, ()) if language != "tcl" else ():
        for match in re.finditer(pattern, code):
            rest = code[match.end():]
            literal = re.match(_STR, rest)
            if literal:
                text = _literal(literal)
                if language == "node" and re.match(r"\s*,\s*\[", rest[literal.end():]):
                    continue  # spawn('prog', [...]) is read as an argv below
                items = _more_literals(rest, literal.end()) if language in ("perl", "ruby") else []
                if items:
                    # `system("rm", "-rf", "/x")`, `exec "rm", ...`: a list runs the program without a shell.
                    findings.argvs.append([text, *items])
                elif " " in text or language not in ("node",) or "exec" in match.group(0):
                    findings.scripts.append(text)
                else:
                    findings.argvs.append([text])
            elif language == "perl" and match.group(0).startswith("qx"):
                continue
            else:
                findings.dynamic.append(f"{match.group(0).strip()} with a command built at run time")
    for match in _NODE_ARGV.finditer(code):
        program = _literal(match)
        items = [_literal(m) for m in _ARRAY_ITEM.finditer(match.group(3))]
        findings.argvs.append([program, *items])
    if language in ("perl", "ruby", "php", "node") or language == "python":
        for match in _BACKTICKS.finditer(code):
            if language == "node":
                continue  # template literals, not commands
            findings.scripts.append(match.group(1))
    if language == "perl":
        for match in _PERL_QX.finditer(code):
            findings.scripts.append(_quoted_body(match))
        for match in _PERL_OPEN.finditer(code):
            mode = match.group(2) if match.group(2) is not None else match.group(6)
            path = (_literal(match, 3, 4) if match.group(2) is not None else match.group(7).strip()) or None
            if path and home and match.group(5) == '"':
                path = _HOME_INTERPOLATED.sub(home, path)
            if mode and ">" in mode:
                findings.writes.append(path)
            else:
                findings.reads.append(path)
    if language == "ruby":
        for match in _RUBY_PX.finditer(code):
            findings.scripts.append(_quoted_body(match))
    if language == "awk":
        for match in _AWK_PIPE.finditer(code):
            groups = [g for g in match.groups() if g is not None]
            if groups:
                findings.scripts.append(_unescape(groups[0]))
        for match in _AWK_REDIRECT.finditer(code):
            findings.writes.append(_literal(match))
    for match in _LANG_DELETE.finditer(code):
        recursive = bool(re.search(r"rmtree|rm_rf|rm_r|remove_tree|recursive\s*:\s*true", code[match.start():match.end() + 200]))
        findings.deletes.append((path_expression(code, match.end(), home), recursive))
    for match in _LANG_WRITE.finditer(code):
        findings.writes.append(path_expression(code, match.end(), home))
    for match in _LANG_READ.finditer(code):
        findings.reads.append(path_expression(code, match.end(), home))
    if _LANG_NET.search(code) and _LANG_SEND.search(code):
        findings.capabilities.add("net.send")
    if _KILL_ALL.search(code):
        findings.capabilities.add("proc.kill")
        findings.flags.add("all-processes")
    for match in _LANG_DYNAMIC.finditer(code):
        rest = code[match.end():]
        if not re.match(r"\s*" + _STR + r"\s*\)", rest):
            findings.dynamic.append(f"{match.group(0).rstrip('(').strip()}() of code built at run time")
        else:
            literal = re.match(r"\s*" + _STR, rest)
            if literal:
                _merge(findings, scan_patterns(language, _literal(literal), home))
    if _LANG_NET.search(code):
        findings.capabilities.add("net.fetch")
    if _ENV_DUMP.search(code):
        findings.capabilities.add("env.read")
    if language == "python" and re.search(r"\b(?:exec|eval)\s*\(", code):
        findings.dynamic.append("exec/eval in a program that could not be parsed")
    if home:
        findings.deletes = [(_home(p, home), r) for p, r in findings.deletes]
        findings.writes = [_home(p, home) for p in findings.writes]
        findings.reads = [_home(p, home) for p in findings.reads]
    return findings


def _home(path: str | None, home: str) -> str | None:
    if path and path.startswith("~/"):
        return home.rstrip("/") + path[1:]
    return path
