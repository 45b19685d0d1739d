"""Coverage of a dataset's clips: how many have 0, 1, 2, … of the annotations they want, and adjudicated."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from core.vocabulary import Coverage


def coverage_label(row: dict[str, Any]) -> str:
    if row["coverage"] == Coverage.adjudicated.value:
        return "adjudicated"
    return f"{min(row['submitted'], row['wanted'])} of {row['wanted']}"


def coverage_chart(summary: list[dict[str, Any]]) -> go.Figure:
    """Clips per coverage bar (0 of 3 … 3 of 3, adjudicated), split into clips with and without a skip."""
    order: list[str] = []
    counts: dict[tuple[str, bool], int] = {}
    ranked = sorted(summary, key=lambda r: (r["coverage"] == Coverage.adjudicated.value, r["wanted"],
                                            min(r["submitted"], r["wanted"])))
    for row in ranked:
        label = coverage_label(row)
        if label not in order:
            order.append(label)
        counts[(label, True)] = counts.get((label, True), 0) + row["with_skips"]
        counts[(label, False)] = counts.get((label, False), 0) + row["clips"] - row["with_skips"]
    figure = go.Figure()
    for skipped, name, colour in ((False, "no skip", "#4C78A8"), (True, "skipped by someone", "#F58518")):
        ys = [counts.get((label, skipped), 0) for label in order]
        # A part is labelled only where the bar has two parts; the total stands on top of every bar.
        split = [counts.get((label, True), 0) > 0 for label in order]
        figure.add_trace(go.Bar(x=order, y=ys, name=name, marker_color=colour,
                                text=[str(y) if y and two else "" for y, two in zip(ys, split, strict=True)],
                                textposition="inside", insidetextanchor="middle", textangle=0,
                                hovertemplate="%{x}: %{y} clips<extra>" + name + "</extra>"))
    totals = [sum(counts.get((label, s), 0) for s in (True, False)) for label in order]
    figure.add_trace(go.Scatter(x=order, y=totals, mode="text", text=[str(t) for t in totals],
                                textposition="top center", showlegend=False, hoverinfo="skip"))
    figure.update_layout(barmode="stack", height=320, xaxis={"title": "submitted annotations of those wanted",
                                                             "type": "category"},
                         yaxis={"title": "clips", "range": [0, max(totals, default=1) * 1.15 or 1]},
                         legend={"orientation": "h"}, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure
