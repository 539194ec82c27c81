"""McCabe-Thiele study (sx_model.studies.mccabe_thiele) and ``sx-model mccabe-thiele``.

References the tests check against, written out here independently of the package:

- Kremser equation for a countercurrent cascade with a linear isotherm y = D x, constant flows A
  (aqueous) and O (organic), extraction factor E = D O / A and organic entering with y_in, solved for
  the number of stages (Seader, Henley and Roper, Separation Process Principles, 3rd ed., Wiley 2011,
  section 5.4; the same form for absorbers with y_in/D the raffinate in equilibrium with the entering
  solvent):
      N = ln[ (x_F - y_in/D) / (x_R - y_in/D) (1 - 1/E) + 1/E ] / ln E
- Stripping with a solute-free strip liquor is the same equation with the phases swapped: stripping
  factor S = A / (D_s O), N = ln[ (y_in / y_out) (1 - 1/S) + 1/S ] / ln S.
- Minimum solvent: with a straight isotherm the operating line first touches it at the rich end, the
  loaded organic in equilibrium with the feed, y_out = D x_F. The balance O (y_out - y_in) =
  A (x_F - x_R) then gives (O/A)_min = (x_F - x_R) / (D x_F - y_in), with y_in = 0
  (O/A)_min = (1 - x_R/x_F) / D: the minimum extraction factor is the fraction extracted, the form of
  the textbooks' minimum absorbent flow L_min = K V (fraction absorbed) (Seader, Henley and Roper,
  section 6.3). For a strip section the pinch is at the lean organic end and gives a maximum O/A,
  (A/O)_min = D_s (1 - y_out/y_in).
"""
import json
import math

import numpy as np
import pytest

import sx_model
from sx_model.cli import main
from sx_model.kremser import stages_for_fraction
from sx_model.studies.mccabe_thiele import mccabe_thiele

CU = 63.546e-3      # kg/mol


def linear_config(d=1.8, oa=1.3, stages=6, feed="2 g/L", solvent=None, strip=None):
    """One solute, constant D; with ``strip`` = (stages, D_strip, O/A in the strip) a strip section."""
    organic = {"flow": f"{oa} L/min"}
    if solvent:
        organic["concentration"] = {"Cu": solvent}
    config = {"name": "linear", "components": ["Cu"],
              "equilibrium": {"model": "constant_d", "distribution": {"Cu": d}},
              "sections": {"extraction": {"stages": stages}},
              "streams": {"organic": organic,
                          "feed": {"phase": "aqueous", "flow": "1 L/min", "concentration": {"Cu": feed}}},
              "products": {"raffinate": {"key": ["Cu"]}}}
    if strip:
        n, d_strip, oa_strip = strip
        config["sections"]["strip"] = {"stages": n}
        config["equilibrium"]["distribution_by_section"] = {"strip": {"Cu": d_strip}}
        config["streams"]["strip"] = {"flow": f"{oa / oa_strip} L/min", "acid": "1 mol/L"}
        config["products"] = {"raffinate": {"key": ["Cu"]}, "strip_liquor": {"key": ["Cu"]}}
    else:
        config["products"]["loaded_organic"] = {"key": ["Cu"]}
    return sx_model.load_config(config)


def kremser_textbook(x_feed, x_raff, y_in, d, e):
    """N for a target raffinate (Kremser, extraction form; written out independently)."""
    return math.log((x_feed - y_in / d) / (x_raff - y_in / d) * (1 - 1 / e) + 1 / e) / math.log(e)


@pytest.mark.parametrize("d, oa, solvent", [(1.8, 1.3, None), (0.9, 1.6, None), (2.4, 1.0, "0.05 g/L")])
def test_linear_stage_count_is_kremser(d, oa, solvent):
    cascade = linear_config(d=d, oa=oa, solvent=solvent)
    x_feed = 2.0 / CU * 1e-3 * 1e3          # 2 g/L in mol/m^3
    y_in = 0.05 / CU if solvent else 0.0
    x_raff = 0.02 * x_feed
    mt = mccabe_thiele(cascade, "extraction", targets={"raffinate": x_raff})
    step = mt.steps[0]
    e = d * oa
    expected = kremser_textbook(x_feed, x_raff, y_in, d, e)
    assert step.reached
    assert step.stages == pytest.approx(expected, rel=1e-9)
    assert step.whole_stages == math.ceil(expected)
    if not solvent:
        assert step.stages == pytest.approx(stages_for_fraction(e, x_raff / x_feed), rel=1e-9)
    assert mt.isotherm_kind == "model"
    assert mt.converged and mt.mass_balance_error <= 1e-9


def test_stepping_from_the_simulated_raffinate_reproduces_the_profile():
    cascade = linear_config(d=1.8, oa=1.3, stages=6)
    result = sx_model.solve(cascade)
    mt = mccabe_thiele(cascade, "extraction", targets={"aqueous": result.aqueous[0, 0]}, result=result)
    step = mt.steps[0]
    assert step.stages == pytest.approx(6.0, rel=1e-9)
    np.testing.assert_allclose(step.equilibrium[:6], mt.equilibrium, rtol=1e-6)
    np.testing.assert_allclose(step.equilibrium[:6, 0], result.aqueous[:, 0], rtol=1e-6)
    np.testing.assert_allclose(step.equilibrium[:6, 1], result.organic[:, 0], rtol=1e-6)
    np.testing.assert_allclose(step.operating[:7], mt.operating, rtol=1e-6, atol=1e-12)


def test_minimum_oa_linear_closed_form():
    for d, solvent in ((1.8, None), (2.4, "0.05 g/L")):
        cascade = linear_config(d=d, oa=1.3, solvent=solvent)
        x_feed = 2.0 / CU
        y_in = 0.05 / CU if solvent else 0.0
        x_raff = 0.05 * x_feed              # above y_in / D: reachable
        mt = mccabe_thiele(cascade, "extraction", targets={"raffinate": x_raff})
        assert mt.pinch.limit == "minimum O/A"
        expected = (x_feed - x_raff) / (d * x_feed - y_in)
        assert mt.pinch.organic_per_aqueous == pytest.approx(expected, rel=1e-9)
        if not solvent:
            assert mt.pinch.organic_per_aqueous == pytest.approx((1 - x_raff / x_feed) / d, rel=1e-9)
        assert mt.pinch.at_mol_per_m3[0] == pytest.approx(x_feed, rel=1e-9)


def test_strip_section_steps_the_other_way():
    """Strip section, strip liquor free of solute: the organic leaving it keeps the fraction
    phi = (S - 1) / (S^(N+1) - 1) of what enters, S = A / (D_s O) the stripping factor; the pinch is
    a maximum O/A, (A/O)_min = D_s (1 - y_out / y_in) (module docstring)."""
    d_s, oa_s = 0.1, 2.0
    cascade = linear_config(d=3.0, oa=1.0, stages=5, strip=(4, d_s, oa_s))
    result = sx_model.solve(cascade)
    mt = mccabe_thiele(cascade, "strip", result=result)
    assert mt.direction == "stripping"
    assert mt.balance_deviation <= 1e-9
    y_in = mt.operating[0, 1]
    s = 1.0 / (d_s * oa_s)
    y_target = 0.001 * y_in
    mt = mccabe_thiele(cascade, "strip", targets={"organic": y_target}, result=result)
    step = mt.steps[0]
    n_textbook = math.log((y_in / y_target) * (1 - 1 / s) + 1 / s) / math.log(s)
    assert step.stages == pytest.approx(n_textbook, rel=1e-9)
    assert step.stages == pytest.approx(stages_for_fraction(s, y_target / y_in), rel=1e-9)
    assert mt.pinch.limit == "maximum O/A"
    # the pinch by its defining property, through the Kremser stripping relation (independent of the
    # pinch search): at the limiting flow ratio the target needs infinitely many stages - just beyond it
    # the target is out of reach (no real stage count), just inside it thousands of stages reach it
    s_limit = 1.0 / (mt.pinch.organic_per_aqueous * d_s)
    fraction = y_target / y_in
    with np.errstate(invalid="ignore"):
        assert math.isnan(stages_for_fraction(s_limit * (1 - 1e-6), fraction))
    assert 1e3 < stages_for_fraction(s_limit * (1 + 1e-6), fraction) < 1e5
    # stepping from the simulated stripped organic gives back the 4 stages and the profile
    mt = mccabe_thiele(cascade, "strip", targets={"organic": result.organic[-1, 0]}, result=result)
    assert mt.steps[0].stages == pytest.approx(4.0, rel=1e-9)
    np.testing.assert_allclose(mt.steps[0].equilibrium[:4][::-1], mt.equilibrium, rtol=1e-6)


@pytest.mark.parametrize("config, section, component", [
    ("kremser_example.yaml", "extraction", None),
    ("prnd_p507.yaml", "extraction", "Nd"),
    ("prnd_p507.yaml", "scrub", "Pr"),
    ("lacepn_p507_loop.yaml", "strip", "Nd"),
])
def test_operating_line_through_every_simulated_operating_point(root, config, section, component):
    cascade = sx_model.load_config(root / "configs" / config)
    mt = mccabe_thiele(cascade, section, component)
    assert mt.straight
    assert mt.balance_deviation <= 1e-9
    line = mt.operating[0, 1] + mt.slope * (mt.operating[:, 0] - mt.operating[0, 0])
    scale = max(np.abs(mt.operating).max(), np.abs(mt.equilibrium).max())
    assert np.max(np.abs(line - mt.operating[:, 1])) <= 1e-9 * scale
    assert mt.converged and mt.mass_balance_error <= 1e-9
    assert mt.isotherm_check <= 1e-8
    assert len(mt.operating) == len(mt.stages) + 1
    if cascade.model.name != "constant_d":
        assert mt.isotherm_kind == "stage states"


def test_stage_state_isotherm_passes_through_the_stages(root):
    cascade = sx_model.load_config(root / "configs" / "lacepn_p507_loop.yaml")
    mt = mccabe_thiele(cascade, "strip", "Nd")
    # the drawn curve holds every stage point
    for x, y in mt.equilibrium:
        near = np.argmin(np.abs(mt.isotherm[:, 0] - x) + np.abs(mt.isotherm[:, 1] - y))
        assert mt.isotherm[near] == pytest.approx([x, y], rel=1e-9, abs=1e-12)


def test_cli_json_table_and_plot(root, tmp_path, capsys):
    plot = tmp_path / "mt.png"
    config = str(root / "configs" / "kremser_example.yaml")
    assert main(["mccabe-thiele", config, "--target", "raffinate=0.01g/L", "--plot", str(plot),
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["converged"] is True and data["mass_balance_error"] <= 1e-9
    assert data["targets"][0]["stages"] == pytest.approx(
        stages_for_fraction(2.4, 0.01 / 2.0), rel=1e-9)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["mccabe-thiele", config, "--units", "mol/L"]) == 0
    out = capsys.readouterr().out
    assert "operating line" in out and "mol/L Cu" in out
    out_dir = tmp_path / "out"
    assert main(["mccabe-thiele", config, "--format", "csv", "--out", str(out_dir)]) == 0
    assert capsys.readouterr().out.startswith("series,kind,stage")
    assert sorted(p.name for p in out_dir.iterdir()) == ["mccabe_thiele.csv", "mccabe_thiele.json"]


@pytest.mark.parametrize("extra, option", [
    (["--section", "raffinate"], "--section"),
    (["--component", "Nd"], "--component"),
    (["--section", "strip"], "--section"),
    (["--target", "raffinate"], "--target"),
    (["--target", "raffinate=abc"], "--target"),
    (["--target", "raffinate=0.05 L/min"], "--target"),
    (["--target", "stripped_organic=0.05g/L"], "--target"),
    (["--target", "raffinate=0.1g/L", "--target", "aqueous=0.2g/L"], "--target"),
    (["--target", "nowhere=0.05g/L"], "--target"),
    (["--target", "raffinate=3 g/L"], "--target"),
    (["--plot", "/nonexistent-dir/mt.png"], "--plot"),
    (["--plot", "/proc/mt.png"], "--plot"),
    (["--plot", "mt.txt"], "--plot"),
])
def test_cli_bad_input(root, tmp_path, capsys, extra, option):
    config = str(root / "configs" / "kremser_example.yaml")
    plot = tmp_path / "mt.png"
    args = ["mccabe-thiele", config] + extra
    if "--plot" not in extra:
        args += ["--plot", str(plot)]
    try:
        code = main(args)
    except SystemExit as exc:          # usage errors (a choice not offered) exit from argparse
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert option in err
    assert list(tmp_path.iterdir()) == []


def test_cli_unwritable_plot_directory(root, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["mccabe-thiele", str(root / "configs" / "kremser_example.yaml"),
                     "--plot", str(locked / "mt.png")])
        err = capsys.readouterr().err
        import os

        if os.access(locked, os.W_OK):      # root ignores permissions
            pytest.skip("running as root")
        assert code == 2 and "--plot" in err and err.count("\n") == 1
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
