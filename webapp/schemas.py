"""Marshmallow schemas of the JSON API's request and response bodies.

They validate what clients send and produce the OpenAPI document, so a body's shape is
written down once. Error messages are English msgids marked with :func:`N_`; the API's
error handler translates them into the user's language when it answers.
"""

from datetime import UTC, date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .models import CardKind, CardStatus, RevokeReason, VenueCategory
from .rules import Reason, WarningCode
from .services.cards import MAX_CHILDREN, MAX_GROUP, MIN_AGE, MIN_BIRTH_YEAR
from .services.door import MAX_ASSISTANTS
from .services.stats import GROUPS, HIDDEN, HOLDER_GROUPS


def N_(message: str) -> str:
    """Mark a message for translation without translating it yet (gettext_noop)."""
    return message


# Marshmallow's and webargs' own English messages, marked so that the catalogue holds them:
# the API's error handler passes every validation message through gettext().
STOCK_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid date."),
    N_("Not a valid boolean."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Invalid JSON body."),
)

MAX_ID = 2**31 - 1  # the largest id a PostgreSQL integer column holds


class Text(fields.String):
    """A string that the database can store: no NUL character and no lone surrogate."""

    default_error_messages = {
        "unstorable": N_("The text contains characters that are not allowed.")
    }

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("unstorable") from None
        if "\x00" in text:
            raise self.make_error("unstorable")
        return text


class Moment(fields.AwareDateTime):
    """An ISO 8601 moment with its UTC offset, loaded as UTC (and only if UTC can hold it)."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+14:00
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


def _integer(**kwargs) -> fields.Integer:
    """Return a JSON integer field (no strings, floats or booleans)."""
    return fields.Integer(strict=True, **kwargs)


def _id(description: str) -> fields.Integer:
    return _integer(
        validate=validate.Range(1, MAX_ID, error=N_("Not a valid id.")),
        metadata={"description": description},
    )


def _date(description: str, **kwargs) -> fields.Date:
    return fields.Date(
        metadata={"description": description, "example": "2026-12-31"},
        **kwargs,
    )


def _one_of(choices, description: str, **kwargs) -> fields.String:
    return fields.String(
        validate=validate.OneOf(
            [str(choice) for choice in choices], error=N_("Not one of the allowed values.")
        ),
        metadata={"description": description},
        **kwargs,
    )


# Requests


class RequestSchema(Schema):
    """A JSON object; unknown fields are refused so that a misspelt optional field is noticed."""

    error_messages = {"type": N_("The request body must be a JSON object.")}


class CardCreateSchema(RequestSchema):
    # The card service holds the holder's rules and answers with its own codes
    # (holder_too_young, invalid_birth_year, invalid_postcode, invalid_children,
    # not_on_community_card); the metadata only documents them.
    kind = _one_of(
        CardKind,
        "`personal` (the default): a person's card. `community`: the issuing organisation's "
        "own card, which its worker takes to a visit with a group of clients under 16; it "
        "has no `birth_year` or `postcode` (giving one is 422 `not_on_community_card`).",
        load_default=CardKind.PERSONAL.value,
    )
    birth_year = _integer(
        metadata={
            "description": f"The holder's year of birth, required for a personal card; the "
            f"holder turns {MIN_AGE} this year or is older (`holder_too_young`).",
            "minimum": MIN_BIRTH_YEAR,
            "example": 1980,
        },
    )
    postcode = Text(
        metadata={
            "description": "Finnish postcode, five digits; required for a personal card.",
            "pattern": "^[0-9]{5}$",
            "example": "70100",
        },
    )
    children = _integer(
        required=True,
        metadata={
            "description": "A personal card: the holder's own or grand-children under age who "
            f"may come free (0 to {MAX_CHILDREN}). A community card: the most clients under "
            f"16 that one visit may bring (1 to {MAX_GROUP}).",
            "minimum": 0,
            "maximum": MAX_CHILDREN,
        },
    )
    region = Text(
        metadata={
            "description": "Region code of the card, e.g. `pohjois-savo`; "
            "default: the distributor's region.",
        }
    )
    valid_until = _date("Last day of validity; default one year from today.")
    issuer = _id("Id of the distributing organisation; needed only when the user works at several.")

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _personal_holder(self, data: dict, original, **kwargs) -> None:
        """A personal card's request names its holder's birth year and postcode."""
        if not isinstance(original, dict) or data.get("kind") != CardKind.PERSONAL:
            return  # not an object (refused already), or not a personal card
        missing = [name for name in ("birth_year", "postcode") if name not in original]
        if missing:
            raise ValidationError(
                {name: [N_("Missing data for required field.")] for name in missing}
            )


class CardUpdateSchema(RequestSchema):
    valid_until = _date("New last day of validity.", required=True)


class RevokeSchema(RequestSchema):
    reason = _one_of(RevokeReason, "Why the card is revoked.", required=True)


def _token_or_number(data: dict) -> None:
    """Exactly one of ``token`` and ``number`` (given, even empty), else a message on both."""
    if (data.get("token") is None) == (data.get("number") is None):
        text = N_("Give either token or number.")
        raise ValidationError({"token": [text], "number": [text]})


class VerifySchema(RequestSchema):
    token = Text(
        metadata={
            "description": "The scanned QR payload (printed card or digital card, or the "
            "plain ID of a card imported from the national register, also from its Code 39 "
            "barcode); give either `token` or `number`."
        },
    )
    number = Text(
        validate=validate.Length(1, 64, error=N_("Give 1 to 64 characters.")),
        metadata={
            "description": "The card's `printed_number` typed by hand (a damaged code), in any "
            "case, with or without spaces or dashes; an older generation's answers `replaced`, "
            "and an accepted one carries the warning `check_card`. Or the printed ID of a card "
            "imported from the national register: `ok` with the warning `unsigned_card`, "
            "`replaced` once the card is reissued.",
            "example": "K7MX4PQ23E9RWT8",
        },
    )
    venue = _id("Id of the venue; needed only when the user works at several venues.")
    event = _id(
        "Id of an event of the venue in use, as the scanner's event choice: its Kaikukortti "
        "places apply (`quota_full`) and, at a course provider, the course's term: a card "
        "holds one place on the course per term (`already_enrolled`). Another venue's or an "
        "unknown event: 422 `unknown_event`."
    )

    @validates_schema
    def _exactly_one(self, data: dict, **kwargs) -> None:
        _token_or_number(data)


class VisitCreateSchema(VerifySchema):
    children = _integer(
        required=True,
        # Far above any card's children: beyond it the number is no count but a typing error.
        validate=validate.Range(min=0, max=999, error=N_("Give a number from 0 to 999.")),
        metadata={"description": "Children who came free with the cardholder."},
    )
    # The door service holds the bound and answers `invalid_assistants` beyond it.
    assistants = _integer(
        load_default=0,
        metadata={
            "description": "An assistant, guide or interpreter who comes free beside the "
            "cardholder (`invalid_assistants` beyond the bounds).",
            "minimum": 0,
            "maximum": MAX_ASSISTANTS,
        },
    )
    idempotency_key = Text(
        validate=validate.Length(1, 64, error=N_("Give 1 to 64 characters.")),
        metadata={
            "description": "A key the client makes up for this visit (e.g. a UUID). Sending "
            "the same key again from the same venue answers 200 with the visit recorded the "
            "first time and stores nothing new, so a retry never counts a visit twice."
        },
    )


def _printable(text: str) -> None:
    if text.strip() != text or not text.isprintable():
        raise ValidationError(N_("Invalid value."))


class OfflineVisitSchema(VisitCreateSchema):
    """A visit the scanner stored while offline and sends when the network returns: the API's
    visit with the scanned `token` or the typed `number`, the moment of the scan and the
    event. The scanner's sync endpoint loads it; the view checks ``venue`` itself."""

    token = Text(allow_none=True, load_default=None)
    number = Text(allow_none=True, load_default=None)
    idempotency_key = Text(
        required=True,
        validate=[validate.Length(1, 64, error=N_("Give 1 to 64 characters.")), _printable],
    )
    venue = fields.Raw(allow_none=True)
    event = fields.Integer(strict=True, allow_none=True, load_default=None)
    scanned_at = Moment(required=True)
    recorder = fields.String(allow_none=True, load_default=None)  # the view checks it


# Statistics reach no further: the day after the end and its month must still be dates.
STATS_DATES = validate.Range(
    date(1900, 1, 1), date(2999, 12, 31), error=N_("Give a date from 1900 to 2999.")
)


class StatsQuerySchema(Schema):
    start = _date(
        "First day (Finnish time), inclusive; from 1900 to 2999, at most ten years before `to`.",
        required=True,
        data_key="from",
        validate=STATS_DATES,
    )
    end = _date(
        "Last day (Finnish time), inclusive.", required=True, data_key="to", validate=STATS_DATES
    )
    group = _one_of(GROUPS, "How the rows are grouped.", load_default="month")


class NationalQuerySchema(Schema):
    year = fields.Integer(
        required=True,
        validate=validate.Range(2000, 2999, error=N_("Give a year from 2000 to 2999.")),
        metadata={"description": "The calendar year (Finnish time).", "example": 2026},
    )
    region = fields.String(
        validate=validate.Length(max=40, error=N_("Give at most 40 characters.")),
        metadata={
            "description": "A region code; only for the national administrator (default: "
            "the whole network). A coordinator always gets their own region."
        },
    )


class HoldersQuerySchema(NationalQuerySchema):
    group = _one_of(HOLDER_GROUPS, "By age group or by municipality.", load_default="age")


class OffersQuerySchema(Schema):
    region = fields.String(
        validate=validate.Length(max=40, error=N_("Give at most 40 characters.")),
        metadata={"description": "A region code."},
    )
    municipality = fields.String(
        validate=validate.Length(max=80, error=N_("Give at most 80 characters.")),
        metadata={"description": "A municipality's name."},
    )
    start = _date(
        "First day (Finnish time), inclusive; default today.", data_key="from", validate=STATS_DATES
    )
    end = _date(
        "Last day (Finnish time), inclusive; default none.", data_key="to", validate=STATS_DATES
    )
    field = _one_of(VenueCategory, "The venue's field.")
    children = fields.Boolean(
        load_default=False,
        metadata={"description": "`true`: only offers that children come to free."},
    )


# Responses


class ErrorSchema(Schema):
    error = fields.String(
        required=True,
        metadata={"description": "Machine-readable code; see each operation's list."},
    )
    message = fields.String(
        required=True, metadata={"description": "Human-readable text in the user's language."}
    )
    field_errors = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "For invalid input: a message for each wrong field."},
    )


class CardSchema(Schema):
    number = fields.String(
        required=True,
        metadata={"description": "The card's stable identity.", "example": "K7MX4PQ2D"},
    )
    printed_number = fields.String(
        required=True,
        metadata={
            "description": "What is printed on the card and shown on the digital card, which "
            "staff type at the door (`number` in verify and visits). It changes at every "
            "reissue: the number for the first generation, then the number's first eight "
            "characters, a version, five random characters and a check character.",
            "example": "K7MX4PQ23E9RWT8",
        },
    )
    token = fields.String(
        metadata={
            "description": "The signed payload of the card's QR code. Only for the issuing "
            "distributor's staff."
        }
    )
    status = _one_of(
        CardStatus, "`expired` once the last day of validity has passed.", required=True
    )
    region = fields.String(required=True, metadata={"description": "Region code."})
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    kind = _one_of(CardKind, "`personal`, or `community`: an organisation's card.", required=True)
    birth_year = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null on a community card."}
    )
    postcode = fields.String(
        required=True, allow_none=True, metadata={"description": "null on a community card."}
    )
    children = fields.Integer(
        required=True,
        metadata={
            "description": "Personal: the holder's children who may come free. Community: the "
            "most clients under 16 that one visit may bring."
        },
    )
    digital_card_url = fields.String(
        metadata={
            "format": "uri",
            "description": "The holder's digital card; works without an account. Like "
            "`token`, only for the issuing organisation's staff (absent for coordinators), "
            "and never for a community card, which its workers carry printed.",
        },
    )


class VerdictCardSchema(Schema):
    number = fields.String(required=True)
    kind = _one_of(
        CardKind,
        "`community`: an organisation's card, shown by its worker with a group of clients "
        "under 16 (`children`: the most one visit may bring); the visit records the worker as "
        "the one adult.",
        required=True,
    )
    valid_until = fields.Date(required=True)
    region = fields.String(required=True)
    children = fields.Integer(required=True)


class VerdictSchema(Schema):
    valid = fields.Boolean(required=True)
    reason = _one_of(Reason, "`ok` when valid, else why the card is refused.", required=True)
    message = fields.String(required=True, metadata={"description": "The reason in words."})
    card = fields.Nested(
        VerdictCardSchema,
        metadata={"description": "Absent when the token is not genuine or the card unknown."},
    )
    children_allowed = fields.Boolean(required=True)
    max_children = fields.Integer(
        required=True,
        metadata={"description": "Children who may come free: 0 at a course provider."},
    )
    warnings = fields.List(
        _one_of(
            WarningCode,
            "A warning for the door staff: `visited_today`, `quota_full` (accepted all the "
            "same), `check_card` (a typed number: check that the card shown bears it).",
        ),
        required=True,
    )


class VisitSchema(Schema):
    id = fields.Integer(required=True)
    card_number = fields.String(required=True)
    venue = fields.Integer(required=True, metadata={"description": "Id of the venue."})
    children = fields.Integer(required=True)
    adults = fields.Integer(required=True, metadata={"description": "Always 1: the cardholder."})
    assistants = fields.Integer(
        required=True,
        metadata={"description": "Assistants, guides and interpreters who came free beside."},
    )
    recorded_at = fields.DateTime(required=True, metadata={"description": "UTC, ISO 8601."})
    offline = fields.Boolean(
        required=True,
        metadata={"description": "Recorded on a phone offline and sent later (at its scan time)."},
    )
    already_enrolled = fields.Boolean(
        required=True,
        metadata={
            "description": "The card already held a place on the course this term: this is "
            "the visit of that place, and no new use was stored."
        },
    )


class StatsTotalsSchema(Schema):
    visits = fields.Integer(required=True, metadata={"description": "Uses of the cards."})
    adults = fields.Integer(required=True, metadata={"description": "Cardholders."})
    children = fields.Integer(required=True, metadata={"description": "Children with them."})
    assistants = fields.Integer(
        required=True,
        metadata={"description": "Assistants, guides and interpreters who came free with them."},
    )


class StatsRowSchema(StatsTotalsSchema):
    key = fields.String(
        required=True,
        metadata={
            "description": "`YYYY-MM` by month, the venue's name by venue, the region code by "
            "region, the venue category by category."
        },
    )
    id = fields.Integer(metadata={"description": "By venue: the venue's id."})
    region = fields.String(metadata={"description": "By venue: the venue's region code."})
    name = fields.String(metadata={"description": "By region: the region's name."})


class StatsSchema(Schema):
    rows = fields.List(fields.Nested(StatsRowSchema), required=True)
    totals = fields.Nested(StatsTotalsSchema, required=True)


class NationalRowSchema(Schema):
    field = _one_of(VenueCategory, "The venue's field.", required=True)
    kind = _one_of(CardKind, "The card's kind.", required=True)
    adults = fields.Integer(
        required=True,
        metadata={"description": "Uses by adults: holders, or a community card's worker."},
    )
    children = fields.Integer(required=True, metadata={"description": "Children with them."})
    assistants = fields.Integer(
        required=True, metadata={"description": "Assistants, guides and interpreters."}
    )


class NationalSchema(Schema):
    year = fields.Integer(required=True)
    region = fields.String(
        required=True, allow_none=True, metadata={"description": "Region code; null: all."}
    )
    cards_registered = fields.Integer(
        required=True, metadata={"description": "Cards registered in the year."}
    )
    cards_used = fields.Integer(
        required=True,
        metadata={"description": "Of the cards registered in the year, those used by its end."},
    )
    rows = fields.List(
        fields.Nested(NationalRowSchema),
        required=True,
        metadata={"description": "Every field and card kind, zeros included."},
    )


def _cell(description: str) -> fields.Raw:
    """A count of holders, or the string "< 5" where fewer than five could be told apart."""
    return fields.Raw(
        required=True,
        metadata={
            "description": f"{description} An integer, or the string `{HIDDEN}` for a small "
            "group (and for a second cell of its column when only one is small).",
            "oneOf": [{"type": "integer"}, {"type": "string", "enum": [HIDDEN]}],
        },
    )


class HolderRowSchema(Schema):
    registered = _cell("Personal cards registered in the year.")
    users = _cell("Holders who used their card in the year.")
    uses = _cell("Their uses (hidden with `users`).")


class HolderKeyedRowSchema(HolderRowSchema):
    key = fields.String(
        required=True,
        metadata={
            "description": "The age group (`16-17`, `18-29`, `30-44`, `45-64`, `65+`, by age "
            "in the year) or the municipality (from the postcode; `muu`: unknown)."
        },
    )


class HoldersSchema(Schema):
    year = fields.Integer(required=True)
    region = fields.String(required=True, allow_none=True)
    group = _one_of(HOLDER_GROUPS, "How the rows are grouped.", required=True)
    rows = fields.List(fields.Nested(HolderKeyedRowSchema), required=True)
    totals = fields.Nested(HolderRowSchema, required=True)


class OfferSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    kind = fields.String(
        required=True, metadata={"description": "`event` (at a time) or `standing` (over days)."}
    )
    venue = fields.String(required=True, metadata={"description": "The venue's name."})
    venue_id = fields.Integer(required=True)
    place = fields.String(allow_none=True, metadata={"description": "Where at the venue."})
    municipality = fields.String(required=True, allow_none=True)
    region = fields.String(required=True, metadata={"description": "The region code."})
    field = fields.String(
        required=True, allow_none=True, metadata={"description": "The venue's field."}
    )
    starts_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "UTC; null for a standing offer."}
    )
    ends_at = fields.DateTime(required=True, allow_none=True)
    starts_on = fields.Date(required=True, metadata={"description": "The (first) day."})
    ends_on = fields.Date(
        allow_none=True, metadata={"description": "A standing offer's last day; null: open."}
    )
    hours = fields.String(allow_none=True, metadata={"description": "Opening hours, schedule."})
    places_left = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Kaikukortti places not yet taken; null: not limited."},
    )
    children_welcome = fields.Boolean(required=True)
    text = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": "The short text by language: `fi`, `sv`, `en`."},
    )


class OffersSchema(Schema):
    offers = fields.List(fields.Nested(OfferSchema), required=True)
