"""The install target: which wheels a runtime takes and how its markers evaluate.

PEP 783 names each Emscripten ABI ``pyemscripten_<YEAR>_<PATCH>_wasm32``. There are no
ranges: a runtime accepts wheels for its own platform version and pure wheels, nothing
else. Before PEP 783 the same ABIs were spelled ``pyodide_<YEAR>_<PATCH>_wasm32``; we accept
that spelling of the *same* ABI as a documented legacy alias, ranked after the new one.

Everything here is pure: :meth:`Target.for_platform` builds a target from given values (so
a native machine can resolve and lock for a browser), and :func:`detect_inputs` is the one
small helper that reads the running interpreter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.version import InvalidVersion, Version

from .errors import UnsupportedRuntimeError

# Platform versions keyed by the Emscripten release that defines them (Pyodide's ABI docs).
# Only used when a runtime sets neither PYEMSCRIPTEN_PLATFORM_VERSION nor PYODIDE_ABI_VERSION.
_PLATFORM_BY_EMSCRIPTEN: Mapping[str, str] = {
    "3.1.58": "2024_0",
    "4.0.9": "2025_0",
    "5.0.3": "2026_0",
    "6.0.5": "2026_5",
}

# The Python each platform's Pyodide releases run (pyodide-lock.json's info.python: 0.27.7
# and 0.27.8, 0.29.5, 314.0.7 and 314.0.8): markers on python_full_version are evaluated
# against it when a target is given as MAJOR.MINOR (a lock on the command line). Not 2026_5's
# 3.15.0rc1: a lock for "3.15" is for the final releases too.
_PYTHON_BY_PLATFORM: Mapping[str, str] = {
    "2024_0": "3.12.7",
    "2025_0": "3.13.2",
    "2026_0": "3.14.2",
}

# MAJOR.MINOR of the Python each platform's known runtimes run (2026_5: Pyodide 315's 3.15).
_MINOR_BY_PLATFORM: Mapping[str, str] = {
    **{platform: ".".join(version.split(".")[:2]) for platform, version in _PYTHON_BY_PLATFORM.items()},
    "2026_5": "3.15",
}


def runtime_python(platform: PlatformTag) -> str | None:
    """MAJOR.MINOR of the Python that the known runtimes of ``platform`` run ("3.14" for
    2026_0), or None for a platform no known runtime has."""
    return _MINOR_BY_PLATFORM.get(platform.version)


def unknown_python(platform: PlatformTag, python_version: str) -> str | None:
    """Why no runtime of ``platform`` runs ``python_version`` (MAJOR.MINOR[.PATCH], checked)
    as far as this version knows, or None where one may: a Python no known platform's runtimes
    run is one none will (Python 2 or 4, a 3.x before the first platform's: a platform is made
    for a new Python, never an old one), except a newer 3.x on a platform this version does not
    know (a later Pyodide's). Another known Python on a known platform is not said here: it is
    a mismatch the caller may only warn of."""
    major, minor = (int(part) for part in python_version.split(".")[:2])
    known = sorted(set(_MINOR_BY_PLATFORM.values()), key=lambda v: tuple(map(int, v.split("."))))
    if f"{major}.{minor}" in known:
        return None
    newest = tuple(map(int, known[-1].split(".")))
    if runtime_python(platform) is None and major == newest[0] and minor > newest[1]:
        return None
    return (f"no Pyodide platform this version of pyemscripten knows runs Python {major}.{minor} "
            f"(they run {', '.join(known)})")


# ASCII digits only, matched whole: \d takes any Unicode digit (and int() reads "٢٠٢٦" as
# 2026), and $ a final newline, each a text that is no platform tag parsed as one. The patch
# has at most 4300 digits: int() converts no longer number. No leading zeros: PEP 783's tag is
# the exact string pyemscripten_{PYEMSCRIPTEN_PLATFORM_VERSION}_wasm32, so 2026_00 is not
# 2026_0 (a 2026_0 runtime takes no wheel tagged 2026_00), and a PlatformTag, which keeps
# numbers, could only name it as the other.
_NUMBERS = r"([1-9][0-9]{3})_(0|[1-9][0-9]{0,4299})"
_PLATFORM_RE = re.compile(rf"(?:pyemscripten|pyodide)_{_NUMBERS}_wasm32")
_VERSION_RE = re.compile(_NUMBERS)
# The same two shapes with zeros before either number, to say so (a text that matches one of
# these and not the above has some). Each number's first digit is fixed after its zeros: with
# "0*[0-9]{1,4300}" a run of zeros before a long number was split at every place in turn (a
# lock's [tool.pyemscripten] platform of 20,000 zeros: 3 s), and a tag without its prefix or
# suffix ("pyemscripten_2026_0") was said to have leading zeros.
_ZEROS = r"0*([1-9][0-9]{3})_0*(0|[1-9][0-9]{0,4299})"
_ZEROS_PLATFORM_RE = re.compile(rf"(?:pyemscripten|pyodide)_{_ZEROS}_wasm32")
_ZEROS_VERSION_RE = re.compile(_ZEROS)


@dataclass(frozen=True, order=True)
class PlatformTag:
    """One PEP 783 platform: ``str()`` gives ``pyemscripten_<year>_<patch>_wasm32``."""

    year: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> PlatformTag:
        """Parse ``pyemscripten_2026_0_wasm32``, ``pyodide_2026_0_wasm32`` or ``2026_0``.

        Raises :class:`UnsupportedRuntimeError` for anything else.
        """
        m = _PLATFORM_RE.fullmatch(text) or _VERSION_RE.fullmatch(text)
        if not m:
            zeros = _ZEROS_PLATFORM_RE.fullmatch(text) or _ZEROS_VERSION_RE.fullmatch(text)
            if zeros:
                meant = f"pyemscripten_{zeros[1]}_{int(zeros[2])}_wasm32"
                raise UnsupportedRuntimeError(
                    f"{text!r} is not a pyemscripten platform: a platform tag is an exact string (PEP 783), and "
                    f"none is spelled with leading zeros; did you mean {meant}?"
                )
            raise UnsupportedRuntimeError(
                f"{text!r} is not a pyemscripten platform (expected e.g. pyemscripten_2026_0_wasm32)"
            )
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def version(self) -> str:
        return f"{self.year}_{self.patch}"

    @property
    def legacy(self) -> str:
        """The pre-PEP 783 spelling of the same ABI."""
        return f"pyodide_{self.version}_wasm32"

    def __str__(self) -> str:
        return f"pyemscripten_{self.version}_wasm32"


@dataclass(frozen=True)
class RuntimeInputs:
    """What we read from an interpreter to compute its target (all plain values)."""

    python_version: str  # full, e.g. "3.14.2"
    platform_version: str | None  # PYEMSCRIPTEN_PLATFORM_VERSION
    abi_version: str | None  # PYODIDE_ABI_VERSION (legacy name of the same value)
    emscripten_version: str | None  # from sys._emscripten_info, e.g. "5.0.3"
    marker_environment: Mapping[str, str] = field(default_factory=dict)


def platform_from_inputs(inputs: RuntimeInputs) -> PlatformTag:
    """The platform of a runtime: the config variable, its legacy name, then the Emscripten map.

    Raises :class:`UnsupportedRuntimeError` when none of them is known.
    """
    for value in (inputs.platform_version, inputs.abi_version):
        if value:
            return PlatformTag.parse(str(value))
    emscripten = inputs.emscripten_version
    if emscripten is not None and emscripten in _PLATFORM_BY_EMSCRIPTEN:
        return PlatformTag.parse(_PLATFORM_BY_EMSCRIPTEN[emscripten])
    raise UnsupportedRuntimeError(
        "the interpreter sets neither PYEMSCRIPTEN_PLATFORM_VERSION nor PYODIDE_ABI_VERSION, "
        f"and Emscripten {inputs.emscripten_version or '(unknown)'} has no known platform version"
    )


def _check_python_version(text: str) -> None:
    """Refuse what is not MAJOR.MINOR or MAJOR.MINOR.PATCH (a pre-release such as 3.15.0rc1
    allowed), with :class:`UnsupportedRuntimeError`: resolution compares it as a version."""
    try:
        version = Version(text)
    except ValueError:  # InvalidVersion, or a number int() refuses (more than 4300 digits)
        version = None
    # A pre-release names its patch level, as CPython's own do: "3.14rc1" is no release, and
    # the tags and markers read MAJOR.MINOR and the patch from the parts between the dots.
    if version is None or not 2 <= len(version.release) <= 3 or version.local or version.epoch \
            or version.is_postrelease or version.is_devrelease or str(version) != text \
            or version.pre is not None and len(version.release) != 3:
        raise UnsupportedRuntimeError(f"{text!r} is not a Python version (expected MAJOR.MINOR or "
                                      "MAJOR.MINOR.PATCH, such as 3.14)")


def _full_version(python_version: str, platform: PlatformTag) -> str:
    """``python_version`` with a patch level: "3.14" becomes the Python the platform's
    runtimes run ("3.14.2" on 2026_0), or "3.14.0" where that is not known.

    Markers such as ``python_full_version >= '3.14.1'`` need three parts to compare against;
    this value is only for evaluating them, never shown as what the user asked for.
    """
    known = _PYTHON_BY_PLATFORM.get(platform.version, "")
    if python_version.count(".") == 1 and known.startswith(python_version + "."):
        return known
    return _padded(python_version)


def _padded(python_version: str) -> str:
    """"3.14" becomes "3.14.0", as ``platform.python_version()`` pads a two-part version."""
    return python_version + ".0" if python_version.count(".") == 1 else python_version


def _marker_environment(python_version: str, emscripten_version: str, platform: PlatformTag) -> dict[str, str]:
    major_minor = ".".join(python_version.split(".")[:2])
    full = _full_version(python_version, platform)
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": "wasm32",
        "platform_release": emscripten_version,
        "platform_system": "Emscripten",
        "platform_version": "#1",
        "python_full_version": full,
        "platform_python_implementation": "CPython",
        "python_version": major_minor,
        "sys_platform": "emscripten",
    }


@dataclass(frozen=True)
class Target:
    """Everything resolution needs to know about the runtime it resolves for."""

    platform: PlatformTag
    # As given: "3.14.2" from a runtime, or "3.14" for any 3.14 (a lock made on the command
    # line). The marker environment holds the padded python_full_version markers need.
    python_version: str
    tags: tuple[Tag, ...]
    marker_environment: Mapping[str, str]

    @classmethod
    def for_platform(
        cls,
        platform: str | PlatformTag,
        python_version: str,
        marker_environment: Mapping[str, str] | None = None,
        emscripten_version: str | None = None,
    ) -> Target:
        """Build the target of a CPython runtime on ``platform`` (works on any machine)."""
        plat = platform if isinstance(platform, PlatformTag) else PlatformTag.parse(platform)
        _check_python_version(python_version)
        env = _marker_environment(python_version, emscripten_version or _emscripten_for(plat), plat)
        env.update(marker_environment or {})
        return cls(plat, python_version, tuple(compatible_tag_list(plat, python_version)), env)

    @classmethod
    def from_inputs(cls, inputs: RuntimeInputs) -> Target:
        """Build the target from values read off an interpreter (see :func:`detect_inputs`)."""
        return cls.for_platform(
            platform_from_inputs(inputs),
            inputs.python_version,
            inputs.marker_environment,
            inputs.emscripten_version,
        )

    @property
    def python_release(self) -> Version:
        """The Python version without its pre-release part (3.15.0 of 3.15.0rc1): what
        Requires-Python is compared with, as pip compares ``sys.version_info[:3]``, so that a
        runtime on a release candidate takes files for ``>=3.15``. For a target given as
        MAJOR.MINOR (a lock), the same patch level its markers' ``python_full_version`` has
        ("3.14" is 3.14.2 on 2026_0), so that Requires-Python and markers agree."""
        try:
            return Version(Version(self.marker_environment["python_full_version"]).base_version)
        except (KeyError, InvalidVersion):
            return Version(Version(self.python_version).base_version)

    @property
    def python_major_minor(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")[:2]
        return int(major), int(minor)

    @property
    def tag_strings(self) -> list[str]:
        return [str(t) for t in self.tags]

    def tag_rank(self, tags: frozenset[Tag]) -> int | None:
        """Rank of the best tag in ``tags`` (lower is better), or None when none fits."""
        ranks = self._ranks()
        best = min((ranks[t] for t in tags if t in ranks), default=None)
        return best

    def _ranks(self) -> dict[Tag, int]:
        cached = self.__dict__.get("_rank_cache")
        if cached is None:
            cached = {t: i for i, t in enumerate(self.tags)}
            object.__setattr__(self, "_rank_cache", cached)
        return cached

    def describe(self) -> dict[str, Any]:
        return {
            "platform": str(self.platform),
            "python_version": self.python_version,
            "tags": self.tag_strings,
        }


def _emscripten_for(plat: PlatformTag) -> str:
    for emsdk, version in _PLATFORM_BY_EMSCRIPTEN.items():
        if version == plat.version:
            return emsdk
    return "0.0.0"


def compatible_tag_list(platform: PlatformTag, python_version: str) -> list[Tag]:
    """Tags a CPython ``python_version`` runtime on ``platform`` accepts, best first.

    Binary tags for the PEP 783 name, then the legacy ``pyodide_`` name of the same ABI,
    then pure-Python tags. Nothing for any other platform version.
    """
    major, minor = (int(x) for x in python_version.split(".")[:2])
    platforms = [str(platform), platform.legacy]
    # The ABI named, not left to packaging: it would read the build variables of the
    # interpreter running this (its debug and free-threading flags), which are not the
    # target's when locking from a native machine, and in a page cost a compile of their
    # source (see build_variables). Emscripten runtimes are release builds with the GIL.
    interpreter = f"cp{major}{minor}"
    tags = list(cpython_tags((major, minor), abis=[interpreter], platforms=platforms))
    tags += list(compatible_tags((major, minor), interpreter, platforms=platforms))
    seen: set[Tag] = set()
    unique = []
    for tag in tags:
        if tag not in seen:
            seen.add(tag)
            unique.append(tag)
    return unique


def _build_variables_file() -> tuple[Any, str, str] | None:
    """Where the regular import of the interpreter's build variables (sysconfig's
    ``_sysconfigdata_*`` module) would take them from, when that is the source file of a zip on
    ``sys.path`` (Pyodide's standard library): ``(zipimporter, module name, file path)``.

    None wherever that import could take another file or would fail, or is done already: the
    module imported, ``_PYTHON_SYSCONFIGDATA_PATH`` set (3.14+ reads that folder's file), a
    finder other than the standard ones before the path's, a path entry not looked at yet or
    one holding the module in another form, a compiled file in the zip (zipimport takes it
    first), a package of that name.
    """
    import importlib.machinery
    import os
    import sys
    import sysconfig
    import zipimport

    name_of = getattr(sysconfig, "_get_sysconfigdata_name", None)
    if name_of is None or sys.platform != "emscripten" or os.environ.get("_PYTHON_SYSCONFIGDATA_PATH"):
        return None
    name = name_of()
    if name in sys.modules:
        return None
    # The path must be searched, and only the standard finders may stand before it.
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder:
            break
        if finder not in (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter):
            return None
    else:
        return None
    for entry in sys.path:
        if not isinstance(entry, str):
            continue  # as PathFinder does
        try:
            key = entry or os.getcwd()  # "" is the current folder, as for PathFinder
        except OSError:
            return None
        finder = sys.path_importer_cache.get(key)
        if type(finder) is not zipimport.zipimporter:
            if finder is None or finder.find_spec(name) is not None:  # type: ignore[union-attr]
                return None  # a path entry not looked at yet, or one that has it: importlib decides
            continue
        try:
            if finder.is_package(name):
                return None
        except zipimport.ZipImportError:
            continue  # not in this zip
        location = os.path.join(finder.archive, finder.prefix, name + ".py")
        if not os.path.isabs(location):
            return None  # the spec would make it absolute, zipimport's own does not
        try:
            finder.get_data(location + "c")
        except OSError:
            return finder, name, location  # no compiled file: is_package found the source
        return None  # zipimport takes the compiled file first, and names the module after it
    return None


def import_build_variables() -> None:
    """Import the interpreter's build variables (sysconfig's ``_sysconfigdata_*`` module),
    compiling their source once instead of twice.

    Pyodide's standard library is a zip of sources, and zipimport compiles a module's source
    to find its file name (``find_spec``, through ``get_filename``) and again to run it
    (CPython issue gh-141276, open). For the 49 kB of build variables that is 12-13 ms each
    time, at the first use of sysconfig in every page (Pyodide 314). Here the module is
    imported from that zip as importlib would import it (a spec with its location,
    ``exec_module``), compiled once. Wherever the regular import could take it from another
    place, or would fail, or is already done (:func:`_build_variables_file`), nothing is done
    here: sysconfig imports it when it first needs it, as before.
    """
    import importlib.util
    import sys

    where = _build_variables_file()
    if where is None:
        return
    finder, name, location = where
    spec = importlib.util.spec_from_file_location(name, location, loader=finder)
    if spec is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        finder.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise


# A build variable whose value the module's source spells as a plain string literal.
_PLAIN_STRING = re.compile(r"""'\s*:\s*'([^'\\\n]*)'\s*[,}]""")


def build_variables(names: tuple[str, ...]) -> dict[str, Any]:
    """``sysconfig.get_config_var(name)`` for each of ``names``.

    sysconfig runs the whole module of build variables to read any one of them, which in a
    page means compiling its source: 49 kB of f-strings in Pyodide 314, 9-11 ms at the first
    install of every page (even in one compile, :func:`import_build_variables`), for two
    short strings. So when sysconfig has not loaded them yet and the regular import would run
    the source file of a zip (:func:`_build_variables_file`), each name is read from that
    source: a name it does not hold is None, as sysconfig gives; a name it holds once, as the
    key of a plain string literal (``'NAME': 'value',``), is that value. Any other spelling
    (a second mention, which could assign it again; an f-string; a number) and any read
    error leave all of them to sysconfig.
    """
    import sysconfig

    source = build_variables_source()
    values = _plain_strings(source, names) if source is not None else None
    if values is not None:
        return values
    import_build_variables()
    return {name: sysconfig.get_config_var(name) for name in names}


def build_variables_source() -> str | None:
    """The source of the module of build variables sysconfig has yet to import, where its
    regular import would run the source file of a zip (:func:`_build_variables_file`), or
    None (imported already, another setup, or unreadable)."""
    where = _build_variables_file()
    if where is None:
        return None
    finder, _, location = where
    try:
        return finder.get_data(location).decode("utf-8")  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - OSError, ZipImportError, zlib.error, UnicodeDecodeError: sysconfig reads it
        return None


def _plain_strings(source: str, names: tuple[str, ...]) -> dict[str, str | None] | None:
    """Each of ``names`` read from the source of a module of build variables (see
    :func:`build_variables`), or None when any one is spelled otherwise than once as the key
    of a plain string literal after ``build_time_vars``."""
    values: dict[str, str | None] = {}
    start = source.find("build_time_vars")
    for name in names:
        count = source.count(name)
        if count == 0:
            values[name] = None
            continue
        at = source.find(f"'{name}")
        literal = None
        if count == 1 and 0 <= start < at and not (source[at - 1].isalnum() or source[at - 1] == "_"):
            literal = _PLAIN_STRING.match(source, at + 1 + len(name))  # after build_time_vars, not b'NAME'
        if literal is None:
            return None
        values[name] = literal.group(1)
    return values


def _python_version() -> str:
    """``platform.python_version()`` of the running CPython, read without the platform
    module's parser of ``sys.version``: compiling that regular expression took 1-3 ms in
    every page's first install (Pyodide 314). The same value: the leading run of letters,
    digits, ``_``, ``.`` and ``+`` of ``sys.version``, with ``.0`` added to a two-part one
    (:func:`_padded`, as platform does)."""
    import sys

    end = 0
    text = sys.version
    while end < len(text) and (text[end].isascii() and text[end].isalnum() or text[end] in "_.+"):
        end += 1
    return _padded(text[:end])


def _runtime_marker_environment() -> dict[str, str]:
    """packaging's ``default_environment()`` for the running interpreter, with the Python
    version from :func:`_python_version` (packaging asks the platform module, whose parser
    costs a page 1-3 ms). Other interpreters than CPython get packaging's own."""
    import os
    import platform
    import sys

    from packaging.markers import default_environment

    if sys.implementation.name != "cpython":
        return {key: str(value) for key, value in default_environment().items()}
    info = sys.implementation.version
    implementation = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        implementation += info.releaselevel[0] + str(info.serial)
    version = _python_version()
    uname = platform.uname()
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation,
        "os_name": os.name,
        "platform_machine": uname.machine,
        "platform_release": uname.release,
        "platform_system": uname.system,
        "platform_version": uname.version,
        "python_full_version": version,
        "platform_python_implementation": "CPython",
        "python_version": ".".join(version.split(".")[:2]),
        "sys_platform": sys.platform,
    }


def detect_inputs() -> RuntimeInputs:
    """Read the running interpreter (the one place that looks at ``sys``/``sysconfig``).

    Raises :class:`UnsupportedRuntimeError` on a non-Emscripten interpreter.
    """
    import sys

    if sys.platform != "emscripten":
        raise UnsupportedRuntimeError(
            f"this interpreter runs on {sys.platform!r}, not emscripten: pyemscripten installs into Pyodide in a "
            "browser; to lock for one from here, run `python -m pyemscripten lock REQUIREMENT --platform TAG`"
        )
    variables = build_variables(("PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION"))
    info = getattr(sys, "_emscripten_info", None)
    emscripten = ".".join(str(x) for x in info.emscripten_version) if info else None
    return RuntimeInputs(
        python_version=_python_version(),
        platform_version=variables["PYEMSCRIPTEN_PLATFORM_VERSION"],
        abi_version=variables["PYODIDE_ABI_VERSION"],
        emscripten_version=emscripten,
        marker_environment=_runtime_marker_environment(),
    )


def current_target() -> Target:
    """The target of the running runtime. Raises :class:`UnsupportedRuntimeError` off-browser."""
    return Target.from_inputs(detect_inputs())


def platform_tag() -> PlatformTag:
    """The running runtime's PEP 783 platform tag, e.g. ``pyemscripten_2026_0_wasm32``."""
    return platform_from_inputs(detect_inputs())


def compatible_tags_for_runtime() -> list[str]:
    """Every tag the running runtime accepts, best first."""
    return current_target().tag_strings
