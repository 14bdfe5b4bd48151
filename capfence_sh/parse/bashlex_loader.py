"""Import bashlex without rebuilding its LALR parse table on every start.

bashlex's bundled PLY yacc builds the whole LALR table each time ``bashlex.parser`` is imported
(~100 ms; the shipped parsetab.py is never used). ``load_bashlex`` imports bashlex with
``bashlex.yacc.yacc`` temporarily replaced: on a cache hit the replacement builds the ``LRParser``
straight from cached action/goto tables and productions; on a miss it calls the real ``yacc`` and
stores the tables it produced, before ``bashlex.parser`` applies its "correction states" edits to
them (those edits then run on the cached tables exactly as they do on fresh ones).

Validity. ``table_cache_key()`` is a SHA-256 over the cache format, the interpreter (implementation,
``sys.version``, marshal format), the bashlex version and the contents of bashlex's parser.py,
yacc.py and tokenizer.py; it is stored in the cache file. Hashing on every start costs ~3-4 ms
(importing OpenSSL's hashlib is most of it), so starts use a stat signature instead, stored next to
the key: the interpreter identity plus (dev, inode, size, mtime_ns, ctime_ns) of the three sources
and of the directory holding bashlex's dist-info. When it differs, the key is recomputed from the
contents and compared; the table is used only on an exact key match. A content change that keeps the
signature would need an in-place, same-size rewrite within one timestamp granule of the state that
was signed (ctime cannot be set from user space); signatures of files changed in the last few
seconds are never recorded ("racy" files, as git does for its index), so that window is closed.

Corruption (any bytes, truncation, another format or key, another owner) falls back to the normal
import and, where possible, rewrites the cache. The file is ``marshal`` data behind a magic and a
CRC-32 and is only read as data, never executed. It is as trusted as the install itself: whoever can
write the cache directory can change how commands parse, so keep it out of an agent's reach.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import zlib
from _thread import allocate_lock

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import and annotations here are never evaluated
    from typing import Any

__all__ = ["load_bashlex", "table_cache_key", "warm_cache", "cache_file_path", "FORMAT_VERSION"]

FORMAT_VERSION = 1

_MAGIC = b"CFBLXLR\x01"
_HEADER_LEN = len(_MAGIC) + 4  # magic + CRC-32 of the payload
_MAX_FILE_BYTES = 8 << 20
_SOURCES = ("parser.py", "yacc.py", "tokenizer.py")
# Timestamps newer than this (relative to when they are signed) are too recent to prove anything.
_RACY_WINDOW_NS = 3_000_000_000
_PLAIN_YACC_KWARGS = frozenset({"outputdir", "debug"})

_lock = allocate_lock()

# How the last load_bashlex call got bashlex, for tests and diagnostics: "cache" (table read from the
# cache), "built" (table built by yacc, cache written when possible), "plain" (normal import after a
# problem, or nothing to key a cache on), "already-imported" (bashlex was imported before).
_last_outcome = ""
# Why the last fallback happened ("" if none), for the same purpose.
_last_error = ""


def _note(where: str, exc: BaseException) -> None:
    global _last_error
    _last_error = f"{where}: {type(exc).__name__}: {exc}"


class _Tables:
    """The three attributes of PLY's LRTable that LRParser.__init__ reads."""

    __slots__ = ("lr_productions", "lr_action", "lr_goto")

    def __init__(self, productions: list[Any], action: dict, goto: dict) -> None:
        self.lr_productions = productions
        self.lr_action = action
        self.lr_goto = goto


class _CacheEntry:
    __slots__ = ("key", "sig", "productions", "action", "goto")

    def __init__(self, key: str, sig: tuple | None, productions: tuple, action: dict, goto: dict) -> None:
        self.key = key
        self.sig = sig
        self.productions = productions
        self.action = action
        self.goto = goto


class _Plan:
    """What one load decided and learned; filled in by the yacc replacement."""

    def __init__(self, path: str, pkgdir: str, sig: tuple, entry: _CacheEntry | None, key: str | None) -> None:
        self.path = path
        self.pkgdir = pkgdir
        self.sig = sig
        self.entry = entry  # tables to serve, or None for a miss
        self.key = key  # content key, when it had to be computed
        self.served_from_cache = False
        self.fresh_payload: tuple | None = None  # (productions, action, goto) as yacc built them


class _InspectStandIn:
    """Stands in for `inspect` inside bashlex.yacc.

    yacc uses inspect only while building tables (the miss path); importing it costs ~9 ms. This
    object imports the real module on first use and forwards to it, so the miss path still works.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Import machinery probes dunders such as __spec__; answering them would import inspect.
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get("inspect") is self:
            del sys.modules["inspect"]  # only while bashlex.yacc is importing; the real one goes there
        import inspect

        return getattr(inspect, name)


_INSPECT_STAND_IN = _InspectStandIn()


# ---------------------------------------------------------------------------------------------
# Locations and keys


def default_cache_dir() -> str:
    explicit = os.environ.get("CAPFENCE_CACHE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says relative values are to be ignored
        return os.path.join(xdg, "capfence")
    home = os.path.expanduser("~")
    if not os.path.isabs(home):
        raise LookupError("no home directory to put the cache in")  # never a cwd-relative "~"
    return os.path.join(home, ".cache", "capfence")


def _find_spec(name: str) -> Any:
    """The spec `import name` would use, found without importing importlib.util (~1 ms)."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(name, None)
        if spec is not None:
            return spec
    return None


def _bashlex_dir() -> str | None:
    module = sys.modules.get("bashlex")
    if module is not None:
        locations = getattr(module, "__path__", None)
    else:
        spec = _find_spec("bashlex")
        locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        return None
    return os.path.abspath(list(locations)[0])


def _env_identity() -> tuple:
    return (FORMAT_VERSION, sys.implementation.name, sys.version, marshal.version)


def _stat_signature(pkgdir: str) -> tuple:
    """Everything the content key depends on, as cheap stat data. Raises OSError."""
    parts: list[tuple] = []
    for name in _SOURCES:
        st = os.stat(os.path.join(pkgdir, name))
        parts.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    # Installing another bashlex version renames its dist-info, which changes this directory.
    st = os.stat(os.path.dirname(pkgdir))
    parts.append((st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return (_env_identity(), pkgdir, tuple(parts))


def _is_racy(sig: tuple, now_ns: int) -> bool:
    limit = now_ns - _RACY_WINDOW_NS
    return any(part[-1] >= limit or part[-2] >= limit for part in sig[2])


def _bashlex_version(pkgdir: str) -> str:
    parent = os.path.dirname(pkgdir)
    try:
        names = os.listdir(parent)
    except OSError:
        return "unknown"
    found = sorted(
        n for n in names if n.lower().startswith("bashlex-") and n.endswith((".dist-info", ".egg-info"))
    )
    return ",".join(found) or "unknown"


def _content_key(pkgdir: str) -> str:
    import hashlib

    outer = hashlib.sha256()
    outer.update(repr(_env_identity()).encode())
    outer.update(b"\0bashlex:" + _bashlex_version(pkgdir).encode() + b"\0")
    for name in _SOURCES:
        with open(os.path.join(pkgdir, name), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        outer.update(f"{name}:{digest}\0".encode())
    return outer.hexdigest()


def table_cache_key() -> str:
    """The content key a cache file must carry to be used (see the module docstring)."""
    pkgdir = _bashlex_dir()
    if pkgdir is None:
        raise ModuleNotFoundError("bashlex is not importable")
    return _content_key(pkgdir)


def cache_file_path(cache_dir: str | None = None, pkgdir: str | None = None) -> str:
    """Where the table for this interpreter and this bashlex location is kept."""
    if pkgdir is None:
        pkgdir = _bashlex_dir()
        if pkgdir is None:
            raise ModuleNotFoundError("bashlex is not importable")
    tag = sys.implementation.cache_tag or sys.implementation.name
    # One file per interpreter build and bashlex location, so that they do not evict each other.
    where = zlib.crc32(f"{sys.version}\0{pkgdir}".encode("utf-8", "surrogateescape"))
    name = f"bashlex-lalr-v{FORMAT_VERSION}-{tag}-{where:08x}.marshal"
    return os.path.join(cache_dir or default_cache_dir(), name)


# ---------------------------------------------------------------------------------------------
# The cache file


def _encode(key: str, sig: tuple | None, payload: tuple) -> bytes:
    productions, action, goto = payload
    body = marshal.dumps((key, sig, productions, action, goto))
    return _MAGIC + zlib.crc32(body).to_bytes(4, "big") + body


def _valid_shape(productions: Any, action: Any, goto: Any) -> bool:
    """Cheap structural check. The CRC already rules out accidental damage; a deep per-entry type
    check costs ~0.8 ms per start and cannot stop a deliberately crafted file anyway."""
    if type(productions) is not tuple or not productions or type(action) is not dict or type(goto) is not dict:
        return False
    for row in productions:
        if type(row) is not tuple or len(row) != 6:
            return False
    for table in (action, goto):
        for row in table.values():
            if type(row) is not dict:
                return False
    return True


def _decode(data: bytes) -> _CacheEntry | None:
    if len(data) <= _HEADER_LEN or not data.startswith(_MAGIC):
        return None
    body = data[_HEADER_LEN:]
    if zlib.crc32(body) != int.from_bytes(data[len(_MAGIC) : _HEADER_LEN], "big"):
        return None
    try:
        obj = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    if type(obj) is not tuple or len(obj) != 5:
        return None
    key, sig, productions, action, goto = obj
    if type(key) is not str or not (sig is None or type(sig) is tuple):
        return None
    if not _valid_shape(productions, action, goto):
        return None
    return _CacheEntry(key, sig, productions, action, goto)


def _read_cache(path: str) -> _CacheEntry | None:
    """The entry stored at path, or None if there is none we can trust."""
    try:
        # O_NONBLOCK: a FIFO planted at this name must not hang the gate; fstat rejects it below.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        # Only a regular file of ours that nobody else may write can decide how commands parse.
        if not _stat_is_regular(st.st_mode) or st.st_mode & 0o022 or st.st_size > _MAX_FILE_BYTES:
            return None
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            return None
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _decode(b"".join(chunks))


def _stat_is_regular(mode: int) -> bool:
    return (mode & 0o170000) == 0o100000


def _write_cache(path: str, data: bytes) -> None:
    """Atomically replace path with data (0600, directory 0700). Raises OSError."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # the umask may have taken bits away; never adds any
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # already gone or never linked; the original error is what matters
        raise


def _signature_to_record(sig_before: tuple, pkgdir: str) -> tuple | None:
    """sig_before if the sources still match it and are old enough to trust, else None."""
    try:
        sig_after = _stat_signature(pkgdir)
    except OSError:
        return None
    if sig_after != sig_before or _is_racy(sig_after, time.time_ns()):
        return None
    return sig_after


# ---------------------------------------------------------------------------------------------
# Building the parser


def _tables_snapshot(parser: Any) -> tuple:
    """Plain copies of a freshly built parser's tables, taken before anyone edits them."""
    productions = tuple(
        (p.name, tuple(p.prod), tuple(p.prec), p.func, p.file or "", int(p.line)) for p in parser.productions
    )
    action = {state: dict(row) for state, row in parser.action.items()}
    goto = {state: dict(row) for state, row in parser.goto.items()}
    # Round-trip now so that later edits to the live parser cannot leak into what gets stored.
    return marshal.loads(marshal.dumps((productions, action, goto)))


def _parser_from_entry(yacc_mod: Any, entry: _CacheEntry, pdict: dict) -> Any:
    """Build the LRParser yacc() would have returned, from cached tables.

    Mirrors the end of yacc(): bind each production's function by name in the grammar module's
    globals (LRTable.bind_callables), then LRParser(lrtable, p_error), then set yacc.parse.
    """
    production_cls = yacc_mod.Production
    productions = []
    for number, (name, rhs, prec, func, file, line) in enumerate(entry.productions):
        production = production_cls(number, name, rhs, prec, func, file, line)
        production.bind(pdict)
        if func is not None and not callable(production.callable):
            raise TypeError(f"grammar action {func!r} is not callable")
        productions.append(production)
    # The parser mutates its tables (bashlex edits action rows), so give it private copies.
    action = {state: dict(row) for state, row in entry.action.items()}
    goto = {state: dict(row) for state, row in entry.goto.items()}
    parser = yacc_mod.LRParser(_Tables(productions, action, goto), pdict.get("p_error"))
    yacc_mod.parse = parser.parse
    return parser


def _as_module(pdict: dict) -> Any:
    """A module holding pdict, so the real yacc() reads the grammar module rather than our frame."""
    import types

    module = types.ModuleType(str(pdict.get("__name__", "grammar")))
    module.__dict__.update(pdict)
    return module


def _make_yacc(yacc_mod: Any, original: Any, plan: _Plan) -> Any:
    def yacc(*args: Any, **kwargs: Any) -> Any:
        pdict = sys._getframe(1).f_globals
        plain = not args and _PLAIN_YACC_KWARGS.issuperset(kwargs) and not kwargs.get("debug")
        if plain and plan.entry is not None:
            try:
                parser = _parser_from_entry(yacc_mod, plan.entry, pdict)
            except Exception as exc:
                # bashlex internals are not what the cache expects: build the table the normal way.
                _note("building the parser from the cache", exc)
                plan.entry = None
            else:
                plan.served_from_cache = True
                return parser
        if len(args) < 3 and kwargs.get("module") is None:
            # Without this the real yacc() would look up its caller's globals and find ours.
            kwargs["module"] = _as_module(pdict)
        parser = original(*args, **kwargs)
        if plain:
            try:
                plan.fresh_payload = _tables_snapshot(parser)
            except Exception as exc:
                # Unexpected parser internals: nothing to cache, the parser itself is fine.
                _note("copying the built tables", exc)
                plan.fresh_payload = None
        return parser

    return yacc


def _forget_bashlex() -> None:
    for name in [n for n in sys.modules if n == "bashlex" or n.startswith("bashlex.")]:
        del sys.modules[name]


def _module_from_spec(spec: Any) -> Any:
    # importlib.util.module_from_spec is this same function; importing importlib.util costs ~1 ms.
    bootstrap = sys.modules.get("importlib._bootstrap") or sys.modules.get("_frozen_importlib")
    module_from_spec = getattr(bootstrap, "module_from_spec", None)
    if module_from_spec is None:
        from importlib.util import module_from_spec
    return module_from_spec(spec)


def _import_with_plan(spec: Any, plan: _Plan) -> Any:
    """Run `import bashlex` by hand (importlib's documented recipe) with yacc.yacc replaced."""
    module = _module_from_spec(spec)
    sys.modules["bashlex"] = module
    try:
        stand_in = "inspect" not in sys.modules
        if stand_in:
            sys.modules["inspect"] = _INSPECT_STAND_IN  # type: ignore[assignment]
        try:
            import bashlex.yacc
        finally:
            if stand_in and sys.modules.get("inspect") is _INSPECT_STAND_IN:
                del sys.modules["inspect"]
        yacc_mod = sys.modules["bashlex.yacc"]
        original = yacc_mod.yacc
        replacement = _make_yacc(yacc_mod, original, plan)
        yacc_mod.yacc = replacement
        try:
            spec.loader.exec_module(module)
        finally:
            if yacc_mod.yacc is replacement:
                yacc_mod.yacc = original
    except BaseException:
        _forget_bashlex()
        raise
    return sys.modules["bashlex"]


def _plan_load(cache_dir: str | None) -> tuple[Any, _Plan] | None:
    spec = _find_spec("bashlex")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return None
    pkgdir = os.path.abspath(list(spec.submodule_search_locations)[0])
    try:
        sig = _stat_signature(pkgdir)
    except OSError:
        return None  # sources are not plain files (zip, frozen...): nothing to key a cache on
    path = cache_file_path(cache_dir, pkgdir)
    entry = _read_cache(path)
    if entry is not None and entry.sig is not None and entry.sig == sig:
        return spec, _Plan(path, pkgdir, sig, entry, None)
    key = _content_key(pkgdir)
    if entry is not None and entry.key != key:
        entry = None
    return spec, _Plan(path, pkgdir, sig, entry, key)


def _bytes_to_store(plan: _Plan) -> bytes | None:
    """What the cache file should now contain, or None if it is right (or cannot be made right)."""
    if plan.served_from_cache:
        if plan.key is None or plan.entry is None:
            return None  # served on a matching signature: the file is already right
        entry = plan.entry
        sig = _signature_to_record(plan.sig, plan.pkgdir)
        if sig is None:
            return None  # still racy: keep verifying by content until it settles
        return _encode(entry.key, sig, (entry.productions, entry.action, entry.goto))
    if plan.fresh_payload is None:
        return None
    key = plan.key if plan.key is not None else _content_key(plan.pkgdir)
    try:
        sig_now = _stat_signature(plan.pkgdir)
    except OSError:
        return None
    if sig_now != plan.sig:
        return None  # bashlex changed while we imported it: the table may not match the key
    return _encode(key, _signature_to_record(plan.sig, plan.pkgdir), plan.fresh_payload)


def load_bashlex(cache_dir: str | None = None) -> Any:
    """Return the imported `bashlex` package, its parser built from a cached LALR table when a
    valid one exists.

    cache_dir default: $CAPFENCE_CACHE_DIR, else $XDG_CACHE_HOME/capfence, else ~/.cache/capfence.
    Never raises because of the cache: any problem falls back to the normal `import bashlex` (and,
    where possible, writes a fresh cache for next time). Call it before starting threads: the
    manual import is serialised against other load_bashlex calls, not against `import bashlex`.
    """
    global _last_outcome, _last_error
    _last_error = ""
    module = sys.modules.get("bashlex")
    if module is not None:
        _last_outcome = "already-imported"
        return module
    with _lock:
        module = sys.modules.get("bashlex")
        if module is not None:
            _last_outcome = "already-imported"
            return module
        try:
            planned = _plan_load(cache_dir)
        except Exception as exc:
            # Anything unexpected while looking at the cache means: import bashlex the normal way.
            _note("reading the cache", exc)
            planned = None
        if planned is not None:
            spec, plan = planned
            try:
                module = _import_with_plan(spec, plan)
            except Exception as exc:
                # The hand-driven import failed; retry plainly so bashlex's own error (if any) shows.
                _note("importing bashlex with the cache", exc)
                module = None
            if module is not None:
                try:
                    data = _bytes_to_store(plan)
                    if data is not None:
                        _write_cache(plan.path, data)
                except Exception as exc:
                    # Storing is an optimisation for the next start (an unwritable cache only makes
                    # every start rebuild the table); this start already succeeded.
                    _note("writing the cache", exc)
                _last_outcome = "cache" if plan.served_from_cache else "built"
                return module
        _last_outcome = "plain"
        import bashlex

        return bashlex


def warm_cache(cache_dir: str | None = None) -> str:
    """Build and write the cache now (for install.sh); return its path.

    Unlike load_bashlex this reports failure (OSError if the cache cannot be written). If bashlex is
    already imported, it is imported once more, privately, so that the table comes from the sources
    the key is computed from; the modules already imported are put back afterwards.
    """
    global _last_outcome, _last_error
    _last_error = ""
    with _lock:
        saved = {n: m for n, m in sys.modules.items() if n == "bashlex" or n.startswith("bashlex.")}
        _forget_bashlex()
        try:
            planned = _plan_load(cache_dir)
            if planned is None:
                raise RuntimeError("bashlex is not installed as source files; there is nothing to cache")
            spec, plan = planned
            _import_with_plan(spec, plan)
            _last_outcome = "cache" if plan.served_from_cache else "built"
            data = _bytes_to_store(plan)
            if data is not None:
                _write_cache(plan.path, data)
            entry = _read_cache(plan.path)
            if entry is None or entry.key != _content_key(plan.pkgdir):
                raise RuntimeError(f"bashlex changed while its table was being cached; {plan.path} is not valid")
            return plan.path
        finally:
            if saved:
                _forget_bashlex()
                sys.modules.update(saved)
