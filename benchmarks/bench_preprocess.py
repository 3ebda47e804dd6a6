"""Benchmark 'preprocess' of issue 13 (see brainalign.experiments.bench). Usage: python benchmarks/bench_preprocess.py [--quick]"""

import sys

from brainalign.experiments.bench import main

if __name__ == "__main__":
    sys.exit(main(["preprocess", *sys.argv[1:]]))
