"""`python -m pipelines nationbuilder-auth`: a nation's first token pair, by the OAuth authorization-code flow.

NationBuilder grants current tokens only through this flow (its "API Authentication Quick
Start Guide"): a nation admin opens the nation's `/oauth/authorize` page for the app and
approves; NationBuilder redirects to the app's OAuth callback with a short-lived `code`, which
the app exchanges at `/oauth/token` for an access and a refresh token. This command prints the
authorize URL, receives the redirect on a local port (or takes the pasted code or redirected
address), checks the `state` it sent, exchanges the code and writes the pair where the
`nationbuilder` source reads it (the same token store, the same durable write). It prints no
token.
"""

from __future__ import annotations

import secrets
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import dlt

from pipelines.sources.http import HttpPolicy, VendorAuthError, VendorHttpError
from pipelines.sources.nationbuilder import default_token_url, rotating_tokens
from pipelines.warehouse import pipelines_dir, warehouse_path

SECTION = "sources.nationbuilder"
NEEDED = "set SOURCES__NATIONBUILDER__BASE_URL, SOURCES__NATIONBUILDER__CLIENT_ID and SOURCES__NATIONBUILDER__CLIENT_SECRET"


class AuthorizationFailed(RuntimeError):
    """The redirect carried an error, a wrong state, or no code."""


def _setting(name: str) -> str | None:
    return dlt.secrets.get(f"{SECTION}.{name}") or dlt.config.get(f"{SECTION}.{name}")


def authorize_url(base_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    nation = default_token_url(base_url).removesuffix("/oauth/token")
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{nation}/oauth/authorize?{query}"


def code_from(redirected: str, state: str) -> str:
    """The code from a redirect's query (or a bare pasted code), refusing a redirect meant for another request."""
    if "code=" not in redirected and "error=" not in redirected:
        return redirected.strip()
    query = parse_qs(urlsplit(redirected.strip()).query or redirected.strip().lstrip("?"))
    if "error" in query:
        raise AuthorizationFailed(f"NationBuilder did not authorize the app: {query['error'][0][:60]}")
    if query.get("state", [None])[0] != state:
        raise AuthorizationFailed("the redirect's state is not the one this command sent; start again")
    return query["code"][0]


def _receive_redirect(server: HTTPServer, state: str) -> str:
    """Serves the local callback until one redirect with a code (or an error) arrives."""
    received: list[str] = []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            try:
                received.append(code_from(self.path, state))
                status, text = 200, "The app is authorized: you can close this tab and go back to the terminal."
            except AuthorizationFailed as failed:
                received.append("")
                status, text = 400, str(failed)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args: object) -> None:
            pass  # the address carries the code

    server.RequestHandlerClass = Callback
    while not received:
        server.handle_request()
    if not received[0]:
        raise AuthorizationFailed("the redirect carried no usable code; start again")
    return received[0]


def run(port: int, paste: bool, redirect_uri: str | None, echo: Callable[[str], None]) -> int:
    base_url, client_id, client_secret = (_setting(name) for name in ("base_url", "client_id", "client_secret"))
    if not (base_url and client_id and client_secret):
        echo(f"nationbuilder-auth: {NEEDED} (your app's, from the nation's Settings > Developer > Your apps)")
        return 2
    state = secrets.token_urlsafe(16)
    try:
        server = None if paste else HTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    except OSError as busy:
        echo(f"nationbuilder-auth: cannot listen on 127.0.0.1:{port} ({busy.strerror}); choose another --port "
             "(and register its /callback address with the app), or use --paste")
        return 2
    try:
        redirect_uri = redirect_uri or f"http://127.0.0.1:{server.server_port if server else port}/callback"
        echo("Open this address in a browser, signed in as an admin of the nation, and approve the app:")
        echo(f"  {authorize_url(base_url, client_id, redirect_uri, state)}")
        echo(f"(the app's OAuth callback URL must be {redirect_uri})")
        if server:
            echo(f"Waiting for NationBuilder's redirect on {redirect_uri} …")
            code = _receive_redirect(server, state)
        else:
            code = code_from(input("Paste the code, or the whole address NationBuilder redirected to: "), state)
        tokens = rotating_tokens(base_url, client_id, client_secret, _setting("refresh_token"), _setting("token_url"),
                                 _setting("token_store"), HttpPolicy(), lambda: pipelines_dir(warehouse_path()))
        tokens.authorize(code, redirect_uri)
    except (AuthorizationFailed, VendorAuthError, VendorHttpError) as failed:
        echo(f"nationbuilder-auth: {failed}")
        return 1
    finally:
        if server:
            server.server_close()
    echo(f"nationbuilder-auth: stored a new token pair in {tokens.store.path}; syncs refresh it from now on")
    return 0
