"""The JSON API for box-office systems and integrations (/api/v1).

Each view authenticates the bearer token, parses its body with a schema of
:mod:`webapp.schemas`, calls one service and commits once. The OpenAPI document at
``/api/v1/openapi.json`` is generated from these decorators and docstrings.
"""

from flask import Response, jsonify, request

from .. import ratelimits, tokens
from ..errors import ErrorCode, message
from ..extensions import csrf
from ..models import CardKind, RevokeReason, Role, User, VenueCategory, VisitSource
from ..rules import Reason, today_in_finland
from ..schemas import (
    MAX_ID,
    CardCreateSchema,
    CardSchema,
    CardUpdateSchema,
    HoldersQuerySchema,
    HoldersSchema,
    NationalQuerySchema,
    NationalSchema,
    OffersQuerySchema,
    OffersSchema,
    RevokeSchema,
    StatsQuerySchema,
    StatsSchema,
    VerdictSchema,
    VerifySchema,
    VisitCreateSchema,
    VisitSchema,
)
from ..services import accounts, audit, cards, door, offers, printing, stats
from .api_helpers import (
    acting_event,
    acting_issuer,
    acting_venue,
    card_body,
    commit,
    door_message,
    offer_body,
    region_by_code,
    verdict_body,
    visible_card,
    visit_body,
)
from .apikit import ApiBlueprint, ApiError

bp = ApiBlueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Cards, door checks, visits, statistics and the public offers.",
)
csrf.exempt(bp)  # bearer tokens only: no cookie, so nothing for a forged request to ride on

CARD_READERS = (Role.DISTRIBUTOR, Role.COORDINATOR, Role.ADMIN)
COORDINATORS = (Role.COORDINATOR, Role.ADMIN)
NUMBER = [
    {
        "in": "path",
        "name": "number",
        "description": "The card number; case, spaces and dashes are ignored.",
        "example": "K7MX4PQ2D",
    }
]
VISIT_ID = [{"in": "path", "name": "visit_id", "description": "The id of the visit object."}]
CARD_INPUT_CODES = (
    "invalid_birth_year",
    "invalid_postcode",
    "invalid_children",
    "invalid_valid_until",
    "valid_until_too_late",
    "invalid_region",
    "not_on_community_card",
)

# Cards


@bp.route("/cards", methods=["POST"])
@bp.authenticated(Role.DISTRIBUTOR)
@bp.arguments(CardCreateSchema)
@bp.response(201, CardSchema)
@bp.fails(
    422,
    "holder_too_young",
    *CARD_INPUT_CODES,
    "issuer_required",
    "not_your_organisation",
    "validation_error",
)
def create_card(data: dict, *, user: User):
    """Register a card

    The card is issued by the user's distributor (give `issuer` when the user works at
    several) for the distributor's region unless `region` names another. The answer holds
    the QR `token` to print and the holder's `digital_card_url`. A `community` card is the
    issuer's own, for its workers' groups of clients under 16: no `birth_year` or `postcode`.
    """
    issuer = acting_issuer(user, data.get("issuer"))
    region = region_by_code(data["region"]) if "region" in data else None
    card = cards.issue_card(
        issuer=issuer,
        actor=user,
        kind=CardKind(data["kind"]),
        birth_year=data.get("birth_year"),
        postcode=data.get("postcode"),
        children=data["children"],
        region=region,
        valid_until=data.get("valid_until"),
    )
    commit()
    return card_body(card, user)


@bp.route("/cards/<number>", methods=["GET"], parameters=NUMBER)
@bp.authenticated(*CARD_READERS)
@bp.response(200, CardSchema)
@bp.fails(404, "not_found", description="No card with this number that the user may see.")
@ratelimits.card_lookups
def get_card(number: str, *, user: User):
    """Show a card

    For the issuing distributor's staff (with the QR `token`) and the coordinators of the
    card's region (without it).
    """
    card = visible_card(number, user)
    body = card_body(card, user)
    if "token" in body:  # a hand-out of the card's bearer secrets
        audit.record("card.token_handed_out", card, actor=user)
        commit()
    return body


@bp.route("/cards/<number>", methods=["PATCH"], parameters=NUMBER)
@bp.authenticated(*COORDINATORS)
@bp.arguments(CardUpdateSchema)
@bp.response(200, CardSchema)
@bp.fails(404, "not_found", description="No card with this number in the user's region.")
@bp.fails(422, "invalid_valid_until", "valid_until_too_late", "validation_error")
def update_card(data: dict, number: str, *, user: User):
    """Change a card's last day of validity

    For the coordinators of the card's region, e.g. to extend a pilot's cards.
    """
    card = visible_card(number, user)
    cards.change_validity(card, actor=user, valid_until=data["valid_until"])
    commit()
    return card_body(card, user)


@bp.route("/cards/<number>/revoke", methods=["POST"], parameters=NUMBER)
@bp.authenticated(*CARD_READERS)
@bp.arguments(RevokeSchema)
@bp.response(200, CardSchema)
@bp.fails(404, "not_found", description="No card with this number that the user may see.")
@bp.fails(422, "validation_error")
def revoke_card(data: dict, number: str, *, user: User):
    """Revoke a card for good

    For the issuing distributor's staff and the coordinators of the card's region. Its tokens
    verify as `revoked` from now on. Revoking a revoked card changes nothing.
    """
    card = visible_card(number, user)
    cards.revoke_card(card, actor=user, reason=RevokeReason(data["reason"]))
    commit()
    return card_body(card, user)


@bp.route("/cards/<number>/reissue", methods=["POST"], parameters=NUMBER)
@bp.authenticated(Role.DISTRIBUTOR)
@bp.response(201, CardSchema)
@bp.fails(
    404, "not_found", description="No card with this number issued by the user's organisations."
)
@bp.fails(422, "revoked", description="A revoked card cannot be reissued.")
def reissue_card(number: str, *, user: User):
    """Reissue a lost or damaged card

    The card keeps its number and gets a new `token`; the old token now verifies as
    `replaced`. For the issuing distributor's staff.
    """
    card = visible_card(number, user)
    cards.reissue_card(card, actor=user)
    commit()
    return card_body(card, user)


@bp.route("/cards/<number>/card.pdf", methods=["GET"], parameters=NUMBER)
@bp.authenticated(Role.DISTRIBUTOR)
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="One ID-1 card (85.60 × 53.98 mm) with the QR code, number and expiry date.",
)
@bp.fails(
    404, "not_found", description="No card with this number issued by the user's organisations."
)
@bp.fails(422, "revoked", description="A revoked card cannot be printed.")
def card_pdf(number: str, *, user: User):
    """Print a card

    For the issuing distributor's staff.
    """
    card = visible_card(number, user)
    if card.revoked:
        raise ApiError(422, Reason.REVOKED)
    pdf = printing.card_pdf(card)
    printing.record_printed([card], actor=user)
    commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="kaikukortti-{card.number}.pdf"'},
    )


# At the door


# The largest body read before the token is known: a check's, its longest token and some ids.
READ_AHEAD_BYTES = 2 * tokens.MAX_TOKEN_LENGTH


def _staff_and_card(token: str) -> door.DoorStaff | None:
    """Read the staff of the token and, in the same statement, the card that the body names
    (a plain check then sends one statement; the body is validated after, as ever).

    Only a body of a check's size is read before the token is known: a caller without one
    makes the door work on no more.
    """
    shown = None
    if (request.content_length or READ_AHEAD_BYTES + 1) <= READ_AHEAD_BYTES:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            shown = door.Shown.of(body.get("token"), body.get("number"))
    return accounts.staff_for_api_token(token, shown)


@bp.route("/verify", methods=["POST"])
@bp.authenticated(Role.VENUE, load=door.read_only(_staff_and_card))
@bp.arguments(VerifySchema)
@bp.response(200, VerdictSchema)
@bp.fails(422, "venue_required", "not_your_venue", "unknown_event", "validation_error")
@ratelimits.door_checks
def verify(data: dict, *, user: door.DoorStaff):
    """Check a card at the door

    Give the scanned `token` or the typed `number` (the card's `printed_number`), and the
    `venue` id when the user works at several venues. The answer says whether the card is
    accepted now and how many children may come free; nothing is recorded. With an `event`,
    its places apply (`quota_full`: a refusal or a warning, as the venue decides) and, at a
    course provider, the course's term: a card that already holds a place on the course
    this term is valid with the warning `already_enrolled`.
    """
    venue = acting_venue(user, data.get("venue"))
    event = acting_event(venue, data.get("event"))
    shown = door.Shown.given(data)
    verdict = door.verify(shown, venue, event=event, read_ahead=user.read_ahead)
    return jsonify(verdict_body(verdict))


@bp.route("/visits", methods=["POST"])
@bp.authenticated(Role.VENUE, load=accounts.staff_for_api_token)
@bp.arguments(VisitCreateSchema)
@bp.response(201, VisitSchema, description="The visit was recorded.")
@bp.alt_response(
    200,
    schema=VisitSchema,
    success=True,
    description="A visit with this `idempotency_key` was already recorded at the venue, or "
    "(`already_enrolled` true) the card already holds a place on the course this term: this "
    "is that visit, and nothing new was stored.",
)
@bp.fails(
    422,
    *(str(reason) for reason in Reason if reason is not Reason.OK),
    "venue_required",
    "not_your_venue",
    "unknown_event",
    "validation_error",
    "invalid_assistants",
    "idempotency_key_reused",
    description="The visit was not recorded: the card does not verify (`error` is the "
    "verdict's reason), the children may not come free, the input is wrong, or the "
    "`idempotency_key` was already used for another card at the venue.",
)
@bp.fails(
    409,
    "visit_undone",
    "conflict",
    description="The visit under this `idempotency_key` was undone: nothing was stored.",
)
@ratelimits.door_checks
def record_visit(data: dict, *, user: door.DoorStaff):
    """Record a visit

    Verifies the `token` (or the typed `number`, the card's `printed_number`) and records
    one use of the card by the holder (one adult), `children` children and `assistants`
    (0 to 2, default 0: an assistant, guide or interpreter who comes free beside the holder).
    Send an `idempotency_key` so that a retried request does not count the visit twice. With
    an `event` the visit takes one of its places; at a course provider it is a place on the
    course for its term, one per card: a card that already holds one answers 200 with that
    visit (`already_enrolled` true), and no children come free.
    """
    venue = acting_venue(user, data.get("venue"))
    event = acting_event(venue, data.get("event"))
    try:
        visit, created = door.record_visit(
            door.Shown.given(data),
            venue=venue,
            user=user,
            children=data["children"],
            assistants=data["assistants"],
            idempotency_key=data.get("idempotency_key"),
            event=event,
            source=VisitSource.API,
        )
    except door.DoorError as error:
        if error.code in (ErrorCode.CONFLICT, ErrorCode.VISIT_UNDONE):
            raise ApiError(409, error.code) from None
        fields = {error.field: error.message} if error.field else None
        raise ApiError(422, error.code, door_message(error), fields) from None
    commit()
    return jsonify(visit_body(visit)), 201 if created else 200


@bp.route(f"/visits/<int(max={MAX_ID}):visit_id>", methods=["DELETE"], parameters=VISIT_ID)
@bp.authenticated(Role.VENUE)
@bp.response(204, description="The visit was deleted (or had been: a retry changes nothing).")
@bp.fails(404, "not_found", description="No visit with this id at the user's venues.")
@bp.fails(422, "undo_window_passed", description="The visit is more than 10 minutes old.")
def undo_visit(visit_id: int, *, user: User):
    """Undo a visit recorded by mistake

    Within 10 minutes of recording it, by the staff of the venue where it was recorded.
    An undone visit stays undone: a retried `POST /visits` with its `idempotency_key`
    answers 409 `visit_undone`, and visit ids are never reused.
    """
    try:
        door.undo_visit(visit_id, user=user)
    except door.DoorError as error:
        if error.code == ErrorCode.NOT_FOUND:
            text = message(ErrorCode.VISIT_NOT_FOUND)
            raise ApiError(404, ErrorCode.NOT_FOUND, text) from None
        raise ApiError(422, error.code, door_message(error)) from None
    commit()
    return Response(status=204)


# Statistics


@bp.route("/stats", methods=["GET"])
@bp.authenticated(*COORDINATORS)
@bp.arguments(StatsQuerySchema, location="query")
@bp.response(200, StatsSchema)
@bp.fails(422, "invalid_range", "range_too_long", "validation_error")
def visit_stats(query: dict, *, user: User):
    """Count the uses of the cards

    Visits, adults (cardholders), children and assistants between `from` and `to`
    (inclusive, Finnish time) at the venues of the coordinator's region (an administrator sees
    every region), grouped by month (`YYYY-MM`, every month of the range), venue, region or
    venue category.
    """
    regions = None if user.role is Role.ADMIN else [user.region] if user.region else []
    return stats.visit_stats(query["start"], query["end"], query["group"], regions)


def _stats_region(query: dict, user: User):
    """The region a statistics query covers: the coordinator's own, or the admin's choice."""
    if user.role is not Role.ADMIN:
        if user.region is None:  # a coordinator of no region sees no region's figures
            raise ApiError(403, ErrorCode.FORBIDDEN)
        return user.region
    return region_by_code(query["region"]) if query.get("region") else None


@bp.route("/stats/national", methods=["GET"])
@bp.authenticated(*COORDINATORS)
@bp.arguments(NationalQuerySchema, location="query")
@bp.response(200, NationalSchema)
@bp.fails(422, "invalid_region", "validation_error")
def national_stats(query: dict, *, user: User):
    """The national table of a year

    What a region hands in to the national coordinator: cards registered in the year and, of
    those, the ones used by its end (`cards_used`); uses by adults, children and assistants
    at the region's venues per venue `field` and card `kind`. A coordinator gets their own
    region; the national administrator the whole network, or the `region` named.
    """
    region = _stats_region(query, user)
    table = stats.national_table(query["year"], region)
    return {
        "year": table.year,
        "region": region.code if region else None,
        "cards_registered": table.cards_registered,
        "cards_used": table.cards_used,
        "rows": table.rows,
    }


@bp.route("/stats/holders", methods=["GET"])
@bp.authenticated(*COORDINATORS)
@bp.arguments(HoldersQuerySchema, location="query")
@bp.response(200, HoldersSchema)
@bp.fails(422, "invalid_region", "validation_error")
def holder_stats(query: dict, *, user: User):
    """Cardholders by age group or municipality

    The personal cards of the region (as `/stats/national` chooses it) registered in the
    year, the holders who used them and their uses, by age group or municipality. A count
    under 5 is the string `< 5`, and so is a second one of its column where only one is
    small, so that the totals do not give it back.
    """
    region = _stats_region(query, user)
    table = stats.holder_stats(query["year"], query["group"], region)
    return {
        "year": table.year,
        "region": region.code if region else None,
        "group": table.group,
        "rows": table.rows,
        "totals": table.totals,
    }


# Offers


@bp.route("/offers", methods=["GET"])
@bp.doc(security=[])
@bp.arguments(OffersQuerySchema, location="query")
@bp.response(200, OffersSchema)
@bp.fails(422, "validation_error")
def list_offers(query: dict):
    """List the offers open to cardholders

    Public, no token: the published events and standing offers of the catalogue (`/offers`),
    for municipal websites. An event matches on its day, a standing offer when it runs on a
    day of the range. `places_left` is the event's Kaikukortti places less the visits
    recorded for it, as the door counts them; 0 is full.
    """
    rows = offers.catalogue(
        offers.OfferFilter(
            start=query.get("start") or today_in_finland(),
            end=query.get("end"),
            region=(query.get("region") or "").strip().lower() or None,
            municipality=query.get("municipality") or None,
            field=VenueCategory(query["field"]) if query.get("field") else None,
            children=query["children"],
        )
    )
    return {"offers": [offer_body(offer) for offer in rows]}
