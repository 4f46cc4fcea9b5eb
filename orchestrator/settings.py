"""Settings in layers: defaults, then a TOML file, then environment variables.

Every setting has a typed default here. A file named by ``--config`` or by
``SCHAKEL_CONFIG`` may override any of them (same names, lower case), and the
environment overrides both (``DATABASE_URL``, ``REDIS_URL``, ``SCHAKEL_ESL_URL``
and ``SCHAKEL_<NAME>`` for the rest). Derived values are computed in
:meth:`Settings.derive`, nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

# Environment names that do not follow the SCHAKEL_<NAME> pattern, because
# they are the names every tool of the field already uses.
_PLAIN_ENV = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


# The secret key until one is set: the web app warns while it is in use.
DEFAULT_SECRET_KEY = "change-me"


@dataclass
class Settings:
    # Store: SQLite in the working directory is the embedded default.
    database_url: str = "sqlite:///var/schakel.db"
    # Live state; "memory://" keeps it in-process (demo without a Redis server).
    redis_url: str = "memory://"
    # Event Socket of the switch: esl://:password@host:port
    esl_url: str = "esl://:ClueCon@127.0.0.1:8021"
    # Web app and xml_curl endpoint.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    secret_key: str = DEFAULT_SECRET_KEY
    # The address people use to reach the web app (behind the TLS proxy), e.g.
    # https://telefonie.example.nl; sign-in redirects are built from it. Empty:
    # http://http_host:http_port.
    public_url: str = ""
    # Sign-in with Microsoft Entra ID (OpenID Connect); off while any is empty.
    entra_tenant_id: str = ""
    entra_client_id: str = ""
    entra_client_secret: str = ""
    entra_authority_host: str = "https://login.microsoftonline.com"
    # The SIP domain users register in, and the switch's external profile.
    sip_domain: str = "pbx.local"
    gateway: str = "trunk"
    country: str = "NL"
    language: str = "nl"
    timezone: str = "Europe/Amsterdam"
    # Outgoing mail (voicemail to e-mail).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "schakel@localhost"
    # Where recordings, voicemail and generated prompts live on the switch.
    sounds_dir: str = "/var/lib/schakel/sounds"
    voicemail_dir: str = "/var/lib/schakel/voicemail"
    templates_root: str = str(ROOT)
    # The xml_curl endpoint: the switch calls it without credentials unless
    # these are set (HTTP basic auth in xml_curl.conf's gateway-credentials).
    xml_curl_user: str = ""
    xml_curl_password: str = ""
    # Addresses or networks (comma-separated) that may call it; empty: any.
    xml_curl_allow: str = ""
    # Carriers that deliver only the last N digits of a DID; 0: whole numbers.
    trunk_did_digits: int = 0
    # How long the switch keeps a directory entry (ms); publishing flushes it.
    directory_cache_ms: int = 300000
    # Derived (see derive()); not read from files or the environment.
    esl_host: str = field(default="127.0.0.1", init=False)
    esl_port: int = field(default=8021, init=False)
    esl_password: str = field(default="ClueCon", init=False)

    def derive(self) -> Settings:
        parts = urlsplit(self.esl_url)
        if parts.scheme != "esl" or not parts.hostname:
            raise SettingsError(
                f"esl_url must look like esl://:password@host:port, got {self.esl_url!r}"
            )
        try:
            port = parts.port
        except ValueError:
            raise SettingsError(
                f"esl_url has no valid port (1-65535): {self.esl_url!r}"
            ) from None
        self.esl_host = parts.hostname
        self.esl_port = port or 8021
        self.esl_password = parts.password or "ClueCon"
        for name in ("http_port", "smtp_port", "esl_port"):
            if not 0 < getattr(self, name) < 65536:
                raise SettingsError(
                    f"{name} must be a TCP port (1-65535), got {getattr(self, name)}"
                )
        return self

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes).derive()


def _settable() -> dict[str, type]:
    return {f.name: f.type for f in fields(Settings) if f.init}


def _coerce(name: str, value: Any, kind: Any) -> Any:
    if kind in (int, "int"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{name} must be a whole number, got {value!r}"
            ) from None
    return str(value)


def load(
    path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> Settings:
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    kinds = _settable()

    path = path or env.get("SCHAKEL_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        for key, value in data.items():
            if key not in kinds:
                raise SettingsError(f"unknown setting {key!r} in {path}")
            values[key] = _coerce(key, value, kinds[key])

    for name, kind in kinds.items():
        env_name = _PLAIN_ENV.get(name, f"SCHAKEL_{name.upper()}")
        if env_name in env:
            values[name] = _coerce(name, env[env_name], kind)

    return Settings(**values).derive()
