"""Engagement sources: service tickets, consent events, NPS survey, campaign responses.

All are driven by the person's latent engagement and churn date, so later
models (churn, NPS, CLV) have real signal to find.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import ids, names, noise, texts
from .catalog import CAMPAIGN_CHANNELS, CATEGORIES
from .copies import Profile, identity_copy
from .noise import choose
from .plan import Ctx, between, explode
from .timeline import DAY, FAR, ONLINE, YEAR, seconds

TICKETS = Profile(nick=0.3, typo=0.05, upper=0.03, lower=0.08, email_missing=0.1, email_stale=0.2,
                  email_typo=0.015, phone_missing=0.55, landline=0.3)
LIGHT = Profile(email_missing=0.05, email_stale=0.1, email_family=0.3, phone_missing=0.0, landline=0.0)
PURPOSES = pl.Series(["email_marketing", "sms_marketing", "ad_personalisation", "profiling", "analytics"])
PURPOSE_W = np.array([0.35, 0.15, 0.15, 0.15, 0.2])
GRANT_CH = (["web", "app", "store", "email", "call_centre", "preference_centre"], [0.35, 0.15, 0.2, 0.05, 0.05, 0.2])
WITHDRAW_CH = (["email", "preference_centre", "call_centre", "app"], [0.5, 0.35, 0.1, 0.05])
FMT = "%Y-%m-%d %H:%M:%S"
TICKET_PHONES = {"intl00": 0.6, "spaced": 0.3, "national": 0.1}  # as agents type what callers say
CATEGORY_S = pl.Series([c[0] for c in CATEGORIES])


def _nulls(n: int) -> pl.Series:
    return pl.Series([None] * n, dtype=pl.String)


def _later(p: pl.DataFrame, rng, p_changed: float, p_new: float) -> np.ndarray:
    share = np.where(p["is_new"].to_numpy(), p_new, p_changed)
    return (rng.random(p.height) < share).astype(np.int64)


def _years(p: pl.DataFrame) -> np.ndarray:
    return np.maximum(p["hi"].to_numpy() - p["lo"].to_numpy(), 0) / YEAR


def _churned(p: pl.DataFrame) -> np.ndarray:
    return p["churn_at"].to_numpy() < FAR


def _city_cat(rows: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Words to fill templates with: the person's favourite category and home city."""
    return CATEGORY_S.gather(rows["pref_cat"].to_numpy()), names.CITY_S.gather(rows["a0_city"].to_numpy())


def tickets(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    if ctx.batch == 1:
        rate = 0.126 * np.where(_churned(p), 1.8, 1.0) * p["eng"].to_numpy() ** -0.3
        n = np.minimum(rng.poisson(rate * _years(p)), 12)
    else:
        n = _later(p, rng, 0.1, 0.05)
    r, _ = explode(p, n)
    if r.height == 0:
        return None, None
    m = r.height
    churn = r["churn_at"].to_numpy()
    lo, hi = r["lo"].to_numpy(), np.minimum(r["hi"].to_numpy(), churn + 14 * DAY)
    hi = np.maximum(hi, lo + DAY)
    # unhappy leavers complain shortly before they go
    near = (churn < FAR) & (rng.random(m) < 0.5) & (ctx.batch == 1)
    lo = np.where(near, np.maximum(lo, churn - 60 * DAY), lo)
    opened = np.minimum(between(rng, lo, hi, ONLINE), r["hi"].to_numpy() - 60)
    closed = opened + (rng.lognormal(np.log(20 * 3600), 1.0, m)).astype(np.int64)
    age = ctx.hi - opened
    u = rng.random(m)
    status = np.where(age > 21 * DAY, np.where(u < 0.96, 2, np.where(u < 0.98, 1, 0)),
                      np.where(u < 0.35, 0, np.where(u < 0.6, 1, 2)))
    status = np.where((status == 2) & (closed >= ctx.hi), 1, status)
    c = identity_copy(r, opened, rng, TICKETS.at(ctx.noise))
    only_first = rng.random(m) < 0.05
    full = pl.select(pl.concat_str(c["first_name"], pl.lit(" "), c["last_name"])).to_series()
    name = choose(only_first, c["first_name"], full)
    topic = rng.integers(0, len(texts.TICKET_TOPICS), m)
    cat, city = _city_cat(r)
    subject = pl.Series([s for s, _ in texts.TICKET_TOPICS]).gather(topic)
    body = texts.fill([b for _, b in texts.TICKET_TOPICS], topic, cat, city)
    tid = ctx.decimal_id("ticket", "TCK-", m, 20, 8)
    out = pl.DataFrame({
        "ticket_id": tid, "customer_email": c["email"],
        "customer_phone": noise.phone_mixed(c["phone_nsn"], r["ie"].to_numpy(), rng, TICKET_PHONES),
        "customer_name": name, "opened_at": seconds(opened).dt.strftime(FMT),
        "closed_at": choose(status == 2, seconds(closed).dt.strftime(FMT), _nulls(m)),
        "status": pl.Series(["open", "pending", "closed"]).gather(status),
        "subject": subject, "body": body,
    })
    return out, pl.DataFrame({"source_record_id": tid, "person_id": r["person_id"]})


def consent(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    n = p.height
    if ctx.batch == 1:
        k = rng.choice(4, n, p=[0.2, 0.3, 0.3, 0.2])
    else:
        k = _later(p, rng, 0.2, 0.6) * np.where(p["is_new"].to_numpy(), rng.integers(1, 3, n), 1)
    # k distinct purposes per person, weighted (Gumbel top-k)
    keys = np.log(PURPOSE_W)[None, :] - np.log(-np.log(rng.random((n, len(PURPOSE_W)))))
    ranked = np.argsort(-keys, axis=1)
    r, j = explode(p, k)
    if r.height == 0:
        return None, None
    purpose = ranked[np.repeat(np.arange(n), k), j]
    m = r.height
    granted = between(rng, r["lo"].to_numpy(), r["hi"].to_numpy(), ONLINE)
    if ctx.batch == 1:
        withdraw = rng.random(m) < np.where(_churned(r), 0.5, 0.3)
        w_at = between(rng, granted + DAY, np.maximum(r["hi"].to_numpy(), granted + 2 * DAY), ONLINE)
        withdraw &= w_at < r["hi"].to_numpy()
        gone = r.filter(pl.Series(withdraw))
        ev = pl.concat([_ev(r, purpose, granted, 0), _ev(gone, purpose[withdraw], w_at[withdraw], 1)])
    else:
        # a later day brings a new opt-in or an opt-out, for existing people half/half
        status = np.where(r["is_new"].to_numpy() | (rng.random(m) < 0.5), 0, 1)
        ev = _ev(r, purpose, granted, status)
    return _consent_rows(ctx, ev, rng)


def _ev(r: pl.DataFrame, purpose, t, status) -> pl.DataFrame:
    status = np.broadcast_to(status, (r.height,)).copy()
    return r.with_columns(purpose=pl.Series(purpose), t=pl.Series(t), status=pl.Series(status))


def _consent_rows(ctx: Ctx, ev: pl.DataFrame, rng):
    m = ev.height
    t = ev["t"].to_numpy()
    c = identity_copy(ev, t, rng, LIGHT.at(ctx.noise))
    purpose = ev["purpose"].to_numpy()
    sms = purpose == 1
    # sms consent is keyed by the number; most also carry no email
    phone = noise.phone(ev["mobile"], ev["ie"].to_numpy(), "e164")
    email = choose(sms & (rng.random(m) < 0.7), _nulls(m), c["email"])
    status = ev["status"].to_numpy()
    gch = pl.Series(GRANT_CH[0]).gather(rng.choice(len(GRANT_CH[0]), m, p=GRANT_CH[1]))
    wch = pl.Series(WITHDRAW_CH[0]).gather(rng.choice(len(WITHDRAW_CH[0]), m, p=WITHDRAW_CH[1]))
    cid = ids.hex_series(ids.mix64(ctx.sequence("consent", m), ctx.key(0xC05)), 16)
    cid = pl.select(pl.lit("ce_") + cid).to_series()
    out = pl.DataFrame({
        "consent_event_id": cid, "email": email, "phone": choose(sms, phone, _nulls(m)),
        "purpose": PURPOSES.gather(purpose), "channel": choose(status == 1, wch, gch),
        "status": pl.Series(["granted", "withdrawn"]).gather(status),
        "recorded_at": seconds(t).dt.strftime(FMT),
    })
    return out, pl.DataFrame({"source_record_id": cid, "person_id": ev["person_id"]})


def nps_score(rng, eng: np.ndarray, leaving: np.ndarray) -> np.ndarray:
    mu = 8.0 + 1.3 * np.log(eng) - 3.5 * leaving  # loyal customers promote, leavers detract
    return np.clip(np.round(rng.normal(mu, 1.6)), 0, 10).astype(np.int64)


def survey(ctx: Ctx, p: pl.DataFrame, rng):
    if ctx.batch == 1:
        n = np.minimum(rng.poisson(0.245 * _years(p) / 1.4), 6)
    else:
        n = _later(p, rng, 0.05, 0.1)
    r, _ = explode(p, n)
    if r.height == 0:
        return None, None
    m = r.height
    t = between(rng, r["lo"].to_numpy(), r["hi"].to_numpy(), ONLINE)
    leaving = r["churn_at"].to_numpy() - t < 120 * DAY
    score = nps_score(rng, r["eng"].to_numpy(), leaving)
    bucket = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
    cat, city = _city_cat(r)
    comment = _nulls(m)
    for b, key in enumerate(("detractor", "passive", "promoter")):
        tmpl = texts.NPS_COMMENTS[key]
        comment = choose(bucket == b, texts.fill(tmpl, rng.integers(0, len(tmpl), m), cat, city), comment)
    comment = choose(rng.random(m) < 0.35, _nulls(m), comment)
    c = identity_copy(r, t, rng, LIGHT.at(ctx.noise))
    rid = ctx.decimal_id("survey", "NPS-", m, 10, 9)
    out = pl.DataFrame({"response_id": rid, "email": c["email"], "score": score, "comment": comment,
                        "answered_at": seconds(t).dt.strftime(FMT)})
    return out, pl.DataFrame({"source_record_id": rid, "person_id": r["person_id"]})


STEPS = pl.Series(["delivered", "opened", "clicked", "converted", "unsubscribed"])


def campaigns(ctx: Ctx, p: pl.DataFrame, rng):
    sends, cids, chan = ctx.campaigns
    if ctx.batch == 1:
        n = np.minimum(rng.poisson(0.56 * _years(p)), 40)
    else:
        n = _later(p, rng, 0.3, 0.3)
    r, _ = explode(p, n)
    if r.height == 0:
        return None, None
    m = r.height
    a = np.searchsorted(sends, r["lo"].to_numpy())
    b = np.searchsorted(sends, r["hi"].to_numpy())
    ok = b > a
    camp = np.minimum(a + (rng.random(m) * (b - a)).astype(np.int64), len(sends) - 1)
    eng = r["eng"].to_numpy()
    leaving = r["churn_at"].to_numpy() < sends[camp] + 90 * DAY
    opened = rng.random(m) < np.clip(0.15 + 0.25 * eng, 0, 0.85) * np.where(leaving, 0.5, 1)
    clicked = opened & (rng.random(m) < 0.35)
    converted = clicked & (rng.random(m) < 0.25 * np.minimum(eng, 2))
    unsub = ~converted & (rng.random(m) < np.where(leaving, 0.08, 0.015))
    t0 = sends[camp] + rng.integers(0, 1800, m)
    t1 = t0 + rng.exponential(6 * 3600, m).astype(np.int64)
    t2 = t1 + rng.integers(10, 600, m)
    t3 = t2 + rng.integers(60, 7200, m)
    t4 = t0 + rng.exponential(12 * 3600, m).astype(np.int64)
    flags = np.stack([ok, ok & opened, ok & clicked, ok & converted, ok & unsub], axis=1)
    times = np.stack([t0, t1, t2, t3, t4], axis=1)
    flags &= times < r["hi"].to_numpy()[:, None]
    row, step = np.nonzero(flags)
    if len(row) == 0:
        return None, None
    ev = r[row]
    t = times[row, step]
    c = identity_copy(ev, t, rng, Profile(email_missing=0.03, email_stale=0.1, email_family=0.3, email_typo=0.0,
                                          phone_missing=1.0).at(ctx.noise))
    k = len(row)
    rid = ids.hex_series(ids.permute(ctx.sequence("response", k), 1 << 48, ctx.key(0x5E5)), 12)
    rid = pl.select(pl.lit("rsp_") + rid).to_series()
    out = pl.DataFrame({
        "response_id": rid, "campaign_id": pl.Series(cids).gather(camp[row]), "email": c["email"],
        "response_type": STEPS.gather(step), "channel": CAMPAIGN_CHANNELS.gather(chan[camp[row]]),
        "responded_at": seconds(t).dt.strftime(FMT),
    })
    return out, pl.DataFrame({"source_record_id": rid, "person_id": ev["person_id"]})
