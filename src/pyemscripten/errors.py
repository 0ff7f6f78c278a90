"""Every error pyemscripten raises on purpose.

One base, :class:`PyemscriptenError`; each subclass keeps the facts (package, file, URL,
expected vs. got) on attributes and turns them into a message a person can act on in
``__str__``. Nothing here does I/O.

URLs are always shown through :func:`redact_url`: credentials in an index URL must never
reach a message or a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .credentials import SCHEME_PATTERN, is_file_url, split_credentials


def redact_url(url: str) -> str:
    """Return ``url`` as messages show it: any ``user:password@`` part replaced by ``***@``,
    and the value of each query parameter by ``***`` (a presigned URL's signature or token).

    Never raises: it runs inside ``__str__``, also for URLs that do not parse (bad port).
    """
    bare, credentials = split_credentials(url)
    if credentials is not None:
        authority = bare.index("//") + 2
        bare = f"{bare[:authority]}***@{bare[authority:]}"
    return _masked_query(bare)


def _masked_query(url: str) -> str:
    head, question, rest = url.partition("?")
    if not question:
        return url
    query, hashmark, fragment = rest.partition("#")  # the fragment (#sha256=...) is no secret
    masked = (f"{name}=***" if equals else ("***" if name else "")
              for name, equals, _ in (part.partition("=") for part in query.split("&")))
    return f"{head}?{'&'.join(masked)}{hashmark}{fragment}"


def redact_location(text: str) -> str:
    """``text``, a URL or one written without its scheme (``user:token@host/simple/``), as
    messages show it: a ``user:password@`` masked either way, and query values
    (:func:`redact_url`).

    Whatever comes before a ``:/`` counts as a scheme here, also one that is none: a location
    is what a user typed, and ``1https://user:token@host/`` or ``https:/user:token@host/`` is
    a mistyped URL (an argument's error quotes it), with a token in it all the same."""
    return redact_url(re.sub(r"^([^/@\s]*:/+)?[^/@\s]*@", lambda m: f"{m.group(1) or ''}***@", text))


_URL_IN_TEXT = re.compile(rf"{SCHEME_PATTERN}://[^\s'\"]+")
_USERINFO_IN_TEXT = re.compile(rf"({SCHEME_PATTERN}://)[^/\s@]+@")


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`): a requirement such as
    ``pkg @ https://user:token@host/pkg.whl`` goes into messages and progress lines."""
    # The userinfo first, whatever it holds (a ' is allowed in it, and ends a URL below).
    text = _USERINFO_IN_TEXT.sub(lambda m: f"{m.group(1)}***@", text)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def listed(items: list[str], limit: int) -> str:
    """The first ``limit`` of ``items``, comma-separated, and how many more there are."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def shown(text: str) -> str:
    """``text`` (a path, an argument) as one line of a message shows it: itself where every
    character is printable, else its ``repr``: a newline in it split the error over two lines
    as if the rest were another message, and a NUL or an escape sequence garbles a terminal."""
    return text if text.isprintable() else repr(text)


class PyemscriptenError(Exception):
    """Base of every error pyemscripten raises on purpose."""

    def __str__(self) -> str:  # subclasses override; keeps plain raises readable
        return super().__str__()


# --- platform and target -------------------------------------------------------------


@dataclass(eq=False)
class UnsupportedRuntimeError(PyemscriptenError):
    """The running interpreter is not a Pyodide/Emscripten runtime we can tag."""

    reason: str

    def __str__(self) -> str:
        return f"Cannot compute a pyemscripten platform tag: {self.reason}"


@dataclass(eq=False)
class NotInABrowserError(PyemscriptenError):
    """An install natively, with a seam only a browser's Pyodide fills left unset."""

    seam: str  # the Session field left unset (transport)
    platform: str  # sys.platform

    def __str__(self) -> str:
        return (f"Cannot install here: this interpreter runs on {self.platform!r}, not emscripten, and the session "
                f"has no {self.seam}, which only a browser's Pyodide provides. pyemscripten installs into Pyodide; "
                "to resolve for one from here, lock: `python -m pyemscripten lock REQUIREMENT --platform TAG`")


@dataclass(eq=False)
class NoSitePackagesError(PyemscriptenError):
    """:func:`list_installed` or :func:`freeze` natively, with no ``Session(scheme=...)``:
    their default is the running interpreter's own site-packages, which off Pyodide is the
    host's (pip's, not pyemscripten's), as :func:`uninstall` refuses it too."""

    function: str  # list_installed, freeze
    platform: str  # sys.platform
    seam: str = "scheme"  # the Session field left unset (scheme; target, for freeze)

    def __str__(self) -> str:
        given = ("Session(scheme=..., target=...): the site-packages to read and the runtime the lock is for"
                 if self.seam == "target" else "Session(scheme=...) to say which site-packages to read")
        return (f"Cannot {self.function}() here: this interpreter runs on {self.platform!r}, not emscripten, and the "
                f"session has no {self.seam}. {self.function}() reads Pyodide's site-packages in a browser, and "
                f"here would read this interpreter's own (pip list shows those); give {given}")


@dataclass(eq=False)
class ContentSecurityPolicyError(PyemscriptenError):
    """The page's Content Security Policy forbids evaluating JavaScript, and pyemscripten
    was not started through its npm package (which brings that JavaScript as module code)."""

    reason: str  # the browser's words
    npm_copy: bool = False  # the npm package brought its copy, of another pyemscripten's JavaScript

    def __str__(self) -> str:
        said = ("This page's Content Security Policy does not let pyemscripten evaluate its JavaScript (the "
                "policy allows no 'unsafe-eval'; Pyodide itself needs only 'wasm-unsafe-eval')")
        if self.npm_copy:
            return (f"{said}, and the npm package that started it brought another version's copy of that "
                    "JavaScript (pyemscripten was installed again after the bootstrap, or the package's "
                    f"wheels/manifest.mjs is from another build): use the npm package's own pyemscripten, or allow "
                    f"'unsafe-eval' ({self.reason})")
        return (f"{said}: start pyemscripten through its npm package (loadPyodideWithPackages, installPackages "
                f"or bootstrap), which brings that JavaScript as module code, or allow 'unsafe-eval' ({self.reason})")


# --- names and requirements ----------------------------------------------------------


@dataclass(eq=False)
class InvalidRequirementError(PyemscriptenError):
    """A requirement string given by the user (or found in metadata) does not parse."""

    requirement: str
    reason: str
    source: str | None = None

    def __str__(self) -> str:
        where = f" (in {self.source})" if self.source else ""
        reason = self.reason
        if not self.requirement.isprintable():
            # packaging's reason shows the text again under a caret line, which a newline in it
            # breaks apart; the requirement is quoted above, and the first line says what is wrong.
            reason = reason.partition("\n")[0]
        text = f"Invalid requirement {redact_text(self.requirement)!r}{where}: {redact_text(reason)}"
        parts = [p for p in re.split(r"[\s,]+", self.requirement) if p]
        if self.source is None and len(parts) == 2 and _NAME.fullmatch(parts[0]) and _VERSION.fullmatch(parts[1]):
            text += f"\nFor a version, write {parts[0]}=={parts[1]}."  # "numpy 1.26"
        elif self.source is None and len(parts) > 1 and all(_NAME.fullmatch(p) for p in parts):
            items = ", ".join(repr(p) for p in parts)
            text += f"\nGive one requirement per item: [{items}]."
        return text


# A project name (starting with a letter, not a file's name), its extras and one specifier.
_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?<!\.whl)(?<!\.zip)(?<!\.gz)"
                   r"(?:\[[A-Za-z0-9._,-]*\])?(?:[<>=!~]=?[A-Za-z0-9.*+!-]+)?")
_VERSION = re.compile(r"v?\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)?")


@dataclass(eq=False)
class InvalidWheelFilenameError(PyemscriptenError):
    """A wheel file name does not follow the wheel naming rules."""

    filename: str
    reason: str

    def __str__(self) -> str:
        return f"Invalid wheel filename ({self.reason}): {self.filename!r}"


# --- index ---------------------------------------------------------------------------


class PackageIndexError(PyemscriptenError):
    """Base for problems with a package index."""


@dataclass(eq=False)
class IndexHTTPError(PackageIndexError):
    """The index answered with an HTTP error status."""

    url: str
    status: int
    project: str | None = None
    what: str = "page"

    @property
    def transient(self) -> bool:
        return self.status in (408, 425, 429, 500, 502, 503, 504)

    def __str__(self) -> str:
        about = f" for {self.project!r}" if self.project else ""
        local = is_file_url(self.url)  # a local index (lock --index-url FOLDER, Node), or name @ file:
        if self.status == 403 and local:
            advice = "this process may not read that file: check its permissions"
        elif self.status in (401, 403):
            advice = "check the credentials (https://user:token@host/...) the URL needs"
        elif self.status == 404 and local:
            advice = ("no such file: check the path (a wheel named as name @ file:///...), or, in a local index's "
                      "folder, put the file back or write the index's pages again with `python -m pyemscripten index "
                      "-o FOLDER` (no wheels named: it lists those left)")
        elif self.status in (404, 410):
            advice = "check the URL"
        elif self.transient:
            advice = "the server is failing for now: try again later"
        else:
            advice = "check the URL and the server"
        return f"HTTP {self.status}{about} fetching the {self.what} {redact_url(self.url)}: {advice}."


@dataclass(eq=False)
class NetworkError(PackageIndexError):
    """The connection failed (reset, refused, timed out) before a full answer came."""

    url: str
    reason: str
    project: str | None = None
    # Why the browser refused, where the page could tell:
    # - "cors": the server answered, but the browser did not let this page (origin ``page``)
    #   read the answer; "cors preflight" when the request carried an Authorization header
    #   (the browser asks with OPTIONS first). Tried once more: an error page without the
    #   header (a 503 while the server restarts) looks the same (index_client.get_ok).
    # - "mixed content": an http URL of another machine from a page served over https; not
    #   tried again (the browser never sends it).
    # - "file": a file: URL in a page, whose fetch reads none, or in a Node older than 20.16
    #   / 22.3 (a reason starting "Node"; a newer one reads them: browser.FetchTransport); not
    #   tried again.
    refused_by: str | None = None
    page: str | None = None
    native: bool = False  # made by the native transport: no browser, so no CORS to check

    @property
    def transient(self) -> bool:
        return not self._bad_url and self.refused_by not in ("mixed content", "file")

    @property
    def _bad_url(self) -> bool:
        return self.reason.startswith(("only http", "not a URL"))

    @property
    def why(self) -> str:
        """The reason, with what the page could tell of it (for a try made again)."""
        if self.refused_by and self.refused_by.startswith("cors"):
            return f"{self.reason}: the browser did not let this page read the answer, CORS"
        if self.refused_by == "mixed content":
            return f"{self.reason}: an http URL from an https page, mixed content"
        return self.reason

    def __str__(self) -> str:
        about = f" for {self.project!r}" if self.project else ""
        head = f"Network error{about} fetching {redact_url(self.url)}: {self.reason}."
        here = f" ({self.page})" if self.page else ""
        origin = f" (or {self.page})" if self.page and self.page.startswith(("http://", "https://")) else ""
        cors = f" The server answered, but the browser did not let this page{here} read the answer (CORS)."
        one_origin = "or serve the page and what it installs from one origin."
        if self.refused_by == "cors":
            return (f"{head}{cors} Have the server, and any server it redirects to, send "
                    f"Access-Control-Allow-Origin: *{origin} with every answer, error pages included (a proxy on "
                    f"the way may drop it); {one_origin}")
        if self.refused_by == "cors preflight":
            return (f"{head}{cors} The request carried credentials (an Authorization header), so the browser "
                    "first asks with OPTIONS: the server must answer that with a 2xx status, without asking for "
                    f"credentials, with Access-Control-Allow-Origin: *{origin} and Access-Control-Allow-Headers: "
                    "Authorization (* does not cover it), and send Access-Control-Allow-Origin with every answer "
                    f"after it; {one_origin}")
        if self.refused_by == "mixed content":
            return (f"{head} This page{here} is served over https, and the browser blocks its requests to http "
                    "URLs of other machines (mixed content). Use the index's https URL (an index whose pages "
                    "name http files needs https ones).")
        if self.refused_by == "file" and self.reason.startswith("Node"):  # a Node older than 20.16 / 22.3
            return (f"{head} Node reads file: URLs from version 20.16 (or 22.3) on: run a newer Node, or serve the "
                    "file over http(s) (e.g. python -m http.server, from a folder that holds it) and give its URL.")
        if self.refused_by == "file":
            return (f"{head} A page cannot read the files of this machine: serve it over http(s) (e.g. python -m "
                    "http.server, from a folder that holds it) and give its http(s) URL.")
        if self._bad_url:
            advice = "check the URL (an index URL looks like https://pypi.org/simple/)"
        elif self.native:
            advice = "check the connection and the URL's host; then try again"
        else:
            advice = ("check the connection (in a browser, also that a server on another origin allows "
                      "cross-origin requests: CORS); then try again")
        return f"Network error{about} fetching {redact_url(self.url)}: {self.reason}. {advice[0].upper()}{advice[1:]}."


@dataclass(eq=False)
class IndexFormatError(PackageIndexError):
    """An index page (PEP 691 JSON or PEP 503 HTML) could not be understood."""

    url: str
    reason: str
    project: str | None = None

    def __str__(self) -> str:
        if self.project == "runtime distribution":
            return (f"Cannot read the runtime's pyodide-lock.json at {redact_url(self.url)}: {self.reason}. "
                    "Check the distribution's URL (distribution_url in Python, --distribution for lock), or "
                    "do without it (distribution_url=\"\").")
        about = f" for {self.project!r}" if self.project else ""
        return (f"Cannot parse the index page{about} at {redact_url(self.url)}: {self.reason}. Check that the "
                "index URL is a PEP 503/691 simple index (such as https://pypi.org/simple/).")


@dataclass(eq=False)
class ProjectNotFoundError(PackageIndexError):
    """No configured index knows the project."""

    project: str
    index_urls: list[str]
    # Index URLs whose own page links wheel files: folders of wheels, not indexes (found
    # once resolution failed for want of the project: resolution.resolve).
    wheel_folders: list[str] = field(default_factory=list)
    # What needs it, where resolution reached it as a dependency ("requests[socks] 2.34.2").
    needed_by: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.index_urls = list(self.index_urls)

    def __str__(self) -> str:
        from .index_client import project_url  # (index_client raises this error)

        pages = [redact_location(project_url(u, self.project)) for u in self.index_urls]
        if self.wheel_folders:
            folders = ", ".join(redact_url(u) for u in self.wheel_folders)
            above = redact_url(self.wheel_folders[0].rstrip("/").rsplit("/", 1)[0] + "/")
            return (
                f"No index has a project named {self.project!r} (asked for: {', '.join(pages)}). {folders} "
                "lists wheel files: a folder of wheels, or one project's page, not a package index, which has a "
                f"page for each project. If it is a project's page, give the index's own URL (the folder above: "
                f"{above}); else install the wheels by their URLs (each ending in #sha256=<hex digest>), or make "
                "the folder an index (the README's \"Your own wheels\" says how)."
            )
        # "pypi.org/simple/": a host written without its scheme (not "/simple/" or "./simple/",
        # which mean the page's own server).
        hosts = [u for u in self.index_urls if "://" not in u and not u.startswith((".", "/"))
                 and "." in u.split("/", 1)[0]]
        shown = redact_location(hosts[0]) if hosts else ""
        scheme = (f" {shown} has no http:// or https://: in a page it is taken relative to the page's own URL "
                  f"(write https://{shown} for that host)." if hosts else "")
        where = "index_urls=[...] in Python, indexUrls in JavaScript, --index-url for lock"
        if self.needed_by:  # a dependency: its name is not the user's to spell
            return (
                f"No index has a project named {self.project!r}, which {listed(self.needed_by, 3)} "
                f"need{'s' if len(self.needed_by) == 1 else ''} (asked for: {', '.join(pages) or 'no index'}).{scheme} "
                f"Name the index that hosts it ({where}), or leave out what needs it (an extra, or a version that "
                "does not)."
            )
        return (
            f"No index has a project named {self.project!r} (asked for: {', '.join(pages) or 'no index'}).{scheme} "
            f"Check the spelling, or name the index that hosts it ({where})."
        )


@dataclass(eq=False)
class MissingHashError(PackageIndexError):
    """The index gives no hash for a file and the user did not allow unhashed files."""

    project: str
    filename: str
    url: str

    def __str__(self) -> str:
        return (
            f"No sha256 (or stronger) hash is given for {self.filename} ({self.project}) at "
            f"{redact_url(self.url)}; refusing to install an unverifiable file. Give its hash (for a wheel "
            "named by its URL: #sha256=<hex digest> at the end of the URL), or accept it with Python's "
            "install(..., allow_unhashed=True)."
        )


# --- metadata ------------------------------------------------------------------------


@dataclass(eq=False)
class MetadataError(PyemscriptenError):
    """A distribution's core metadata is missing, unparseable or inconsistent."""

    project: str
    filename: str
    reason: str
    #: What to do, where the metadata is not broken but says "not here" (Requires-Python).
    advice: str | None = None

    def __str__(self) -> str:
        advice = self.advice or f"pin another version of {self.project}, or report it to its maintainers"
        return f"Bad metadata in {self.filename} ({self.project}): {self.reason.rstrip('.')}. {advice[0].upper()}{advice[1:]}."


# --- resolution ----------------------------------------------------------------------


class ResolutionError(PyemscriptenError):
    """Base for failures to find a set of packages."""


@dataclass(eq=False)
class NoCompatibleWheelError(ResolutionError):
    """A project has files, but none that this runtime can install (in any version)."""

    project: str
    needed_tags: list[str]
    offered_tags: list[str]
    python_version: str
    reasons: list[str] = field(default_factory=list)
    needed_by: list[str] = field(default_factory=list)  # what needs it, where known: "flask 3.1.0", or "flask"
    python_excluded: bool = False  # wheels with fitting tags exist, but their Requires-Python excludes this Python
    url: str | None = None  # the one wheel the user named by its URL
    page_url: str | None = None  # the project's page on the index that has it
    no_files: bool = False  # that page lists no file at all (no sdist either)

    def __post_init__(self) -> None:
        self.offered_tags = list(dict.fromkeys(self.offered_tags))  # in the order given: the most telling first

    def __str__(self) -> str:
        platform = next((t for t in self.needed_tags if "emscripten" in t or "pyodide" in t), None)
        needs = platform or (self.needed_tags[0] if self.needed_tags else "?")
        cp = "cp" + "".join(self.python_version.split(".")[:2])
        lines = [f"No wheel of {self.project!r} fits this runtime (Python {self.python_version}, platform {needs})."]
        if self.needed_by:
            lines.append(f"  It is needed by {listed(self.needed_by, 4)}.")
        if self.python_excluded:
            lines.append(f"  Wheels with fitting tags exist, but their Requires-Python excludes Python "
                         f"{self.python_version}.")
        if self.url is not None:
            lines.append(f"  The wheel named by its URL, {redact_url(self.url)}, is for: {listed(self.offered_tags, 12)}.")
        elif self.no_files:
            lines.append(f"  Its page {redact_url(self.page_url or '')} lists no files at all.")
        else:
            lines.append(f"  Wheels on offer are for: {listed(self.offered_tags, 12)}." if self.offered_tags
                         else "  Only source distributions are on offer, no wheels.")
            if self.page_url:
                lines.append(f"  (The index's page for it: {redact_url(self.page_url)}.)")
        if not self.python_excluded:
            lines.append(f"  This runtime needs a pure-Python wheel (py3-none-any) or one for CPython {cp} (or abi3) "
                         f"tagged {needs}.")
        lines += [f"  {r}" for r in self.reasons]
        if self.url is not None:
            advice = (f"Give the URL of a wheel built for this runtime (or a pure-Python one), or name {self.project} "
                      "without a URL to take it from the indexes")
        elif self.python_excluded:
            advice = (f"Use a runtime whose Python these versions accept, or ask the maintainers of {self.project} "
                      f"for a release for Python {self.python_version}")
        elif self.no_files:
            advice = ("Check that the index URL names a simple index (such as https://pypi.org/simple/; in a page, an "
                      "index URL without https:// is taken relative to the page, whose server may answer any path)")
        elif not self.offered_tags:
            advice = (f"If {self.project} is pure Python, build its wheel from the source distribution (pip wheel "
                      f"{self.project} --no-deps -w dist/) and install it from an index of your own (README: \"Your "
                      "own wheels\"); or ask its maintainers to publish a wheel")
        else:
            advice = f"No version of {self.project} has one: ask its maintainers for a {needs} build"
        lines.append(f"  {advice}.")
        return "\n".join(lines)


@dataclass(eq=False)
class ResolutionImpossibleError(ResolutionError):
    """The requirements conflict; ``chains`` explains who asked for what."""

    conflicts: list[str]
    chains: list[str]
    #: projects in the conflict with versions the requirements allow whose wheels are all for
    #: other platforms (a runtime's own distribution may have a build of them)
    elsewhere: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conflicts = list(self.conflicts)
        self.chains = list(self.chains)

    def __str__(self) -> str:
        lines = ["Cannot find versions that satisfy every requirement:"]
        lines += [f"  {c}" for c in self.chains] or [f"  {c}" for c in self.conflicts]
        lines.append("  Loosen or change one of these requirements (or constraints), or pin other versions.")
        return "\n".join(lines)


@dataclass(eq=False)
class ResolutionTooDeepError(ResolutionError):
    """The resolver gave up after too many rounds."""

    rounds: int
    without_wheels: list[str] = field(default_factory=list)  # "ormsgpack (needed by langgraph-checkpoint)"

    def __str__(self) -> str:
        text = (f"Resolution gave up after {self.rounds} rounds; narrow the search: pin versions in the "
                "requirements (e.g. 'name==1.2'), or give constraints (install(..., constraints=[...]) in Python, "
                "-c for lock).")
        if self.without_wheels:
            text += ("\n  It reached projects with no wheel for this runtime, which it may have been looking for a way "
                     f"around: {', '.join(self.without_wheels)}. Pin versions of the projects that need them which "
                     "do not, or ask for builds of them for this runtime.")
        return text


@dataclass(eq=False)
class MultipleNoCompatibleWheelsError(ResolutionError):
    """``keep_going``: every package that has no compatible wheel, at once."""

    errors: list[NoCompatibleWheelError]
    note: str = ""  # how resolution came to stop, when it gave up walking back (resolution.resolve)

    def __post_init__(self) -> None:
        self.errors = list(self.errors)

    def __str__(self) -> str:
        names = ", ".join(e.project for e in self.errors)
        note = f"\n  {self.note}" if self.note else ""
        return f"{len(self.errors)} packages have no compatible wheel: {names}{note}\n" + "\n".join(
            str(e) for e in self.errors
        )


# --- downloads -----------------------------------------------------------------------


class DownloadError(PyemscriptenError):
    """Base for failures while fetching a file."""


@dataclass(eq=False)
class HashMismatchError(DownloadError):
    """The bytes fetched do not hash to what the index, a lock or a URL's ``#sha256=`` promised."""

    filename: str
    url: str
    algorithm: str
    expected: str
    got: str
    project: str | None = None

    def __str__(self) -> str:
        about = f" ({self.project})" if self.project else ""
        return (
            f"Hash mismatch for {self.filename}{about} from {redact_url(self.url)}: "
            f"expected {self.algorithm}={self.expected}, got {self.algorithm}={self.got}; nothing was installed. "
            "The file may be corrupt or tampered with: try again. If it keeps happening, the file changed "
            "after its hash was recorded: by the index (report it to the index's maintainers), in a lock "
            "(lock again only if you trust the new file), or in the #sha256= of a URL given for it (check "
            "that hash)."
        )


@dataclass(eq=False)
class SizeMismatchError(DownloadError):
    """The body was shorter or longer than announced (a truncated download)."""

    filename: str
    url: str
    expected: int
    got: int
    project: str | None = None

    def __str__(self) -> str:
        about = f" ({self.project})" if self.project else ""
        if self.got < self.expected:
            return (
                f"Incomplete download of {self.filename}{about} from {redact_url(self.url)}: "
                f"expected {self.expected} bytes, got {self.got}; nothing was installed. "
                "Try again; if it keeps happening, the connection or a proxy cuts it short."
            )
        return (
            f"Download of {self.filename}{about} from {redact_url(self.url)} is longer than announced: "
            f"expected {self.expected} bytes, got {self.got}; nothing was installed. "
            "The index (or lock) gives a size that does not match the file: report it to its maintainers."
        )


@dataclass(eq=False)
class DistributionFileError(DownloadError):
    """A wheel resolution took from the runtime's own distribution could not be fetched (a
    runtime served without its packages: npm's ``pyodide`` holds only the core)."""

    project: str
    version: str
    why: str  # why the distribution's wheel was taken: the index failed, or has no fitting one
    lock_url: str | None  # the distribution's pyodide-lock.json
    reason: str  # the fetch's own error
    needed_by: list[str] = field(default_factory=list)  # what needs it: "attrs 25.4.0"

    def __str__(self) -> str:
        where = f" ({redact_url(self.lock_url)})" if self.lock_url else ""
        needed = f" (needed by {listed(self.needed_by, 4)})" if self.needed_by else ""
        return (
            f"{self.project} {self.version}{needed} was to come from the runtime's distribution{where}, because "
            f"{self.why}; but its wheel is not there: {redact_text(self.reason)}\n"
            "Serve the full Pyodide distribution where the runtime looks for its packages (beside pyodide-lock.json, "
            "or at its packageBaseUrl; the npm package pyodide holds only the core), or load the runtime from its "
            "CDN; or give an index that has a wheel of the project for this runtime."
        )


# --- wheels and installation ---------------------------------------------------------


@dataclass(eq=False)
class WheelError(PyemscriptenError):
    """A wheel archive is unsafe or inconsistent; nothing from it is installed."""

    filename: str
    reason: str
    member: str | None = None

    def __str__(self) -> str:
        where = f" (member {self.member!r})" if self.member else ""
        return (f"Refusing to install {self.filename}{where}: {self.reason}. Nothing was installed: pin "
                "another version, or report the broken wheel to its maintainers.")


class RecordError(WheelError):
    """RECORD is missing, malformed, or does not match the archive."""


class UnsafePathError(WheelError):
    """An archive member would be written outside the install target."""


@dataclass(eq=False)
class InstallError(PyemscriptenError):
    """Committing files into site-packages failed; what was there is restored."""

    project: str
    reason: str

    def __str__(self) -> str:
        return f"Could not install {self.project}: {self.reason}"


class UninstallError(InstallError):
    """Removing an installed distribution was refused or failed; nothing was removed."""

    def __str__(self) -> str:
        return f"Could not uninstall {self.project}: {self.reason}"


@dataclass(eq=False)
class NotInstalledError(PyemscriptenError):
    """``uninstall`` was asked for a distribution that is not installed."""

    project: str
    close: tuple[str, ...] = ()  # installed names like it

    def __str__(self) -> str:
        like = f" Did you mean {' or '.join(repr(c) for c in self.close)}?" if self.close else ""
        return (f"{self.project!r} is not installed: nothing was uninstalled.{like} pyemscripten.list_installed() "
                "shows what is.")


# --- shared libraries ----------------------------------------------------------------


@dataclass(eq=False)
class DylinkError(PyemscriptenError):
    """A WebAssembly side module's ``dylink.0`` section is malformed (or one this runtime's
    loader refuses)."""

    filename: str
    reason: str
    project: str | None = None  # the project whose wheel brought it, where known

    def __str__(self) -> str:
        if self.project is None:
            return f"Malformed WebAssembly side module {self.filename}: {self.reason}"
        return (f"Malformed WebAssembly side module {self.filename} (from {self.project}): {self.reason.rstrip('.')}. Nothing was "
                f"installed: the library was not built for this runtime's loader; pin another version of "
                f"{self.project}, or report it to its maintainers.")


@dataclass(eq=False)
class LibraryNotFoundError(PyemscriptenError):
    """A NEEDED library could not be found anywhere the platform says to look."""

    module: str
    library: str
    searched: list[str]
    project: str | None = None
    note: str | None = None  # why the runtime looks nowhere else, where that needs saying

    def __post_init__(self) -> None:
        self.searched = list(self.searched)

    def __str__(self) -> str:
        about = f" (from {self.project})" if self.project else ""
        shown = self.searched[:12] + ([f"... and {len(self.searched) - 12} more places"] if len(self.searched) > 12 else [])
        where = "\n".join(f"    {s}" for s in shown) or "    (nowhere)"
        note = f"  {self.note}\n" if self.note else ""
        return (
            f"{self.module}{about} needs {self.library}, which was not found. Searched:\n{where}\n{note}"
            "  Nothing was installed. Either the wheel lacks a library it should vendor, or the library\n"
            "  is there but not where the module's RUNTIME_PATH (or, on 2024_0, the .libs folders) says,\n"
            "  or it comes from another package: install that one first, or report it to the wheel's\n"
            "  maintainers."
        )


@dataclass(eq=False)
class LibraryLoadError(PyemscriptenError):
    """The runtime's loader refused a library."""

    library: str
    reason: str
    project: str | None = None

    def __str__(self) -> str:
        about = f" (from {self.project})" if self.project else ""
        return (f"Loading {self.library}{about} failed: {self.reason.rstrip('.')}. The install was rolled back, "
                "but libraries the page loaded before this one stay in memory: reload the page before trying "
                "again, and report it to the package's maintainers if it happens again.")


@dataclass(eq=False)
class LibraryNeedsEvalError(LibraryLoadError):
    """A library carries JavaScript (Emscripten's EM_JS or EM_ASM), which the runtime's
    loader evaluates from text, and the page's Content Security Policy forbids that."""

    def __str__(self) -> str:
        about = f" (from {self.project})" if self.project else ""
        build = f"a build of {self.project}" if self.project else "a build of it"
        said = self.reason.strip().rstrip(".")
        if said.count('"') % 2:  # the browser's quotes around the policy, the first lost on the way
            said = said.rstrip('"')
        return (f"Loading {self.library}{about} failed: the library has JavaScript built in (Emscripten's EM_JS or "
                "EM_ASM), which the runtime's loader evaluates from text, and this page's Content Security Policy "
                f"allows no 'unsafe-eval' ({said}). Allow 'unsafe-eval' in the policy's "
                f"script-src, or use {build} without EM_JS and EM_ASM. The install was rolled back, but libraries "
                "the page loaded before this one stay in memory: reload the page before trying again.")


# --- an index of your own ------------------------------------------------------------


@dataclass(eq=False)
class IndexWriteError(PyemscriptenError):
    """``python -m pyemscripten index`` cannot add a file to the index, or write it."""

    path: str
    reason: str
    writing: bool = False  # failed while writing: some of the index may be written

    def __str__(self) -> str:
        outcome = ("Each file is whole, but pages may not list the wheels yet: run the command again once this "
                   "is fixed" if self.writing else "Nothing was written")
        return f"Cannot index {shown(self.path)}: {self.reason}. {outcome}."


# --- lock files ----------------------------------------------------------------------


@dataclass(eq=False)
class LockError(PyemscriptenError):
    """A pylock.toml cannot be used: unparseable, unknown version, or for another platform."""

    reason: str
    source: str | None = None
    writing: bool = False  # the lock command refused to write one

    def __str__(self) -> str:
        if self.writing:
            return f"Cannot write a lock: {self.reason}"
        where = " given as text" if self.source == "(text)" else f" {redact_url(self.source)}" if self.source else ""
        return f"Cannot use the lock file{where}: {self.reason}"
