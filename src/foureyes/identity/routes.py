"""Token endpoints: OAuth client tokens and UI tokens for intouch users."""

from __future__ import annotations

from fastapi import APIRouter

from foureyes.identity.deps import Caller, Ctx
from foureyes.identity.schemas import OAuthTokenRequest, OAuthTokenResponse, TokenData, UiTokenResponse

router = APIRouter(tags=["auth"])


@router.post("/v3/oauth/token/generate", response_model=OAuthTokenResponse)
async def generate_oauth_token(body: OAuthTokenRequest, ctx: Ctx) -> OAuthTokenResponse:
    """Exchange an API client's key and secret for a short-lived X-CAP-API-OAUTH-TOKEN."""
    token, ttl = await ctx.auth.issue_oauth_token(body.key, body.secret)
    return OAuthTokenResponse(data=TokenData(accessToken=token, ttlSeconds=ttl))


@router.post("/api_gateway/v2/auth/ui-token", response_model=UiTokenResponse)
async def generate_ui_token(caller: Caller, ctx: Ctx) -> UiTokenResponse:
    """Issue an X-CAP-UI-AUTH-TOKEN naming the intouch user whose Basic credentials were sent."""
    token, ttl = ctx.auth.issue_ui_token(caller)
    return UiTokenResponse(data=TokenData(accessToken=token, ttlSeconds=ttl))
