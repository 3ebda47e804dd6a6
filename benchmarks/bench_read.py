"""Benchmark 'read' of issue 13 (see brainalign.experiments.bench). Usage: python benchmarks/bench_read.py [--quick]"""

import sys

from brainalign.experiments.bench import main

if __name__ == "__main__":
    sys.exit(main(["read", *sys.argv[1:]]))
