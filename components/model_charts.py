"""Charts of model quality: learning curve across versions, confusion matrix heat map, and the
Evaluate page's scores, one chart per scale (0–1 figures and 0–10 clue overlaps never share an axis)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

# The Evaluate page's metric columns: (label, scale). Scale "0–1" are rates; "0–10" the EMER overlaps,
# whose offline proxy puts chance at 0 (so it can dip below).
METRICS: dict[str, tuple[str, str]] = {
    "accuracy": ("Accuracy", "0–1"),
    "weighted_f1": ("Weighted F1", "0–1"),
    "uar": ("UAR", "0–1"),
    "war": ("WAR", "0–1"),
    "wheel_f_level1": ("Wheel F (level 1)", "0–1"),
    "wheel_f_level2": ("Wheel F (level 2)", "0–1"),
    "clue_overlap_proxy": ("Clue overlap (proxy)", "0–10"),
    "clue_overlap": ("Clue overlap (LLM judge)", "0–10"),
    "label_overlap": ("Label overlap (LLM judge)", "0–10"),
}
SCALE_TOP = {"0–1": 1.0, "0–10": 10.0}
_OTHER_COLUMNS = {"system": "System", "clips": "Clips", "labelled": "Labelled clips", "missing": "Missing",
                  "level1_f": "Level-1 F", "level1_precision": "Level-1 precision", "level1_recall": "Level-1 recall",
                  "level2_f": "Level-2 F", "level2_precision": "Level-2 precision", "level2_recall": "Level-2 recall",
                  "mean_f": "Mean F", "hit_rate": "Hit rate", "unmapped": "Not on the wheel"}


def metric_figures(table: pd.DataFrame, *, title: str = "") -> list[tuple[str, go.Figure]]:
    """One grouped bar chart per scale that has data: [("0–1", figure), ("0–10", figure)]."""
    out = []
    for scale in SCALE_TOP:
        columns = [c for c, (_, s) in METRICS.items() if s == scale and c in table.columns
                   and pd.to_numeric(table[c], errors="coerce").notna().any()]
        if not columns:
            continue
        figure = go.Figure()
        values = []
        for _, row in table.iterrows():
            ys = [pd.to_numeric(row[c], errors="coerce") for c in columns]
            values += [v for v in ys if pd.notna(v)]
            figure.add_trace(go.Bar(
                x=[METRICS[c][0] for c in columns], y=ys, name=str(row["system"]),
                text=["" if pd.isna(v) else f"{v:.2f}".replace("-", "−") for v in ys], textposition="outside",
                hovertemplate="%{x}: %{y:.3f}<extra>%{fullData.name}</extra>"))
        top = SCALE_TOP[scale]
        low = min([0.0, *values])
        high = max([top, *values])
        pad = 0.12 * (high - low)
        figure.add_hline(y=0, line={"color": "#888", "width": 1}, layer="below")
        figure.update_layout(barmode="group", height=340, legend={"orientation": "h"},
                             title=f"{title} ({scale})" if title else None,
                             yaxis={"range": [low - (pad if low < 0 else 0), high + pad], "title": f"score, {scale}"},
                             margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
        out.append((scale, figure))
    return out


def metric_column_config(table: pd.DataFrame) -> dict[str, dict]:
    """Readable, formatted columns for a metrics table; the scale is in the name of every 0–10 column."""
    config: dict[str, dict] = {}
    for column in table.columns:
        if column in METRICS:
            label, scale = METRICS[column]
            if scale != "0–1":
                label = label[:-1] + f", {scale})" if label.endswith(")") else f"{label} ({scale})"
            config[column] = st.column_config.NumberColumn(label, format="%.3f")
        elif column in _OTHER_COLUMNS:
            kind = st.column_config.TextColumn if column in ("system", "unmapped") else st.column_config.NumberColumn
            config[column] = kind(_OTHER_COLUMNS[column], **({} if kind is st.column_config.TextColumn
                                                           or column in ("clips", "labelled", "missing")
                                                           else {"format": "%.3f"}))
        else:
            config[column] = st.column_config.Column(str(column).replace("_", " ").capitalize())
    return config


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
