"""The `jtorch` command. Subcommands: --version, bench (eager-overhead benchmark),
run (a PyTorch script with `import torch` resolving to jtorch)."""
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
    run = sub.add_parser("run", help="run a PyTorch script with `import torch` as jtorch")
    run.add_argument("script", help="the script to run as __main__")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = parser.parse_args(argv)
    if args.version:
        from . import __jtorch_version__, __version__
        print(f"jtorch {__jtorch_version__} (PyTorch API {__version__})")
        return 0
    if args.cmd == "bench":
        try:
            from benchmarks.eager import run
        except ImportError as exc:
            parser.error(f"jtorch bench needs the repository's benchmarks/ package "
                         f"(pip install -e . from a checkout): {exc}")
        run(quick=args.quick, out_json=args.json)
        return 0
    if args.cmd == "run":
        from ._alias import run_script
        return run_script(args.script, args.args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
