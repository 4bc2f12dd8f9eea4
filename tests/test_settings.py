"""bot/settings.py: typed loading with errors that name the variable, `config show`, the README table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.settings import (
    PROJECT_ROOT,
    VARIABLES,
    SettingsError,
    load,
    markdown,
    readme_block,
    settings,
    show,
    validate,
)

pytestmark = pytest.mark.usefixtures("no_process_wide_masking")


def test_defaults_are_typed() -> None:
    cfg = load({"BOT_VAR_DIR": "/srv/bot"})
    assert cfg.core.var_dir == Path("/srv/bot") and cfg.core.database_url == "sqlite:////srv/bot/bot.db"
    assert cfg.core.rasa_port == 5005 and cfg.core.cors_origins == ("http://127.0.0.1:5005", "http://localhost:5005")
    assert cfg.dossiers.watch_interval == 300.0 and cfg.dossiers.demo_data is True
    assert cfg.runtime.rasa_url == "http://127.0.0.1:5005"
    assert cfg.sources["DATABASE_URL"] == "default" and not cfg.is_set("CORS_ORIGINS")


def test_environment_wins_and_empty_means_unset() -> None:
    cfg = load({"RASA_PORT": "6000", "BIND_HOST": "", "DEMO_DATA": "không", "CORS_ORIGINS": " a , ,b "})
    assert cfg.core.rasa_port == 6000 and cfg.core.bind_host == "127.0.0.1"
    assert cfg.runtime.rasa_url == "http://127.0.0.1:6000", "a derived default follows the variables it uses"
    assert cfg.dossiers.demo_data is False and cfg.core.cors_origins == ("a", "b") and cfg.is_set("CORS_ORIGINS")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RASA_PORT", "abc", "whole number"),
        ("MAX_REQUEST_BYTES", "10", "at least 10000"),
        ("ONEDOOR_TIMEOUT", "soon", "a number"),
        ("DOSSIER_WATCH_INTERVAL", "5m", "a number"),
        ("DEMO_DATA", "maybe", "1 or 0"),
        ("DOSSIER_SOURCE", "ftp", "one of sql, http"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{name} must .*{expected}"):
        load({name: value})


def test_validate_checks_combinations() -> None:
    with pytest.raises(SettingsError, match="ONEDOOR_BASE_URL"):
        validate(load({"DOSSIER_SOURCE": "http"}))
    validate(load({"DOSSIER_SOURCE": "http", "ONEDOOR_BASE_URL": "https://motcua.example/api"}))


def test_generated_secrets_are_lazy_and_never_in_repr(tmp_path: Path) -> None:
    cfg = load({"BOT_VAR_DIR": str(tmp_path), "RASA_TOKEN": "from-env-token", "TELEGRAM_BOT_TOKEN": "1:tg"})
    assert not (tmp_path / "secrets").exists(), "loading must not create secret files"
    assert cfg.runtime.rasa_token.reveal() == "from-env-token"
    generated = cfg.runtime.action_server_token.reveal()
    assert (tmp_path / "secrets" / "action_server_token").read_text().strip() == generated
    assert load({"BOT_VAR_DIR": str(tmp_path)}).runtime.action_server_token.reveal() == generated
    assert "from-env-token" not in repr(cfg) and "1:tg" not in repr(cfg) and generated not in repr(cfg)


def test_show_masks_every_secret(tmp_path: Path) -> None:
    env = {v.name: f"secret-value-{i}" for i, v in enumerate(VARIABLES) if v.secret}
    env |= {"BOT_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql://bot:pg-password@db/bot"}
    text = show(load(env))
    assert "secret-value" not in text and "pg-password" not in text
    assert "postgresql://bot:••••@db/bot" in text
    line = next(line for line in text.splitlines() if "TELEGRAM_BOT_TOKEN" in line)
    assert "••••" in line and "(environment)" in line
    assert all(v.name in text for v in VARIABLES)


def test_config_show_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_SECRET", "a-session-secret")
    monkeypatch.setenv("HELPDESK_HOTLINE", "1900 1234")
    # The running test bot (a session fixture) sets RASA_TOKEN for the whole session.
    monkeypatch.delenv("RASA_TOKEN", raising=False)
    settings.cache_clear()
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "a-session-secret" not in out and "SESSION_SECRET" in out
    assert re.search(r"HELPDESK_HOTLINE\s+1900 1234\s+\(environment\)", out)
    assert re.search(r"RASA_TOKEN\s+\(generated on first use\)", out)


def test_cli_reports_a_bad_variable_without_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "BOT_VAR_DIR": str(tmp_path), "ACTION_PORT": "fifty"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "config", "show"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: ACTION_PORT must be a whole number, got 'fifty'"


def test_readme_table_is_generated_from_the_registry() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_block(readme) == markdown(), "run `python -m bot config markdown --update`"
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme_block(readme), flags=re.M))
    assert documented == {v.name for v in VARIABLES}


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [] if value is None else [str(value)]


@pytest.mark.parametrize("name", ["endpoints.yml", "endpoints.prod.yml", "credentials.yml"])
def test_every_variable_rasa_reads_is_a_setting(name: str) -> None:
    # Rasa expands ${VAR} in these files itself; declared, each is in `config show`, the README and
    # the start-up check, and bot.channels.credentials (which sees only the registry) can enable channels.
    data = yaml.safe_load((PROJECT_ROOT / name).read_text(encoding="utf-8")) or {}
    referenced = {var for text in _strings(data) for var in re.findall(r"\$\{([^}]+)\}", text)}
    assert referenced - {v.name for v in VARIABLES} == set()
    if name != "endpoints.yml":  # the local profile has none: the runner writes its values
        assert referenced


def test_production_profile_variables() -> None:
    assert load({}).production.tracker_db_port is None, "unset: no default, Rasa needs it set"
    cfg = load({"TRACKER_DB_PORT": "5432", "REDIS_DB": "0", "TRACKER_DB_PASSWORD": "pg-secret"})
    assert cfg.production.tracker_db_port == 5432 and cfg.production.redis_db == 0
    assert "pg-secret" not in repr(cfg) and "pg-secret" not in show(cfg)
    with pytest.raises(SettingsError, match=r"^REDIS_PORT must be a whole number"):
        load({"REDIS_PORT": "redis"})


def test_only_the_settings_module_reads_the_environment() -> None:
    # Setting a variable for a child process (`os.environ[...] = ...`, `.update(...)`) is allowed.
    write = re.compile(r"^\s*os\.environ(\[[^]]+\]\s*=[^=]|\.update\()")
    offenders = []
    for folder in ("bot", "actions"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path == PROJECT_ROOT / "bot" / "settings.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                reads = ("os.environ" in line or "getenv(" in line) and not write.match(line)
                if reads or re.match(r"\s*def _env\w*\(", line):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert offenders == []
