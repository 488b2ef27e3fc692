"""Wire bodies of the request-workflow API (field names as documented, hence camelCase and dashes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

StrOrInt = str | int
_HEADER_NAME_CHARS = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class EntityInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tillId: StrOrInt
    storeId: StrOrInt
    zoneId: StrOrInt
    conceptId: StrOrInt

    def ids(self) -> dict[str, str]:
        return {k: str(v).strip() for k, v in self.model_dump().items()}


class TaskPayload(BaseModel):
    """IntouchAPITask-Payload: the fully specified downstream call."""

    model_config = ConfigDict(extra="ignore")
    hostname: str = Field(max_length=500)
    path: str = Field(max_length=500)
    method: str = Field(max_length=10)
    pathParams: dict[str, Any] = Field(default_factory=dict)
    queryParams: dict[str, StrOrInt | bool | float | None] = Field(default_factory=dict)
    body: Any = Field(default_factory=dict)
    headers: dict[str, StrOrInt] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, StrOrInt]) -> dict[str, StrOrInt]:
        if len(value) > 50:
            raise ValueError("at most 50 headers")
        for name, item in value.items():
            if not name or len(name) > 100 or not set(name) <= _HEADER_NAME_CHARS:
                raise ValueError(f"invalid header name {name[:40]!r}")
            text = str(item)
            if len(text) > 4000 or any(c in text for c in "\r\n\x00"):
                raise ValueError(f"invalid value for header {name}")
        return value

    @field_validator("queryParams")
    @classmethod
    def _query(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 50:
            raise ValueError("at most 50 query parameters")
        return value


class CreatePayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    task: TaskPayload = Field(alias="IntouchAPITask-Payload")


class CreateRequestBody(BaseModel):
    """POST /api_gateway/v2/request-workflow/{requestType}."""

    model_config = ConfigDict(extra="ignore")
    entityInfo: EntityInfo
    payload: CreatePayload
    source: str | None = Field(default=None, max_length=100)


class AdminTaskPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    actionDecision: Literal["approved", "rejected"]
    actionMessage: str = Field(default="", max_length=2000)


class DecisionPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    admin: AdminTaskPayload = Field(alias="AdminTask-Payload")


class DecisionBody(BaseModel):
    """PUT /api_gateway/v2/request-workflow/{requestType}."""

    model_config = ConfigDict(extra="ignore")
    requestId: str = Field(min_length=1, max_length=64)
    actionName: str = Field(max_length=32)
    payload: DecisionPayload


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str = Field(default="", max_length=2000)
