"""Plotly charts for agreement and adjudication; each figure's data can be downloaded as CSV.

Chart builders are plain functions (DataFrame in, Figure out) so they can be
checked without a browser; `show` renders one with its download button.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from annotation.csv_cells import dataframe_csv

_HOVER_CI = "%{y:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>clips %{customdata[2]}, raters %{customdata[3]}"


def show(figure: go.Figure, data: pd.DataFrame, *, key: str, filename: str) -> None:
    st.plotly_chart(figure, key=f"chart-{key}")
    st.download_button(
        "Download data (CSV)", dataframe_csv(data), file_name=filename,
        mime="text/csv", key=f"download-{key}",
    )


def _error_bars(df: pd.DataFrame) -> dict:
    return dict(type="data", symmetric=False, array=(df["ci_high"] - df["value"]).tolist(),
                arrayminus=(df["value"] - df["ci_low"]).tolist())


def figures_chart(figures: pd.DataFrame) -> go.Figure:
    """Each coefficient with its bootstrap interval, grouped by what was rated."""
    fig = go.Figure()
    for scope, part in figures.groupby("scope", sort=False):
        fig.add_trace(go.Scatter(
            x=part["metric"], y=part["value"], mode="markers", name=str(scope), error_y=_error_bars(part),
            customdata=part[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
            hovertemplate="%{x}<br>" + _HOVER_CI + "<extra>%{fullData.name}</extra>", marker={"size": 11},
        ))
    fig.update_layout(yaxis_title="coefficient (95% CI)", yaxis_range=[-0.2, 1.05], height=380)
    return fig


def per_label_chart(per_label: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=per_label["label"], y=per_label["value"], error_y=_error_bars(per_label),
        customdata=per_label[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
        hovertemplate="%{x}<br>" + _HOVER_CI + "<extra></extra>",
    ))
    fig.update_layout(yaxis_title="specific (positive) agreement", yaxis_range=[0, 1.05], height=340)
    return fig


def pairwise_heatmap(pairwise: pd.DataFrame, scope: str) -> go.Figure:
    part = pairwise[pairwise["scope"] == scope]
    kappa = part.pivot(index="rater_a", columns="rater_b", values="kappa")
    shared = part.pivot(index="rater_a", columns="rater_b", values="n_clips").reindex_like(kappa)
    labels = kappa.map(lambda k: "" if pd.isna(k) else f"{k:.2f}")  # a rater with itself stays blank
    fig = go.Figure(go.Heatmap(
        z=kappa.to_numpy(), x=list(kappa.columns), y=list(kappa.index), customdata=shared.to_numpy(),
        zmin=-1, zmax=1, colorscale="RdBu", text=labels.to_numpy(), texttemplate="%{text}",
        hovertemplate="%{y} × %{x}<br>κ %{z:.3f} on %{customdata} shared clips<extra></extra>",
    ))
    fig.update_layout(height=360)
    fig.update_yaxes(autorange="reversed")
    return fig


def annotator_chart(annotators: pd.DataFrame) -> go.Figure:
    """Agreement with consensus against Dawid-Skene quality; hover adds speed and skip rate."""
    fig = go.Figure(go.Scatter(
        x=annotators["agreement_with_consensus"], y=annotators["dawid_skene_accuracy"], mode="markers+text",
        text=annotators["annotator"], textposition="top center",
        marker={"size": (annotators["submitted"].clip(lower=1) ** 0.5 * 4).clip(8, 40).tolist()},
        customdata=annotators[["submitted", "median_seconds", "skip_rate"]].to_numpy(),
        hovertemplate="%{text}<br>agrees with consensus %{x:.1%}<br>Dawid–Skene accuracy %{y:.1%}"
                      "<br>%{customdata[0]} submitted, median %{customdata[1]:.0f} s, skips %{customdata[2]:.1%}"
                      "<extra></extra>",
    ))
    fig.update_layout(xaxis_title="agreement with consensus", yaxis_title="Dawid–Skene accuracy",
                      xaxis_range=[0, 1.05], yaxis_range=[0, 1.05], height=380)
    return fig


def drift_chart(drift: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for annotator, part in drift.groupby("annotator"):
        fig.add_trace(go.Scatter(
            x=part["week"], y=part["agreement_with_consensus"], mode="lines+markers", name=str(annotator),
            customdata=part[["n"]].to_numpy(),
            hovertemplate="week of %{x|%Y-%m-%d}<br>%{y:.1%} on %{customdata[0]} clips<extra>%{fullData.name}</extra>",
        ))
    fig.update_layout(yaxis_title="agreement with consensus", yaxis_range=[0, 1.05], height=340)
    return fig


def confusion_heatmap(confusion: pd.DataFrame) -> go.Figure:
    table = confusion.pivot_table(index="annotator_label", columns="consensus_label", values="count",
                                  aggfunc="sum", fill_value=0)
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=list(table.columns), y=list(table.index), colorscale="Blues",
        text=table.to_numpy(), texttemplate="%{text}",
        hovertemplate="annotators said %{y}<br>consensus %{x}<br>%{z} labels<extra></extra>",
    ))
    fig.update_layout(xaxis_title="consensus", yaxis_title="annotator", height=380)
    fig.update_yaxes(autorange="reversed")
    return fig


def rating_distribution(ratings: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for rating, part in ratings.groupby("rating"):
        fig.add_trace(go.Bar(x=part["annotator"], y=part["count"], name=f"{rating}",
                             hovertemplate="%{x}: %{y} ratings of " + f"{rating}" + "<extra></extra>"))
    fig.update_layout(barmode="stack", yaxis_title="ratings", legend_title="rating 1–4", height=340)
    return fig


def clue_agreement_chart(clues: pd.DataFrame) -> go.Figure:
    """Same-clip similarity against the different-clip chance baseline, per aspect."""
    raw = clues.rename(columns={"raw": "value", "raw_low": "ci_low", "raw_high": "ci_high"})
    fig = go.Figure([
        go.Bar(x=raw["aspect"], y=raw["value"], name="same clip", error_y=_error_bars(raw),
               customdata=raw[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
               hovertemplate="%{x}<br>" + _HOVER_CI + "<extra>same clip</extra>"),
        go.Bar(x=clues["aspect"], y=clues["chance"], name="chance (different clips)",
               hovertemplate="%{x}: %{y:.3f}<extra>chance</extra>"),
        go.Scatter(x=clues["aspect"], y=clues.get("corrected"), name="chance-corrected", mode="markers",
                   marker={"symbol": "diamond", "size": 12},
                   hovertemplate="%{x}: corrected %{y:.3f}<extra></extra>"),
    ])
    fig.update_layout(barmode="group", yaxis_title="mean embedding similarity", height=360)
    return fig


def model_chart(model: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=model["metric"], y=model["value"], error_y=_error_bars(model),
        customdata=model[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
        hovertemplate="%{x}<br>" + _HOVER_CI + "<extra></extra>",
    ))
    fig.update_layout(yaxis_range=[0, 1.05], height=340)
    return fig


def posterior_chart(posterior: dict[str, float], votes: dict[str, int]) -> go.Figure:
    labels = list(posterior)
    fig = go.Figure(go.Bar(
        x=labels, y=[posterior[k] for k in labels], customdata=[votes.get(k, 0) for k in labels],
        hovertemplate="%{x}: posterior %{y:.2f}, %{customdata} votes<extra></extra>",
    ))
    fig.update_layout(yaxis_range=[0, 1], height=240, margin={"t": 10, "b": 10})
    return fig
