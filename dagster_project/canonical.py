"""The canonical vocabulary every source is mapped onto.

A source's `mapping` in cdp.yml names canonical fields from this module; the
dbt staging macro casts each to the type given here, so the same field has the
same type whichever system it came from.
"""

from __future__ import annotations

# Fields that identify a person. Any of them may be missing on a record.
IDENTITY_FIELDS: dict[str, str] = {
    "first_name": "varchar",
    "last_name": "varchar",
    "email": "varchar",
    "phone": "varchar",
    "date_of_birth": "date",
    "address_line": "varchar",
    "postcode": "varchar",
    "city": "varchar",
    "region": "varchar",
    "country": "varchar",
    "loyalty_id": "varchar",
    "device_id": "varchar",
    # M / F, male / female, or a title that says it (Mr, Mrs, Ms, Miss): tells a
    # tax form of "Mrs Taylor" from her husband's (dbt macro cdp_sex).
    "sex": "varchar",
}

# Every source maps these; source_record_id is the identity record the row
# belongs to (a receipt for POS lines, a device for web events).
COMMON_FIELDS: dict[str, str] = {
    "source_record_id": "varchar",
    "updated_at": "timestamp",
}

# Fields of each source kind, beyond identity and common fields.
KIND_FIELDS: dict[str, dict[str, str]] = {
    "identity": {},
    "orders": {
        "order_id": "varchar",
        "line_id": "varchar",
        "ordered_at": "timestamp",
        "product_id": "varchar",
        "category": "varchar",
        "quantity": "integer",
        "unit_price": "decimal",  # money: DECIMAL at the source's scale (see stage_source.sql)
        "amount": "decimal",
        "currency": "varchar",
        "channel": "varchar",
        "store_id": "varchar",
        "sales_region": "varchar",
    },
    "events": {
        "event_id": "varchar",
        "event_type": "varchar",
        "event_at": "timestamp",
        "page_url": "varchar",
        "product_id": "varchar",
        "category": "varchar",
        "platform": "varchar",
        "account_ref": "varchar",
    },
    "tickets": {
        "ticket_id": "varchar",
        "opened_at": "timestamp",
        "closed_at": "timestamp",
        "status": "varchar",
        "subject": "varchar",
        "body": "varchar",
    },
    "consent": {
        "consent_event_id": "varchar",
        "purpose": "varchar",
        "channel": "varchar",
        "status": "varchar",
        "event_at": "timestamp",
    },
    "loyalty": {
        "tier": "varchar",
        "points": "integer",
        "joined_at": "date",
    },
    "survey": {
        "response_id": "varchar",
        "score": "integer",
        "comment": "varchar",
        "answered_at": "timestamp",
    },
    "responses": {
        "response_id": "varchar",
        "campaign_id": "varchar",
        "response_type": "varchar",
        "channel": "varchar",
        "responded_at": "timestamp",
    },
    # A partner's encoded records (identity/partner_keys.py): match keys, no raw PII.
    "partner": {
        "email_key": "varchar",
        "phone_key": "varchar",
        "dob_key": "varchar",
        "postcode_key": "varchar",
        "name_key": "varchar",
        "clk": "varchar",
        "partner_tier": "varchar",
        "partner_spend_band": "varchar",
    },
    # Third-party data bought by postcode (static truth): its provider, as-of
    # date and the purpose its licence names travel with every row.
    "enrichment": {
        "household_size": "integer",
        "income_band": "varchar",
        "property_type": "varchar",
        "life_stage": "varchar",
        "provider": "varchar",
        "as_of": "date",
        "purpose": "varchar",
    },
}

# Enrichment columns a person's profile and an export may carry.
ENRICHMENT_ATTRIBUTES = ("household_size", "income_band", "property_type", "life_stage")

# Fields a source of each kind must map, and the field that is the grain of
# its staging model (the latest version of each key wins).
KIND_REQUIRED: dict[str, list[str]] = {
    "identity": [],
    "orders": ["order_id", "line_id", "ordered_at", "amount"],
    "events": ["event_id", "event_type", "event_at"],
    "tickets": ["ticket_id", "opened_at", "status"],
    "consent": ["consent_event_id", "purpose", "status", "event_at"],
    "loyalty": [],
    "survey": ["response_id", "score", "answered_at"],
    "responses": ["response_id", "campaign_id", "response_type", "responded_at"],
    "partner": ["clk"],
    "enrichment": ["postcode", "provider", "as_of", "purpose"],
}

KIND_GRAIN: dict[str, str] = {
    "identity": "source_record_id",
    "orders": "line_id",
    "events": "event_id",
    "tickets": "ticket_id",
    "consent": "consent_event_id",
    "loyalty": "source_record_id",
    "survey": "response_id",
    "responses": "response_id",
    "partner": "source_record_id",
    "enrichment": "source_record_id",
}

KIND_ENTITY: dict[str, str] = {
    "identity": "records",
    "orders": "orders",
    "events": "events",
    "tickets": "tickets",
    "consent": "consent_events",
    "loyalty": "members",
    "survey": "responses",
    "responses": "responses",
    "partner": "members",
    "enrichment": "postcodes",
}

CONSENT_PURPOSES = ["email_marketing", "sms_marketing", "ad_personalisation", "profiling", "analytics",
                    "partner_sharing", "enrichment"]


# Default limits of the contract column a canonical field maps to directly
# (a source's contract in cdp.yml overrides them per column). Dates and
# timestamps take `today` / `now` relative bounds, resolved when a file loads.
TIMESTAMP_RANGE = {"min": "1970-01-01", "max": "now+1d"}
FIELD_LIMITS: dict[str, dict] = {
    "first_name": {"max_length": 200},
    "last_name": {"max_length": 200},
    "email": {"max_length": 320},
    "phone": {"max_length": 50},
    "date_of_birth": {"min": "1900-01-01", "max": "today"},
    "address_line": {"max_length": 500},
    "postcode": {"max_length": 20},
    "city": {"max_length": 200},
    "region": {"max_length": 200},
    "country": {"max_length": 100},
    "loyalty_id": {"max_length": 200},
    "device_id": {"max_length": 200},
    "sex": {"max_length": 50},
    "source_record_id": {"max_length": 200},
    "updated_at": TIMESTAMP_RANGE,
    "ordered_at": TIMESTAMP_RANGE,
    "event_at": TIMESTAMP_RANGE,
    "opened_at": TIMESTAMP_RANGE,
    "closed_at": TIMESTAMP_RANGE,
    "answered_at": TIMESTAMP_RANGE,
    "responded_at": TIMESTAMP_RANGE,
    # Negative only where the source declares `allow_refunds: true`.
    "quantity": {"min": 0},
    "unit_price": {"min": 0},
    "amount": {"min": 0},
    # Free text may hold line breaks (still no other control characters).
    "subject": {"max_length": 1000, "allow_line_breaks": True},
    "body": {"max_length": 100_000, "allow_line_breaks": True},
    "comment": {"max_length": 10_000, "allow_line_breaks": True},
}
REFUND_FIELDS = ("quantity", "unit_price", "amount")
# Any string column without a field default: long enough for any real value.
DEFAULT_MAX_LENGTH = 10_000

# Optional fields that only describe a person or a row: a value of theirs
# that breaks a limit is nulled (and logged in raw.quarantine) while the row
# still loads. Any other broken value quarantines the whole row.
DESCRIPTIVE_FIELDS = frozenset({
    "first_name", "last_name", "date_of_birth", "address_line", "postcode", "city", "region", "country", "sex",
    "category", "page_url", "subject", "body", "comment",
})


def fields_for_kind(kind: str) -> dict[str, str]:
    """All canonical fields a source of `kind` may map, with their SQL types."""
    return {**COMMON_FIELDS, **IDENTITY_FIELDS, **KIND_FIELDS[kind]}
