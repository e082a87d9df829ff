"""What a refusal of a service means to the person who filled the form, in their language.

The services raise :class:`~node.errors.NodeError` with English messages written for developers and logs
(``bio: longer than 2000 characters``, ``unknown ROME code 'X'``); the JSON API returns them as they are. A page
never shows them: :func:`explain` turns an error into a summary and one message per field, in the page's
language, from the reasons the services and the protocol's schema give (a table of patterns below, each with
the words a member reads). Anything not in the table reads as a general, translated sentence for its kind of
error; the English original is logged, never shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from node.errors import InvalidInput, NodeError, TooManyAttempts
from node.web.i18n import Lang


def N_(message: str) -> str:  # noqa: N802 - the gettext marker convention
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


#: field reasons (the text after "field: ") -> the message a member reads; named groups become its variables
FIELD_REASONS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern, re.IGNORECASE), message)
    for pattern, message in (
        (r"(?:longer than|at most) (?P<n>\d+) characters", N_("Please write at most %(n)s characters.")),
        (r"(?:is required|cannot be empty|required)$", N_("This field is required.")),
        (r"must be (?P<low>\d+) to (?P<high>\d+) characters", N_("Please use %(low)s to %(high)s characters.")),
        (
            r"unknown (?:ROME code|trade) '(?P<value>[^']*)'",
            N_("“%(value)s” is not a trade we know: pick one from the list."),
        ),
        (r"trades are ROME codes|give at least one ROME code", N_("Pick at least one trade from the list.")),
        (r"at most (?P<n>\d+) ROME codes|more than (?P<n2>\d+) items", N_("Too many entries here.")),
        (
            r"(?P<count>\d+) towns are called '(?P<value>[^']*)': (?P<choices>.*?)(?:; also known.*?)?; add the",
            N_("Several towns are called “%(value)s”: %(choices)s. Add the postcode or the département."),
        ),
        (
            r"(?P<value>\d{5}) is the postcode of \d+ towns: (?P<choices>.*?); give the town",
            N_("%(value)s is the postcode of several towns: %(choices)s. Add the name of the town."),
        ),
        (r"unknown town '(?P<value>[^']*)'", N_("No town of France is called “%(value)s”.")),
        (r"unknown postcode (?P<value>\d+)", N_("No town of France has the postcode %(value)s.")),
        (r"is not a French postcode|two different postcodes", N_("A French postcode has five digits.")),
        (r"give a town or a postcode|must be a town or postcode", N_("Give a town or a postcode.")),
        (r"is not a département number", N_("A département is a number such as 05, 93 or 2A.")),
        (r"is not a phone number", N_("This is not a phone number.")),
        (r"one of the most common passwords", N_("This password is one of the most common: choose another.")),
        (r"must not be your e-mail address", N_("Your password must not be your email address.")),
        (r"not an e-mail address", N_("This is not an email address.")),
        (r"duplicate of line (?P<line>\d+)", N_("Already on line %(line)s.")),
        (r"an account with this e-mail already exists", N_("An account with this email address already exists.")),
        (
            r"has (?P<cells>\d+) cells, the header has (?P<header>\d+)",
            N_("This line has %(cells)s cells; the header has %(header)s."),
        ),
        (r"is before available_from", N_("“Until” must come after “from”.")),
        (r"not a date", N_("Give a valid date.")),
        (r"must be an integer from 0 to 7", N_("Give a number of days from 0 to 7.")),
        (r"must be ISO 639 codes", N_("Pick languages from the list.")),
        (r"does not match https\?", N_("Give a web address starting with https://.")),
        (r"must be a date|is not a calendar date|a date YYYY-MM-DD", N_("Give a valid date.")),
        (
            r"must be within (?P<low>-?\d+)\.\.(?P<high>-?\d+)|must be between (?P<low2>\S+) and (?P<high2>\S+)",
            N_("Give a number within the allowed range."),
        ),
        (r"must be an integer|must be a number|a whole number", N_("Give a whole number.")),
        (r"must be one of|^one of ", N_("Pick one of the proposed values.")),
        (r"can be at most (?P<level>\w+)", N_("This field cannot be shown that widely.")),
        (r"the proposal is already", N_("The vote on this decision is over.")),
        (r"at most \d+ saved searches", N_("You keep too many saved searches: delete one first.")),
        (r"this stage's checklist is full|at most \d+ per stage", N_("This stage holds the most items it can.")),
        (r"the name of another coop's node|must be the name of a coop", N_("Pick a cooperative of the network.")),
        (r"you are already a member of this coop", N_("You are already a member of this cooperative.")),
        (r"give words to search for", N_("Type words to search for, or choose a filter.")),
        (r"a meeting cannot be in the future", N_("A meeting cannot be in the future.")),
        (r"unknown field|is not a filter", N_("This value is not accepted here.")),
    )
)

#: whole messages of refusals (Conflict, NotFound, Forbidden...) -> the message a member reads
MESSAGES: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern, re.IGNORECASE), message)
    for pattern, message in (
        (r"registration for this event is not open", N_("Registration for this event is not open.")),
        (r"you are already registered", N_("You are already registered for this event.")),
        (r"this event is full", N_("This event is full.")),
        (r"you are not registered", N_("You are not registered for this event.")),
        (r"this help request is closed", N_("This help request is closed.")),
        (r"a move of this account is already under way", N_("Your move to another cooperative is already under way.")),
        (r"this move is being accepted", N_("Someone is accepting this move right now.")),
        (
            r"invitation link is unknown, used or expired",
            N_("This invitation link is unknown, already used or expired."),
        ),
        (r"this account is already activated", N_("This account is already activated: sign in.")),
        (r"this account is disabled\Z", N_("This account is disabled.")),
        (r"the password does not match", N_("The password is not the right one.")),
        (
            r"operators cannot disable or demote themselves",
            N_("You cannot disable your own account or change its role."),
        ),
        (r"operators cannot erase their own account here", N_("You cannot erase your own account here.")),
        (r"not started in this browser", N_("This sign-in was not started in this browser: start again.")),
        (r"this sign-in took too long", N_("This sign-in took too long: start again.")),
        (
            r"identity provider (?:refused this sign-in|did not sign you in|sent no ID token|answered about)"
            r"|the ID token of the coop's identity provider",
            N_("Your cooperative's sign-in service did not sign you in: start again."),
        ),
        (
            r"identity provider (?:gave no e-mail address|has not verified this e-mail address)",
            N_("Your account at the cooperative's sign-in service has no verified email address: verify it there."),
        ),
        (
            r"no account here has this e-mail address",
            N_("No account here has this email address: ask your cooperative's operators for an invitation."),
        ),
        (
            r"identity provider cannot be reached|identity provider is misconfigured|identity provider gives no",
            N_("Your cooperative's sign-in service cannot be reached: try again later."),
        ),
        (r"this account is disabled: enable it first", N_("This account is disabled: enable it first.")),
        (
            r"is not a direct peer|not a member peer|no peer|unknown peer",
            N_("This cooperative is not a member of the network."),
        ),
        (
            r"the file holds NUL bytes|header row is required|a column appears twice",
            N_("This file is not a members CSV file: see the operators' guide for its columns."),
        ),
        (r"the file is larger than (?P<n>\d+) MiB", N_("The file is larger than %(n)s MiB.")),
        # mentoring programmes and schools (issue 16)
        (r"this programme's mentees are", N_("This programme is for other mentees: see who may apply.")),
        (r"you already joined this programme", N_("You already take part in this programme.")),
        (r"this programme is closed", N_("This programme is closed.")),
        (r"this mentee already has a pair", N_("This mentee already has a pair in this programme.")),
        (r"this mentor has no room left", N_("This mentor has no room left.")),
        (r"no longer waiting for an answer", N_("This pair is no longer waiting for an answer.")),
        (r"check-ins are for active pairs|only an active pair", N_("This pair is not under way.")),
        (r"this request is (?:already an event|planned|declined)", N_("This request has already been handled.")),
        (
            r"the moving member's profile is not acceptable here",
            N_("The profile of this member cannot be taken in here."),
        ),
    )
)

GENERAL: Final[Mapping[int, str]] = {
    400: N_("This request could not be read. Reload the page and try again."),
    401: N_("Please sign in first."),
    403: N_("This page or action is reserved."),
    404: N_("This page does not exist, or is not visible to you."),
    405: N_("This page cannot be used that way."),
    409: N_("This cannot be done now: reload the page to see where things stand."),
    413: N_("What you sent is too large."),
    422: N_("Some of what you typed is not accepted: see the messages next to the fields."),
    503: N_("The node is busy: try again in a moment."),
    500: N_("Something went wrong on our side. The coop's operators can read what in the node's log."),
}


_MORE: Final = re.compile(r" and \d+ more$")


@dataclass(frozen=True, slots=True)
class Explained:
    """A refusal in the page's language: a sentence for the top of the page, and one per form field."""

    summary: str
    fields: dict[str, str] = field(default_factory=dict)


def field_message(reason: str, lang: Lang) -> str:
    """One field's reason, in the page's language (a general sentence when it is not in the table)."""
    for pattern, message in FIELD_REASONS:
        found = pattern.search(reason)
        if found is not None:
            values = {k: (v or "") for k, v in found.groupdict().items()}
            values["choices"] = _MORE.sub("…", values.get("choices", ""))
            return lang.gettext(message) % values
    return lang.gettext(N_("This value is not accepted."))


def general(status: int, lang: Lang) -> str:
    return lang.gettext(GENERAL.get(status, GENERAL[500] if status >= 500 else GENERAL[400]))


def explain(exc: NodeError, lang: Lang) -> Explained:
    """``exc`` for a person: field errors keyed by the field names the service used (the form maps them)."""
    if isinstance(exc, TooManyAttempts) and "in a short time" in exc.message:  # a rate limit (rate_limits.py)
        text = lang.ngettext(
            "You are going too fast: wait %(num)s second and try again.",
            "You are going too fast: wait %(num)s seconds and try again.",
            exc.retry_after,
        )
        return Explained(text % {"num": exc.retry_after})
    if isinstance(exc, TooManyAttempts):
        minutes = max(1, -(-exc.retry_after // 60))
        text = lang.ngettext(
            "Too many attempts: try again in %(num)s minute.",
            "Too many attempts: try again in %(num)s minutes.",
            minutes,
        )
        return Explained(text % {"num": minutes})
    fields: dict[str, str] = {}
    if isinstance(exc, InvalidInput):
        for name, reason in exc.fields.items():
            fields[name] = field_message(reason, lang)
        if fields:
            return Explained(general(422, lang), fields)
        name, _, reason = exc.message.partition(": ")
        if reason and " " not in name:
            return Explained(general(422, lang), {name: field_message(reason, lang)})
    for pattern, message in MESSAGES:
        found = pattern.search(exc.message)
        if found is not None:
            return Explained(lang.gettext(message) % {k: (v or "") for k, v in found.groupdict().items()})
    if isinstance(exc, InvalidInput):
        return Explained(field_message(exc.message, lang))
    return Explained(general(exc.status, lang))
