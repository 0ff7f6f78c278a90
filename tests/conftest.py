"""Make ``import pyemscripten`` (src layout) and ``import tests.support`` work without an
installed package, however pytest is started."""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (_ROOT / "src", _ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
