"""Evaluate-page charts: 0–1 and 0–10 metrics on separate axes, values printed, readable names."""

from __future__ import annotations

import pandas as pd

from components import model_charts


def _table() -> pd.DataFrame:
    return pd.DataFrame([
        {"system": "Model v1", "clips": 12, "accuracy": 0.8, "weighted_f1": 0.75, "clue_overlap_proxy": 6.5},
        {"system": "Model v2", "clips": 12, "accuracy": 0.9, "weighted_f1": None, "clue_overlap_proxy": -0.4},
    ])


def test_zero_to_one_and_zero_to_ten_metrics_get_separate_axes():
    figures = model_charts.metric_figures(_table())
    assert [scale for scale, _ in figures] == ["0–1", "0–10"]
    unit, tens = (figure for _, figure in figures)
    unit_metrics = {x for trace in unit.data for x in trace.x}
    ten_metrics = {x for trace in tens.data for x in trace.x}
    assert unit_metrics == {"Accuracy", "Weighted F1"}
    assert ten_metrics == {"Clue overlap (proxy)"}
    assert unit.layout.yaxis.range[1] <= 1.2
    assert tens.layout.yaxis.range[1] >= 6.5 and tens.layout.yaxis.range[0] < -0.4  # negative proxy shown
    assert any(s.type == "line" and s.y0 == 0 for s in tens.layout.shapes)


def test_metric_bars_print_their_values():
    (_, unit), _ = model_charts.metric_figures(_table())
    v1 = next(trace for trace in unit.data if trace.name == "Model v1")
    assert list(v1.text) == ["0.80", "0.75"]
    assert v1.textposition == "outside"


def test_only_scales_with_data_get_a_chart():
    figures = model_charts.metric_figures(_table().drop(columns=["clue_overlap_proxy"]))
    assert [scale for scale, _ in figures] == ["0–1"]


def test_metric_table_names_are_readable():
    config = model_charts.metric_column_config(_table())
    assert config["weighted_f1"]["label"] == "Weighted F1"
    assert config["clue_overlap_proxy"]["label"] == "Clue overlap (proxy, 0–10)"
    assert config["clips"]["label"] == "Clips"
