"""What importing the package costs: in Pyodide every module is compiled from source at the
first import of a page, so modules an install never uses are imported where they are used.

Importing pyemscripten with everything an install uses took 0.60 s in the page with these
(email through packaging.metadata, html, tomllib, hmac through secrets), 0.34 s without.
"""

from __future__ import annotations

import subprocess
import sys

# Imported only by what needs them: UnpackedWheel.metadata and metadata.parse_headers
# (packaging.metadata, and with it email), HTML project pages (html), lock files (tomllib).
LATE = ("email", "html", "tomllib", "hmac", "packaging.metadata", "packaging.licenses")

IMPORT = """
import sys
import pyemscripten, pyemscripten.api, pyemscripten.installation, pyemscripten.browser
import pyemscripten.browser_loader, pyemscripten.wheels, pyemscripten.index_pages, pyemscripten.locks
{then}
late = {late!r}
print(sorted(m for m in sys.modules if m in late or m.startswith(tuple(n + "." for n in late))))
"""


def test_importing_the_package_leaves_out_what_an_install_does_not_use() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT.format(late=LATE, then="")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_what_was_left_out_still_works_where_it_is_used() -> None:
    from pyemscripten.index_pages import parse_html_page
    # (load_lock and tomllib: tests/unit/test_locks.py)
    from pyemscripten.wheels import open_wheel
    from tests.support.wheels import make_wheel

    whl = make_wheel("pkg", files={"pkg/__init__.py": ""}, summary="A summary")
    assert open_wheel(whl.filename, bytes(whl)).metadata.summary == "A summary"
    page = parse_html_page(b'<a href="pkg-1.0-py3-none-any.whl" data-requires-python="&gt;=3.8">x</a>',
                           "https://example.org/simple/pkg/", "pkg")
    assert [(f.filename, f.requires_python) for f in page.files] == [("pkg-1.0-py3-none-any.whl", ">=3.8")]


# Checking a wheel as an install does, of every Metadata-Version (a newer one is warned of
# without asking packaging.metadata: importing it cost (a) about 0.2 s in a page).
CHECK = """
from tests.support.wheels import make_wheel
from pyemscripten.wheels import open_wheel
for version in ("2.1", "2.4", "2.5", "2.6", "2.7", "3.0"):
    whl = make_wheel("pkg", files={"pkg/__init__.py": ""}, metadata=f"Metadata-Version: {version}\\nName: pkg\\nVersion: 1.0\\n")
    try:
        open_wheel(whl.filename, bytes(whl))
    except Exception:
        pass
"""


def test_checking_a_wheel_leaves_out_what_an_install_does_not_use() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT.format(late=LATE, then=CHECK)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
