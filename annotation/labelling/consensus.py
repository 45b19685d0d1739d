"""Consensus proposals from several annotations of one clip.

- Emotion: Dawid-Skene (crowd-kit) over a whole dataset gives each clip a
  posterior and each annotator a confusion matrix and a quality score;
  majority vote (vote shares as the posterior) is the simple alternative.
- Reasoning rating: the median as a scale point (ordinal: lower median) and
  the interquartile range as its spread.
- Clues, per aspect: an extractive merge. Annotators' clues are split into
  sentences (and ；/; clauses), clustered by embedding similarity of their
  subject-normalised form ("he", "she" -> "the person"; 他/她 -> 此人); a
  cluster survives when more than half the annotators wrote a sentence in it.
  One annotator's sentence stands for it exactly as written (the most central,
  preferring one that already names "the person"/此人), duplicates removed,
  in the annotators' order. Identical clues merge to themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from annotation.text import detect_language, sentence_spans
from core.vocabulary import ConsensusMethod

Embed = Callable[[Sequence[str]], np.ndarray]
DEFAULT_CLUE_SIMILARITY = 0.6


# --- emotion -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    clip: Hashable
    annotator: Hashable
    label: str


@dataclass(frozen=True)
class EmotionConsensus:
    label: str
    posterior: dict[str, float]  # over the label set, sums to 1
    votes: dict[str, int]
    method: str  # a ConsensusMethod value

    @property
    def confidence(self) -> float:
        return self.posterior.get(self.label, 0.0)


@dataclass(frozen=True)
class AnnotatorQuality:
    annotator: Hashable
    # Expected share of correct labels: sum over true classes of prior * P(says it | it is).
    accuracy: float
    # P(observed label | true label): rows observed, columns true, over the label set.
    confusion: pd.DataFrame
    n_labels: int


@dataclass(frozen=True)
class DawidSkeneResult:
    clips: dict[Hashable, EmotionConsensus]
    annotators: dict[Hashable, AnnotatorQuality]
    priors: dict[str, float]

    def consensus_for(self, clip: Hashable, votes: Sequence[Vote]) -> EmotionConsensus | None:
        """The clip's consensus from its votes as they are now: the fitted one when the votes are those the
        model saw, else one E-step with the fitted priors and confusions (a vote that came after the fit
        costs no refit). None when a vote's annotator or label is unknown to the model."""
        counts = dict(Counter(v.label for v in votes))
        if clip in self.clips and self.clips[clip].votes == counts:
            return self.clips[clip]
        labels = list(self.priors)
        if not votes or any(v.annotator not in self.annotators or v.label not in self.priors for v in votes):
            return None
        with np.errstate(divide="ignore"):
            loglik = np.log2(np.maximum(np.array([self.priors[label] for label in labels]), _EPS))
            for vote in votes:
                row = self.annotators[vote.annotator].confusion.loc[vote.label].to_numpy()
                if not row.any():  # the annotator never gave this label: the model cannot weigh it
                    return None
                loglik = loglik + np.log2(np.maximum(row, _EPS))
        scaled = np.exp2(loglik - loglik.max())
        posterior = scaled / scaled.sum()
        return EmotionConsensus(labels[int(np.argmax(posterior))],
                                {label: float(p) for label, p in zip(labels, posterior, strict=True)},
                                counts, ConsensusMethod.dawid_skene.value)


def _labels_in(votes: Sequence[Vote], label_set: Sequence[str]) -> list[str]:
    """The label set, plus any open-vocabulary labels seen, in a stable order."""
    extra = sorted({v.label for v in votes} - set(label_set))
    return list(label_set) + extra


def majority_vote(votes: Sequence[Vote], label_set: Sequence[str]) -> dict[Hashable, EmotionConsensus]:
    """Most frequent label per clip; ties go to the label listed first in the label set."""
    labels = _labels_in(votes, label_set)
    order = {label: i for i, label in enumerate(labels)}
    by_clip: dict[Hashable, Counter] = {}
    for vote in votes:
        by_clip.setdefault(vote.clip, Counter())[vote.label] += 1
    out = {}
    for clip, counts in by_clip.items():
        total = sum(counts.values())
        winner = min(counts, key=lambda label: (-counts[label], order[label]))
        posterior = {label: counts.get(label, 0) / total for label in labels}
        out[clip] = EmotionConsensus(winner, posterior, dict(counts), ConsensusMethod.majority.value)
    return out


_EPS = 1e-10  # crowd-kit's floor for probabilities


class _LazyClips(Mapping):
    """Clip id -> EmotionConsensus, built on access from the fitted arrays (a dataset has 100k clips)."""

    def __init__(self, clips: list, probas: np.ndarray, counts: np.ndarray, labels: list[str]):
        self._index = {clip: i for i, clip in enumerate(clips)}
        self._probas, self._counts, self._labels = probas, counts, labels
        self._best: np.ndarray | None = None  # every clip's most likely label, found once when first asked

    def __getitem__(self, clip: Hashable) -> EmotionConsensus:
        i = self._index[clip]
        row = self._probas[i]
        posterior = {label: float(p) for label, p in zip(self._labels, row, strict=True)}
        votes = {label: int(n) for label, n in zip(self._labels, self._counts[i], strict=True) if n}
        # Ties in the posterior go to the label listed first, as in majority vote.
        return EmotionConsensus(self._labels[int(np.argmax(row))], posterior, votes,
                                ConsensusMethod.dawid_skene.value)

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, clip: object) -> bool:
        return clip in self._index

    def best(self, clip: Hashable) -> tuple[str, float] | None:
        """(label, posterior) of the clip's most likely label, without building the whole consensus."""
        i = self._index.get(clip)
        if i is None:
            return None
        if self._best is None:
            self._best = np.argmax(self._probas, axis=1)
        best = int(self._best[i])
        return self._labels[best], float(self._probas[i, best])


def dawid_skene(
    votes: Sequence[Vote], label_set: Sequence[str], *, n_iter: int = 100, tol: float = 1e-5
) -> DawidSkeneResult:
    """Dawid-Skene EM over all votes of a dataset, vectorised (300k votes in well under a second).

    The same algorithm as crowd-kit's `DawidSkene` (majority-vote start; M-step
    confusions floored at 1e-10 over the labels each annotator used; E-step in
    log2; stop when the evidence lower bound per vote gains less than `tol`),
    which the tests check it against; crowd-kit's pandas joins take a minute at
    100k clips.
    """
    if not votes:
        raise ValueError("Dawid-Skene needs at least one vote")
    labels = _labels_in(votes, label_set)
    clips, task = _numbered(v.clip for v in votes)
    workers, worker = _numbered(v.annotator for v in votes)
    seen, observed = _numbered(v.label for v in votes)
    if len(np.unique(task * len(workers) + worker)) != len(votes):
        raise ValueError("an annotator voted twice on the same clip")
    n_tasks, n_workers, k = len(clips), len(workers), len(seen)

    counts = np.zeros((n_tasks, k))
    np.add.at(counts, (task, observed), 1.0)
    used = np.zeros((n_workers, k), dtype=bool)
    used[worker, observed] = True

    # Votes as a clip × (annotator, said) count matrix: both EM steps become one sparse product.
    from scipy.sparse import csr_matrix

    cell = worker * k + observed
    said = csr_matrix((np.ones(len(votes)), (task, cell)), shape=(n_tasks, n_workers * k))
    said_t = said.T.tocsr()

    def m_step(probas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Confusions (worker, said, truth), and the expected counts they were normalised from."""
        expected = np.asarray(said_t @ probas).reshape(n_workers, k, k)
        errors = np.where(used[:, :, None], np.maximum(expected, _EPS), 0.0)
        return errors / errors.sum(axis=1, keepdims=True), expected

    def e_step(priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            per_cell = np.log2(errors.reshape(n_workers * k, k))
        per_cell[~np.isfinite(per_cell)] = 0.0  # cells nobody used: never multiplied by a vote
        loglik = np.asarray(said @ per_cell) + np.log2(np.maximum(priors, _EPS))
        scaled = np.exp2(loglik - loglik.max(axis=1, keepdims=True))
        return scaled / scaled.sum(axis=1, keepdims=True)

    def lower_bound(probas: np.ndarray, priors: np.ndarray, errors: np.ndarray, expected: np.ndarray) -> float:
        # Sum over votes of E_probas[log P(said | truth) + log prior]: grouped by (annotator, said) cell, the
        # per-vote weights are the M-step's expected counts.
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(used[:, :, None], np.log(errors), 0.0) + np.log(np.maximum(priors, _EPS))
        joint = float((np.where(used[:, :, None], expected, 0.0) * logs).sum())
        clipped = np.maximum(probas, _EPS)
        return joint - float((np.log(clipped) * clipped).sum())

    probas = counts / counts.sum(axis=1, keepdims=True)
    priors = probas.mean(axis=0)
    errors, _ = m_step(probas)
    loss = -np.inf
    for _ in range(n_iter):
        probas = e_step(priors, errors)
        priors = probas.mean(axis=0)
        errors, expected = m_step(probas)
        new_loss = lower_bound(probas, priors, errors, expected) / len(votes)
        if new_loss - loss < tol:
            break
        loss = new_loss
    probas = np.maximum(probas, _EPS)  # as crowd-kit leaves them

    # Onto the full label set (labels nobody used get 0), rows summing to 1.
    column = {label: i for i, label in enumerate(labels)}
    where = [column[label] for label in seen]
    full = np.zeros((n_tasks, len(labels)))
    full[:, where] = probas
    full /= full.sum(axis=1, keepdims=True)
    full_counts = np.zeros((n_tasks, len(labels)))
    full_counts[:, where] = counts
    full_priors = np.zeros(len(labels))
    full_priors[where] = priors

    annotators = {}
    per_worker = np.bincount(worker, minlength=n_workers)
    for w, name in enumerate(workers):
        matrix = np.zeros((len(labels), len(labels)))
        matrix[np.ix_(where, where)] = errors[w]
        confusion = pd.DataFrame(matrix, index=labels, columns=labels)
        accuracy = float(sum(full_priors[i] * matrix[i, i] for i in range(len(labels))))
        annotators[name] = AnnotatorQuality(name, accuracy, confusion, int(per_worker[w]))
    return DawidSkeneResult(_LazyClips(clips, full, full_counts, labels), annotators,
                            {label: float(full_priors[i]) for i, label in enumerate(labels)})


def _numbered(values: Iterable[Hashable]) -> tuple[list, np.ndarray]:
    """The distinct values in order of first appearance, and each value's number."""
    index, distinct = pd.factorize(pd.Series(list(values), dtype=object))
    return list(distinct), index.astype(np.int64)


# --- rating --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingConsensus:
    median: float  # a scale point (lower median)
    spread: float  # interquartile range, in scale points
    n: int
    counts: dict[int, int]


def rating_consensus(ratings: Sequence[int | None]) -> RatingConsensus | None:
    """Ordinal summary of 1-4 reasoning ratings; None when nobody rated."""
    given = np.array([r for r in ratings if r is not None], dtype=np.float64)
    if len(given) == 0:
        return None
    q1, median, q3 = np.percentile(given, [25, 50, 75], method="inverted_cdf")
    counts = Counter(int(r) for r in given)
    return RatingConsensus(float(median), float(q3 - q1), len(given), dict(sorted(counts.items())))


# --- clues ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClueSentence:
    annotator: Hashable
    text: str  # exactly as the annotator wrote it: clue[span[0]:span[1]]
    position: float  # 0 first sentence .. 1 last, within the annotator's clue
    index: int = 0  # the sentence's number within the annotator's clue
    span: tuple[int, int] = (0, 0)


@dataclass
class ClueCluster:
    sentences: list[ClueSentence]
    representative: str  # one member's text, byte for byte
    support: int  # distinct annotators
    cohesion: float  # mean similarity of members to the representative
    chosen: ClueSentence | None = None  # the member whose text is the representative


@dataclass
class MergedClue:
    text: str
    kept: list[ClueCluster] = field(default_factory=list)
    dropped: list[ClueCluster] = field(default_factory=list)
    n_annotators: int = 0

    @property
    def has_majority(self) -> bool:
        return bool(self.kept)


_EN_SUBJECT = re.compile(r"^(?:he|she|the (?:person|man|woman|speaker|character|subject))\b", re.IGNORECASE)
_EN_POSSESSIVE = re.compile(r"^(?:his|her)\b", re.IGNORECASE)
_ZH_SUBJECT = re.compile(r"^(?:他|她|此人|这个人|该人|这个男人|这个女人)")
# A sentence that already ends (closing brackets or quotes after the mark allowed).
_ENDED = re.compile(r"[.!?。！？；;…][\"'”’」』）)\]】]*$")
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def normalise_subject(sentence: str) -> str:
    """One subject for the person in the clip: "The person" / "The person's"; Chinese 此人 / 此人的."""
    sentence = sentence.strip()
    if detect_language(sentence) == "zh":
        sentence = re.sub(r"^(?:他的|她的)", "此人的", sentence)
        return _ZH_SUBJECT.sub("此人", sentence, count=1)
    sentence = _EN_SUBJECT.sub("The person", sentence, count=1)
    return _EN_POSSESSIVE.sub("The person's", sentence, count=1)


def _default_embed(texts: Sequence[str]) -> np.ndarray:
    from annotation.agreement.clues import default_embed

    return default_embed(texts)


def _cluster(similarity: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage clusters whose members are on average at least `threshold` alike."""
    if len(similarity) == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1.0 - threshold
    )
    return model.fit_predict(distance)


def _representative(members: np.ndarray, sentences: Sequence[ClueSentence], sim: np.ndarray) -> int:
    """The most central member, preferring one whose subject is already "the person"/此人; earliest on ties."""
    centrality = np.round(sim[np.ix_(members, members)].sum(axis=1), 6)
    neutral = [k for k, i in enumerate(members) if normalise_subject(sentences[i].text) == sentences[i].text]
    pool = neutral or range(len(members))
    return int(members[max(pool, key=lambda k: (centrality[k], -k))])


def _in_annotators_order(kept: list[ClueCluster], first: dict[int, tuple[int, int]],
                         sequences: list[list[int]]) -> list[ClueCluster]:
    """Kept clusters in the order the annotators wrote them.

    Each annotator who wrote two clusters votes for their order; the next cluster is the one that
    the fewest votes place after another remaining cluster, then the one written first (reading
    the annotators' clues one after another). Any two kept clusters share an annotator (both have
    a majority), so when the annotators agree on an order this is that order.
    """
    before = np.zeros((len(kept), len(kept)), dtype=int)  # before[a, b]: votes for a ahead of b
    for sequence in sequences:
        for x, a in enumerate(sequence):
            for b in sequence[x + 1:]:
                if a != b:
                    before[a, b] += 1
    remaining = list(range(len(kept)))
    ordered = []
    while remaining:
        nxt = min(remaining, key=lambda b: (int(before[remaining, b].sum()), first[b]))
        ordered.append(kept[nxt])
        remaining.remove(nxt)
    return ordered


def merge_sentences(clues: Iterable[str]) -> list[str]:
    """The sentences `merge_clues` embeds for these clues (subject-normalised), to embed them ahead in one batch."""
    return [normalise_subject(text[start:end]) for text in clues if text
            for start, end in sentence_spans(text)]


def merge_clues(
    clues: Mapping[Hashable, str],
    *,
    embed: Embed | None = None,
    similarity: float = DEFAULT_CLUE_SIMILARITY,
) -> MergedClue:
    """Extractive merge of several annotators' clues for one aspect of one clip.

    `clues` maps annotator -> clue text (empty means the annotator saw no evidence and
    so supports nothing). A cluster is kept when more than half of all annotators wrote
    a sentence in it. Every sentence of the result is one annotator's sentence byte for
    byte; sentences that followed each other in one clue keep the whitespace between them,
    others are joined by a space (nothing in Chinese), with a full stop added between
    only when a clue's last sentence has none. When all clues are the same (after
    stripping), the result is that clue.
    """
    if not 0 < similarity < 1:
        raise ValueError("similarity threshold must lie strictly between 0 and 1")
    n_annotators = len(clues)
    texts = {annotator: text or "" for annotator, text in clues.items()}
    sentences: list[ClueSentence] = []
    for annotator, text in texts.items():
        spans = sentence_spans(text)
        for i, (start, end) in enumerate(spans):
            sentences.append(ClueSentence(annotator, text[start:end], i / max(1, len(spans) - 1), i, (start, end)))
    if not sentences:
        return MergedClue("", n_annotators=n_annotators)

    vectors = (embed or _default_embed)([normalise_subject(s.text) for s in sentences])
    sim = vectors @ vectors.T
    labels = _cluster(sim, similarity)

    annotator_order = {annotator: k for k, annotator in enumerate(texts)}
    clusters: list[ClueCluster] = []
    first: dict[int, tuple[int, int]] = {}
    cluster_of = np.zeros(len(sentences), dtype=int)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = _representative(members, sentences, sim)
        cluster_of[members] = len(clusters)
        first[len(clusters)] = min((annotator_order[sentences[i].annotator], sentences[i].index) for i in members)
        clusters.append(ClueCluster(
            sentences=[sentences[i] for i in members],
            representative=sentences[centre].text,
            support=len({sentences[i].annotator for i in members}),
            cohesion=float(sim[centre, members].mean()),
            chosen=sentences[centre],
        ))
    by_first = sorted(range(len(clusters)), key=first.__getitem__)
    kept_ids = [k for k in by_first if clusters[k].support * 2 > n_annotators]
    dropped = [clusters[k] for k in by_first if clusters[k].support * 2 <= n_annotators]
    position = {k: x for x, k in enumerate(kept_ids)}
    sequences = [[position[cluster_of[i]] for i, s in enumerate(sentences)
                  if s.annotator == annotator and cluster_of[i] in position] for annotator in texts]
    kept = _in_annotators_order([clusters[k] for k in kept_ids], {position[k]: first[k] for k in kept_ids},
                                sequences)

    distinct = {text.strip() for text in texts.values()}
    if len(distinct) == 1:
        return MergedClue(distinct.pop(), kept, dropped, n_annotators)

    language = detect_language(" ".join(s.text for s in sentences))
    joiner, stop = ("", "。") if language == "zh" else (" ", ".")
    out = ""
    previous: ClueSentence | None = None
    seen: set[str] = set()
    for cluster in kept:
        key = _PUNCT.sub("", normalise_subject(cluster.representative).casefold())
        if key in seen:
            continue
        seen.add(key)
        current = cluster.chosen
        if previous is None:
            out = current.text
        elif current.annotator == previous.annotator and current.index == previous.index + 1:
            out += texts[current.annotator][previous.span[1]:current.span[0]] + current.text
        else:
            out += ("" if _ENDED.search(previous.text) else stop) + joiner + current.text
        previous = current
    return MergedClue(out, kept, dropped, n_annotators)
