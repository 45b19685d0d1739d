"""Model work as background jobs: extract-features, predict, train, evaluate."""

from __future__ import annotations

from typing import Any

from annotation.datasets import HELD_OUT_SPLIT
from annotation.formats.jobs import reference_clip_ids, score_systems
from annotation.jobs import enqueue, get_job
from core.jobs import JobContext, job
from core.vocabulary import Role
from model.inference import extract_dataset_features, missing_predictions, predict_dataset
from model.training import evaluate_version, promote, train_version

# Researchers run models (DESIGN: roles); leads manage retraining. Admins hold every role.
MODEL_ROLES = (Role.lead, Role.researcher)


@job("extract-features", roles=MODEL_ROLES)
def extract_features_job(ctx: JobContext, *, dataset_id: int, clip_ids: list[int] | None = None) -> dict[str, Any]:
    return extract_dataset_features(dataset_id=dataset_id, clip_ids=clip_ids, progress=ctx)


@job("predict", roles=MODEL_ROLES)
def predict_job(ctx: JobContext, *, dataset_id: int, model_version_id: int | None = None,
                clip_ids: list[int] | None = None, unlabelled_only: bool = False,
                held_out: bool = False) -> dict[str, Any]:
    # A retried job skips the clips it predicted before it stopped (not those of earlier jobs).
    row = get_job(ctx.job_id)
    return predict_dataset(dataset_id=dataset_id, version_id=model_version_id, clip_ids=clip_ids,
                           unlabelled_only=unlabelled_only, held_out=held_out,
                           resume_since=row.created_at if row else None, progress=ctx)


# Scoring that includes model versions: on the held-out split each version first predicts the held-out
# clips it has no prediction for, so every version is compared on the same clips.
EVALUATE_MODELS_KIND = "evaluate-models"


@job(EVALUATE_MODELS_KIND, roles=MODEL_ROLES)
def evaluate_models_job(ctx: JobContext, *, dataset_id: int, reference: str, systems: list[str],
                        split: str | None = None, use_judge: bool = False) -> dict[str, Any]:
    predicted: dict[str, int] = {}
    if split == HELD_OUT_SPLIT:
        clip_ids = reference_clip_ids(dataset_id=dataset_id, reference=reference, split=split)
        for system in systems:
            if not system.startswith("model:"):
                continue
            version_id = int(system.split(":", 1)[1])
            missing = missing_predictions(version_id=version_id, clip_ids=clip_ids)
            if missing:
                ctx.log(f"{system}: predicting {len(missing)} held-out clip(s) it has no prediction for")
                result = predict_dataset(dataset_id=dataset_id, version_id=version_id, clip_ids=missing)
                predicted[system] = int(result["predicted"])
    scored = score_systems(ctx, dataset_id=dataset_id, reference=reference, systems=systems, split=split,
                           use_judge=use_judge)
    return {**scored, "predicted": predicted}


@job("train", roles=MODEL_ROLES)
def train_job(ctx: JobContext, *, dataset_id: int, backend: str | None = None,
              parent_id: int | None = None) -> dict[str, Any]:
    version = train_version(dataset_id=dataset_id, user=ctx.acting_user(), backend_name=backend, parent_id=parent_id,
                            progress=ctx)
    return {"model_version_id": version.id, "model_version": version.name,
            "weighted_f1": version.metrics.get("held_out", {}).get("weighted_f1")}


@job("evaluate", roles=MODEL_ROLES)
def evaluate_job(ctx: JobContext, *, model_version_id: int, dataset_id: int | None = None) -> dict[str, Any]:
    ctx.set_total(1)
    metrics = evaluate_version(version_id=model_version_id, user=ctx.acting_user(), dataset_id=dataset_id)
    ctx.advance(message="evaluated")
    return {"model_version_id": model_version_id, "weighted_f1": metrics["evaluation"].get("weighted_f1")}


def promote_and_repredict(*, version_id: int, user: Any, confirm: bool = False) -> dict[str, Any]:
    """Promote a version (lead only) and queue re-prediction of its dataset's unlabelled clips.

    Raises PromotionNotBetter when the version is not better than the active one and `confirm` is not given.
    """
    result = promote(version_id=version_id, user=user, confirm=confirm)
    job_id = enqueue("predict", params=result["repredict"], user=user) if result["repredict"] else None
    return {"model_version_id": result["model_version_id"], "repredict_job_id": job_id}
