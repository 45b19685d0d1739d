"""Inter-annotator agreement: coefficients with bootstrap intervals, and agreement of free-text clues."""

from annotation.agreement.bootstrap import (
    Estimate,
    bootstrap_replicates,
    estimate,
    resample_weights,
)
from annotation.agreement.coefficients import (
    Level,
    Weights,
    agreement_estimate,
    cohen_kappa_matrix,
    encode,
    fleiss_kappa,
    gwet_ac,
    krippendorff_alpha,
    mean_pairwise_cohen_estimate,
    positive_agreement,
    positive_agreement_estimates,
    value_counts,
    weight_matrix,
)

__all__ = [
    "Estimate", "Level", "Weights", "agreement_estimate", "bootstrap_replicates", "cohen_kappa_matrix", "encode",
    "estimate", "fleiss_kappa", "gwet_ac", "krippendorff_alpha", "mean_pairwise_cohen_estimate",
    "positive_agreement", "positive_agreement_estimates", "resample_weights", "value_counts", "weight_matrix",
]
