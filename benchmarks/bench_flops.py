"""Benchmark 'flops' of issue 13 (see brainalign.experiments.bench). Usage: python benchmarks/bench_flops.py [--quick]"""

import sys

from brainalign.experiments.bench import main

if __name__ == "__main__":
    sys.exit(main(["flops", *sys.argv[1:]]))
