"""Small SVG charts a supervisor wants to see: the first-response distribution (a histogram)
and a value per group (horizontal bars, e.g. the share answered within target per queue).

Pure: no Django, no plotting library. Each function returns a complete `<svg>` element
that works inline in a console page (presentation attributes only: no `style`, so the
console's Content-Security-Policy allows it) and as a file of its own (it names the SVG
namespace). Every text that comes from the caller (titles, labels, units) is escaped."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

# First-response buckets: (label, upper bound in seconds, exclusive); the last is open.
FIRST_RESPONSE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("0-10 s", 10.0),
    ("10-30 s", 30.0),
    ("30-60 s", 60.0),
    ("1-5 min", 300.0),
    ("5-60 min", 3600.0),
    (">1 h", math.inf),
)

INK = "#1d2433"
MUTED = "#5b6476"
LINE = "#dfe3ea"
BAR = "#0f7b6c"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
LABEL_CHARS = 18


def bucket_first_responses(seconds: Iterable[float]) -> list[tuple[str, int]]:
    """Count first-response times (seconds) into FIRST_RESPONSE_BUCKETS: each bucket holds
    the times at or above the previous bound and below its own. Negative times (clock
    skew) count in the first bucket; NaN is ignored."""
    counts = [0] * len(FIRST_RESPONSE_BUCKETS)
    for value in seconds:
        if math.isnan(value):
            continue
        for i, (_, upper) in enumerate(FIRST_RESPONSE_BUCKETS):
            if value < upper:
                counts[i] += 1
                break
    return [
        (label, count) for (label, _), count in zip(FIRST_RESPONSE_BUCKETS, counts, strict=True)
    ]


def _x(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _clean(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 for nothing
    to show)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power * (1 + 1e-12):
            return step * power
    return 10.0 * power  # pragma: no cover (the loop always returns)


def format_value(value: float, unit: str = "") -> str:
    """12, 12.5, 12.5 %, 30 s: whole numbers without decimals, others with one."""
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text} {unit}".rstrip() if unit else text


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _open(title: str, width: int, height: int, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{_x(FONT)}" font-size="12" fill="{INK}">',
        f"<title>{_x(title)}</title>",
        f"<desc>{_x(description)}</desc>",
        f'<text x="0" y="16" font-size="14" font-weight="600">{_x(title)}</text>',
    ]


def histogram_svg(
    title: str, buckets: Sequence[tuple[str, int]], *, width: int = 480, height: int = 260
) -> str:
    """A histogram: one column per bucket, its height proportional to the bucket's count,
    on a y axis from 0 to a round number at or above the largest count."""
    counts = [max(0, int(count)) for _, count in buckets]
    total = sum(counts)
    # Four whole-number steps up the y axis.
    step = max(1, math.ceil(nice_ceiling(max(counts, default=0) / 4)))
    top = 4 * step
    left, right, head, foot = 44, 8, 30, 24
    plot_w, plot_h = width - left - right, height - head - foot
    description = "; ".join(
        f"{label}: {count}" for (label, _), count in zip(buckets, counts, strict=True)
    )
    out = _open(title, width, height, description or "No data")
    for i in range(5):  # y axis: 0, ¼, ½, ¾ and all of `top`
        value = top * i / 4
        y = head + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{width - right}" y2="{_num(y)}" '
            f'stroke="{LINE}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" fill="{MUTED}">'
            f"{_x(format_value(value))}</text>"
        )
    slot = plot_w / max(1, len(counts))
    bar_w = slot * 0.7
    for i, ((label, _), count) in enumerate(zip(buckets, counts, strict=True)):
        h = plot_h * count / top
        x = left + slot * i + (slot - bar_w) / 2
        y = head + plot_h - h
        out.append(
            f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" '
            f'height="{_num(h)}" fill="{BAR}" data-label="{_x(label)}" data-value="{count}">'
            f"<title>{_x(label)}: {count}</title></rect>"
        )
        if count:
            out.append(
                f'<text x="{_num(x + bar_w / 2)}" y="{_num(y - 4)}" text-anchor="middle">'
                f"{count}</text>"
            )
        out.append(
            f'<text x="{_num(left + slot * i + slot / 2)}" y="{_num(head + plot_h + 16)}" '
            f'text-anchor="middle" fill="{MUTED}">{_x(_short(label))}</text>'
        )
    if not total:
        out.append(
            f'<text x="{_num(left + plot_w / 2)}" y="{_num(head + plot_h / 2)}" '
            f'text-anchor="middle" fill="{MUTED}">No data</text>'
        )
    out.append(
        f'<text x="{width - right}" y="16" text-anchor="end" fill="{MUTED}">{total} in all</text>'
    )
    out.append("</svg>")
    return "".join(out)


def bars_svg(
    title: str,
    rows: Sequence[tuple[str, float]],
    unit: str,
    *,
    maximum: float | None = None,
    width: int = 480,
) -> str:
    """Horizontal bars, one per row, each as long as its value relative to `maximum` (by
    default a round number at or above the largest value; 100 suits percentages). Long
    labels are shortened on the chart and kept whole in each bar's tooltip."""
    values = [_clean(float(value)) for _, value in rows]
    top = maximum if maximum is not None and maximum > 0 else nice_ceiling(max(values, default=0))
    label_w, value_w, head, row_h = 130, 64, 30, 26
    plot_w = width - label_w - value_w
    height = head + row_h * max(1, len(rows)) + 22
    description = "; ".join(
        f"{label}: {format_value(value, unit)}"
        for (label, _), value in zip(rows, values, strict=True)
    )
    out = _open(title, width, height, description or "No data")
    bottom = head + row_h * max(1, len(rows))
    for i in range(5):
        x = label_w + plot_w * i / 4
        out.append(
            f'<line x1="{_num(x)}" y1="{head}" x2="{_num(x)}" y2="{bottom}" '
            f'stroke="{LINE}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_num(x)}" y="{bottom + 16}" text-anchor="middle" fill="{MUTED}">'
            f"{_x(format_value(top * i / 4))}</text>"
        )
    for i, ((label, _), value) in enumerate(zip(rows, values, strict=True)):
        y = head + row_h * i
        length = plot_w * min(value, top) / top
        shown = format_value(value, unit)
        out.append(
            f'<text x="{label_w - 6}" y="{_num(y + row_h / 2 + 4)}" text-anchor="end">'
            f"{_x(_short(label))}</text>"
        )
        out.append(
            f'<rect class="bar" x="{label_w}" y="{_num(y + 4)}" width="{_num(length)}" '
            f'height="{row_h - 8}" fill="{BAR}" data-label="{_x(label)}" '
            f'data-value="{_x(_num(value))}"><title>{_x(label)}: {_x(shown)}</title></rect>'
        )
        out.append(
            f'<text x="{_num(label_w + length + 4)}" y="{_num(y + row_h / 2 + 4)}">'
            f"{_x(shown)}</text>"
        )
    if not rows:
        out.append(
            f'<text x="{_num(label_w + plot_w / 2)}" y="{_num(head + row_h / 2 + 4)}" '
            f'text-anchor="middle" fill="{MUTED}">No data</text>'
        )
    out.append("</svg>")
    return "".join(out)
