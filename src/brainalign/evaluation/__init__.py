"""brainalign.evaluation: metrics and statistics on embeddings and scores.

Model-independent: everything takes numpy arrays or torch tensors of embeddings,
scores or labels.

* :mod:`~brainalign.evaluation.metrics` - retrieval (recall@k, hit@k, MRR, mAP via
  torchmetrics, deterministic ties), balanced accuracy, AUC.
* :mod:`~brainalign.evaluation.zeroshot` - prompt-ensemble text classifiers, class
  prototypes, zero-shot prediction, seeded N-way top-k identification.
* :mod:`~brainalign.evaluation.probes` - logistic-regression / linear-SVM / kNN probes
  on frozen embeddings and few-shot label-efficiency curves.
* :mod:`~brainalign.evaluation.clustering` - k-means with Hungarian accuracy, NMI, ARI.
* :mod:`~brainalign.evaluation.stats` - chance levels, (clustered) bootstrap intervals,
  permutation p-values, the :class:`Score` record.
"""

from brainalign.evaluation.clustering import cluster_accuracy, kmeans_scores
from brainalign.evaluation.metrics import (
    auc,
    balanced_accuracy,
    cosine_similarity,
    l2_normalize,
    relevance_from_labels,
    retrieval_both_ways,
    retrieval_from_scores,
    retrieval_metrics,
)
from brainalign.evaluation.probes import (
    PROBES,
    few_shot_curve,
    fit_probe,
    probe_scores,
    stratified_subset,
)
from brainalign.evaluation.stats import (
    Score,
    as_array,
    bootstrap_ci,
    chance_level,
    permutation_pvalue,
    score_with_stats,
)
from brainalign.evaluation.zeroshot import (
    build_text_classifier,
    class_prototypes,
    distractor_sets,
    nway_hits,
    nway_topk,
    zero_shot_predict,
    zero_shot_scores,
)

__all__ = [
    "cluster_accuracy",
    "kmeans_scores",
    "auc",
    "balanced_accuracy",
    "cosine_similarity",
    "l2_normalize",
    "relevance_from_labels",
    "retrieval_both_ways",
    "retrieval_from_scores",
    "retrieval_metrics",
    "PROBES",
    "few_shot_curve",
    "fit_probe",
    "probe_scores",
    "stratified_subset",
    "Score",
    "as_array",
    "bootstrap_ci",
    "chance_level",
    "permutation_pvalue",
    "score_with_stats",
    "build_text_classifier",
    "class_prototypes",
    "distractor_sets",
    "nway_hits",
    "nway_topk",
    "zero_shot_predict",
    "zero_shot_scores",
]
