"""Tests for webapp.tokens: signing, parsing, key rotation, expiry and hostile input."""

import hashlib
import string
import time
from datetime import UTC, datetime

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature, Signer, TimestampSigner

from webapp import tokens
from webapp.cardnumbers import check_character, new_number
from webapp.tokens import (
    CARD_SALT,
    DIGITAL_SALT,
    CardToken,
    TokenError,
    parse,
    sign_card,
    sign_digital,
    token_digest,
)

OLD_KEY = "old-key-0123456789abcdef0123456789abcdef"
NEW_KEY = "new-key-fedcba9876543210fedcba9876543210"
KEYS = [OLD_KEY, NEW_KEY]
NUMBER = "K7MX4PQ2D"
GENERATION = 12
T0 = 1_750_000_000  # a fixed "now" for the time-limited tokens

FAST = settings(max_examples=200, deadline=None, database=None)


@pytest.fixture
def frozen_time(monkeypatch):
    """Freeze time.time (which itsdangerous reads) at a settable value."""
    now = {"t": float(T0)}
    monkeypatch.setattr(time, "time", lambda: now["t"])
    return now


def _assert_invalid(token, keys=KEYS, code="invalid_token", **kwargs):
    with pytest.raises(TokenError) as info:
        parse(token, keys, **kwargs)
    assert info.value.code == code
    return info.value


# --- round trip -------------------------------------------------------------


def test_printed_round_trip():
    token = sign_card(NUMBER, GENERATION, KEYS)
    assert parse(token, KEYS) == CardToken(NUMBER, GENERATION, None)


def test_digital_round_trip(frozen_time):
    token = sign_digital(NUMBER, GENERATION, KEYS)
    frozen_time["t"] = T0 + 30
    card = parse(token, KEYS)
    assert card == CardToken(NUMBER, GENERATION, datetime.fromtimestamp(T0, UTC))
    assert card.signed_at.tzinfo is not None
    assert card.signed_at.utcoffset().total_seconds() == 0


def test_sign_normalizes_the_number():
    token = sign_card("k7m-x4p q2d", 3, KEYS)
    assert token.startswith("K7MX4PQ2D.3.")
    assert parse(token, KEYS).number == NUMBER


def test_random_numbers_round_trip():
    for generation in (1, 2, 9, 10, 99, 12345, tokens.MAX_GENERATION):
        number = new_number()
        assert parse(sign_card(number, generation, KEYS), KEYS) == CardToken(
            number, generation, None
        )
        digital = parse(sign_digital(number, generation, KEYS), KEYS)
        assert (digital.number, digital.generation) == (number, generation)
        assert digital.signed_at is not None


def test_whitespace_around_a_genuine_token_is_accepted(frozen_time):
    printed = sign_card(NUMBER, GENERATION, KEYS)
    digital = sign_digital(NUMBER, GENERATION, KEYS)
    for token in (printed, digital):
        for wrapped in (f"  {token}", f"{token}\n", f"\t {token} \r\n", f"\u3000{token}\u00a0"):
            assert parse(wrapped, KEYS).number == NUMBER
            assert token_digest(wrapped) == token_digest(token)


# --- size -------------------------------------------------------------------


@pytest.mark.parametrize("generation", [1, GENERATION, 999, tokens.MAX_GENERATION])
def test_tokens_fit_a_small_qr_code(generation):
    printed = sign_card(NUMBER, generation, KEYS)
    digital = sign_digital(NUMBER, generation, KEYS)
    for token in (printed, digital):
        version = segno.make(token, error="m", micro=False).version
        assert isinstance(version, int)
        assert version <= 6, (token, version)
    assert len(printed) <= tokens.MAX_TOKEN_LENGTH
    assert len(digital) <= tokens.MAX_TOKEN_LENGTH


def test_realistic_tokens_fit_version_4_and_5():
    printed = sign_card(NUMBER, GENERATION, KEYS)
    digital = sign_digital(NUMBER, GENERATION, KEYS)
    assert len(printed) == 56
    assert segno.make(printed, error="m", micro=False).version == 4
    assert segno.make(digital, error="m", micro=False).version <= 5


# --- payload contents ----------------------------------------------------------


def test_printed_payload_holds_only_number_and_generation():
    token = sign_card(NUMBER, GENERATION, KEYS)
    payload, signature = token.rsplit(".", 1)
    assert payload == f"{NUMBER}.{GENERATION}"
    assert len(signature) == 43  # HMAC-SHA256, unpadded URL-safe base64
    # It is exactly what itsdangerous signs under the card salt, nothing more.
    assert (
        Signer(KEYS, salt=CARD_SALT, key_derivation="hmac", digest_method=hashlib.sha256).unsign(
            token
        )
        == payload.encode()
    )


def test_digital_payload_holds_only_number_generation_and_time(frozen_time):
    token = sign_digital(NUMBER, GENERATION, KEYS)
    assert token.startswith(tokens.DIGITAL_PREFIX)
    signer = TimestampSigner(
        KEYS, salt=DIGITAL_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )
    value, signed_at = signer.unsign(
        token.removeprefix(tokens.DIGITAL_PREFIX), return_timestamp=True
    )
    assert value == f"{NUMBER}.{GENERATION}".encode()
    assert signed_at == datetime.fromtimestamp(T0, UTC)
    prefix, number, generation, _timestamp, signature = token.split(".")
    assert (prefix, number, generation, len(signature)) == ("D", NUMBER, str(GENERATION), 43)


def test_printed_and_digital_tokens_look_different(frozen_time):
    printed = sign_card(NUMBER, GENERATION, KEYS)
    digital = sign_digital(NUMBER, GENERATION, KEYS)
    assert not printed.startswith(tokens.DIGITAL_PREFIX)
    assert digital.startswith(tokens.DIGITAL_PREFIX)
    assert printed.count(".") == 2
    assert digital.count(".") == 4
    assert parse(printed, KEYS).signed_at is None
    assert parse(digital, KEYS).signed_at is not None


# --- keys and rotation -------------------------------------------------------


def test_token_signed_with_an_older_key_still_in_the_list_verifies(frozen_time):
    printed = sign_card(NUMBER, GENERATION, [OLD_KEY])
    digital = sign_digital(NUMBER, GENERATION, [OLD_KEY])
    assert parse(printed, KEYS).generation == GENERATION
    assert parse(digital, KEYS).generation == GENERATION


def test_signing_uses_the_newest_key(frozen_time):
    printed = sign_card(NUMBER, GENERATION, KEYS)
    digital = sign_digital(NUMBER, GENERATION, KEYS)
    assert parse(printed, [NEW_KEY]).number == NUMBER
    assert parse(digital, [NEW_KEY]).number == NUMBER
    _assert_invalid(printed, [OLD_KEY])
    _assert_invalid(digital, [OLD_KEY])


def test_token_signed_with_an_unknown_key_is_invalid(frozen_time):
    _assert_invalid(sign_card(NUMBER, GENERATION, ["someone-elses-key"]))
    _assert_invalid(sign_digital(NUMBER, GENERATION, ["someone-elses-key"]))


def test_retired_key_no_longer_verifies():
    token = sign_card(NUMBER, GENERATION, [OLD_KEY])
    _assert_invalid(token, [NEW_KEY])


@pytest.mark.parametrize("keys", ["a-single-string-key", b"bytes-key"])
def test_a_bare_string_as_keys_is_a_programming_error(keys):
    token = sign_card(NUMBER, GENERATION, KEYS)
    with pytest.raises(TypeError):
        sign_card(NUMBER, GENERATION, keys)
    with pytest.raises(TypeError):
        parse(token, keys)


@pytest.mark.parametrize("keys", [[], [""], [NEW_KEY, ""]])
def test_empty_keys_are_a_programming_error(keys):
    with pytest.raises(ValueError):
        sign_card(NUMBER, GENERATION, keys)
    with pytest.raises(ValueError):
        parse(sign_card(NUMBER, GENERATION, KEYS), keys)


# --- tampering ---------------------------------------------------------------


def test_changed_generation_is_invalid(frozen_time):
    printed = sign_card(NUMBER, GENERATION, KEYS)
    tampered = printed.replace(f".{GENERATION}.", f".{GENERATION + 1}.", 1)
    assert tampered != printed
    _assert_invalid(tampered)

    digital = sign_digital(NUMBER, GENERATION, KEYS)
    tampered = digital.replace(f".{GENERATION}.", f".{GENERATION + 1}.", 1)
    assert tampered != digital
    _assert_invalid(tampered)


def test_changed_number_is_invalid():
    other = "22222222" + check_character("22222222")
    printed = sign_card(NUMBER, GENERATION, KEYS)
    _assert_invalid(printed.replace(NUMBER, other, 1))


def test_changed_timestamp_is_invalid(frozen_time):
    digital = sign_digital(NUMBER, GENERATION, KEYS)
    prefix, number, generation, timestamp, signature = digital.split(".")
    frozen_time["t"] = T0 + 1
    later = sign_digital(NUMBER, GENERATION, KEYS).split(".")[3]
    assert later != timestamp
    _assert_invalid(".".join([prefix, number, generation, later, signature]))


def test_every_single_character_change_is_rejected(frozen_time):
    """Change each character of genuine tokens to every other token character.

    This also covers the base64 malleability of the last signature character
    (whose low bits are ignored when decoding): only the canonical form passes.
    """
    candidates = string.ascii_letters + string.digits + "-_."
    for token in (
        sign_card(NUMBER, GENERATION, KEYS),
        sign_digital(NUMBER, GENERATION, KEYS),
    ):
        for i, original in enumerate(token):
            for replacement in candidates:
                if replacement == original:
                    continue
                changed = token[:i] + replacement + token[i + 1 :]
                with pytest.raises(TokenError) as info:
                    parse(changed, KEYS)
                assert info.value.code == "invalid_token", changed


def test_extra_text_around_the_token_is_rejected():
    token = sign_card(NUMBER, GENERATION, KEYS)
    for changed in (token + "=", token + ".", "x" + token, token + "A", token[:-1], token * 2):
        _assert_invalid(changed)


def test_leading_zero_generation_is_rejected():
    token = sign_card(NUMBER, GENERATION, KEYS)
    _assert_invalid(token.replace(f".{GENERATION}.", f".0{GENERATION}.", 1))


@pytest.mark.parametrize(
    ("number", "generation"),
    [
        ("K7MX4PQ2R", 1),  # wrong check character
        ("", 1),
        (NUMBER, 0),
        (NUMBER, -1),
        (NUMBER, True),
        (NUMBER, 1.0),
        (NUMBER, "1"),
        (NUMBER, tokens.MAX_GENERATION + 1),
    ],
)
def test_signing_rejects_bad_input(number, generation):
    with pytest.raises(ValueError):
        sign_card(number, generation, KEYS)
    with pytest.raises(ValueError):
        sign_digital(number, generation, KEYS)


def test_a_correctly_signed_but_invalid_payload_is_rejected():
    # Defence in depth: even with the key, a bad number or generation is refused.
    signer = tokens._make_signer(Signer, KEYS, CARD_SALT)
    for payload in ("K7MX4PQ2R.1", "K7MX4PQ2D.0", "K7MX4PQ2D.01", "K7MX4PQ2D.x", "K7MX4PQ2D"):
        _assert_invalid(signer.sign(payload).decode())


# --- salts: printed and digital never mix ------------------------------------


def test_printed_token_does_not_verify_under_the_digital_salt(frozen_time):
    printed = sign_card(NUMBER, GENERATION, KEYS)
    digital_salt = Signer(
        KEYS, salt=DIGITAL_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )
    with pytest.raises(BadSignature):
        digital_salt.unsign(printed)
    _assert_invalid(tokens.DIGITAL_PREFIX + printed)


def test_digital_token_does_not_verify_under_the_card_salt(frozen_time):
    digital = sign_digital(NUMBER, GENERATION, KEYS).removeprefix(tokens.DIGITAL_PREFIX)
    card_salt = TimestampSigner(
        KEYS, salt=CARD_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )
    with pytest.raises(BadSignature):
        card_salt.unsign(digital)
    _assert_invalid(digital)


def test_forged_kinds_with_the_other_salt_are_rejected(frozen_time):
    payload = f"{NUMBER}.{GENERATION}"
    prefix = tokens.DIGITAL_PREFIX

    # Positive controls: the same construction with the right salt is accepted,
    # so the negative cases below fail only because of the salt.
    right_digital = tokens._make_signer(TimestampSigner, KEYS, DIGITAL_SALT).sign(payload)
    right_printed = tokens._make_signer(Signer, KEYS, CARD_SALT).sign(payload)
    assert parse(prefix + right_digital.decode(), KEYS).number == NUMBER
    assert parse(right_printed.decode(), KEYS).number == NUMBER

    # A digital-shaped token signed under the card salt, and a printed-shaped
    # token signed under the digital salt.
    card_signed_digital = tokens._make_signer(TimestampSigner, KEYS, CARD_SALT).sign(payload)
    digital_signed_printed = tokens._make_signer(Signer, KEYS, DIGITAL_SALT).sign(payload)
    _assert_invalid(prefix + card_signed_digital.decode())
    _assert_invalid(digital_signed_printed.decode())


# --- expiry ------------------------------------------------------------------


def test_digital_token_expires_after_max_age(frozen_time):
    token = sign_digital(NUMBER, GENERATION, KEYS)
    frozen_time["t"] = T0 + 120
    assert parse(token, KEYS).number == NUMBER  # exactly max_age old: still fine
    frozen_time["t"] = T0 + 121
    _assert_invalid(token, code="token_expired")
    frozen_time["t"] = T0 + 10 * 365 * 24 * 3600
    _assert_invalid(token, code="token_expired")


def test_max_age_is_configurable(frozen_time):
    token = sign_digital(NUMBER, GENERATION, KEYS)
    frozen_time["t"] = T0 + 31
    _assert_invalid(token, code="token_expired", max_age=30)
    assert parse(token, KEYS, max_age=60).number == NUMBER


def test_expired_and_tampered_is_invalid_not_expired(frozen_time):
    token = sign_digital(NUMBER, GENERATION, KEYS)
    frozen_time["t"] = T0 + 1000
    _assert_invalid(token.replace(f".{GENERATION}.", f".{GENERATION + 1}.", 1))
    _assert_invalid(sign_digital(NUMBER, GENERATION, ["someone-elses-key"]))


def test_token_from_the_future_is_refused(frozen_time):
    # itsdangerous treats a negative age as expired.
    token = sign_digital(NUMBER, GENERATION, KEYS)
    frozen_time["t"] = T0 - 10
    _assert_invalid(token, code="token_expired")


def test_printed_tokens_never_expire(frozen_time):
    token = sign_card(NUMBER, GENERATION, KEYS)
    frozen_time["t"] = T0 + 50 * 365 * 24 * 3600
    assert parse(token, KEYS, max_age=1).signed_at is None


# --- hostile input -------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        " ",
        ".",
        "..",
        "D.",
        "D..",
        "D....",
        NUMBER,
        f"{NUMBER}.{GENERATION}",
        f"{NUMBER}.{GENERATION}.",
        "\x00" * 10,
        "\ud800",
        "Ä" * 100,
        "💳" * 20,
    ],
)
def test_garbage_is_invalid(token):
    _assert_invalid(token)


def test_huge_input_is_invalid():
    genuine = sign_card(NUMBER, GENERATION, KEYS)
    for token in ("A" * 10_000_000, " " * 10_000, genuine * 1000, genuine + "\n" * 600):
        _assert_invalid(token)


def test_overlong_token_is_invalid_even_with_a_genuine_token_inside():
    genuine = sign_card(NUMBER, GENERATION, KEYS)
    assert parse(genuine + " " * 100, KEYS).number == NUMBER  # short padding is forgiven
    _assert_invalid(genuine + " " * tokens.MAX_TOKEN_LENGTH)


def test_non_string_token_is_invalid():
    for value in (None, 42, b"K7MX4PQ2D.12.x", [NUMBER]):
        _assert_invalid(value)


def test_token_error_carries_its_code():
    error = TokenError("token_expired")
    assert error.code == "token_expired"
    assert isinstance(error, Exception)


@FAST
@given(st.text(max_size=600))
def test_any_text_is_invalid_token(text):
    _assert_invalid(text)


@FAST
@given(
    st.binary(max_size=600),
    st.sampled_from(["surrogateescape", "replace", "ignore", "latin-1"]),
)
def test_any_decoded_bytes_are_invalid_token(data, how):
    text = data.decode("latin-1") if how == "latin-1" else data.decode("utf-8", errors=how)
    _assert_invalid(text)


@FAST
@given(
    prefix=st.sampled_from(["", "D."]),
    number=st.text(alphabet="23456789ABCDEFGHJKMNPQRSTUVWXYZ", min_size=9, max_size=9),
    generation=st.integers(min_value=-5, max_value=10**12),
    middle=st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=12),
    signature=st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=50),
)
def test_well_shaped_forgeries_are_invalid_token(prefix, number, generation, middle, signature):
    middle_part = f".{middle}" if prefix else ""
    _assert_invalid(f"{prefix}{number}.{generation}{middle_part}.{signature}")


# --- digest --------------------------------------------------------------------


def test_token_digest():
    token = sign_card(NUMBER, GENERATION, KEYS)
    digest = token_digest(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()[:16]
    assert len(digest) == 16
    assert all(c in "0123456789abcdef" for c in digest)
    assert token_digest(sign_card(NUMBER, GENERATION + 1, KEYS)) != digest


@FAST
@given(st.text(max_size=100))
def test_token_digest_never_raises(text):
    assert len(token_digest(text)) == 16
