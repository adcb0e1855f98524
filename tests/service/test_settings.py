"""Settings: read from the environment (secrets also from files), refused outside development
and test while a secret is missing or the sandbox's, and documented in the README's table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service import settings_docs
from service.settings import (
    DEFAULT_PROVIDER_ACCOUNT_SID,
    DEFAULT_PROVIDER_AUTH_TOKEN,
    REQUIRED_OUTSIDE_DEVELOPMENT,
    SECRET_SETTINGS,
    Settings,
    SettingsError,
    load_settings,
)
from tests.support.servers import ROOT

BASE = {"DATABASE_URL": "postgresql://db/comms", "REDIS_URL": "redis://redis/0"}
REAL_SECRETS = {
    "PROVIDER_ACCOUNT_SID": "AC" + "1" * 32,
    "PROVIDER_AUTH_TOKEN": "a-real-token",
    "CONSOLE_SESSION_SECRET": "a-real-session-secret",
}


# ---------------------------------------------------------------- reading the environment


def test_variables_named_like_the_fields() -> None:
    settings = load_settings({**BASE, "DB_POOL_MAX": "7", "LOG_LEVEL": "DEBUG", "API_PORT": ""})
    assert settings.database_url == "postgresql://db/comms"
    assert settings.db_pool_max == 7
    assert settings.log_level == "DEBUG"
    assert settings.api_port == 8000  # empty is unset


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_the_servers_are_required(missing: str) -> None:
    environ = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=f"{missing} \\(or {missing}_FILE\\) must be set"):
        load_settings(environ)


def test_a_malformed_value_is_refused() -> None:
    with pytest.raises(SettingsError, match="invalid setting"):
        load_settings({**BASE, "DB_POOL_MAX": "many"})


@pytest.mark.parametrize("field", SECRET_SETTINGS)
def test_each_secret_can_come_from_a_file(field: str, tmp_path: Path) -> None:
    secret = tmp_path / field
    secret.write_text("  from-the-file\n")
    environ = {**BASE, f"{field.upper()}_FILE": str(secret)}
    environ.pop(field.upper(), None)
    assert getattr(load_settings(environ), field) == "from-the-file"


def test_a_secret_file_beside_its_variable_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("one")
    environ = {**BASE, "PROVIDER_AUTH_TOKEN": "two", "PROVIDER_AUTH_TOKEN_FILE": str(secret)}
    with pytest.raises(SettingsError, match="PROVIDER_AUTH_TOKEN or PROVIDER_AUTH_TOKEN_FILE"):
        load_settings(environ)


def test_a_missing_or_empty_secret_file_is_refused(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    with pytest.raises(SettingsError, match=f"DATABASE_URL_FILE: cannot read {absent}"):
        load_settings({"REDIS_URL": "redis://r/0", "DATABASE_URL_FILE": str(absent)})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match=f"DATABASE_URL_FILE: {empty} is empty"):
        load_settings({"REDIS_URL": "redis://r/0", "DATABASE_URL_FILE": str(empty)})


def test_only_secrets_have_file_variants(tmp_path: Path) -> None:
    path = tmp_path / "level"
    path.write_text("DEBUG")
    assert load_settings({**BASE, "LOG_LEVEL_FILE": str(path)}).log_level == "INFO"


# ---------------------------------------------------------------- safe defaults


@pytest.mark.parametrize("environment", ["development", "test"])
def test_the_sandbox_defaults_pass_in_development_and_test(environment: str) -> None:
    settings = load_settings({**BASE, "ENVIRONMENT": environment})
    assert settings.provider_auth_token == DEFAULT_PROVIDER_AUTH_TOKEN
    assert settings.provider_account_sid == DEFAULT_PROVIDER_ACCOUNT_SID


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_elsewhere_missing_secrets_are_refused_and_named(environment: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**BASE, "ENVIRONMENT": environment})
    message = str(refused.value)
    assert f"ENVIRONMENT={environment}" in message
    for field in REQUIRED_OUTSIDE_DEVELOPMENT:
        assert field.upper() in message


@pytest.mark.parametrize("field", REQUIRED_OUTSIDE_DEVELOPMENT)
def test_each_required_secret_alone_is_refused_when_missing(field: str) -> None:
    environ = {**BASE, **REAL_SECRETS, "ENVIRONMENT": "production"}
    del environ[field.upper()]
    with pytest.raises(SettingsError, match=field.upper()):
        load_settings(environ)


@pytest.mark.parametrize(
    ("variable", "sandbox_value"),
    [
        ("PROVIDER_AUTH_TOKEN", DEFAULT_PROVIDER_AUTH_TOKEN),
        ("PROVIDER_ACCOUNT_SID", DEFAULT_PROVIDER_ACCOUNT_SID),
    ],
)
def test_the_sandbox_values_given_explicitly_are_refused(variable: str, sandbox_value: str) -> None:
    environ = {**BASE, **REAL_SECRETS, "ENVIRONMENT": "production", variable: sandbox_value}
    with pytest.raises(SettingsError, match=f"{variable} is unset or the sandbox's value"):
        load_settings(environ)


def test_real_secrets_start(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("file-token\n")
    environ = {**BASE, **REAL_SECRETS, "ENVIRONMENT": "production"}
    del environ["PROVIDER_AUTH_TOKEN"]
    environ["PROVIDER_AUTH_TOKEN_FILE"] = str(token)
    settings = load_settings(environ)
    assert settings.is_production
    assert settings.provider_auth_token == "file-token"


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "workers"],
        ["-c", "from service.asgi import app; app()"],
    ],
    ids=["worker", "api"],
)
def test_the_processes_refuse_to_start_without_secrets(command: list[str]) -> None:
    """The worker and the API's factory (what granian calls) stop before connecting anywhere."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PROVIDER_", "CONSOLE_"))},
        "ENVIRONMENT": "production",
        # Nothing listens there: the refusal must come first.
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none",
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "PROVIDER_AUTH_TOKEN is unset or the sandbox's value" in done.stderr, done.stderr


# ---------------------------------------------------------------- the README's table


def test_every_setting_has_a_description_in_env_example() -> None:
    docs = settings_docs.setting_docs((ROOT / ".env.example").read_text())
    assert [d.variable for d in docs] == [f.upper() for f in Settings.__struct_fields__]
    assert all(d.description for d in docs), [d.variable for d in docs if not d.description]


def test_the_readme_table_is_the_generated_one() -> None:
    generated = settings_docs.markdown_table((ROOT / ".env.example").read_text())
    held = settings_docs.table_in((ROOT / "README.md").read_text())
    assert held == generated, "run `uv run comms settings --write README.md`"


def test_the_table_marks_secrets_and_what_production_requires() -> None:
    table = settings_docs.markdown_table((ROOT / ".env.example").read_text())
    rows = {line.split("|")[1].strip(" `"): line for line in table.splitlines()[3:-1]}
    assert set(rows) == {f.upper() for f in Settings.__struct_fields__}
    assert "`PROVIDER_AUTH_TOKEN_FILE`" in rows["PROVIDER_AUTH_TOKEN"]
    assert "Required outside development and test" in rows["PROVIDER_AUTH_TOKEN"]
    assert "_FILE" not in rows["LOG_LEVEL"]
    assert "| required |" in rows["DATABASE_URL"]
    assert "| `8000` |" in rows["API_PORT"]


def test_env_example_comments_describe_the_variables_below_them() -> None:
    text = """# --- a section ---------
# header prose, not a variable's

# First line
# second line.
#ONE=1
#TWO=2
# Three's own.
THREE=3
"""
    assert settings_docs.env_example_descriptions(text) == {
        "ONE": "First line second line.",
        "TWO": "First line second line.",
        "THREE": "Three's own.",
    }


def test_replacing_the_table_keeps_the_rest(tmp_path: Path) -> None:
    document = f"before\n{settings_docs.TABLE_START}\nold\n{settings_docs.TABLE_END}\nafter\n"
    table = f"{settings_docs.TABLE_START}\nnew\n{settings_docs.TABLE_END}\n"
    replaced = settings_docs.replace_table(document, table)
    assert replaced == f"before\n{table}after\n"
    assert settings_docs.table_in(replaced) == table
