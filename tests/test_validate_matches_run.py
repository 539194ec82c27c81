"""``validate`` refuses exactly what ``run`` refuses before solving: same exit code, same message.

Every bad-input case of the two bad-input suites goes through both commands; so do the cases that
only a solve used to find (an organic that cannot be loaded at the scrub-acid stage, scrub acid that
strips more than the organic carries, saponification base beyond the chloride reaching stage 1, a
stage one phase does not pass).
"""
import copy

import pytest
import yaml

import test_bad_input as bad
import test_chemistry_input as chem
from sx_model.cli import main


@pytest.fixture(scope="module")
def base_config():
    return yaml.safe_load(bad.BASE_PATH.read_text(encoding="utf-8"))


def verdicts(capsys, tmp_path, data):
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = []
    for command in ("validate", "run"):
        code = main([command, str(path)])
        err = capsys.readouterr().err
        out.append((code, err if code else ""))
    return out


@pytest.mark.parametrize("path, value, key, quoted, expected", bad.CASES)
def test_layout_cases(capsys, tmp_path, base_config, path, value, key, quoted, expected):
    data = copy.deepcopy(base_config)
    bad._set(data, path, value)
    validate, run = verdicts(capsys, tmp_path, data)
    assert validate == run
    assert validate[0] == 2


@pytest.mark.parametrize("changes, keys, value", chem.CASES)
def test_chemistry_cases(capsys, tmp_path, changes, keys, value):
    validate, run = verdicts(capsys, tmp_path, chem.mutate(copy.deepcopy(chem.BASE), changes))
    assert validate == run
    assert validate[0] == 2


SOLVE_TIME_CASES = [
    pytest.param({("streams", "scrub", "acid"): "400 mol/L"}, "streams", id="scrub-acid-strips-more-than-carried"),
    pytest.param({("streams", "organic", "flow"): "400 L/min"}, "streams.organic.flow",
                 id="organic-cannot-be-loaded"),
    pytest.param({("sections", "scrub", "stages"): 3, ("streams", "scrub", "flow"): "1e-30 L/min",
                  ("streams", "scrub", "acid"): "0 mol/L"}, None, id="scrub-almost-no-flow"),
]


@pytest.mark.parametrize("changes, key", SOLVE_TIME_CASES)
def test_cases_a_solve_used_to_find(capsys, tmp_path, base_config, changes, key):
    data = chem.mutate(copy.deepcopy(base_config), changes)
    validate, run = verdicts(capsys, tmp_path, data)
    assert validate == run
    if key is not None:
        assert validate[0] == 2 and key in validate[1]


def test_saponification_beyond_chloride(capsys, tmp_path):
    data = chem.mutate(copy.deepcopy(chem.BASE), {chem.EXT + ("saponification",): 1.0,
                                                  ("streams", "organic", "flow"): "20 L/min"})
    validate, run = verdicts(capsys, tmp_path, data)
    assert validate == run
    assert validate[0] == 2 and "saponification" in validate[1]


def test_a_swept_value_is_refused_as_the_same_value_in_a_config(base_config):
    """Edits made on the cascade object are checked as a loaded config is: same message."""
    import sx_model

    data = chem.mutate(copy.deepcopy(base_config), {("streams", "scrub", "acid"): "400 mol/L"})
    with pytest.raises(sx_model.ConfigError) as loaded:
        sx_model.load_config(data)
    swept = sx_model.sweep(base_config, {"streams.scrub.acid": ["400 mol/L", "4 mol/L"]}, progress=False)
    assert [p["ok"] for p in swept.points] == [False, True]
    assert swept.points[0]["error"] == str(loaded.value)
