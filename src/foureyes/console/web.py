"""Console plumbing: the signed-in user, CSRF on every POST, HTML error pages and template rendering."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, ErrorItem, Forbidden
from foureyes.core.logging import get_logger
from foureyes.identity.principal import Principal

from .session import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Session, SessionCodec, tokens_match

log = get_logger("foureyes.console")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
BASE = "/console"
# Pages may load only our own script and stylesheet; nothing may frame them.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# (permission needed, href, label): the menu shows only what the user may open; the routes check again.
MENU = (
    ("CanCheckRequest", f"{BASE}/inbox", "Inbox"),
    ("CanMakeRequest", f"{BASE}/requests/new", "New request"),
    ("CanMakeRequest", f"{BASE}/mine", "My requests"),
    ("BadgesRead", f"{BASE}/badges", "Badges"),
    ("CanConfigureWorkflows", f"{BASE}/settings", "Workflow settings"),
)


class LoginRequired(Exception):
    """No valid session: send the browser to the login page."""


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def holds(self, permission: str) -> bool:
        return self.principal.holds(permission)

    def require(self, *permissions: str) -> None:
        """At least one of the permissions, somewhere in the org; else 403 (routes check even if menus hide)."""
        if not any(self.principal.holds(p) for p in permissions):
            raise Forbidden(f"This page needs the {' or '.join(permissions)} permission")

    def menu(self) -> list[tuple[str, str]]:
        return [(href, label) for perm, href, label in MENU if self.holds(perm) or _badges_read(self, perm)]


def _badges_read(user: ConsoleUser, perm: str) -> bool:
    return perm == "BadgesRead" and user.holds("BadgesWrite")


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def codec_for(ctx: AppContext) -> SessionCodec:
    codec = ctx.extensions.get("console.sessions")
    if not isinstance(codec, SessionCodec):
        codec = SessionCodec(ctx.settings.resolved_secret_key, ctx.settings.console_session_ttl_seconds)
        ctx.extensions["console.sessions"] = codec
    return codec


def now_epoch(ctx: AppContext) -> int:
    return int(ctx.clock.now().timestamp())


async def console_user(request: Request) -> ConsoleUser:
    """The signed-in user with current grants; every POST must also carry the session's CSRF token."""
    ctx = ctx_of(request)
    session = codec_for(ctx).read(request.cookies.get(SESSION_COOKIE), now_epoch(ctx))
    if session is None:
        raise LoginRequired()
    principal = await ctx.auth.principal_for_user(session.org_id, session.user_id)
    if principal is None:
        raise LoginRequired()
    request.state.org = principal.org_id
    request.state.actor = principal.actor
    if request.method == "POST":
        given = request.headers.get(CSRF_HEADER)
        if given is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not tokens_match(session.csrf, given):
            raise Forbidden("The form has expired or did not come from this console; reload the page and try again.")
    user = ConsoleUser(principal, session)
    request.state.console_user = user
    return user


User = Annotated[ConsoleUser, Depends(console_user)]


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a template with what every page needs (user, menu, CSRF token, current path)."""
    user: ConsoleUser | None = getattr(request.state, "console_user", None)
    values: dict[str, Any] = {"user": user, "csrf": user.csrf if user else "", "path": request.url.path, "errors": []}
    values.update(context or {})
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """303 so that a POST is followed by a GET (the JavaScript-free path: post, redirect, show)."""
    return RedirectResponse(url, status_code=303)


def error_items(exc: AppError) -> list[ErrorItem]:
    return exc.items or [ErrorItem(exc.status, "Something went wrong")]


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"{BASE}/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        # htmx follows HX-Redirect with a full page load instead of swapping the login form into a fragment.
        return Response(status_code=200, headers={"HX-Redirect": url})
    return redirect(url)


class ConsoleRoute(APIRoute):
    """Turns expected failures into HTML (login redirect, error page) and adds the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                response = _login_redirect(request)
            except AppError as exc:
                response = page(request, "error.html", {"status": exc.status, "errors": error_items(exc)}, exc.status)
            except RequestValidationError as exc:
                items = [ErrorItem(400, str(e.get("msg", "Invalid value")), _loc(e)) for e in exc.errors()[:20]]
                response = page(request, "error.html", {"status": 400, "errors": items}, 400)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


def _loc(err: Any) -> str | None:
    parts = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
    return ".".join(parts) or None


def set_session_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path=BASE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
