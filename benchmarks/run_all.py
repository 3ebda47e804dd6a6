"""Every benchmark of issue 13 in one run, then the whole table (Markdown).
Usage: python benchmarks/run_all.py [--quick] [NAME ...]"""

import sys

from brainalign.experiments.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
