"""The package's annotations hold (it ships py.typed): mypy over src/pyemscripten, as
configured in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_type_checks(tmp_path: Path) -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path),
                                str(ROOT / "src" / "pyemscripten")])
    assert status == 0, out + err
    assert (ROOT / "src" / "pyemscripten" / "py.typed").is_file()


def test_the_lazy_public_names_are_typed_for_checkers(tmp_path: Path) -> None:
    # install() and friends come from pyemscripten/__init__.py's __getattr__ at run time;
    # a checker sees their real signatures, not Any.
    user = tmp_path / "user.py"
    user.write_text("import pyemscripten\n"
                    "async def main() -> None:\n"
                    "    report = await pyemscripten.install('attrs')\n"
                    "    names: list[str] = report.installed\n")
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
                                str(user)])
    assert status == 1 and 'has type "tuple[tuple[str, str], ...]", variable has type "list[str]"' in out, out + err
