"""Every error pyemscripten raises on purpose.

One base, :class:`PyemscriptenError`; each subclass keeps the facts (package, file, URL,
expected vs. got) on attributes and turns them into a message a person can act on in
``__str__``. Nothing here does I/O.

URLs are always shown through :func:`redact_url`: credentials in an index URL must never
reach a message or a log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Return ``url`` with any ``user:password@`` part replaced by ``***@``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


class PyemscriptenError(Exception):
    """Base of every error pyemscripten raises on purpose."""

    def __str__(self) -> str:  # subclasses override; keeps plain raises readable
        return super().__str__()


# --- platform and target -------------------------------------------------------------


class UnsupportedRuntimeError(PyemscriptenError):
    """The running interpreter is not a Pyodide/Emscripten runtime we can tag."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"Cannot compute a pyemscripten platform tag: {self.reason}"


# --- names and requirements ----------------------------------------------------------


class InvalidRequirementError(PyemscriptenError):
    """A requirement string given by the user (or found in metadata) does not parse."""

    def __init__(self, requirement: str, reason: str, source: str | None = None) -> None:
        super().__init__(requirement, reason)
        self.requirement = requirement
        self.reason = reason
        self.source = source

    def __str__(self) -> str:
        where = f" (in {self.source})" if self.source else ""
        return f"Invalid requirement {self.requirement!r}{where}: {self.reason}"


class InvalidWheelFilenameError(PyemscriptenError):
    """A wheel file name does not follow the wheel naming rules."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(filename, reason)
        self.filename = filename
        self.reason = reason

    def __str__(self) -> str:
        return f"Invalid wheel filename ({self.reason}): {self.filename!r}"


# --- index ---------------------------------------------------------------------------


class PackageIndexError(PyemscriptenError):
    """Base for problems with a package index."""


class IndexHTTPError(PackageIndexError):
    """The index answered with an HTTP error status."""

    def __init__(self, url: str, status: int, project: str | None = None, what: str = "page") -> None:
        super().__init__(url, status)
        self.url = url
        self.status = status
        self.project = project
        self.what = what

    @property
    def transient(self) -> bool:
        return self.status in (408, 425, 429, 500, 502, 503, 504)

    def __str__(self) -> str:
        about = f" for {self.project!r}" if self.project else ""
        return f"The index answered HTTP {self.status}{about} when fetching the {self.what} {redact_url(self.url)}"


class NetworkError(PackageIndexError):
    """The connection failed (reset, refused, timed out) before a full answer came."""

    def __init__(self, url: str, reason: str, project: str | None = None) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason
        self.project = project

    transient = True

    def __str__(self) -> str:
        about = f" for {self.project!r}" if self.project else ""
        return f"Network error{about} fetching {redact_url(self.url)}: {self.reason}"


class IndexFormatError(PackageIndexError):
    """An index page (PEP 691 JSON or PEP 503 HTML) could not be understood."""

    def __init__(self, url: str, reason: str, project: str | None = None) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason
        self.project = project

    def __str__(self) -> str:
        about = f" for {self.project!r}" if self.project else ""
        return f"Cannot parse the index page{about} at {redact_url(self.url)}: {self.reason}"


class ProjectNotFoundError(PackageIndexError):
    """No configured index knows the project."""

    def __init__(self, project: str, index_urls: Sequence[str]) -> None:
        super().__init__(project)
        self.project = project
        self.index_urls = list(index_urls)

    def __str__(self) -> str:
        where = ", ".join(redact_url(u) for u in self.index_urls) or "no index"
        return (
            f"No index has a project named {self.project!r} (looked in: {where}). "
            "Check the spelling, or pass the index that hosts it with index_urls=[...]."
        )


class MissingHashError(PackageIndexError):
    """The index gives no hash for a file and the user did not allow unhashed files."""

    def __init__(self, project: str, filename: str, url: str) -> None:
        super().__init__(project, filename)
        self.project = project
        self.filename = filename
        self.url = url

    def __str__(self) -> str:
        return (
            f"The index gives no sha256 for {self.filename} ({self.project}) at {redact_url(self.url)}; "
            "refusing to install an unverifiable file. Pass allow_unhashed=True to accept it."
        )


# --- metadata ------------------------------------------------------------------------


class MetadataError(PyemscriptenError):
    """A distribution's core metadata is missing, unparseable or inconsistent."""

    def __init__(self, project: str, filename: str, reason: str) -> None:
        super().__init__(project, filename, reason)
        self.project = project
        self.filename = filename
        self.reason = reason

    def __str__(self) -> str:
        return f"Bad metadata in {self.filename} ({self.project}): {self.reason}"


# --- resolution ----------------------------------------------------------------------


class ResolutionError(PyemscriptenError):
    """Base for failures to find a set of packages."""


class NoCompatibleWheelError(ResolutionError):
    """A project has files, but none that this runtime can install."""

    def __init__(
        self,
        project: str,
        needed_tags: Sequence[str],
        offered_tags: Iterable[str],
        python_version: str,
        reasons: Sequence[str] = (),
    ) -> None:
        super().__init__(project)
        self.project = project
        self.needed_tags = list(needed_tags)
        self.offered_tags = sorted(set(offered_tags))
        self.python_version = python_version
        self.reasons = list(reasons)

    def __str__(self) -> str:
        platform = next((t for t in self.needed_tags if "emscripten" in t or "pyodide" in t), None)
        needs = platform or (self.needed_tags[0] if self.needed_tags else "?")
        offered = ", ".join(self.offered_tags[:12]) or "no wheels at all (only sources?)"
        more = f" and {len(self.offered_tags) - 12} more" if len(self.offered_tags) > 12 else ""
        lines = [
            f"No wheel of {self.project!r} fits this runtime (Python {self.python_version}, "
            f"platform {needs}).",
            f"  Wheels on offer are for: {offered}{more}.",
            f"  This runtime needs a pure-Python wheel (py3-none-any) or one tagged {needs}.",
        ]
        lines += [f"  {r}" for r in self.reasons]
        return "\n".join(lines)


class ResolutionImpossibleError(ResolutionError):
    """The requirements conflict; ``chains`` explains who asked for what."""

    def __init__(self, conflicts: Sequence[str], chains: Sequence[str]) -> None:
        super().__init__(conflicts)
        self.conflicts = list(conflicts)
        self.chains = list(chains)

    def __str__(self) -> str:
        lines = ["Cannot find versions that satisfy every requirement:"]
        lines += [f"  {c}" for c in self.chains] or [f"  {c}" for c in self.conflicts]
        return "\n".join(lines)


class ResolutionTooDeepError(ResolutionError):
    """The resolver gave up after too many rounds."""

    def __init__(self, rounds: int) -> None:
        super().__init__(rounds)
        self.rounds = rounds

    def __str__(self) -> str:
        return f"Resolution gave up after {self.rounds} rounds; add constraints to narrow the search."


class MultipleNoCompatibleWheelsError(ResolutionError):
    """``keep_going``: every package that has no compatible wheel, at once."""

    def __init__(self, errors: Sequence[NoCompatibleWheelError]) -> None:
        super().__init__(errors)
        self.errors = list(errors)

    def __str__(self) -> str:
        names = ", ".join(e.project for e in self.errors)
        return f"{len(self.errors)} packages have no compatible wheel: {names}\n" + "\n".join(
            str(e) for e in self.errors
        )


# --- downloads -----------------------------------------------------------------------


class DownloadError(PyemscriptenError):
    """Base for failures while fetching a file."""


class HashMismatchError(DownloadError):
    """The bytes fetched do not hash to what the index or lock promised."""

    def __init__(self, filename: str, url: str, algorithm: str, expected: str, got: str, project: str | None = None) -> None:
        super().__init__(filename, expected, got)
        self.filename = filename
        self.url = url
        self.algorithm = algorithm
        self.expected = expected
        self.got = got
        self.project = project

    def __str__(self) -> str:
        about = f" ({self.project})" if self.project else ""
        return (
            f"Hash mismatch for {self.filename}{about} from {redact_url(self.url)}: "
            f"expected {self.algorithm}={self.expected}, got {self.got}. "
            "The file may be corrupt or tampered with; nothing was installed."
        )


class SizeMismatchError(DownloadError):
    """The body was shorter or longer than announced (a truncated download)."""

    def __init__(self, filename: str, url: str, expected: int, got: int, project: str | None = None) -> None:
        super().__init__(filename, expected, got)
        self.filename = filename
        self.url = url
        self.expected = expected
        self.got = got
        self.project = project

    def __str__(self) -> str:
        about = f" ({self.project})" if self.project else ""
        return (
            f"Incomplete download of {self.filename}{about} from {redact_url(self.url)}: "
            f"expected {self.expected} bytes, got {self.got}; nothing was installed."
        )


# --- wheels and installation ---------------------------------------------------------


class WheelError(PyemscriptenError):
    """A wheel archive is unsafe or inconsistent; nothing from it is installed."""

    def __init__(self, filename: str, reason: str, member: str | None = None) -> None:
        super().__init__(filename, reason)
        self.filename = filename
        self.reason = reason
        self.member = member

    def __str__(self) -> str:
        where = f" (member {self.member!r})" if self.member else ""
        return f"Refusing to install {self.filename}{where}: {self.reason}"


class RecordError(WheelError):
    """RECORD is missing, malformed, or does not match the archive."""


class UnsafePathError(WheelError):
    """An archive member would be written outside the install target."""


class InstallError(PyemscriptenError):
    """Committing files into site-packages failed; what was there is restored."""

    def __init__(self, project: str, reason: str) -> None:
        super().__init__(project, reason)
        self.project = project
        self.reason = reason

    def __str__(self) -> str:
        return f"Could not install {self.project}: {self.reason}"


class UninstallError(InstallError):
    """Removing an installed distribution was refused or failed; nothing was removed."""

    def __str__(self) -> str:
        return f"Could not uninstall {self.project}: {self.reason}"


class NotInstalledError(PyemscriptenError):
    """``uninstall`` was asked for a distribution that is not installed."""

    def __init__(self, project: str) -> None:
        super().__init__(project)
        self.project = project

    def __str__(self) -> str:
        return f"{self.project!r} is not installed."


# --- shared libraries ----------------------------------------------------------------


class DylinkError(PyemscriptenError):
    """A WebAssembly side module's ``dylink.0`` section is malformed."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(filename, reason)
        self.filename = filename
        self.reason = reason

    def __str__(self) -> str:
        return f"Malformed WebAssembly side module {self.filename}: {self.reason}"


class LibraryNotFoundError(PyemscriptenError):
    """A NEEDED library could not be found anywhere the platform says to look."""

    def __init__(self, module: str, library: str, searched: Sequence[str], project: str | None = None) -> None:
        super().__init__(module, library)
        self.module = module
        self.library = library
        self.searched = list(searched)
        self.project = project

    def __str__(self) -> str:
        about = f" (from {self.project})" if self.project else ""
        where = "\n".join(f"    {s}" for s in self.searched) or "    (nowhere)"
        return (
            f"{self.module}{about} needs {self.library}, which was not found. Searched:\n{where}\n"
            "  The wheel is probably missing a vendored library; nothing was installed."
        )


class LibraryLoadError(PyemscriptenError):
    """The runtime's loader refused a library."""

    def __init__(self, library: str, reason: str, project: str | None = None) -> None:
        super().__init__(library, reason)
        self.library = library
        self.reason = reason
        self.project = project

    def __str__(self) -> str:
        about = f" (from {self.project})" if self.project else ""
        return f"Loading {self.library}{about} failed: {self.reason}"


# --- lock files ----------------------------------------------------------------------


class LockError(PyemscriptenError):
    """A pylock.toml cannot be used: unparseable, unknown version, or for another platform."""

    def __init__(self, reason: str, source: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = source

    def __str__(self) -> str:
        where = f" {self.source}" if self.source else ""
        return f"Cannot use lock file{where}: {self.reason}"
