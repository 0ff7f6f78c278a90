"""Build small WebAssembly side modules (clang-19 + wasm-ld-19) and wheels that carry them.

    from tests.support.sidemodules import build_side_modules, fixture_wheels

    mods = build_side_modules()        # {"libbase.so": bytes, "libmid.so": ..., ...}
    wheels = fixture_wheels()          # {"chain": WheelBytes, "provider": ..., ...}

Objects are cached under ``.cache/sidemodules/<hash of sources and flags>/`` so only the
first run of a checkout pays the ~1 s of compiling. Flags are the ones that Pyodide 314
loads (docs/platform notes): ``-fPIC -O2`` then ``wasm-ld -shared --experimental-pic
--export-dynamic --unresolved-symbols=import-dynamic``; NEEDED comes from passing the
dependency ``.so`` to the linker. wasm-ld has no ``-rpath``: RUNTIME_PATH is written with
:func:`pyemscripten.dylink.with_runtime_paths`.

The Python extensions need no Python headers: a hand-declared ``PyModuleDef`` (wasm32 is
ILP32) returned through ``PyModuleDef_Init`` (multi-phase init, which CPython 3.14 requires
for a module without the real headers' single-phase helpers).

Wheels (all ``cp314-cp314-pyemscripten_2026_0_wasm32``):
    chain      shlib-chain: ``shlib_chain/_ext.so`` NEEDs libmid.so NEEDs libbase.so, both in
               ``shlib_chain.libs/``; RUNTIME_PATH ``$ORIGIN/../shlib_chain.libs`` on the
               extension, ``$ORIGIN`` on libmid. ``shlib_chain._ext.value() == 42``.
    provider   shlib-provider: ``shlib_provider.libs/libshared.so`` and a pure package.
    user_a/b   shlib-user-a / shlib-user-b: an extension each NEEDing libshared.so through
               RUNTIME_PATH ``$ORIGIN/../shlib_provider.libs``; both require shlib-provider.
               ``value()`` is 100 + 1 and 100 + 2; both count calls in libshared's one
               counter, which shows the library loaded once.
    clash      shlib-clash: an extension NEEDing libleft.so then libright.so, which both
               define ``which()`` (1 and 2); only libleft has ``left_only()`` (10).
               ``value()`` shows which definition the runtime bound.
    missing    shlib-missing: an extension NEEDing ``libnothere.so``, which no wheel has.
    malformed  shlib-malformed: an extension whose ``dylink.0`` section is cut short.
    undefined  shlib-undefined: an extension that takes the address of ``nowhere_data``, which
               nothing defines (a GOT.mem import left unresolved).
    weak       shlib-weak: an extension that takes the address of ``absent_weak``, a weak symbol
               nothing defines (a GOT.mem import that the runtime sets to 0).
    twin_a/b/c shlib-twin-a / shlib-twin-b: unrelated extensions that each define ``twin_tag``
               (1, 2) and ``twin_fn()`` (1, 2), reached through the offset table (a data
               address and a function pointer), and the C++ name ``_ZN4twin3cxxE`` (1, 2);
               shlib-twin-c: an extension that defines neither, NEEDing its ``libtwin.so``,
               which defines both (3). ``value()``: 111, 122 (each its own, the C++ name the
               first's), 33 (its NEEDED library's), installed together.
    emjs       shlib-emjs: an extension with a JavaScript function built in as EM_JS builds it,
               which the runtime's loader evaluates; ``value()`` is 30 + 7 from JavaScript.
    truncated  shlib-truncated: a library whose ``dylink.0`` section is whole and whose
               last section is cut short, so that it does not compile.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from pyemscripten.dylink import with_runtime_paths

from .wheels import WheelBytes, make_wheel

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "sidemodules"
TAG = "cp314-cp314-pyemscripten_2026_0_wasm32"
CLANG = "clang-19"
WASM_LD = "wasm-ld-19"
CFLAGS = ("--target=wasm32-unknown-emscripten", "-fPIC", "-O2", "-fvisibility=default", "-c")
LDFLAGS = ("-shared", "--experimental-pic", "--export-dynamic", "--unresolved-symbols=import-dynamic")

# The CPython 3.14 ABI pieces an extension touches, declared by hand for wasm32 (ILP32).
_PY_ABI = r"""
typedef struct _object PyObject;
typedef PyObject *(*PyCFunction)(PyObject *, PyObject *);
typedef struct { const char *ml_name; PyCFunction ml_meth; int ml_flags; const char *ml_doc; } PyMethodDef;
typedef struct { int slot; void *value; } PyModuleDef_Slot;
typedef struct {
    long ob_refcnt; void *ob_type;           /* PyObject_HEAD */
    PyObject *(*m_init)(void); long m_index; PyObject *m_copy;
} PyModuleDef_Base;
typedef struct {
    PyModuleDef_Base m_base; const char *m_name; const char *m_doc; long m_size;
    PyMethodDef *m_methods; PyModuleDef_Slot *m_slots;
    void *m_traverse; void *m_clear; void *m_free;
} PyModuleDef;
extern PyObject *PyModuleDef_Init(PyModuleDef *);
extern PyObject *PyLong_FromLong(long);
#define METH_NOARGS 0x0004
/* 32-bit CPython 3.14 treats refcounts >= 1 << 30 as immortal: a static def is never freed. */
#define STATIC_IMMORTAL 0x70000000L
"""


def _extension(module: str, value_expr: str, prelude: str = "") -> str:
    return _PY_ABI + prelude + f"""
static PyObject *value(PyObject *self, PyObject *unused) {{ return PyLong_FromLong({value_expr}); }}
static PyMethodDef methods[] = {{ {{"value", value, METH_NOARGS, 0}}, {{0, 0, 0, 0}} }};
static PyModuleDef_Slot slots[] = {{ {{0, 0}} }};
static PyModuleDef def = {{ {{STATIC_IMMORTAL, 0, 0, 0, 0}}, "{module}", 0, 0, methods, slots, 0, 0, 0 }};
PyObject *PyInit_{module.rsplit('.', 1)[-1]}(void) {{ return PyModuleDef_Init(&def); }}
"""


# name -> (C source, NEEDED names linked against, RUNTIME_PATH entries)
SOURCES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "libbase.so": ("int base_value(void) { return 40; }\n", (), ()),
    "libmid.so": ("int base_value(void);\nint mid_value(void) { return base_value() + 2; }\n",
                  ("libbase.so",), ("$ORIGIN",)),
    "chain_ext.so": (_extension("shlib_chain._ext", "mid_value()", "int mid_value(void);\n"),
                     ("libmid.so",), ("$ORIGIN/../shlib_chain.libs",)),
    "libshared.so": ("static int calls;\nint shared_count(void) { return ++calls; }\n", (), ()),
    "user_a_ext.so": (_extension("shlib_user_a._ext", "100 + shared_count()", "int shared_count(void);\n"),
                      ("libshared.so",), ("$ORIGIN/../shlib_provider.libs",)),
    "user_b_ext.so": (_extension("shlib_user_b._ext", "100 + shared_count()", "int shared_count(void);\n"),
                      ("libshared.so",), ("$ORIGIN/../shlib_provider.libs",)),
    "libnothere.so": ("int not_here(void) { return 1; }\n", (), ()),
    "libleft.so": ("int which(void) { return 1; }\nint left_only(void) { return 10; }\n", (), ()),
    "libright.so": ("int which(void) { return 2; }\n", (), ()),
    "clash_ext.so": (_extension("shlib_clash._ext", "which() * 100 + left_only()",
                                "int which(void);\nint left_only(void);\n"),
                     ("libleft.so", "libright.so"), ("$ORIGIN/../shlib_clash.libs",)),
    "missing_ext.so": (_extension("shlib_missing._ext", "not_here()", "int not_here(void);\n"),
                       ("libnothere.so",), ()),
    # The address of data nothing defines: a GOT.mem import that stays unresolved.
    "undefined_ext.so": (_extension("shlib_undefined._ext", "(long)&nowhere_data", "extern int nowhere_data;\n"),
                         (), ()),
    # Two unrelated extensions that each define a data symbol and a function of the same name
    # (default visibility: reached through GOT.mem and GOT.func), as mypy's compiled modules and
    # librt's define mypyc_interned_str: each must see its own.
    # A C++ name (an asm label) stays one definition for all, the first library's.
    "twin_a_ext.so": (_extension("shlib_twin_a._ext", "twin_cxx * 100 + twin_tag * 10 + (*twin_ref)()",
                                 "int twin_tag = 1;\nint twin_fn(void) { return 1; }\n"
                                 "int (*volatile twin_ref)(void) = twin_fn;\n"
                                 "int twin_cxx __asm__(\"_ZN4twin3cxxE\") = 1;\n"), (), ()),
    "twin_b_ext.so": (_extension("shlib_twin_b._ext", "twin_cxx * 100 + twin_tag * 10 + (*twin_ref)()",
                                 "int twin_tag = 2;\nint twin_fn(void) { return 2; }\n"
                                 "int (*volatile twin_ref)(void) = twin_fn;\n"
                                 "int twin_cxx __asm__(\"_ZN4twin3cxxE\") = 2;\n"), (), ()),
    # A third, whose extension defines neither but NEEDs libtwin, which defines both (3).
    "libtwin.so": ("int twin_tag = 3;\nint twin_fn(void) { return 3; }\n", (), ()),
    "twin_c_ext.so": (_extension("shlib_twin_c._ext", "twin_tag * 10 + (*twin_ref_c)()",
                                 "extern int twin_tag;\nint twin_fn(void);\n"
                                 "int (*volatile twin_ref_c)(void) = twin_fn;\n"),
                      ("libtwin.so",), ("$ORIGIN/../shlib_twin_c.libs",)),
    # The address of a weak symbol nothing defines: 0 once the runtime has walked its table.
    "weak_ext.so": (_extension("shlib_weak._ext", "(long)&absent_weak",
                               "extern int absent_weak __attribute__((weak));\n"), (), ()),
    # A JavaScript function built into the library as Emscripten's EM_JS builds it: its text
    # under ``__em_js__<name>`` ("(params)<::>{body}"), which the runtime's loader evaluates.
    "emjs_ext.so": (_extension("shlib_emjs._ext", "emjs_add_seven(30)",
                               "int emjs_add_seven(int base);\n"
                               "__attribute__((used, section(\"em_js\"), aligned(1)))\n"
                               "char __em_js__emjs_add_seven[] = \"(int base)<::>{ return base + 7; }\";\n"),
                    (), ()),
}


def _cache_key() -> str:
    h = hashlib.sha256()
    for name, (source, needed, rpath) in sorted(SOURCES.items()):
        h.update(repr((name, source, needed, rpath, CFLAGS, LDFLAGS)).encode())
    return h.hexdigest()[:16]


def toolchain_available() -> bool:
    return shutil.which(CLANG) is not None and shutil.which(WASM_LD) is not None


def build_side_modules(cache: Path = CACHE) -> dict[str, bytes]:
    """``{file name: bytes}`` of every module in :data:`SOURCES` (built once, then cached)."""
    out = cache / _cache_key()
    if not all((out / name).is_file() for name in SOURCES):
        if not toolchain_available():
            raise RuntimeError(f"{CLANG} and {WASM_LD} are needed to build the side-module fixtures")
        with tempfile.TemporaryDirectory(prefix="sidemodules-") as tmp:
            work = Path(tmp)
            # Dependencies first: a library must exist before a module links against it.
            for name in sorted(SOURCES, key=lambda n: len(_closure(n))):
                _build_one(name, work)
            out.mkdir(parents=True, exist_ok=True)
            for name in SOURCES:
                shutil.copyfile(work / name, out / name)
    return {name: (out / name).read_bytes() for name in SOURCES}


def _closure(name: str) -> set[str]:
    needed = set(SOURCES[name][1])
    for dep in list(needed):
        needed |= _closure(dep)
    return needed


def _build_one(name: str, work: Path) -> None:
    source, needed, rpath = SOURCES[name]
    c_file, o_file, so_file = work / f"{name}.c", work / f"{name}.o", work / name
    c_file.write_text(source)
    subprocess.run([CLANG, *CFLAGS, str(c_file), "-o", str(o_file)], check=True, capture_output=True, text=True)
    subprocess.run([WASM_LD, *LDFLAGS, "-o", str(so_file), str(o_file), *(str(work / d) for d in needed)],
                   check=True, capture_output=True, text=True)
    if rpath:
        so_file.write_bytes(with_runtime_paths(so_file.read_bytes(), rpath, name))


def malformed(module: bytes) -> bytes:
    """``module`` with its ``dylink.0`` section claiming more bytes than the file has."""
    # Byte 8 is the section id (0), byte 9 starts its size: make it a huge 5-byte LEB128.
    return module[:9] + b"\xff\xff\xff\xff\x0f" + module[10:]


def _one_extension(short: str, module: bytes) -> WheelBytes:
    """``shlib-<short>``: a package with one extension, ``shlib_<short>/_ext.so``."""
    package = f"shlib_{short}"
    return make_wheel(package.replace("_", "-"), "1.0", {f"{package}/__init__.py": b"", f"{package}/_ext.so": module},
                      tag=TAG)


def fixture_wheels(cache: Path = CACHE) -> dict[str, WheelBytes]:
    """The wheels described in the module docstring, keyed by their short name."""
    m = build_side_modules(cache)
    init = b""
    return {
        "chain": make_wheel("shlib-chain", "1.0", {
            "shlib_chain/__init__.py": init,
            "shlib_chain/_ext.so": m["chain_ext.so"],
            "shlib_chain.libs/libmid.so": m["libmid.so"],
            "shlib_chain.libs/libbase.so": m["libbase.so"],
        }, tag=TAG),
        "provider": make_wheel("shlib-provider", "1.0", {
            "shlib_provider/__init__.py": init,
            "shlib_provider.libs/libshared.so": m["libshared.so"],
        }, tag=TAG),
        "user_a": make_wheel("shlib-user-a", "1.0", {
            "shlib_user_a/__init__.py": init,
            "shlib_user_a/_ext.so": m["user_a_ext.so"],
        }, tag=TAG, requires=["shlib-provider"]),
        "user_b": make_wheel("shlib-user-b", "1.0", {
            "shlib_user_b/__init__.py": init,
            "shlib_user_b/_ext.so": m["user_b_ext.so"],
        }, tag=TAG, requires=["shlib-provider"]),
        "clash": make_wheel("shlib-clash", "1.0", {
            "shlib_clash/__init__.py": init,
            "shlib_clash/_ext.so": m["clash_ext.so"],
            "shlib_clash.libs/libleft.so": m["libleft.so"],
            "shlib_clash.libs/libright.so": m["libright.so"],
        }, tag=TAG),
        "missing": _one_extension("missing", m["missing_ext.so"]),
        "malformed": _one_extension("malformed", malformed(m["chain_ext.so"])),
        "undefined": _one_extension("undefined", m["undefined_ext.so"]),
        "weak": _one_extension("weak", m["weak_ext.so"]),
        "emjs": _one_extension("emjs", m["emjs_ext.so"]),
        "twin_a": _one_extension("twin_a", m["twin_a_ext.so"]),
        "twin_b": _one_extension("twin_b", m["twin_b_ext.so"]),
        "twin_c": make_wheel("shlib-twin-c", "1.0", {
            "shlib_twin_c/__init__.py": init,
            "shlib_twin_c/_ext.so": m["twin_c_ext.so"],
            "shlib_twin_c.libs/libtwin.so": m["libtwin.so"],
        }, tag=TAG),
        "truncated": make_wheel("shlib-truncated", "1.0", {
            "shlib_truncated/__init__.py": init,
            "shlib_truncated.libs/libbase.so": m["libbase.so"][:-4],
        }, tag=TAG),
    }


if __name__ == "__main__":  # python -m tests.support.sidemodules DIR: write the wheels there
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    for wheel in fixture_wheels().values():
        print(wheel.write(target))
