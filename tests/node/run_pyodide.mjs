// Boots a Pyodide runtime in Node, installs the bootstrap wheels (pyemscripten from the
// working tree, packaging, resolvelib) into its site-packages, and runs one Python file.
//
//   node run_pyodide.mjs RUNTIME_DIR BOOTSTRAP_DIR CODE_FILE
//
// The code's last expression must be a str (JSON): it is printed after RESULT_MARK on a
// line of its own. A Python exception prints its traceback to stderr and exits with 1.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const RESULT_MARK = "\u0000pyemscripten-node-result ";
const [runtime, bootstrap, codeFile] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(runtime, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: runtime });  // a path: as the npm package's users give it
pyodide.FS.mkdirTree("/tmp/bootstrap");
for (const name of readdirSync(bootstrap)) {
  pyodide.FS.writeFile(`/tmp/bootstrap/${name}`, readFileSync(join(bootstrap, name)));
}
pyodide.runPython(`
import glob, importlib, site, zipfile
for path in sorted(glob.glob("/tmp/bootstrap/*.whl")):
    with zipfile.ZipFile(path) as zf:
        zf.extractall(site.getsitepackages()[0])
importlib.invalidate_caches()
`);
try {
  const result = await pyodide.runPythonAsync(readFileSync(codeFile, "utf8"), { filename: codeFile });
  process.stdout.write(`\n${RESULT_MARK}${result}\n`);
} catch (error) {
  process.stderr.write(String(error) + "\n");
  process.exitCode = 1;
}
