"""Charts for study results."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.vocabulary import REASONING_RATINGS


def means_with_intervals(table: pd.DataFrame, *, labels: dict[str, str] | None = None) -> go.Figure:
    """Mean rating per system with its 95% bootstrap interval as error bars, on the 1–4 EMER scale."""
    labels = labels or {}
    names = [labels.get(s, s) for s in table["system"]]
    figure = go.Figure(go.Bar(
        x=names, y=table["mean"],
        error_y={"type": "data", "symmetric": False, "array": table["ci_high"] - table["mean"],
                 "arrayminus": table["mean"] - table["ci_low"]},
        customdata=table[["ci_low", "ci_high", "n_ratings"]].to_numpy(),
        hovertemplate="%{x}<br>mean %{y:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
                      "<br>%{customdata[2]} ratings<extra></extra>"))
    figure.update_layout(title="Mean reasoning rating with 95% bootstrap interval", height=380,
                         yaxis={"range": [1, 4.1], "tickvals": list(REASONING_RATINGS),
                                "ticktext": [f"{k} {v}" for k, v in REASONING_RATINGS.items()]},
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def strengths_with_intervals(table: pd.DataFrame, *, labels: dict[str, str] | None = None) -> go.Figure:
    """Bradley–Terry log-strength per system with its 95% bootstrap interval, strongest on top."""
    labels = labels or {}
    ordered = table.sort_values("strength")
    names = [labels.get(s, s) for s in ordered["system"]]
    figure = go.Figure(go.Scatter(
        x=ordered["strength"], y=names, mode="markers", marker={"size": 12},
        error_x={"type": "data", "symmetric": False, "array": ordered["ci_high"] - ordered["strength"],
                 "arrayminus": ordered["strength"] - ordered["ci_low"]},
        customdata=ordered[["ci_low", "ci_high", "win_rate", "comparisons"]].to_numpy(),
        hovertemplate="%{y}<br>strength %{x:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
                      "<br>win rate %{customdata[2]:.0%} of %{customdata[3]} comparisons<extra></extra>"))
    figure.add_vline(x=0, line_dash="dot", line_color="grey")
    figure.update_layout(title="Bradley–Terry strength (log scale, mean 0) with 95% bootstrap interval",
                         xaxis_title="strength: a difference of 1 means winning 73% of the time",
                         height=120 + 50 * len(table), margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure
