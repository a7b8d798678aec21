"""Configuration from the environment, with safe development defaults."""

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


class ConfigError(RuntimeError):
    """The configuration cannot run the app (for example a production app without a secret)."""


def _instance_secret(instance: Path, name: str) -> str:
    """Return a random secret kept in the instance folder, generating it on first use."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _instance_issuer_key(instance: Path) -> str:
    """Return the digital cards' issuer key (PEM) kept in the instance folder, made on first use."""
    path = instance / "digital_issuer_key.pem"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    return path.read_text()


def _issuer_keys(instance: Path, files: str) -> list[str]:
    """Return the issuer keys (PEM), oldest to newest: the files named, else the instance one."""
    paths = _split_keys(files)
    if not paths:
        return [_instance_issuer_key(instance)]
    return [Path(path).read_text() for path in paths]


def _split_keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def from_environment(instance: Path, environ=os.environ) -> dict:
    """Build the app configuration from environment variables."""
    production = environ.get("KAIKUKORTTI_ENV", "development") == "production"
    secret_key = environ.get("SECRET_KEY")
    signing_keys = _split_keys(environ.get("CARD_SIGNING_KEYS", ""))
    if production:
        if not secret_key:
            raise ConfigError("SECRET_KEY must be set when KAIKUKORTTI_ENV=production")
        if not signing_keys:
            raise ConfigError("CARD_SIGNING_KEYS must be set when KAIKUKORTTI_ENV=production")
    else:
        secret_key = secret_key or _instance_secret(instance, "secret_key")
        signing_keys = signing_keys or [_instance_secret(instance, "card_signing_key")]

    redis_url = environ.get("REDIS_URL")
    return {
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "CARD_SIGNING_KEYS": signing_keys,
        # ECDSA P-256 keys (PEM) that certify the digital cards' phone keys; newest signs.
        "DIGITAL_ISSUER_KEYS": _issuer_keys(instance, environ.get("DIGITAL_ISSUER_KEY_FILES", "")),
        "SQLALCHEMY_DATABASE_URI": environ.get("DATABASE_URL")
        or f"sqlite:///{instance / 'kaikukortti.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "TRUSTED_PROXIES": int(environ.get("TRUSTED_PROXIES", "0")),
        "RATE_LIMITS": environ.get("RATE_LIMITS", "1") != "0",
        "RATELIMIT_HEADERS_ENABLED": True,
        # The largest request body (413 beyond it): a card, a visit or a form is a few kB.
        "MAX_CONTENT_LENGTH": int(environ.get("MAX_REQUEST_BYTES", str(256 * 1024))),
        "TIMEZONE": "Europe/Helsinki",
        "DIGITAL_TOKEN_MAX_AGE": int(environ.get("DIGITAL_TOKEN_MAX_AGE", "120")),
        # How far ahead a coordinator may extend a card's validity (PATCH /api/v1/cards).
        "CARD_EXTENSION_YEARS": int(environ.get("CARD_EXTENSION_YEARS", "2")),
        "CHILD_AGE_LIMIT": int(environ.get("CHILD_AGE_LIMIT", "18")),
        "CATALOGUE_URL": environ.get("CATALOGUE_URL"),  # printed on the back of the cards
        "BABEL_DEFAULT_LOCALE": "fi",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Helsinki",
        "LANGUAGES": ("fi", "sv", "en"),
    }
