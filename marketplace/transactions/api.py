"""Cases for the vendor's and the department's automation (citizens follow theirs on the web pages)."""

from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.apidoc import secured
from marketplace.transactions import services
from marketplace.transactions.schemas import TransactionOut

blp = Blueprint("transactions_api", __name__, url_prefix="/api", description="Citizens' cases (办件)")


@blp.get("/transactions/<int:transaction_id>")
@blp.response(200, TransactionOut)
@secured(blp, "feedback:read")
def transaction_get(actor, transaction_id):
    """One case with its timeline (the app's vendor, the order's department, oversight)."""
    return services.transaction_get(actor, transaction_id)
