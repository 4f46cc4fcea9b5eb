"""``schakel render``: the XML the switch would get, or a clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from orchestrator.cli import main


@pytest.fixture
def config_file(demo_store, settings, tmp_path: Path) -> str:
    path = tmp_path / "schakel.toml"
    path.write_text(
        f'database_url = "{settings.database_url}"\n'
        f'templates_root = "{settings.templates_root}"\n'
    )
    return str(path)


def _run(config_file: str, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--config", config_file, "render", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_render_a_did_in_its_national_form(config_file: str, capsys) -> None:
    code, out, _ = _run(config_file, capsys, "dialplan", "public", "0317492345")
    assert code == 0
    doc = etree.fromstring(out.encode())
    names = [e.get("name") for e in doc.iter("extension")]
    assert "public:+31317492345" in names


def test_render_a_directory_user_of_the_settings_domain(config_file, capsys) -> None:
    code, out, _ = _run(config_file, capsys, "directory", "2301")
    assert code == 0
    doc = etree.fromstring(out.encode())
    assert doc.find("section/domain").get("name") == "pbx.local"
    assert [u.get("id") for u in doc.iter("user")] == ["2301"]


def test_render_a_configuration_file(config_file, capsys) -> None:
    code, out, _ = _run(config_file, capsys, "configuration", "callcenter.conf")
    assert code == 0
    assert etree.fromstring(out.encode()).find(".//configuration").get("name") == (
        "callcenter.conf"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dialplan", "public", "0201234567"), "leads nowhere in context 'public'"),
        (("dialplan", "nowhere", "2301"), "unknown context 'nowhere'"),
        (("dialplan",), "needs a context and a number"),
        (("directory", "9999"), "no SIP user '9999'"),
        (("configuration", "sofia.conf"), "not a configuration Schakel renders"),
    ],
)
def test_unknown_things_exit_non_zero_with_a_message(
    config_file, capsys, args, message
) -> None:
    code, out, err = _run(config_file, capsys, *args)
    assert code != 0
    assert out == ""
    assert message in err


def test_a_store_that_was_never_set_up_says_what_to_run(tmp_path: Path, capsys) -> None:
    path = tmp_path / "schakel.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "empty.db"}"\n')
    code, out, err = _run(str(path), capsys, "dialplan", "public", "0317492345")
    assert code == 2
    assert out == ""
    assert "schakel db upgrade" in err and "Traceback" not in err
