"""Rendering FreeSWITCH XML (directory, dialplan, configuration) from templates.

All XML is written by the Jinja templates under ``dialplans/`` and
``freeswitch-conf/`` with autoescape on; this module only chooses the
template and what it sees. Each answer is rendered once per published
revision and kept in the view's cache, so the switch's requests cost a
dictionary lookup once warm.

A ``None`` answer means "not found": the switch then falls back to its own
static files (configuration) or refuses (directory, dialplan).
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import sys
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

import jinja2
from sqlalchemy.exc import DBAPIError

from orchestrator import settings as settings_mod
from orchestrator.config.view import (
    CONTEXTS,
    ConfigView,
    DirectoryEntry,
    HuntGroupView,
    Route,
    UserView,
    ViewCache,
)
from orchestrator.domain.routing import TEMPLATE_GLOBALS as ROUTING_GLOBALS
from orchestrator.domain.traffic import RIGHTS_VARIABLE, DialRule, dial_rules
from orchestrator.settings import Settings
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

NOT_FOUND_TEMPLATE = "freeswitch-conf/not-found.xml.j2"
DIRECTORY_TEMPLATE = "freeswitch-conf/directory.xml.j2"
_CONF_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,60}\.conf$")


class RenderError(LookupError):
    """The thing asked for does not exist (unknown context, user, file)."""


class ViewSource(Protocol):
    def current(self) -> ConfigView: ...


class FixedView:
    """A view source that always gives the same view (validation, tests)."""

    def __init__(self, view: ConfigView) -> None:
        self.view = view

    def current(self) -> ConfigView:
        return self.view


@lru_cache(maxsize=8)
def environment(templates_root: str) -> jinja2.Environment:
    """The Jinja environment over the repository's template folders."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_root),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["legs"] = legs
    env.globals.update(ROUTING_GLOBALS)
    return env


def legs(users: Iterable[UserView], domain: str) -> str:
    """A bridge string ringing every device of ``users`` at once."""
    return ",".join(
        f"user/{device.sip_user}@{domain}" for user in users for device in user.devices
    )


class Renderer:
    """Answers for the three xml_curl sections, from the current view."""

    def __init__(self, settings: Settings, views: ViewSource) -> None:
        self.settings = settings
        self.views = views
        self.env = environment(settings.templates_root)
        self._not_found = self.env.get_template(NOT_FOUND_TEMPLATE).render()

    @property
    def not_found(self) -> str:
        return self._not_found

    # --- directory ---------------------------------------------------------

    def render_directory(
        self, domain: str, user: str | None = None, *, purpose: str | None = None
    ) -> str | None:
        """A user's directory entry, or the domain alone (no ``user``)."""
        view = self.views.current()
        if not domain and purpose in ("gateways", "network-list") and not user:
            # These lookups walk the whole directory: no domain is named.
            domain = view.domain
        if not domain or domain.lower() != view.domain.lower():
            return None
        if user:
            user = user.split("@", 1)[0]
            key: tuple[Any, ...] = ("directory", user)
        else:
            key = ("directory", None, purpose)
        if key in view.rendered:
            return view.rendered[key]
        answer = self._directory(view, user, purpose)
        view.rendered[key] = answer
        return answer

    def render_whole_directory(self) -> str:
        """Every directory user in one document (for checks, never the switch)."""
        view = self.views.current()
        return self._directory_document(
            view,
            list(view.directory.values()),
            None,
            list(view.group_boxes.values()),
        )

    def _directory(
        self, view: ConfigView, user: str | None, purpose: str | None
    ) -> str | None:
        entries = []
        boxes = []
        if user:
            entry = view.directory.get(user)
            box = view.group_boxes.get(user)
            if entry is None and box is None:
                return None
            entries.extend([entry] if entry is not None else [])
            boxes.extend([box] if box is not None else [])
        return self._directory_document(view, entries, purpose, boxes)

    def _directory_document(
        self,
        view: ConfigView,
        entries: list[DirectoryEntry],
        purpose: str | None,
        boxes: list[HuntGroupView] | None = None,
    ) -> str:
        return self.env.get_template(DIRECTORY_TEMPLATE).render(
            view=view,
            domain=view.domain,
            entries=entries,
            boxes=boxes or [],
            box_password=secrets.token_hex(32),
            purpose=purpose,
            cache_ms=self.settings.directory_cache_ms,
            rights_variable=RIGHTS_VARIABLE,
        )

    def warm(self) -> int:
        """Render every answer of the current revision ahead of the switch.

        The first request for a user or number pays for its rendering; a
        process that warms up first answers every request from the cache.
        Returns how many answers were rendered.
        """
        view = self.views.current()
        count = 0
        for user in [*view.directory, *view.group_boxes]:
            self.render_directory(view.domain, user)
            count += 1
        for context, routes in view.routes.items():
            for called in routes:
                self.render_dialplan(context, called)
                count += 1
        return count

    # --- dialplan ----------------------------------------------------------

    def render_dialplan(
        self,
        context: str,
        destination: str | None = None,
        form: Mapping[str, str] | None = None,
    ) -> str | None:
        """The dialplan of ``context`` for ``destination`` (all of it if None).

        Only the extension the destination hits is rendered, plus the
        context's general rules (outbound, refusal): the switch still hunts
        through the answer itself, and a context of thousands of numbers
        would cost it a large parse per call.
        """
        view = self.views.current()
        if context not in CONTEXTS:
            return None
        route = view.route(context, destination) if destination else None
        if destination is None:
            key: tuple[Any, ...] = ("dialplan", context, "*")
        else:
            key = ("dialplan", context, route.key if route else None)
        if form is not None:
            log.debug(
                "dialplan %s/%s for call %s: %s",
                context,
                destination,
                form.get("Unique-ID") or form.get("Channel-Call-UUID"),
                route.label if route else "no route",
            )
        if key in view.rendered:
            return view.rendered[key]
        if destination is None:
            routes = sorted(view.routes[context].values(), key=lambda r: r.key)
        else:
            routes = [route] if route else []
        answer = self._dialplan(view, context, routes)
        view.rendered[key] = answer
        return answer

    def _dialplan(self, view: ConfigView, context: str, routes: list[Route]) -> str:
        template = self.env.get_template(f"dialplans/{context}.xml.j2")
        return template.render(
            view=view,
            context=context,
            routes=routes,
            domain=view.domain,
            gateway=view.gateway,
            dial_rules=self.dial_rules(view),
            rights_variable=RIGHTS_VARIABLE,
        )

    @staticmethod
    def dial_rules(view: ConfigView) -> list[DialRule]:
        if view.own_area:
            return dial_rules(view.own_area)
        # Without a main number there is no own area: every call is national.
        return [r for r in dial_rules() if r.kind.value != "local"]

    # --- configuration -----------------------------------------------------

    def render_configuration(
        self, name: str, form: Mapping[str, str] | None = None
    ) -> str | None:
        """A module's configuration file, if Schakel renders that one."""
        if not name or not _CONF_NAME.match(name):
            return None
        view = self.views.current()
        key = ("configuration", name)
        if key in view.rendered:
            return view.rendered[key]
        try:
            template = self.env.get_template(f"freeswitch-conf/configuration/{name}.j2")
        except jinja2.TemplateNotFound:
            answer = None
        else:
            answer = template.render(view=view, domain=view.domain, name=name)
        view.rendered[key] = answer
        return answer


# --- command line -------------------------------------------------------------


def cli(args: argparse.Namespace) -> int:
    """``schakel render dialplan|directory|configuration ARGS...``."""
    cfg = settings_mod.load(args.config)
    store = Store(cfg.database_url)
    try:
        renderer = Renderer(cfg, ViewCache(store, cfg))
        xml = render_for_cli(renderer, args.section, list(args.args))
    except RenderError as exc:
        print(f"schakel render: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        print(
            f"schakel render: the store at {store.engine.url!r} cannot be read "
            f"({exc.orig}); run 'schakel db upgrade' and 'schakel seed' first",
            file=sys.stderr,
        )
        return 2
    finally:
        store.dispose()
    sys.stdout.write(xml)
    return 0


def render_for_cli(renderer: Renderer, section: str, args: list[str]) -> str:
    """The XML for one ``schakel render`` request, or :class:`RenderError`."""
    if section == "dialplan":
        return _cli_dialplan(renderer, args)
    if section == "directory":
        return _cli_directory(renderer, args)
    if section == "configuration":
        if len(args) != 1:
            raise RenderError("configuration needs one file name, e.g. callcenter.conf")
        answer = renderer.render_configuration(args[0])
        if answer is None:
            raise RenderError(
                f"{args[0]!r} is not a configuration Schakel renders "
                "(the switch uses its own file)"
            )
        return answer
    raise RenderError(f"unknown section {section!r}")


def _cli_dialplan(renderer: Renderer, args: list[str]) -> str:
    if not 1 <= len(args) <= 2:
        raise RenderError(
            "dialplan needs a context and a number, e.g. public 0317492345"
        )
    context = args[0]
    if context not in CONTEXTS:
        raise RenderError(f"unknown context {context!r} (known: {', '.join(CONTEXTS)})")
    destination = args[1] if len(args) == 2 else None
    view = renderer.views.current()
    if destination is not None and view.route(context, destination) is None:
        matches_rule = context == "default" and any(
            rule.matches(destination) for rule in renderer.dial_rules(view)
        )
        if not matches_rule:
            raise RenderError(
                f"{destination!r} leads nowhere in context {context!r}: "
                "the switch refuses it as an unallocated number"
            )
    answer = renderer.render_dialplan(context, destination)
    assert answer is not None  # the context is known
    return answer


def _cli_directory(renderer: Renderer, args: list[str]) -> str:
    if not 1 <= len(args) <= 2:
        raise RenderError("directory needs a SIP user, e.g. 2301 (and a domain)")
    view = renderer.views.current()
    domain = args[1] if len(args) == 2 else view.domain
    answer = renderer.render_directory(domain, args[0])
    if answer is None:
        raise RenderError(f"no SIP user {args[0]!r} in domain {domain!r}")
    return answer
