"""The codes a digital card's phone signs by itself: certificate + time + device signature."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from itsdangerous.encoding import base64_decode, base64_encode

from webapp import cardnumbers, tokens

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def valid_number() -> str:
    return "K7MX4PQ2" + cardnumbers.check_character("K7MX4PQ2")


class Phone:
    """A phone's signing key, as WebCrypto holds it (only its public key leaves the phone)."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_raw(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def code(self, certificate: bytes, at: datetime) -> str:
        signed_at = int(at.timestamp())
        der = self.key.sign(
            tokens.device_code_message(certificate, signed_at), ec.ECDSA(tokens.hashes.SHA256())
        )
        return tokens.encode_device_code(certificate, signed_at, tokens._raw_signature(der))


@pytest.fixture
def issuer():
    return ec.generate_private_key(ec.SECP256R1())


def certify(issuer, phone, *, generation=3, serial=41, expires_at=NOW + timedelta(days=30)):
    return tokens.sign_certificate(
        issuer,
        serial=serial,
        number=valid_number(),
        generation=generation,
        expires_at=expires_at,
        device_key=phone.public_raw,
    )


def parse(code, issuer, *, now=NOW, max_age=120):
    keys = {tokens.issuer_key_id(issuer.public_key()): issuer.public_key()}
    return tokens.parse_device_code(code, keys, max_age=max_age, now=now)


def test_a_fresh_code_verifies_with_its_card_generation_and_serial(issuer):
    phone = Phone()
    code = phone.code(certify(issuer, phone), NOW - timedelta(seconds=5))
    parsed = parse(code, issuer)
    assert (parsed.number, parsed.generation, parsed.certificate.serial) == (valid_number(), 3, 41)
    assert parsed.signed_at == NOW - timedelta(seconds=5)


def test_a_code_fits_a_cheap_phones_qr_and_holds_nothing_personal(issuer):
    phone = Phone()
    code = phone.code(certify(issuer, phone), NOW)
    assert len(code) == 257 < 300
    assert code.startswith(tokens.DEVICE_PREFIX) and tokens.is_device_code(code)


def test_a_code_older_than_the_window_is_token_expired(issuer):
    phone = Phone()
    code = phone.code(certify(issuer, phone), NOW - timedelta(seconds=121))
    with pytest.raises(tokens.TokenError) as error:
        parse(code, issuer)
    assert error.value.code == "token_expired"
    assert parse(code, issuer, now=NOW - timedelta(seconds=1)).number == valid_number()


def test_a_code_from_a_phone_clock_far_ahead_is_refused(issuer):
    phone = Phone()
    ahead = phone.code(certify(issuer, phone), NOW + timedelta(seconds=tokens.CLOCK_SKEW + 5))
    with pytest.raises(tokens.TokenError) as error:
        parse(ahead, issuer)
    assert error.value.code == "token_expired"
    slightly_ahead = phone.code(certify(issuer, phone), NOW + timedelta(seconds=10))
    assert parse(slightly_ahead, issuer).number == valid_number()


@pytest.mark.parametrize("position", [0, 5, 12, 20, 40, 100, 124, 130, 190])
def test_a_tampered_byte_anywhere_is_invalid_token(issuer, position):
    phone = Phone()
    code = phone.code(certify(issuer, phone), NOW)
    raw = bytearray(base64_decode(code.removeprefix(tokens.DEVICE_PREFIX)))
    raw[position] ^= 0x01
    tampered = tokens.DEVICE_PREFIX + base64_encode(bytes(raw)).decode()
    with pytest.raises(tokens.TokenError) as error:
        parse(tampered, issuer)
    assert error.value.code == "invalid_token"


def test_a_certificate_of_an_unknown_issuer_is_invalid_token(issuer):
    phone = Phone()
    stranger = ec.generate_private_key(ec.SECP256R1())
    code = phone.code(certify(stranger, phone), NOW)
    with pytest.raises(tokens.TokenError) as error:
        parse(code, issuer)
    assert error.value.code == "invalid_token"


def test_a_code_signed_by_another_phone_than_certified_is_invalid_token(issuer):
    certified, thief = Phone(), Phone()
    code = thief.code(certify(issuer, certified), NOW)
    with pytest.raises(tokens.TokenError) as error:
        parse(code, issuer)
    assert error.value.code == "invalid_token"


def test_a_lapsed_certificate_is_invalid_token(issuer):
    phone = Phone()
    code = phone.code(certify(issuer, phone, expires_at=NOW - timedelta(seconds=1)), NOW)
    with pytest.raises(tokens.TokenError) as error:
        parse(code, issuer)
    assert error.value.code == "invalid_token"


@pytest.mark.parametrize(
    "text",
    ["", "C.", "C." + "A" * 255, "C." + "A" * 254, "C.!" + "A" * 254, "K7MX4PQ2D.1.x", None],
)
def test_malformed_codes_are_invalid_token(issuer, text):
    with pytest.raises(tokens.TokenError) as error:
        parse(text, issuer)
    assert error.value.code == "invalid_token"


def test_a_non_canonical_spelling_of_a_code_is_refused(issuer):
    # The last base64 character carries unused bits: only the one spelling we emit counts,
    # so a replay cannot pass as a new code by changing them.
    phone = Phone()
    code = phone.code(certify(issuer, phone), NOW)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(code[-1])
    variant = code[:-1] + alphabet[last ^ 1]
    with pytest.raises(tokens.TokenError):
        parse(variant, issuer)


def test_an_issuer_key_must_be_p256():
    other = ec.generate_private_key(ec.SECP384R1())
    pem = other.private_bytes(
        Encoding.PEM, tokens.serialization.PrivateFormat.PKCS8, tokens.serialization.NoEncryption()
    )
    with pytest.raises(ValueError):
        tokens.load_issuer_key(pem)


def test_a_respelled_signature_still_names_the_same_code(issuer):
    """s and n - s both verify: a replay must not pass as a new code by flipping it."""
    phone = Phone()
    code = phone.code(certify(issuer, phone), NOW)
    raw = bytearray(base64_decode(code.removeprefix(tokens.DEVICE_PREFIX)))
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    s = int.from_bytes(raw[-32:], "big")
    raw[-32:] = (n - s).to_bytes(32, "big")
    respelled = tokens.DEVICE_PREFIX + base64_encode(bytes(raw)).decode()
    assert respelled != code and parse(respelled, issuer).number == valid_number()
    assert tokens.device_code_identity(respelled) == tokens.device_code_identity(code)
    assert tokens.device_code_identity("K7MX4PQ2D.1.x") is None
