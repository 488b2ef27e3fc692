"""Signing in and out of the console, and the static files it serves (vendored htmx, one stylesheet)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from foureyes.core.errors import AppError, ErrorItem, NotFound

from .session import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, new_login_token, tokens_match
from .web import BASE, ConsoleRoute, User, codec_for, ctx_of, now_epoch, page, redirect, set_session_cookie

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"htmx.min.js": "text/javascript", "console.css": "text/css"}


def _safe_next(target: str | None) -> str:
    """Only paths inside the console: never an open redirect to another site."""
    if target and target.startswith(f"{BASE}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{BASE}/"


def _login_page(request: Request, next_url: str, errors: list[ErrorItem], status: int = 200) -> HTMLResponse:
    # Double-submit token for the login form itself (there is no session yet to bind it to).
    token = new_login_token()
    response = page(
        request, "login.html", {"login_csrf": token, "next": next_url, "errors": errors, "title": "Sign in"}, status
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=BASE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _login_page(request, _safe_next(next), [])


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the credentials (same rules and lock-out as Basic) and start a session."""
    form = await request.form()
    next_url = _safe_next(str(form.get("next") or ""))
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get(CSRF_FIELD) or "")):
        items = [ErrorItem(403, "The sign-in form expired; please try again.", None)]
        return _login_page(request, next_url, items, 403)
    username = str(form.get("username") or "").strip()[:200]
    password = str(form.get("password") or "")[:500]
    if not username or not password:
        return _login_page(request, next_url, [ErrorItem(400, "Enter your username and password.", "username")], 400)
    ctx = ctx_of(request)
    try:
        user = await ctx.auth.check_password(username, password)
    except AppError as exc:
        return _login_page(request, next_url, exc.items, exc.status)
    value, _session = codec_for(ctx).issue(user.id, user.org_id, now_epoch(ctx))
    response = redirect(next_url)
    set_session_cookie(response, request, value, ctx.settings.console_session_ttl_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=BASE)
    return response


@router.post("/logout")
async def logout(_user: User) -> Response:
    """End the session (the CSRF check stops other sites from signing people out)."""
    response = redirect(f"{BASE}/login")
    response.delete_cookie(SESSION_COOKIE, path=BASE)
    return response


@router.get("")
@router.get("/")
async def home(user: User) -> Response:
    """Send each user to the page they most likely came for."""
    for perm, target in (
        ("CanCheckRequest", "inbox"),
        ("CanMakeRequest", "mine"),
        ("BadgesWrite", "badges"),
        ("BadgesRead", "badges"),
        ("CanConfigureWorkflows", "settings"),
    ):
        if user.holds(perm):
            return redirect(f"{BASE}/{target}")
    return redirect(f"{BASE}/nothing")


@router.get("/nothing")
async def nothing(request: Request, _user: User) -> Response:
    """Signed in, but no console permission at all."""
    return page(request, "nothing.html", {"title": "No access"})


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The vendored script and the stylesheet; nothing else is served from disk."""
    if name not in STATIC_FILES:
        raise NotFound(404, "No such file")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "public, max-age=3600"})
