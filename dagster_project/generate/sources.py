"""Registry of landing files: path, format, contract column order, generator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

from . import commerce, engagement, identity, names, web


@dataclass(frozen=True)
class Source:
    name: str  # source name in cdp.yml (also the truth file's `source`)
    stem: str  # landing path without batch suffix and extension
    fmt: str  # csv | jsonl
    columns: tuple[str, ...]  # contract order
    make: Callable
    truth: bool = True

    def path(self, batch: int) -> str:
        return f"{self.stem}_{batch:04d}.{self.fmt}"


SOURCES = (
    Source("crm", "crm/contacts", "csv", ("contact_id", "first_name", "last_name", "email", "phone", "birth_date",
           "street", "zip", "city", "country", "updated_at"), identity.crm),
    Source("ecommerce_accounts", "ecommerce/accounts", "jsonl", ("account_id", "email", "first_name", "last_name",
           "phone", "date_of_birth", "address_line1", "address_postcode", "address_city", "address_country",
           "created_at", "updated_at"), identity.accounts),
    Source("ecommerce_orders", "ecommerce/orders", "jsonl", ("order_id", "line_number", "account_id", "ordered_at",
           "sku", "category", "quantity", "unit_price", "currency", "ship_postcode", "ship_region"),
           commerce.orders, truth=False),
    Source("pos", "pos/receipts", "csv", ("receipt_id", "line_no", "store_id", "store_region", "purchased_at",
           "loyalty_card", "customer_name", "sku", "category", "qty", "price"), commerce.receipts),
    Source("web_events", "web/events", "jsonl", ("event_id", "device_id", "event_type", "ts", "user_id", "page_url",
           "product_sku", "product_category", "context"), web.events),
    Source("service_tickets", "service/tickets", "csv", ("ticket_id", "customer_email", "customer_phone",
           "customer_name", "opened_at", "closed_at", "status", "subject", "body"), engagement.tickets),
    Source("loyalty", "loyalty/members", "csv", ("member_id", "card_number", "first_name", "last_name", "email",
           "mobile", "dob", "postcode", "tier", "points", "joined_on", "last_updated"), identity.loyalty),
    Source("consent", "consent/consent", "csv", ("consent_event_id", "email", "phone", "purpose", "channel", "status",
           "recorded_at"), engagement.consent),
    Source("survey", "survey/nps", "csv", ("response_id", "email", "score", "comment", "answered_at"),
           engagement.survey),
    Source("campaign_responses", "campaigns/responses", "csv", ("response_id", "campaign_id", "email",
           "response_type", "channel", "responded_at"), engagement.campaigns),
    Source("benefits", "benefits/forms", "csv", ("form_id", "form_type", "first_name", "last_name", "suffix",
           "date_of_birth", "address_line", "postcode", "city", "submitted_at"), identity.benefits),
)


def households_path(truth_path: Path) -> Path:
    """truth.csv -> truth_households.csv beside it."""
    truth_path = Path(truth_path)
    return truth_path.with_name(f"{truth_path.stem}_households.csv")


class Writer:
    """Appends chunk frames to one open file per source, plus the truth file."""

    def __init__(self, landing: Path, truth_path: Path, batch: int):
        self.landing, self.batch = Path(landing), batch
        self.files: dict[str, list] = {}  # rel path -> [handle, rows]
        truth_path = Path(truth_path)
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        fresh = batch == 1 or not truth_path.exists() or truth_path.stat().st_size == 0
        self.truth = open(truth_path, "wb" if batch == 1 else "ab")
        if fresh:
            self.truth.write(b"source,source_record_id,person_id\n")
        self.truth_rows = 0
        # Who lives with whom: lets the evaluation count false merges of household members.
        self.households = open(households_path(truth_path), "wb" if fresh else "ab")
        if fresh:
            self.households.write(b"person_id,household_id,first_name,last_name,twin,suffix,namesake\n")

    def _handle(self, src: Source) -> list:
        rel = src.path(self.batch)
        if rel not in self.files:
            path = self.landing / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            self.files[rel] = [open(path, "wb"), 0]
        return self.files[rel]

    def write(self, src: Source, df: pl.DataFrame) -> None:
        entry = self._handle(src)
        df = df.select(src.columns)
        if src.fmt == "csv":
            df.write_csv(entry[0], include_header=entry[1] == 0)
        else:
            df.write_ndjson(entry[0])
        entry[1] += df.height

    def write_truth(self, src: Source, truth: pl.DataFrame) -> None:
        truth.select(pl.lit(src.name).alias("source"), "source_record_id", "person_id").write_csv(
            self.truth, include_header=False)
        self.truth_rows += truth.height

    def write_households(self, people: pl.DataFrame) -> None:
        """Who lives with whom, true names, twins, Jr/Sr and namesakes (people sharing a stranger's full name)."""
        people.select(
            "person_id", household_id=pl.lit("H") + pl.col("hh").add(1).cast(pl.String).str.zfill(7),
            first_name=names.FIRST_S.gather(people["first"]), last_name=names.SURNAME_S.gather(people["last"]),
            twin="twin", suffix=identity.suffix_of(people), namesake="namesake",
        ).write_csv(self.households, include_header=False)

    def close(self) -> dict[str, int]:
        """Close files; CSV sources without rows still get a header-only file."""
        for src in SOURCES:
            if src.fmt == "csv" and src.path(self.batch) not in self.files:
                self._handle(src)[0].write((",".join(src.columns) + "\n").encode())
        for handle, _ in self.files.values():
            handle.close()
        self.truth.close()
        self.households.close()
        return {rel: rows for rel, (_, rows) in sorted(self.files.items())}
