"""routing.charts: pure SVG charts. Bucket counts, bars proportional to their values, labels
escaped, well-formed XML that works as a file of its own and under the console's CSP."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from routing.charts import (
    FIRST_RESPONSE_BUCKETS,
    bars_svg,
    bucket_first_responses,
    format_value,
    histogram_svg,
    nice_ceiling,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on malformed XML (an unescaped label, say)
    assert root.tag == f"{SVG}svg"
    return root


def _bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]


def test_first_response_times_fall_into_half_open_buckets() -> None:
    times = [0, 9.99, 10, 29.9, 30, 59, 60, 299, 300, 3599, 3600, 86400, -1, math.nan]
    counts = dict(bucket_first_responses(times))
    assert list(counts) == [label for label, _ in FIRST_RESPONSE_BUCKETS]
    assert counts == {
        "0-10 s": 3,  # 0, 9.99 and -1 (clock skew counts as immediate)
        "10-30 s": 2,
        "30-60 s": 2,
        "1-5 min": 2,
        "5-60 min": 2,
        ">1 h": 2,
    }
    assert sum(counts.values()) == len(times) - 1  # NaN is left out
    assert bucket_first_responses([]) == [(label, 0) for label, _ in FIRST_RESPONSE_BUCKETS]


def test_histogram_columns_are_as_tall_as_their_counts() -> None:
    buckets = [("a", 1), ("b", 4), ("c", 0), ("d", 2)]
    root = _parse(histogram_svg("First response", buckets))
    bars = _bars(root)
    assert [b.get("data-label") for b in bars] == ["a", "b", "c", "d"]
    assert [int(b.get("data-value", "")) for b in bars] == [1, 4, 0, 2]
    heights = [float(b.get("height", "")) for b in bars]
    assert heights[2] == 0
    per_unit = heights[0]
    assert per_unit > 0
    for (_, count), height in zip(buckets, heights, strict=True):
        assert height == pytest.approx(count * per_unit, abs=0.02)
    # Every column stands on the same baseline.
    bottoms = {round(float(b.get("y", "")) + float(b.get("height", "")), 1) for b in bars}
    assert len(bottoms) == 1
    assert "7 in all" in "".join(root.itertext())


def test_histogram_y_axis_has_whole_number_steps() -> None:
    root = _parse(histogram_svg("t", [("a", 3), ("b", 1)]))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    ticks = [x for x in labels if x and x.isdigit()]
    assert ticks == ["0", "1", "2", "3", "4"]
    tallest = max(float(b.get("height", "")) for b in _bars(root))
    assert tallest == pytest.approx(float(_bars(root)[0].get("height", "")))


def test_bars_are_as_long_as_their_values_against_the_maximum() -> None:
    rows = [("General", 100.0), ("Billing", 50.0), ("Refunds", 12.5), ("Empty", 0.0)]
    root = _parse(bars_svg("Answered within 30 s", rows, "%", maximum=100))
    bars = _bars(root)
    widths = [float(b.get("width", "")) for b in bars]
    full = widths[0]
    assert full > 0
    assert widths[1] == pytest.approx(full / 2, abs=0.02)
    assert widths[2] == pytest.approx(full / 8, abs=0.02)
    assert widths[3] == 0
    text = "".join(root.itertext())
    assert "50 %" in text and "12.5 %" in text


def test_bars_scale_to_a_round_maximum_and_clamp_bad_values() -> None:
    root = _parse(
        bars_svg("Waiting", [("a", 30.0), ("b", 75.0), ("c", -5.0), ("d", math.inf)], "s")
    )
    widths = [float(b.get("width", "")) for b in _bars(root)]
    # 75 is drawn against 100, the round number above it: a is 30 % of the axis, b 75 %.
    assert widths[0] / widths[1] == pytest.approx(30 / 75, abs=0.001)
    assert widths[2] == 0 and widths[3] == 0
    # A value beyond an explicit maximum is drawn at the maximum.
    capped = _bars(_parse(bars_svg("x", [("a", 150.0), ("b", 100.0)], "%", maximum=100)))
    assert capped[0].get("width") == capped[1].get("width")


def test_labels_and_titles_are_escaped() -> None:
    hostile = "<script>alert(\"x\")</script> & 'quoted'"
    for svg in (
        histogram_svg(hostile, [(hostile, 2)]),
        bars_svg(hostile, [(hostile, 1.0)], "<b>"),
    ):
        assert "<script>" not in svg and "<b>" not in svg
        root = _parse(svg)
        assert root.find(f"{SVG}title") is not None
        assert root.find(f"{SVG}title").text == hostile  # type: ignore[union-attr]
        assert _bars(root)[0].get("data-label") == hostile


def test_long_labels_are_shortened_on_the_chart_and_kept_in_the_tooltip() -> None:
    label = "Priority customers in the north-eastern region"
    root = _parse(bars_svg("t", [(label, 1.0)], ""))
    shown = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert label not in shown
    assert any(s.endswith("…") and label.startswith(s[:-1]) for s in shown)
    tooltip = _bars(root)[0].find(f"{SVG}title")
    assert tooltip is not None and tooltip.text == f"{label}: 1"


def test_no_data_is_said_and_nothing_uses_inline_style() -> None:
    for svg in (histogram_svg("t", [("a", 0), ("b", 0)]), bars_svg("t", [], "%")):
        root = _parse(svg)
        assert "No data" in "".join(root.itertext())
        # The console's CSP has no 'unsafe-inline' for styles: presentation attributes only.
        assert all("style" not in e.attrib for e in root.iter())
        assert root.find(f"{SVG}style") is None
        assert root.get("viewBox") and root.get("width") and root.get("height")


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (0.3, 0.5), (1, 1), (3, 5), (7, 10), (11, 20), (24, 25), (26, 50), (101, 200)],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_format_value() -> None:
    assert format_value(12.0, "%") == "12 %"
    assert format_value(12.5, "s") == "12.5 s"
    assert format_value(2.0 / 3, "") == "0.7"
    assert format_value(3) == "3"
