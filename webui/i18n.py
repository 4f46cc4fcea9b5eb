"""Languages: Dutch by default, English second.

Only the ``.po`` catalogues are kept in the repository; the ``.mo`` files
gettext reads are compiled from them when the app starts, next to the ``.po``
when that directory is writable and into a cache directory otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from flask import Flask, current_app, g, session
from flask_babel import Babel, get_locale

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).with_name("translations")
LANGUAGES = {"nl": "Nederlands", "en": "English"}
DOMAIN = "messages"


class CatalogueError(RuntimeError):
    """A translation catalogue that cannot be read."""


def compile_catalogues(source: Path = TRANSLATIONS) -> Path:
    """Compile every ``.po`` under ``source``; return the directory to read."""
    target = source if _writable(source) else _cache_dir(source)
    for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        relative = po_path.relative_to(source).with_suffix(".mo")
        mo_path = target / relative
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        _compile(po_path, mo_path)
    return target


def _compile(po_path: Path, mo_path: Path) -> None:
    with po_path.open("rb") as fh:
        try:
            catalog = read_po(fh, locale=po_path.parent.parent.name, abort_invalid=True)
        except PoFileError as exc:
            raise CatalogueError(f"{po_path}: {exc}") from exc
    mo_path.parent.mkdir(parents=True, exist_ok=True)
    partial = mo_path.with_suffix(".mo.part")
    with partial.open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=False)
    partial.replace(mo_path)
    log.debug("compiled %s", mo_path)


def _writable(directory: Path) -> bool:
    probe = directory / ".write-probe"
    try:
        probe.touch()
        probe.unlink()
    except OSError:
        return False
    return True


def _cache_dir(source: Path) -> Path:
    tag = hashlib.sha256(str(source).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"schakel-translations-{tag}"


def select_language() -> str:
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask, default_language: str) -> None:
    if default_language not in LANGUAGES:
        default_language = "nl"
    directory = compile_catalogues()
    app.config["BABEL_DEFAULT_LOCALE"] = default_language
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    Babel(app, locale_selector=select_language)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
