"""`jtorch run script.py`: unmodified PyTorch scripts with `import torch` → jtorch."""
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(tmp_path, source, *args, name="script.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "jtorch", "run", str(script), *args],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def test_run_script_with_torch_imports(tmp_path):
    r = run(tmp_path, """\
        import sys
        import torch
        import torch.nn.functional as F
        import torch.utils.data
        from torch.utils.data import DataLoader
        import jtorch
        print(torch.tensor([1., 2.]).sum())
        print(torch is jtorch, torch.utils.data is jtorch.utils.data, __name__, sys.argv[1:])
        assert DataLoader is jtorch.utils.data.DataLoader
        assert torch.cuda.is_available() is False and torch.jit.is_scripting() is False
        assert torch.nn is jtorch.nn and torch.testing is jtorch.testing
        assert jtorch.utils.data.__spec__.name == "jtorch.utils.data"
        """, "--lr", "0.1", "-v")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["tensor(3.)", "True True __main__ ['--lr', '0.1', '-v']"]


def test_run_missing_api_one_line(tmp_path):
    r = run(tmp_path, """\
        import torch

        x = torch.ones(2)
        def helper(t):
            return torch.definitely_missing_fn(t)
        y = helper(x)
        """)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "torch.definitely_missing_fn" in lines[0]
    assert f"{tmp_path / 'script.py'}:5" in lines[0]


def test_run_missing_submodule_and_fallbacks(tmp_path):
    """A missing torch.<sub> is an ImportError (fallbacks work) and, uncaught, the one-line
    report; a NotImplementedError from the user's own code is not jtorch's business."""
    r = run(tmp_path, """\
        try:
            import torch.definitely_missing_module
        except ImportError:
            print("fallback")
        class Base:
            def f(self):
                raise NotImplementedError("user's own abstract method")
        try:
            Base().f()
        except NotImplementedError as e:
            print(e)
        import torch.definitely_missing_module
        """)
    assert r.returncode == 1
    assert r.stdout.splitlines() == ["fallback", "user's own abstract method"]
    assert r.stderr.strip().splitlines() == [
        f"jtorch run: {tmp_path / 'script.py'}:12: torch.definitely_missing_module is not "
        "implemented in jtorch"]


def test_only_jtorch_limits_become_one_liners():
    import jtorch
    from jtorch import _alias

    def user():
        raise NotImplementedError("mine")
    for fn, expected in ((user, False), (lambda: jtorch.definitely_missing_fn, True)):
        try:
            fn()
        except NotImplementedError as e:
            assert _alias._is_jtorch_limit(e) is expected
            assert _alias._where(e, __file__)[0] == __file__


def test_run_dataloader_workers(tmp_path):
    """Workers re-import the script: `import torch` must resolve there too."""
    r = run(tmp_path, """\
        import torch
        from torch.utils.data import DataLoader, Dataset

        class DS(Dataset):
            def __len__(self):
                return 4
            def __getitem__(self, i):
                return torch.tensor([i, i + 0.5])

        if __name__ == "__main__":
            print([b.tolist() for b in DataLoader(DS(), batch_size=2, num_workers=2)])
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[[[0.0, 0.5], [1.0, 1.5]], [[2.0, 2.5], [3.0, 3.5]]]"


def test_cli_version_still_works(capsys):
    from jtorch import _cli
    assert _cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("jtorch ")


@pytest.mark.parametrize("missing", ["torch.cuda.nope", "torch.jit.nope", "torch.utils.nope"])
def test_namespaces_name_missing_apis(missing):
    import jtorch.cuda, jtorch.jit, jtorch.utils  # noqa: E401,F401
    from jtorch._errors import NotImplementedAPIError
    mod, attr = missing.rsplit(".", 1)
    ns = __import__("j" + mod, fromlist=["x"])
    with pytest.raises(NotImplementedAPIError, match=missing.replace(".", r"\.")):
        getattr(ns, attr)


# ----------------------------------------------- namespaces scripts touch (CPU machine)
def test_cuda_namespace_on_cpu_matches_torch_cpu_build():
    import torch
    import jtorch
    import jtorch.cuda
    for name in ("is_available", "device_count"):
        assert getattr(jtorch.cuda, name)() == getattr(torch.cuda, name)(), name
    # the memory API reports the live-array account even without a GPU (torch's CPU build
    # says 0), so memory_allocated()-based leak hunting works anywhere: test_memory_api.py
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved"):
        assert isinstance(getattr(jtorch.cuda, name)(), int) and getattr(jtorch.cuda, name)() >= 0
    for name in ("current_device", "synchronize", "get_device_name"):
        with pytest.raises(AssertionError):
            getattr(jtorch.cuda, name)()
    jtorch.cuda.empty_cache()
    jtorch.cuda.manual_seed_all(11)
    a = jtorch.rand(3)
    jtorch.cuda.manual_seed(11)
    assert a.tolist() == jtorch.rand(3).tolist()
    start, end = jtorch.cuda.Event(enable_timing=True), jtorch.cuda.Event(enable_timing=True)
    start.record()
    end.record()
    assert end.elapsed_time(start) <= 0 <= start.elapsed_time(end)


def test_backends_flags_are_settable():
    import torch
    import jtorch
    import jtorch.backends
    b = jtorch.backends
    for mod, name in ((b.cudnn, "benchmark"), (b.cudnn, "deterministic"),
                      (b.cudnn, "enabled"), (b.cudnn, "allow_tf32")):
        assert getattr(mod, name) == getattr(getattr(torch.backends, mod.__name__.split(".")[-1]),
                                             name)
        old = getattr(mod, name)
        setattr(mod, name, not old)
        assert getattr(mod, name) is (not old)
        setattr(mod, name, old)
    assert b.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
    assert b.mps.is_available() is False and b.cudnn.is_available() is False
    with b.cudnn.flags(enabled=False, deterministic=True):
        assert b.cudnn.deterministic is True
    assert b.cudnn.deterministic is False


def test_jit_is_identity():
    import jtorch
    import jtorch.jit as jit

    def f(x):
        return x * 2
    assert jit.script(f) is f and jit.trace(f, (jtorch.ones(1),)) is f
    assert jit.ignore(f) is f and jit.ignore(drop=True)(f) is f
    assert jit.unused(f) is f and jit.export(f) is f
    assert jit.is_scripting() is False and jit.is_tracing() is False
    assert jit.annotate(int, 3) == 3 and jit.wait(jit.fork(f, 4)) == 8
    from typing import Final
    assert jit.Final is Final
