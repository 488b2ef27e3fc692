"""Bodies of the token endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OAuthTokenRequest(BaseModel):
    key: str = Field(min_length=1, max_length=200)
    secret: str = Field(min_length=1, max_length=500)


class TokenData(BaseModel):
    accessToken: str
    ttlSeconds: int


class OAuthTokenResponse(BaseModel):
    data: TokenData
    errors: None = None


class UiTokenResponse(BaseModel):
    data: TokenData
