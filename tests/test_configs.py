"""Every bundled config validates, solves and closes its mass balance; the claims in their comments hold."""
import numpy as np
import pytest

import sx_model
from conftest import CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_solves_and_closes(path):
    cascade = sx_model.load_config(path)
    result = sx_model.solve(cascade)
    assert result.converged
    assert result.mass_balance_error <= 1e-9
    assert np.all(np.isfinite(result.aqueous)) and np.all(result.aqueous >= 0)
    assert np.all(np.isfinite(result.organic)) and np.all(result.organic >= 0)


def test_prnd_default_meets_its_claim(root):
    result = sx_model.solve(sx_model.load_config(root / "configs" / "prnd_p507.yaml"))
    assert result.products["loaded_organic"].purity >= 0.995
    assert result.products["raffinate"].purity >= 0.99


def test_light_ree_split_meets_its_claim(root):
    result = sx_model.solve(sx_model.load_config(root / "configs" / "lace_prnd_p507.yaml"))
    assert result.products["loaded_organic"].purity >= 0.999
    assert result.products["raffinate"].purity >= 0.999


def test_group_split_meets_its_claim(root):
    cascade = sx_model.load_config(root / "configs" / "ree_group_split.yaml")
    assert cascade.stage_count >= 80 and len(cascade.components) == 15
    result = sx_model.solve(cascade)
    assert result.products["loaded_organic"].purity >= 0.999
    assert result.products["raffinate"].purity >= 0.999
