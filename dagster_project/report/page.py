"""The run report's page: one self-contained HTML file. The Vega / Vega-Lite /
vega-embed JavaScript comes from the vl-convert-python package (no network, at
build or view time) and is inlined once; each chart is a Vega-Lite spec that
vegaEmbed draws into its own div. A chart that fails to draw logs a console
error, which the browser test catches."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path

import polars as pl

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
.status { font-weight: bold; padding: 0.2em 0.6em; border-radius: 4px; display: inline-block; }
.ok { background: #d8f0d8; } .bad { background: #f8d0d0; } .warn { background: #fbeec0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
.chart { margin: 0.6em 0; } .none { color: #777; font-style: italic; }
"""


@cache
def vega_bundle(cache_folder: Path) -> str:
    """vega-embed with Vega and Vega-Lite, as one script; kept in `cache_folder`
    because bundling takes about two seconds."""
    from altair.utils._importers import import_vl_convert, vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    cached = cache_folder / f"vega-embed-bundle-{version}.js"
    if not cached.exists():
        cache_folder.mkdir(parents=True, exist_ok=True)
        cached.write_text(import_vl_convert().javascript_bundle(vl_version=version))
    return cached.read_text()


def table(frame: pl.DataFrame | list[dict], links: dict[str, str] | None = None) -> str:
    """An HTML table; `links` maps a column to the column holding each row's link target."""
    rows = frame.to_dicts() if isinstance(frame, pl.DataFrame) else frame
    if not rows:
        return '<p class="none">nothing in this run</p>'
    links = links or {}
    columns = [c for c in rows[0] if c not in links.values()]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row, c, links) for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(row: dict, column: str, links: dict[str, str]) -> str:
    value = "" if row[column] is None else html.escape(str(row[column]))
    target = row.get(links.get(column, ""), None)
    return f'<td><a href="{html.escape(target)}">{value}</a></td>' if target else f"<td>{value}</td>"


class Page:
    """Sections of text, tables and charts, rendered into one HTML document."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.charts: dict[str, dict] = {}

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, css: str = "") -> None:
        self.parts.append(f'<p class="{css}">{html.escape(text)}</p>')

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def chart(self, spec: dict | None) -> None:
        if spec is None:
            self.parts.append('<p class="none">no data for this chart</p>')
            return
        div = f"chart{len(self.charts)}"
        self.charts[div] = spec
        self.parts.append(f'<div class="chart" id="{div}"></div>')

    def render(self, bundle: str) -> str:
        specs = json.dumps(self.charts).replace("</", "<\\/")  # no "</script>" inside the script
        return (
            f'<!DOCTYPE html><html><head><meta charset="UTF-8"><title>{html.escape(self.title)}</title>'
            f"<style>{STYLE}</style><script>{bundle}</script></head><body>"
            + "".join(self.parts)
            + f"<script>const specs = {specs};\n"
            "for (const [div, spec] of Object.entries(specs)) {\n"
            "  vegaEmbed('#' + div, spec, {actions: false, renderer: 'svg'})\n"
            "    .then(() => document.getElementById(div).dataset.rendered = 'yes')\n"
            "    .catch(error => console.error('chart ' + div + ' failed: ' + error));\n"
            "}</script></body></html>"
        )
