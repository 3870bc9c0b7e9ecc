"""knowledge/__init__.py: the names outside code imports, loaded lazily."""

import subprocess
import sys

import knowledge


def test_every_public_name_loads():
    assert sorted(knowledge.__all__) == sorted(knowledge._EXPORTS)
    for name in knowledge.__all__:
        assert getattr(knowledge, name) is not None, name


def test_importing_the_package_loads_nothing_heavy():
    code = ("import sys, knowledge; "
            "print(sorted(m for m in ('numpy', 'faiss', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
