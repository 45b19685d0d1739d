"""Plotly charts for agreement and adjudication; each figure's data can be downloaded as CSV.

Chart builders are plain functions (DataFrame in, Figure out) so they can be
checked without a browser; `show` renders one with its download button.
Axes fit the data with 0 marked by a rule (a coefficient can be negative), values are
printed on the marks, dates go on date axes, and tables get readable column names
(`column_config`) while the CSV download keeps the raw ones.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from annotation.csv_cells import dataframe_csv

_HOVER_CI = "%{y:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>clips %{customdata[2]}, raters %{customdata[3]}"


def show(figure: go.Figure, data: pd.DataFrame, *, key: str, filename: str, table: bool = False) -> None:
    """The chart, optionally its numbers as a readable table, and the CSV download (raw columns)."""
    st.plotly_chart(figure, key=f"chart-{key}")
    if table:
        show_table(data, key=f"table-{key}")
    st.download_button(
        "Download data (CSV)", dataframe_csv(data), file_name=filename,
        mime="text/csv", key=f"download-{key}",
    )


# Column names as people read them: (label, number format or None for text, help).
COLUMN_LABELS: dict[str, tuple[str, str | None, str | None]] = {
    "scope": ("Rated", None, None),
    "metric": ("Coefficient", None, None),
    "label": ("Emotion", None, None),
    "aspect": ("Aspect", None, None),
    "annotator": ("Annotator", None, None),
    "value": ("Value", "%.3f", None),
    "ci": ("95% CI", None, "95% percentile bootstrap interval over clips"),
    "ci_low": ("95% CI low", "%.3f", None),
    "ci_high": ("95% CI high", "%.3f", None),
    "n_clips": ("Clips", "%d", None),
    "n_raters": ("Raters", "%d", None),
    "resamples": ("Resamples", "%d", None),
    "confidence": ("Confidence level", "%.2f", None),
    "undefined_resamples": ("Undefined resamples", "%d", "bootstrap resamples where the coefficient is undefined"),
    "user_id": ("User id", "%d", None),
    "submitted": ("Submitted", "%d", None),
    "skipped": ("Skipped", "%d", None),
    "skip_rate": ("Skip rate", "percent", None),
    "median_seconds": ("Median s/clip", "%.0f", None),
    "agreement_with_consensus": ("Agrees with consensus", "percent", None),
    "compared_with_consensus": ("Compared with consensus", "%d", "clips with both their label and a consensus"),
    "dawid_skene_accuracy": ("Dawid–Skene accuracy", "percent", None),
    "week": ("Week of", None, None),
    "n": ("Clips", "%d", None),
    "raw": ("Same-clip similarity", "%.3f", None),
    "raw_low": ("Same-clip 95% CI low", "%.3f", None),
    "raw_high": ("Same-clip 95% CI high", "%.3f", None),
    "chance": ("Chance (different clips)", "%.3f", None),
    "corrected": ("Chance-corrected", "%.3f", None),
    "corrected_low": ("Corrected 95% CI low", "%.3f", None),
    "corrected_high": ("Corrected 95% CI high", "%.3f", None),
    "effort": ("Edit effort", "%.3f", None),
    "effort_low": ("Effort 95% CI low", "%.3f", None),
    "effort_high": ("Effort 95% CI high", "%.3f", None),
    "effort_n_clips": ("Effort clips", "%d", None),
    "rater_a": ("Rater A", None, None),
    "rater_b": ("Rater B", None, None),
    "kappa": ("Cohen's κ", "%.3f", None),
    "rating": ("Rating", "%d", None),
    "count": ("Count", "%d", None),
    "annotator_label": ("Annotator said", None, None),
    "consensus_label": ("Consensus", None, None),
    "distance": ("Distance", None, None),
    "clips_with_words": ("Clips with words", "%d", None),
    "shared_clips": ("Shared clips", "%d", None),
    "masi_alpha_without": ("Krippendorff's α (MASI) without them", "%.3f", None),
    "masi_alpha_change": ("Change in α", "%+.3f",
                          "α without this annotator minus α with everyone: positive means they lower agreement"),
    "mean_masi_to_others": ("Mean MASI to others", "%.3f", None),
    "mean_jaccard_to_others": ("Mean Jaccard to others", "%.3f", None),
}


def column_config(data: pd.DataFrame) -> dict[str, dict]:
    """st.column_config for every column of `data`: readable names, numbers formatted, dates as dates."""
    config: dict[str, dict] = {}
    for column in data.columns:
        label, number, help_text = COLUMN_LABELS.get(
            column, (str(column).replace("_", " ").capitalize(), None, None))
        if pd.api.types.is_datetime64_any_dtype(data[column]):
            config[column] = st.column_config.DateColumn(label, format="YYYY-MM-DD", help=help_text)
        elif number:
            config[column] = st.column_config.NumberColumn(label, format=number, help=help_text)
        else:
            config[column] = st.column_config.TextColumn(label, help=help_text)
    return config


def readable(data: pd.DataFrame) -> pd.DataFrame:
    """A table to read: an interval's two ends become one "95% CI" column."""
    if {"ci_low", "ci_high"} <= set(data.columns):
        ci = ["" if pd.isna(lo) or pd.isna(hi) else f"[{lo:.3f}, {hi:.3f}]"
              for lo, hi in zip(data["ci_low"], data["ci_high"], strict=True)]
        at = list(data.columns).index("ci_low")
        data = data.drop(columns=["ci_low", "ci_high"])
        data.insert(at, "ci", ci)
    return data


def show_table(data: pd.DataFrame, *, key: str, hide: tuple[str, ...] = ()) -> None:
    shown = readable(data.drop(columns=[c for c in hide if c in data.columns]))
    st.dataframe(shown, hide_index=True, key=key, column_config=column_config(shown), width="stretch")


def _number(value: float) -> str:
    """A value as printed on a chart, with a real minus sign."""
    return f"{value:.2f}".replace("-", "−")


def _labels(values: pd.Series, *, percent: bool = False) -> list[str]:
    if percent:
        return ["" if pd.isna(v) else f"{v:.0%}" for v in values]
    return ["" if pd.isna(v) else _number(float(v)) for v in values]


def _fitted_range(*series: pd.Series, pad: float = 0.1) -> list[float]:
    """An axis range that holds every value and 0, with room for the printed values."""
    values = pd.concat([pd.to_numeric(pd.Series(s), errors="coerce") for s in series]).dropna()
    low = min(0.0, float(values.min())) if len(values) else 0.0
    high = max(0.0, float(values.max())) if len(values) else 1.0
    span = (high - low) or 1.0
    return [low - pad * span, high + pad * span]


def _zero_rule(figure: go.Figure) -> None:
    figure.add_hline(y=0, line={"color": "#888", "width": 1}, layer="below")


def _error_bars(df: pd.DataFrame) -> dict:
    return dict(type="data", symmetric=False, array=(df["ci_high"] - df["value"]).tolist(),
                arrayminus=(df["value"] - df["ci_low"]).tolist())


def _interval_range(df: pd.DataFrame) -> list[float]:
    return _fitted_range(df["value"], df["ci_low"], df["ci_high"])


def figures_chart(figures: pd.DataFrame) -> go.Figure:
    """Each coefficient with its bootstrap interval, grouped by what was rated; values printed beside the points."""
    fig = go.Figure()
    for scope, part in figures.groupby("scope", sort=False):
        fig.add_trace(go.Scatter(
            x=part["metric"], y=part["value"], mode="markers+text", name=str(scope), error_y=_error_bars(part),
            text=_labels(part["value"]), textposition="middle right",
            customdata=part[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
            hovertemplate="%{x}<br>" + _HOVER_CI + "<extra>%{fullData.name}</extra>", marker={"size": 11},
        ))
    _zero_rule(fig)
    fig.update_layout(yaxis_title="coefficient (95% CI)", yaxis_range=_interval_range(figures), height=380)
    return fig


def per_label_chart(per_label: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=per_label["label"], y=per_label["value"], error_y=_error_bars(per_label),
        text=_labels(per_label["value"]), textposition="inside", insidetextanchor="start",
        customdata=per_label[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
        hovertemplate="%{x}<br>" + _HOVER_CI + "<extra></extra>",
    ))
    _zero_rule(fig)
    fig.update_layout(yaxis_title="specific (positive) agreement", yaxis_range=_interval_range(per_label), height=340)
    return fig


def pairwise_heatmap(pairwise: pd.DataFrame, scope: str) -> go.Figure:
    part = pairwise[pairwise["scope"] == scope]
    kappa = part.pivot(index="rater_a", columns="rater_b", values="kappa")
    shared = part.pivot(index="rater_a", columns="rater_b", values="n_clips").reindex_like(kappa)
    labels = kappa.map(lambda k: "" if pd.isna(k) else _number(k))  # a rater with itself stays blank
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
                      xaxis_range=[-0.05, 1.08], yaxis_range=[-0.05, 1.1], height=380,
                      xaxis_tickformat=".0%", yaxis_tickformat=".0%")
    return fig


def drift_chart(drift: pd.DataFrame) -> go.Figure:
    """Weekly agreement per annotator on a date axis (ISO dates, so no axis ever shows epoch milliseconds)."""
    fig = go.Figure()
    for annotator, part in drift.groupby("annotator"):
        weeks = [pd.Timestamp(w).strftime("%Y-%m-%d") for w in part["week"]]
        fig.add_trace(go.Scatter(
            x=weeks, y=part["agreement_with_consensus"], mode="lines+markers+text", name=str(annotator),
            text=_labels(part["agreement_with_consensus"], percent=True), textposition="top center",
            customdata=part[["n"]].to_numpy(),
            hovertemplate="week of %{x|%Y-%m-%d}<br>%{y:.1%} on %{customdata[0]} clips<extra>%{fullData.name}</extra>",
        ))
    fig.update_xaxes(type="date", tickformat="%Y-%m-%d", title="week of")
    fig.update_layout(yaxis_title="agreement with consensus", yaxis_range=[-0.05, 1.12], yaxis_tickformat=".0%",
                      height=340)
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
        fig.add_trace(go.Bar(x=part["annotator"], y=part["count"], name=f"{rating}", text=part["count"],
                             textposition="inside",
                             hovertemplate="%{x}: %{y} ratings of " + f"{rating}" + "<extra></extra>"))
    fig.update_layout(barmode="stack", yaxis_title="ratings", legend_title="rating 1–4", height=340)
    return fig


def clue_agreement_chart(clues: pd.DataFrame) -> go.Figure:
    """Same-clip similarity against the different-clip chance baseline, per aspect."""
    raw = clues.rename(columns={"raw": "value", "raw_low": "ci_low", "raw_high": "ci_high"})
    corrected = clues.get("corrected")
    fig = go.Figure([
        go.Bar(x=raw["aspect"], y=raw["value"], name="same clip", error_y=_error_bars(raw),
               text=_labels(raw["value"]), textposition="inside", insidetextanchor="start",
               customdata=raw[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
               hovertemplate="%{x}<br>" + _HOVER_CI + "<extra>same clip</extra>"),
        go.Bar(x=clues["aspect"], y=clues["chance"], name="chance (different clips)",
               text=_labels(clues["chance"]), textposition="inside", insidetextanchor="start",
               hovertemplate="%{x}: %{y:.3f}<extra>chance</extra>"),
        go.Scatter(x=clues["aspect"], y=corrected, name="chance-corrected", mode="markers+text",
                   text=_labels(corrected) if corrected is not None else None, textposition="middle right",
                   marker={"symbol": "diamond", "size": 12},
                   hovertemplate="%{x}: corrected %{y:.3f}<extra></extra>"),
    ])
    _zero_rule(fig)
    fig.update_layout(barmode="group", yaxis_title="mean embedding similarity", height=360,
                      yaxis_range=_fitted_range(raw["value"], raw["ci_low"], raw["ci_high"], clues["chance"],
                                                corrected if corrected is not None else pd.Series(dtype=float)))
    return fig


def model_chart(model: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=model["metric"], y=model["value"], error_y=_error_bars(model),
        text=_labels(model["value"]), textposition="inside", insidetextanchor="start",
        customdata=model[["ci_low", "ci_high", "n_clips", "n_raters"]].to_numpy(),
        hovertemplate="%{x}<br>" + _HOVER_CI + "<extra></extra>",
    ))
    _zero_rule(fig)
    fig.update_layout(yaxis_range=_interval_range(model), height=340)
    return fig


def posterior_chart(posterior: dict[str, float], votes: dict[str, int]) -> go.Figure:
    labels = list(posterior)
    fig = go.Figure(go.Bar(
        x=labels, y=[posterior[k] for k in labels], customdata=[votes.get(k, 0) for k in labels],
        text=[f"{posterior[k]:.2f}" for k in labels], textposition="auto",
        hovertemplate="%{x}: posterior %{y:.2f}, %{customdata} votes<extra></extra>",
    ))
    fig.update_layout(yaxis_range=[0, 1.05], height=240, margin={"t": 10, "b": 10})
    return fig
