"""The onboarding API's models, built on the constants that :mod:`node.services.onboarding_rules` checks with
(stages, origins, target forms, stakeholders, lengths), so a limit is written once."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from node.http.record_models import TRADE_VIEW, TradeCode
from node.http.types import AccountId, Date, Input, Ms, Origin, RecordId, integer
from node.services import onboarding_rules as rules
from node.services.member_path import PATH_STATUSES

Stage = Literal[rules.STAGES]  # type: ignore[valid-type]
OriginKind = Literal[rules.ORIGIN_KINDS]  # type: ignore[valid-type]
TargetForm = Literal[rules.TARGET_FORMS]  # type: ignore[valid-type]
Stakeholder = Literal[rules.STAKEHOLDERS]  # type: ignore[valid-type]
PathStatus = Literal[PATH_STATUSES]  # type: ignore[valid-type]
Trades = list[TradeCode]
Capital: Final = integer(0, 1_000_000_000)


class Contact(Input):
    """A person of the group, with what the legal-form checks need."""

    name: str = Field(max_length=120)
    email: str | None = Field(None, max_length=254)
    role: str | None = Field(None, max_length=80, description="role in the group")
    associate: bool = False
    employee: bool = False
    capital_eur: Capital | None = None  # type: ignore[valid-type]
    stakeholder: Stakeholder | None = None


class StageDates(Input):
    planned: Date | None = None
    started: Date | None = None
    done: Date | None = None


class Milestone(Input):
    date: Date
    label: str | None = Field(None, max_length=200)


class StudentInput(Input):
    """A student cooperative project's frame: the university, its tutor and the academic year."""

    university: str = Field(min_length=1, max_length=200)
    tutor: str | None = Field(None, max_length=120, description="the university's tutor")
    course: str | None = Field(None, max_length=200)
    year_start: Date
    year_end: Date
    milestones: list[Milestone] | None = Field(None, max_length=20, description="the usual steps when absent")


class CaseInput(Input):
    """A new onboarding case."""

    title: str = Field(min_length=1, max_length=rules.MAX_TITLE)
    origin_kind: OriginKind
    target_form: TargetForm
    description: str | None = Field(None, max_length=rules.MAX_TEXT)
    trades: Trades | None = Field(None, max_length=10)
    group: list[Contact] | None = Field(None, max_length=rules.MAX_GROUP)
    owners: list[AccountId] | None = Field(None, description="advisors or operators of this coop")
    retention_until: Date | None = Field(None, description="keep the case until then (default: a year)")
    student: StudentInput | None = Field(None, description="a student cooperative project (issue 16)")


class CaseChange(Input):
    """Fields of a case to change."""

    title: str | None = Field(None, min_length=1, max_length=rules.MAX_TITLE)
    origin_kind: OriginKind | None = None
    target_form: TargetForm | None = None
    description: str | None = Field(None, max_length=rules.MAX_TEXT)
    trades: Trades | None = Field(None, max_length=10)
    group: list[Contact] | None = Field(None, max_length=rules.MAX_GROUP)
    owners: list[AccountId] | None = None
    retention_until: Date | None = None
    stage_dates: dict[Stage, StageDates] | None = None
    student: StudentInput | None = None


class StageMove(Input):
    stage: Stage


class ChecklistChange(Input):
    """``{stage, key, done?}`` ticks (or toggles) an item; ``{stage, label}`` adds one."""

    stage: Stage
    key: str | None = Field(None, max_length=40)
    done: bool | None = None
    label: str | None = Field(None, max_length=200)


class NoteInput(Input):
    stage: Stage
    text: str = Field(max_length=rules.MAX_TEXT)


class DocumentInput(Input):
    stage: Stage
    name: str = Field(max_length=200)
    ref: str = Field(max_length=500, description="where the document is (a link, a shelf...)")


class DecisionInput(Input):
    stage: Stage
    text: str = Field(max_length=2000)
    date: Date | None = None
    who: str | None = Field(None, max_length=200)


class ShareInput(Input):
    coop: Origin


class BundleInput(Input):
    name: Origin = Field(description="the new coop's node name")
    url: str = Field(max_length=200, description="where its node will be served")
    display_name: str = Field(max_length=120)


class MentorsQuery(Input):
    trades: str = Field("", max_length=200, description="ROME codes, comma-separated")


class CasesQuery(Input):
    stage: Stage | None = None


class PathStepInput(Input):
    status: PathStatus
    since: Date | None = Field(None, description="when it took effect (today when absent)")
    note: str | None = Field(None, max_length=500)


class Progress(BaseModel):
    done: int
    total: int


class CaseCard(BaseModel):
    """A case as the board shows it."""

    model_config = ConfigDict(extra="allow")
    origin: Origin
    id: RecordId
    ref: str
    title: str
    stage: Stage
    target_form: TargetForm
    origin_kind: OriginKind
    group_size: int
    next_items: list[dict[str, Any]]
    progress: Progress
    shared_with: list[Origin]
    own: bool = Field(description="opened by this coop (else shared with it)")
    updated_at: Ms


class LegalCheck(BaseModel):
    ok: bool
    problems: list[str]
    unchecked: list[str]


class Case(CaseCard):
    """A whole case: its group, owners, stages (checklists, notes, documents, decisions) and legal check."""

    description: str
    trades: list[dict[str, Any]]
    group: list[dict[str, Any]]
    owners: list[dict[str, Any]]
    stages: dict[str, dict[str, Any]]
    node: dict[str, Any] | None
    legal_check: LegalCheck
    created_at: Ms
    updated_by: str
    retention_until: str


class Mentor(BaseModel):
    origin: Origin
    id: RecordId
    display_name: str
    trades: list[TRADE_VIEW]  # type: ignore[valid-type]
    town: str | None
    stage: str | None
    mentoring_offer: bool


class Bundle(BaseModel):
    """What the new coop's operator needs to start its node and ask to join."""

    model_config = ConfigDict(extra="allow")
    name: Origin
    display_name: str
    url: str
    sponsor: Origin
    sponsor_url: str
    case: str
    network: Any


class PathStep(BaseModel):
    status: str
    since: str
    note: str
    recorded_at: Ms
