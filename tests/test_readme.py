"""What README.md tells a newcomer is true of the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)
    return [block.strip().splitlines() for block in blocks]


def test_the_first_commands_are_demo_and_test() -> None:
    assert code_blocks(README)[0] == ["scripts/demo", "scripts/test"]


def test_the_scripts_it_names_are_executable() -> None:
    for script in ("scripts/demo", "scripts/test", ".ci/run"):
        path = ROOT / script
        assert path.is_file() and os.access(path, os.X_OK), script
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash")


def test_every_repository_path_it_names_exists() -> None:
    named = set(re.findall(r"`(\.?[\w-]+/[\w./-]*)`", README))
    # Paths into the repository: those starting at one of its top-level entries
    # (not time zones, image names or system paths).
    ours = {p for p in named if (ROOT / p.split("/")[0]).exists()}

    missing = sorted(p for p in ours if not (ROOT / p).exists())
    assert ours and not missing, missing


def test_the_rtp_range_it_gives_is_the_switchs() -> None:
    switch_conf = ROOT / "freeswitch-conf" / "autoload_configs" / "switch.conf.xml"
    params = {
        p.get("name"): p.get("value")
        for p in etree.parse(str(switch_conf)).iter("param")
    }

    assert f"{params['rtp-start-port']}-{params['rtp-end-port']}/udp" in README
