"""docker-compose.yml is wired to what the code and the switch really read.

Docker does not run here, so these tests read the files the containers would
get: the compose file (with compose's own variable interpolation, fed from
deploy/env.example), FreeSWITCH's start-up files (through the bind mounts and
FreeSWITCH's preprocessor rules), the Caddyfile and the Dockerfile.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from lxml import etree

from orchestrator import cli
from orchestrator.settings import Settings, SettingsError, load

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
SCHAKEL_DOCKERFILE = "deploy/Dockerfile"
FS_CONF = PurePosixPath("/etc/freeswitch")

# --- compose's variable interpolation -----------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A ``${NAME:?message}`` variable is unset or empty."""


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        value, op = env.get(name), match["op"]
        empty = value is None or (value == "" and op and op.startswith(":"))
        if op and op.endswith("-"):
            return match["arg"] if empty else value
        if op and op.endswith("?") and empty:
            raise MissingVariable(f"{name}: {match['arg']}")
        return value or ""

    return _VARIABLE.sub(one, text)


def variables_used(text: str) -> set[str]:
    return {
        m["braced"] or m["plain"] for m in _VARIABLE.finditer(text) if not m["escaped"]
    }


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def filled_env() -> dict[str, str]:
    """env.example with the blanks an operator must fill filled in."""
    env = read_env_file(ENV_EXAMPLE)
    required = {
        name
        for name in variables_used(COMPOSE.read_text())
        if f"{name}:?" in COMPOSE.read_text()
    }
    for name in required:
        if not env.get(name):
            env[name] = f"{name.lower().replace('_', '')}0123"
    return env


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    return interpolate_tree(raw_compose, filled_env())


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def is_schakel(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return isinstance(build, dict) and build.get("dockerfile") == SCHAKEL_DOCKERFILE


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def schakel_settings(service: dict[str, Any]) -> Settings:
    return load(env=environment(service))


def service_running(compose: dict[str, Any], *argv: str) -> str:
    """The one service whose command is exactly ``argv``."""
    found = [
        name
        for name, service in services(compose).items()
        if is_schakel(service) and tuple(service.get("command", ())) == argv
    ]
    assert len(found) == 1, f"expected one service running {argv}, got {found}"
    return found[0]


# --- FreeSWITCH's preprocessor over the bind mounts ---------------------------

_PRE_PROCESS = re.compile(
    r'<X-PRE-PROCESS\s+cmd="(?P<cmd>[^"]+)"\s+data="(?P<data>[^"]*)"\s*/>', re.I
)
_FS_VARIABLE = re.compile(r"\$\$\{([^}]+)\}")


def container_files(compose: dict[str, Any], service: str) -> dict[PurePosixPath, Path]:
    """Where each bind mount of ``service`` puts repository paths."""
    mounts = {}
    for volume in services(compose)[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[PurePosixPath(target)] = ROOT / source
    return mounts


def resolve(mounts: dict[PurePosixPath, Path], path: PurePosixPath) -> Path | None:
    for target, source in mounts.items():
        if path == target:
            return source
        if target in path.parents:
            return source / path.relative_to(target)
    return None


def fs_preprocess(
    mounts: dict[PurePosixPath, Path],
    path: PurePosixPath,
    env: dict[str, str],
    variables: dict[str, str],
) -> str:
    """The document FreeSWITCH builds from ``path``, as its preprocessor does.

    Line by line: $${name} is expanded first, lines with <include>, </include>
    or <? are dropped, and an X-PRE-PROCESS instruction (one per line) sets a
    variable, takes one from the environment or includes files.
    """
    source = resolve(mounts, path)
    assert source is not None and source.is_file(), f"{path} is not mounted"
    out = []
    for line in source.read_text(encoding="utf-8").splitlines():
        line = _FS_VARIABLE.sub(lambda m: variables[m[1]], line)
        if "<include>" in line or "</include>" in line or "<?" in line:
            continue
        instruction = _PRE_PROCESS.search(line)
        if not instruction:
            out.append(line)
            continue
        cmd, data = instruction["cmd"].lower(), instruction["data"]
        name, _, value = data.partition("=")
        if cmd == "set":
            variables[name.strip()] = value.strip()
        elif cmd == "env-set":
            # Only "$NAME" reads the environment; an unset NAME changes nothing.
            if value.startswith("$") and value[1:] in env:
                variables[name] = env[value[1:]]
        elif cmd == "include":
            out.append(fs_preprocess(mounts, FS_CONF / data, env, variables))
        else:
            pytest.fail(f"unexpected preprocessor instruction {cmd} in {path}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def switch_config(compose: dict[str, Any]) -> etree._Element:
    """FreeSWITCH's whole start-up document, as the container would see it."""
    mounts = container_files(compose, "freeswitch")
    env = environment(services(compose)["freeswitch"])
    text = fs_preprocess(mounts, FS_CONF / "freeswitch.xml", env, {})
    return etree.fromstring(text.encode())


def configuration(root: etree._Element, name: str) -> etree._Element:
    (found,) = root.xpath(
        "section[@name='configuration']/configuration[@name=$n]", n=name
    )
    return found


def params(node: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in node.iter("param")}


# --- the tests ------------------------------------------------------------------


def test_every_image_is_pinned(raw_compose: dict[str, Any]) -> None:
    for name, service in raw_compose["services"].items():
        if is_schakel(service):
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image}"


def test_schakel_services_are_built_from_the_dockerfile(
    raw_compose: dict[str, Any],
) -> None:
    built = [s for s in raw_compose["services"].values() if is_schakel(s)]

    assert len(built) >= 2
    assert (ROOT / SCHAKEL_DOCKERFILE).is_file()
    assert len({s["image"] for s in built}) == 1


def test_the_base_image_of_the_dockerfile_is_pinned() -> None:
    text = (ROOT / SCHAKEL_DOCKERFILE).read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM\s+(\S+)", text, re.M)

    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", base), base


def _probe_values(name: str) -> list[str]:
    return ["4242", "esl://:probe@probe-host:4242", f"probe-{name.lower()}"]


@pytest.mark.parametrize(
    "name",
    sorted(set(yaml.safe_load(COMPOSE.read_text())["x-schakel-environment"])),
)
def test_every_variable_given_to_schakel_is_read_by_settings(name: str) -> None:
    baseline = load(env={})
    changed = []
    for probe in _probe_values(name):
        try:
            changed.append(load(env={name: probe}) != baseline)
        except SettingsError:
            # The name is read: the probe was not a valid value for it.
            changed.append(True)

    assert any(changed), f"Settings does not read {name}"


def test_schakel_services_share_one_environment(raw_compose: dict[str, Any]) -> None:
    envs = [environment(s) for s in raw_compose["services"].values() if is_schakel(s)]

    assert all(env == envs[0] for env in envs)


def test_compose_settings_load_and_point_at_the_services(
    compose: dict[str, Any],
) -> None:
    orchestrator = services(compose)[service_running(compose, "schakel", "serve")]
    loaded = schakel_settings(orchestrator)
    database = urlsplit(loaded.database_url)
    redis = urlsplit(loaded.redis_url)

    assert database.hostname in services(compose) and database.port == 5432
    assert redis.hostname in services(compose) and redis.port == 6379
    assert loaded.esl_host == "freeswitch" and "freeswitch" in services(compose)
    assert loaded.http_host == "0.0.0.0"
    assert loaded.http_port == Settings().http_port
    assert loaded.public_url == "https://" + filled_env()["PUBLIC_HOST"]


def test_database_credentials_match_the_postgres_service(
    compose: dict[str, Any],
) -> None:
    postgres = environment(services(compose)["postgres"])
    loaded = schakel_settings(services(compose)["orchestrator"])
    url = urlsplit(loaded.database_url)

    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path == "/" + postgres["POSTGRES_DB"]


def test_env_example_lists_exactly_the_variables_compose_uses() -> None:
    used = variables_used(COMPOSE.read_text(encoding="utf-8"))
    # Escaped ($$NAME) references belong to the containers' shells.
    used -= {"FREESWITCH_ESL_PASSWORD"}

    assert used == set(read_env_file(ENV_EXAMPLE))


def test_required_variables_stop_compose_when_unset(
    raw_compose: dict[str, Any],
) -> None:
    env = filled_env()
    del env["ESL_PASSWORD"]

    with pytest.raises(MissingVariable, match="ESL_PASSWORD"):
        interpolate_tree(raw_compose, env)


def test_commands_are_ones_the_cli_accepts(compose: dict[str, Any]) -> None:
    parser = cli.build_parser()
    for name, service in services(compose).items():
        if is_schakel(service):
            command = service["command"]
            assert command[0] == "schakel", name
            parser.parse_args(command[1:])


def test_one_orchestrator_drives_the_switch(compose: dict[str, Any]) -> None:
    service_running(compose, "schakel", "serve")
    service_running(compose, "schakel", "serve", "--no-esl")


def test_event_socket_listens_where_the_orchestrator_connects(
    compose: dict[str, Any], switch_config: etree._Element
) -> None:
    esl = params(configuration(switch_config, "event_socket.conf"))
    loaded = schakel_settings(services(compose)["orchestrator"])

    assert esl["listen-ip"] == "0.0.0.0"
    assert int(esl["listen-port"]) == loaded.esl_port
    assert esl["password"] == loaded.esl_password
    assert str(loaded.esl_port) in services(compose)["freeswitch"]["expose"]


def test_event_socket_admits_the_compose_network(switch_config: etree._Element) -> None:
    esl = params(configuration(switch_config, "event_socket.conf"))
    acl = configuration(switch_config, "acl.conf")
    (network_list,) = acl.xpath(
        "network-lists/list[@name=$n]", n=esl["apply-inbound-acl"]
    )
    allowed = {node.get("cidr") for node in network_list if node.get("type") == "allow"}

    assert network_list.get("default") == "deny"
    # Docker's default address pools, and loopback for the health check.
    assert {"127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= allowed


def test_esl_password_default_is_the_one_settings_assume(
    compose: dict[str, Any],
) -> None:
    mounts = container_files(compose, "freeswitch")
    variables: dict[str, str] = {}
    fs_preprocess(mounts, FS_CONF / "vars.xml", {}, variables)

    assert variables["esl_password"] == Settings().derive().esl_password


def test_xml_curl_asks_the_orchestrator(
    compose: dict[str, Any], switch_config: etree._Element
) -> None:
    xml_curl = configuration(switch_config, "xml_curl.conf")
    (gateway,) = xml_curl.xpath("bindings/binding/param[@name='gateway-url']")
    url = urlsplit(gateway.get("value"))
    orchestrator = service_running(compose, "schakel", "serve")
    loaded = schakel_settings(services(compose)[orchestrator])

    assert (url.scheme, url.hostname, url.port) == ("http", orchestrator, 8080)
    assert url.port == loaded.http_port
    assert url.path == "/freeswitch/xml"
    assert set(gateway.get("bindings").split("|")) == {
        "dialplan",
        "directory",
        "configuration",
    }


def test_switch_presents_the_credentials_the_endpoint_wants(
    compose: dict[str, Any], switch_config: etree._Element
) -> None:
    xml_curl = params(configuration(switch_config, "xml_curl.conf"))
    loaded = schakel_settings(services(compose)["orchestrator"])

    assert loaded.xml_curl_user and loaded.xml_curl_password
    assert xml_curl["gateway-credentials"] == (
        f"{loaded.xml_curl_user}:{loaded.xml_curl_password}"
    )


def test_modules_load_in_an_order_that_works(switch_config: etree._Element) -> None:
    modules = [
        load_.get("module")
        for load_ in configuration(switch_config, "modules.conf").iter("load")
    ]

    # Modules loaded after mod_xml_curl fetch their configuration from the
    # orchestrator; the Event Socket must not depend on that.
    assert modules.index("mod_event_socket") < modules.index("mod_xml_curl")
    assert modules.index("mod_xml_curl") < modules.index("mod_sofia")
    assert {"mod_dialplan_xml", "mod_commands", "mod_dptools"} <= set(modules)
    assert len(modules) == len(set(modules))


def test_rtp_range_is_published(
    compose: dict[str, Any], switch_config: etree._Element
) -> None:
    core = params(configuration(switch_config, "switch.conf"))
    wanted = f"{core['rtp-start-port']}-{core['rtp-end-port']}"

    assert f"{wanted}:{wanted}/udp" in services(compose)["freeswitch"]["ports"]


def test_the_whole_start_up_document_is_well_formed(
    switch_config: etree._Element,
) -> None:
    names = set(switch_config.xpath("section/configuration/@name"))

    assert switch_config.tag == "document"
    assert switch_config.get("type") == "freeswitch/xml"
    assert {
        "switch.conf",
        "modules.conf",
        "acl.conf",
        "logfile.conf",
        "event_socket.conf",
        "xml_curl.conf",
    } <= names


def test_bind_mounts_exist_and_named_volumes_are_declared(
    compose: dict[str, Any],
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} undeclared"


def test_switch_and_schakel_share_sounds_and_voicemail(
    compose: dict[str, Any],
) -> None:
    loaded = schakel_settings(services(compose)["orchestrator"])
    for directory in (loaded.sounds_dir, loaded.voicemail_dir):
        holders = {
            name
            for name, service in services(compose).items()
            for volume in service.get("volumes", [])
            if volume.split(":")[1] == directory
        }
        sources = {
            volume.split(":")[0]
            for service in services(compose).values()
            for volume in service.get("volumes", [])
            if volume.split(":")[1] == directory
        }

        assert {"freeswitch", "orchestrator", "web"} <= holders, directory
        assert len(sources) == 1, directory


# --- the TLS proxy ----------------------------------------------------------------


@pytest.fixture(scope="module")
def caddyfile(compose: dict[str, Any]) -> str:
    mounts = container_files(compose, "proxy")
    path = resolve(mounts, PurePosixPath("/etc/caddy/Caddyfile"))
    assert path is not None
    return path.read_text(encoding="utf-8")


def test_proxy_forwards_to_the_web_app(compose: dict[str, Any], caddyfile: str) -> None:
    (target,) = re.findall(r"reverse_proxy\s+(\S+)", caddyfile)
    host, _, port = target.partition(":")
    web = service_running(compose, "schakel", "serve", "--no-esl")

    assert host == web
    assert int(port) == schakel_settings(services(compose)[web]).http_port


def test_proxy_variables_come_from_its_environment(
    compose: dict[str, Any], caddyfile: str
) -> None:
    used = set(re.findall(r"\{\$([A-Z_]+)\}", caddyfile))

    assert used and used <= set(environment(services(compose)["proxy"]))


def test_proxy_speaks_tls_1_2_and_up_with_hsts(caddyfile: str) -> None:
    (protocols,) = re.findall(r"^\s*protocols\s+(.+)$", caddyfile, re.M)
    (hsts,) = re.findall(r'Strict-Transport-Security\s+"([^"]+)"', caddyfile)
    max_age = int(re.search(r"max-age=(\d+)", hsts)[1])

    assert protocols.split() == ["tls1.2", "tls1.3"]
    assert max_age >= 31536000


def test_proxy_hides_the_switch_endpoint(caddyfile: str) -> None:
    assert re.search(r"handle /freeswitch/\*\s*\{\s*respond 404\s*\}", caddyfile)


def test_only_the_proxy_and_the_switch_publish_ports(compose: dict[str, Any]) -> None:
    publishing = {name for name, s in services(compose).items() if s.get("ports")}

    assert publishing == {"proxy", "freeswitch"}
