"""Summary protos for the SummaryWriter: scalars, histograms, images, text, hparams.

The record formats are TensorBoard's (its own protobuf classes from the `tensorboard`
package), laid out as torch.utils.tensorboard lays them out, so TensorBoard's plugins
show jtorch runs exactly like PyTorch runs.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto


def to_numpy(x):
    """Tensors, arrays and Python numbers as a numpy array (no autograd history)."""
    from ..._tensor import Tensor
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _scalar_value(x):
    a = to_numpy(x)
    if a.size != 1:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given "
                             f"size: {a.size} and {a.ndim} dimensions.")
    return a.reshape(()).item()


def scalar(name, value, new_style=False, double_precision=False):
    """A scalar as simple_value (or, new_style, a tensor tagged for the scalars plugin)."""
    v = float(_scalar_value(value))
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=v)])
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    if double_precision:
        t = TensorProto(dtype="DT_DOUBLE", double_val=[v])
    else:
        t = TensorProto(dtype="DT_FLOAT", float_val=[v])
    return Summary(value=[Summary.Value(tag=name, tensor=t, metadata=meta)])


# ------------------------------------------------------------------ histograms
def _tensorflow_bins():
    """TensorFlow's default bucket edges: +-1e-12 growing by 10% up to 1e20, and 0."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-b for b in reversed(pos)] + [0] + pos


def histogram(name, values, bins="tensorflow", max_bins=None):
    a = to_numpy(values).astype(np.float64).reshape(-1)
    if a.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    if isinstance(bins, str) and bins == "tensorflow":
        bins = _tensorflow_bins()
    counts, edges = np.histogram(a, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        # merge groups of adjacent buckets so at most max_bins remain
        step = len(counts) // max_bins
        pad = (-len(counts)) % step
        counts = np.pad(counts, (0, pad)).reshape(-1, step).sum(axis=1)
        edges = np.concatenate([edges[:-1:step], edges[-1:]])
    # keep the span of non-empty buckets, plus one empty bucket in front of it
    nz = np.nonzero(counts)[0]
    first, last = (int(nz[0]), int(nz[-1])) if nz.size else (0, len(counts) - 1)
    if first > 0:
        kept = counts[first - 1:last + 1]
    else:
        kept = np.concatenate([[0], counts[:last + 1]])
    limits = edges[first:last + 2]
    proto = HistogramProto(min=float(a.min()), max=float(a.max()), num=int(a.size),
                           sum=float(a.sum()), sum_squares=float(a.dot(a)),
                           bucket_limit=[float(v) for v in limits],
                           bucket=[float(v) for v in kept])
    return Summary(value=[Summary.Value(tag=name, histo=proto)])


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    proto = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                           bucket_limit=list(bucket_limits), bucket=list(bucket_counts))
    return Summary(value=[Summary.Value(tag=name, histo=proto)])


# ------------------------------------------------------------------ images
def _to_hwc(a, dataformats):
    """An image in `dataformats` (HW, CHW, HWC, NCHW, NHWC, ...) as HWC with 3 or 4 channels."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or not set(fmt) <= set("NCHW"):
        raise AssertionError(f"You can not use the same dimension shordhand twice. "
                             f"input_format: {dataformats}")
    if a.ndim != len(fmt):
        raise AssertionError(f"size of input tensor and input format are different. "
                             f"tensor shape: {a.shape}, input_format: {dataformats}")
    if len(fmt) == 4:
        nchw = a.transpose([fmt.index(c) for c in "NCHW"])
        return _grid(nchw).transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = a.transpose([fmt.index(c) for c in "HWC"])
        return np.concatenate([hwc] * 3, axis=2) if hwc.shape[2] == 1 else hwc
    hw = a.transpose([fmt.index(c) for c in "HW"])
    return np.stack([hw] * 3, axis=2)


def _grid(nchw, ncols=8):
    """N images tiled row by row, at most `ncols` per row (TensorBoard shows one image)."""
    if nchw.shape[1] == 1:
        nchw = np.concatenate([nchw] * 3, axis=1)
    n, c, h, w = nchw.shape
    if c not in (3, 4):
        raise AssertionError(f"expected 1, 3 or 4 channels, got {c}")
    cols = min(n, ncols)
    rows = -(-n // cols)
    canvas = np.zeros((c, h * rows, w * cols), dtype=nchw.dtype)
    for i in range(n):
        y, x = divmod(i, cols)
        canvas[:, y * h:(y + 1) * h, x * w:(x + 1) * w] = nchw[i]
    return canvas


def encode_png(hwc):
    """uint8 HxWx{1,3,4} as PNG bytes (filter 0 rows, zlib)."""
    h, w, c = hwc.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + hwc[r].tobytes() for r in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    """Float images in [0, 1] are scaled to 0..255; uint8 images are kept as they are."""
    a = to_numpy(tensor)
    scale = 1 if a.dtype == np.uint8 else 255
    hwc = _to_hwc(a, dataformats).astype(np.float32)
    if rescale != 1:
        raise NotImplementedError("add_image rescale != 1 is not implemented in jtorch")
    pix = np.clip(hwc * scale, 0, 255).astype(np.uint8)
    h, w, c = pix.shape
    img = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(pix))
    return Summary(value=[Summary.Value(tag=tag, image=img)])


# ------------------------------------------------------------------ text
def text(tag, text):
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    t = TensorProto(dtype="DT_STRING", string_val=[text.encode("utf_8")],
                    tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=t)])


# ------------------------------------------------------------------ hparams
def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """(experiment, session_start_info, session_end_info) summaries for the hparams plugin."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams.plugin_data_pb2 import (HParamsPluginData,
                                                            SessionEndInfo, SessionStartInfo)
    from ..._tensor import Tensor

    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, "
                        "nothing logged.")
    for k, v in domains.items():
        if k not in hparam_dict or not isinstance(v, list) or \
                not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of "
                            "same type as hparam_dict[{k}].")

    ssi = SessionStartInfo()
    infos = []
    f64 = api_pb2.DataType.Value("DATA_TYPE_FLOAT64")
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, (int, float)):  # bools too, as torch does
            ssi.hparams[k].number_value = v
            dom = (struct_pb2.ListValue(values=[struct_pb2.Value(number_value=d)
                                                for d in domains[k]])
                   if k in domains else None)
            infos.append(api_pb2.HParamInfo(name=k, type=f64, domain_discrete=dom))
        elif isinstance(v, str):
            ssi.hparams[k].string_value = v
            dom = (struct_pb2.ListValue(values=[struct_pb2.Value(string_value=d)
                                                for d in domains[k]])
                   if k in domains else None)
            infos.append(api_pb2.HParamInfo(
                name=k, type=api_pb2.DataType.Value("DATA_TYPE_STRING"), domain_discrete=dom))
        elif isinstance(v, Tensor):
            ssi.hparams[k].number_value = to_numpy(v).reshape(-1)[0]
            infos.append(api_pb2.HParamInfo(name=k, type=f64))
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")

    def wrap(tag, **content):
        data = HParamsPluginData(version=0, **content).SerializeToString()
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams",
                                                                      content=data))
        return Summary(value=[Summary.Value(tag=tag, metadata=meta)])

    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    exp = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    sei = SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))
    return (wrap("_hparams_/experiment", experiment=exp),
            wrap("_hparams_/session_start_info", session_start_info=ssi),
            wrap("_hparams_/session_end_info", session_end_info=sei))
