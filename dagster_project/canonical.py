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
        "unit_price": "double",
        "amount": "double",
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
}

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
}

CONSENT_PURPOSES = ["email_marketing", "sms_marketing", "ad_personalisation", "profiling", "analytics"]


def fields_for_kind(kind: str) -> dict[str, str]:
    """All canonical fields a source of `kind` may map, with their SQL types."""
    return {**COMMON_FIELDS, **IDENTITY_FIELDS, **KIND_FIELDS[kind]}
