"""Property-based tests of the whole HTTP API against its own OpenAPI schema (schemathesis).

A real server on loopback (SQLite, no search index: /api/v1/search answers 503) is called with
cases generated from /openapi.json: once as an admin (every operation is reachable) and once
without credentials. All of schemathesis's default checks run on every response: no server
errors, status codes and bodies as declared, schema-valid input accepted, invalid input rejected.
Bounded for CI: 25 valid and 25 invalid examples per operation, derandomized (a fixed seed).
(Cases are drawn with ``operation.as_strategy()``: schemathesis's lazy pytest loader,
``schemathesis.pytest.from_fixture``, does not run under pytest 9.2.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from tests.feedback_api.server import Api, SmtpSink, cli, service_env

BOUNDED = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,  # one server on 2 shared cores: timing is not what is tested here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
    database=None,
    print_blob=True,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dir):
    sink = SmtpSink().start()
    db_url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'caunoi.db'}"
    env = service_env(db_url, model_dir, sink.port)
    api = Api(env)
    api.admin = cli("token", "create", "--role", "admin", "--name", "schemathesis", env=env)
    yield api
    api.stop()
    sink.stop()
    output = api.output()
    if "Traceback" in output:
        print(output[-20_000:])


# NUL characters are refused up front with a 4xx (PostgreSQL text cannot hold them); JSON
# Schema cannot say so without a pattern on every string, so the fuzzer does not generate them
# and test_nul_characters_are_a_clear_4xx checks the refusal instead.
CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-x00": False}})


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.base}/openapi.json", config=CONFIG, timeout=30)


def _operations() -> list[str]:
    """Every operation the app declares (no server, no database: create_app does no I/O)."""
    from feedback_api.main import create_app
    from feedback_api.settings import Settings

    paths = create_app(Settings()).openapi()["paths"]
    return [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]


OPERATIONS = _operations()


# This server runs without a search index (CAUNOI_LOAD_SEARCH=0), so the search answers its
# declared 503 to every valid question; test_search_api.py covers it with a real index. Only
# there is a 5xx expected, and only 503 (or 422 for invalid input) is accepted instead.
NO_INDEX = {"GET /api/v1/search": {503, 422},
            "GET /api/v1/articles/{law_id}/{article_id}": {503, 422}}


def _fuzz(api_schema, label: str, headers: dict[str, str]) -> None:
    """Valid and invalid cases for one operation, each checked by every default check."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    excluded = [not_a_server_error] if label in NO_INDEX else []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            response = case.call_and_validate(headers=headers, timeout=60,
                                              excluded_checks=excluded)
            if label in NO_INDEX:
                assert response.status_code in NO_INDEX[label], response.text

        try:
            check()
        except Unsatisfiable:
            # Nothing about this operation can be made invalid (no parameters, or only free
            # strings): the negative pass has no cases to send. The positive pass always runs.
            if mode is GenerationMode.POSITIVE:
                raise


@pytest.mark.parametrize("label", OPERATIONS)
def test_as_admin(api_schema, server, label):
    _fuzz(api_schema, label, {"Authorization": f"Bearer {server.admin}"})


@pytest.mark.parametrize("label", OPERATIONS)
def test_without_credentials(api_schema, label):
    _fuzz(api_schema, label, {})


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/api/v1/feedback", {"kind": "complaint", "channel": "web", "text": "a\x00b",
                                      "idempotency_key": "nul-in-text"}, 422),
        ("POST", "/api/v1/feedback", {"kind": "complaint", "channel": "web", "text": "ab",
                                      "idempotency_key": "nul-in-extra",
                                      "citations": [{"law_id": "x", "article_id": "1",
                                                     "note\x00": 1}]}, 422),
        ("GET", "/api/v1/feedback?q=a%00b", None, 422),
        ("GET", "/api/v1/departments/y-te%00", None, 422),
        ("PATCH", "/api/v1/departments/y-te", {"mandate": "m\x00"}, 422),
        ("GET", "/open311/v2/requests.json?service_request_id=PA-%00", None, 400),
        ("POST", "/open311/v2/requests.json", {"service_code": "xay-dung.complaint",
                                               "description": "x\x00y"}, 400),
    ],
)
def test_nul_characters_are_a_clear_4xx(server, method, path, body, expected):
    status, payload = server.request(method, path, body,
                                     token=server.admin if "api/v1" in path else None,
                                     headers={} if "api/v1" in path else
                                     {"Authorization": f"Bearer {server.admin}"})
    assert status == expected, payload
    message = payload["detail"] if isinstance(payload, dict) else payload[0]["description"]
    assert "NUL" in message
