"""The HTML run report: written by every run (failed ones too), re-drawn by
`cdp report`, and checked in a real browser: no console errors, every chart drawn."""

from __future__ import annotations

import json
import shutil
import urllib.request

import dagster as dg
import pytest
from playwright.sync_api import sync_playwright

from dagster_project.cli import main
from dagster_project.config import load_config
from dagster_project.pipeline import REPORT_TAG, dagster_instance, run_pipeline
from dagster_project.report import report_path, reports_folder
from dagster_project.report.page import Page, vega_bundle
from tests.browser import dagster_webserver, launch_browser, open_page, screenshot

# The asset groups of dagster_project.definitions, from raw sources to exports (quality gates are asset checks).
STAGE_GROUPS = ("ingest", "staging", "intermediate", "identity", "signals", "marts", "models", "activation", "export")
# Failed loads dbt's own page makes on file://: icons and favicon through unrendered templates
# ({{ getIcon(...) }}, ${require(...)}) and its usage tracker (a protocol-relative CloudFront URL).
DBT_DOCS_OWN_NOISE = ("getIcon", "favicon", "cloudfront.net")
ALL_CHARTS_DRAWN = "[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered && c.querySelector('svg'))"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


def load_report(browser, path, timeout_ms=20_000) -> tuple[object, list[str]]:
    errors: list[str] = []
    page = open_page(browser, path.as_uri(), errors)
    try:
        page.wait_for_function(ALL_CHARTS_DRAWN, timeout=timeout_ms)
    except Exception as error:  # a chart never drew: the console errors say why
        errors.append(f"charts not drawn: {type(error).__name__}")
    return page, errors


def test_every_run_writes_its_report_and_tags_the_dagster_run(multi_day):
    config, runs = multi_day["config"], multi_day["runs"]
    for run in runs:
        assert run.summary.report_path == str(report_path(config, run.run_id))
        assert f"Run report: {run.summary.report_path}" in run.summary.render()
    latest = (reports_folder(config) / "latest.html").read_text()
    assert latest == report_path(config, runs[2].run_id).read_text()
    assert f"Run {runs[2].run_id}" in latest and "Vega-Lite" not in latest[:200]
    # The mode, as the summary says it: the first run scored every pair, the later ones only new records.
    assert "Mode: incremental; identity scoring: full" in report_path(config, runs[0].run_id).read_text()
    assert f"Mode: {runs[2].summary.mode}" in latest and "identity scoring: incremental" in latest
    assert "http://" not in latest.split("<body>")[1] and "https://cdn" not in latest  # opens offline
    with dagster_instance(config) as instance:
        assert instance.get_run_by_id(runs[2].run_id).tags[REPORT_TAG] == run.summary.report_path


def test_the_sample_report_loads_with_no_console_errors_and_draws_its_charts(multi_day, browser, tmp_path):
    config, first_run = multi_day["config"], multi_day["runs"][0]  # the run that loaded the sample's files
    page, errors = load_report(browser, report_path(config, first_run.run_id))
    assert errors == []
    # files, clusters, weights, golden, consent, segments, audiences, stages (+ quarantine reasons if any)
    assert page.locator(".chart svg").count() == page.locator(".chart").count() >= 8
    assert page.locator("#run-status").inner_text() == "completed"
    assert page.get_by_text("Accuracy against the ground truth").count() == 1
    docs_link = page.locator("a", has_text="marts_dim_customer").first.get_attribute("href")
    assert (reports_folder(config) / docs_link).resolve().is_file()  # the gate's Data Docs page
    screenshot(page, tmp_path, "run_report")


def test_a_broken_chart_fails_the_browser_check(browser, tmp_path):
    page = Page("broken")
    page.chart({"mark": "barr", "encoding": {"x": {"field": "a", "type": "quantitative"}}, "data": {"values": [{"a": 1}]}})  # a typo
    path = tmp_path / "broken.html"
    path.write_text(page.render(vega_bundle(tmp_path / "cache")))
    _, errors = load_report(browser, path, timeout_ms=5_000)
    assert errors and any("chart0" in e or "charts not drawn" in e for e in errors)


def test_a_failed_run_writes_a_report_that_says_what_failed(multi_day, browser, tmp_path, monkeypatch):
    folder = tmp_path / "w"
    shutil.copytree(multi_day["config"].root, folder, ignore=shutil.ignore_patterns(".cdp", "exports_after_second_run", "reports"))
    config = load_config(folder / "cdp.yml")

    def broken_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("dagster_project.defs.export.export_audience", broken_disk)
    result = run_pipeline(config, assets=[dg.AssetKey(["export", "ad_platform", "known_customers"])])
    assert result.summary.exit_status == 1
    page, errors = load_report(browser, report_path(config, result.run_id))
    assert errors == []
    assert page.locator("#run-status").inner_text() == "failed"
    assert "No space left on device" in page.locator("#failures").inner_text()
    assert "export__ad_platform__known_customers" in page.locator("#failures").inner_text()  # the failed step
    screenshot(page, tmp_path, "run_report_failed")

    facts = json.loads((reports_folder(config) / f"run-{result.run_id}.json").read_text())
    assert [s["step"] for s in facts["steps"] if s["status"] == "failed"] != []
    report_path(config, result.run_id).unlink()
    assert main(["report", "--config", str(config.path), "--run", result.run_id]) == 0  # cdp report draws it again
    assert "No space left on device" in report_path(config, result.run_id).read_text()


def test_cdp_docs_builds_dbt_docs_that_load_in_the_browser(multi_day, browser, tmp_path, capsys):
    config = multi_day["config"]
    assert main(["docs", "--config", str(config.path)]) == 0
    page_path = config.root / "reports" / "dbt_docs" / "static_index.html"
    assert capsys.readouterr().out.strip() == str(page_path)
    errors: list[str] = []
    page = open_page(browser, page_path.as_uri() + "#!/model/model.cdp.dim_customer", errors)
    page.wait_for_selector("text=warehouse.marts.dim_customer", timeout=20_000)
    page.get_by_text("Columns", exact=True).first.click()  # the tab, not a name that contains the word
    assert page.get_by_text("person_id").count() >= 1
    assert [e for e in errors if not any(noise in e for noise in DBT_DOCS_OWN_NOISE)] == []
    screenshot(page, tmp_path, "dbt_docs")


def test_the_dagster_ui_shows_the_lineage_grouped_by_stage(multi_day, browser, tmp_path):
    config = multi_day["config"]
    with dagster_webserver(config, tmp_path / "dagster-webserver.log") as url:
        errors: list[str] = []
        # no "join the community" dialog over the graph; the left navigation folded to leave it room
        no_dialog = "localStorage.setItem('communityNux', '1'); localStorage.setItem('dagster-nav-collapsed', 'true')"
        page = open_page(browser, f"{url}/asset-groups", errors, height=720, init_script=no_dialog)  # "Global asset lineage"
        graph_nodes = page.locator("svg foreignObject")
        for group in STAGE_GROUPS:
            graph_nodes.get_by_text(group, exact=True).first.wait_for(timeout=20_000)
        assert errors == []
        screenshot(page, tmp_path, "dagster_lineage")
        # The UI lists the daily schedule and the landing-file sensor (its GraphQL API feeds the pages).
        automation = _graphql(url, "{ repositoriesOrError { ... on RepositoryConnection { nodes {"
                                   " schedules { name } sensors { name } jobs { name } } } } }")
        repository = automation["repositoriesOrError"]["nodes"][0]
        assert {s["name"] for s in repository["schedules"]} == {"cdp_daily"}
        assert {s["name"] for s in repository["sensors"]} == {"new_landing_files"}
        assert "cdp_full_run" in {j["name"] for j in repository["jobs"]}  # the job `cdp run` executes


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]
