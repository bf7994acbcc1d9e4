"""torch.onnx: export jtorch modules to ONNX.

jtorch lowers the module's jaxpr to ONNX itself (_export.py traces, _graph.py flattens
and fits dynamic sizes, _lower.py has one rule per JAX primitive) instead of using
jax2onnx. Measured on an MLP, a BatchNorm+pooling CNN and a 2-layer TransformerEncoder
(jax2onnx 0.17.1, onnxruntime 1.32, CPU):

* own lowering: all three export and run with a dynamic batch (and sequence) axis, max
  error <= 7e-7 vs jtorch, initializers named by state_dict keys; export 0.3-0.5 s for
  the MLP/CNN, ~1.5 s for the transformer (2.5 s with dynamic axes: three traces).
* jax2onnx: the MLP exports (error 1.5e-8) but the first export takes 10-30 s (plugin
  import); the CNN exports but onnxruntime rejects its MaxPool (window over N and C);
  the transformer fails to trace; symbolic (dynamic) batch fails for CNN and transformer
  because jtorch's Python code computes with concrete sizes; parameters come out as
  inputs `in_0..` and int64 buffers as int32. It also pins orbax-checkpoint < 0.11.37.

`onnx` (and `onnxruntime` for ONNXProgram.__call__ / verify=True) stay optional and are
imported only inside export.
"""
from __future__ import annotations

import enum
import os

from ._export import DEFAULT_OPSET, MIN_OPSET, build_model, import_onnx, is_in_onnx_export

__all__ = ["export", "is_in_onnx_export", "OnnxExporterError", "ONNXProgram", "TrainingMode",
           "OperatorExportTypes", "errors"]


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter."""


class TrainingMode(enum.IntEnum):
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


class _Errors:
    OnnxExporterError = OnnxExporterError


errors = _Errors()


class ONNXProgram:
    """The exported model: `model_proto` (an onnx.ModelProto), `save(path)`, and calling
    it runs the model with onnxruntime and returns jtorch Tensors."""

    def __init__(self, model_proto):
        self.model_proto = model_proto
        self._session = None

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
             external_data=None):
        if not include_initializers or keep_initializers_as_inputs or external_data:
            raise NotImplementedError(
                "ONNXProgram.save: include_initializers=False, keep_initializers_as_inputs "
                "and external_data are not supported by jtorch.onnx")
        import_onnx().save_model(self.model_proto, destination)

    def __call__(self, *args, **kwargs):
        import jtorch
        sess = self._session
        if sess is None:
            ort = _import_ort()
            sess = self._session = ort.InferenceSession(
                self.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
        vals = [a for a in list(args) + list(kwargs.values()) if a is not None]
        feeds = {i.name: (v.detach().numpy() if isinstance(v, jtorch.Tensor) else v)
                 for i, v in zip(sess.get_inputs(), vals)}
        return [jtorch.from_numpy(o) for o in sess.run(None, feeds)]

    def __repr__(self):
        return f"ONNXProgram(model_proto=<{len(self.model_proto.graph.node)} nodes>)"


def _import_ort():
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError("running an exported ONNX model needs 'onnxruntime': "
                          "pip install onnxruntime") from e
    return onnxruntime


def _unsupported(name):
    return NotImplementedError(f"torch.onnx.export({name}) is not supported by jtorch.onnx")


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None,
           output_names=None, opset_version=None, dynamo=True, external_data=True,
           dynamic_shapes=None, custom_translation_table=None, report=False, optimize=True,
           verify=False, profile=False, dump_exported_program=False, artifacts_dir=".",
           export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX,
           do_constant_folding=True, custom_opsets=None, export_modules_as_functions=False,
           autograd_inlining=True):
    """Export `model` (a jtorch nn.Module) called on `args` to ONNX, writing it to `f`
    (a path or a binary file object) when given.

    Returns an ONNXProgram when dynamo=True (torch's default), else None. Constant
    sub-expressions are always folded while tracing (do_constant_folding is accepted);
    `optimize` is accepted and does nothing extra.
    """
    from ..nn import Module
    if not isinstance(model, Module):
        raise TypeError(f"torch.onnx.export: expected a torch.nn.Module, got "
                        f"{type(model).__name__}")
    if dynamic_shapes is not None:
        raise _unsupported("dynamic_shapes=...; use dynamic_axes")
    for name, val in (("custom_translation_table", custom_translation_table),
                      ("report=True", report), ("profile=True", profile),
                      ("dump_exported_program=True", dump_exported_program),
                      ("custom_opsets", custom_opsets),
                      ("export_modules_as_functions", export_modules_as_functions)):
        if val:
            raise _unsupported(name)
    if operator_export_type != OperatorExportTypes.ONNX:
        raise _unsupported(f"operator_export_type={operator_export_type!r}")
    if training == TrainingMode.TRAINING:
        raise _unsupported("training=TrainingMode.TRAINING")
    onnx = import_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    latest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= latest:
        raise _unsupported(f"opset_version={opset}; jtorch.onnx supports {MIN_OPSET}.."
                           f"{latest}")
    if not isinstance(args, tuple):
        args = (args,)
    if kwargs is None and args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], args[-1]   # the legacy exporter's trailing-dict kwargs
    kwargs = dict(kwargs or {})

    modes = [(m, m.training) for m in model.modules()]
    if training == TrainingMode.EVAL:
        model.eval()
    try:
        proto = build_model(model, args, kwargs, input_names=input_names,
                            output_names=output_names, dynamic_axes=dynamic_axes, opset=opset,
                            export_params=export_params,
                            keep_initializers_as_inputs=keep_initializers_as_inputs)
    finally:
        for m, mode in modes:
            m.training = mode
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    program = ONNXProgram(proto)
    if verify:
        _verify(program, model, args, kwargs, training)
    if f is not None:
        if isinstance(f, (str, os.PathLike)):
            onnx.save_model(proto, os.fspath(f))
        else:
            f.write(proto.SerializeToString())
    return program if dynamo else None


def _verify(program, model, args, kwargs, training):
    import jax

    import jtorch
    from .._tensor import Tensor
    modes = [(m, m.training) for m in model.modules()]
    if training == TrainingMode.EVAL:
        model.eval()
    try:
        with jtorch.no_grad():
            expected = model(*args, **kwargs)
    finally:
        for m, mode in modes:
            m.training = mode
    expected = [t for t in jax.tree_util.tree_leaves(expected, is_leaf=lambda x: isinstance(
        x, Tensor)) if isinstance(t, Tensor)]
    inputs = [t for t in jax.tree_util.tree_leaves((args, kwargs), is_leaf=lambda x: isinstance(
        x, Tensor)) if isinstance(t, Tensor)]
    got = program(*inputs)
    for e, g in zip(expected, got):
        jtorch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
