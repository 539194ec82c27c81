"""Cost items against hand calculations, and cost against stage count."""
import copy

import numpy as np
import pytest

import sx_model
from sx_model.config import read_yaml
from sx_model.cost import (DEFAULTS, capital_recovery_factor, cascade_cost, organic_price_per_m3,
                           stage_cost, stage_volumes)

P = {k: v[0] for k, v in DEFAULTS.items()}


def test_capital_recovery_factor_by_hand():
    # i = 8 %, L = 15 yr: 0.08 * 1.08^15 / (1.08^15 - 1) = 0.08 * 3.172169 / 2.172169 = 0.116830
    assert capital_recovery_factor(0.08, 15) == pytest.approx(0.116830, rel=1e-5)
    assert capital_recovery_factor(0.0, 10) == pytest.approx(0.1)


def test_stage_volume_and_cost_by_hand():
    # total flow 1 L/s = 1e-3 m^3/s: mixer 1e-3 * 180 s = 0.18 m^3; settler area 1e-3 / (4/3600) = 0.9 m^2,
    # volume 0.9 m^3 at 1 m depth; stage cost 30000 * 1.08^0.6 = 31 409 USD
    mixer, settler = stage_volumes(1e-3, P)
    assert mixer == pytest.approx(0.18) and settler == pytest.approx(0.9)
    assert stage_cost(mixer + settler, P) == pytest.approx(30000 * 1.08 ** 0.6, rel=1e-12)


def test_organic_price_by_hand():
    # extractant 1500 mol/m^3 * 0.3064 kg/mol = 459.6 kg/m^3 -> 459.6 / 950 = 0.48379 m^3;
    # diluent (1 - 0.48379) * 800 = 412.97 kg; price 459.6 * 5 + 412.97 * 1 = 2710.97 USD/m^3
    assert organic_price_per_m3(P) == pytest.approx(459.6 * 5 + (1 - 459.6 / 950) * 800, rel=1e-12)


def test_cascade_cost_items_by_hand():
    # 10 stages, aqueous 0.5 L/s and organic 0.5 L/s each; 0.01 mol/s HCl, 0.02 mol/s NaOH; 10 kg/h oxide
    aq = np.full(10, 5e-4)
    org = np.full(10, 5e-4)
    cost = cascade_cost(aq, org, 0.01, 0.02, 10.0, P)
    crf = capital_recovery_factor(0.08, 15)
    seconds = 8000 * 3600
    assert cost.items["capital"] == pytest.approx(10 * 30000 * 1.08 ** 0.6 * crf)
    assert cost.solvent_inventory_m3 == pytest.approx(10 * 1.08 * 0.5)
    assert cost.items["acid"] == pytest.approx(0.01 * 0.036458 * 3600 * 8000 * 0.25)
    assert cost.items["base"] == pytest.approx(0.02 * 0.039997 * 3600 * 8000 * 0.45)
    assert cost.items["solvent_losses"] == pytest.approx(50e-6 * 5e-4 * seconds * organic_price_per_m3(P))
    assert cost.items["mixer_power"] == pytest.approx(1000 * 10 * 0.18 * seconds * 0.1 / 3.6e6)
    assert cost.items["labour"] == pytest.approx(10 * 1000.0)
    assert cost.total_per_year == pytest.approx(sum(cost.items.values()))
    assert cost.per_kg_product == pytest.approx(cost.total_per_year / (10.0 * 8000))


def test_cost_rises_with_stage_count_at_fixed_flows(root):
    config = read_yaml(root / "configs" / "prnd_p507.yaml")
    config["cost"] = {"acid_price": "0.3 USD/kg", "lifetime": "20 year"}
    totals = []
    for m in (10, 20, 30, 40):
        cfg = copy.deepcopy(config)
        cfg["sections"]["scrub"]["stages"] = m
        totals.append(sx_model.solve(sx_model.load_config(cfg)).cost.total_per_year)
    assert np.all(np.diff(totals) > 0)


def test_cost_in_json_and_table(root, capsys, tmp_path):
    from sx_model.cli import main

    config = read_yaml(root / "configs" / "prnd_p507.yaml")
    config["cost"] = {}
    import json
    import yaml

    path = tmp_path / "cost.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path)]) == 0
    assert "USD/kg oxide product" in capsys.readouterr().out
    assert main(["run", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cost"]["usd_per_kg_product"] > 0
    assert data["reagents"]["acid_mol_per_h"] == pytest.approx(5 * 4 * 60)   # 5 L/min x 4 mol/L


def test_bad_cost_key_and_unit(root):
    from sx_model.errors import ConfigError

    config = read_yaml(root / "configs" / "prnd_p507.yaml")
    config["cost"] = {"acid_price": "0.3 USD/m"}
    with pytest.raises(ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == "cost.acid_price"
    config["cost"] = {"acid_cost": "0.3 USD/kg"}
    with pytest.raises(ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == "cost.acid_cost"
