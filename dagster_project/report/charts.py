"""Altair charts of the run report, one function per chart; each takes a frame
from report.queries and returns a Vega-Lite spec (dict), or None when there is
nothing to draw."""

from __future__ import annotations

import altair as alt
import polars as pl

WIDTH = 520


def _spec(chart: alt.Chart) -> dict:
    return chart.properties(width=WIDTH).to_dict()


def rows_per_file(files: pl.DataFrame) -> dict | None:
    if files.is_empty():
        return None
    long = files.unpivot(["rows_loaded", "rows_quarantined"], index=["source", "file"], variable_name="rows", value_name="count")
    return _spec(alt.Chart(long).mark_bar().encode(
        y=alt.Y("file:N", title=None, sort=None), x=alt.X("count:Q", title="rows", stack=True),
        color=alt.Color("rows:N", title=None), row=alt.Row("source:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["source", "file", "rows", "count"]).resolve_scale(y="independent"))


def quarantine_reasons(reasons: pl.DataFrame) -> dict | None:
    if reasons.is_empty():
        return None
    return _spec(alt.Chart(reasons).mark_bar().encode(
        y=alt.Y("reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=360)), x=alt.X("rows:Q"),
        color=alt.Color("source:N"), tooltip=["source", "reason", "rows"]))


def cluster_sizes(sizes: pl.DataFrame) -> dict | None:
    if sizes.is_empty():
        return None
    return _spec(alt.Chart(sizes).mark_bar().encode(
        x=alt.X("records:O", title="records per person"), y=alt.Y("persons:Q", scale=alt.Scale(type="symlog")),
        tooltip=["records", "persons"]))


def match_weights(weights: pl.DataFrame, threshold: float) -> dict | None:
    if weights.is_empty():
        return None
    bars = alt.Chart(weights).mark_bar().encode(
        x=alt.X("match_weight:Q", bin=alt.Bin(maxbins=60), title="Splink match weight"),
        y=alt.Y("sum(pairs):Q", title="pairs"), color=alt.Color("vetoed:N", title="vetoed"))
    rule = alt.Chart(pl.DataFrame({"threshold": [threshold]})).mark_rule(color="red", strokeDash=[4, 4]).encode(x="threshold:Q")
    return _spec(alt.layer(bars, rule))


def golden_completeness(completeness: pl.DataFrame) -> dict | None:
    if completeness.is_empty():
        return None
    return _spec(alt.Chart(completeness).mark_bar().encode(
        y=alt.Y("attribute:N", sort=None, title=None), x=alt.X("filled:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["attribute", alt.Tooltip("filled:Q", format=".1%")]))


def consent_coverage(consent: pl.DataFrame) -> dict | None:
    if consent.is_empty():
        return None
    return _spec(alt.Chart(consent).mark_bar().encode(
        y=alt.Y("purpose:N", title=None), x=alt.X("people:Q", stack="normalize", axis=alt.Axis(format="%"), title="people"),
        color=alt.Color("status:N"), tooltip=["purpose", "status", "people"]))


def segment_history(history: pl.DataFrame) -> dict | None:
    if history.is_empty():
        return None
    return _spec(alt.Chart(history).mark_line(point=True).encode(
        x=alt.X("changed_at:T", title="membership change"), y=alt.Y("members:Q"), color=alt.Color("segment:N"),
        tooltip=["segment", "changed_at", "members", "entered", "exited"]))


def audience_sizes(audiences: pl.DataFrame) -> dict | None:
    if audiences.is_empty():
        return None
    return _spec(alt.Chart(audiences).mark_bar().encode(
        y=alt.Y("audience:N", sort="-x", title=None), x=alt.X("people:Q"), tooltip=["audience", "people"]))


def stage_times(times: pl.DataFrame) -> dict | None:
    if times.is_empty():
        return None
    return _spec(alt.Chart(times.head(25)).mark_bar().encode(
        y=alt.Y("step:N", sort="-x", title=None, axis=alt.Axis(labelLimit=360)), x=alt.X("seconds:Q"),
        color=alt.Color("status:N"), tooltip=["step", "seconds", "status"]))
