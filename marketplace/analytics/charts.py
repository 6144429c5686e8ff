"""Server-rendered SVG charts of department analytics (pygal, no JavaScript: the pages work offline)."""

from __future__ import annotations

import re
from fractions import Fraction

import pygal
from flask_babel import gettext as _
from pygal.style import Style

from marketplace.ratings.models import DIMENSIONS

# High-contrast colours that stay apart for common colour-vision deficiencies (Okabe–Ito).
# The SVG scales to its column (about 22rem, 350 px on a phone): drawn 440 px wide, its 18-px labels show at
# 14 px or more. Legends go one per line under the plot, so long app names never overlap.
STYLE = Style(background="white", plot_background="white", foreground="#1a1a1a", foreground_strong="#000",
              foreground_subtle="#555", font_family="system-ui, sans-serif",
              label_font_size=18, major_label_font_size=18, legend_font_size=18, title_font_size=20,
              value_font_size=16, tooltip_font_size=16,
              colors=("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"))
COMMON = {"style": STYLE, "js": [], "disable_xml_declaration": True, "width": 440, "height": 380,
          "explicit_size": False, "legend_at_bottom": True, "legend_at_bottom_columns": 1, "truncate_legend": 28,
          "truncate_label": 12, "print_values": False, "margin": 12}


def count_axis(counts) -> dict:
    """Axis settings for counts: whole numbers from 0, at most six ticks (never 0–0.1–1 for one complaint)."""
    top = max([int(c) for c in counts if c is not None] or [0])
    step = max(1, -(-top // 5))
    ticks = list(range(0, max(top, 1) + step, step))
    return {"y_labels": ticks, "range": (0, ticks[-1]), "value_formatter": lambda v: f"{v:.0f}"}


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
    values = [usage.get(m, 0) for usage in series.values() for m in months]
    chart = pygal.Line(**COMMON, **count_axis(values), x_label_rotation=45, show_minor_x_labels=False,
                       x_labels_major_every=3)
    chart.x_labels = months
    for name, usage in series.items():
        chart.add(name, [usage.get(m, 0) for m in months])
    return _render(chart, title)


def rating_trend_chart(title: str, months: list[str], series: dict[str, dict[str, Fraction | None]]) -> str:
    chart = pygal.Line(**COMMON, x_label_rotation=45, range=(1, 5), y_labels=[1, 2, 3, 4, 5], allow_interruptions=True,
                       show_minor_x_labels=False, x_labels_major_every=3)
    chart.x_labels = months
    for name, trend in series.items():
        chart.add(name, [_number(trend.get(m)) for m in months])
    return _render(chart, title)


def dimension_chart(title: str, labels: dict[str, str], series: dict[str, dict[str, Fraction | None]]) -> str:
    chart = pygal.Bar(**COMMON, range=(0, 5), y_labels=[0, 1, 2, 3, 4, 5], x_label_rotation=45)
    chart.x_labels = [labels.get(d, d) for d in DIMENSIONS]
    for name, dims in series.items():
        chart.add(name, [_number(dims.get(d)) for d in DIMENSIONS])
    return _render(chart, title)


def themes_chart(title: str, counts: dict[str, int]) -> str:
    chart = pygal.HorizontalBar(**COMMON, **count_axis(counts.values()), show_legend=False)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    chart.x_labels = [label for label, _ in ordered]
    chart.add(title, [count for _, count in ordered])
    return _render(chart, title)
