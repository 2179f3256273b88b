"""Golden record, facts, traits, models, next best action and segments, on
generated data through the whole pipeline.

Uses the shared multi-day workspace (tests/conftest.py): it trusts e-commerce
accounts over the CRM for names (the default trusts the CRM first) and has
its own segments.yml with an extra segment `big_spenders`, whose threshold is
raised between the first and second run, so some members exit.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import duckdb
import polars as pl
import pytest

from dagster_project.config_profiles import applied_suppressions
from dagster_project.warehouse import connect
from tests.conftest import PROFILE_GOLDEN_RULES as GOLDEN_RULES
from tests.conftest import PROFILE_TRUST as TRUST


@pytest.fixture(scope="module")
def profiles(multi_day):
    assert all(run.success for run in multi_day["runs"]), [r.summary.render() for r in multi_day["runs"]]
    assert multi_day["config"].segments_path == multi_day["config"].root / "segments.yml"
    return multi_day["config"], multi_day["big_spenders_first"]


def query(config, sql: str) -> pl.DataFrame:
    with connect(config.warehouse, read_only=True) as con:
        return con.sql(sql).pl()


def expected_survivors(records: pl.DataFrame, fields: list[str], rule: str) -> pl.DataFrame:
    """The winning record per person, computed here independently of the SQL."""
    identity = ["first_name", "last_name", "email", "phone", "date_of_birth", "address_line", "postcode", "city",
                "region", "country", "loyalty_id"]
    ranked = records.filter(pl.any_horizontal(pl.col(f).is_not_null() for f in fields)).with_columns(
        trust=pl.col("source").replace_strict({s: i for i, s in enumerate(TRUST)}, default=len(TRUST)),
        filled=pl.sum_horizontal(pl.col(f).is_not_null().cast(pl.Int32) for f in fields),
        complete=pl.sum_horizontal(pl.col(f).is_not_null().cast(pl.Int32) for f in identity),
    )
    order = {
        "trust": (["trust", "updated_at", "record_key"], [False, True, False]),
        "recency": (["updated_at", "trust", "record_key"], [True, False, False]),
        "completeness": (["filled", "complete", "trust", "updated_at", "record_key"], [True, True, False, True, False]),
    }[rule]
    return ranked.sort(order[0], descending=order[1]).group_by("person_id", maintain_order=True).first()


@pytest.mark.parametrize("attribute", list(GOLDEN_RULES))
def test_survivorship_picks_the_configured_winner_and_records_its_source(profiles, attribute):
    config, _ = profiles
    records = query(config, """
        select m.person_id, r.* from intermediate.int_identity__records r
        join identity.person_map m using (record_key)""")
    spec = GOLDEN_RULES[attribute]
    fields = spec.get("fields", [attribute])
    expected = expected_survivors(records, fields, spec["rule"])
    golden = query(config, "select * from marts.dim_customer")
    joined = expected.join(golden, on="person_id", suffix="_golden")
    assert joined.height == expected.height > 100
    for field in fields:
        assert (joined[field].eq_missing(joined[f"{field}_golden"])).all(), field
        assert (joined["source"] == joined[f"{field}_source"]).all(), field
        assert (joined["updated_at"] == joined[f"{field}_updated_at"]).all(), field
    if attribute == "name":
        # The trust order matters: for some people the latest name is not the most trusted one.
        latest = expected_survivors(records, fields, "recency").select("person_id", latest=pl.col("first_name"))
        differs = expected.join(latest, on="person_id").filter(pl.col("first_name").ne_missing(pl.col("latest")))
        assert differs.height > 0


def test_customer_identifiers_keep_every_value_and_mark_the_golden_one(profiles):
    config, _ = profiles
    emails = query(config, """
        select m.person_id, count(distinct r.email) as emails
        from intermediate.int_identity__records r join identity.person_map m using (record_key)
        where r.email is not null group by 1""")
    identifiers = query(config, """
        select person_id, count(*) as emails, sum(is_primary::int) as primary_emails
        from marts.customer_identifiers where identifier_type = 'email' group by 1""")
    joined = emails.join(identifiers, on="person_id", how="full", coalesce=True)
    assert (joined["emails"] == joined["emails_right"]).all()
    assert (joined["primary_emails"] == 1).all()
    assert (joined["emails"] > 1).sum() > 0  # people with several emails keep all of them


def test_orders_from_every_channel_in_one_fact_reconcile_with_staging(profiles):
    config, _ = profiles
    counts = query(config, """
        select
            (select count(*) from staging.stg_ecommerce_orders__orders) + (select count(*) from staging.stg_pos__receipts) as staged,
            (select count(*) from marts.fct_orders) as facts,
            (select count(distinct channel) from marts.fct_orders) as channels,
            (select count(*) from marts.fct_orders where channel = 'online' and person_id is null) as online_without_person
    """).row(0, named=True)
    assert counts["staged"] == counts["facts"] and counts["channels"] == 2
    assert counts["online_without_person"] == 0  # every e-commerce order belongs to its account's person


def test_anonymous_events_before_a_login_are_attributed_to_the_account_holder(profiles):
    config, _ = profiles
    devices = query(config, """
        with logins as (
            select source, device_record_id, min(account_ref) as account_ref
            from marts.fct_events where event_type = 'login' and account_ref is not null
            group by 1, 2 having count(distinct account_ref) = 1
        )
        select e.event_key, e.person_id, m.person_id as account_person
        from marts.fct_events e
        join logins l using (source, device_record_id)
        join identity.person_map m on m.source = 'ecommerce_accounts' and m.source_record_id = l.account_ref
        where e.is_pre_login""")
    assert devices.height > 50
    assert (devices["person_id"] == devices["account_person"]).all()


def test_sessions_split_on_inactivity(profiles):
    config, _ = profiles
    gaps = query(config, """
        select session_id, count(*) as events, count(distinct device_record_id) as devices
        from marts.fct_events group by 1""")
    assert (gaps["devices"] == 1).all() and (gaps["events"] > 1).any()
    within = query(config, """
        select count(*) as bad from (
            select session_id, event_at - lag(event_at) over (partition by session_id order by event_at) as gap
            from marts.fct_events) where gap > interval 30 minute""")
    assert within["bad"][0] == 0


def test_traits_one_row_per_person_with_rfm_and_loyalty(profiles):
    config, _ = profiles
    traits = query(config, "select * from marts.customer_traits")
    persons = query(config, "select count(*) as n from marts.dim_customer")["n"][0]
    assert traits.height == persons and traits["person_id"].n_unique() == persons
    buyers = traits.filter(pl.col("order_count") > 0)
    assert buyers["recency_score"].is_between(1, 5).all() and buyers["rfm_segment"].null_count() == 0
    members = traits.filter(pl.col("loyalty_tier").is_not_null() & (pl.col("loyalty_tier") != "platinum"))
    thresholds = {"bronze": 1000, "silver": 3000, "gold": 8000}
    expected = members["loyalty_points"].map_elements(lambda p: min(t for t in (1000, 3000, 8000) if t > p) - p, return_dtype=pl.Int64)
    assert members.height > 20 and (members["points_to_next_tier"] == expected).all()
    assert set(members["loyalty_tier"]) <= set(thresholds)
    assert traits["last_nps_sentiment"].drop_nulls().n_unique() == 3  # positive, neutral, negative


def test_a_person_with_an_open_ticket_is_in_no_marketing_segment(profiles):
    config, _ = profiles
    segments = config.segments
    marketing = [s.name for s in segments.segments if "unresolved_service_ticket" in applied_suppressions(segments, s)]
    assert "all_buyers" in marketing
    names = ", ".join(f"'{n}'" for n in marketing)
    leaked = query(config, f"""
        select m.person_id, m.segment from marts.segment_members m
        join marts.customer_traits t using (person_id)
        where t.has_unresolved_ticket and m.segment in ({names})""")
    would_match = query(config, "select count(*) as n from marts.customer_traits where has_unresolved_ticket and order_count >= 1")
    assert would_match["n"][0] > 0  # without the suppression they would be in all_buyers
    assert leaked.height == 0
    actions = query(config, "select a.* from marts.customer_next_best_action a join marts.customer_traits t using (person_id) where t.has_unresolved_ticket")
    assert (actions["next_best_action"] == "service_recovery").all() and not actions["promotions_allowed"].any()


def _expected_order_features(orders: pl.DataFrame, cutoffs: pl.DataFrame, models) -> pl.DataFrame:
    """customer_activity_snapshots' order features computed here from the order lines: an order
    counts where any of its lines meets the condition."""
    rows = []
    for days_before, cutoff in cutoffs.select("days_before_as_of", "cutoff_at").iter_rows():
        before = orders.filter(pl.col("ordered_at") < cutoff)
        def window(days):
            return before.filter(pl.col("ordered_at") >= cutoff - timedelta(days=days))
        def ahead(days):
            return orders.filter((pl.col("ordered_at") >= cutoff) & (pl.col("ordered_at") < cutoff + timedelta(days=days)))
        per_person = before.group_by("person_id").agg(
            order_count=pl.col("order_key").n_unique(), revenue=pl.col("amount_reporting").sum(),
            first_order_at=pl.col("ordered_at").min(), last_order_at=pl.col("ordered_at").max(),
            store_orders=pl.col("order_key").filter(pl.col("channel") == "store").n_unique())
        for name, frame in (("orders_90d", window(90)), ("orders_365d", window(365)),
                            ("churn_orders", ahead(models.churn_horizon_days)),
                            ("propensity_orders", ahead(models.propensity_horizon_days))):
            per_person = per_person.join(frame.group_by("person_id").agg(pl.col("order_key").n_unique().alias(name)),
                                         on="person_id", how="left")
        per_person = per_person.join(window(365).group_by("person_id").agg(revenue_365d=pl.col("amount_reporting").sum()),
                                     on="person_id", how="left")
        rows.append(per_person.with_columns(
            pl.lit(days_before).alias("days_before_as_of"),
            *(pl.col(c).fill_null(0) for c in ("orders_90d", "orders_365d", "churn_orders", "propensity_orders")),
            pl.col("revenue_365d").fill_null(0),
            (pl.col("store_orders") / pl.col("order_count")).alias("store_order_share"),
        ).with_columns(
            pl.when(days_before >= models.churn_horizon_days).then((pl.col("churn_orders") == 0).cast(pl.Int32))
              .alias("churned_in_horizon"),
            pl.when(days_before >= models.propensity_horizon_days).then((pl.col("propensity_orders") > 0).cast(pl.Int32))
              .alias("purchased_in_horizon"),
        ))
    return pl.concat(rows).drop("store_orders", "churn_orders", "propensity_orders")


def test_activity_snapshots_count_an_order_once_whatever_times_its_lines_carry(profiles, tmp_path):
    """The snapshots' order features (counts, revenue, windows, store share, labels) equal a
    computation here from the order lines, on the workspace's orders and again once one order's
    lines carry two times 400 days apart (the model reads an order whose lines carry one time as one
    row, and groups the lines of the others): the model's SQL on a copy of the warehouse."""
    config, _ = profiles
    compiled = max((config.state_dir / "dbt" / "target").glob("*/compiled/**/customer_activity_snapshots.sql"),
                   key=lambda path: path.stat().st_mtime).read_text()
    copy = tmp_path / config.warehouse.name  # the SQL names the warehouse's catalog
    shutil.copy(config.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        split_order = con.sql("""
            select order_key from marts.fct_orders where person_id is not null and not is_refund
            group by order_key having count(*) >= 2 order by order_key limit 1""").fetchall()[0][0]
        for lines_apart in (False, True):
            if lines_apart:
                con.execute("""update marts.fct_orders set ordered_at = ordered_at - interval 400 days
                    where order_line_key = (select min(order_line_key) from marts.fct_orders where order_key = ?)""",
                            [split_order])
            orders = con.sql("""
                select person_id, order_key, ordered_at, channel, amount_reporting from marts.fct_orders
                where person_id is not null and not is_refund and person_id not in (
                    select person_id from marts.customer_consent where purpose = 'profiling' and status = 'withdrawn')""").pl()
            cutoffs = con.sql("select days_before_as_of, cutoff_at from intermediate.int_customer__cutoffs").pl()
            expected = _expected_order_features(orders, cutoffs, config.models)
            actual = con.sql(f"select * from ({compiled}) where order_count > 0").pl()
            joined = actual.join(expected, on=["person_id", "days_before_as_of"], how="full", suffix="_expected")
            assert joined.height == actual.height == expected.height > 100
            for column in ("order_count", "first_order_at", "last_order_at", "orders_90d", "orders_365d", "churned_in_horizon",
                           "purchased_in_horizon"):
                assert joined.select(pl.col(column).cast(pl.Int64, strict=False).eq_missing(
                    pl.col(f"{column}_expected").cast(pl.Int64, strict=False)).all()).item(), column
            for column in ("revenue", "revenue_365d", "store_order_share"):
                difference = (pl.col(column).cast(pl.Float64) - pl.col(f"{column}_expected").cast(pl.Float64)).abs()
                assert joined.select((difference < 0.001).all()).item(), column
        # The moved line is before a cut-off that the order's other lines are not: the lines' path ran.
        times = orders.filter(pl.col("order_key") == split_order)["ordered_at"]
        assert cutoffs.filter((pl.col("cutoff_at") > times.min()) & (pl.col("cutoff_at") <= times.max())).height > 0


def test_product_recommendations_are_the_co_purchases_computed_here(profiles):
    """customer_product_recommendations equal the model's rule computed here from the order lines:
    each customer's 10 most recent products, co-purchase partners shared by at least 3 customers (a
    product's 20 strongest), scored by the customer's products pointing to them, bought ones left
    out, the best 3; nothing for people who withdrew profiling consent."""
    config, _ = profiles
    lines = query(config, """
        select person_id, product_id, ordered_at from marts.fct_orders
        where person_id is not null and product_id is not null and person_id not in (
            select person_id from marts.customer_consent where purpose = 'profiling' and status = 'withdrawn')""")
    bought = lines.group_by("person_id", "product_id").agg(pl.col("ordered_at").max().alias("last_bought_at"))
    recent = (bought.sort(["person_id", "last_bought_at", "product_id"], descending=[False, True, False])
              .group_by("person_id", maintain_order=True).head(10).select("person_id", "product_id"))
    partners = (recent.join(recent, on="person_id", suffix="_also").filter(pl.col("product_id") != pl.col("product_id_also"))
                .group_by("product_id", "product_id_also").len("shared").filter(pl.col("shared") >= 3)
                .sort(["product_id", "shared", "product_id_also"], descending=[False, True, False])
                .group_by("product_id", maintain_order=True).head(20))
    scored = (recent.join(partners, on="product_id").group_by("person_id", "product_id_also").agg(pl.col("shared").sum())
              .rename({"product_id_also": "product_id", "shared": "affinity_score"})
              .join(bought, on=["person_id", "product_id"], how="anti"))
    expected = (scored.sort(["person_id", "affinity_score", "product_id"], descending=[False, True, False])
                .group_by("person_id", maintain_order=True).head(3)
                .with_columns(pl.col("product_id").cum_count().over("person_id").alias("recommendation_rank")))
    actual = query(config, "select person_id, product_id, affinity_score, recommendation_rank from marts.customer_product_recommendations")
    key = ["person_id", "recommendation_rank"]
    assert actual.height == expected.height > 100
    assert actual.sort(key).select(pl.all().cast(pl.String)).equals(
        expected.select(actual.columns).sort(key).select(pl.all().cast(pl.String)))


def test_traits_and_snapshots_agree_on_open_tickets(profiles):
    """One rule: a ticket is open at a moment from its opening (inclusive)
    until its close time, once its status is closed. Computed here in Python
    from the tickets; traits and the snapshot at as_of must both match it."""
    config, _ = profiles
    tickets = query(config, "select person_id, opened_at, closed_at, status from marts.fct_service_tickets where person_id is not null")
    as_of = query(config, "select as_of_at from marts.as_of")["as_of_at"][0]
    resolved = pl.when(pl.col("status") == "closed").then(pl.coalesce("closed_at", "opened_at"))
    open_at_as_of = (tickets.with_columns(resolved_at=resolved)
                     .filter((pl.col("opened_at") <= as_of) & (pl.col("resolved_at").is_null() | (pl.col("resolved_at") > as_of)))
                     .group_by("person_id").len("expected"))
    traits = query(config, "select person_id, open_ticket_count from marts.customer_traits")
    joined = traits.join(open_at_as_of, on="person_id", how="left").with_columns(pl.col("expected").fill_null(0))
    assert (joined["open_ticket_count"] == joined["expected"]).all()
    assert joined["expected"].sum() > 5
    disagreeing = query(config, """
        select count(*) as n from marts.customer_traits t
        join marts.customer_activity_snapshots s on s.person_id = t.person_id and s.days_before_as_of = 0
        where t.open_ticket_count <> s.open_tickets""")
    assert disagreeing["n"][0] == 0


def test_next_best_action_is_the_first_matching_rule(profiles):
    config, _ = profiles
    cases = " ".join(f"when coalesce(({r.when}), false) then '{r.action}'" for r in config.next_best_action)
    expected = query(config, f"select person_id, case {cases} else 'nurture' end as expected from marts.customer_traits")
    actual = query(config, "select person_id, next_best_action from marts.customer_next_best_action")
    joined = expected.join(actual, on="person_id")
    assert joined.height == expected.height and (joined["expected"] == joined["next_best_action"]).all()
    assert joined["next_best_action"].n_unique() >= 5


def test_a_segment_added_to_segments_yml_is_built_with_the_right_members(profiles):
    config, _ = profiles
    members = set(query(config, "select person_id from marts.seg_big_spenders")["person_id"])
    expected = set(query(config, """
        select person_id from marts.customer_traits
        where lifetime_value >= 400 and not has_unresolved_ticket and not unsubscribed_recently""")["person_id"])
    assert members == expected and len(members) > 10


def test_exiting_a_segment_sets_exited_at(profiles):
    config, members_after_first = profiles
    history = query(config, "select * from marts.segment_membership where segment = 'big_spenders'")
    now = set(query(config, "select person_id from marts.seg_big_spenders")["person_id"])
    left = set(members_after_first["person_id"]) - now
    assert len(left) > 5
    exited = history.filter(pl.col("person_id").is_in(list(left)))
    assert exited["exited_at"].null_count() == 0 and not exited["is_current"].any()
    stayed = history.filter(pl.col("person_id").is_in(list(now)))
    assert stayed.filter(pl.col("is_current"))["person_id"].n_unique() == len(now)
    assert (stayed.filter(pl.col("is_current"))["exited_at"].is_null()).all()
    assert history.filter(pl.col("person_id").is_in(list(set(members_after_first["person_id"]) & now)))["entered_at"].n_unique() == 1


def test_an_identical_rerun_changes_no_segment_membership(multi_day):
    config = multi_day["config"]
    before = multi_day["history_second"].sort(["person_id", "segment", "entered_at"])
    after = query(config, "select * from marts.segment_membership").sort(["person_id", "segment", "entered_at"])
    assert after.equals(before)


def test_churn_model_card_reports_a_holdout_auc_above_chance(profiles):
    config, _ = profiles
    card = json.loads((config.models.folder / "churn.card.json").read_text())
    assert card["holdout_auc"] > 0.6, card["holdout_auc"]
    assert card["features"] and card["trained_at"]
    scores = query(config, "select * from ml.customer_scores")
    assert scores["purchase_propensity"].is_between(0, 1).all()


def test_withdrawn_profiling_consent_keeps_behaviour_out_of_traits_scores_and_segments(profiles):
    config, _ = profiles
    withdrawn = query(config, """
        select t.*, (select count(*) from marts.fct_orders o where o.person_id = t.person_id) as orders
        from marts.customer_traits t
        join marts.customer_consent c on c.person_id = t.person_id and c.purpose = 'profiling' and c.status = 'withdrawn'""")
    assert withdrawn.filter(pl.col("orders") > 0).height > 0  # they do have behaviour
    for column in ("order_count", "lifetime_value", "recency_score", "churn_risk", "purchase_propensity",
                   "recommended_product_id", "recent_browsing_categories", "last_event_at"):
        assert withdrawn[column].null_count() == withdrawn.height, column
    assert not withdrawn["has_abandoned_cart"].any()
    ids = ", ".join(f"'{p}'" for p in withdrawn["person_id"])
    in_behavioural = query(config, f"select * from marts.segment_members where person_id in ({ids}) and segment in ('all_buyers', 'vip_customers', 'big_spenders', 'cart_abandoners')")
    snapshots = query(config, f"select * from marts.customer_activity_snapshots where person_id in ({ids})")
    assert in_behavioural.height == 0 and snapshots.height == 0


def test_demand_signals_reconcile_with_orders(profiles):
    config, _ = profiles
    totals = query(config, """
        select (select sum(quantity) from marts.fct_orders where product_id is not null) as units,
               (select sum(units_ordered) from marts.demand_signals) as signalled,
               (select count(*) from marts.fct_events where event_type = 'cart_add' and product_id is not null) as carts,
               (select sum(cart_adds) from marts.demand_signals) as carts_signalled""").row(0, named=True)
    assert totals["units"] == totals["signalled"] and totals["carts"] == totals["carts_signalled"]


def test_exports_leave_out_suppressed_people(profiles):
    config, _ = profiles
    exported = pl.read_parquet(config.exports / "email_platform" / "vip_customers" / "vip_customers.parquet")
    suppressed = set(query(config, "select person_id from marts.customer_suppressions where suppression in ('unresolved_service_ticket', 'unsubscribed_recently')")["person_id"])
    manifest = json.loads((config.exports / "email_platform" / "vip_customers" / "manifest.json").read_text())
    assert exported.height > 0 and not set(exported["person_id"]) & suppressed
    assert manifest["row_count"] == exported.height


def test_every_mart_column_is_described_and_every_mart_has_grain_tests(profiles):
    """An analyst can read the warehouse without the code: the dbt yml describes every column."""
    config, _ = profiles
    manifest = json.loads((config.state_dir / "dbt" / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and n["fqn"][1] in ("marts", "activation")}
    tested = {n["attached_node"] for n in manifest["nodes"].values() if n["resource_type"] == "test" and n.get("attached_node")}
    with connect(config.warehouse, read_only=True) as con:
        actual = {}
        for table, column in con.execute(
                "select table_name, column_name from information_schema.columns where table_schema = 'marts'").fetchall():
            actual.setdefault(table, set()).add(column)
    assert len(models) >= 20
    for name, node in models.items():
        documented = {c for c, spec in node["columns"].items() if spec.get("description", "").strip()}
        assert node["description"].strip(), name
        assert actual[name] - documented == set(), name
        assert node["unique_id"] in tested, f"{name} has no dbt test"
