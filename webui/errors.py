"""Exceptions of the web app, one class per failure, rendered in one place.

    WebError                       500 internal-error
     ├── NotSignedIn               401 not-signed-in
     ├── InvalidCredentials        401 invalid-credentials
     ├── Forbidden                 403 forbidden
     ├── CsrfTokenInvalid          403 csrf-token-invalid
     ├── CrossOriginRefused        403 cross-origin-refused
     ├── AccountUnknown            403 account-unknown
     ├── NotFound                  404 not-found
     ├── MethodNotAllowed          405 method-not-allowed
     ├── Conflict                  409 conflict
     ├── RequestTooLarge           413 request-too-large
     ├── InvalidInput              422 invalid-input (details: field -> message)
     ├── TooManyAttempts           429 too-many-attempts
     ├── SignInFailed              502 sign-in-failed (the identity provider said no)
     ├── SignInUnavailable         503 sign-in-unavailable (not configured)
     └── ServiceUnavailable        503 service-unavailable (switch, store ...)

API requests (``/api/...``, or asking for JSON only) get
``{"error": id, "message": text, "details": {...}}``; pages get a friendly
page in the user's language. Messages are lazy strings so that they are
translated when rendered, not when raised.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class WebError(Exception):
    status = 500
    error_id = "internal-error"
    default_message: Any = _l("Something went wrong on our side. Please try again.")

    def __init__(
        self, message: Any = None, details: dict[str, Any] | None = None
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.details = details or {}
        super().__init__(str(self.message))


class NotSignedIn(WebError):
    status = 401
    error_id = "not-signed-in"
    default_message = _l("Please sign in first.")


class InvalidCredentials(WebError):
    status = 401
    error_id = "invalid-credentials"
    default_message = _l("The user name or password is not correct.")


class Forbidden(WebError):
    status = 403
    error_id = "forbidden"
    default_message = _l("You do not have the rights for this page.")


class CsrfTokenInvalid(WebError):
    status = 403
    error_id = "csrf-token-invalid"
    default_message = _l(
        "The form has expired or did not come from this site. Please try again."
    )


class CrossOriginRefused(WebError):
    status = 403
    error_id = "cross-origin-refused"
    default_message = _l("This connection did not come from this site.")


class AccountUnknown(WebError):
    status = 403
    error_id = "account-unknown"
    default_message = _l(
        "Your account is not known in the telephony system. "
        "Please ask the administrator to add you."
    )


class NotFound(WebError):
    status = 404
    error_id = "not-found"
    default_message = _l("This page does not exist.")


class MethodNotAllowed(WebError):
    status = 405
    error_id = "method-not-allowed"
    default_message = _l("This action is not possible here.")


class Conflict(WebError):
    status = 409
    error_id = "conflict"
    default_message = _l("This change conflicts with the current state.")


class RequestTooLarge(WebError):
    status = 413
    error_id = "request-too-large"
    default_message = _l("What you sent is too large.")


class InvalidInput(WebError):
    status = 422
    error_id = "invalid-input"
    default_message = _l("Some fields are not filled in correctly.")


class TooManyAttempts(WebError):
    status = 429
    error_id = "too-many-attempts"
    default_message = _l("Too many attempts. Please wait a few minutes.")

    def __init__(self, retry_after: int, message: Any = None) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class SignInFailed(WebError):
    status = 502
    error_id = "sign-in-failed"
    default_message = _l("Signing in with Microsoft did not succeed.")


class SignInUnavailable(WebError):
    status = 503
    error_id = "sign-in-unavailable"
    default_message = _l("Signing in with Microsoft is not set up.")


class ServiceUnavailable(WebError):
    status = 503
    error_id = "service-unavailable"
    default_message = _l("This service is not available at the moment.")


_HTTP = {
    400: InvalidInput,
    401: NotSignedIn,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: RequestTooLarge,
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and "text/html" not in request.accept_mimetypes


def from_http(exc: HTTPException) -> WebError:
    kind = _HTTP.get(exc.code or 500)
    if kind is None:
        error = WebError()
        error.status = exc.code or 500
        return error
    if kind is InvalidInput:
        return InvalidInput(_l("The request could not be understood."))
    return kind()


def render_error(error: WebError) -> Response | tuple[Any, int]:
    if isinstance(error, NotSignedIn) and not wants_json():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    body = {
        "error": error.error_id,
        "message": str(error.message),
        "details": _plain(error.details),
    }
    if wants_json():
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", error=error, body=body), mimetype="text/html"
        )
    response.status_code = error.status
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if _is_lazy(value) else value for key, value in details.items()
    }


def _is_lazy(value: Any) -> bool:
    return type(value).__name__ == "LazyString"


def register(app: Flask) -> None:
    @app.errorhandler(WebError)
    def _web_error(error: WebError) -> Any:
        if error.status >= 500:
            log.warning(
                "%s %s failed: %s", request.method, request.path, error.error_id
            )
        return render_error(error)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return render_error(from_http(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("%s %s raised", request.method, request.path)
        return render_error(WebError())
