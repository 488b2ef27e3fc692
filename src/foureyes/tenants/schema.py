"""The shape of a tenant file (contract §8), and its problems reported by JSON path.

Structure is checked by pydantic (every error collected, not just the first); rules that need the whole
file (unit order, unique names, grants on known units, badge bodies) are checked in `validate.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from foureyes.customers.schemas import Email, Identifier, Mobile, Name

UnitKind = Literal["concept", "zone", "store", "till"]


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused: where (a JSON path such as `orgs[0].users[2].password`) and why."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PermissionSpec(_Strict):
    name: str = Field(min_length=1, max_length=64)
    unit: str | None = Field(default=None, min_length=1, max_length=64)


class UnitSpec(_Strict):
    kind: UnitKind
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str | None = Field(default=None, max_length=200)
    children: list[UnitSpec] = Field(default_factory=list)


class UserSpec(_Strict):
    username: str = Field(min_length=1, max_length=200)
    # Omitted (as in an export): an existing user keeps the password it has; a new user needs one.
    password: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Literal["intouch", "till"] = "intouch"
    permissions: list[PermissionSpec] = Field(default_factory=list)


class ClientSpec(_Strict):
    key: str = Field(min_length=1, max_length=200)
    secret: str | None = Field(default=None, min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
    permissions: list[PermissionSpec] = Field(default_factory=list)


class CustomerSpec(_Strict):
    """The fields of `POST /v2/customers`; without `id` a customer is matched by its identifiers."""

    id: int | None = Field(default=None, ge=1, le=2**53)
    mobile: Mobile | None = None
    email: Email | None = None
    externalId: Identifier | None = None
    cardnumber: Identifier | None = None
    firstname: Name | None = None
    lastname: Name | None = None

    def identifiers(self) -> dict[str, str]:
        values = {"mobile": self.mobile, "email": self.email, "externalId": self.externalId}
        values["cardnumber"] = self.cardnumber
        return {k: v for k, v in values.items() if v is not None}


class ClaimSpec(_Strict):
    ownerType: str = Field(min_length=1, max_length=32)
    referenceId: str | int


class BadgeSpec(_Strict):
    """`meta` is a badgeMeta create body, validated by the badges feature's own rules."""

    id: str | None = Field(default=None, pattern=r"^[0-9a-f]{24}$")
    meta: dict[str, Any]
    claims: list[ClaimSpec] = Field(default_factory=list)


class OrgSpec(_Strict):
    id: int = Field(ge=1, le=2**53)
    name: str = Field(min_length=1, max_length=200)
    units: list[UnitSpec] = Field(default_factory=list)
    users: list[UserSpec] = Field(default_factory=list)
    clients: list[ClientSpec] = Field(default_factory=list)
    customers: list[CustomerSpec] = Field(default_factory=list)
    badges: list[BadgeSpec] = Field(default_factory=list)
    # Request type → a WorkflowConfig body; validated against WorkflowConfig in validate.py.
    workflows: dict[str, dict[str, Any]] = Field(default_factory=dict)


class TenantFile(_Strict):
    orgs: list[OrgSpec]


def json_path(loc: tuple[int | str, ...]) -> str:
    """('orgs', 0, 'units', 1, 'kind') → `orgs[0].units[1].kind`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "$"


def parse_structure(raw: Any) -> tuple[TenantFile | None, list[Problem]]:
    """The typed file, or every structural problem found."""
    try:
        return TenantFile.model_validate(raw), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            # Literal/union errors add the tried branch to loc ("str", "int"); the field path is enough.
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("str", "int", "literal")))
            problems.append(Problem(json_path(loc), err["msg"]))
        return None, problems
