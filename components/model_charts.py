"""Charts of model quality: learning curve across versions, confusion matrix heat map."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st


def learning_curve(points: list[dict[str, Any]]) -> None:
    if not points:
        st.info("No trained version yet: train one to see the learning curve.")
        return
    figure = go.Figure()
    for metric in dict.fromkeys(p["metric"] for p in points):
        rows = [p for p in points if p["metric"] == metric]
        figure.add_trace(go.Scatter(x=[p["version"] for p in rows], y=[p["value"] for p in rows], name=metric,
                                    mode="lines+markers",
                                    customdata=[p["train clips"] for p in rows],
                                    hovertemplate="%{x}: %{y:.3f}<br>%{customdata} training clips<extra>" + metric + "</extra>"))
    figure.update_layout(yaxis={"range": [0, 1], "title": "held-out score"}, xaxis={"title": "version"},
                         height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    st.plotly_chart(figure, use_container_width=True)


def confusion_heatmap(confusion: dict[str, Any] | None, *, title: str = "") -> None:
    if not confusion:
        st.info("This version has no held-out evaluation yet.")
        return
    labels, matrix = confusion["labels"], confusion["matrix"]
    figure = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Blues", text=matrix,
                                  texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    figure.update_layout(title=title or None, xaxis={"title": "predicted"}, yaxis={"title": "consensus", "autorange": "reversed"},
                         height=360, margin={"l": 10, "r": 10, "t": 30 if title else 10, "b": 10})
    st.plotly_chart(figure, use_container_width=True)
