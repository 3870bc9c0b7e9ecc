"""The installation's secret: generated per data directory, private, reused, overridable, and
refused in production when it is short or the public URL is not https."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from feedback_api.settings import Settings

LONG = "k" * 48


@pytest.fixture(autouse=True)
def no_secret_in_environment(monkeypatch):
    for name in ("CAUNOI_SECRET_KEY", "CAUNOI_ENV", "CAUNOI_PUBLIC_URL", "CAUNOI_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_each_data_directory_gets_its_own_secret(tmp_path):
    first = Settings(data_dir=tmp_path / "a")
    second = Settings(data_dir=tmp_path / "b")
    assert len(first.secret_key) >= 32 and first.secret_key != second.secret_key
    assert "dev-only-secret-change-me" not in (first.secret_key, second.secret_key)
    assert first.key("inbox-session") != second.key("inbox-session")


def test_the_key_file_is_private_and_reused(tmp_path):
    first = Settings(data_dir=tmp_path)
    path = tmp_path / "secret.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).secret_key == first.secret_key
    assert path.read_text().strip() == first.secret_key


def test_purposes_get_different_keys(tmp_path):
    settings = Settings(data_dir=tmp_path)
    found = {settings.key(p) for p in ("inbox-session", "chat-sender", "voter", "webhook")}
    assert len(found) == 4 and settings.secret_key.encode() not in found


def test_the_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CAUNOI_SECRET_KEY", LONG)
    assert Settings(data_dir=tmp_path).secret_key == LONG
    assert not (tmp_path / "secret.key").exists()


@pytest.mark.parametrize(("secret", "url", "message"), [
    ("ngan-qua", "https://caunoi.laocai.gov.vn", "CAUNOI_SECRET_KEY"),
    (LONG, "http://caunoi.laocai.gov.vn", "CAUNOI_PUBLIC_URL"),
])
def test_production_refuses_a_short_key_and_plain_http(tmp_path, monkeypatch, secret, url,
                                                        message):
    monkeypatch.setenv("CAUNOI_ENV", "production")
    monkeypatch.setenv("CAUNOI_SECRET_KEY", secret)
    monkeypatch.setenv("CAUNOI_PUBLIC_URL", url)
    with pytest.raises(ValidationError) as error:
        Settings(data_dir=tmp_path)
    assert message in str(error.value) and secret not in str(error.value)
    monkeypatch.setenv("CAUNOI_SECRET_KEY", LONG)
    monkeypatch.setenv("CAUNOI_PUBLIC_URL", "https://caunoi.laocai.gov.vn")
    assert Settings(data_dir=tmp_path).production
