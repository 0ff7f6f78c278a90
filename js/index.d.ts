// Types of the pyemscripten JS module (js/index.mjs).

/** The stage of an install, in order; `booting`, `bootstrapping` and `ready` come from JS. */
export type ProgressStage =
  | "booting" // loading the Pyodide runtime
  | "bootstrapping" // installing pyemscripten itself from this package's wheels
  | "resolving" // resolution started (`message`), then one per project page (`package`)
  | "resolved" // the plan: `done` packages to install of `total` (`message` names them and their wheels' size)
  | "downloading" // bytes `done` of `total` of one wheel (`package`); `message` "from the cache" when no request was made, or "try 2 of 4" when a try made again after a transient failure starts over at `done` 0
  | "unpacking" // a wheel was verified and is being unpacked (`package`)
  | "installing" // committing into site-packages
  | "loading" // loading `total` shared libraries: `done` 0 first, then one event per library instantiated (`package`: its project)
  | "warning" // what resolution says (a requirement left out by its marker, a version passed over, a missing extra, a project taken from the runtime's distribution because the index failed), a yanked file is installed, an installed distribution the new versions break, a replaced project the page had imported, a request is tried again (`package`), a `.so` that is not WebAssembly is left unloaded, or a library the page had loaded before keeps its old copy (`message`)
  | "done" // an install finished (`message` says what was installed)
  | "error" // an install, or loadPyodideWithPackages' boot, failed, or a call was refused (an option of the wrong type): one per failure (`message`); site-packages is as it was
  | "ready" // loadPyodideWithPackages finished
  | "cache-warning"; // after an install's `done` (or `error`, or `ready`): the wheel cache, writing in the background once the install was over, could not keep some of its wheels for the site's storage quota (`message`); the install is not affected

export interface ProgressEvent {
  stage: ProgressStage;
  package?: string;
  done?: number;
  total?: number;
  /** What happened, in words ("" where an event has none of its own). */
  message: string;
}

/** ProgressEvent under a name the DOM's own ProgressEvent type does not shadow. */
export type InstallProgressEvent = ProgressEvent;

export type ProgressCallback = (event: ProgressEvent) => void;

/** A Pyodide instance as this module sees it (what it needs, and runPythonAsync, which
 * loadPyodideWithPackages' callers use); PyodideAPI from "pyodide" fits. */
export interface PyodideLike {
  FS: any;
  globals: any;
  runPython(code: string, options?: any): any;
  runPythonAsync(code: string, options?: any): Promise<any>;
  toPy(value: any, options?: any): any;
}

export interface InstallOptions {
  /** PEP 508 requirements, e.g. `["rich", "pydantic>=2"]`. */
  requirements?: string | string[];
  /** Simple-index base URLs; a project comes from the first that has it. Default: those the
   * instance was bootstrapped with (loadPyodideWithPackages' or the first installPackages'),
   * else PyPI. */
  indexUrls?: string | string[];
  /** A PEP 751 pylock.toml: its URL (relative to the page; in Node, an http(s) or `file:` URL)
   * or its text. Installed first, without resolution. With `requirements` too, the two are two
   * installs in one turn (no other install into the instance runs between them): if the
   * requirements then fail, what the lock installed stays. */
  lockfile?: string;
  /** The lockfile's extras to install (PEP 751's `extras`; default: none). */
  lockExtras?: string | string[];
  /** The lockfile's dependency groups to install (default: the lock's `default-groups`). */
  lockGroups?: string | string[];
  /** This call's progress (installPackages sends nothing to another call's callback; with
   * none, progress lines go to the Pyodide console). */
  onProgress?: ProgressCallback;
  /** Where the package's `js/wheels/` folder is served, for the bootstrap (the first call on
   * an instance). Default: beside `wheels/manifest.mjs`, which is where the package's folder
   * served whole, Vite, webpack 5 and other bundlers that copy the files
   * `new URL(..., import.meta.url)` names put them. Give it for a bundler that does not
   * (esbuild), after copying that folder to your site. In Node (20.16, 22.3 or later) the
   * default is read from the file system; an older Node reads no `file:` URL: give that
   * folder served over http(s). */
  wheelsURL?: string | URL;
}

export interface LoadOptions<T extends PyodideLike = PyodideLike> extends InstallOptions {
  /** Where the Pyodide runtime lives (the folder of pyodide.mjs), as for `loadPyodide`;
   * required unless `loadPyodide` is given. */
  indexURL?: string | URL;
  /** `loadPyodide` to use instead of importing `${indexURL}pyodide.mjs`. */
  loadPyodide?: (options: any) => Promise<T>;
  /** Likely mix-ups of `indexURL`/`indexUrls`/`lockfile`: refused. */
  indexUrl?: never;
  indexURLs?: never;
  index_urls?: never;
  lockFile?: never;
  /** Anything else is passed to `loadPyodide` (e.g. `lockFileURL`, `stdout`), except an
   * option one or two letters (or only case) away from one of the above, such as
   * `requirement` or `onprogress`: refused with a TypeError. */
  [pyodideOption: string]: unknown;
}

export interface InstalledPackage {
  name: string;
  version: string;
}

export interface InstallResult {
  /** Newly installed distributions. */
  installed: InstalledPackage[];
  /** Requested or needed, and already satisfied by what was installed. */
  already: InstalledPackage[];
  /** e.g. "Installed rich-15.0.0, pygments-2.21.0". */
  message: string;
}

/** One error among those an error gathers (`details.errors` of MultipleNoCompatibleWheelsError). */
export interface PyemscriptenErrorInfo {
  type: string;
  message: string;
  details: PyemscriptenErrorDetails;
}

export type PyemscriptenErrorDetails =
  Record<string, string | number | boolean | null | string[] | PyemscriptenErrorInfo[]>;

/**
 * An install failed; `type` is the Python class, e.g. "HashMismatchError", "LockError", or
 * "BootstrapError" when pyemscripten itself could not be installed into the instance (the
 * JavaScript error as `cause`). Another Python exception (a bug) comes as its class name,
 * e.g. "RuntimeError", with `details.traceback`.
 */
export declare class PyemscriptenError extends Error {
  readonly type: string;
  /** The Python error's facts that are text, numbers, lists of text or of gathered errors, by
   * their Python names: e.g. `project`, `url`, `filename`, `needed_tags`, `offered_tags`,
   * `needed_by`, `errors` (URLs redacted). */
  readonly details: PyemscriptenErrorDetails;
  /** Set by loadPyodideWithPackages when Pyodide booted before the failure: the instance,
   * with whatever was installed before it. */
  pyodide?: PyodideLike;
  constructor(type: string, message: string, details?: PyemscriptenErrorDetails);
}

/**
 * Boot Pyodide, install pyemscripten into it (no index needed), then install `lockfile`
 * and/or `requirements`. Python code in the instance gets a `pyemscripten_install` builtin
 * whose defaults are `indexUrls` and `onProgress`. Resolves to the Pyodide instance. If
 * anything fails after Pyodide booted (the bootstrap, an install), the error carries the
 * instance as `error.pyodide`, with what was installed before the failure (a lock, with
 * `requirements`).
 */
export declare function loadPyodideWithPackages<T extends PyodideLike = PyodideLike>(
  options: LoadOptions<T>,
): Promise<T>;

/**
 * Install into an instance (bootstrapping pyemscripten first if needed: the first call's
 * `indexUrls` and `onProgress` become `pyemscripten_install`'s defaults). Unknown options
 * are refused with a TypeError. Rejects with a PyemscriptenError (after an "error" event)
 * when the bootstrap or an install fails, leaving site-packages as it was before that
 * install (with `lockfile` and `requirements`, what the lock installed stays when the
 * requirements fail). Installs into one instance take turns: one started while another runs
 * waits for it, and for both halves of a call with `lockfile` and `requirements`.
 */
export declare function installPackages(pyodide: PyodideLike, options?: InstallOptions): Promise<InstallResult>;

/**
 * Install pyemscripten into an instance and define `pyemscripten_install` (whose defaults
 * become `indexUrls` and `onProgress`); idempotent, and calls made at once share one
 * bootstrap. Unknown options are refused with a TypeError; a failure rejects with a
 * PyemscriptenError of type "BootstrapError" (after an "error" event), and a later call
 * tries again.
 */
export declare function bootstrap(
  pyodide: PyodideLike,
  options?: { indexUrls?: string | string[]; onProgress?: ProgressCallback; wheelsURL?: string | URL },
): Promise<void>;
