"""The `jtorch` command. Subcommands: --version, bench (training-step benchmark),
run (a PyTorch script with `import torch` resolving to jtorch)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="jtorch", description="PyTorch's API on JAX.")
    parser.add_argument("--version", action="store_true", help="print jtorch's version")
    sub = parser.add_subparsers(dest="cmd")
    bench = sub.add_parser("bench", help="training-step benchmark: jtorch eager/compiled vs "
                           "flax+optax jax.jit vs PyTorch eager/torch.compile")
    bench.add_argument("--quick", action="store_true", help="the default: few repetitions")
    bench.add_argument("--full", action="store_true", help="more repetitions, all columns")
    bench.add_argument("--workloads", default="W1,W2,W3", help="comma-separated (W1,W2,W3)")
    bench.add_argument("--columns", default=None, help="comma-separated, from jtorch-eager,"
                       "jtorch-compiled,flax,torch-eager,torch-compile (quick default: all "
                       "but torch-compile)")
    bench.add_argument("--json", default=None, help="results file (default bench_results.json)")
    bench.add_argument("--png", default="bench_results.png", help="chart file ('' to skip)")
    bench.add_argument("--overhead", action="store_true",
                       help="instead: per-op eager-overhead benchmark vs PyTorch and raw jnp")
    run = sub.add_parser("run", help="run a PyTorch script with `import torch` as jtorch")
    run.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc_per_node",
                     default=None, help="start this many ranks (torchrun's launcher): "
                     "an int, or auto/cpu/gpu")
    run.add_argument("--nnodes", default="1", help="only 1 (a single machine)")
    run.add_argument("--standalone", action="store_true",
                     help="accepted for torchrun compatibility (always standalone)")
    run.add_argument("--master-addr", "--master_addr", dest="master_addr",
                     default="127.0.0.1", help="the rendezvous host (MASTER_ADDR)")
    run.add_argument("--master-port", "--master_port", dest="master_port", type=int,
                     default=None, help="the rendezvous port (MASTER_PORT; default: a free one)")
    run.add_argument("script", help="the script to run as __main__")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = parser.parse_args(argv)
    if args.version:
        from . import __jtorch_version__, __version__
        print(f"jtorch {__jtorch_version__} (PyTorch API {__version__})")
        return 0
    if args.cmd == "bench":
        try:
            from benchmarks import bench as bench_mod, overhead
        except ImportError as exc:
            parser.error(f"jtorch bench needs the repository's benchmarks/ package "
                         f"(pip install -e . from a checkout): {exc}")
        if args.overhead:
            overhead.run(quick=not args.full, out_json=args.json)
            return 0
        cols = args.columns.split(",") if args.columns else None
        try:
            bench_mod.run(args.workloads.split(","), cols, full=args.full,
                          out_json=args.json or "bench_results.json", out_png=args.png)
        except ValueError as exc:
            parser.error(str(exc))
        return 0
    if args.cmd == "run":
        if args.nnodes not in ("1", "1:1"):
            parser.error("jtorch run: only --nnodes 1 is supported")
        if args.nproc_per_node is not None:
            from .distributed.run import launch
            return launch(args.script, args.args, args.nproc_per_node, args.master_addr,
                          args.master_port)
        from ._alias import run_script
        return run_script(args.script, args.args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
