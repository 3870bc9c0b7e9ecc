"""Both Python runtimes exist as the Makefile promises (see README: two runtimes)."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"


def test_this_runtime_is_python_311_with_cpu_torch():
    import torch

    assert sys.version_info[:2] == (3, 11)
    assert torch.__version__.startswith("2.13.0")
    assert not torch.cuda.is_available()


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="run `make install` to create .venv-rasa")
def test_rasa_runtime_is_python_310_with_rasa_3_6_21():
    probe = "import sys, rasa; print(sys.version_info[:2], rasa.__version__)"
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(3,", "10)", "3.6.21"]
