"""Settings in layers: defaults < file < environment, and clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orchestrator.settings import Settings, SettingsError, load


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schakel.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    loaded = load(env={})

    assert loaded == Settings().derive()
    assert loaded.http_port == 8080
    assert loaded.redis_url == "memory://"
    assert loaded.database_url.startswith("sqlite:///")


def test_file_overrides_defaults(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'http_port = 9090\nsip_domain = "voip.example.nl"\n')

    loaded = load(path, env={})

    assert loaded.http_port == 9090
    assert loaded.sip_domain == "voip.example.nl"
    assert loaded.language == "nl"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'http_port = 9090\nsip_domain = "from-file"\n')

    loaded = load(path, env={"SCHAKEL_HTTP_PORT": "9191"})

    assert loaded.http_port == 9191
    assert loaded.sip_domain == "from-file"


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'gateway = "kpn"\n')

    assert load(env={"SCHAKEL_CONFIG": str(path)}).gateway == "kpn"


def test_plain_names_for_database_and_redis() -> None:
    env = {
        "DATABASE_URL": "postgresql://schakel@db/schakel",
        "REDIS_URL": "redis://cache:6379/2",
        # The SCHAKEL_ spelling is not how these two are read.
        "SCHAKEL_DATABASE_URL": "sqlite:///ignored.db",
    }

    loaded = load(env=env)

    assert loaded.database_url == "postgresql://schakel@db/schakel"
    assert loaded.redis_url == "redis://cache:6379/2"


def test_esl_url_is_split_into_derived_values() -> None:
    loaded = load(env={"SCHAKEL_ESL_URL": "esl://:s3cret@freeswitch:8022"})

    assert (loaded.esl_host, loaded.esl_port, loaded.esl_password) == (
        "freeswitch",
        8022,
        "s3cret",
    )


def test_esl_url_defaults_for_port_and_password() -> None:
    loaded = load(env={"SCHAKEL_ESL_URL": "esl://switch.internal"})

    assert (loaded.esl_port, loaded.esl_password) == (8021, "ClueCon")


def test_replace_derives_again() -> None:
    changed = load(env={}).replace(esl_url="esl://:pw@other:9000")

    assert (changed.esl_host, changed.esl_port) == ("other", 9000)


def test_derived_values_are_not_settable_from_the_environment() -> None:
    loaded = load(env={"SCHAKEL_ESL_PORT": "1", "SCHAKEL_ESL_URL": "esl://h:7"})

    assert loaded.esl_port == 7


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SCHAKEL_HTTP_PORT": "eighty"}, "http_port"),
        ({"SCHAKEL_SMTP_PORT": "25.5"}, "smtp_port"),
        ({"SCHAKEL_ESL_URL": "http://freeswitch:8021"}, "esl_url"),
        ({"SCHAKEL_ESL_URL": "esl://:pw@"}, "esl_url"),
        ({"SCHAKEL_ESL_URL": "esl://:pw@freeswitch:port"}, "esl_url"),
        ({"SCHAKEL_HTTP_PORT": "70000"}, "http_port"),
        ({"SCHAKEL_SMTP_PORT": "0"}, "smtp_port"),
    ],
)
def test_bad_environment_values_raise_settings_error(
    env: dict[str, str], words: str
) -> None:
    with pytest.raises(SettingsError, match=words):
        load(env=env)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "http_prot = 8080\n")

    with pytest.raises(SettingsError, match="http_prot"):
        load(path, env={})


def test_bad_value_in_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'smtp_port = "twenty-five"\n')

    with pytest.raises(SettingsError, match="smtp_port"):
        load(path, env={})


def test_derived_name_in_file_is_unknown(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "esl_port = 8022\n")

    with pytest.raises(SettingsError, match="esl_port"):
        load(path, env={})


def test_malformed_file_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "http_port = \n")

    with pytest.raises(SettingsError, match="schakel.toml"):
        load(path, env={})


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(SettingsError, match="nowhere.toml"):
        load(env={"SCHAKEL_CONFIG": str(missing)})


def test_settings_error_is_a_value_error() -> None:
    # Callers that only know ValueError still catch a bad setting.
    assert issubclass(SettingsError, ValueError)


def readme_settings_table() -> dict[str, tuple[str, str]]:
    """README's settings table: setting -> (environment variable, default)."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    rows = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`") and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2])
    return rows


def test_readme_lists_every_setting_with_its_variable_and_default() -> None:
    table = readme_settings_table()
    settable = [f for f in dataclasses.fields(Settings) if f.init]

    assert sorted(table) == sorted(f.name for f in settable)
    for f in settable:
        variable, default = table[f.name]
        probe = "esl://:p@probe:4242" if f.name == "esl_url" else "4242"
        assert getattr(load(env={variable: probe}), f.name) in (probe, 4242), (
            f"{variable} does not set {f.name}"
        )
        if f.name == "templates_root":
            continue
        shown = f"`{f.default}`" if f.default != "" else '`""`'
        assert default == shown, f"README shows {default} for {f.name}"
