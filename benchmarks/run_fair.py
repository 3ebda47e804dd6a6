"""Run the fair-protocol tasks of issue 10 (brainalign.experiments.fair) and save their results.

Usage: python benchmarks/run_fair.py [--out results.json] [--data DIR] [TASK ...]
Tasks: the keys of ``brainalign.experiments.fair.FAIR_TASKS`` (all by default). Results
already in ``--out`` are kept and not recomputed. Not a test: the whole set takes about an
hour on two busy CPU cores (features are cached under $BRAINALIGN_CACHE/fair).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*")
    parser.add_argument("--out", default="fair_results.json")
    parser.add_argument("--data", default=os.environ.get("BRAINALIGN_DATA"))
    args = parser.parse_args()

    import torch

    from brainalign.experiments import fair

    torch.set_num_threads(1)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in args.tasks or list(fair.FAIR_TASKS):
        if name in results:
            continue
        fn, kwargs = fair.FAIR_TASKS[name]
        start = time.perf_counter()
        result = fn(**kwargs, data_dir=args.data)
        result["seconds"] = round(time.perf_counter() - start, 1)
        result["call"] = f"{fn.__name__}(**{kwargs!r})"
        results[name] = result
        out.write_text(json.dumps(results, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
        print(f"{name}: done in {result['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
