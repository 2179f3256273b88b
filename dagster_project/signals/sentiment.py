"""Sentiment of survey comments with VADER.

VADER is a rule-based sentiment model for short informal text (negation,
intensifiers, punctuation, emoticons); its lexicon ships inside the
vaderSentiment package, so nothing is downloaded at run time. Comments repeat
a lot (short stock phrases), so each distinct text is scored once.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
import polars as pl
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from dagster_project.config import CdpConfig

TABLE = "signals.survey_sentiment"
# VADER's own thresholds on the compound score.
POSITIVE, NEGATIVE = 0.05, -0.05


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_of(text: str | None) -> tuple[float | None, str | None]:
    """Compound score in [-1, 1] and its label; (None, None) for no text."""
    if text is None or not text.strip():
        return None, None
    score = _analyzer().polarity_scores(text)["compound"]
    label = "positive" if score >= POSITIVE else "negative" if score <= NEGATIVE else "neutral"
    return score, label


def score_survey_sentiment(con: duckdb.DuckDBPyConnection, config: CdpConfig) -> dict[str, int]:
    """(Re)write signals.survey_sentiment for every survey response of every survey source."""
    con.execute("create schema if not exists signals")
    frames = [
        con.sql(f"select source, source_record_id, response_id, comment from staging.{s.staging_model}").pl()
        for s in config.sources
        if s.kind == "survey"
    ]
    responses = pl.concat(frames) if frames else pl.DataFrame(schema={"source": pl.String, "source_record_id": pl.String, "response_id": pl.String, "comment": pl.String})
    texts = responses["comment"].unique().drop_nulls().to_list()
    scored = {text: sentiment_of(text) for text in texts}
    # source_record_id names the response's identity record, so erasure finds it.
    sentiment = responses.select(
        "source",
        "source_record_id",
        "response_id",
        pl.col("comment").replace_strict({t: s for t, (s, _) in scored.items()}, default=None, return_dtype=pl.Float64).alias("sentiment_score"),
        pl.col("comment").replace_strict({t: lb for t, (_, lb) in scored.items()}, default=None, return_dtype=pl.String).alias("sentiment_label"),
    )
    con.register("sentiment_frame", sentiment.to_arrow())
    con.execute(f"create or replace table {TABLE} as select * from sentiment_frame")
    con.unregister("sentiment_frame")
    counts = dict(sentiment.group_by("sentiment_label").len().iter_rows())
    return {"responses": sentiment.height, "distinct_comments": len(texts),
            **{str(label or "no_comment"): n for label, n in counts.items()}}
