"""docker-compose.yml cannot be started here (no Docker engine); these checks keep it consistent
with the files and commands the rest of the suite runs."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
ENDPOINTS = REPO / "bot" / "endpoints.production.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_service_of_the_stack_is_there_with_a_health_check(compose):
    services = compose["services"]
    assert {"postgres", "redis", "api", "worker", "actions", "rasa", "rasa-train"} <= set(services)
    for name, service in services.items():
        if name != "rasa-train":  # one-shot
            assert "healthcheck" in service, name


def test_rasa_runs_the_pinned_version_with_the_production_endpoints(compose):
    rasa = compose["services"]["rasa"]
    pinned = re.search(r"^rasa==(\S+)$", (REPO / "requirements" / "rasa.txt").read_text(), re.M)
    dockerfile = (REPO / rasa["build"]["dockerfile"]).read_text()
    assert re.search(rf"^FROM rasa/rasa:{re.escape(pinned.group(1))}$", dockerfile, re.M)
    command = rasa["command"]
    assert command[0] == "run" and "--enable-api" not in command
    assert command[command.index("--endpoints") + 1] == ENDPOINTS.name
    assert (REPO / "bot" / command[command.index("--credentials") + 1]).is_file()
    assert "./bot:/bot:ro" in rasa["volumes"] and rasa["working_dir"] == "/bot"
    assert "ports" not in rasa  # the REST webhook has no authentication: internal only
    train = compose["services"]["rasa-train"]["command"]
    assert train[train.index("--out") + 1] == command[command.index("--model") + 1]


def test_the_rasa_image_has_what_the_intent_classifier_reads(compose):
    """The pipeline's e5 vectors need ONNX Runtime and tokenizers (pinned in rasa.lock),
    knowledge/ and the model and index the api service builds into the models volume."""
    rasa = compose["services"]["rasa"]
    dockerfile = (REPO / rasa["build"]["dockerfile"]).read_text()
    lock = (REPO / "requirements" / "rasa.lock").read_text()
    for package in ("onnxruntime", "tokenizers"):
        assert package in dockerfile and re.search(rf"^{package}==", lock, re.M), package
    assert "-c /tmp/rasa.lock" in dockerfile and "COPY knowledge/ /app/knowledge/" in dockerfile
    env = dict(line.split("=", 1) for line in re.findall(r"(CAUNOI_\w+=\S+)", dockerfile))
    mounted = [v.split(":")[1] for v in rasa["volumes"] if v.startswith("models:")]
    assert env["CAUNOI_REPO"] == "/app" and mounted == ["/app/models"]
    assert env["CAUNOI_E5_MODEL"].startswith("/app/models/") and env["CAUNOI_INDEX"].startswith(
        "/app/models/")
    api_env = compose["x-python"]["environment"]
    assert env["CAUNOI_INDEX"] == api_env["CAUNOI_INDEX_DIR"]
    assert env["CAUNOI_E5_MODEL"] == api_env["CAUNOI_MODEL_DIR"]
    depends = compose["services"]["rasa-train"]["depends_on"]
    assert depends["api"]["condition"] == "service_healthy"
    config = (REPO / "bot" / "config.yml").read_text()
    assert "addons.linear_intents.LinearIntentClassifier" in config


def test_every_variable_the_endpoints_file_needs_is_set(compose):
    text = ENDPOINTS.read_text()
    settings = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    needed = set(re.findall(r"\$\{(\w+)\}", settings))
    assert needed >= {"RASA_DB_HOST", "REDIS_HOST", "RASA_ACTIONS_URL"}
    assert not re.search(r"""["']\$\{""", settings), "quoted ${VAR} is not expanded by Rasa"
    environment = compose["services"]["rasa"]["environment"]
    assert needed <= set(environment), needed - set(environment)
    assert environment["RASA_ACTIONS_URL"] == "http://actions:5055/webhook"
    assert environment["REDIS_HOST"] == "redis" and environment["RASA_DB_HOST"] == "postgres"
    endpoints = yaml.safe_load(text)
    assert endpoints["lock_store"]["type"] == "addons.lock_store.AtomicRedisLockStore"
    assert (REPO / "bot" / "addons" / "lock_store.py").is_file()
    assert endpoints["tracker_store"]["dialect"] == "postgresql"


def test_the_api_and_the_action_server_find_each_other(compose):
    services = compose["services"]
    api_env = compose["x-python"]["environment"]
    assert api_env["CAUNOI_RASA_URL"] == "http://rasa:5005"
    command = services["rasa"]["command"]
    assert command[command.index("--port") + 1] == "5005"
    actions = services["actions"]
    assert actions["environment"]["CAUNOI_API_URL"] == "http://api:8000"
    token_file = actions["environment"]["CAUNOI_SERVICE_TOKEN_FILE"]
    assert f"--file {token_file}" in services["api"]["command"]
    dockerfile = (REPO / actions["build"]["dockerfile"]).read_text()
    assert "COPY actions/ actions/" in dockerfile and (REPO / "actions").is_dir()
    assert 'CMD ["python", "-m", "actions", "--port", "5055"]' in dockerfile


def test_the_api_builds_the_index_from_the_laws_mounted_read_only(compose):
    """The default corpus's laws are not in the repository: the api service, which builds the
    index, reads them from ../shared beside the clone through a read-only bind mount that
    CAUNOI_LAWS_FILE points into, and keeps everything else the shared block gives it."""
    api = compose["services"]["api"]
    assert "python -m knowledge build" in api["command"]
    laws = api["environment"]["CAUNOI_LAWS_FILE"]
    mounts = [volume.split(":") for volume in api["volumes"]]
    source, target, mode = next(m for m in mounts if len(m) == 3 and laws.startswith(m[1] + "/"))
    assert mode == "ro" and laws == f"{target}/laws.json"
    assert (REPO / source).resolve() == (REPO.parent / "shared" / "data" / "legal").resolve()
    extra = api["environment"]["CAUNOI_EXTRA_LAWS_FILE"]
    source, target, mode = next(m for m in mounts if len(m) == 3 and extra.startswith(m[1] + "/"))
    assert mode == "ro" and extra == f"{target}/laws-extra.json"
    assert (REPO / source).resolve() == (REPO.parent / "shared" / "data" / "legal-extra").resolve()
    shared = compose["x-python"]
    assert set(shared["volumes"]) < set(api["volumes"])
    assert shared["environment"].items() < api["environment"].items()
