"""`jtorch bench`: the workloads are the same math on every framework, and the measuring
machinery produces a complete, well-formed result (tiny settings: W1, a step or two)."""
import json
import math

import numpy as np
import pytest
import torch

from benchmarks import bench, columns, workloads
from jtorch._cli import main as cli_main

STEPS = 3


def _torch_init(name):
    model = workloads.build(torch, name)[0]
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _losses(column, name, state, steps=STEPS):
    cell = columns.make(column, name, torch_state=state)
    out = []
    for _ in range(steps):
        cell.step()
        out.append(cell.loss())
    return out


@pytest.mark.parametrize("column", ["jtorch-eager", "jtorch-compiled", "flax"])
def test_w1_losses_match_torch_from_identical_weights(column):
    # Three SGD+momentum steps: losses 2 and 3 only agree if gradients and the momentum
    # update agree too, so this pins the whole training step, not just the forward.
    state = _torch_init("W1")
    expected = _losses("torch-eager", "W1", state)
    got = _losses(column, "W1", state)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-5)
    assert expected[0] != expected[-1]  # the step really trains


@pytest.mark.parametrize("name", ["W2", "W3"])
def test_flax_cnn_and_gpt_match_torch_from_identical_weights(name):
    # The limit column is the same math for the conv net (NHWC, flatten order) and the GPT
    # (fused qkv split, causal attention, exact GELU, AdamW) too.
    state = _torch_init(name)
    expected = _losses("torch-eager", name, state, steps=2)
    np.testing.assert_allclose(_losses("flax", name, state, steps=2), expected,
                               rtol=2e-5, atol=2e-5)


def test_fresh_inits_have_torch_scale():
    # Independent inits (no weight copy): same distributions => similar initial loss.
    import jax
    from benchmarks import flax_workloads
    params = flax_workloads.build("W1")[0]
    w = np.asarray(params["fc0"]["kernel"])
    bound = 784 ** -0.5
    assert w.shape == (784, 512) and np.abs(w).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert jax.tree.structure(params) == jax.tree.structure(
        flax_workloads.params_from_torch("W1", _torch_init("W1")))


def test_bench_run_writes_complete_results(tmp_path, capsys):
    js, png = tmp_path / "r.json", tmp_path / "r.png"
    cols = ["jtorch-eager", "jtorch-compiled", "flax", "torch-eager"]
    lines = []
    bench.run(["W1"], cols, out_json=str(js), out_png=str(png), progress=lines.append,
              rounds=2, steps=1, round_seconds=0, warmup=1, warm_seconds=0,
              rewarm_seconds=0, first_calls=2)
    res = json.loads(js.read_text())
    assert res["schema"] == bench.SCHEMA
    assert list(res["workloads"]) == ["W1"]
    w1 = res["workloads"]["W1"]
    assert list(w1["columns"]) == cols
    for c, r in w1["columns"].items():
        assert r["available"], (c, r.get("error"))
        # every process trains the same number of steps; the targets' pair runs in two
        # processes each (first_calls=2), whose samples are pooled
        n = 2 if c in bench.FIRST_CALL_COLUMNS else 1
        per_process = r.get("step_s_by_process", [r["step_s"]])
        assert [len(s) for s in per_process] == [2] * n
        assert sorted(r["step_s"]) == sorted(s for p in per_process for s in p)
        assert r["step_s_median"] == pytest.approx(np.median(r["step_s"]))
        assert [len(w) for w in r["rewarm_s"]] == [1, 1] * n  # rewarm_seconds=0: one step
        for key in ("step_s_median", "first_call_s", "peak_mem_bytes"):
            assert math.isfinite(r[key]) and r[key] > 0, (c, key, r[key])
        assert r["mem_method"] in res["meta"]["memory_methods"]
        # every column trains the same model from the same seed-0 data: similar losses
        assert abs(r["loss"] - w1["columns"]["torch-eager"]["loss"]) < 0.1
    ratios = w1["ratios"]
    for key in ("compiled_vs_flax", "compiled_first_call_vs_flax", "eager_vs_torch"):
        assert math.isfinite(ratios[key]) and ratios[key] > 0
    assert set(ratios["targets_met"]) == set(bench.TARGETS)
    # the first-call target's pair is sampled in two fresh processes each; the median counts
    for c, r in w1["columns"].items():
        n = 2 if c in bench.FIRST_CALL_COLUMNS else 1
        assert len(r["first_call_samples_s"]) == n
        assert r["first_call_s"] == pytest.approx(np.median(r["first_call_samples_s"]))
    # one progress line per first-call sample and per cell's median
    assert sum("first call" in m for m in lines) == len(cols) + len(bench.FIRST_CALL_COLUMNS)
    assert sum("ms/step" in m for m in lines) == len(cols)
    out = capsys.readouterr().out
    assert "jtorch.compile / flax" in out and "PyTorch eager" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_round_runs_more_steps_until_round_seconds():
    res = bench.measure(["W1"], ["flax"], rounds=2, steps=1, round_seconds=0.05, warmup=0,
                        warm_seconds=0, rewarm_seconds=0, first_calls=1,
                        progress=lambda m: None)
    r = res["workloads"]["W1"]["columns"]["flax"]
    # each round: at least one step, then more until 0.05 s (a W1 step takes a few ms)
    assert len(r["step_s"]) > 2 and sum(r["step_s"]) >= 2 * 0.05
    assert r["step_s_median"] == pytest.approx(np.median(r["step_s"]))


def test_failing_column_is_reported_not_fatal(monkeypatch):
    # A column whose process cannot start its library reports the error; the rest still run.
    monkeypatch.setenv("JAX_PLATFORMS", "no_such_platform")
    res = bench.measure(["W1"], ["flax", "torch-eager"], rounds=1, steps=1, warmup=0,
                        warm_seconds=0, rewarm_seconds=0, progress=lambda m: None)
    cols = res["workloads"]["W1"]["columns"]
    assert not cols["flax"]["available"] and "no_such_platform" in cols["flax"]["error"]
    assert cols["torch-eager"]["available"] and cols["torch-eager"]["step_s_median"] > 0
    assert res["workloads"]["W1"]["ratios"]["compiled_vs_flax"] is None


def test_cli_rejects_unknown_names(capsys):
    for argv in (["bench", "--workloads", "W9"], ["bench", "--columns", "tensorflow"]):
        with pytest.raises(SystemExit) as e:
            cli_main(argv)
        assert e.value.code == 2
    assert "unknown column 'tensorflow'" in capsys.readouterr().err


def test_the_target_pair_starts_in_thue_morse_order():
    """A process started earlier ran its steps slower on this machine; with 2, 4 or 8
    processes each, both columns get the same sum of start places."""
    for n in (2, 4, 8):
        order = ["A", "B"] + bench._start_order(["A", "B"], n)
        assert order.count("A") == order.count("B") == n
        assert sum(i for i, c in enumerate(order) if c == "A") == \
            sum(i for i, c in enumerate(order) if c == "B")
    assert "".join(["A", "B"] + bench._start_order(["A", "B"], 4)) == "ABBABAAB"
    assert bench._start_order(["A"], 3) == ["A", "A"]


class _FakeWorker:
    """Stands in for a cell process: logs starts and closes, answers like `cell.py`."""
    log, alive, n = [], set(), 0

    def __init__(self, workload, column, warmup, env_extra):
        cls = _FakeWorker
        cls.n += 1
        self.column, self.id = column, cls.n
        warm = float(env_extra["JTORCH_BENCH_WARM_SECONDS"])
        cls.log.append(("start", column, len(cls.alive), (warmup, warm)))
        cls.alive.add(self.id)

    def answer(self, timeout):
        # first calls 1, 2, 3, ... in start order: the medians show which processes count
        return {"ready": {"first_call_s": float(self.id), "build_s": 0.1, "warmup_s": [],
                          "device": "cpu"}}

    def ask(self, cmd, timeout):
        if cmd == "done":
            return {"loss": 1.0, "peak_rss_delta_bytes": 1, "device_peak_bytes": None}
        return {"step_s": [float(self.id)], "rewarm_s": [0.0]}

    def close(self):
        if self.id in _FakeWorker.alive:
            _FakeWorker.alive.discard(self.id)
            _FakeWorker.log.append(("close", self.column))


def test_first_calls_run_alone_and_steps_side_by_side(monkeypatch):
    # A process started while others stayed alive page-faulted its compiler's memory in at a
    # higher cost here, so first calls are timed in processes that run alone; the step
    # processes are a second set that stays alive for the interleaved rounds.
    monkeypatch.setattr(bench, "_Worker", _FakeWorker)
    monkeypatch.setattr(_FakeWorker, "log", [])
    monkeypatch.setattr(_FakeWorker, "alive", set())
    monkeypatch.setattr(_FakeWorker, "n", 0)
    res = bench.measure(["W1"], ["jtorch-eager", "jtorch-compiled", "flax"], rounds=1,
                        steps=1, first_calls=2, progress=lambda m: None)
    starts = [e for e in _FakeWorker.log if e[0] == "start"]
    first, steps = starts[:5], starts[5:]
    # phase 1: one of each column, then the pair's extra samples (B A: Thue-Morse places
    # 2 and 3), each started with nothing else alive and closed before the next starts
    assert [e[1] for e in first] == ["jtorch-eager", "jtorch-compiled", "flax", "flax",
                                     "jtorch-compiled"]
    assert [e[2] for e in first] == [0] * 5
    assert [e[0] for e in _FakeWorker.log[:10]] == ["start", "close"] * 5
    # ... and without warm-up steps (they end after their first call)
    assert [e[3] for e in first] == [(0, 0.0)] * 5
    # phase 2: the same order, each new process joining those already started, warmed up
    assert [e[1] for e in steps] == [e[1] for e in first]
    assert [e[2] for e in steps] == [0, 1, 2, 3, 4]
    assert [e[3] for e in steps] == [(bench.MODES["quick"]["warmup"],
                                      bench.MODES["quick"]["warm_seconds"])] * 5
    cols = res["workloads"]["W1"]["columns"]
    # first calls come from phase 1 only (processes 1-5), steps from phase 2 (6-10)
    assert cols["jtorch-eager"]["first_call_samples_s"] == [1.0]
    assert cols["jtorch-compiled"]["first_call_samples_s"] == [2.0, 5.0]
    assert cols["flax"]["first_call_samples_s"] == [3.0, 4.0]
    assert cols["flax"]["first_call_s"] == 3.5
    assert cols["jtorch-compiled"]["step_s_by_process"] == [[7.0], [10.0]]
    assert cols["flax"]["step_s_by_process"] == [[8.0], [9.0]]
    assert not _FakeWorker.alive  # every process is closed at the end
