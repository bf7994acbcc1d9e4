"""One rank started by `jtorch run --nproc-per-node N`: runs the script as `jtorch run`
does, but a failing rank leaves at once (os._exit). A normal exit would run
jax.distributed's shutdown barrier, which waits for peers that are themselves blocked
in a collective waiting for this rank."""
import os
import sys
import traceback


def main():
    from .._alias import run_script
    try:
        rc = run_script(sys.argv[1], sys.argv[2:])
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            rc = code or 0
        else:
            print(code, file=sys.stderr)
            rc = 1
    except BaseException:   # noqa: BLE001 - any failure ends this rank with status 1
        traceback.print_exc()
        rc = 1
    if rc:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
