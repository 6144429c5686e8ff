"""Server-rendered SVG charts of department analytics (pygal, no JavaScript: the pages work offline)."""

from __future__ import annotations

import re
from fractions import Fraction

import pygal
from flask_babel import gettext as _
from pygal.style import Style

from marketplace.ratings.models import DIMENSIONS

# High-contrast colours that stay apart for common colour-vision deficiencies (Okabe–Ito).
STYLE = Style(background="white", plot_background="white", foreground="#1a1a1a", foreground_strong="#000",
              foreground_subtle="#555", font_family="system-ui, sans-serif",
              colors=("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"))
COMMON = {"style": STYLE, "js": [], "disable_xml_declaration": True, "width": 640, "height": 300,
          "explicit_size": False, "legend_at_bottom": True, "truncate_legend": 30, "print_values": False}


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _render(chart, title: str) -> str:
    chart.title = title
    chart.no_data_text = _("No data")
    # pygal embeds its tooltip configuration as an inline script; the pages run no script (and a strict CSP).
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def _number(value: Fraction | None) -> float | None:
    # Display only: charts draw floats; the figures themselves stay exact.
    return None if value is None else round(float(value), 2)


def usage_chart(title: str, months: list[str], series: dict[str, dict[str, int]]) -> str:
    chart = pygal.Line(**COMMON, x_label_rotation=30, show_minor_x_labels=True)
    chart.x_labels = months
    for name, usage in series.items():
        chart.add(name, [usage.get(m, 0) for m in months])
    return _render(chart, title)


def rating_trend_chart(title: str, months: list[str], series: dict[str, dict[str, Fraction | None]]) -> str:
    chart = pygal.Line(**COMMON, x_label_rotation=30, range=(1, 5), allow_interruptions=True)
    chart.x_labels = months
    for name, trend in series.items():
        chart.add(name, [_number(trend.get(m)) for m in months])
    return _render(chart, title)


def dimension_chart(title: str, labels: dict[str, str], series: dict[str, dict[str, Fraction | None]]) -> str:
    chart = pygal.Bar(**COMMON, range=(0, 5))
    chart.x_labels = [labels.get(d, d) for d in DIMENSIONS]
    for name, dims in series.items():
        chart.add(name, [_number(dims.get(d)) for d in DIMENSIONS])
    return _render(chart, title)


def themes_chart(title: str, counts: dict[str, int]) -> str:
    chart = pygal.HorizontalBar(**COMMON, show_legend=False)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    chart.x_labels = [label for label, _ in ordered]
    chart.add(title, [count for _, count in ordered])
    return _render(chart, title)
