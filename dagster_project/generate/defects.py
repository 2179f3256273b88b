"""Contract-breaking rows, injected at defect_rate, the way real feeds break.

JSON defects keep each field's JSON type (a string where a number is
expected would make readers reject the whole file, not one row).
"""

from __future__ import annotations

import numpy as np
import polars as pl

# source -> [(column, bad values | None for missing)]
DEFECTS: dict[str, list[tuple[str, list[str] | None]]] = {
    "crm": [("contact_id", None), ("contact_id", [""]),
            ("birth_date", ["31/02/1985", "n/a", "1985-13-01", "00/00/0000"]),
            ("updated_at", ["n/a", "2024-02-30 10:00:00", "30/06/2024 10:00"])],
    "ecommerce_accounts": [("account_id", None), ("email", None),
                           ("created_at", ["n/a", "2024-13-01T00:00:00Z", "2024-01-05 10:00:00"]),
                           ("date_of_birth", ["31/02/1985", "n/a", "1985-02-31"])],
    "ecommerce_orders": [("order_id", None), ("account_id", None), ("quantity", None), ("sku", None),
                         ("ordered_at", ["n/a", "2024-02-30T10:00:00Z", "05/01/2024 10:00"]),
                         ("currency", ["\u20ac", "gbp", "XXX"])],
    "pos": [("receipt_id", [""]), ("qty", ["two", "1.5", "-", ""]), ("price", ["n/a", "\u00a312.99", "12,99"]),
            ("purchased_at", ["2024-01-05 10:00", "31.02.2024 10:00", "n/a"])],
    "web_events": [("device_id", None), ("event_type", ["click", "pageView", "checkout", "PAGE_VIEW"]),
                   ("ts", ["n/a", "2024-01-05 10:00:00", "1704449400"])],
    "service_tickets": [("ticket_id", [""]), ("status", ["resolved", "Closed", "escalated"]),
                        ("opened_at", ["n/a", "05/01/2024 10:00", "2024-02-30 09:00:00"])],
    "loyalty": [("card_number", [""]), ("dob", ["31/02/1985", "n/a", "13/25/1990"]),
                ("points", ["n/a", "1,200", "-"]), ("tier", ["diamond", "Gold", "vip"]),
                ("last_updated", ["n/a", "2024-02-30 10:00:00"])],
    "consent": [("consent_event_id", [""]), ("purpose", ["marketing", "all", "newsletter"]),
                ("status", ["yes", "opt-in", "unknown"]), ("recorded_at", ["n/a", "2024-13-01 00:00:00"])],
    "survey": [("response_id", [""]), ("score", ["11", "ten", "-1", "n/a"]),
               ("answered_at", ["n/a", "2024-02-30 12:00:00"])],
    "campaign_responses": [("campaign_id", [""]), ("response_type", ["bounced", "Opened", "click"]),
                           ("responded_at", ["n/a", "2024-02-30 12:00:00"])],
    "benefits": [("form_id", [""]), ("date_of_birth", ["31/02/1985", "n/a", "1985-02-01"]),
                 ("submitted_at", ["n/a", "2024-02-30 10:00:00"])],
}


def inject(df: pl.DataFrame, source: str, rng, rate: float, text: bool) -> tuple[pl.DataFrame, int]:
    """Break ~rate of the rows; text=True (CSV) allows any string in any column."""
    hit = rng.random(df.height) < rate
    if not hit.any():
        return df, 0
    spec = DEFECTS[source]
    which = rng.integers(0, len(spec), df.height)
    pick = rng.integers(0, 1 << 30, df.height)
    for i, (col, bad) in enumerate(spec):
        idx = np.flatnonzero(hit & (which == i))
        if len(idx) == 0:
            continue
        s = df[col]
        if bad is None:
            s = s.scatter(idx, pl.Series([None] * len(idx), dtype=s.dtype))
        else:
            if s.dtype != pl.String and not text:
                continue  # never change a JSON field's type
            s = s.cast(pl.String).scatter(idx, pl.Series(bad).gather(pick[idx] % len(bad)))
        df = df.with_columns(s.alias(col))
    return df, int(hit.sum())
