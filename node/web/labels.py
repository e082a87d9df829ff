"""Every enumeration a page shows, as words: the codes of records, services and rules mapped to translatable labels.

A code never reaches a page as it is: templates print ``label(group, code)``, which looks the code up here and
translates it into the page's language. ``P_`` only marks a label for extraction (``pybabel extract -k P_:1c,2``);
its first argument is the context a translator sees (the same English word may need two French ones). A code this
node does not know (a newer peer's) reads as the group's ``unknown`` label, never as the code itself.
"""

from __future__ import annotations

from typing import Final


def P_(context: str, message: str) -> tuple[str, str]:  # noqa: N802 - the gettext marker convention
    """Mark ``message`` (in ``context``) for extraction; it is translated where it is shown."""
    return (context, message)


UNKNOWN: Final = P_("unknown code", "other")

LABELS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "facet": {
        "language": P_("search filter", "Language"),
        "stage": P_("search filter", "Project stage"),
        "origin": P_("search filter", "Cooperative"),
        "trade": P_("search filter", "Trade"),
        "departement": P_("search filter", "Département"),
        "kind": P_("search filter", "Type"),
    },
    "record_type": {
        "profile": P_("kind of record", "Member"),
        "offer": P_("kind of record", "Offer / request"),
        "event": P_("kind of record", "Event"),
        "mentoring": P_("kind of record", "Mentoring"),
        "help_request": P_("kind of record", "Help request"),
    },
    "visibility": {
        "private": P_("who sees a field", "Only me"),
        "coop": P_("who sees a field", "My cooperative"),
        "network": P_("who sees a field", "The network"),
        "public": P_("who sees a field", "Everyone"),
    },
    "profile_field": {
        "display_name": P_("profile field", "Display name"),
        "bio": P_("profile field", "About me"),
        "trades": P_("profile field", "Trades"),
        "skills": P_("profile field", "Skills"),
        "languages": P_("profile field", "Languages"),
        "place": P_("profile field", "Town"),
        "availability": P_("profile field", "Availability"),
        "stage": P_("profile field", "Project stage"),
        "coop_status": P_("profile field", "Status in the cooperative"),
        "links": P_("profile field", "Links"),
        "contact_preference": P_("profile field", "Contact preference"),
        "day_rate_eur": P_("profile field", "Day rate (€)"),
        "phone": P_("profile field", "Phone"),
    },
    "registration_state": {
        "pending": P_("event registration", "waiting for the organiser"),
        "confirmed": P_("event registration", "confirmed"),
        "full": P_("event registration", "refused: full"),
        "closed": P_("event registration", "refused: registration closed"),
        "unknown": P_("event registration", "refused: event not found"),
        "cancelled": P_("event registration", "cancelled"),
    },
    "legal_problem": {
        "unchecked": P_("legal form check", "Cannot be checked yet"),
        "scop.min_associates": P_("legal form check", "A Scop has at least two associates."),
        "scop.employee_votes": P_(
            "legal form check", "Employee associates must hold at least 65 per cent of the votes."
        ),
        "scop.employee_capital": P_(
            "legal form check", "Employee associates must hold at least 51 per cent of the capital."
        ),
        "scic.min_categories": P_("legal form check", "A Scic gathers at least three categories of associates."),
        "scic.employees_or_producers": P_(
            "legal form check", "A Scic includes employees (or producers) among its associates."
        ),
        "scic.beneficiaries": P_("legal form check", "A Scic includes beneficiaries among its associates."),
        "scic.stakeholder_missing": P_("legal form check", "some associates have no category yet"),
    },
    "stakeholder": {
        "employee": P_("associate category", "employee"),
        "producer": P_("associate category", "producer"),
        "beneficiary": P_("associate category", "beneficiary"),
        "volunteer": P_("associate category", "volunteer"),
        "local_authority": P_("associate category", "local authority"),
        "supporter": P_("associate category", "supporter"),
        "other": P_("associate category", "other"),
    },
    "case_stage": {
        "emergence": P_("accompaniment stage", "Emergence"),
        "co_accompaniment": P_("accompaniment stage", "Co-accompaniment workshops"),
        "feasibility": P_("accompaniment stage", "Feasibility"),
        "legal_form": P_("accompaniment stage", "Legal form"),
        "statutes": P_("accompaniment stage", "Statutes"),
        "financing": P_("accompaniment stage", "Financing"),
        "registration": P_("accompaniment stage", "Registration"),
        "follow_up": P_("accompaniment stage", "Follow-up"),
    },
    "origin_kind": {
        "new_creation": P_("where a project comes from", "New creation"),
        "association_conversion": P_("where a project comes from", "Conversion of an association"),
        "company_takeover": P_("where a project comes from", "Company takeover"),
        "cae_collective": P_("where a project comes from", "Collective inside a CAE"),
    },
    "target_form": {
        "cae_activity": P_("legal form aimed at", "Activity inside a CAE"),
        "scop": P_("legal form aimed at", "Scop"),
        "scic": P_("legal form aimed at", "Scic"),
        "other": P_("legal form aimed at", "Other cooperative"),
    },
    "checklist_item": {
        "emergence.group": P_("checklist item", "The group forms, each says their role"),
        "emergence.idea": P_("checklist item", "The project idea is written down"),
        "emergence.needs": P_("checklist item", "Needs and motivations shared"),
        "co_accompaniment.workshops": P_("checklist item", "Cooperative workshops attended"),
        "co_accompaniment.governance": P_("checklist item", "Governance discussed"),
        "co_accompaniment.roles": P_("checklist item", "Roles and commitments agreed"),
        "feasibility.market": P_("checklist item", "Market study"),
        "feasibility.business_plan": P_("checklist item", "Financial forecast"),
        "feasibility.funding_needs": P_("checklist item", "Funding needs costed"),
        "legal_form.form_chosen": P_("checklist item", "Legal form chosen"),
        "legal_form.associates": P_("checklist item", "Associates and categories listed"),
        "legal_form.capital": P_("checklist item", "Capital distribution"),
        "statutes.draft": P_("checklist item", "Draft statutes"),
        "statutes.review": P_("checklist item", "Statutes reviewed (regional union, lawyer)"),
        "statutes.signed": P_("checklist item", "Statutes signed"),
        "financing.plan": P_("checklist item", "Financing plan"),
        "financing.loans": P_("checklist item", "Loans applied for"),
        "financing.grants": P_("checklist item", "Grants applied for"),
        "registration.capital_deposit": P_("checklist item", "Capital deposited"),
        "registration.registry": P_("checklist item", "Registered"),
        "registration.node": P_("checklist item", "Bigre node prepared"),
        "follow_up.first_year": P_("checklist item", "First-year review"),
        "follow_up.federation": P_("checklist item", "Joined the regional union"),
        "follow_up.mentoring": P_("checklist item", "Mentoring in place"),
    },
    "coop_status": {
        "cape": P_("status in the coop", "CAPE contract"),
        "salaried_entrepreneur": P_("status in the coop", "Salaried entrepreneur"),
        "associate": P_("status in the coop", "Associate"),
        "employee": P_("status in the coop", "Employee"),
        "other": P_("status in the coop", "Other"),
    },
    "vote": {
        "yes": P_("vote", "For"),
        "no": P_("vote", "Against"),
        "abstain": P_("vote", "Abstain"),
    },
    "proposal_result": {
        "pending": P_("decision result", "Open"),
        "accepted": P_("decision result", "Adopted"),
        "rejected": P_("decision result", "Rejected"),
    },
    "proposal_kind": {
        "admission": P_("network decision", "Admission"),
        "suspension": P_("network decision", "Suspension"),
        "expulsion": P_("network decision", "Expulsion"),
        "reinstatement": P_("network decision", "Reinstatement"),
        "leave": P_("network decision", "Leaving"),
        "charter": P_("network decision", "Charter change"),
        "key_recovery": P_("network decision", "Key recovery"),
    },
    "project_stage": {
        "starting": P_("project stage", "Starting out"),
        "intermittent": P_("project stage", "Intermittent activity"),
        "established": P_("project stage", "Established"),
    },
    "event_kind": {
        "training": P_("event kind", "Training"),
        "workshop": P_("event kind", "Workshop"),
        "working_group": P_("event kind", "Working group"),
        "meeting": P_("event kind", "Meeting"),
        "other": P_("event kind", "Other event"),
    },
    "event_status": {
        "scheduled": P_("event status", "Scheduled"),
        "cancelled": P_("event status", "Cancelled"),
    },
    "registration_mode": {
        "open": P_("event registration mode", "Open registration"),
        "approval": P_("event registration mode", "Registration on approval"),
        "closed": P_("event registration mode", "Registration closed"),
    },
    "thing_visibility": {
        "network": P_("who sees an offer or event", "Members of the network"),
        "public": P_("who sees an offer or event", "Everyone, also outside the network"),
    },
    "offer_purpose": {
        "offer": P_("offer purpose", "Offer"),
        "request": P_("offer purpose", "Request"),
    },
    "offer_status": {
        "open": P_("offer status", "Open"),
        "closed": P_("offer status", "Closed"),
        "fulfilled": P_("offer status", "Fulfilled"),
    },
    "reciprocity": {
        "paid": P_("reciprocity", "Paid"),
        "exchange": P_("reciprocity", "Exchange of services"),
        "time": P_("reciprocity", "Time bank"),
        "free": P_("reciprocity", "Free"),
    },
    "mentoring_kind": {
        "offer": P_("mentoring kind", "Offers mentoring"),
        "request": P_("mentoring kind", "Looks for a mentor"),
    },
    "mentoring_status": {
        "open": P_("mentoring status", "Open"),
        "paired": P_("mentoring status", "Paired"),
        "closed": P_("mentoring status", "Closed"),
    },
    "help_status": {
        "open": P_("help request status", "Open"),
        "answered": P_("help request status", "Answered"),
        "closed": P_("help request status", "Closed"),
    },
    "urgency": {
        "low": P_("urgency", "Not urgent"),
        "normal": P_("urgency", "Normal"),
        "high": P_("urgency", "Urgent"),
    },
    "availability": {
        "available": P_("availability", "Available"),
        "partly": P_("availability", "Partly available"),
        "busy": P_("availability", "Busy"),
        "unavailable": P_("availability", "Unavailable"),
    },
    "contact_preference": {
        "message": P_("contact preference", "Message through Bigre"),
        "email": P_("contact preference", "Email"),
        "phone": P_("contact preference", "Phone"),
    },
    "role": {
        "member": P_("account role", "Member"),
        "advisor": P_("account role", "Advisor"),
        "operator": P_("account role", "Operator"),
    },
    "account_status": {
        "active": P_("account status", "Active"),
        "invited": P_("account status", "Invited, no password yet"),
        "disabled": P_("account status", "Disabled"),
    },
    "peer_status": {
        "member": P_("peer status", "Member of the network"),
        "candidate": P_("peer status", "Candidate"),
        "suspended": P_("peer status", "Suspended"),
        "left": P_("peer status", "Left the network"),
    },
    "move_status": {
        "requested": P_("move status", "Asked, waiting for the other coop"),
        "pending": P_("move status", "Waiting for your decision"),
        "accepted": P_("move status", "Accepted, records being moved"),
        "done": P_("move status", "Done"),
    },
    "vote_refusal": {
        "wrong_proposal": P_("refused vote", "vote for another proposal"),
        "not_member": P_("refused vote", "not allowed to vote on this"),
        "duplicate_vote": P_("refused vote", "voted twice"),
        "late_vote": P_("refused vote", "signed after the deadline"),
    },
    "charter": {
        "admission_rule": P_("charter", "Admitting a coop"),
        "sponsors_required": P_("charter", "Sponsors needed"),
        "suspension_rule": P_("charter", "Suspending a coop"),
        "expulsion_rule": P_("charter", "Excluding a coop"),
        "charter_rule": P_("charter", "Changing the charter"),
        "recovery_rule": P_("charter", "Giving a coop a new key"),
        "voting_days": P_("charter", "Time to vote"),
        "proposers": P_("charter", "Who may propose"),
        "suspended_records": P_("charter", "Records of a suspended coop"),
        "departed_records": P_("charter", "Records of a coop that left"),
        "text": P_("charter", "The charter in words"),
    },
    "rule": {
        "majority": P_("voting rule", "Majority of the votes"),
        "two_thirds": P_("voting rule", "Two thirds of the votes"),
        "unanimity": P_("voting rule", "Unanimity"),
        "sponsors": P_("voting rule", "Enough sponsors, no veto"),
    },
    "proposers": {
        "any_member": P_("who may propose", "Any member coop"),
        "founders": P_("who may propose", "The founding coops"),
    },
    "suspended_records": {
        "keep": P_("records of a suspended coop", "Kept"),
        "drop": P_("records of a suspended coop", "Dropped"),
    },
    "departed_records": {
        "keep": P_("records of a coop that left", "Kept"),
        "drop": P_("records of a coop that left", "Dropped"),
    },
    # ---- shared spaces and machines (bookings)
    "resource_kind": {
        "space": P_("resource kind", "space"),
        "machine": P_("resource kind", "machine"),
    },
    "booking_status": {
        "requested": P_("booking status", "sent, waiting for the place's answer"),
        "pending": P_("booking status", "waiting for the staff's approval"),
        "confirmed": P_("booking status", "confirmed"),
        "refused": P_("booking status", "refused"),
        "cancelled": P_("booking status", "cancelled"),
    },
    "booking_reason": {
        "conflict": P_("booking refused", "this slot is already booked"),
        "not_qualified": P_("booking refused", "this machine needs a qualification you do not hold yet"),
        "closed": P_("booking refused", "this resource is closed to bookings"),
        "outside_hours": P_("booking refused", "this slot is outside the opening hours"),
        "invalid": P_("booking refused", "this slot does not fit the booking grid, is too long or is past"),
        "unknown": P_("booking refused", "the place does not know this resource any more"),
        "declined": P_("booking refused", "the place's staff declined it"),
        "by_staff": P_("booking refused", "cancelled by the place's staff"),
    },
    "price_audience": {
        "coop": P_("price audience", "members of the coop"),
        "network": P_("price audience", "members of the network"),
        "public": P_("price audience", "the public"),
    },
    "price_unit": {
        "hour": P_("price unit", "per hour"),
        "half_day": P_("price unit", "per half day"),
        "day": P_("price unit", "per day"),
        "booking": P_("price unit", "per booking"),
    },
    "resource_status": {
        "open": P_("resource status", "open to bookings"),
        "closed": P_("resource status", "closed to bookings"),
    },
    # -------------------------------------------------------------- mentoring programmes and schools (issue 16)
    "event_audience": {
        "members": P_("event audience", "For members"),
        "school": P_("event audience", "In a school"),
    },
    "school_status": {
        "new": P_("school request status", "New"),
        "planned": P_("school request status", "Planned: an event"),
        "declined": P_("school request status", "Declined"),
    },
    "school_done": {
        "volunteers": P_("school request done", "Volunteers saved."),
        "event": P_("school request done", "The event is published; the volunteers are told."),
        "declined": P_("school request done", "Request declined."),
    },
    "pair_status": {
        "proposed": P_("mentoring pair status", "Proposed, waiting for both answers"),
        "active": P_("mentoring pair status", "Under way"),
        "declined": P_("mentoring pair status", "Declined"),
        "closed": P_("mentoring pair status", "Closed"),
    },
    "pair_answer": {
        "pending": P_("mentoring pair answer", "has not answered yet"),
        "accepted": P_("mentoring pair answer", "accepted"),
        "declined": P_("mentoring pair answer", "declined"),
    },
    "pair_role": {
        "mentor": P_("mentoring role", "Mentor"),
        "mentee": P_("mentoring role", "Mentee"),
    },
    "programme_status": {
        "open": P_("programme status", "Open to applications"),
        "running": P_("programme status", "Under way"),
        "closed": P_("programme status", "Closed"),
    },
    "mentee_rule": {
        "first_year": P_("who may be a mentee", "members in their first year"),
        "under_30": P_("who may be a mentee", "members under 30"),
        "any": P_("who may be a mentee", "any member"),
    },
    "pair_reason": {
        "same_trade": P_("why a pair fits", "same trade"),
        "near_trade": P_("why a pair fits", "related trade"),
        "same_departement": P_("why a pair fits", "same département"),
        "same_region": P_("why a pair fits", "same region"),
        "shared_language": P_("why a pair fits", "a language in common"),
        "no_shared_language": P_("why a pair fits", "no language in common"),
        "shared_topic": P_("why a pair fits", "a topic in common"),
        "available": P_("why a pair fits", "mentor available"),
        "busy": P_("why a pair fits", "mentor busy"),
        "free_mentor": P_("why a pair fits", "mentor has no mentee yet"),
        "last_place": P_("why a pair fits", "mentor's last place"),
        "across_coops": P_("why a pair fits", "two cooperatives"),
    },
    "pair_done": {
        "proposed": P_("mentoring done", "Pair proposed: both members are told."),
        "accept": P_("mentoring done", "Your answer is sent."),
        "decline": P_("mentoring done", "Your answer is sent."),
        "close": P_("mentoring done", "The pair is closed. Thank you for your feedback!"),
        "checkin": P_("mentoring done", "Meeting recorded."),
        "joined": P_("mentoring done", "Thank you! The coordinators see your application."),
        "created": P_("mentoring done", "Programme published: every cooperative sees it."),
    },
}
