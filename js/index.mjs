// pyemscripten for web apps: boot Pyodide, install pyemscripten into it from the wheels
// this package carries (no index needed), then install requirements or a PEP 751 lock.
//
//   import { loadPyodideWithPackages } from "pyemscripten";
//   const pyodide = await loadPyodideWithPackages({
//     indexURL: "https://example.org/pyodide/314.0.7/",   // where the runtime lives
//     requirements: ["rich"],                              // or lockfile: "pylock.toml"
//     indexUrls: ["https://pypi.org/simple/"],
//     onProgress: (event) => console.log(event.stage, event),
//   });
//
// Python code in that instance can then `await pyemscripten_install("pkg")` (a builtin).

const MANIFEST_VERSION = 1;
const BOOTSTRAP_DIR = "/tmp/pyemscripten-bootstrap";
const JAVASCRIPT = Symbol.for("pyemscripten.javascript");  // pyemscripten.browser.js_function reads it

// The Python side of each instance this module bootstraps: a promise of its WebInstaller
// proxy, so that calls made at once share one bootstrap (they wrote the same files).
const installers = new WeakMap();

// The files a bootstrap installs from (the same for every instance), by the wheels' URL
// ("" for the manifest's own): fetched once, and by loadPyodideWithPackages while the
// runtime boots, not after it.
const bootstrapFiles = new Map();

/**
 * A pyemscripten error raised in Python; `type` is its class name (e.g. "HashMismatchError"),
 * `details` its facts (e.g. `project`, `url`, `offered_tags`), as the Python error has them.
 */
export class PyemscriptenError extends Error {
  constructor(type, message, details = {}) {
    super(message);
    this.name = "PyemscriptenError";
    this.type = type;
    this.details = details;
  }
}

const INSTALL_OPTIONS = ["requirements", "indexUrls", "lockfile", "lockExtras", "lockGroups", "onProgress", "wheelsURL"];
const BOOTSTRAP_OPTIONS = ["indexUrls", "onProgress", "wheelsURL"];
const MIXUPS = ["indexUrl", "indexURLs", "index_urls", "lockFile"];
// What loadPyodideWithPackages takes itself; any other option goes to loadPyodide, unless
// it is one of these misspelled (`requirement`, `onprogress`): refused, not passed on unread.
const LOAD_OPTIONS = [...INSTALL_OPTIONS, "indexURL", "loadPyodide"];

/**
 * Boot Pyodide from `indexURL`, install pyemscripten into it, then install `lockfile` (a
 * pylock.toml's URL, relative to the page, or its text) and/or `requirements`. Options other
 * than the ones below go to `loadPyodide` (e.g. `lockFileURL`, `stdout`). Returns the Pyodide
 * instance; an error after the boot carries it as `error.pyodide`.
 */
export async function loadPyodideWithPackages(options = {}) {
  if (options === null || typeof options !== "object") {
    throw new TypeError("loadPyodideWithPackages: options must be an object, such as { indexURL, requirements }");
  }
  const {
    indexURL, requirements, indexUrls, lockfile, lockExtras, lockGroups, onProgress, wheelsURL,
    loadPyodide: givenLoader, ...pyodideOptions
  } = options;
  const emit = emitter(onProgress);
  let pyodide;
  try {
    for (const typo of MIXUPS) {
      if (typo in options) {
        throw new TypeError(`loadPyodideWithPackages: unknown option ${typo}; indexURL is where the Pyodide runtime ` +
          "lives, indexUrls the package indexes, lockfile a pylock.toml's URL or text");
      }
    }
    for (const name of Object.keys(pyodideOptions)) {
      const meant = closest(name, LOAD_OPTIONS);
      if (meant) {
        throw new TypeError(`loadPyodideWithPackages: unknown option ${name}; did you mean ${meant}? (options it ` +
          `does not take itself go to loadPyodide)`);
      }
    }
    checkTypes("loadPyodideWithPackages", options);
    if (indexURL != null && typeof indexURL !== "string" && !(indexURL instanceof URL)) {
      throw new TypeError("loadPyodideWithPackages: indexURL must be the URL (a string or a URL) of the folder of " +
                          "the Pyodide runtime's pyodide.mjs");
    }
    if (givenLoader != null && typeof givenLoader !== "function") {
      throw new TypeError("loadPyodideWithPackages: loadPyodide must be a function (Pyodide's loadPyodide)");
    }
    if (!indexURL && !givenLoader) {
      throw new TypeError("loadPyodideWithPackages: indexURL (where the Pyodide runtime lives) is required");
    }
    emit({ stage: "booting", message: "Loading the Python runtime" });
    fetchBootstrapFiles(wheelsURL).catch(() => {});  // now, beside the runtime's own downloads; bootstrap() says a failure
    const runtimeURL = indexURL ? withSlash(absolute(indexURL)) : undefined;
    // Left to the browser: a bundler must not try to take in the runtime.
    const loadPyodide = givenLoader ?? (await import(/* @vite-ignore */ /* webpackIgnore: true */
                                                     `${runtimeURL}pyodide.mjs`)).loadPyodide;
    const booted = await loadPyodide(runtimeURL ? { ...pyodideOptions, indexURL: runtimeURL } : pyodideOptions);
    checkPyodide("loadPyodideWithPackages: what loadPyodide resolved to", booted);
    pyodide = booted;
    await bootstrapped(pyodide, { indexUrls, onProgress, wheelsURL }, emit);
    if (requirements?.length || lockfile) {
      await installPackages(pyodide, { requirements, indexUrls, lockfile, lockExtras, lockGroups, onProgress });
    }
    emit({ stage: "ready", message: "Python is ready" });
    return pyodide;
  } catch (error) {
    tellError(emit, error);
    // The instance booted: what was installed before the failure stays in it, and a page
    // can go on with it (error.pyodide) instead of booting again.
    if (pyodide && error && typeof error === "object") error.pyodide = pyodide;
    throw error;
  }
}

/**
 * Install into an instance: `lockfile` first (no resolution), then `requirements`, in one
 * install turn (no other install into the instance runs between the two: one started
 * meanwhile waits for both). Bootstraps pyemscripten into the instance if this module has
 * not yet. Resolves to `{installed, already, message}`; rejects with a PyemscriptenError (its
 * `type` names the Python class) when an install fails, which leaves site-packages as it was
 * before that install: with both, the lock and the requirements are two installs, and when
 * the requirements fail, what the lock installed stays.
 */
export async function installPackages(pyodide, options = {}) {
  const emit = emitter(options?.onProgress);
  try {
    refuseUnknown("installPackages", options, INSTALL_OPTIONS, (name) => (MIXUPS.includes(name)
      ? " (indexUrls: the package indexes; lockfile: a pylock.toml's URL or text)" : ""));
    checkTypes("installPackages", options ?? {});
    checkPyodide("installPackages", pyodide);
    const { requirements, indexUrls, lockfile, lockExtras, lockGroups, onProgress, wheelsURL } = options ?? {};
    const installer = await bootstrapped(pyodide, { indexUrls, onProgress, wheelsURL }, emit);
    const list = (value) => (typeof value === "string" ? [value] : value);
    // Python says an install's failure itself, as an "error" event to onProgress: also one
    // that is no Exception (a KeyboardInterrupt, a cancellation), which rejects this call
    // with the PythonError it became, and which tellError then said a second time.
    let told = false;
    const heard = typeof onProgress === "function"
      ? (event) => { if (event?.stage === "error") told = true; return onProgress(event); } : undefined;
    let result;
    try {
      // The lock's URL (Python resolves it against the page, as fetch does) or its text.
      result = await installer.install(list(requirements) ?? undefined, indexUrls ?? undefined,
        lockfile || undefined, heard, list(lockExtras) ?? undefined, list(lockGroups) ?? undefined);
    } catch (error) {
      if (told && Object(error) === error) toldErrors.add(error);
      throw error;
    }
    if (!result.ok) throw new PyemscriptenError(result.type, result.message, result.details ?? {});
    return { installed: result.installed, already: result.already, message: result.message };
  } catch (error) {
    tellError(emit, error);
    throw error;
  }
}

// The errors an "error" event has said: a call's listener hears one per failure, also when a
// call of this module's own (loadPyodideWithPackages' installPackages) said it first.
const toldErrors = new WeakSet();

// An "error" event for `error`, unless one said it: a PyemscriptenError was said where it
// arose (bootstrapped(), or the Python install's own events).
function tellError(emit, error) {
  if (error instanceof PyemscriptenError || (Object(error) === error && toldErrors.has(error))) return;
  if (Object(error) === error) toldErrors.add(error);
  emit({ stage: "error", message: String(error?.message ?? error) });
}

// The install options' types, checked before anything starts (Python would fail on them
// later, and less clearly).
function checkTypes(caller, { requirements, indexUrls, lockfile, lockExtras, lockGroups, onProgress, wheelsURL }) {
  const texts = (value) => typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"));
  const wrong = requirements != null && !texts(requirements) ? "requirements must be a string or an array of strings"
    : indexUrls != null && !texts(indexUrls) ? "indexUrls must be a string or an array of strings"
    : lockfile != null && typeof lockfile !== "string" ? "lockfile must be a pylock.toml's URL or text (a string)"
    : lockExtras != null && !texts(lockExtras) ? "lockExtras must be a string or an array of strings"
    : lockGroups != null && !texts(lockGroups) ? "lockGroups must be a string or an array of strings"
    : (lockExtras != null || lockGroups != null) && !lockfile ? "lockExtras and lockGroups choose from a lockfile: give one"
    : onProgress != null && typeof onProgress !== "function" ? "onProgress must be a function"
    : wheelsURL != null && !validWheelsURL(wheelsURL)
      ? "wheelsURL must be the URL (a string or a URL) of the folder where the package's js/wheels/ files are " +
        "served, without a query or fragment, absolute or relative to the page" : null;
  if (wrong) throw new TypeError(`${caller}: ${wrong}`);
}

function validWheelsURL(value) {
  if (typeof value !== "string" && !(value instanceof URL)) return false;
  try {
    const url = new URL(value, globalThis.location?.href);
    return !url.search && !url.hash;
  } catch {
    return false;
  }
}

// bootstrap(), with a failure said as an "error" event and rejected as a PyemscriptenError
// of type "BootstrapError" (what installPackages rejects with), its cause kept.
async function bootstrapped(pyodide, options, emit) {
  try {
    return await bootstrapShared(pyodide, options);
  } catch (error) {
    const message = `pyemscripten could not be installed into this Pyodide: ${error?.message ?? error}`;
    emit({ stage: "error", message });
    const failure = new PyemscriptenError("BootstrapError", message, {});
    failure.cause = error;
    throw failure;
  }
}

// An option the function does not take is refused, not ignored: with the one it takes that
// is spelled most like it, and the list.
function refuseUnknown(where, options, allowed, note) {
  for (const name of Object.keys(options ?? {})) {
    if (allowed.includes(name)) continue;
    const meant = closest(name, allowed);
    throw new TypeError(`${where}: unknown option ${name}; ` + (meant ? `did you mean ${meant}? ` : "") +
      `the options are ${allowed.join(", ")}${note(name)}`);
  }
}

// Which of `options` the name `name` misspells (the same but for case, or one or two
// letters off), the closest first; undefined when none.
function closest(name, options) {
  let best;
  let bestDistance = 3;
  for (const ours of options) {
    if (name === ours) return undefined;
    const distance = name.toLowerCase() === ours.toLowerCase() ? 0 : editDistance(name, ours);
    if (distance < bestDistance) [best, bestDistance] = [ours, distance];
  }
  return best;
}

function editDistance(a, b) {
  if (Math.abs(a.length - b.length) > 2) return 3;  // more than a near miss
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * Install pyemscripten, packaging and resolvelib from this package's wheels (each checked
 * against the manifest's sha256) and define the `pyemscripten_install` builtin. Idempotent.
 * `indexUrls` and `onProgress` become the defaults of `pyemscripten_install`. `wheelsURL`:
 * where the package's `js/wheels/` folder is served, for a bundler that does not copy the
 * wheels itself (default: beside `wheels/manifest.mjs`, wherever the bundler put them).
 */
export async function bootstrap(pyodide, options = {}) {
  const emit = emitter(options?.onProgress);
  try {
    refuseUnknown("bootstrap", options, BOOTSTRAP_OPTIONS, () => " (installPackages installs requirements)");
    checkTypes("bootstrap", options ?? {});
    checkPyodide("bootstrap", pyodide);
  } catch (error) {
    tellError(emit, error);  // the listener is known: it hears how the call ended, as for a later failure
    throw error;
  }
  await bootstrapped(pyodide, options ?? {}, emit);
}

// One bootstrap per instance, shared by the calls made while it runs; a failed one is
// forgotten, so that a later call tries again.
function bootstrapShared(pyodide, { indexUrls, onProgress, wheelsURL }) {
  if (!installers.has(pyodide)) {
    const started = bootstrapOnce(pyodide, indexUrls, onProgress, wheelsURL);
    installers.set(pyodide, started);
    started.catch(() => installers.delete(pyodide));  // a failed bootstrap may be tried again
  }
  return installers.get(pyodide);
}

async function bootstrapOnce(pyodide, indexUrls, onProgress, wheelsURL) {
  const emit = emitter(onProgress);
  emit({ stage: "bootstrapping", message: "Installing pyemscripten" });
  const { source, files, javascript } = await fetchBootstrapFiles(wheelsURL);
  // pyemscripten's JavaScript, as this package's module code: Python takes it from here
  // instead of evaluating its text (which a Content Security Policy without 'unsafe-eval'
  // forbids). By the digest of the text, so that another version's never stands in.
  Object.assign(globalThis[JAVASCRIPT] ??= {}, javascript);
  pyodide.FS.mkdirTree(BOOTSTRAP_DIR);
  const wheels = files.map(({ file, url, sha256, body }) => {
    const path = `${BOOTSTRAP_DIR}/${file}`;
    pyodide.FS.writeFile(path, body);  // a copy: the bytes stay for another instance
    return { file, url, sha256, path };
  });
  const namespace = pyodide.globals.get("dict")();
  const proxies = [namespace];
  const take = (proxy) => (proxies.push(proxy), proxy);
  try {
    pyodide.runPython(source, { globals: namespace, filename: "pyemscripten/js/bootstrap.py" });
    take(namespace.get("bootstrap"))(take(pyodide.toPy(wheels)));
    const installer = take(namespace.get("WebInstaller"))(indexUrls ?? undefined, onProgress ?? undefined);
    installer.expose();
    return installer;
  } finally {
    for (const proxy of proxies) proxy.destroy();
    for (const { path } of wheels) pyodide.FS.unlink(path);
  }
}

// bootstrap.py's source and the wheels wheels/manifest.mjs names, with their bytes (checked
// against the manifest's sha256 in Python), from the manifest's URLs or from `wheelsURL`. A
// failed fetch is forgotten, so that a later call tries again.
function fetchBootstrapFiles(wheelsURL) {
  const base = wheelsURL == null || wheelsURL === "" ? "" : withSlash(absolute(wheelsURL));
  if (!bootstrapFiles.has(base)) {
    const files = (async () => {
      let manifest;
      try {
        // A static specifier: a bundler takes the module in, and copies the wheels its
        // new URL(..., import.meta.url) name.
        manifest = await import("./wheels/manifest.mjs");
      } catch (error) {
        throw new Error(`pyemscripten: could not load its wheels/manifest.mjs (${error?.message ?? error}): ` +
                        "check the connection and try again; served without a bundler, the package's js/ folder " +
                        "must be served whole, as npm pack makes it (its wheels/ are built then)", { cause: error });
      }
      if (manifest.manifestVersion !== MANIFEST_VERSION) {
        throw new Error(`pyemscripten: wheels/manifest.mjs has manifest-version ${manifest.manifestVersion}, expected ${MANIFEST_VERSION}`);
      }
      const bodies = await Promise.all(manifest.wheels.map(async (wheel) => {
        const url = base ? new URL(wheel.file, base).href : wheel.url;
        const body = await fetchOk(url, wheel.file, base, async (r) => {
          const bytes = new Uint8Array(await r.arrayBuffer());
          if (bytes.length !== wheel.size || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {  // "PK": a zip archive
            throw new NotTheFile(`${bytes.length} bytes${bytes[0] === 0x3c ? ", beginning with <" : ""}; ` +
                                 `the wheel is a zip archive of ${wheel.size} bytes`);
          }
          return bytes;
        });
        return { file: wheel.file, url, sha256: wheel.sha256, body };
      }));
      return { source: manifest.bootstrapSource, files: bodies, javascript: manifest.javascript ?? {} };
    })();
    bootstrapFiles.set(base, files);
    files.catch(() => bootstrapFiles.delete(base));
  }
  return bootstrapFiles.get(base);
}

// What this module needs of a Pyodide instance, checked before anything starts.
function checkPyodide(caller, pyodide) {
  if (pyodide === null || typeof pyodide !== "object" || !pyodide.FS || typeof pyodide.runPython !== "function") {
    const what = caller.includes(":") ? caller : `${caller}: the first argument`;
    throw new TypeError(`${what} must be a Pyodide instance (what loadPyodide resolves to)`);
  }
}

function emitter(onProgress) {
  return (event) => {
    if (typeof onProgress !== "function") return;  // a wrong one is refused by checkTypes
    try {
      onProgress(event);
    } catch (error) {  // a display's bug must not fail the boot or an install that worked
      console.error("pyemscripten: the onProgress callback threw:", error);
    }
  };
}

// A file that is not the one the package has (such as an HTML page a server answers for a
// file it does not have).
class NotTheFile extends Error {}

// One of the npm package's wheels, `file`, read by `read`: a failure names the file and
// what to check ("Failed to fetch" alone says neither). `base`: the wheelsURL given, or "".
async function fetchOk(url, file, base, read) {
  const beside = base
    ? `wheelsURL (${base}) must serve the npm package's js/wheels/ folder (${file} is one of its files)`
    : `the package's wheel ${file} must be served at that URL: the package's js/ folder served whole, or the ` +
      "files a bundler copied; a bundler that does not copy the files new URL(..., import.meta.url) names " +
      "(esbuild) leaves it out: copy node_modules/pyemscripten/js/wheels/ to your site and give that folder's " +
      "URL as wheelsURL (with Vite 7 or older, its dev server needs optimizeDeps: { exclude: [\"pyemscripten\"] })";
  const unreachable = (error) => new Error(
    `pyemscripten: could not fetch ${url} (${error?.message ?? error}): ` +
    (String(url).startsWith("file:")
      ? "this runtime reads no file: URL (Node reads them from version 20.16 or 22.3 on, a browser never): serve " +
        "the package's js/wheels/ folder over http(s) and give that folder's URL as wheelsURL"
      : "check the connection"), { cause: error });
  let response;
  try {
    response = await fetchOrRead(url);
  } catch (error) {
    throw unreachable(error);
  }
  if (!response.ok) {
    response.body?.cancel();
    const missing = response.status === 404 || response.status === 410;
    throw new Error(`pyemscripten: ${url} answered HTTP ${response.status}: ` +
                    (missing ? beside : "the server is failing for now: try again later"));
  }
  try {
    return await read(response);
  } catch (error) {
    if (error instanceof NotTheFile) {
      throw new Error(`pyemscripten: ${url} is not the file the package has (${error.message}): ${beside}`,
                      { cause: error });
    }
    throw unreachable(error);
  }
}

// Node's fetch (undici) reads no file: URL, and in Node this module's own wheels are files
// beside it: Node's file system reads them (a missing one answers as a 404 would).
// process.getBuiltinModule (Node 20.16, 22.3 and later) and no import("node:fs"), which a
// bundler packing this module for a page would try to resolve.
async function fetchOrRead(url) {
  const files = String(url).startsWith("file:") && globalThis.process?.getBuiltinModule?.("node:fs/promises");
  if (!files) return fetch(url);
  try {
    return new Response(await files.readFile(new URL(url)));
  } catch (error) {
    if (error?.code === "ENOENT" || error?.code === "ENOTDIR") return new Response(null, { status: 404 });
    throw error;
  }
}

function absolute(url) {
  const base = globalThis.location?.href;
  return base ? new URL(url, base).href : String(url);
}

function withSlash(url) {
  return url.endsWith("/") ? url : `${url}/`;
}
