"""Request and response bodies of the API (the contract, as Pydantic models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "editor", "admin"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
CAMPAIGN_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- accounts


class LoginIn(Strict):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class TokenIn(Strict):
    label: str = Field("", max_length=200)
    expires_in_s: int | None = Field(
        None, ge=1, le=10 * 365 * 86400, description="Lifetime in seconds; none: no expiry."
    )


class TokenOut(BaseModel):
    id: int
    prefix: str = Field(description="First characters of the token (not secret).")
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(BaseModel):
    token: str = Field(description="The secret: shown once, never stored in clear.")
    info: TokenOut


class UserIn(Strict):
    username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
    password: str | None = Field(None, min_length=8, max_length=1000)
    site_admin: bool = False
    with_token: bool = Field(False, description="Also issue a first API token (shown once).")


class UserOut(BaseModel):
    username: str
    site_admin: bool
    active: bool
    created_at: datetime


class NewUserOut(BaseModel):
    user: UserOut
    token: str | None = None


class MeOut(BaseModel):
    user: UserOut
    roles: dict[str, Role] = Field(description="project name -> role")


class ProjectIn(Strict):
    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=2000)


class ProjectOut(BaseModel):
    name: str
    description: str
    created_at: datetime
    created_by: str
    role: Role | None = Field(description="The caller's role (admin for site admins).")


class RoleIn(Strict):
    role: Role


class MemberOut(BaseModel):
    username: str
    role: Role


# -- campaigns


class CampaignIn(Strict):
    name: str = Field(pattern=CAMPAIGN_NAME)
    project: str = Field(pattern=NAME, description="The project it belongs to.")
    space: str | dict[str, Any] = Field(
        description="The design space: YAML text, or the same as a JSON object."
    )
    objectives: list[str] = Field(
        min_length=1, max_length=20, description="NAME:max|min|target=VALUE[@WEIGHT]"
    )


class CampaignOut(BaseModel):
    name: str
    project: str | None
    version: int = Field(description="Counts the campaign's writes; the ETag.")
    created_at: datetime
    created_by: str
    objectives: list[dict[str, Any]]


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    total: int
    limit: int
    offset: int


class StatusOut(BaseModel):
    campaign: str
    objectives: list[str]
    parameters: list[str]
    rounds: int
    designs: int
    measured: int
    pending: int
    best: dict[str, Any] | None
    version: int


class HistoryRow(BaseModel):
    round: int = Field(description="0 for imported designs.")
    n: int
    best: float | None
    best_so_far: float | None
    improvement: float | None = Field(description="best so far / first round's best.")


class RecommendIn(Strict):
    n: int = Field(8, ge=1, le=1000, description="Batch size.")
    recommender: str = Field("auto", max_length=100)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    record_calibration: bool = Field(
        default=True,
        description="Scale the reported std by the factor earlier rounds' picks ask for "
        "(the choice is unchanged).",
    )


class RecommendOut(BaseModel):
    round: int
    recommender: str
    designs: list[dict[str, Any]] = Field(
        description="Parameters, then predicted mean and std per objective."
    )
    record_scale: dict[str, float] = Field(
        default_factory=dict,
        description="Per objective: the factor on the reported std (empty when off).",
    )
    version: int


class IngestOut(BaseModel):
    file: str
    added_designs: int
    added_measurements: int
    skipped: int
    duplicate_file: bool
    duplicate_of: str | None
    version: int


class SnapshotOut(BaseModel):
    id: int
    round: int | None
    kind: str
    format: str
    bytes: int
    metrics: dict[str, Any]
    created_at: datetime


class PillarOut(BaseModel):
    name: str
    help: str
    routes: str | None = Field(description="Where the pillar's routes are mounted, if any.")
