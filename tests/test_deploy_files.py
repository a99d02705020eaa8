"""Dockerfile, docker-compose.yml, .dockerignore and deploy/ examples, checked without a Docker engine.

docker-compose.yml is validated against the official compose-spec JSON schema
(vendored by the check-jsonschema package); the Dockerfile is parsed with
dockerfile-parse.  Every environment variable they name must be one that
newsspider/settings.py reads.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from newsspider.portals import all_portals
from newsspider.scheduler import parse_schedule
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / "deploy" / "newsspider.env.example"
# Not newsspider settings but read by Python/Scrapy themselves.
RUNTIME_ENV = {"SCRAPY_SETTINGS_MODULE", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|build-essential|clang|make|cmake|python3-dev)\b")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def settings_env_names() -> set[str]:
    """Every name newsspider/settings.py reads with ``_env("NAME", …)``."""
    tree = ast.parse((REPO / "newsspider" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_env"
        and isinstance(node.args[0], ast.Constant)
    }


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(str(DOCKERFILE))


def _interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` with the environment unset: the default."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


# -- compose -------------------------------------------------------------------


def test_compose_is_valid_against_the_compose_spec(compose) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(compose)


def test_compose_spec_validation_is_not_vacuous(compose) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    broken = json.loads(json.dumps(compose))
    # A misspelt key, as a hand edit would make it.
    broken["services"]["mongo"]["healtcheck"] = broken["services"]["mongo"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(broken)


def test_mongo_service(compose) -> None:
    mongo = compose["services"]["mongo"]
    assert re.fullmatch(r"mongo:7\.0\.\d+", mongo["image"])  # pinned to an exact MongoDB 7 release
    volume = mongo["volumes"][0].split(":")
    assert volume[1] == "/data/db" and volume[0] in compose["volumes"]  # a named volume
    test = mongo["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "mongosh"
    assert "db.adminCommand('ping')" in test


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: _interpolate(str(value)) for name, value in env.items()}


def test_crawler_service_crawls_once_after_mongo_is_healthy(compose) -> None:
    crawler = compose["services"]["crawler"]
    assert crawler["command"] == ["crawl", "ofweek"]
    assert crawler["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert crawler["restart"] == "no"
    env = _environment(crawler)
    assert env["MONGO_URI"] == "mongodb://mongo:27017"
    assert env["NEWSSPIDER_DATA_DIR"] == "/data"


def test_scheduler_service_has_a_valid_schedule(compose) -> None:
    scheduler = compose["services"]["scheduler"]
    assert scheduler["command"] == ["schedule"]
    assert scheduler["depends_on"]["mongo"]["condition"] == "service_healthy"
    entries = parse_schedule(_environment(scheduler)["NEWSSPIDER_SCHEDULE"])
    assert {e.portal for e in entries} <= set(all_portals())
    assert scheduler["healthcheck"]["test"] == ["CMD", "newsspider", "schedule", "--health"]


def test_web_service_needs_its_token_and_is_published_on_loopback(compose) -> None:
    from newsspider.web.server import exposure_error, is_loopback

    web = compose["services"]["web"]
    command = web["command"]
    assert command[0] == "web"
    host = command[command.index("--host") + 1]
    port = command[command.index("--port") + 1]
    # Reachable from outside its container, so (by newsspider's own rule) it needs the token…
    assert not is_loopback(host) and exposure_error(host, "") is not None
    assert web["environment"]["NEWSSPIDER_WEB_TOKEN"] == "${NEWSSPIDER_WEB_TOKEN:-}"
    # …and the host publishes it on its own loopback only.
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert web["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert _environment(web)["MONGO_URI"] == "mongodb://mongo:27017"
    assert f"127.0.0.1:{port}/healthz" in " ".join(web["healthcheck"]["test"])


def test_scale_profile_has_redis_and_replicated_workers(compose) -> None:
    services = compose["services"]
    redis, worker = services["redis"], services["worker"]
    assert redis["profiles"] == ["scale"] and worker["profiles"] == ["scale"]
    assert re.fullmatch(r"redis:7\.\d+\.\d+", redis["image"])  # an exact release
    assert redis["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    assert worker["deploy"]["replicas"] >= 2
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["mongo"]["condition"] == "service_healthy"
    env = _environment(worker)
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["MONGO_URI"] == "mongodb://mongo:27017"
    # Nothing outside the profile needs Redis.
    for name, service in services.items():
        if "scale" not in service.get("profiles", []):
            assert "REDIS_URL" not in _environment(service), name


def test_every_compose_variable_is_a_setting(compose) -> None:
    known = settings_env_names()
    ours = {name: s for name, s in compose["services"].items() if "build" in s}
    assert set(ours) == {"crawler", "scheduler", "worker", "web"}
    for name, service in ours.items():
        unknown = set(_environment(service)) - known
        assert not unknown, f"{name}: {sorted(unknown)} are not settings in settings.py"
    interpolated = set(INTERPOLATION.findall(COMPOSE.read_text()))
    assert {name for name, _ in interpolated} - known == set()


def test_compose_build_context_and_volumes_exist(compose) -> None:
    for service in compose["services"].values():
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose["volumes"], f"{source} is not a declared named volume"


# -- Dockerfile ----------------------------------------------------------------


def _stages(dockerfile: DockerfileParser) -> list[list[dict[str, Any]]]:
    stages: list[list[dict[str, Any]]] = []
    for instruction in dockerfile.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_on_slim_python(dockerfile) -> None:
    stages = _stages(dockerfile)
    assert len(stages) >= 2
    images = {stage[0]["value"].split()[0] for stage in stages}
    assert len(images) == 1, images  # one Python for every stage...
    # ...an exact release, the one CI runs (.ci/run requires 3.11; tests/test_lock.py)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", images.pop())
    builder = " ".join(i["value"] for i in stages[0])
    assert "pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.lock" in builder


def test_final_stage_has_chromium_and_no_build_tools(dockerfile) -> None:
    final = _stages(dockerfile)[-1]
    runs = [i["value"] for i in final if i["instruction"] == "RUN"]
    installs = " ".join(runs)
    assert re.search(r"apt-get install[^&]*\bchromium\b", installs)
    assert not BUILD_TOOLS.search(installs), installs
    # The wheels come from the builder stage, installed without reaching an index.
    assert any("--no-index" in run and "from=builder" in run for run in runs)


def test_final_stage_runs_as_a_non_root_user(dockerfile) -> None:
    final = _stages(dockerfile)[-1]
    users = [i["value"].strip() for i in final if i["instruction"] == "USER"]
    assert users, "no USER in the final stage"
    assert users[-1].split(":")[0] not in ("root", "0")
    entry = next(i for i in final if i["instruction"] == "ENTRYPOINT")
    assert json.loads(entry["value"]) == ["newsspider"]
    assert any(i["instruction"] == "HEALTHCHECK" for i in final)


def test_dockerfile_env_defaults_are_settings(dockerfile) -> None:
    envs = dockerfile.envs  # the final stage's
    assert envs["NEWSSPIDER_DATA_DIR"] == "/data"
    assert envs["NEWSSPIDER_CHROMIUM"] == "/usr/bin/chromium"
    assert set(envs) - RUNTIME_ENV - {"PATH", "LANG", "GPG_KEY", "PYTHON_VERSION",
                                      "PYTHON_SHA256"} <= settings_env_names()


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        for candidate in (path, *(str(p) for p in Path(path).parents if str(p) != ".")):
            if fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(
                candidate, pattern.replace("**/", "")
            ):
                ignored = not negate
    return ignored


def test_copied_files_exist_and_are_not_dockerignored(dockerfile) -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [i["value"] for i in dockerfile.structure if i["instruction"] == "COPY"]
    assert copies
    for value in copies:
        words = shlex.split(value)
        if any(w.startswith("--from") for w in words):
            continue
        for source in [w for w in words if not w.startswith("--")][:-1]:
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert not _ignored(source, patterns), f"COPY {source} is excluded by .dockerignore"
    # What must never reach the build context.
    for path in (".venv/bin/python", ".git/config", "data/store/x.db", "tests/conftest.py"):
        assert _ignored(path, patterns), path


def test_env_example_names_only_settings() -> None:
    names = {
        line.lstrip("# ").split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if re.match(r"#? ?[A-Z][A-Z0-9_]+=", line)
    }
    assert names and names <= settings_env_names(), names - settings_env_names()
    assert parse_schedule(
        next(line.split("=", 1)[1] for line in ENV_EXAMPLE.read_text().splitlines()
             if line.startswith("NEWSSPIDER_SCHEDULE="))
    )
