"""Replay torch's OpInfo samples on jtorch, with torch as the oracle.

Each OpInfo's SampleInputs run on torch and, copied through numpy, on jtorch;
outputs and vector-Jacobian products must match in shape, dtype and value.

Self-test: with ``JTORCH_COMPAT_SELFTEST=1`` the "target" library is torch
itself behind a module facade (`torch_as_target`), reached through the same
numpy conversion as jtorch. Every op should then pass, which checks the
harness's plumbing rather than jtorch.
"""

import dis
import functools
import importlib
import itertools
import os
import types
from dataclasses import dataclass

import torch

from compat_tests.compare import FORWARD_TOL, GRAD_TOL, compare, dtype_name
from compat_tests.opinfo_scope import NONDETERMINISTIC, NORMWISE, random_sample

SELFTEST = os.environ.get("JTORCH_COMPAT_SELFTEST") == "1"
DEFAULT_SAMPLES = int(os.environ.get("JTORCH_OPINFO_SAMPLES", "3"))
MAX_ELEMENTS = 1_000_000  # larger samples are skipped to keep runs short
COTANGENT_SEED = 1234
SAMPLE_SEED = 0

# Integer- or complex-only ops (bitwise, gcd, view_as_real...) get samples in the first dtype they support.
FALLBACK_DTYPES = (torch.int64, torch.int32, torch.bool, torch.uint8, torch.complex64, torch.float64)


class MissingAPI(Exception):
    """The target library lacks a public name the OpInfo needs."""


@dataclass
class Result:
    """Outcome of one op in one mode (forward or gradient)."""

    status: str  # pass | fail | missing | notimpl | nosamples | n/a
    message: str = ""
    samples: int = 0  # samples actually compared
    sample: str = ""  # the failing sample, briefly


@dataclass
class Target:
    """The target-library callable for an OpInfo, or what it lacks."""

    api: str
    fn: object = None
    missing: tuple = ()


def torch_as_target(**overrides):
    """torch behind a module facade, standing in for jtorch in the self-test.

    Being a different object than `torch`, it takes jtorch's path: samples are
    copied through numpy and dtypes/devices are mapped by name. `overrides`
    replace attributes, e.g. to plant a wrong op the harness must catch.
    """
    mod = types.ModuleType("torch_selftest")
    mod.__getattr__ = lambda name: getattr(torch, name)
    mod.__dict__.update(overrides)
    return mod


@functools.cache
def target_lib():
    """The library under test: jtorch, or torch itself in self-test mode."""
    return torch_as_target() if SELFTEST else importlib.import_module("jtorch")


def lib_name(lib):
    return lib.__name__


def op_id(op):
    """Stable test id: "add", "max.binary"."""
    return f"{op.name}.{op.variant_test_name}" if op.variant_test_name else op.name


# ---------------------------------------------------------------- resolution

_NAMESPACES = ("", "linalg.", "fft.", "special.", "nn.functional.", "Tensor.")
_ABSENT = object()


def get_path(root, path):
    """root.a.b.c for path "a.b.c", or None when any link is absent."""
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part, _ABSENT)
        if obj is _ABSENT:
            return None
    return obj


def torch_path(fn, name):
    """The public torch path that is `fn` itself, e.g. "linalg.solve"."""
    for short in dict.fromkeys((name, name.rsplit(".", 1)[-1], getattr(fn, "__name__", ""))):
        for ns in _NAMESPACES:
            if short and get_path(torch, ns + short) is fn:
                return ns + short
    return None


def torch_apis_used(code):
    """Public torch paths a test lambda touches: `torch.a.b` chains and `x.m` methods.

    Read from bytecode so the lambda's own body says which jtorch names it needs.
    """
    ins = list(dis.get_instructions(code))
    found = set()
    attr_ops = ("LOAD_ATTR", "LOAD_METHOD")
    for i, x in enumerate(ins):
        if x.opname == "LOAD_GLOBAL" and x.argval == "torch":
            parts = list(itertools.takewhile(lambda y: y.opname in attr_ops, ins[i + 1:]))
            if parts:
                found.add(".".join(p.argval for p in parts))
        elif (x.opname == "LOAD_FAST" and x.argval not in ("args", "kwargs")
              and i + 1 < len(ins) and ins[i + 1].opname in attr_ops):
            found.add("Tensor." + ins[i + 1].argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= torch_apis_used(const)
    return found


@functools.cache
def rebind(fn, lib):
    """`fn` with its global `torch` pointing at `lib`, so test lambdas run on it."""
    if lib is torch or not isinstance(fn, types.FunctionType):
        return fn
    new = types.FunctionType(fn.__code__, {**fn.__globals__, "torch": lib},
                             fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


def resolve(op, lib):
    """Find the target-library callable matching OpInfo `op`."""
    path = torch_path(op.op, op.name)
    if path is None and isinstance(op.op, types.FunctionType):
        used = sorted(torch_apis_used(op.op.__code__))
        missing = tuple(p for p in used if get_path(lib, p) is None)
        return Target(", ".join(used) or op.name, None if missing else rebind(op.op, lib), missing)
    candidates = [path] if path else [op.name, "Tensor." + op.name]
    for cand in candidates:
        fn = get_path(lib, cand)
        if fn is not None:
            return Target(cand, fn)
    return Target(candidates[0], None, (candidates[0],))


def resolve_method(op, lib):
    """Target for the op's Tensor-method variant (e.g. Tensor.add), if torch has one apart from op.op."""
    mv = op.method_variant
    if mv is None or mv is op.op:
        return None
    path = torch_path(mv, op.name)
    if path is None or not path.startswith("Tensor."):
        return None
    fn = get_path(lib, path)
    return Target(path, fn, () if fn is not None else (path,))


def missing_message(missing, lib):
    names = ", ".join(f"{lib_name(lib)}.{p}" for p in missing)
    return f"missing API: {names}"


# ---------------------------------------------------------------- conversion

def _map(obj, on_tensor, on_leaf=lambda x: x):
    """Rebuild a sample structure: `on_tensor` for each torch tensor (in order), `on_leaf` for the rest."""
    if isinstance(obj, torch.Tensor):
        return on_tensor(obj)
    if isinstance(obj, torch.Size):
        return on_leaf(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_map(x, on_tensor, on_leaf) for x in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map(x, on_tensor, on_leaf) for x in obj)
    if isinstance(obj, dict):
        return {k: _map(v, on_tensor, on_leaf) for k, v in obj.items()}
    if isinstance(obj, slice):
        return slice(*(_map(x, on_tensor, on_leaf) for x in (obj.start, obj.stop, obj.step)))
    return on_leaf(obj)


def _convert_leaf(obj, lib):
    """Non-tensor torch objects: dtypes/layouts/memory formats by name, devices as strings."""
    if lib is torch:
        return obj
    if isinstance(obj, (torch.dtype, torch.layout, torch.memory_format)):
        name = str(obj).rsplit(".", 1)[-1]
        if get_path(lib, name) is None:
            raise MissingAPI(f"{lib_name(lib)}.{name}")
        return getattr(lib, name)
    if isinstance(obj, torch.device):
        return str(obj)
    if isinstance(obj, torch.Size):
        return tuple(obj)
    if isinstance(obj, torch.nn.PairwiseDistance):  # a sample's distance_function argument
        return lib.nn.PairwiseDistance(p=obj.norm, eps=obj.eps, keepdim=obj.keepdim)
    return obj


def tensor_to_lib(t, lib):
    """Copy a torch tensor into `lib`, keeping dtype and requires_grad."""
    src = t.detach()
    if lib is torch:
        new = src.clone()
    else:
        src = src.resolve_conj().resolve_neg()
        wide = {torch.bfloat16: torch.float32, torch.complex32: torch.complex64}.get(src.dtype)
        if wide is None:
            new = lib.from_numpy(src.numpy().copy())
        else:
            new = lib.from_numpy(src.to(wide).numpy()).to(_convert_leaf(src.dtype, lib))
    return new.requires_grad_() if t.requires_grad else new


def convert(obj, lib, leaves=None):
    """Copy a sample structure into `lib`; grad-requiring copies go to `leaves`."""

    def on_tensor(t):
        new = tensor_to_lib(t, lib)
        if leaves is not None and t.requires_grad:
            leaves.append(new)
        return new

    return _map(obj, on_tensor, lambda x: _convert_leaf(x, lib))


def torch_tensors(obj):
    """Torch tensors of a sample structure, in the order `convert` visits them."""
    out = []
    _map(obj, lambda t: out.append(t) or t)
    return out


def flat_tensors(obj, tensor_type):
    """Tensors of an output structure (tuples, lists, namedtuples), in order."""
    if isinstance(obj, tensor_type):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for x in obj for t in flat_tensors(x, tensor_type)]
    return []


def describe(sample, limit=200):
    """Short text of a sample for failure messages: tensors as dtype+shape."""
    def short(t):
        grad = ", grad" if t.requires_grad else ""
        return f"T[{dtype_name(t.dtype)}{grad}]{tuple(t.shape)}"
    inp, args, kwargs = _map((sample.input, sample.args, sample.kwargs), short)
    text = ", ".join([repr(inp), *map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    text = text.replace("'T[", "T[").replace(")'", ")")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sample_numel(sample):
    return sum(t.numel() for t in torch_tensors((sample.input, sample.args, sample.kwargs)))


# ---------------------------------------------------------------- replay

def error_message(exc):
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]


def _failure(exc):
    if isinstance(exc, MissingAPI):
        return Result("missing", f"missing API: {exc}")
    status = "notimpl" if isinstance(exc, NotImplementedError) else "fail"
    return Result(status, error_message(exc))


def sample_dtype(op):
    """float32 when the op supports it, else its first supported fallback dtype."""
    supported = op.supported_dtypes("cpu")
    if torch.float32 in supported:
        return torch.float32
    return next((d for d in FALLBACK_DTYPES if d in supported), None)


def gradient_applicable(op):
    """Whether torch differentiates this op at float32 deterministically."""
    return (op.supports_autograd and op.name not in NONDETERMINISTIC
            and torch.float32 in op.supported_backward_dtypes("cpu"))


def iter_samples(op, requires_grad):
    """OpInfo samples under a fixed seed, skipping ones too large to replay quickly."""
    torch.manual_seed(SAMPLE_SEED)
    dtype = torch.float32 if requires_grad else sample_dtype(op)
    if dtype is None:
        return
    for sample in op.sample_inputs("cpu", dtype, requires_grad=requires_grad):
        if sample_numel(sample) <= MAX_ELEMENTS:
            yield sample


_SKIP = object()  # torch itself rejects the sample


def _forward_sample(op, target, sample, lib, method=None):
    structure = (sample.input, sample.args, sample.kwargs)
    try:
        args = convert(structure, lib)
        method_args = convert(structure, lib) if method else None  # fresh copy: ops may mutate
        conv_error = None
    except Exception as exc:  # e.g. a missing dtype; still check torch accepts the sample first
        conv_error = exc
    try:
        expected = op.op(sample.input, *sample.args, **sample.kwargs)
    except Exception:
        return _SKIP
    if conv_error is not None:
        return _failure(conv_error)
    for callee, (inp, a, kw) in [(target, args)] + ([(method, method_args)] if method else []):
        try:
            actual = callee.fn(inp, *a, **kw)
        except Exception as exc:
            res = _failure(exc)
        else:
            err = _compare_forward(op, sample, expected, actual, lib)
            res = Result("fail", err) if err else Result("pass")
        if res.status != "pass":
            res.message = f"{callee.api}: {res.message}" if callee is method else res.message
            return res
    return res


def _compare_forward(op, sample, expected, actual, lib):
    shape_only = op.name in NONDETERMINISTIC or random_sample(op.name, sample)
    tols = FORWARD_TOL
    if op.name in NORMWISE:
        scale = max((float(t.abs().max()) for t in flat_tensors(expected, torch.Tensor)
                     if t.numel()), default=0.0)
        rtol, atol = FORWARD_TOL["float32"]
        tols = {**FORWARD_TOL, "float32": (rtol, atol + rtol * scale)}
    err = compare(expected, actual, lib, shape_only=shape_only, tols=tols)
    if err and not shape_only:  # e.g. svd's sign freedom: compare gauge-invariant outputs
        try:
            process = sample.output_process_fn_grad
            if compare(process(expected), rebind(process, lib)(actual), lib) is None:
                return None
        except Exception:
            pass
    return err


def _cotangents(outputs):
    gen = torch.Generator().manual_seed(COTANGENT_SEED)
    return [torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in outputs]


def _compare_grads(expected, actual, lib):
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e is None and a is None:
            continue
        if e is None:  # torch: unused input; zeros from the target are equivalent
            e = torch.zeros(tuple(a.shape), dtype=getattr(torch, dtype_name(a.dtype)))
        if a is None:
            if not bool((e == 0).all()):
                return f"grad[{i}]: None but torch's gradient is nonzero"
            continue
        err = compare(e, a, lib, f"grad[{i}]", tols=GRAD_TOL)
        if err:
            return err
    return None


def _gradient_sample(op, target, sample, lib):
    if random_sample(op.name, sample):
        return None  # random outputs: no deterministic gradient to compare
    structure = (sample.input, sample.args, sample.kwargs)
    torch_leaves = [t for t in torch_tensors(structure) if t.requires_grad]
    try:
        process = sample.output_process_fn_grad
        out = process(op.gradcheck_wrapper(op.op, sample.input, *sample.args, **sample.kwargs))
        outs = flat_tensors(out, torch.Tensor)
        idx = [i for i, t in enumerate(outs)
               if t.requires_grad and (t.is_floating_point() or t.is_complex())]
        if not torch_leaves or not idx:
            return None  # nothing differentiable in this sample
        cots = _cotangents([outs[i] for i in idx])
        expected = torch.autograd.grad([outs[i] for i in idx], torch_leaves, cots, allow_unused=True)
    except Exception:
        return _SKIP
    try:
        leaves = []
        inp, args, kwargs = convert(structure, lib, leaves)
        wrapper = rebind(op.gradcheck_wrapper, lib)
        actual_out = rebind(process, lib)(wrapper(target.fn, inp, *args, **kwargs))
        actual_outs = flat_tensors(actual_out, lib.Tensor)
        if len(actual_outs) != len(outs):
            return Result("fail", f"{len(actual_outs)} tensor outputs, torch has {len(outs)}")
        actual = lib.autograd.grad([actual_outs[i] for i in idx], leaves,
                                   [convert(c, lib) for c in cots], allow_unused=True)
    except Exception as exc:
        return _failure(exc)
    err = _compare_grads(expected, actual, lib)
    return Result("fail", err) if err else Result("pass")


def _replay(op, n, lib, requires_grad, run_sample):
    """Run up to `n` torch-accepted samples; stop at the first failure."""
    lib = target_lib() if lib is None else lib
    target = resolve(op, lib)
    method = None if requires_grad else resolve_method(op, lib)
    if method is not None and method.api in target.api.split(", "):
        method = None  # the op already is the method (e.g. a lambda calling x.view)
    missing = target.missing + (method.missing if method else ())
    if missing:
        return Result("missing", missing_message(missing, lib))
    if method is not None:  # forward also checks the method spelling, same samples
        run_sample = functools.partial(run_sample, method=method)
    done = 0
    samples = itertools.islice(iter_samples(op, requires_grad), 5 * n)
    while done < n:
        try:
            sample = next(samples)
        except StopIteration:
            break
        except Exception as exc:  # torch's sample generator itself broke
            return Result("nosamples", f"sample generation failed: {error_message(exc)}")
        try:
            res = run_sample(op, target, sample, lib)
        except Exception as exc:  # a comparison the harness cannot make
            return Result("fail", f"harness error: {error_message(exc)}", done)
        if res is _SKIP or res is None:
            continue
        if res.status != "pass":
            res.samples, res.sample = done, describe(sample)
            return res
        done += 1
    if done == 0:
        kind = "differentiable " if requires_grad else ""
        return Result("nosamples", f"no torch-accepted {kind}samples")
    return Result("pass", samples=done)


def replay_forward(op, n=DEFAULT_SAMPLES, lib=None):
    """Compare forward outputs of `op` on up to `n` samples."""
    return _replay(op, n, lib, False, _forward_sample)


def replay_gradient(op, n=DEFAULT_SAMPLES, lib=None):
    """Compare vector-Jacobian products of `op` on up to `n` samples."""
    if not gradient_applicable(op):
        return Result("n/a", "torch does not differentiate this op at float32")
    return _replay(op, n, lib, True, _gradient_sample)
