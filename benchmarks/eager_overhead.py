"""Eager-overhead benchmark (same as `jtorch bench --overhead`):
python benchmarks/eager_overhead.py [--quick]"""
import sys

from jtorch._cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--overhead", *sys.argv[1:]]))
