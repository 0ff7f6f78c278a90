// The demo page: boot Python with the pyemscripten JS module, install what the person
// types with a progress bar and a log, run their code. `document.body.dataset.state` says
// where it is (booting, ready, installing, installed, running, ran, error) for tests.

import { installPackages, loadPyodideWithPackages, PyemscriptenError } from "../js/index.mjs";

const params = new URLSearchParams(location.search);
const runtime = params.get("runtime") ?? "314.0.7";
const $ = (id) => document.getElementById(id);
const ui = {
  requirements: $("requirements"), indexUrl: $("index-url"), install: $("install"),
  status: $("status"), bar: $("bar"), log: $("log"), code: $("code"), run: $("run"),
  output: $("output"), platform: $("platform"),
};
ui.indexUrl.value = params.get("index") ?? new URL("/simple/", location.href).href;

let pyodide;
let started = performance.now();

function setState(state) {
  document.body.dataset.state = state;
  const busy = state === "booting" || state === "installing" || state === "running";
  ui.install.disabled = busy || !pyodide;
  ui.run.disabled = busy || !pyodide;
}

function log(text, kind = "") {
  const line = document.createElement("span");
  line.className = kind;
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
  line.textContent = `${seconds}s  ${text}\n`;
  ui.log.append(line);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function setProgress(fraction, text, kind = "") {
  const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  ui.bar.style.width = `${percent}%`;
  ui.bar.className = kind;
  ui.bar.parentElement.setAttribute("aria-valuenow", String(percent));
  if (text) ui.status.textContent = text;
}

function size(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

// Turns the module's progress events into the bar, the status line and the log.
// Resolving fills the first 15%, downloads (bytes, per wheel) up to 85%, then installing
// and loading libraries; booting and bootstrapping count for the page's first load.
function tracker() {
  const files = new Map(); // package -> {done, total}
  let planned = 0;
  let pages = 0;
  return (event) => {
    const { stage, message } = event;
    if (stage === "booting") {
      setProgress(0.05, "Loading the Python runtime…");
      log(message);
    } else if (stage === "bootstrapping") {
      setProgress(0.6, "Installing pyemscripten…");
      log(message);
    } else if (stage === "resolving") {
      pages += 1;
      setProgress(0.15 * (1 - 1 / (pages + 1)), `Resolving… (${pages} project pages)`);
      if (!event.package) log(message);
    } else if (stage === "resolved") {
      planned = event.done ?? 0;
      setProgress(0.15, planned ? `Downloading ${planned} packages…` : "Nothing to download");
      log(message);
    } else if (stage === "downloading") {
      const before = files.get(event.package);
      files.set(event.package, { done: event.done ?? 0, total: event.total ?? 0 });
      let done = 0;
      let total = 0;
      let fraction = 0;
      for (const file of files.values()) {
        done += file.done;
        total += file.total;
        fraction += file.total ? file.done / file.total : 0;
      }
      const complete = [...files.values()].filter((f) => f.total && f.done === f.total).length;
      setProgress(0.15 + 0.7 * (fraction / Math.max(planned, files.size)),
        `Downloading ${complete}/${Math.max(planned, files.size)} packages — ${size(done)} of ${size(total)}`);
      if (event.total && event.done === event.total && !(before && before.done === before.total)) {
        // "from the cache" when no request was made
        log(event.message ? `${event.package} ${event.message} (${size(event.total)})` : `fetched ${event.package} (${size(event.total)})`);
      }
    } else if (stage === "installing") {
      setProgress(0.9, "Installing…");
      log(message);
    } else if (stage === "loading") {
      const { done = 0, total = 0 } = event;
      setProgress(0.9 + 0.1 * (total ? done / total : 0), `Loading shared libraries… ${done}/${total}`);
      if (!done) log(message);  // one line for the start, not one per library
    } else if (stage === "warning") {
      log(message, "warning");
    } else if (stage === "done") {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      setProgress(1, planned ? `Installed ${planned} package${planned === 1 ? "" : "s"} in ${seconds} s` : message, "done");
      log(message, "done");
    } else if (stage === "error") {
      setProgress(1, "Failed: see the log", "error");
      log(message, "error");
    } else if (stage === "ready") {
      setProgress(1, "Python is ready: choose packages and click Install", "done");
      log(message, "done");
    }
  };
}

function requirements() {
  return ui.requirements.value.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter(Boolean);
}

let platformShown = false;

function showPlatform() {
  ui.platform.textContent = pyodide.runPython("import pyemscripten; str(pyemscripten.platform_tag())");
  platformShown = true;
}

async function boot() {
  setState("booting");
  try {
    pyodide = await loadPyodideWithPackages({
      indexURL: new URL(`/runtimes/${runtime}/`, location.href).href,
      indexUrls: [ui.indexUrl.value],
      onProgress: tracker(),
    });
    showPlatform();
    setState("ready");
  } catch (error) {
    // The module told the failure as an "error" event, which the log shows. Once the runtime
    // booted, the error carries it: Install tries pyemscripten's own install again.
    if (error?.pyodide) pyodide = error.pyodide;
    setProgress(1, pyodide ? "pyemscripten did not install: see the log, then click Install to try again"
      : "The Python runtime did not load: see the log, then reload the page", "error");
    setState("error");
  }
}

async function install() {
  const wanted = requirements();
  if (!wanted.length) {
    ui.status.textContent = "Type at least one requirement";
    return;
  }
  started = performance.now();
  ui.log.textContent = "";
  setState("installing");
  try {
    await installPackages(pyodide, { requirements: wanted, indexUrls: [ui.indexUrl.value], onProgress: tracker() });
    if (!platformShown) showPlatform();  // pyemscripten itself was installed by this click (its boot failed)
    setState("installed");
  } catch (error) {
    // A PyemscriptenError was logged by its "error" event; anything else is a bug.
    if (!(error instanceof PyemscriptenError)) {
      log(String(error.message ?? error), "error");
      setProgress(1, "Failed: see the log", "error");
    }
    setState("error");
  }
}

async function run() {
  setState("running");
  ui.output.textContent = "";
  ui.output.className = "";
  const write = (text) => { ui.output.textContent += `${text}\n`; };
  pyodide.setStdout({ batched: write });
  pyodide.setStderr({ batched: write });
  try {
    const value = await pyodide.runPythonAsync(ui.code.value);
    if (value !== undefined) write(String(value));
    setState("ran");
  } catch (error) {
    ui.output.className = "error";
    write(String(error.message ?? error));
    setState("error");
  }
}

ui.install.addEventListener("click", install);
ui.run.addEventListener("click", run);
// The shortcuts do what the buttons do, and only when the buttons may be used (not while
// booting, installing or running).
ui.requirements.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !ui.install.disabled) install();
});
ui.code.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !ui.run.disabled) run();
});
boot();
