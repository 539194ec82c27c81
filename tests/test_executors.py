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


def test_chunks_are_contiguous_and_balanced():
    pool = ProcessExecutor(workers=3)
    assert pool.chunks(list(range(8))) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert pool.chunks([1]) == [[1]]


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
