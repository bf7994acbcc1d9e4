"""torch.utils.tensorboard's SummaryWriter and FileWriter over TensorBoard's event writer.

Events go through `tensorboard.summary.writer.event_file_writer.EventFileWriter` (the
same maintained writer PyTorch uses: a queue drained by a thread, flushed every
`flush_secs`), so files are TensorBoard's own `events.out.tfevents.*` records.
"""
from __future__ import annotations

import os
import time

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import summary as _s

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """Writes Events (summaries, graphs) into one event file under `log_dir`."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs,
                                            filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_profile, walltime=None):
        graph_def, run_metadata = graph_profile
        self.add_event(Event(graph_def=graph_def.SerializeToString()), None, walltime)
        if run_metadata is not None:
            from tensorboard.compat.proto.event_pb2 import TaggedRunMetadata
            trm = TaggedRunMetadata(tag="step1", run_metadata=run_metadata.SerializeToString())
            self.add_event(Event(tagged_run_metadata=trm), None, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()

    def reopen(self):
        self.event_writer.reopen()


class SummaryWriter:
    """Logs scalars, histograms, images, text, hparams and the model graph for TensorBoard.

    log_dir defaults to runs/<Mon>DD_HH-MM-SS_<hostname><comment>, as torch's does.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        if not log_dir:
            import socket
            from datetime import datetime
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()

    def _get_file_writer(self):
        """The default FileWriter, created again after close()."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # TensorBoard drops the events at or after this step from earlier runs
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def _add(self, summary, global_step, walltime):
        self._get_file_writer().add_summary(summary, global_step, walltime)

    # ------------------------------------------------------------------ records
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        self._add(_s.scalar(tag, scalar_value, new_style, double_precision), global_step,
                  walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each key goes to its own run, log_dir/<main_tag>_<key>, under the tag main_tag."""
        walltime = time.time() if walltime is None else walltime
        base = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            sub = base + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(sub)
            if fw is None:
                fw = self.all_writers[sub] = FileWriter(sub, self.max_queue, self.flush_secs,
                                                        self.filename_suffix)
            fw.add_summary(_s.scalar(main_tag, value), global_step, walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.util.tensor_util import make_tensor_proto
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="tensor"))
        proto = make_tensor_proto(_s.to_numpy(tensor))
        self._add(Summary(value=[Summary.Value(tag=tag, tensor=proto, metadata=meta)]),
                  global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        self._add(_s.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None):
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        self._add(_s.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits,
                                   bucket_counts), global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        self._add(_s.image(tag, img_tensor, dataformats=dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        self._add(_s.image(tag, img_tensor, dataformats=dataformats), global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._add(_s.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """One run (log_dir/<run_name>) holding the hparams and the metrics as scalars."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = _s.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        run_name = run_name or str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w:
            for s in (exp, ssi, sei):
                w.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The traced forward of `model` as a GraphDef for TensorBoard's graph tab."""
        from ._graph import graph
        self._get_file_writer().add_graph(graph(model, input_to_model, verbose))

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or list of figures) rendered to an image."""
        import numpy as np
        figs = figure if isinstance(figure, list) else [figure]
        imgs = np.stack([_figure_to_chw(f, close) for f in figs])
        if isinstance(figure, list):
            self.add_images(tag, imgs, global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, imgs[0], global_step, walltime, dataformats="CHW")

    def __getattr__(self, name):
        if name.startswith("add_"):
            from ..._errors import missing
            raise missing(f"torch.utils.tensorboard.SummaryWriter.{name}")
        raise AttributeError(f"'SummaryWriter' object has no attribute '{name}'")

    # ------------------------------------------------------------------ lifecycle
    def flush(self):
        if self.all_writers is None:
            return
        for w in self.all_writers.values():
            w.flush()

    def close(self):
        if self.all_writers is None:
            return
        for w in self.all_writers.values():
            w.flush()
            w.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _figure_to_chw(fig, close):
    """A matplotlib figure drawn on its Agg canvas, as a uint8 CHW RGB array."""
    import numpy as np
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        raise ImportError("add_figure needs matplotlib: pip install matplotlib") from e
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    if close:
        import matplotlib.pyplot as plt
        plt.close(fig)
    return rgba[:, :, :3].transpose(2, 0, 1).copy()
