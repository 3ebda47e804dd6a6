"""Benchmark 'ddp' of issue 13 (see brainalign.experiments.bench). Usage: python benchmarks/bench_ddp.py [--quick]"""

import sys

from brainalign.experiments.bench import main

if __name__ == "__main__":
    sys.exit(main(["ddp", *sys.argv[1:]]))
