"""torch's autocast op lists (aten/src/ATen/autocast_mode.{h,cpp}) mapped onto jtorch's ops.

Kinds: "lower" (cast eligible inputs to the autocast dtype), "fp32" (cast them to
float32), "fp32_opt" (torch's fp32_set_opt_dtype / fp32_append_dtype: when no dtype= is
given and the first input is eligible, run in float32), "promote" (the widest floating
type among the inputs), "banned" (torch raises). A rule may also be a function of
(tensor args, statics) returning a kind or None, for jtorch ops that stand for several
torch ops (one `_jt_pool` op serves max_pool1d/2d/3d, of which only 3d is listed).

jtorch ops that torch implements as compositions (cross_entropy = log_softmax +
nll_loss, softmin = softmax(-x), normalize = x / norm(x), tensordot/inner/einsum = mm
on CPU) get the kind their decomposition produces, so output dtypes match torch's.
"""
from __future__ import annotations

from .._ops.registry import OPS

BANNED_BCE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using "
    "torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")


def _pool3d_fp32(targs, statics):
    # pooling ops take (N, C, *spatial) or (C, *spatial); the op's kernel_size tells its rank
    return "fp32" if len(statics[0]) == 3 else None


def _pad_cpu(targs, statics):
    # torch lists reflection_pad1d/2d and replication_pad1d/2d/3d (not reflection_pad3d)
    pad, mode = statics[0], statics[1]
    n = len(pad) // 2
    if mode == "reflect" and n in (1, 2):
        return "fp32"
    if mode == "replicate" and n in (1, 2, 3):
        return "fp32"
    return None


def _upsample_cuda(targs, statics):
    # every upsample_* kernel is fp32 on CUDA; 'area' is adaptive_avg_pool (not listed)
    return None if statics[2] == "area" else "fp32"


def _scatter_add(targs, statics):
    return "promote" if statics[1] == "sum" else None


def _rnn_layer_cpu(targs, statics):
    # LSTM runs mkldnn_rnn_layer (listed); RNN_TANH/RELU decompose into linear; GRU does not
    return None if statics[0] == "GRU" else "lower"


# ---------------------------------------------------------------------------- CUDA
_CUDA_LOWER = (
    "_jt_conv", "nn.prelu", "addmm", "addmv", "addr", "matmul", "einsum", "mm", "mv",
    "linalg.vecdot", "nn.linear", "addbmm", "baddbmm", "bmm", "linalg.multi_dot",
    "_jt_rnn_cell", "_jt_rnn_layer", "nn.scaled_dot_product_attention",
)
_CUDA_FP32 = (
    "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
    "reciprocal", "rsqrt", "sinh", "tan", "pow", "nn.softplus", "layer_norm", "group_norm",
    "nn.cosine_similarity", "nn.poisson_nll_loss", "nn.cosine_embedding_loss", "nn.nll_loss",
    "nn.hinge_embedding_loss", "nn.kl_div", "nn.l1_loss", "nn.smooth_l1_loss",
    "nn.huber_loss", "nn.mse_loss", "nn.margin_ranking_loss", "nn.multilabel_margin_loss",
    "nn.soft_margin_loss", "nn.triplet_margin_loss", "nn.multi_margin_loss",
    "nn.binary_cross_entropy_with_logits", "dist", "nn.pdist", "cdist", "renorm",
    "logsumexp",
    # compositions in torch whose result comes from a float32-listed op
    "nn.cross_entropy", "nn.normalize", "nn.gaussian_nll_loss",
    "nn.multilabel_soft_margin_loss",
)
_CUDA_FP32_OPT = (
    "prod", "softmax", "log_softmax", "cumprod", "cumsum", "linalg.vector_norm",
    "linalg.matrix_norm", "sum", "norm", "nn.softmin", "linalg.norm",
)
_CUDA_PROMOTE = (
    "addcdiv", "addcmul", "atan2", "nn.bilinear", "cross", "dot", "vdot", "_jt_grid_sample",
    "index_put", "tensordot", "inner",
)

# ---------------------------------------------------------------------------- CPU
_CPU_LOWER = (
    "_jt_conv", "bmm", "mm", "linalg.vecdot", "baddbmm", "addmm", "addbmm", "nn.linear",
    "matmul", "nn.prelu", "nn.scaled_dot_product_attention",
    # compositions that reach mm/bmm on CPU
    "einsum", "tensordot", "inner", "linalg.multi_dot",
)
_CPU_FP32 = (
    "nn.binary_cross_entropy", "_jt_grid_sample", "polar", "prod", "quantile", "nanquantile",
    "cdist", "trace", "view_as_complex", "cholesky_inverse", "cholesky_solve", "lu_solve",
    "ormqr", "nn.mse_loss", "nn.cosine_embedding_loss", "nn.nll_loss",
    "nn.hinge_embedding_loss", "nn.poisson_nll_loss", "nn.smooth_l1_loss", "nn.cross_entropy",
    "nn.l1_loss", "nn.huber_loss", "nn.margin_ranking_loss", "nn.soft_margin_loss",
    "nn.triplet_margin_loss", "nn.multi_margin_loss", "nn._ctc_loss", "nn.kl_div",
    "nn.multilabel_margin_loss", "nn.binary_cross_entropy_with_logits",
    "fft.fft", "fft.ifft", "fft.fft2", "fft.ifft2", "fft.fftn", "fft.ifftn", "fft.rfft",
    "fft.irfft", "fft.rfft2", "fft.irfft2", "fft.rfftn", "fft.irfftn", "fft.hfft", "fft.ihfft",
    "linalg.cond", "linalg.matrix_rank", "linalg.solve_ex", "linalg.cholesky_ex",
    "linalg.svdvals", "linalg.eigvals", "linalg.eigvalsh", "linalg.inv_ex",
    "linalg.householder_product", "linalg.tensorinv", "linalg.tensorsolve", "geqrf", "qr",
    "svd", "triangular_solve", "_jt_fractional_max_pool", "linalg.qr", "linalg.svd",
    "linalg.eig", "linalg.eigh", "linalg.lstsq",
)
_CPU_PROMOTE = ("stack", "cat", "index_copy")
_CPU_RULES = {
    "_jt_avg_pool": _pool3d_fp32, "_jt_max_pool": _pool3d_fp32,
    "_jt_max_pool_with_indices": _pool3d_fp32,
    "_jt_adaptive_avg_pool": lambda targs, statics: "fp32" if len(statics[0]) == 3 else None,
    "_jt_adaptive_max_pool": lambda targs, statics: "fp32" if len(statics[0]) == 3 else None,
    "_jt_max_unpool": lambda targs, statics: "fp32" if len(statics[0]) in (2, 3) else None,
    "_jt_pad": _pad_cpu, "nn._pad": _pad_cpu, "_jt_rnn_layer": _rnn_layer_cpu,
}
_CUDA_RULES = {"_jt_upsample": _upsample_cuda, "_scatter_reduce": _scatter_add,
               "nn.binary_cross_entropy": "banned"}


def _build(kinds, rules):
    table = {}
    for kind, names in kinds:
        for n in names:
            if n in OPS:
                table[OPS[n]] = kind
    for n, rule in rules.items():
        if n in OPS:
            table[OPS[n]] = rule
    return table


_TABLES = {
    "cuda": _build((("lower", _CUDA_LOWER), ("fp32", _CUDA_FP32), ("fp32_opt", _CUDA_FP32_OPT),
                    ("promote", _CUDA_PROMOTE)), _CUDA_RULES),
    "cpu": _build((("lower", _CPU_LOWER), ("fp32", _CPU_FP32), ("promote", _CPU_PROMOTE)),
                  _CPU_RULES),
}
_DTYPE_POS: dict = {}


def lookup(device_type, d):
    return _TABLES[device_type].get(d)


def dtype_position(d):
    """Index of the op's `dtype` static parameter (None when it has none)."""
    pos = _DTYPE_POS.get(d, -1)
    if pos == -1:
        pos = next((i for i, p in enumerate(d.static_params) if p.name == "dtype"), None)
        _DTYPE_POS[d] = pos
    return pos


def op_names(device_type):
    """{jtorch op name: kind or rule} for one device (for tests and inspection)."""
    return {d.name: k for d, k in _TABLES[device_type].items()}
