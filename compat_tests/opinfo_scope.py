"""Which torch OpInfos the foundation replay covers, and why the rest wait.

Every OpInfo in ``op_db`` must land in exactly one place: a family in
``FAMILIES`` (tests are generated for it) or an ``OUT_OF_SCOPE`` rule with a
reason (listed in COVERAGE.md, never silently dropped). ``classify`` enforces
that, so a new torch release with new OpInfos shows up as "unclassified".

Keys are OpInfo ``.name`` values; a name covers all its variants.
"""

FAMILIES = {
    "pointwise": """
        abs acos acosh add addcdiv addcmul angle asin asinh atan atan2 atanh ceil
        clamp clamp_max clamp_min complex conj conj_physical copysign cos cosh
        deg2rad digamma div erf erfc erfinv exp exp2 expm1 float_power floor
        floor_divide fmax fmin fmod frac frexp gcd heaviside hypot i0 igamma
        igammac imag lcm ldexp lerp lgamma log log10 log1p log2 logaddexp
        logaddexp2 logit maximum minimum mul mvlgamma nan_to_num neg nextafter
        polar polygamma positive pow rad2deg real reciprocal remainder
        resolve_conj resolve_neg round rsqrt rsub sgn sigmoid sign sin sinc sinh
        sqrt square sub tan tanh true_divide trunc xlogy
        __radd__ __rdiv__ __rmod__ __rmul__ __rpow__ __rsub__
    """,
    "comparison_logical": """
        allclose bitwise_and bitwise_left_shift bitwise_not bitwise_or
        bitwise_right_shift bitwise_xor eq equal ge gt isclose isfinite isin
        isinf isnan isneginf isposinf isreal le logical_and logical_not
        logical_or logical_xor lt ne signbit where __rand__ __ror__ __rxor__
    """,
    "reduction": """
        all amax amin aminmax any argmax argmin argsort bincount bucketize
        corrcoef count_nonzero cov cummax cummin cumprod cumsum
        cumulative_trapezoid diff dist gradient histc histogram histogramdd
        kthvalue log_softmax logcumsumexp logsumexp max mean median min mode msort
        nanmean nanmedian nanquantile nansum norm prod quantile renorm
        searchsorted softmax sort std std_mean sum topk trace trapezoid trapz
        unique unique_consecutive var var_mean
    """,
    "shape_view": """
        H T mH mT alias_copy atleast_1d atleast_2d atleast_3d block_diag
        broadcast_shapes broadcast_tensors broadcast_to cartesian_prod cat chunk
        clone column_stack combinations constant_pad_nd contiguous diag
        diag_embed diagflat diagonal diagonal_copy diagonal_scatter dsplit
        dstack expand expand_as expand_copy flatten flip fliplr flipud hsplit
        hstack meshgrid movedim narrow narrow_copy permute permute_copy ravel
        repeat repeat_interleave reshape reshape_as roll rot90 select
        select_scatter slice_scatter split split_with_sizes
        split_with_sizes_copy squeeze squeeze_copy stack sum_to_size t t_copy
        tensor_split tile transpose transpose_copy tril triu unbind unbind_copy
        unflatten unfold unfold_copy unravel_index unsafe_chunk unsafe_split
        unsqueeze unsqueeze_copy view view_as view_as_complex view_as_real
        view_copy vsplit vstack
    """,
    "indexing": """
        __getitem__ argwhere gather index_add index_copy index_fill index_put
        index_reduce index_select masked_fill masked_scatter masked_select
        nonzero nonzero_static put scatter scatter_add scatter_reduce take
        take_along_dim
    """,
    "matmul": """
        addbmm addmm addmv addr baddbmm bmm cdist dot einsum inner kron matmul
        mm mv outer tensordot vdot __rmatmul__
    """,
    "linalg": """
        cholesky cholesky_inverse cholesky_solve cross geqrf logdet lu lu_solve
        lu_unpack matrix_exp ormqr pca_lowrank pinverse qr svd svd_lowrank
        triangular_solve
    """,
    # Not named in the foundation issue's family list, but every family above
    # leans on them (dtype casts, factories, RNG); kept in scope so their gaps
    # show. Move them to OUT_OF_SCOPE if the lead decides otherwise.
    "creation_conversion": """
        arange bfloat16 bool byte cdouble cfloat chalf char double empty
        empty_like empty_permuted empty_strided eye fill float full full_like
        half int item linspace logspace long new_empty new_empty_strided
        new_full new_ones new_zeros ones ones_like scalar_tensor short to
        tril_indices triu_indices zero_ zeros zeros_like
    """,
    "random": """
        bernoulli cauchy exponential geometric log_normal multinomial normal
        rand_like randint randint_like randn randn_like uniform
    """,
}

# Namespaces that belong to a family as a whole.
FAMILY_PREFIXES = {"linalg.": "linalg", "fft.": "fft", "special.": "special",
                   "nn.functional.": "nn_functional"}

OUT_OF_SCOPE_PREFIXES = {
    "masked.": "torch.masked prototype namespace; not in the foundation families",
    "sparse.": "sparse layouts are not supported by jtorch",
    "jiterator_": "CUDA jiterator test ops; not a user API",
    "signal.windows.": "torch.signal window functions; not in the foundation families",
    "_": "private aten internals (`_`-prefixed), not public torch API",
    "torch.": "private aten kernels (torch._scaled_mm, torch.ops.aten.*)",
}

OUT_OF_SCOPE = {
    "to_sparse": "sparse layouts are not supported by jtorch",
    "stft": "short-time Fourier transform; spectral ops come after fft",
    "istft": "short-time Fourier transform; spectral ops come after fft",
    "slice": "aten.slice.Tensor has no public torch function; slicing is covered by __getitem__",
    "as_strided": "needs torch's strided storage model; jtorch tensors expose no strides",
    "as_strided_copy": "needs torch's strided storage model; jtorch tensors expose no strides",
    "as_strided_scatter": "needs torch's strided storage model; jtorch tensors expose no strides",
    "resize_": "in-place storage resizing; jtorch has no resizable storage",
    "resize_as_": "in-place storage resizing; jtorch has no resizable storage",
    "hash_tensor": "niche hashing utility; not in the foundation families",
    "native_batch_norm": "aten-level nn kernel; comes with the nn issue",
    "native_group_norm": "aten-level nn kernel; comes with the nn issue",
    "native_layer_norm": "aten-level nn kernel; comes with the nn issue",
    "native_dropout_backward": "aten-level nn kernel; comes with the nn issue",
    "max_pool2d_with_indices_backward": "aten-level nn kernel; comes with the nn issue",
    "grid_sampler_2d": "aten-level nn kernel; comes with the nn issue",
    "grid_sampler_3d": "aten-level nn kernel; comes with the nn issue",
}

# OpInfos whose outputs are random or uninitialised memory: only shape and
# dtype are compared, and gradients are not checked.
NONDETERMINISTIC = frozenset(
    FAMILIES["random"].split()
    + """empty empty_like empty_permuted empty_strided new_empty
         new_empty_strided svd_lowrank pca_lowrank""".split()
    # dropout-style ops draw from jtorch's generator, whose stream is not torch's
    + [f"nn.functional.{n}" for n in """dropout dropout1d dropout2d dropout3d alpha_dropout
         feature_alpha_dropout rrelu fractional_max_pool2d fractional_max_pool3d""".split()]
)

_IN_SCOPE = {name: fam for fam, names in FAMILIES.items() for name in names.split()}


def family(name):
    """The family an OpInfo name belongs to, or None if it is not in scope."""
    if name in _IN_SCOPE:
        return _IN_SCOPE[name]
    for prefix, fam in FAMILY_PREFIXES.items():
        if name.startswith(prefix):
            return fam
    return None


def out_of_scope_reason(name):
    """Why an OpInfo is outside the foundation scope (exact name wins over prefix)."""
    if name in OUT_OF_SCOPE:
        return OUT_OF_SCOPE[name]
    for prefix, reason in OUT_OF_SCOPE_PREFIXES.items():
        if name.startswith(prefix):
            return reason
    return None


def classify(name):
    """("in", family) or ("out", reason) or ("unclassified", hint)."""
    fam = family(name)
    if fam is not None:
        return "in", fam
    reason = out_of_scope_reason(name)
    if reason is not None:
        return "out", reason
    return "unclassified", "add it to compat_tests/opinfo_scope.py"


# Samples whose outputs are random although the op is not (dropout inside attention): forward
# compares shape and dtype only, and no gradient is compared for them.
RANDOM_SAMPLES = {
    "nn.functional.scaled_dot_product_attention":
        lambda s: s.kwargs.get("dropout_p", 0.0) > 0,
    "nn.functional.multi_head_attention_forward":
        lambda s: (s.args[9] if len(s.args) > 9 else s.kwargs.get("dropout_p", 0.0)) > 0
        and s.kwargs.get("training", True),
}

# Ops compared norm-wise: atol grows with the output's largest magnitude (rtol * max|x|).
# Matrix functions are accurate relative to the matrix norm, not per entry: for matrix_exp
# JAX's and torch's Padé scaling-and-squaring differ by ~1e-6 of the norm, which is 1e-4
# relative on small entries of a matrix whose norm is 1e5 (torch vs float64 truth: same size).
NORMWISE = frozenset({"matrix_exp"})

# Ops jtorch does not have yet. Their tests assert that jtorch says so (NotImplementedError
# naming the API); they count as failures in COVERAGE.md. Remove an entry once implemented.
KNOWN_GAPS = {
    "linalg.ldl_factor": "needs LAPACK's Bunch-Kaufman pivoting (sytrf) reproduced exactly",
    "linalg.ldl_factor_ex": "needs LAPACK's Bunch-Kaufman pivoting (sytrf) reproduced exactly",
    "linalg.ldl_solve": "needs ldl_factor's pivoted factors",
    "special.airy_ai": "no Airy function in jax.scipy.special; not written yet",
    "chalf": "complex32 has no JAX dtype",
}


def random_sample(op_name, sample):
    """Does this sample of a deterministic op draw random numbers (e.g. dropout_p > 0)?"""
    rule = RANDOM_SAMPLES.get(op_name)
    return bool(rule and rule(sample))
