"""Without its settings a platform is off: its webhook says so (404, in Vietnamese), the start
log says which settings it needs, the web chat is untouched; Zalo's domain-check file is served
when its token is set; webhooks are rate-limited like every public endpoint."""

from __future__ import annotations

import pytest

from tests.feedback_api.conftest import free_port
from tests.feedback_api.server import Api, service_env


@pytest.fixture(scope="module")
def api(tmp_path_factory, model_dir):
    db = tmp_path_factory.mktemp("off") / "caunoi.db"
    server = Api(service_env(f"sqlite:///{db}", model_dir, free_port(), CAUNOI_RUN_WORKER="0",
                             CAUNOI_ZALO_VERIFIER="Ab12Cd34",
                             CAUNOI_RATE_LIMIT_WEBHOOKS="4/minute"))
    yield server
    server.stop()


def test_platforms_without_settings_are_off_and_say_so(api):
    status, body = api.request("POST", "/webhooks/zalo", raw=b'{"event_name": "user_send_text"}')
    assert status == 404 and body["detail"] == "Kênh Zalo chưa được bật trên máy chủ này."
    status, body = api.request("GET", "/webhooks/messenger?hub.mode=subscribe")
    assert status == 404 and "Messenger" in body["detail"]
    log = api.output()
    assert "Kênh Zalo: tắt (cần đặt CAUNOI_ZALO_APP_ID" in log
    assert log.count("Kênh Messenger: tắt") == 1  # once, not once per process
    status, body = api.request("GET", "/readyz")
    assert body["channels"]["zalo"]["status"] == "off"


def test_the_zalo_domain_check_file_is_served_at_the_root(api):
    status, body = api.request("GET", "/zalo_verifierAb12Cd34.html")
    assert status == 200 and 'content="Ab12Cd34"' in body["_raw"]
    assert api.request("GET", "/zalo_verifierOther.html")[0] == 404


def test_webhooks_are_rate_limited(api):
    statuses = [api.request("POST", "/webhooks/messenger", raw=b"{}")[0] for _ in range(6)]
    assert 429 in statuses
