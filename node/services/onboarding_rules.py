"""The rules of an onboarding case, with no database and no HTTP: stages, checklists, input checks, legal form.

A case's ``data`` document (stored whole, sent whole when shared)::

    {"description": str, "trades": [{"rome", "label"}], "group": [contact...], "owners": [owner...],
     "stages": {stage: {"checklist": [{"key", "label"?, "done"}], "planned", "started", "done",
                        "notes": [...], "documents": [...], "decisions": [...]}},
     "node": {"name", "url", "built_at"}?}

Title, stage, origin and target form are columns of the row (the board sorts and filters on them).

Legal form (what can be checked from the group as entered):

* a Scop needs at least two associates, and its employee associates must hold the majority of the capital and
  of the votes. French law (loi 78-763, art. 5) sets the thresholds at 51 % of the capital and 65 % of the
  votes; both are constants here. Votes count one per associate; capital is checked only once every
  associate's contribution is known (until then it is listed as unchecked, not as a problem);
* a Scic gathers at least three categories of associates, among them employees (or producers) and
  beneficiaries (loi 47-1775, art. 19 septies).

A case cannot move past the legal-form stage while these checks find a problem.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from node.clock import utc_datetime
from node.errors import InvalidInput
from node.reference.data import Reference
from protocol.records import CASE_STAGES

STAGES: Final = CASE_STAGES  # the protocol names them: a shared case carries its stages (case_share)
ORIGIN_KINDS: Final = ("new_creation", "association_conversion", "company_takeover", "cae_collective")
TARGET_FORMS: Final = ("cae_activity", "scop", "scic", "other")
STAKEHOLDERS: Final = ("employee", "producer", "beneficiary", "volunteer", "local_authority", "supporter", "other")
DEFAULT_CHECKLISTS: Final[dict[str, tuple[str, ...]]] = {
    "emergence": ("group", "idea", "needs"),
    "co_accompaniment": ("workshops", "governance", "roles"),
    "feasibility": ("market", "business_plan", "funding_needs"),
    "legal_form": ("form_chosen", "associates", "capital"),
    "statutes": ("draft", "review", "signed"),
    "financing": ("plan", "loans", "grants"),
    "registration": ("capital_deposit", "registry", "node"),
    "follow_up": ("first_year", "federation", "mentoring"),
}
SCOP_MIN_ASSOCIATES: Final = 2
SCOP_EMPLOYEE_CAPITAL_SHARE: Final = 0.51
SCOP_EMPLOYEE_VOTE_SHARE: Final = 0.65
SCIC_MIN_CATEGORIES: Final = 3
LEGAL_GATE: Final = STAGES.index("statutes")  # moving to this stage or later needs a clean legal check
BUNDLE_STAGE: Final = STAGES.index("registration")

MAX_TITLE: Final = 200
MAX_TEXT: Final = 4000
MAX_GROUP: Final = 50
MAX_ITEMS: Final = 100  # notes, documents, decisions, checklist items per stage
DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
EMAIL_RE: Final = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}\Z")
_CASE_FIELDS: Final = frozenset(
    {"title", "description", "trades", "origin_kind", "target_form", "group", "owners", "student"}
)
_CREATE_FIELDS: Final = _CASE_FIELDS | {"retention_until"}


def iso_date(ms: int) -> str:
    return utc_datetime(ms).date().isoformat()


def date_ms(value: str) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


def check_date(value: object, name: str) -> str | None:
    """A ``YYYY-MM-DD`` date, ``None`` (clear), or a field error."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or DATE_RE.match(value) is None:
        raise InvalidInput.field(name, "must be a date YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput.field(name, "is not a calendar date") from exc
    return value


def text(value: object, name: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput.field(name, "must be a string")
    value = value.strip()
    if required and not value:
        raise InvalidInput.field(name, "is required")
    if len(value) > limit:
        raise InvalidInput.field(name, f"at most {limit} characters")
    return value


def choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput.field(name, "one of " + ", ".join(choices))
    return value


def check_stage(value: object) -> str:
    return choice(value, "stage", STAGES)


# ---------------------------------------------------------------------------------------------- case input


def check_contact(value: object, index: int) -> dict[str, Any]:
    """One person of the group: name, email, role in the group, and what the legal checks need."""
    where = f"group[{index}]"
    if not isinstance(value, dict):
        raise InvalidInput.field(where, "must be an object")
    unknown = set(value) - {"name", "email", "role", "associate", "employee", "capital_eur", "stakeholder"}
    if unknown:
        raise InvalidInput.field(where, f"unknown fields {sorted(unknown)}")
    contact: dict[str, Any] = {"name": text(value.get("name"), f"{where}.name", 120, required=True)}
    email = text(value.get("email"), f"{where}.email", 254)
    if email:
        if EMAIL_RE.match(email) is None:
            raise InvalidInput.field(f"{where}.email", "is not an e-mail address")
        contact["email"] = email.lower()
    role = text(value.get("role"), f"{where}.role", 80)
    if role:
        contact["role"] = role
    for flag in ("associate", "employee"):
        raw = value.get(flag, False)
        if not isinstance(raw, bool):
            raise InvalidInput.field(f"{where}.{flag}", "must be true or false")
        contact[flag] = raw
    capital = value.get("capital_eur")
    if capital is not None:
        if isinstance(capital, bool) or not isinstance(capital, int) or not 0 <= capital <= 1_000_000_000:
            raise InvalidInput.field(f"{where}.capital_eur", "a whole number of euros, 0 or more")
        contact["capital_eur"] = capital
    if value.get("stakeholder") is not None:
        contact["stakeholder"] = choice(value.get("stakeholder"), f"{where}.stakeholder", STAKEHOLDERS)
    return contact


def check_case_input(payload: object, reference: Reference, *, creating: bool) -> dict[str, Any]:
    """Checked values of the case fields given (all required ones when ``creating``); collects every error."""
    if not isinstance(payload, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    allowed = _CREATE_FIELDS if creating else _CASE_FIELDS | {"retention_until", "stage_dates"}
    unknown = set(payload) - allowed
    if unknown:
        raise InvalidInput.field("body", f"unknown fields {sorted(unknown)}")
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}

    def attempt(name: str, fn: Any) -> None:
        try:
            result[name] = fn()
        except InvalidInput as exc:
            errors.update(exc.fields or {name: exc.message})

    if creating or "title" in payload:
        attempt("title", lambda: text(payload.get("title"), "title", MAX_TITLE, required=True))
    if "description" in payload:
        attempt("description", lambda: text(payload.get("description"), "description", MAX_TEXT))
    if creating or "origin_kind" in payload:
        attempt("origin_kind", lambda: choice(payload.get("origin_kind"), "origin_kind", ORIGIN_KINDS))
    if creating or "target_form" in payload:
        attempt("target_form", lambda: choice(payload.get("target_form"), "target_form", TARGET_FORMS))
    if "trades" in payload:
        attempt("trades", lambda: _trades(payload.get("trades"), reference))
    if "group" in payload:
        attempt("group", lambda: _group(payload.get("group")))
    if "owners" in payload:
        owners = payload.get("owners")
        if not isinstance(owners, list) or not all(isinstance(o, int) and not isinstance(o, bool) for o in owners):
            errors["owners"] = "a list of account ids (advisors or operators of this coop)"
        else:
            result["owners"] = list(dict.fromkeys(owners))
    if "retention_until" in payload:
        attempt("retention_until", lambda: check_date(payload.get("retention_until"), "retention_until"))
    if "stage_dates" in payload:
        attempt("stage_dates", lambda: _stage_dates(payload.get("stage_dates")))
    if payload.get("student") is not None:
        attempt("student", lambda: check_student(payload.get("student")))
    if errors:
        raise InvalidInput("invalid onboarding case", errors)
    return result


# ------------------------------------------------------------------------------- student projects (issue 16)

#: the academic year's usual steps of a student cooperative project, in months after the year's start
STUDENT_MILESTONES: Final = (
    (0, "Constitution du groupe / Forming the group"),
    (2, "Idée et besoins / Idea and needs"),
    (4, "Étude de faisabilité / Feasibility study"),
    (6, "Statuts et gouvernance / Statutes and governance"),
    (8, "Soutenance / Presentation"),
)


def check_student(value: object) -> dict[str, Any]:
    """A student project's frame: the university, its tutor, the academic year and its milestones (the usual
    ones when none are given)."""
    if not isinstance(value, dict):
        raise InvalidInput.field("student", "an object {university, tutor, course, year_start, year_end, milestones}")
    unknown = set(value) - {"university", "tutor", "course", "year_start", "year_end", "milestones"}
    if unknown:
        raise InvalidInput.field("student", f"unknown fields {sorted(unknown)}")
    student: dict[str, Any] = {"university": text(value.get("university"), "student.university", 200, required=True)}
    for name, limit in (("tutor", 120), ("course", 200)):
        found = text(value.get(name), f"student.{name}", limit)
        if found:
            student[name] = found
    start = check_date(value.get("year_start"), "student.year_start")
    end = check_date(value.get("year_end"), "student.year_end")
    if start is None or end is None:
        raise InvalidInput.field("student.year_start", "the academic year's start and end are required")
    if end <= start:
        raise InvalidInput.field("student.year_end", "must be after the start")
    student["year_start"], student["year_end"] = start, end
    milestones = value.get("milestones")
    if milestones:
        if not isinstance(milestones, list) or len(milestones) > 20:
            raise InvalidInput.field("student.milestones", "at most 20 {date, label}")
        student["milestones"] = [
            {
                "date": check_date(m.get("date"), f"student.milestones[{i}].date") if isinstance(m, dict) else None,
                "label": text(m.get("label"), f"student.milestones[{i}].label", 200) if isinstance(m, dict) else "",
            }
            for i, m in enumerate(milestones)
        ]
        if any(m["date"] is None for m in student["milestones"]):
            raise InvalidInput.field("student.milestones", "each milestone has a date")
    else:
        first = dt.date.fromisoformat(start)
        student["milestones"] = [
            {"date": _add_months(first, months).isoformat(), "label": label}
            for months, label in STUDENT_MILESTONES
            if _add_months(first, months).isoformat() <= end
        ]
    return student


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _trades(value: object, reference: Reference) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[,;\s]+", value) if part]
    if not isinstance(value, list) or len(value) > 10:
        raise InvalidInput.field("trades", "at most 10 ROME codes")
    found = [reference.trade(code) for code in value]
    return list({t["rome"]: t for t in found}.values())


def _group(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_GROUP:
        raise InvalidInput.field("group", f"a list of at most {MAX_GROUP} people")
    return [check_contact(item, i) for i, item in enumerate(value)]


def _stage_dates(value: object) -> dict[str, dict[str, str | None]]:
    if not isinstance(value, dict):
        raise InvalidInput.field("stage_dates", "an object {stage: {planned, started, done}}")
    result: dict[str, dict[str, str | None]] = {}
    for stage, dates in value.items():
        check_stage(stage)
        if not isinstance(dates, dict) or set(dates) - {"planned", "started", "done"}:
            raise InvalidInput.field(f"stage_dates.{stage}", "an object with planned, started, done")
        result[stage] = {k: check_date(v, f"stage_dates.{stage}.{k}") for k, v in dates.items()}
    return result


# ---------------------------------------------------------------------------------------------- documents


def empty_stage(stage: str) -> dict[str, Any]:
    return {
        "checklist": [{"key": key, "done": False} for key in DEFAULT_CHECKLISTS[stage]],
        "planned": None,
        "started": None,
        "done": None,
        "notes": [],
        "documents": [],
        "decisions": [],
    }


def new_case_data(values: Mapping[str, Any], owners: list[dict[str, Any]], today: str) -> dict[str, Any]:
    stages = {stage: empty_stage(stage) for stage in STAGES}
    stages["emergence"]["started"] = today
    return {
        "description": values.get("description", ""),
        "trades": values.get("trades", []),
        "group": values.get("group", []),
        "owners": owners,
        "stages": stages,
        **({"student": values["student"]} if values.get("student") else {}),
    }


def stage_of(data: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """The stage's part of the document (created if an older or foreign snapshot lacks it)."""
    stages = data.setdefault("stages", {})  # type: ignore[attr-defined]
    if stage not in stages:
        stages[stage] = empty_stage(stage)
    found: dict[str, Any] = stages[stage]
    return found


def next_items(data: Mapping[str, Any], stage: str, count: int = 3) -> list[dict[str, Any]]:
    """The first checklist items not done at ``stage`` (what the board's card shows)."""
    items = data.get("stages", {}).get(stage, {}).get("checklist", [])
    return [item for item in items if not item.get("done")][:count]


def progress(data: Mapping[str, Any], stage: str) -> tuple[int, int]:
    items = data.get("stages", {}).get(stage, {}).get("checklist", [])
    return sum(1 for item in items if item.get("done")), len(items)


@dataclass(frozen=True, slots=True)
class LegalCheck:
    """What the group as entered says about the target form: ``problems`` block the statutes stage;
    ``unchecked`` lists what cannot be checked yet (missing information)."""

    problems: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": list(self.problems), "unchecked": list(self.unchecked)}


def legal_check(target_form: str, group: Sequence[Mapping[str, Any]]) -> LegalCheck:
    """Check the group against the target form (see the module docstring). Messages are stable codes."""
    associates = [p for p in group if p.get("associate")]
    if target_form == "scop":
        problems: list[str] = []
        unchecked: list[str] = []
        if len(associates) < SCOP_MIN_ASSOCIATES:
            problems.append("scop.min_associates")
        employees = [p for p in associates if p.get("employee")]
        if associates and len(employees) / len(associates) < SCOP_EMPLOYEE_VOTE_SHARE:
            problems.append("scop.employee_votes")
        capitals = [p.get("capital_eur") for p in associates]
        if associates and all(isinstance(c, int) for c in capitals):
            total = sum(int(c or 0) for c in capitals)
            held = sum(int(p.get("capital_eur") or 0) for p in employees)
            if total == 0 or held / total < SCOP_EMPLOYEE_CAPITAL_SHARE:
                problems.append("scop.employee_capital")
        elif associates:
            unchecked.append("scop.employee_capital")
        return LegalCheck(tuple(problems), tuple(unchecked))
    if target_form == "scic":
        problems = []
        categories = {p.get("stakeholder") for p in associates if p.get("stakeholder")}
        missing = [p for p in associates if not p.get("stakeholder")]
        if len(categories) < SCIC_MIN_CATEGORIES:
            problems.append("scic.min_categories")
        if not categories & {"employee", "producer"}:
            problems.append("scic.employees_or_producers")
        if "beneficiary" not in categories:
            problems.append("scic.beneficiaries")
        return LegalCheck(tuple(problems), ("scic.stakeholder_missing",) if missing else ())
    return LegalCheck()
