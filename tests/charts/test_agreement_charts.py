"""Agreement chart builders: axes fit the data with 0 marked, values printed, dates on time axes."""

from __future__ import annotations

import pandas as pd

from components import agreement_charts as charts


def _figures(values, lows, highs) -> pd.DataFrame:
    return pd.DataFrame({
        "scope": ["emotion"] * len(values), "metric": [f"m{i}" for i in range(len(values))], "value": values,
        "ci_low": lows, "ci_high": highs, "n_clips": [10] * len(values), "n_raters": [3] * len(values)})


def _zero_rule(figure) -> bool:
    return any(s.type == "line" and s.y0 == 0 and s.y1 == 0 for s in figure.layout.shapes)


def test_negative_coefficients_are_inside_the_axis_with_zero_marked():
    figure = charts.figures_chart(_figures([-0.45, 0.3], [-0.7, 0.1], [-0.2, 0.5]))
    low, high = figure.layout.yaxis.range
    assert low < -0.7 and high > 0.5
    assert high < 1.0  # the axis fits the data, not a fixed 0..1
    assert _zero_rule(figure)


def test_coefficients_print_their_values_on_the_points():
    figure = charts.figures_chart(_figures([-0.45, 0.3], [-0.7, 0.1], [-0.2, 0.5]))
    trace = figure.data[0]
    assert "text" in trace.mode
    assert list(trace.text) == ["−0.45", "0.30"]


def test_model_and_label_charts_fit_and_print_values():
    frame = _figures([0.9, -0.1], [0.8, -0.3], [0.95, 0.05]).rename(columns={"metric": "label"})
    labels = charts.per_label_chart(frame)
    assert labels.layout.yaxis.range[0] < -0.3 and _zero_rule(labels)
    assert list(labels.data[0].text) == ["0.90", "−0.10"]
    model = charts.model_chart(_figures([0.9, -0.1], [0.8, -0.3], [0.95, 0.05]))
    assert model.layout.yaxis.range[0] < -0.3 and _zero_rule(model)


def test_drift_is_on_a_date_axis_with_values_printed():
    drift = pd.DataFrame({"annotator": ["ann0", "ann0"],
                          "week": [pd.Timestamp("2026-11-02"), pd.Timestamp("2026-11-09")],
                          "agreement_with_consensus": [0.5, 0.75], "n": [4, 4]})
    figure = charts.drift_chart(drift)
    assert figure.layout.xaxis.type == "date"
    xs = list(figure.data[0].x)
    assert all(isinstance(x, str) and x.startswith("2026-11-") for x in xs), xs
    assert list(figure.data[0].text) == ["50%", "75%"]


def test_tables_get_readable_column_names():
    config = charts.column_config(pd.DataFrame(columns=["metric", "value", "ci_low", "ci_high", "n_clips",
                                                        "agreement_with_consensus", "unknown_thing"]))
    assert config["value"]["label"] == "Value"
    assert config["ci_low"]["label"] == "95% CI low"
    assert config["n_clips"]["label"] == "Clips"
    assert config["agreement_with_consensus"]["label"] == "Agrees with consensus"
    assert config["unknown_thing"]["label"] == "Unknown thing"
    alpha = charts.column_config(pd.DataFrame(columns=["masi_alpha_without"]))
    assert "α" in alpha["masi_alpha_without"]["label"]
