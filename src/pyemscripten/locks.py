"""PEP 751 lock files (``pylock.toml``): write one from a resolution, read one back.

Pure. A lock names, for each package, the wheels it may be installed from with their URL,
size and hashes. Reading follows the spec's installation steps for a target: the lock's
``requires-python`` and ``environments`` must admit the runtime, a package whose ``marker``
is false for it is skipped (the extras and dependency groups the caller picks; by default no
extras and the lock's ``default-groups``), and the best wheel of each other package is picked
by tag, then build tag, as the resolver picks; a package with no wheel for the target makes
the whole lock unusable (it was made for another platform), and the error says which tags it
offers and which the runtime needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urljoin

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import BuildTag, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .credentials import links_a_local_file, lower_scheme, strip_credentials
from .downloads import strongest_hash
from .errors import LockError, UnsupportedRuntimeError, redact_url
from .index_pages import IndexFile
from .target import PlatformTag, Target

LOCK_VERSION = "1.0"
TOOL = "pyemscripten"


@dataclass(frozen=True)
class LockedWheel:
    name: str
    version: Version
    file: IndexFile
    #: Where the wheel lies relative to the lock (PEP 751's ``path``, written instead of the
    #: URL): a copy kept beside the lock (``lock --wheels-dir``).
    path: str | None = None


# What a TOML basic string cannot hold as it is: the quote, the backslash and every control
# character but tab (TOML 1.0), each written as an escape.
_TOML_ESCAPE = re.compile(r'["\\\x00-\x08\x0a-\x1f\x7f]')


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_string(value: str) -> str:
    escaped = _TOML_ESCAPE.sub(lambda m: {'"': '\\"', "\\": "\\\\", "\n": "\\n"}.get(
        m.group(), f"\\u{ord(m.group()):04x}"), value)
    return f'"{escaped}"'


# What TOML reads as an offset date-time in UTC (PEP 751's upload-time); anything else the
# index says is left out rather than written raw.
_UTC_DATETIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]00:00)")


def _upload_time(value: str | None) -> str | None:
    """``value`` (an index's upload-time) where TOML reads it as a date-time in UTC, else None."""
    match = _UTC_DATETIME.fullmatch(value or "")
    if match is None:
        return None
    try:  # digits that name no moment (February 30, 24:00, a leap second): tomllib refuses the whole lock
        year, month, day, hour, minute, second = map(int, match.groups()[:6])
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return value


def _inline_table(values: Mapping[str, str]) -> str:
    # Keys come from the index (hash names): quoted unless TOML reads them bare as they are.
    return "{ " + ", ".join(f"{k if _BARE_KEY.fullmatch(k) else _toml_string(k)} = {_toml_string(v)}"
                            for k, v in sorted(values.items())) + " }"


def dump_lock(
    wheels: Iterable[LockedWheel],
    target: Target | None,
    *,
    created_by: str = TOOL,
    relative_to: str | None = None,
) -> str:
    """A ``pylock.toml`` text for ``wheels`` (one wheel per package) made for ``target``.

    ``relative_to``: the URL of the folder the lock will be served from. A wheel under it
    is written as a ``path`` relative to the lock (PEP 751), which :func:`load_lock` joins
    to the lock's URL again: the lock and its wheels can move together (vendored wheels, a
    test suite's own server on any port). Other wheels keep their URL.

    Raises :class:`LockError` for a wheel without a hash a lock can be installed from
    (sha256 or stronger: an HTML index may give none)."""
    lines = [f"lock-version = {_toml_string(LOCK_VERSION)}", f"created-by = {_toml_string(created_by)}"]
    if target is not None:
        major, minor = target.python_major_minor
        lines.append(f'requires-python = "=={major}.{minor}.*"')
        lines.append("environments = [\"sys_platform == 'emscripten' and platform_machine == 'wasm32'\"]")
    lines.append("")
    wheels = sorted(wheels, key=lambda w: w.name)
    check_pinned(wheels)
    if not wheels:
        lines += ["packages = []", ""]  # required (PEP 751): pip and uv refuse a lock without it
    for wheel in wheels:
        file = wheel.file
        start = len(lines)
        lines += ["[[packages]]", f"name = {_toml_string(wheel.name)}", f"version = {_toml_string(str(wheel.version))}"]
        if file.requires_python:
            lines.append(f"requires-python = {_toml_string(file.requires_python)}")
        place = path_in_lock(wheel, relative_to)
        # A user:password@ in a URL (a wheel named by its URL) is never written: locks are shared.
        lines += ["", "[[packages.wheels]]", f"name = {_toml_string(file.filename)}",
                  f"path = {_toml_string(place)}" if place else f"url = {_toml_string(strip_credentials(file.url))}"]
        if file.size is not None:
            lines.append(f"size = {file.size}")
        upload_time = _upload_time(file.upload_time)
        if upload_time:
            lines.append(f"upload-time = {upload_time}")
        lines.append(f"hashes = {_inline_table(dict(file.hashes))}")
        lines.append("")
        try:
            "\n".join(lines[start:]).encode("utf-8")
        except UnicodeEncodeError:  # JSON's "\ud800": text, to json.loads, that neither UTF-8 nor TOML can hold
            raise LockError(f"the index gave {file.filename!r} ({wheel.name}) with a lone surrogate in its file name, "
                            "URL or hashes, which is no Unicode text and which no lock can hold; fix the index",
                            writing=True) from None
    if target is not None:
        lines += [f"[tool.{TOOL}]", f"platform = {_toml_string(str(target.platform))}",
                  f"python-version = {_toml_string(target.python_version)}", ""]
    return "\n".join(lines)


def check_pinned(wheels: Iterable[LockedWheel]) -> None:
    """Raise :class:`LockError` for a wheel a lock cannot pin: without a sha256 or stronger
    hash (an HTML index may give none)."""
    for wheel in wheels:
        file = wheel.file
        if strongest_hash(dict(file.hashes)) is None:
            given = ", ".join(k for k, _ in file.hashes) or "none"
            raise LockError(f"{file.filename} ({wheel.name}) has no sha256 or stronger hash on its index "
                            f"(given: {given}), and a lock must pin each wheel by one; use an index that gives hashes "
                            "(for a wheel named by its URL: add #sha256=<hex digest> to it)",
                            writing=True)


def path_in_lock(wheel: LockedWheel, relative_to: str | None) -> str | None:
    """The PEP 751 ``path`` :func:`dump_lock` writes for ``wheel`` (its own, or its URL's
    below the folder URL ``relative_to``), or None: it keeps its URL."""
    if wheel.path or relative_to is None:
        return wheel.path
    base = relative_to if relative_to.endswith("/") else relative_to + "/"
    return _relative_path(strip_credentials(wheel.file.url), base)


def _relative_path(url: str, base: str) -> str | None:
    """``url`` as a path below the folder URL ``base``, or None when it is not below it (or
    has a query, which a path cannot carry)."""
    if not url.startswith(base) or "?" in url or "#" in url or "%2f" in url[len(base):].lower():
        return None
    rest = unquote(url[len(base):])  # a file path, as PEP 751's path is ("+" not "%2B")
    # Only a path load_lock reads back as this file: to it "/" and "\\" are separators ("%2F"
    # and "%5C" in a URL are parts of a name, no folders; as Windows tools write paths) and
    # "C:/" a drive.
    return rest if rest and not _absolute(rest) and "\\" not in rest and ".." not in rest.split("/") else None


def _table(value: Any, what: str, source: str | None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LockError(f"{what} must be a table", source)
    return value


def _absolute(path: str) -> bool:
    """Whether a lock's ``path`` (``/`` separators) is absolute, POSIX or Windows."""
    return path.startswith("/") or re.match(r"[A-Za-z]:/", path) is not None


def _wheel_file(entry: Mapping[str, Any], package: str, lock_url: str | None, source: str | None) -> IndexFile:
    url, path = entry.get("url"), entry.get("path")
    # The path first, where it can be followed (PEP 751: "If path is set, use it. Else if
    # url is set, try to use it"): a relative one, from a lock given by its URL.
    followed = isinstance(path, str) and bool(lock_url) and not _absolute(path.replace("\\", "/"))
    if isinstance(url, str) and not followed:
        location = lower_scheme(url)  # HTTPS:// is https:// (RFC 3986 3.1), as urljoin writes it below
    elif isinstance(path, str):
        # A file's path relative to the lock (PEP 751; "\\" separators allowed), quoted to be
        # a URL's path, and found where the lock was fetched from.
        path = path.replace("\\", "/")
        if _absolute(path):
            raise LockError(f"a wheel of {package} is at the absolute path {path!r}, which a browser cannot fetch; "
                            "lock with --wheels-dir inside the lock's folder", source)
        if not lock_url:
            raise LockError(f"a wheel of {package} is named by its path from the lock ({path!r}): give the lock by "
                            "its URL (not its text or a file), so that the wheel can be fetched from beside it", source)
        location = quote(path)
    else:
        raise LockError(f"a wheel of {package} has neither url nor path", source)
    if lock_url:
        try:
            location = urljoin(lock_url, location)
        except ValueError as exc:  # urljoin refuses e.g. "http://[" (an unclosed IPv6 host)
            raise LockError(f"a wheel of {package} has a bad URL {redact_url(location)!r} ({exc})", source) from None
    if links_a_local_file(location, lock_url):  # as an index page's link
        raise LockError(f"a wheel of {package} is at {redact_url(location)}, a file of this machine, which only a lock "
                        "in this machine's files may name", source)
    # A fragment (#sha256=..., #egg=...) is no part of the file's address: the lock's hashes
    # table is its hash, and the URL is kept as an index page's is (IndexFile.url).
    location = location.split("#", 1)[0]
    given = entry.get("name")
    filename = given if isinstance(given, str) else unquote(location.split("?")[0].rsplit("/", 1)[-1])
    hashes = _table(entry.get("hashes"), f"hashes of {filename}", source)
    if not hashes or not all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()):
        raise LockError(f"the wheel {filename} of {package} has no hashes (PEP 751 requires one)", source)
    if strongest_hash({k.lower(): v for k, v in hashes.items()}) is None:
        raise LockError(f"the wheel {filename} of {package} has only {', '.join(sorted(hashes))} hashes, which do not "
                        "prove a file's contents: a lock for pyemscripten needs sha256, sha384 or sha512 (make it "
                        "again with `python -m pyemscripten lock`)", source)
    size = entry.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise LockError(f"size of {filename} must be an integer", source)
    return IndexFile(filename=filename, url=location, hashes=tuple(sorted((k.lower(), v.lower()) for k, v in hashes.items())),
                     size=size)


#: The top-level keys of a 1.0 lock (PEP 751).
_KEYS = frozenset({"lock-version", "environments", "requires-python", "extras", "dependency-groups", "default-groups",
                   "created-by", "packages", "tool"})
#: A package's sources other than wheels: each excludes ``wheels`` and ``sdist`` (PEP 751).
_OTHER_SOURCES = ("vcs", "directory", "archive")


def load_lock(text: str, target: Target, *, lock_url: str | None = None, source: str | None = None,
              warn: Callable[[str], None] = lambda message: None, extras: Collection[str] = (),
              groups: Collection[str] | None = None) -> list[LockedWheel]:
    """The wheel to install for each package of a lock, for ``target``.

    ``extras`` and ``groups``: the lock's extras and dependency groups to install (PEP 751's
    ``extras`` and ``dependency_groups`` marker variables); by default none of its extras,
    and its ``default-groups``. Each must be one the lock declares.

    Raises :class:`LockError` for unparseable TOML, an unsupported lock-version, a package
    without hashes, or one with no wheel for the target (naming its tags and the runtime's).
    ``warn`` is told what the spec says to warn of: a newer 1.x lock-version (and the keys
    this installer does not know), and a lock whose ``[tool.pyemscripten]`` names another
    platform (which, as tool data, decides nothing: the wheels' tags do).
    """
    import tomllib  # here: compiling it takes 20 ms in Pyodide, and only lock files need it

    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise LockError(f"not valid TOML ({type(exc).__name__}: {exc})", source) from None
    version = data.get("lock-version")
    if version is None:
        raise LockError("lock-version is missing", source)
    if not isinstance(version, str):
        raise LockError(f"lock-version must be a string such as \"1.0\" (got {version!r})", source)
    major, _, minor = version.partition(".")
    # isascii: str.isdigit() also accepts "²", which int() refuses; and int() refuses > 4300 digits.
    if not all(part.isascii() and part.isdigit() and len(part) <= 10 for part in (major, minor or "0")):
        raise LockError(f"lock-version {version!r} is not a version such as \"1.0\"", source)
    if int(major) != 1:
        raise LockError(f"lock-version {version} is not supported (this installer reads 1.x)", source)
    if int(minor or "0") > 0:
        unknown = sorted(str(key) for key in data if key not in _KEYS)
        warn(f"lock-version {version} is newer than this installer reads (1.0): it is read as 1.0"
             + (f", without the keys {', '.join(unknown)}" if unknown else ""))
    made_for = _made_for(data)
    runtime = f"this runtime ({target.platform}, Python {target.python_version})"
    if made_for is not None and made_for != target.platform:
        runtime += f" (the lock was made for {made_for})"
    if not _python_fits(data.get("requires-python"), target, "the lock's requires-python", source):
        raise LockError(f"it requires Python {data['requires-python']}, and {runtime} does not fit; "
                        "lock again for this runtime", source)
    chosen_extras = _declared(data, "extras", extras, source)
    if groups is None:
        defaults = data.get("default-groups", [])
        chosen_groups = frozenset(g for g in defaults if isinstance(g, str)) if isinstance(defaults, list) else frozenset()
    else:
        chosen_groups = _declared(data, "dependency-groups", groups, source)
    environment = {**target.marker_environment, "extras": chosen_extras, "dependency_groups": chosen_groups}
    environments = data.get("environments")
    if environments is not None:
        if not isinstance(environments, list) or not all(isinstance(e, str) for e in environments):
            raise LockError("environments must be an array of marker strings", source)
        if not environments:  # "an error MUST be raised if no expression is satisfied"
            raise LockError(f"its environments list is empty: no runtime fits it; lock again for {runtime}", source)
        if not any(_marker_true(e, environment, "environments", source) for e in environments):
            raise LockError(f"none of its environments ({'; '.join(environments)}) is {runtime}; "
                            "lock again for this runtime", source)
    packages = data.get("packages", [])
    if not isinstance(packages, list):
        raise LockError("packages must be an array of tables", source)
    chosen: dict[str, LockedWheel] = {}
    for raw in packages:
        package = _table(raw, "a packages entry", source)
        marker = package.get("marker")
        name = package.get("name")
        if marker is not None:
            if not isinstance(marker, str):
                raise LockError(f"the marker of {name} must be a string", source)
            if not _marker_true(marker, environment, f"the marker of {name}", source):
                continue  # not for this runtime
        if not _python_fits(package.get("requires-python"), target, f"requires-python of {name}", source):
            raise LockError(f"{name} requires Python {package['requires-python']}, and {runtime} does not fit; "
                            "lock again for this runtime", source)
        wheel = _choose(package, target, lock_url, source, made_for)
        if wheel.name in chosen:
            raise LockError(f"{wheel.name} is listed more than once for {runtime} "
                            f"({chosen[wheel.name].version} and {wheel.version}): their markers overlap", source)
        chosen[wheel.name] = wheel
    if made_for is not None and made_for != target.platform:
        warn(f"the lock was made for {made_for} (its [tool.{TOOL}] table), and this runtime is {target.platform}: "
             "each of its wheels fits this runtime too")
    return list(chosen.values())


def _declared(data: Mapping[str, Any], key: str, asked: Collection[str], source: str | None) -> frozenset[str]:
    """``asked`` (extras or dependency groups), each checked against what the lock's ``key``
    declares, as PEP 751's markers compare them: normalized names."""
    declared = data.get(key, [])
    known = {canonicalize_name(n) for n in declared if isinstance(n, str)} if isinstance(declared, list) else set()
    wanted = frozenset(canonicalize_name(n) for n in asked)
    unknown = sorted(wanted - known)
    if unknown:
        offered = ", ".join(sorted(known)) or "none"
        raise LockError(f"it declares no {key} {', '.join(unknown)} (its {key}: {offered})", source)
    return wanted


def _made_for(data: Mapping[str, Any]) -> PlatformTag | str | None:
    """The platform ``[tool.pyemscripten]`` names (as written, where it is no platform tag)."""
    tools = data.get("tool")
    tool = tools.get(TOOL) if isinstance(tools, Mapping) else None
    made_for = tool.get("platform") if isinstance(tool, Mapping) else None
    if not isinstance(made_for, str):
        return None
    try:
        return PlatformTag.parse(made_for)  # the legacy pyodide_ spelling of a platform is that platform
    except (UnsupportedRuntimeError, ValueError):
        return made_for


def _python_fits(spec: Any, target: Target, what: str, source: str | None) -> bool:
    if spec is None:
        return True
    try:
        if not isinstance(spec, str):
            raise InvalidSpecifier(repr(spec))
        # As resolution compares Requires-Python (Target.python_release): a runtime on 3.15.0rc1
        # fits ">=3.15", which its resolution took and wrote into the lock.
        return SpecifierSet(spec).contains(target.python_release, prereleases=True)
    except (InvalidSpecifier, ValueError):
        raise LockError(f"{what} is not a valid version specifier: {spec!r}", source) from None


def _marker_true(text: str, environment: Mapping[str, Any], what: str, source: str | None) -> bool:
    """``text`` evaluated for the runtime as the spec says for a lock: with the variables
    ``extras`` and ``dependency_groups``."""
    try:
        return Marker(text).evaluate(environment, context="lock_file")
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, ValueError) as exc:  # ValueError: > 4300 digits
        raise LockError(f"{what} is not a marker this installer can evaluate: {text!r} ({exc})", source) from None


def _choose(package: Mapping[str, Any], target: Target, lock_url: str | None, source: str | None,
            made_for: PlatformTag | str | None = None) -> LockedWheel:
    name = package.get("name")
    if not isinstance(name, str):
        raise LockError("a package has no name", source)
    given = package.get("version")  # optional (PEP 751): a wheel's file name gives it too
    try:
        version = Version(given) if isinstance(given, str) else None
    except ValueError:  # InvalidVersion, or a number int() refuses (> 4300 digits)
        version = None
    if version is None and given is not None:
        raise LockError(f"{name} has no valid version ({given!r})", source)
    wheels = package.get("wheels")
    others = [key for key in _OTHER_SOURCES if key in package]
    if others and (wheels is not None or "sdist" in package or len(others) > 1):
        named = ", ".join(others + [key for key in ("wheels", "sdist") if key in package])
        raise LockError(f"{name} names conflicting sources ({named}): a package is installed from one kind of source "
                        "(PEP 751); fix or make the lock again", source)
    if others == ["archive"] and wheels is None:
        wheels = [_archive_wheel(package["archive"], name, source)]
    if not isinstance(wheels, list) or not wheels:
        kind = f"only {'an sdist' if 'sdist' in package else others[0]}" if "sdist" in package or others else "no wheels"
        raise LockError(f"{name} has {kind} in the lock; pyemscripten installs only wheels (make the lock with "
                        "`python -m pyemscripten lock`, which names a wheel for the runtime)", source)
    best: tuple[int, BuildTag, IndexFile, Version] | None = None
    offered: list[str] = []
    for raw in wheels:
        file = _wheel_file(_table(raw, f"a wheel of {name}", source), name, lock_url, source)
        try:
            file_name, file_version, build, tags = parse_wheel_filename(file.filename)
        except ValueError:  # InvalidWheelFilename, or a number int() refuses
            raise LockError(f"{file.filename!r} ({name}) is not a valid wheel file name", source) from None
        if file_name != canonicalize_name(name):  # PEP 751: the package's own wheels
            raise LockError(f"{file.filename} is a wheel of {file_name}, not of {name}, under which the lock lists it",
                            source)
        if version is not None and file_version != version:
            raise LockError(f"{file.filename} is not version {version} of {name}, as the lock says it is", source)
        offered += sorted(str(t) for t in tags)
        rank = target.tag_rank(tags)
        # The best tag, then, between equally good ones, the largest build tag (none sorts
        # first): the binary distribution format's tie-breaker, as the resolver picks
        # (candidates.Finder.versions), not the first listed.
        if rank is not None and (best is None or rank < best[0] or rank == best[0] and build > best[1]):
            best = (rank, build, file, file_version)
    if best is None:
        made = f" (the lock was made for {made_for})" if made_for is not None and made_for != target.platform else ""
        raise LockError(f"{name}{f' {version}' if version else ''} has no wheel for this runtime{made}: the lock offers "
                        f"{', '.join(offered)}; this runtime needs {target.platform} or py3-none-any. Lock "
                        f"for it: python -m pyemscripten lock ... --platform {target.platform} "
                        f"--python-version {target.python_version}", source)
    return LockedWheel(canonicalize_name(name), version or best[3], best[2])


def _archive_wheel(archive: Any, package: str, source: str | None) -> Mapping[str, Any]:
    """A package's ``archive`` (a direct reference, as pip and uv lock ``name @ URL``) as a
    wheel entry, where it is a wheel; other archives (sdists) are refused."""
    entry = _table(archive, f"the archive of {package}", source)
    where = entry.get("url") if isinstance(entry.get("url"), str) else entry.get("path")
    if not isinstance(where, str) or not unquote(where.split("#")[0].split("?")[0]).endswith(".whl"):
        shown = redact_url(where) if isinstance(where, str) else where
        raise LockError(f"{package}'s archive ({shown!r}) is not a wheel; pyemscripten installs only wheels", source)
    return entry
