"""Data Docs for quality-gate results: one HTML site per set of :class:`GateResult`.

``write_data_docs(results, folder)`` writes

* ``folder/index.html``: a self-contained page (inline CSS, no JavaScript, no
  network) listing every validation (suite, target, passed/failed, evaluated
  time, rows) with a section per validation and a row per expectation (its
  observed value, unexpected count, notes, error), linking to
* ``folder/validations/<suite>/<run>/<time>/<target>.html``: Great Expectations'
  own validation-result page for each result, rendered by GX 1.x's Data Docs
  renderers (``ValidationResultsPageRenderer`` + ``DefaultJinjaPageView``, the
  classes GX's site builder uses) in GX's own site layout, so the pages'
  "Home" link leads back to ``index.html``.

Why not ``context.build_data_docs()``: GX's site builder needs the results in a
validation-results store (a file-backed context) and its index page draws its
table with bootstrap-table and jQuery loaded from CDNs, so offline it shows an
empty page.  The renderers need neither: they take an
``ExpectationSuiteValidationResult``, rebuilt here from each GateResult, which
is also what keeps personal data out of the pages (see below).  GX's pages load
Bootstrap from CDNs too; offline they lose that styling but keep all content
(their tables are plain HTML), and a small inline stylesheet keeps them readable.

Personal data: failing sample values/rows are left out of every page unless
``include_samples=True``; so are observed values of column expectations that
are data values rather than counts (e.g. the max of an email column).
Expectation kwargs (SQL, purposes, thresholds) and params are configuration and
are shown.

Rendering costs a few milliseconds per expectation; GX is imported lazily.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .gates import ExpectationOutcome, GateResult

__all__ = ["write_data_docs"]

REDACTED = "(hidden: may be personal data; write_data_docs(include_samples=True) shows it)"

# Inlined into GX's pages through its own hook (template data_docs_custom_styles.css).
_GX_OFFLINE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
.navbar img { display: none; }
.ge-walkthrough-modal, .modal { display: none; }
pre, code { white-space: pre-wrap; word-break: break-word; }
"""

_INDEX_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.75em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.passed { color: #1a7f37; font-weight: 600; }
.failed { color: #cf222e; font-weight: 600; }
tr.fail td { background: #fff5f5; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 0.85em; }
details summary { cursor: pointer; color: #555; }
section { border-top: 2px solid #eee; padding-top: 0.5em; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def write_data_docs(
    results: Sequence[GateResult],
    folder: Path,
    *,
    include_samples: bool = False,
    title: str = "Quality gates",
) -> Path:
    """Write Data Docs for ``results`` into ``folder``; returns ``folder/index.html``.

    Existing files of the same names are overwritten; other files in the folder
    are left alone (pass a fresh folder per run to keep runs apart).
    ``include_samples=True`` adds the failing sample values/rows GateResults
    carry (possibly personal data) to the pages.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pages = [_page_path(result, index) for index, result in enumerate(results)]
    if results:
        _write_gx_pages(results, pages, folder, include_samples)
    index = folder / "index.html"
    index.write_text(_index_html(results, pages, include_samples, title), encoding="utf-8")
    return index


# --------------------------------------------------------------------------- GX pages


def _write_gx_pages(
    results: Sequence[GateResult], pages: list[Path], folder: Path, include_samples: bool
) -> None:
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    renderer = ValidationResultsPageRenderer()
    with tempfile.TemporaryDirectory(prefix="gate-docs-styles-") as styles:
        (Path(styles) / "data_docs_custom_styles.css").write_text(_GX_OFFLINE_CSS, encoding="utf-8")
        view = DefaultJinjaPageView(custom_styles_directory=styles)
        for result, page in zip(results, pages):
            document = renderer.render(_gx_validation_result(result, include_samples))
            content = view.render(document, data_context_id=None, show_how_to_buttons=False)
            target = folder / page
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")


def _page_path(result: GateResult, index: int) -> Path:
    """GX's site layout: validations/<suite (dots = folders)>/<run name>/<run time>/<batch>.html.

    GX's page template links "Home" that many folders up, to index.html.
    """
    run_time = result.evaluated_at.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(
        "validations",
        *(_slug(part) for part in result.suite_name.split(".")),
        f"gate-{index + 1}",
        run_time,
        f"{_batch_identifier(result)}.html",
    )


def _batch_identifier(result: GateResult) -> str:
    if re.fullmatch(r"[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)*", result.target):
        return _slug(result.target)
    digest = hashlib.sha256((result.query or result.target).encode()).hexdigest()[:12]
    return f"query-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "_"


def _gx_validation_result(result: GateResult, include_samples: bool) -> Any:
    from great_expectations import __version__ as gx_version
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    evrs = []
    for outcome in result.results:
        config = ExpectationConfiguration(
            type=outcome.expectation_type,
            kwargs=_json_safe(outcome.kwargs),
            meta=_json_safe(outcome.meta) or None,
            notes=outcome.notes,
        )
        exception_info = (
            # GX's page renders the traceback as text: None would crash it, so the message stands in.
            {"raised_exception": True, "exception_message": outcome.error, "exception_traceback": outcome.error}
            if outcome.error is not None
            else {"raised_exception": False, "exception_message": None, "exception_traceback": None}
        )
        evrs.append(
            ExpectationValidationResult(
                success=outcome.success,
                expectation_config=config,
                result=_gx_result_dict(outcome, result.row_count, include_samples),
                exception_info=exception_info,
            )
        )
    evaluated = len(evrs)
    successful = sum(1 for o in result.results if o.success)
    run_time = result.evaluated_at.astimezone(_dt.timezone.utc)
    return ExpectationSuiteValidationResult(
        success=result.passed,
        results=evrs,
        suite_name=result.suite_name,
        suite_parameters=_json_safe(result.params or {}),
        statistics={
            "evaluated_expectations": evaluated,
            "successful_expectations": successful,
            "unsuccessful_expectations": evaluated - successful,
            "success_percent": 100.0 * successful / evaluated if evaluated else None,
        },
        meta={
            "great_expectations_version": gx_version,
            "run_id": {"run_name": "quality gate", "run_time": run_time.isoformat()},
            "validation_time": run_time.strftime("%Y%m%dT%H%M%S.%fZ"),
            "active_batch_definition": {
                "datasource_name": "warehouse",
                "data_asset_name": result.target,
                "batch_definition_name": "all",
            },
            "batch_spec": {
                "data_asset_name": result.target,
                "query": result.query or result.target,
                "row_count": result.row_count,
            },
        },
    )


def _gx_result_dict(outcome: ExpectationOutcome, row_count: int, include_samples: bool) -> dict:
    """The ``result`` part of a GX ExpectationValidationResult, as far as the outcome knows it."""
    if outcome.error is not None:
        return {}
    data: dict[str, Any] = {}
    samples = _json_safe(outcome.samples) if include_samples else []
    if outcome.expectation_type == "unexpected_rows_expectation":
        data["observed_value"] = outcome.observed_value
        if samples:
            data["details"] = {"unexpected_rows": samples}
        return data
    if outcome.unexpected_count is not None:  # column map expectation
        total = outcome.element_count if outcome.element_count is not None else row_count
        data["element_count"] = total
        data["unexpected_count"] = outcome.unexpected_count
        data["unexpected_percent"] = 100.0 * outcome.unexpected_count / total if total else 0.0
        data["missing_count"] = 0
        data["missing_percent"] = 0.0
        data["unexpected_percent_total"] = data["unexpected_percent"]
        data["unexpected_percent_nonmissing"] = data["unexpected_percent"]
        if samples:
            if all(isinstance(s, dict) for s in samples):  # rows identified by row_id_columns
                column = outcome.column
                data["partial_unexpected_list"] = [s.get(column) for s in samples] if column else []
                data["partial_unexpected_index_list"] = samples
                data["unexpected_index_column_names"] = [k for k in samples[0] if k != column]
            else:
                data["partial_unexpected_list"] = samples
        else:
            data["partial_unexpected_list"] = []
        return data
    data["observed_value"] = _shown_observed_value(outcome, include_samples)
    if outcome.element_count is not None:
        data["element_count"] = outcome.element_count
    return data


def _shown_observed_value(outcome: ExpectationOutcome, include_samples: bool) -> Any:
    """Observed values of column expectations that are data values (not counts) are hidden."""
    value = outcome.observed_value
    if include_samples or outcome.column is None or value is None:
        return _json_safe(value)
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return value
    return REDACTED


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# --------------------------------------------------------------------------- index page


def _index_html(
    results: Sequence[GateResult], pages: list[Path], include_samples: bool, title: str
) -> str:
    e = html.escape
    written = _dt.datetime.now(_dt.timezone.utc)
    passed = sum(1 for r in results if r.passed)
    rows = []
    sections = []
    for number, (result, page) in enumerate(zip(results, pages), start=1):
        anchor = f"validation-{number}"
        status = _status(result.passed)
        failed = len(result.failures)
        rows.append(
            f'<tr class="{"pass" if result.passed else "fail"}">'
            f'<td><a href="#{anchor}">{e(result.suite_name)}</a></td>'
            f"<td>{e(result.target)}</td>"
            f"<td>{status}</td>"
            f"<td>{e(_time(result.evaluated_at))}</td>"
            f'<td class="num">{result.row_count}</td>'
            f'<td class="num">{len(result.results) - failed} / {len(result.results)}</td>'
            f'<td><a href="{e(page.as_posix())}">GX page</a></td>'
            "</tr>"
        )
        sections.append(_validation_section(result, page, anchor, include_samples))
    samples_note = (
        "Failing sample values are included (may contain personal data)."
        if include_samples
        else "Failing sample values are not included (they may be personal data)."
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dagster_project.quality.docs (Great Expectations Data Docs renderers)">
<title>{e(title)}: Data Docs</title>
<style>{_INDEX_CSS}</style>
</head>
<body>
<h1>{e(title)}</h1>
<p class="meta">{passed} of {len(results)} validations passed. Written {e(_time(written))}. {e(samples_note)}
Each validation links to its Great Expectations validation-result page.</p>
<h2>Validations</h2>
<table>
<thead><tr><th>Suite</th><th>Target</th><th>Status</th><th>Evaluated at</th><th>Rows</th><th>Expectations passed</th><th>Data Docs</th></tr></thead>
<tbody>
{chr(10).join(rows) if rows else '<tr><td colspan="7">No validations.</td></tr>'}
</tbody>
</table>
{chr(10).join(sections)}
</body>
</html>
"""


def _validation_section(result: GateResult, page: Path, anchor: str, include_samples: bool) -> str:
    e = html.escape
    rows = []
    for number, outcome in enumerate(result.results, start=1):
        details = []
        if outcome.error is not None:
            details.append(f'<div class="failed">Could not be evaluated: {e(outcome.error)}</div>')
        if include_samples and outcome.samples:
            details.append(
                "<details open><summary>Failing samples</summary>"
                f"<pre>{e(json.dumps(outcome.samples, default=_json_default, ensure_ascii=False, indent=1))}</pre>"
                "</details>"
            )
        kwargs = {k: v for k, v in outcome.kwargs.items() if k != "column"}
        if kwargs:
            details.append(
                "<details><summary>kwargs</summary>"
                f"<pre>{e(json.dumps(kwargs, default=_json_default, ensure_ascii=False, indent=1))}</pre>"
                "</details>"
            )
        rows.append(
            f'<tr id="{anchor}-expectation-{number}" class="{"pass" if outcome.success else "fail"}">'
            f'<td class="num">{number}</td>'
            f"<td>{_status(outcome.success)}</td>"
            f"<td><code>{e(outcome.expectation_type)}</code></td>"
            f"<td>{e(outcome.column or '')}</td>"
            f"<td>{e(_observed_text(outcome, result.row_count, include_samples))}</td>"
            f"<td>{e(outcome.notes or '')}{''.join(details)}</td>"
            "</tr>"
        )
    params = (
        "<details><summary>Params</summary>"
        f"<pre>{e(json.dumps(result.params, default=_json_default, ensure_ascii=False, indent=1))}</pre></details>"
        if result.params
        else ""
    )
    query = (
        f"<details><summary>Query</summary><pre>{e(result.query)}</pre></details>" if result.query else ""
    )
    return f"""<section id="{anchor}">
<h2>{e(result.suite_name)} on {e(result.target)}: {_status(result.passed)}</h2>
<p class="meta">Evaluated at {e(_time(result.evaluated_at))}; {result.row_count} rows;
{len(result.failures)} of {len(result.results)} expectations failed.
<a href="{e(page.as_posix())}">Great Expectations validation page</a></p>
{query}{params}
<table>
<thead><tr><th>#</th><th>Status</th><th>Expectation</th><th>Column</th><th>Observed</th><th>Notes</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</section>"""


def _observed_text(outcome: ExpectationOutcome, row_count: int, include_samples: bool) -> str:
    if outcome.error is not None:
        return "error"
    if outcome.expectation_type == "unexpected_rows_expectation":
        count = outcome.observed_value
        return f"{count} unexpected row{'' if count == 1 else 's'}" if isinstance(count, int) else "-"
    if outcome.unexpected_count is not None:
        total = outcome.element_count if outcome.element_count is not None else row_count
        percent = f" ({100.0 * outcome.unexpected_count / total:.2f}%)" if total else ""
        return f"{outcome.unexpected_count} of {total} rows unexpected{percent}"
    if outcome.expectation_type.startswith("expect_table_row_count"):
        return f"{outcome.observed_value} rows"
    value = _shown_observed_value(outcome, include_samples)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _status(success: bool) -> str:
    return '<span class="passed">passed</span>' if success else '<span class="failed">FAILED</span>'


def _time(moment: _dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
