"""The cardholder's digital card: no account, works offline."""

from flask import Blueprint

bp = Blueprint("cardholder", __name__, url_prefix="/k")
