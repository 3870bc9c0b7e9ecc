"""The Rasa project itself: its domain and data validate, and its test stories (every flow,
corrections and cancel mid-form included) pass against the model that `make run` serves."""

import subprocess

import pytest

from scripts.stack import BOT, RASA_VENV, rasa_env

RASA = RASA_VENV / "bin" / "rasa"
pytestmark = pytest.mark.skipif(not RASA.exists(), reason="run `make install` to create .venv-rasa")


def rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RASA), *args], cwd=BOT, env=rasa_env(), capture_output=True,
                          text=True, timeout=600)


def tail(result: subprocess.CompletedProcess) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-40:])


def test_domain_data_and_test_stories_validate():
    result = rasa("data", "validate", "--domain", "domain", "--data", "data", "tests",
                  "--fail-on-warnings")
    assert result.returncode == 0, tail(result)
    assert "No story structure conflicts found" in result.stdout + result.stderr


def test_every_test_story_passes_with_the_trained_model(rasa_model, tmp_path):
    result = rasa("test", "core", "--stories", "tests/test_stories.yml", "--model",
                  str(rasa_model), "--out", str(tmp_path))
    assert result.returncode == 0, tail(result)
    failed = (tmp_path / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed, failed[:4000]

