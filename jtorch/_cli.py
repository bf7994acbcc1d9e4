"""The `jtorch` command. Subcommands: --version, bench (eager-overhead benchmark)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="jtorch", description="PyTorch's API on JAX.")
    parser.add_argument("--version", action="store_true", help="print jtorch's version")
    sub = parser.add_subparsers(dest="cmd")
    bench = sub.add_parser("bench", help="eager-overhead benchmark vs PyTorch and raw jnp")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions")
    bench.add_argument("--json", default=None, help="write results to this JSON file")
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"jtorch {__version__}")
        return 0
    if args.cmd == "bench":
        from ._bench import run
        run(quick=args.quick, out_json=args.json)
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
