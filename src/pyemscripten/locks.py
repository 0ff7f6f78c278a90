"""PEP 751 lock files (``pylock.toml``): write one from a resolution, read one back.

Pure. A lock names, for each package, the wheels it may be installed from with their URL,
size and hashes. Reading picks, for a target, the best wheel of each package by tag; a
package with no wheel for the target makes the whole lock unusable (it was made for
another platform), and the error says which tags it offers and which the runtime needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .errors import LockError
from .index_pages import IndexFile
from .target import Target

LOCK_VERSION = "1.0"
TOOL = "pyemscripten"


@dataclass(frozen=True)
class LockedWheel:
    name: str
    version: Version
    file: IndexFile


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _inline_table(values: Mapping[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {_toml_string(v)}" for k, v in sorted(values.items())) + " }"


def dump_lock(
    wheels: Iterable[LockedWheel],
    target: Target | None,
    *,
    created_by: str = TOOL,
) -> str:
    """A ``pylock.toml`` text for ``wheels`` (one wheel per package) made for ``target``."""
    lines = [f"lock-version = {_toml_string(LOCK_VERSION)}", f"created-by = {_toml_string(created_by)}"]
    if target is not None:
        major, minor = target.python_major_minor
        lines.append(f'requires-python = "=={major}.{minor}.*"')
        lines.append("environments = [\"sys_platform == 'emscripten' and platform_machine == 'wasm32'\"]")
    lines.append("")
    for wheel in sorted(wheels, key=lambda w: w.name):
        file = wheel.file
        lines += ["[[packages]]", f"name = {_toml_string(wheel.name)}", f"version = {_toml_string(str(wheel.version))}"]
        if file.requires_python:
            lines.append(f"requires-python = {_toml_string(file.requires_python)}")
        lines += ["", "[[packages.wheels]]", f"name = {_toml_string(file.filename)}", f"url = {_toml_string(file.url)}"]
        if file.size is not None:
            lines.append(f"size = {file.size}")
        if file.upload_time:
            lines.append(f"upload-time = {file.upload_time}")
        lines.append(f"hashes = {_inline_table(dict(file.hashes))}")
        lines.append("")
    if target is not None:
        lines += [f"[tool.{TOOL}]", f"platform = {_toml_string(str(target.platform))}",
                  f"python-version = {_toml_string(target.python_version)}", ""]
    return "\n".join(lines)


def _table(value: Any, what: str, source: str | None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LockError(f"{what} must be a table", source)
    return value


def _wheel_file(entry: Mapping[str, Any], package: str, lock_url: str | None, source: str | None) -> IndexFile:
    url, path = entry.get("url"), entry.get("path")
    location = url if isinstance(url, str) else path if isinstance(path, str) else None
    if location is None:
        raise LockError(f"a wheel of {package} has neither url nor path", source)
    if lock_url:
        try:
            location = urljoin(lock_url, location)
        except ValueError as exc:  # urljoin refuses e.g. "http://[" (an unclosed IPv6 host)
            raise LockError(f"a wheel of {package} has a bad URL {location!r} ({exc})", source) from None
    filename = entry.get("name") if isinstance(entry.get("name"), str) else location.rsplit("/", 1)[-1]
    hashes = _table(entry.get("hashes"), f"hashes of {filename}", source)
    if not hashes or not all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()):
        raise LockError(f"the wheel {filename} of {package} has no hashes (PEP 751 requires one)", source)
    size = entry.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise LockError(f"size of {filename} must be an integer", source)
    return IndexFile(filename=filename, url=location, hashes=tuple(sorted((k.lower(), v.lower()) for k, v in hashes.items())),
                     size=size)


def load_lock(text: str, target: Target, *, lock_url: str | None = None, source: str | None = None) -> list[LockedWheel]:
    """The wheel to install for each package of a lock, for ``target``.

    Raises :class:`LockError` for unparseable TOML, an unsupported lock-version, a package
    without hashes, or one with no wheel for the target (naming its tags and the runtime's).
    """
    import tomllib  # here: compiling it takes 20 ms in Pyodide, and only lock files need it

    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise LockError(f"not valid TOML ({type(exc).__name__}: {exc})", source) from None
    version = data.get("lock-version")
    major = version.split(".")[0] if isinstance(version, str) else ""
    # isascii: str.isdigit() also accepts "²", which int() refuses; and int() refuses > 4300 digits.
    if not (major.isascii() and major.isdigit()) or len(major) > 10:
        raise LockError("lock-version is missing", source)
    if int(major) != 1:
        raise LockError(f"lock-version {version} is not supported (this installer reads 1.x)", source)
    tool = data.get("tool", {}).get(TOOL, {}) if isinstance(data.get("tool"), Mapping) else {}
    made_for = tool.get("platform") if isinstance(tool, Mapping) else None
    if isinstance(made_for, str) and made_for != str(target.platform):
        raise LockError(f"it was made for {made_for}, but this runtime is {target.platform}; "
                        f"lock again with --platform {target.platform}", source)
    packages = data.get("packages", [])
    if not isinstance(packages, list):
        raise LockError("packages must be an array of tables", source)
    chosen = []
    for raw in packages:
        package = _table(raw, "a packages entry", source)
        chosen.append(_choose(package, target, lock_url, source))
    return chosen


def _choose(package: Mapping[str, Any], target: Target, lock_url: str | None, source: str | None) -> LockedWheel:
    name = package.get("name")
    if not isinstance(name, str):
        raise LockError("a package has no name", source)
    try:
        version = Version(str(package.get("version")))
    except ValueError:  # InvalidVersion, or a number int() refuses (> 4300 digits)
        raise LockError(f"{name} has no valid version", source) from None
    wheels = package.get("wheels")
    if not isinstance(wheels, list) or not wheels:
        raise LockError(f"{name} has no wheels (pyemscripten installs only wheels)", source)
    best: tuple[int, IndexFile] | None = None
    offered: list[str] = []
    for raw in wheels:
        file = _wheel_file(_table(raw, f"a wheel of {name}", source), name, lock_url, source)
        try:
            _, _, _, tags = parse_wheel_filename(file.filename)
        except ValueError:  # InvalidWheelFilename, or a number int() refuses
            raise LockError(f"{file.filename!r} ({name}) is not a valid wheel file name", source) from None
        offered += sorted(str(t) for t in tags)
        rank = target.tag_rank(tags)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, file)
    if best is None:
        raise LockError(f"{name} {version} has no wheel for this runtime: the lock offers "
                        f"{', '.join(offered)}; this runtime needs {target.platform} or py3-none-any", source)
    return LockedWheel(canonicalize_name(name), version, best[1])
