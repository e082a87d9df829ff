"""A member profile's models, generated from :data:`node.services.profiles.PROFILE_FIELDS` (which fields exist,
how wide each may be shared) and the protocol's ``profile`` record (what each holds): nothing here restates a
field's type or limit.

* :data:`ProfileFields`: the fields as the node shows them (a viewer sees those their level reaches);
* :data:`ProfileFieldsInput` and :data:`VisibilityInput`: what a member sends to change their profile.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field, StringConstraints

from node.http.record_models import fields_model
from node.http.types import Input, Level, Ms, RecordId
from node.services.profiles import PHONE_RE, PROFILE_FIELDS
from node.viewer import LEVELS
from protocol.records import PROFILE, SKILLS

_RECORD_FIELDS: Final = [f for f in PROFILE.fields if f.name in PROFILE_FIELDS]
_NODE_ONLY: Final = sorted(set(PROFILE_FIELDS) - {f.name for f in _RECORD_FIELDS})
if _NODE_ONLY != ["phone"]:  # a new node-only field needs its type here
    raise RuntimeError(f"profile fields without a protocol declaration: {_NODE_ONLY}")
DISPLAY_NAME: Final = next(f for f in PROFILE.fields if f.name == "display_name")
Phone = Annotated[str, StringConstraints(pattern="^" + PHONE_RE.pattern.removesuffix(r"\Z") + "$")]


def _help(name: str) -> dict[str, Any]:
    text = PROFILE_FIELDS[name].help
    return {"description": text} if text else {}


ProfileFields: Final = fields_model(
    "ProfileFields",
    _RECORD_FIELDS,
    "view",
    required=(),
    doc="A member's profile fields, those the viewer may see",
    extra={"phone": (Phone | None, Field(None, **_help("phone")))},
)
ProfileFieldsInput: Final = fields_model(
    "ProfileFieldsInput",
    _RECORD_FIELDS,
    "input",
    required=(),
    doc="Profile fields to set; null (or an empty string or list) clears one",
    not_null=["display_name"],
    overrides={
        "display_name": Annotated[str, StringConstraints(min_length=1, max_length=DISPLAY_NAME.max_len)],
        "skills": Annotated[
            list[Annotated[str, StringConstraints(max_length=SKILLS.item.max_len if SKILLS.item else 60)]],
            Field(max_length=SKILLS.max_len),
        ],
    },
    extra={"phone": (Phone | None, Field(None, **_help("phone")))},
)
VisibilityInput: Final = fields_model(
    "VisibilityInput",
    [],
    "input",
    required=(),
    doc="Who may see each field: private, coop, network or public (up to each field's widest level)",
    extra={
        name: (Literal[LEVELS[: LEVELS.index(spec.widest) + 1]] | None, Field(None))
        for name, spec in PROFILE_FIELDS.items()
    },
)


class ProfileChange(Input):
    """Fields to set and visibilities to change (PUT replaces the fields not given; PATCH keeps them)."""

    fields: ProfileFieldsInput | None = None  # type: ignore[valid-type]
    visibility: VisibilityInput | None = None  # type: ignore[valid-type]

    def payload(self) -> dict[str, Any]:
        """The change as :meth:`node.services.directory.Directory.update_my_profile` takes it (a null part is
        an absent one)."""
        return {k: v for k, v in self.model_dump(exclude_unset=True, by_alias=True).items() if v is not None}


class ProfileReplacement(ProfileChange):
    """The whole profile: ``fields`` is required (a missing or empty body must not clear every field)."""

    fields: ProfileFieldsInput  # type: ignore[valid-type]


class MyProfile(BaseModel):
    """My whole profile, with the visibility of each field; ``published`` says whether a part of it is shared
    with the network."""

    id: RecordId
    fields: ProfileFields  # type: ignore[valid-type]
    visibility: dict[str, Level]
    updated_at: Ms
    published: bool | None = None


class MemberProfile(BaseModel):
    """A member's profile as the viewer may see it (their own, whole, with visibilities)."""

    id: RecordId
    fields: ProfileFields  # type: ignore[valid-type]
    visibility: dict[str, Level] | None = None
    updated_at: Ms | None = None
