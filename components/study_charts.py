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
