"""docker-compose.yml, checked without a Docker engine: every command, module, file and variable it
names exists in the project, and each service gets the settings it needs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract import CHOICES, VARIANTS
from contract.settings import Settings
from harness.cli import build_parser
from harness.load import LoadProfile

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
VARIANT_SERVICES = ("original", "checklist", "optimized")
SEEDS = tuple(f"seed-{name}" for name in VARIANT_SERVICES)
PROJECT_SERVICES = (*SEEDS, "upstream", *VARIANT_SERVICES, "locust-master", "locust-worker")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
DUMMY_SECRET = "compose-test-secret"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def documented() -> dict[str, str]:
    """Every NAME=value of .env.example, commented-out examples included (value as written)."""
    names = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            names[match.group(1)] = match.group(2)
    return names


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: a set variable, else the default, else a required one's failure."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator in (":-", "-"):
            return argument
        if operator in (":?", "?"):
            raise AssertionError(f"compose would refuse to start: {argument}")
        return ""

    return _INTERPOLATION.sub(value, text)


def dotenv(documented: dict[str, str]) -> dict[str, str]:
    """The .env a user makes from .env.example: its values, the secrets filled in."""
    env = {name: value for name, value in documented.items()}
    for name in ("ENCRYPTION_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET"):
        env[name] = DUMMY_SECRET
    return env


def uncommented(documented_text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", documented_text, flags=re.MULTILINE))


def command_of(service: dict, env: dict[str, str]) -> list[str]:
    command = service["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    return [interpolate(str(part), env) for part in argv]


def environment_of(service: dict, env: dict[str, str]) -> dict[str, str]:
    """What the container's process sees: env_file (.env), then `environment:` over it."""
    seen = dict(uncommented(ENV_EXAMPLE.read_text())) if ".env" in service.get("env_file", []) else {}
    seen.update({k: v for k, v in env.items() if k in seen})  # the secrets a user filled in
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    seen.update({name: interpolate(str(value), env) for name, value in environment.items()})
    return seen


# -- shape --------------------------------------------------------------------------------------
def test_every_part_of_the_bench_is_there(services):
    assert services["mongo"]["image"].startswith("mongo:7")
    assert set(PROJECT_SERVICES) <= set(services)
    for name in PROJECT_SERVICES:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name


def test_the_locust_worker_scales(services):
    worker = services["locust-worker"]
    assert "container_name" not in worker and "ports" not in worker  # both would clash at --scale N


def test_published_ports_are_loopback_only(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_seed_jobs_run_before_what_reads_the_businesses(services):
    upstream = services["upstream"]["depends_on"]
    assert upstream == {seed: {"condition": "service_completed_successfully"} for seed in SEEDS}
    for name in VARIANT_SERVICES:
        assert services[name]["depends_on"]["upstream"]["condition"] == "service_healthy"
    for name in SEEDS:
        assert services[name]["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_every_variant_runs_under_the_same_server_and_workers_as_its_registry_says(services, documented):
    env = dotenv(documented)
    commands = {name: command_of(services[name], env) for name in VARIANT_SERVICES}
    assert {argv[0] for argv in commands.values()} == {"gunicorn"}
    assert len({tuple(argv[2:]) for argv in commands.values()}) == 1  # everything but the app
    for name, argv in commands.items():
        assert services[name]["environment"]["SERVICE_VARIANT"] == name
        assert argv[1] == VARIANTS[name].architecture.app


# -- every command exists -----------------------------------------------------------------------
def test_every_harness_command_parses(services, documented):
    env = dotenv(documented)
    parser = build_parser()
    checked = 0
    for name, service in services.items():
        if "command" not in service:
            continue
        argv = command_of(service, env)
        if argv[0] != "harness":
            continue
        try:
            parser.parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{name}: `{shlex.join(argv)}` is not a valid harness command line")
        checked += 1
    assert checked == len(SEEDS) + 1  # the seed jobs and the upstream


def test_every_app_the_servers_run_builds_from_the_compose_environment(services, documented):
    env = dotenv(documented)
    for name in VARIANT_SERVICES:
        argv = command_of(services[name], env)
        app = next(part for part in argv[1:] if re.fullmatch(r"[\w.]+:\w+", part))
        worker = argv[argv.index("-k") + 1]
        module, attribute = app.split(":")
        child_env = {"PATH": os.environ.get("PATH", ""), **environment_of(services[name], env)}
        # A fresh interpreter with exactly the container's settings: the app must build from them.
        code = (
            f"import importlib; app = getattr(importlib.import_module({module!r}), {attribute!r}); "
            f"importlib.import_module({worker.rpartition('.')[0]!r}); print(type(app).__name__)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=child_env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        assert done.stdout.strip() == "FastAPI"
        assert DUMMY_SECRET not in done.stdout + done.stderr


def test_locust_runs_the_shipped_locustfile_with_valid_options(services, documented):
    env = dotenv(documented)
    script = ROOT / "docker" / "locust.sh"
    assert script.is_file() and os.access(script, os.X_OK)
    assert "exec locust -f harness/load/locustfile.py" in script.read_text()
    assert (ROOT / "harness" / "load" / "locustfile.py").is_file()
    for name, role in (("locust-master", "master"), ("locust-worker", "worker")):
        argv = command_of(services[name], env)
        assert argv[0] == "docker/locust.sh"
        # Locust's own parser, in a child: importing locust monkey-patches this process with gevent.
        code = (
            "import sys; from locust.argument_parser import get_parser; "
            "o = get_parser().parse_args(sys.argv[1:]); print(o.master, o.worker, o.master_host)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, "-f", "harness/load/locustfile.py", *argv[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        master, worker, host = done.stdout.split()
        assert (master, worker) == (("True", "False") if role == "master" else ("False", "True"))
        if role == "worker":
            assert host == "locust-master"


def test_the_dockerfile_copies_only_what_exists_and_installs_the_project():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, flags=re.MULTILINE)
    sources = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert sources
    for paths in sources:
        for path in paths:
            assert (ROOT / path).exists(), f"COPY {path}: not in the project"
    assert "pip install --no-cache-dir ." in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, flags=re.MULTILINE)


# -- settings -----------------------------------------------------------------------------------
def test_every_setting_and_load_variable_is_documented(documented):
    settings = {name.upper() for name in Settings.model_fields}
    load = set(LoadProfile(users=1, arrival_users=1, records_dir=Path("r"), app_secret="a", verify_token="v").to_env())
    missing = sorted((settings | load) - set(documented))
    assert missing == [], f".env.example does not document {missing}"


def test_every_compose_variable_is_documented(documented):
    used = {match.group(1) for match in _INTERPOLATION.finditer(COMPOSE.read_text())}
    assert used and sorted(used - set(documented)) == []


def test_no_secret_is_filled_in_the_example(documented):
    for name in ("ENCRYPTION_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "ADMIN_TOKEN", "LLM_API_KEY"):
        assert documented[name] == "", f"{name} must be blank in .env.example"


def test_each_container_gets_the_settings_it_needs(services, documented):
    env = dotenv(documented)
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    service_needs = required | {
        "MONGODB_URI",
        "MONGODB_DB_NAME",
        "GRAPH_API_BASE_URL",
        "LLM_BASE_URL",
        "WHATSAPP_APP_SECRET",
        "SERVICE_VARIANT",
    }
    needs = {
        **{name: service_needs for name in VARIANT_SERVICES},
        **{seed: {"ENCRYPTION_SECRET", "MONGODB_URI"} for seed in SEEDS},
        "upstream": {"ENCRYPTION_SECRET", "MONGODB_URI"},
        "locust-master": {"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "LOAD_BUSINESSES", "LOCUST_HOST"},
        "locust-worker": {"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "LOAD_BUSINESSES", "LOAD_RECORDS_DIR"},
    }
    for name, variables in needs.items():
        service = services[name]
        assert ".env" in service.get("env_file", []), f"{name} does not read .env"
        seen = environment_of(service, env)
        missing = sorted(v for v in variables if not seen.get(v))
        assert missing == [], f"{name} lacks {missing}"
        if name not in ("locust-master", "locust-worker"):
            assert seen["MONGODB_URI"] == "mongodb://mongo:27017", name
    for name in VARIANT_SERVICES:
        seen = environment_of(services[name], env)
        assert seen["MONGODB_DB_NAME"] == f"whatsapp_{name}"
        # .env documents every choice but sets none: each container's SERVICE_VARIANT decides.
        assert not any(seen.get(choice.env) for choice in CHOICES), name


def test_compose_refuses_to_start_without_the_secrets(services, documented):
    env = {name: value for name, value in documented.items() if name != "ENCRYPTION_SECRET"}
    with pytest.raises(AssertionError, match="set ENCRYPTION_SECRET in .env"):
        environment_of(services["optimized"], env)
