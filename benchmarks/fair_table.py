"""The fair-protocol table of README.md from a benchmark run's results.json.

Usage: python benchmarks/fair_table.py RUN/results.json
Prints one markdown row per fair task (eegmat_fair*, p300_fair*, smni_fair, smni_condition*): protocol,
normalisation, aligned zero-shot [95 % CI], best classical baseline, the same network
trained on the labels (CE), the shuffled-text control, the zero-shot permutation p, and the
paired bootstrap difference to the best classical baseline.
"""

from __future__ import annotations

import json
import sys
from typing import Any

ROWS = {
    "eegmat_fair": ("eegmat rest vs arithmetic, 30 subj.", "subject-disjoint 5-fold", "calibration block"),
    "eegmat_fair_own_transductive": ("same", "same", "own windows (TRANSDUCTIVE)"),
    "p300_fair_within": ("P300 target vs non-target", "within subject, session-disjoint (1, 3)", "training stats"),
    "p300_fair_loso_subject": ("same", "leave one subject out", "training stats"),
    "smni_fair": ("SMNI alcoholic vs control, per subject", "subject-disjoint 5-fold", "none (subject-level label)"),
    "smni_condition": ("SMNI S1 vs S2, per trial", "subject-disjoint 5-fold", "training stats"),
    "smni_condition_own_transductive": ("same", "same", "own trials (TRANSDUCTIVE)"),
}
CLASSICAL = {"bandpower_lr", "xdawn_ts_lr", "tangent_lr", "erp_lr"}


def _fmt(s: dict[str, Any]) -> str:
    return f"{s['value']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]"


def rows(results: dict[str, Any]) -> list[str]:
    out = [
        "| task | protocol | normalisation | aligned zero-shot [95% CI] | best classical | CE (same network) "
        "| shuffled text | p (zero-shot) | zero-shot - best classical [95% CI], p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (task, protocol, norm) in ROWS.items():
        t = results["tasks"].get(name)
        if t is None:
            continue
        zs = t["metrics"]["zeroshot_text_bacc"]
        best = max(
            ((k, v["balanced_accuracy"]) for k, v in t["baselines"].items() if k in CLASSICAL),
            key=lambda kv: kv[1],
        )
        diffs = next((v for k, v in t["controls"].items() if k.startswith("paired")), {})
        diff = diffs.get(f"zero_shot - {best[0]}")
        diff_s = (
            f"{diff['value']:+.3f} [{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}], {diff['p_value']:.3f}"
            if diff
            else "-"
        )
        out.append(
            f"| {task} | {protocol} | {norm} | {_fmt(zs)} | {best[0]} {best[1]:.3f} | {_fmt(t['metrics']['ce_bacc'])} "
            f"| {_fmt(t['controls']['shuffled_pairing']['zeroshot_text_bacc'])} | {zs['p_value']:.3g} | {diff_s} |"
        )
    return out


if __name__ == "__main__":
    print("\n".join(rows(json.loads(open(sys.argv[1]).read()))))
