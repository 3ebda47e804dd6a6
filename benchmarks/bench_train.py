"""Benchmark 'train' of issue 13 (see brainalign.experiments.bench). Usage: python benchmarks/bench_train.py [--quick]"""

import sys

from brainalign.experiments.bench import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
