"""OAuth2 as MailUp serves it (§2, §20.1-2): the token endpoint and the bearer check of every API call.

Token endpoint (`/Authorization/OAuth/Token`, GET or POST): parameters in the form body or the query
string; client credentials there or in a Basic header. Grants: `password` (username, password),
`refresh_token` (the refresh token rotates: the answer carries a new one, the old one is spent) and
`authorization_code` (a `code` from the LogOn page, no client credentials needed, as the samples send
it). Success: `{"access_token", "expires_in", "refresh_token"}`; failure: 400 `{"error",
"error_description"}`.

API calls: `Authorization: Bearer <token>`; a missing, unknown or expired token (or the retired "MailUp"
token type) is a 401 with the ErrorCode/ErrorDescription/ErrorName/ErrorStack body. Then the account's
rate limit (429) and any injected fault apply.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from flask import Blueprint, Response, g, redirect, request

from .web import ApiError, json_response, state

bp = Blueprint("mailup_auth", __name__, url_prefix="/authorization/oauth")


def _oauth_error(error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status=400)


def _params() -> dict:
    params = {k.lower(): v for k, v in request.args.items()}
    params.update({k.lower(): v for k, v in request.form.items()})
    return params


@bp.route("/token", methods=["GET", "POST"])
def token():
    st = state()
    params = _params()
    basic = request.authorization if request.authorization and request.authorization.type == "basic" else None
    client_id = params.get("client_id") or (basic.username if basic else None)
    client_secret = params.get("client_secret") or (basic.password if basic else None)
    grant = (params.get("grant_type") or "").strip()
    fault = st.take_fault(params.get("username") or "", request.path)
    if fault:
        raise ApiError(fault.status, "Injected fault")

    def client_ok(account) -> bool:
        return account.client_id == client_id and account.client_secret == client_secret

    if grant == "password":
        username, password = params.get("username"), params.get("password")
        if not (username and password and client_id and client_secret):
            return _oauth_error(
                "invalid_request", "username, password, client_id and client_secret are required"
            )
        try:
            account = st.account(username)
        except KeyError:
            account = None
        if account is not None and not client_ok(account):
            return _oauth_error("invalid_client", "Client authentication failed")
        if account is None or account.password != password:
            return _oauth_error("invalid_grant", "The user name or password is incorrect")
        return json_response(st.issue_tokens(account))
    if grant == "refresh_token":
        refresh = params.get("refresh_token")
        username = st.refresh_tokens.get(refresh or "")
        if not username:
            return _oauth_error("invalid_grant", "The refresh token is invalid or expired")
        account = st.account(username)
        if (client_id or client_secret) and not client_ok(account):
            return _oauth_error("invalid_client", "Client authentication failed")
        return json_response(st.issue_tokens(account, old_refresh=refresh))
    if grant == "authorization_code":
        username = st.codes.pop(params.get("code") or "", None)
        if not username:
            return _oauth_error("invalid_grant", "The authorization code is invalid or expired")
        account = st.account(username)
        if client_id and client_secret and not client_ok(account):
            return _oauth_error("invalid_client", "Client authentication failed")
        return json_response(st.issue_tokens(account))
    if not grant:
        return _oauth_error("invalid_request", "grant_type is required")
    return _oauth_error("unsupported_grant_type", f"Unsupported grant type: {grant}")


@bp.route("/logon", methods=["GET", "POST"])
@bp.route("/authorization", methods=["GET", "POST"])
def logon():
    """The user-facing log-on page, consenting at once for the account that owns `client_id`: it
    redirects to `redirect_uri?code=…` like MailUp after a successful log-on."""
    params = _params()
    account = state().account_by_client(params.get("client_id") or "")
    redirect_uri = params.get("redirect_uri")
    if account is None or not redirect_uri:
        return _oauth_error("invalid_request", "a known client_id and a redirect_uri are required")
    code = secrets.token_urlsafe(16)
    state().codes[code] = account.username
    sep = "&" if "?" in redirect_uri else "?"
    return redirect(f"{redirect_uri}{sep}{urlencode({'code': code})}", code=302)


def require_token() -> None:
    """before_request of every API blueprint: bearer token, then rate limit, then injected faults."""
    st = state()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization error: Access token is missing or of an unsupported type")
    account, why = st.token_account(token.strip())
    if account is None:
        raise ApiError(401, f"Authorization error: {why}")
    allowed, calls = st.rate_check(account.username)
    if not allowed:
        raise ApiError(
            429,
            "Authorization error (too_many_requests): Too many requests. "
            f"Max:{st.options.rate_limit} calls per second , actual:{calls}.",
            name=None,
        )
    fault = st.take_fault(account.username, request.path)
    if fault:
        raise ApiError(fault.status, "Injected fault")
    g.account = account
