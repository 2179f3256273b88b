"""The rows a destination receives for an audience: consent and reach enforced.

Whatever an audience model selects, a destination only gets people whose
consent for the destination's purpose is granted (marts.customer_consent:
the latest event across all of their records) and who are reachable on its
channel, with only the identifiers it declares. Ad platforms get normalised
identifiers hashed with SHA-256 (email lower-cased and trimmed, phone in
E.164 with its +), never raw values. People matching a suppression that
applies to the destination (segments.yml; global ones for marketing
purposes) are left out, and the export gate checks that none slipped through.

Third-party enrichment columns (marts.customer_enrichment) leave only for a
destination that lists them and whose purpose is one of
`enrichment.purposes`; any other destination gets none of them, whatever it
lists. A person without enrichment (no consent, unknown postcode) gets nulls.
"""

from __future__ import annotations

from dagster_project.config import AudienceConfig, DestinationConfig

REACHABLE = {
    "email": "customers.email is not null",
    "sms": "customers.phone is not null",
    "ads": "(customers.email is not null or customers.phone is not null)",
    "postal": "customers.address_line is not null and customers.postcode is not null",
    "any": "true",
}

HASHED = {
    "email_sha256": "sha256(customers.email)",
    "phone_sha256": "sha256(customers.phone)",
}


def identifier_sql(identifier: str) -> str:
    return f"{HASHED[identifier]} as {identifier}" if identifier in HASHED else f"customers.{identifier}"


def suppressed_query(suppressions: tuple[str, ...]) -> str | None:
    """People matching any of the named suppressions (marts.customer_suppressions)."""
    if not suppressions:
        return None
    names = ", ".join(f"'{name}'" for name in suppressions)
    return f"select person_id from marts.customer_suppressions where suppression in ({names})"


def enrichment_columns(destination: DestinationConfig, enrichment_purposes: tuple[str, ...]) -> tuple[str, ...]:
    """The enrichment columns the destination may receive: none unless its purpose allows enrichment."""
    return destination.enrichment if destination.purpose in enrichment_purposes else ()


def destination_query(destination: DestinationConfig, audience: AudienceConfig, suppressions: tuple[str, ...] = (),
                      enrichment_purposes: tuple[str, ...] = ()) -> str:
    enrichment = enrichment_columns(destination, enrichment_purposes)
    columns = ",\n    ".join(["audience.person_id", *(identifier_sql(i) for i in destination.identifiers),
                               *(f"enrichment.{column}" for column in enrichment)])
    enriched = ("\nleft join marts.customer_enrichment as enrichment\n    on enrichment.person_id = audience.person_id"
                if enrichment else "")
    suppressed = suppressed_query(suppressions)
    not_suppressed = f"\n  and audience.person_id not in ({suppressed})" if suppressed else ""
    return f"""
select
    {columns}
from marts.{audience.model} as audience
inner join marts.dim_customer as customers
    on customers.person_id = audience.person_id
inner join marts.customer_consent as consent
    on consent.person_id = audience.person_id
    and consent.purpose = '{destination.purpose}'
    and consent.status = 'granted'{enriched}
where {REACHABLE[destination.channel]}{not_suppressed}
""".strip()
