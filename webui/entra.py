"""Sign-in with Microsoft Entra ID: OpenID Connect authorization-code flow.

msal does the protocol (PKCE, state, nonce, token redemption and the ID
token's claims checks); this module keeps the flow between the two legs in
the live store, so the browser's cookie carries only an opaque key, and turns
msal's answers into claims or one of the web app's errors.

``http_client`` is msal's own seam for HTTP: tests give it a function-backed
client and no request leaves the process.
"""

from __future__ import annotations

import json
import logging
import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import msal
import redis

from orchestrator import settings as settings_mod
from webui import errors

log = logging.getLogger(__name__)

FLOW_PREFIX = "schakel:entra:flow:"
FLOW_SECONDS = 600


@dataclass(frozen=True)
class Claims:
    """Who Entra ID says signed in."""

    object_id: str
    tenant_id: str
    name: str
    username: str


class EntraSignIn:
    def __init__(
        self, settings: settings_mod.Settings, http_client: Any | None = None
    ) -> None:
        self.settings = settings
        self.http_client = http_client
        self._app: msal.ConfidentialClientApplication | None = None

    @property
    def enabled(self) -> bool:
        s = self.settings
        return bool(s.entra_tenant_id and s.entra_client_id and s.entra_client_secret)

    @property
    def authority(self) -> str:
        host = self.settings.entra_authority_host.rstrip("/")
        return f"{host}/{self.settings.entra_tenant_id}"

    def client(self) -> msal.ConfidentialClientApplication:
        if not self.enabled:
            raise errors.SignInUnavailable()
        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self.settings.entra_client_id,
                client_credential=self.settings.entra_client_secret,
                authority=self.authority,
                http_client=self.http_client,
                # The tenant is ours and fixed: nothing to look up in
                # Microsoft's list of clouds before each sign-in.
                instance_discovery=False,
            )
        return self._app

    def begin(self, live: redis.Redis, redirect_uri: str) -> tuple[str, str]:
        """Start a sign-in; return (key for the session, URL to send the user to)."""
        # The answer comes back as a query, not a cross-site form POST: only a
        # top-level GET brings the SameSite=Lax session cookie along, and the
        # cookie ties the answer to the browser that started (no login CSRF).
        # msal recommends form_post and says so; here that advice does not fit.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow = self.client().initiate_auth_code_flow(
                scopes=[], redirect_uri=redirect_uri, response_mode="query"
            )
        if "error" in flow:
            raise errors.SignInFailed(details={"reason": flow.get("error")})
        key = secrets.token_urlsafe(24)
        live.set(FLOW_PREFIX + key, json.dumps(flow), ex=FLOW_SECONDS)
        return key, flow["auth_uri"]

    def finish(self, live: redis.Redis, key: str, answer: dict[str, str]) -> Claims:
        """Redeem the code Entra ID sent back with the user."""
        raw = live.getdel(FLOW_PREFIX + key) if key else None
        if raw is None:
            # Expired, used twice, or never started here.
            raise errors.SignInFailed(details={"reason": "no-sign-in-in-progress"})
        flow = json.loads(raw)
        if "error" in answer:
            log.info("Entra ID refused sign-in: %s", answer.get("error"))
            raise errors.SignInFailed(details={"reason": answer.get("error")})
        try:
            result = self.client().acquire_token_by_auth_code_flow(flow, answer)
        except ValueError as exc:
            # msal raises ValueError when state or nonce do not match.
            log.warning("Entra ID answer refused: %s", exc)
            raise errors.SignInFailed(details={"reason": "state-mismatch"}) from None
        return self._claims(result)

    def _claims(self, result: dict[str, Any]) -> Claims:
        if "error" in result:
            log.warning(
                "Entra ID token request failed: %s %s",
                result.get("error"),
                result.get("error_description", "")[:200],
            )
            raise errors.SignInFailed(details={"reason": result.get("error")})
        claims = result.get("id_token_claims") or {}
        tenant = claims.get("tid", "")
        if tenant != self.settings.entra_tenant_id:
            log.warning("Entra ID sign-in from foreign tenant %s refused", tenant)
            raise errors.SignInFailed(details={"reason": "wrong-tenant"})
        if not claims.get("oid"):
            raise errors.SignInFailed(details={"reason": "no-object-id"})
        return Claims(
            object_id=claims["oid"],
            tenant_id=tenant,
            name=claims.get("name", ""),
            username=claims.get("preferred_username") or claims.get("email") or "",
        )
