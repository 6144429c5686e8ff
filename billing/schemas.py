"""Marshmallow schemas of the billing API: separate input, query and output schemas.

Every integer (ids, fen) is strict: a JSON float such as 200.0 or 1.5 is refused with a message that
says so, never rounded.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

FLOAT_REFUSED = "must be an integer; floats are refused (amounts are integer fen, ids are integers)"


def StrictInt(**kw):
    return fields.Integer(strict=True, error_messages={"invalid": FLOAT_REFUSED}, **kw)


# Ids are INTEGER columns: a larger value is invalid input, never an overflow in the database.
ROW_ID = validate.Range(min=1, max=2**31 - 1)


class UsageRecordIn(Schema):
    idempotency_key = fields.String(required=True, validate=validate.Length(1, 128))
    order_id = StrictInt(required=True, validate=ROW_ID)
    app_id = StrictInt(required=True, validate=ROW_ID)
    vendor_id = StrictInt(required=True, validate=ROW_ID)
    transaction_ref = fields.String(required=True, validate=validate.Length(1, 128))
    occurred_at = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with a UTC offset"})


class RecordList(fields.List):
    """A list of objects (documented and refused as ``List(Dict())``), taken as it is when every element is a JSON
    object: one type check per record instead of a field's deserialization (a sixth of a 5,000-record batch)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list and set(map(type, value)) <= {dict}:
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class UsageBatchIn(Schema):
    records = RecordList(fields.Dict(), required=True, validate=validate.Length(1, 5000),
                         metadata={"description": "usage records (see UsageRecordIn); each is answered separately"})


class UsageResultOut(Schema):
    index = fields.Integer()
    idempotency_key = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "accepted | duplicate | rejected"})
    reason = fields.String(allow_none=True)
    settle_quarter = fields.String(allow_none=True, metadata={"description": "the quarter whose settlement pays it"})
    late = fields.Boolean()


class UsageBatchOut(Schema):
    accepted = fields.Integer()
    duplicate = fields.Integer()
    rejected = fields.Integer()
    results = fields.List(fields.Nested(UsageResultOut))


class QuarterOut(Schema):
    code = fields.String()
    status = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    grace_ends_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    runs_posted = fields.Integer()


class PreviewLineOut(Schema):
    app_id = fields.Integer()
    vendor_id = fields.Integer()
    completed = fields.Integer()
    late = fields.Integer()
    ratings = fields.Integer()
    stars_sum = fields.Integer()
    bayesian_rating = fields.String(metadata={"description": "exact rational"})
    multiplier = fields.String(metadata={"description": "exact rational, 1 = ×1.0"})
    exact_amount = fields.String(metadata={"description": "exact fen before cap and rounding"})
    amount = fields.Integer(metadata={"description": "fen"})


class PreviewOrderOut(Schema):
    order_id = fields.Integer()
    department_id = fields.Integer()
    currency = fields.String()
    prior_mean = fields.String()
    demand = fields.String()
    budget = fields.Integer()
    total = fields.Integer()
    capped = fields.Boolean()
    lines = fields.List(fields.Nested(PreviewLineOut))


class AwardOut(Schema):
    rank = fields.Integer()
    app_id = fields.Integer()
    vendor_id = fields.Integer()
    order_id = fields.Integer()
    score = fields.String()
    prize_fen = fields.Integer()


class PreviewOut(Schema):
    quarter_code = fields.String()
    total_fen = fields.Integer()
    orders = fields.List(fields.Nested(PreviewOrderOut))
    awards = fields.List(fields.Nested(AwardOut))
    unpriced_usage = fields.Dict(keys=fields.String(), values=fields.Integer())


class PostIn(Schema):
    order_ids = fields.List(StrictInt(validate=ROW_ID), load_default=None,
                            metadata={"description": "only these orders (no awards, quarter not marked settled)"})


class PostOut(Schema):
    quarter_code = fields.String()
    posted = fields.List(fields.Integer())
    already_posted = fields.List(fields.Integer())
    settled = fields.Boolean()


class RunLineOut(Schema):
    app_id = fields.Integer()
    vendor_id = fields.Integer()
    order_id = fields.Integer()
    completed = fields.Integer()
    late = fields.Integer()
    ratings = fields.Integer()
    bayesian_rating = fields.String()
    multiplier = fields.String()
    award_rank = fields.Integer(allow_none=True)
    award_score = fields.String(allow_none=True)
    amount_fen = fields.Integer()
    currency = fields.String()


class RunOut(Schema):
    id = fields.Integer()
    quarter_code = fields.String()
    scope = fields.String()
    order_id = fields.Integer(allow_none=True)
    currency = fields.String()
    budget_fen = fields.Integer(allow_none=True)
    demand_fen = fields.String(allow_none=True)
    total_fen = fields.Integer()
    capped = fields.Boolean()
    formula_version = fields.String()
    rounding_rules = fields.Dict()
    snapshot_sha256 = fields.String()
    posted_at = fields.DateTime()
    posted_by = fields.String()
    lines = fields.List(fields.Nested(RunLineOut))


class RunDetailOut(RunOut):
    snapshot = fields.Dict()


class RecomputeOut(Schema):
    run_id = fields.Integer()
    snapshot_intact = fields.Boolean()
    figures_match = fields.Boolean()
    differences = fields.List(fields.String())


class VerifyOut(Schema):
    ok = fields.Boolean()
    entries_checked = fields.Integer()
    head_seq = fields.Integer()
    head_hash = fields.String()
    problems = fields.List(fields.String())


class PostingOut(Schema):
    line_no = fields.Integer()
    account_code = fields.String(attribute="account.code")
    amount_fen = fields.Integer(attribute="amount")
    currency = fields.String()
    app_id = fields.Integer(allow_none=True)
    memo = fields.String()


class EntryOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    quarter_code = fields.String()
    kind = fields.String()
    memo = fields.String()
    settlement_run_id = fields.Integer(allow_none=True)
    reverses_entry_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.String()
    prev_hash = fields.String()
    hash = fields.String()
    postings = fields.List(fields.Nested(PostingOut))


class EntryQuery(Schema):
    quarter = fields.String(load_default=None)
    # Query parameters are text: "2" is the page number 2 (a strict integer would refuse every page asked for).
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10**9))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class QuarterQuery(Schema):
    quarter = fields.String(load_default=None, validate=validate.Regexp(
        r"^\d{4}Q[1-4]$", error="a quarter is written like 2026Q3 (year, Q, 1-4)"))


class ReversalIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class BalanceOut(Schema):
    account_id = fields.Integer()
    code = fields.String()
    kind = fields.String()
    name = fields.String()
    currency = fields.String()
    debits_fen = fields.Integer(attribute="debits")
    credits_fen = fields.Integer(attribute="credits")
    balance_fen = fields.Integer(attribute="balance")


class AccountOut(Schema):
    id = fields.Integer()
    code = fields.String()
    kind = fields.String()
    name = fields.String()
    order_id = fields.Integer(allow_none=True)
    vendor_id = fields.Integer(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    currency = fields.String()


class StatementLineOut(Schema):
    entry_seq = fields.Integer()
    created_at = fields.DateTime()
    quarter_code = fields.String()
    kind = fields.String()
    memo = fields.String()
    app_id = fields.Integer(allow_none=True)
    amount_fen = fields.Integer(attribute="amount")
    balance_fen = fields.Integer(attribute="balance")


class AccountStatementOut(Schema):
    account = fields.Nested(AccountOut)
    lines = fields.List(fields.Nested(StatementLineOut))


class VendorStatementOut(Schema):
    vendor_id = fields.Integer()
    quarter_code = fields.String(allow_none=True)
    currency = fields.String()
    balance_fen = fields.Integer(attribute="balance.minor")
    lines = fields.List(fields.Nested(RunLineOut))
    ledger_lines = fields.List(fields.Nested(StatementLineOut))


class PayoutRowOut(Schema):
    vendor_id = fields.Integer()
    account_code = fields.String()
    amount_fen = fields.Integer()
    currency = fields.String()
    entries = fields.String()


class TransparencyAppOut(Schema):
    app_id = fields.Integer()
    app_name = fields.String()
    vendor_name = fields.String()
    order_title = fields.String()
    department_name = fields.String()
    completed = fields.Integer()
    late = fields.Integer()
    ratings = fields.Integer()
    bayesian_rating = fields.String()
    paid_fen = fields.Integer()
    award_rank = fields.Integer(allow_none=True)
    award_fen = fields.Integer()


class TransparencyOut(Schema):
    quarter_code = fields.String()
    currency = fields.String()
    published = fields.Boolean()
    apps = fields.List(fields.Nested(TransparencyAppOut))
