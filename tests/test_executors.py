"""Executors: a process pool gives, point for point, what the serial executor gives on the same chunk."""
import pickle

import numpy as np
import pytest

import sx_model
from conftest import ROOT
from sx_model.studies.executors import ProcessExecutor, SerialExecutor


def test_errors_survive_pickling():
    err = sx_model.ConfigError("streams.feed.flow", "'x' is not a flow")
    back = pickle.loads(pickle.dumps(err))
    assert (back.key, str(back)) == (err.key, str(err))
    conv = sx_model.ConvergenceError("did not converge", residual_norm=1.5, worst_stage=3,
                                     worst_component="Nd balance", iterations=7,
                                     best_iterate={"aqueous": np.ones((2, 2))}, diagnostics={"a": 1})
    back = pickle.loads(pickle.dumps(conv))
    assert str(back) == str(conv) and back.worst_stage == 3 and back.diagnostics == {"a": 1}
    np.testing.assert_array_equal(back.best_iterate["aqueous"], np.ones((2, 2)))


def test_a_batch_is_cut_into_contiguous_chains_balanced_by_estimated_cost():
    from sx_model.studies.executors import cold_extra, plan, weight_of_size

    # warm batches: one chain per worker, the dearest as cheap as it can be
    assert plan([1.0] * 200, 2) == [(0, 100), (100, 200)]
    assert plan([1.0] * 8, 3) == [(0, 3), (3, 6), (6, 8)]
    assert plan([1.0], 2) == [(0, 1)] and plan([], 2) == []
    # costs growing along the batch: the first chain takes more points than the second, and no other
    # cut into two makes the dearer chain cheaper (each chain paying for its cold start)
    growing = [weight_of_size(20 + m, 2) for m in range(10, 210)]
    (a, b), (c, d) = plan(growing, 2)
    assert a == 0 and b == c and d == 200 and b > 100

    def dearer(k):
        return max(cold_extra(growing[0]) + sum(growing[:k]), cold_extra(growing[k]) + sum(growing[k:]))
    assert dearer(b) <= min(dearer(k) for k in range(1, 200)) + 1e-9
    # items that are already errors cost nothing; a batch whose items all cost nothing is cut by count
    assert plan([0.0] * 10 + [1.0] * 10, 2) == [(0, 15), (15, 20)]
    assert plan([0.0] * 6, 2) == [(0, 3), (3, 6)]
    # cold batches (no warm starts to keep): up to 16 chunks per worker, none shorter than 4 solves
    cold = plan([1.0] * 1000, 2, warm=False)
    assert len(cold) == 32 and max(b - a for a, b in cold) <= 32 and cold[-1][1] == 1000
    assert plan([1.0] * 40, 2, warm=False) == [(k, k + 4) for k in range(0, 40, 4)]
    for ranges in (plan(growing, 5), cold, plan([1.0] * 3, 8), plan([5.0, 1.0, 1.0, 1.0], 2)):
        assert ranges[0][0] == 0 and all(b > a for a, b in ranges)
        assert all(ranges[k][1] == ranges[k + 1][0] for k in range(len(ranges) - 1))
    assert plan([5.0, 1.0, 1.0, 1.0], 2) == [(0, 1), (1, 4)]


def test_the_sweep_estimates_costs_as_the_built_cascades_give_them():
    # a local pool (which reads the sweep's estimate without building the cascades) and a Dask cluster
    # or a built list (which weigh the cascades themselves) cut a sweep the same way
    from sx_model.config.edits import variable
    from sx_model.studies.executors import solve_weight
    from sx_model.studies.sweep import _Batch

    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    items = [("sections.scrub.stages", [12, 90], variable("sections.scrub.stages", base)),
             ("sections.extraction.stages", [5, 40], variable("sections.extraction.stages", base)),
             ("streams.organic.flow", ["40 L/min", "44 L/min"], variable("streams.organic.flow", base))]
    import itertools

    grid = list(itertools.product(*[values for _, values, _ in items]))
    batch = _Batch(base, items, grid)
    assert batch.weights() == [solve_weight(batch.at(i)) for i in range(len(grid))]
    assert solve_weight(batch.at(0)) < solve_weight(batch.at(len(grid) - 1))


def test_process_pool_sweep_equals_serial_chunks_bit_for_bit():
    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    cascades = [base.replace(stages={"scrub": m}) for m in range(14, 30)]
    bad = base.replace(flows={"organic": 1e-9})           # cannot pass the organic: an error outcome
    cascades.insert(5, bad)
    pool = ProcessExecutor(workers=2)
    parallel = list(pool.map(cascades))
    serial = [o for chunk in pool.chunks(cascades) for o in SerialExecutor().map(chunk)]
    assert len(parallel) == len(serial) == len(cascades)
    for p, s in zip(parallel, serial):
        assert type(p) is type(s)
        if isinstance(p, Exception):
            assert str(p) == str(s)
        else:
            np.testing.assert_array_equal(p.aqueous, s.aqueous)
            np.testing.assert_array_equal(p.organic, s.organic)
    # and they agree with one serial run over the whole batch to the solver's tolerance
    whole = list(SerialExecutor().map(cascades))
    for p, s in zip(parallel, whole):
        if not isinstance(p, Exception):
            np.testing.assert_allclose(p.aqueous, s.aqueous, rtol=1e-9, atol=1e-12 * s.aqueous.max())


def test_sweep_through_a_process_pool():
    result = sx_model.sweep(ROOT / "configs" / "prnd_p507.yaml", {"sections.scrub.stages": [20, 22, 24, 26]},
                            executor=ProcessExecutor(workers=2), progress=False)
    assert [p["ok"] for p in result.points] == [True] * 4
    purities = [p["products"]["loaded_organic"]["purity"] for p in result.points]
    assert purities == sorted(purities)


@pytest.mark.parametrize("forks", [True, False], ids=["forked", "spawned"])
def test_pooled_workers_equal_serial_chains(monkeypatch, forks):
    """Forked workers are handed index ranges of the sweep's grid and build the cascades themselves;
    where a process cannot fork (or runs other threads), workers are spawned and get their cascades
    through the pipe. Either way the outcomes are those of the serial chains, bit for bit."""
    from sx_model.studies import executors

    if not forks:
        monkeypatch.setattr(executors, "_forks", lambda: False)
    config = ROOT / "configs" / "prnd_p507.yaml"
    counts = list(range(10, 80))
    pool = ProcessExecutor(workers=2)
    parallel = sx_model.sweep(config, {"sections.scrub.stages": counts}, executor=pool, progress=False)
    base = sx_model.load_config(config)
    cascades = [base.replace(stages={"scrub": m}) for m in counts]
    serial = [o for chunk in pool.chunks(cascades) for o in SerialExecutor().map(chunk)]
    assert len(pool.chunks(cascades)) == 2 and len(parallel.results) == len(serial) == 70
    for p, s in zip(parallel.results, serial):
        np.testing.assert_array_equal(p.aqueous, s.aqueous)


def test_a_worker_that_dies_is_reported_not_waited_for():
    import multiprocessing
    import os
    import signal

    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    cascades = [base.replace(stages={"scrub": 10 + m % 100}) for m in range(600)]
    outcomes = ProcessExecutor(workers=3).map_indexed(cascades)
    next(outcomes)
    workers = multiprocessing.active_children()
    assert len(workers) == 2                      # this process is the third
    os.kill(workers[0].pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="stopped unexpectedly"):
        for _ in outcomes:
            pass
    workers[1].join(10.0)
    assert not workers[1].is_alive()


def test_stopping_early_stops_the_workers():
    import multiprocessing

    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    cascades = [base.replace(stages={"scrub": 10 + m % 50}) for m in range(400)]
    outcomes = ProcessExecutor(workers=2).map(cascades)
    first = next(outcomes)
    assert first.converged
    import time

    outcomes.close()                       # as Ctrl-C in the caller does
    deadline = time.monotonic() + 10.0
    while [p for p in multiprocessing.active_children() if p.is_alive()] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


dask_missing = None
try:
    import distributed  # noqa: F401
except ImportError:       # an optional extra: pip install "dask[distributed]"
    dask_missing = "Dask distributed is not installed (pip install \"dask[distributed]\")"


@pytest.mark.skipif(dask_missing is not None, reason=dask_missing or "")
def test_a_sweep_through_a_dask_local_cluster_equals_the_process_pool():
    from distributed import Client, LocalCluster

    from sx_model.studies.executors import DaskExecutor

    config = ROOT / "configs" / "prnd_p507.yaml"
    vary = {"sections.scrub.stages": list(range(10, 90))}
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster, Client(cluster) as client:
        executor = DaskExecutor(client)
        assert executor.threads() == 2
        dask = sx_model.sweep(config, vary, executor=executor, progress=False)
        address = cluster.scheduler_address
        with DaskExecutor(address) as by_address:            # as --scheduler ADDRESS connects
            again = sx_model.sweep(config, {"sections.scrub.stages": [20, 24]}, executor=by_address,
                                   progress=False)
    local = sx_model.sweep(config, vary, executor=ProcessExecutor(workers=2), progress=False)
    assert not dask.failed and len(dask.results) == 80
    for d, p in zip(dask.results, local.results):
        np.testing.assert_array_equal(d.aqueous, p.aqueous)
        np.testing.assert_array_equal(d.organic, p.organic)
    assert [p["ok"] for p in again.points] == [True, True]


@pytest.mark.skipif(dask_missing is not None, reason=dask_missing or "")
def test_an_unreachable_scheduler_is_one_line_exit_2(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "sx_model", "sweep", str(ROOT / "configs" / "prnd_p507.yaml"),
                          "--vary", "sections.scrub.stages=10:12", "--scheduler", "tcp://127.0.0.1:9"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "--scheduler" in run.stderr and "cannot connect" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_dask_the_scheduler_option_says_how_to_install(monkeypatch):
    import builtins

    from sx_model.studies.executors import DaskExecutor

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("no module named distributed")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(sx_model.ConfigError, match=r'pip install "dask\[distributed\]"'):
        DaskExecutor("tcp://127.0.0.1:8786")


def _interruptible():
    """In the child before it runs: Ctrl-C as at a terminal. A test run started in the background of a
    non-interactive shell inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    handler (as it should: a command started that way is not meant to be interrupted)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_the_finished_points(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sx_model", "sweep", str(ROOT / "configs" / "prnd_p507.yaml"),
                             "--vary", "streams.organic.flow=40:46:0.001 L/min", "--out", str(out),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, preexec_fn=_interruptible)
    # checking the 6001 values takes 3-6 s (before that Ctrl-C finds no points), solving them 18-25 s
    time.sleep(12)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after" in err and len(err.strip().splitlines()) == 1
    data = json.loads((out / "sweep.json").read_text())
    assert data["interrupted"] is True and 0 < len(data["points"]) < 6001
    assert len((out / "sweep.csv").read_text().splitlines()) == len(data["points"]) + 1


class _StopAfter:
    """An executor that passes on ``after`` outcomes of a process pool and then raises
    KeyboardInterrupt, as Ctrl-C does in the middle of a sweep."""

    def __init__(self, pool, after):
        self.pool, self.after = pool, after

    def solve(self, cascade):
        return self.pool.solve(cascade)

    def map_indexed(self, batch):
        inner = self.pool.map_indexed(batch)
        try:
            for k, pair in enumerate(inner):
                if k == self.after:
                    raise KeyboardInterrupt
                yield pair
        finally:
            inner.close()


def test_an_interrupted_pooled_sweep_keeps_every_finished_point():
    import multiprocessing
    import time

    from sx_model.studies.sweep import _Batch

    config = ROOT / "configs" / "prnd_p507.yaml"
    counts = list(range(10, 170))
    vary = {"sections.scrub.stages": counts}
    pool = ProcessExecutor(workers=2)
    whole = sx_model.sweep(config, vary, executor=pool, progress=False)
    cut = sx_model.sweep(config, vary, executor=_StopAfter(pool, 100), progress=False)
    assert cut.interrupted and not whole.interrupted and len(cut.points) == 100
    # the finished points, in grid order, each exactly as in the whole run; of each chain the first ones
    kept = [counts.index(p["values"][0]) for p in cut.points]
    assert kept == sorted(kept) == cut.indices and whole.indices == list(range(len(counts)))
    for k, point, result in zip(kept, cut.points, cut.results):
        assert point == whole.points[k]
        np.testing.assert_array_equal(result.aqueous, whole.results[k].aqueous)
    base = sx_model.load_config(config)
    for a, b in pool.plan(_Batch(base, [(label, values, None) for label, values in vary.items()],
                                 [(m,) for m in counts])):
        mine = [k for k in kept if a <= k < b]
        assert mine == list(range(a, a + len(mine)))
    deadline = time.monotonic() + 10.0
    while [p for p in multiprocessing.active_children() if p.is_alive()] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


def test_ctrl_c_on_a_pooled_sweep_writes_the_finished_points(tmp_path):
    # Ctrl-C at a terminal goes to the whole process group: the parent and its workers
    import json
    import os
    import pathlib
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sx_model", "sweep", str(ROOT / "configs" / "prnd_p507.yaml"),
                             "--vary", "streams.organic.flow=40:46:0.002 L/min", "--out", str(out),
                             "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True, preexec_fn=_interruptible)
    if not pathlib.Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        proc.kill()
        pytest.skip("this system does not list a process's children in /proc")
    children = pathlib.Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers = []
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and proc.poll() is None:
            workers = children.read_text().split()
            if workers:                        # the sweep process solves too: one more process
                break
            time.sleep(0.05)
        assert workers, f"the sweep did not start its worker process: {proc.communicate()[1]}"
        time.sleep(1.5)                        # the workers are solving
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and len(err.strip().splitlines()) == 1
    data = json.loads((out / "sweep.json").read_text())
    flows = [float(p["values"][0].split()[0]) for p in data["points"]]
    assert data["interrupted"] is True and 0 < len(flows) < 3001 and flows == sorted(flows)
    assert all(p["ok"] and p["converged"] for p in data["points"])
    # points of both chains (40-43 L/min in this process, 43.002-46 in the other), not only the first
    assert flows[0] == 40.0 and flows[-1] > 43.0
    assert len((out / "sweep.csv").read_text().splitlines()) == len(flows) + 1
    for pid in workers:                         # the workers are gone
        assert not pathlib.Path(f"/proc/{pid}").exists() or \
            pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_a_curve_on_two_processes_equals_the_serial_curve():
    from sx_model.studies.problem import Targets

    targets = Targets(purity_a=0.999, purity_b=0.999)
    totals = [40, 50, 60, 70]
    serial = sx_model.curve(ROOT / "configs" / "prnd_p507.yaml", targets, totals)
    parallel = sx_model.curve(ROOT / "configs" / "prnd_p507.yaml", targets, totals,
                              executor=ProcessExecutor(workers=2))
    assert parallel.to_dict() == serial.to_dict()


@pytest.mark.skipif(dask_missing is not None, reason=dask_missing or "")
def test_a_curve_through_a_dask_local_cluster_equals_the_serial_curve():
    from distributed import Client, LocalCluster

    from sx_model.studies.executors import DaskExecutor
    from sx_model.studies.problem import Targets

    targets = Targets(purity_a=0.999, purity_b=0.999)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster, Client(cluster) as client:
        dask = sx_model.curve(ROOT / "configs" / "prnd_p507.yaml", targets, [40, 60], executor=DaskExecutor(client))
    serial = sx_model.curve(ROOT / "configs" / "prnd_p507.yaml", targets, [40, 60])
    assert dask.to_dict() == serial.to_dict()
