"""torch.utils.tensorboard: SummaryWriter writing TensorBoard event files.

Needs the `tensorboard` package (an optional dependency, imported only when this
module is): it supplies the record formats and the event-file writer.
"""
try:
    import tensorboard  # noqa: F401
except ImportError as e:
    raise ImportError("jtorch.utils.tensorboard (torch.utils.tensorboard) needs TensorBoard: "
                      "pip install tensorboard") from e

from .writer import FileWriter, SummaryWriter  # noqa: E402

__all__ = ["FileWriter", "SummaryWriter"]
