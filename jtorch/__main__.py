"""`python -m jtorch ...`: the same as the `jtorch` command."""
import sys

from ._cli import main

sys.exit(main())
