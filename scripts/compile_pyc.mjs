// Compile the Python sources of a pure wheel into bytecode with a Pyodide runtime, in Node:
// a zip of `__pycache__/*.<cache tag>.pyc` files (checked-hash pycs, PEP 552: Python checks
// each against its source's hash, so an edited source is compiled again, never shadowed).
// Used by scripts/build_js.py. Usage: node scripts/compile_pyc.mjs RUNTIME_DIR WHEEL OUT_ZIP
import fs from "node:fs";
import path from "node:path";

const [runtime, wheel, out] = process.argv.slice(2);
const { loadPyodide } = await import(path.resolve(runtime, "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.resolve(runtime) + "/" });
pyodide.FS.writeFile("/in.whl", fs.readFileSync(wheel));
let tag;
try {
  tag = pyodide.runPython(`
import os, py_compile, sys, zipfile

with zipfile.ZipFile("/in.whl") as wheel, zipfile.ZipFile("/out.zip", "w", zipfile.ZIP_DEFLATED) as out:
    for name in sorted(wheel.namelist()):
        if not name.endswith(".py") or ".dist-info/" in name or ".data/" in name:
            continue
        source = "/src/" + name
        os.makedirs(os.path.dirname(source), exist_ok=True)
        with open(source, "wb") as f:
            f.write(wheel.read(name))
        folder, _, file = name.rpartition("/")
        member = (folder + "/" if folder else "") + f"__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
        py_compile.compile(source, cfile="/pyc", dfile=name, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        with open("/pyc", "rb") as f:
            out.writestr(zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0)), f.read())
sys.implementation.cache_tag
`);
} catch (error) {
  console.error(String(error?.message ?? error));  // Python's traceback, not this file's source
  process.exit(1);
}
fs.writeFileSync(out, pyodide.FS.readFile("/out.zip"));
console.log(tag);
