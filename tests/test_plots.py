"""Plots for reports: files are written (valid PNG/PDF/SVG, nothing left behind on failure) and the
figures have what a reader needs: units on the axes, distinguishable lines, finite log limits, marked
sections, outlets, failed points and targets."""
import dataclasses
import re
import warnings

import numpy as np
import pytest

import sx_model
from sx_model import plotting
from sx_model.studies.design import CurveResult
from sx_model.studies.sweep import SweepResult

PNG = b"\x89PNG\r\n\x1a\n"
UNIT = re.compile(r"\[[^\]]+\]")


@pytest.fixture(scope="module")
def ree(root_dir):
    return sx_model.solve(sx_model.load_config(root_dir / "configs" / "ree_group_split.yaml"))


@pytest.fixture(scope="module")
def ree_plot(ree, tmp_path_factory):
    """(result with feed_stages, figure, file): the 15-component profile plot, drawn once."""
    ree = dataclasses.replace(ree)
    ree.feed_stages = [40]                      # a result does not carry its feed stages (yet)
    path = tmp_path_factory.mktemp("ree") / "x.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plotting.plot_profiles(ree, path=path)
    return ree, fig, path


@pytest.fixture(scope="module")
def loop(root_dir):
    return sx_model.solve(sx_model.load_config(root_dir / "configs" / "lacepn_p507_loop.yaml"))


@pytest.fixture(scope="module")
def prnd(root_dir):
    return sx_model.solve(sx_model.load_config(root_dir / "configs" / "prnd_p507.yaml"))


@pytest.fixture(scope="module")
def root_dir():
    import pathlib

    return pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_warnings():
    """No RuntimeWarning (log of zero, 0/0) nor matplotlib warning while plotting."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _png(path):
    assert path.exists()
    assert path.read_bytes()[:8] == PNG
    return path


def _panel(fig, text):
    """The axes whose y label contains ``text``."""
    found = [ax for ax in fig.axes if text in ax.get_ylabel()]
    assert found, (text, [ax.get_ylabel() for ax in fig.axes])
    return found[0]


def _component_lines(ax, components):
    return [line for line in ax.get_lines() if line.get_label() in components]


def _check_log_axes(fig):
    for ax in fig.axes:
        if ax.get_yscale() == "log":
            low, high = ax.get_ylim()
            assert 0 < low < high, (ax.get_ylabel(), low, high)


def _check_units(fig, axes=None):
    for ax in axes if axes is not None else fig.axes:
        if ax.get_ylabel():
            assert UNIT.search(ax.get_ylabel()), ax.get_ylabel()
        if ax.get_xlabel():
            assert UNIT.search(ax.get_xlabel()), ax.get_xlabel()


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
    return out


# ------------------------------------------------------------------------------------------------
# stage profiles


def test_profiles_fifteen_components_are_distinguishable(ree_plot):
    ree, fig, path = ree_plot
    _png(path)
    comps = list(ree.components)
    assert len(comps) == 15
    for phase in ("aqueous", "organic"):
        ax = _panel(fig, f"{phase} phase")
        lines = _component_lines(ax, comps)
        assert [line.get_label() for line in lines] == comps
        looks = {(line.get_color(), line.get_linestyle()) for line in lines}
        assert len(looks) == 15                 # pairwise distinct colour and line style
        assert "mol/L" in ax.get_ylabel()
        # drawn in mol/L: the largest drawn value is the largest concentration / 1000
        data = ree.aqueous if phase == "aqueous" else ree.organic
        assert max(np.nanmax(line.get_ydata()) for line in lines) == pytest.approx(data.max() / 1000)
    # one legend with the 15 components, outside the panels
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == comps
    _check_log_axes(fig)
    _check_units(fig)
    bottom = fig.axes[-1] if fig.axes[-1].get_xlabel() else _panel(fig, "loading")
    assert "solvent inlet" in bottom.get_xlabel()
    texts = " ".join(_texts(fig))
    assert "extraction" in texts and "scrub" in texts
    assert "raffinate out" in texts and "loaded_organic out" in texts and "feed in" in texts
    # section boundary between stage 40 and 41 drawn on the concentration panels
    ax = _panel(fig, "aqueous phase")
    assert any(np.allclose(line.get_xdata(), 40.5) for line in ax.get_lines())


def test_profiles_key_group_impurity_panel(ree_plot):
    ree, fig, _ = ree_plot
    ax = _panel(fig, "1 - purity")
    assert ax.get_yscale() == "log"
    for name, product in ree.products.items():
        impurity = plotting.key_impurity(ree, product)
        assert impurity.shape == (ree.stages,)
        # at the outlet stage the phase is the product: its impurity is 1 - purity
        assert impurity[product.stage - 1] == pytest.approx(1 - product.purity, rel=1e-6)
        assert any(line.get_label().startswith(name) for line in ax.get_lines())
    low, _ = ax.get_ylim()
    assert low >= plotting.IMPURITY_FLOOR


def test_profiles_floor_on_log_axes_with_zeros(prnd, tmp_path):
    aq, org = prnd.aqueous.copy(), prnd.organic.copy()
    aq[5:, 0] = 0.0                             # a component absent from part of the cascade
    org[:3, 1] = 0.0
    result = dataclasses.replace(prnd, aqueous=aq, organic=org)
    fig = plotting.plot_profiles(result, path=tmp_path / "x.png")   # no log(0) warning (fixture)
    _png(tmp_path / "x.png")
    largest = max(aq.max(), org.max()) / 1000
    for phase in ("aqueous", "organic"):
        low, high = _panel(fig, f"{phase} phase").get_ylim()
        assert plotting.CONCENTRATION_FLOOR * largest <= low < largest < high
    for line in _component_lines(_panel(fig, "aqueous phase"), result.components):
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all(y[np.isfinite(y)] > 0)


def test_profiles_keep_ph_and_loading_panels(loop, tmp_path):
    fig = plotting.plot_profiles(loop, path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    ph = _panel(fig, "pH")
    assert np.allclose(ph.get_lines()[0].get_ydata(), loop.stage_data["ph"])
    loading = _panel(fig, "loading")
    assert "% of capacity" in loading.get_ylabel()
    _check_units(fig)
    _check_log_axes(fig)
    texts = " ".join(_texts(fig))
    assert all(sec["name"] in texts for sec in loop.sections)
    assert "strip_liquor out" in texts
    # products without a key (the organic bleed) get no purity curve
    purity_lines = _panel(fig, "1 - purity").get_lines()
    assert not any(line.get_label().startswith("organic_bleed") for line in purity_lines)


def test_profiles_floor_is_relative_to_the_largest_concentration(ree_plot):
    ree, fig, _ = ree_plot
    largest = max(ree.aqueous.max(), ree.organic.max()) / 1000
    # the smallest concentrations are far below 1e-9 of the largest: the axes stop at the floor
    assert min(ree.aqueous[ree.aqueous > 0].min(), ree.organic[ree.organic > 0].min()) / 1000 \
        < plotting.CONCENTRATION_FLOOR * largest
    assert _panel(fig, "aqueous phase").get_ylim()[0] == pytest.approx(plotting.CONCENTRATION_FLOOR * largest)


def test_profiles_without_possible_impurity_have_no_purity_panel(root_dir, tmp_path):
    result = sx_model.solve(sx_model.load_config(root_dir / "configs" / "kremser_example.yaml"))
    fig = plotting.plot_profiles(result, path=tmp_path / "x.png")      # one component, key = all
    _png(tmp_path / "x.png")
    assert not any("1 - purity" in ax.get_ylabel() for ax in fig.axes)
    assert "solvent inlet" in _panel(fig, "organic phase").get_xlabel()
    _check_units(fig)
    _check_log_axes(fig)


def test_profiles_into_given_axes(prnd, tmp_path):
    plt = plotting._pyplot()
    fig, ax = plt.subplots()
    out = plotting.plot_profiles(prnd, path=tmp_path / "x.png", ax=ax)
    assert out is fig
    _png(tmp_path / "x.png")
    styles = {line.get_linestyle() for line in ax.get_lines() if line.get_label() in prnd.components}
    assert styles == {"-"}                       # aqueous solid; organic dashed lines are unlabelled
    assert "--" in {line.get_linestyle() for line in ax.get_lines()}
    assert UNIT.search(ax.get_ylabel()) and UNIT.search(ax.get_xlabel())
    assert ax.get_ylim()[0] > 0


# ------------------------------------------------------------------------------------------------
# sweeps


def test_sweep_two_paths_draws_a_family(root_dir, tmp_path):
    result = sx_model.sweep(root_dir / "configs" / "prnd_p507.yaml",
                            {"sections.scrub.stages": [20, 24], "sections.extraction.stages": [18, 20]},
                            progress=False)
    fig = plotting.plot_sweep([("prnd", result)], path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    impurity_axes = [ax for ax in fig.axes if "1 - purity" in ax.get_ylabel()]
    assert len(impurity_axes) == len(result.product_names())
    for ax in impurity_axes:
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) >= 2]
        assert len(lines) == 2                   # one curve per extraction stage count
        assert sorted(line.get_label() for line in lines) == ["18", "20"]
        assert all(np.array_equal(line.get_xdata(), [20, 24]) for line in lines)
        assert ax.get_xlabel() == "sections.scrub.stages [-]"
    assert "sections.extraction.stages" in fig.legends[0].get_title().get_text()
    _check_log_axes(fig)
    _check_units(fig)


def _synthetic_sweep(xs, ys, fail=()):
    points = []
    for x in xs:
        for y in ys:
            if (x, y) in fail:
                points.append({"values": [x, y], "ok": False, "error": "no convergence"})
                continue
            impurity = 10.0 ** (-0.1 * x - 0.05 * float(str(y).split()[0]))
            points.append({"values": [x, y], "ok": True, "converged": True, "iterations": 3,
                           "mass_balance_error": 0.0,
                           "products": {"raffinate": {"purity": 1 - impurity, "recovery": 0.99},
                                        "loaded_organic": {"purity": 1 - 2 * impurity, "recovery": 0.98}}})
    return SweepResult(name="synthetic", paths=["sections.scrub.stages", "streams.organic.flow"],
                       points=points)


def test_sweep_two_paths_many_values_draws_heat_maps(tmp_path):
    flows = [f"{f} L/min" for f in (40, 41, 42, 43, 44, 45, 46, 47)]
    result = _synthetic_sweep([10, 15, 20, 25], flows, fail={(15, "43 L/min")})
    fig = plotting.plot_sweep([("synthetic", result)], path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 4                        # impurity and recovery of each product
    for ax in maps:
        grid = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
        assert grid.shape == (8, 4)
        assert np.isnan(grid[3, 1]) and np.isfinite(grid).sum() == 31     # the failed cell is empty
        assert ax.get_xlabel() == "sections.scrub.stages [-]"
        assert ax.get_ylabel() == "streams.organic.flow [L/min]"
    colourbars = [ax for ax in fig.axes if not ax.images and ax.get_ylabel()]
    assert any("1 - purity" in ax.get_ylabel() for ax in colourbars)
    _check_units(fig)


def test_sweep_one_path_units_and_failed_points(root_dir, tmp_path):
    result = sx_model.sweep(root_dir / "configs" / "prnd_p507.yaml",
                            {"streams.organic.flow": ["44 L/min", "45 L/min", "46 L/min"]}, progress=False)
    result.points.append({"values": ["47 L/min"], "ok": False, "error": "no convergence"})
    fig = plotting.plot_sweep([("prnd", result)], path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    ax_p = _panel(fig, "1 - purity")
    assert ax_p.get_xlabel() == "streams.organic.flow [L/min]"
    assert ax_p.get_ylabel() == "impurity 1 - purity [-]"
    failed = [line for line in ax_p.get_lines() if line.get_label().startswith("failed solve")]
    assert failed[0].get_label() == "failed solve (1 of 4 points)"
    assert len(failed) == 1 and failed[0].get_xdata()[0] == 47
    assert sorted(line.get_label() for line in ax_p.get_lines()
                  if line.get_label() in result.product_names()) == sorted(result.product_names())
    _check_log_axes(fig)
    _check_units(fig)


def test_sweep_overlay_of_two_configs(root_dir, tmp_path):
    vary = {"sections.scrub.stages": [20, 24, 28]}
    sweeps = [(name, sx_model.sweep(root_dir / "configs" / name, vary, progress=False))
              for name in ("prnd_p507.yaml", "lace_prnd_p507.yaml")]
    fig = plotting.plot_sweep(sweeps, path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    labels = [line.get_label() for line in _panel(fig, "1 - purity").get_lines()]
    assert "prnd_p507.yaml: raffinate" in labels and "lace_prnd_p507.yaml: loaded_organic" in labels
    lines = [line for line in _panel(fig, "1 - purity").get_lines() if ":" in line.get_label()]
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == len(lines)


# ------------------------------------------------------------------------------------------------
# design curve and Pareto front


def _curve(targets=None):
    curve = CurveResult(name="synthetic", total_stages=[30, 40, 50, 60],
                        extraction_stages=[14, 19, 24, 29], scrub_stages=[16, 21, 26, 31],
                        purities={"loaded_organic": [0.99, 0.998, 0.9995, 0.99995],
                                  "raffinate": [0.98, 0.997, 0.9992, 0.99991]},
                        recoveries={"loaded_organic": [0.98, 0.99, 0.995, 0.999],
                                    "raffinate": [0.97, 0.99, 0.995, 0.998]},
                        meets=[False, False, True, True], flows={"s": 4.0, "w": 3.3})
    if targets is not None:
        curve.targets = targets
    return curve


def test_curve_targets_and_meets_markers(tmp_path):
    curve = _curve({"loaded_organic": {"purity": 0.999}, "raffinate": {"purity": 0.9995}})
    fig = plotting.plot_curve(curve, path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    ax = _panel(fig, "1 - purity")
    levels = sorted(float(line.get_ydata()[0]) for line in ax.get_lines() if "target" in line.get_label())
    assert levels == pytest.approx([5e-4, 1e-3])
    marker_lines = [line for line in ax.get_lines() if line.get_linestyle() == "None"
                    and len(line.get_xdata())]
    filled = [line for line in marker_lines if line.get_markerfacecolor() != "white"]
    hollow = [line for line in marker_lines if line.get_markerfacecolor() == "white"]
    assert all(list(line.get_xdata()) == [50, 60] for line in filled)      # meets
    assert all(list(line.get_xdata()) == [30, 40] for line in hollow)      # misses
    assert len(filled) == len(hollow) == 2
    assert "total stages" in ax.get_xlabel()
    _check_units(fig)
    _check_log_axes(fig)


def test_curve_without_targets(tmp_path):
    fig = plotting.plot_curve(_curve(), path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    assert not any("target" in line.get_label() and "meets" not in line.get_label()
                   and "misses" not in line.get_label() for line in _panel(fig, "1 - purity").get_lines())


def test_curve_and_pareto_of_real_studies(root_dir, tmp_path):
    config = root_dir / "configs" / "prnd_p507.yaml"
    targets = sx_model.Targets(0.999, 0.999)
    fig = sx_model.curve(config, targets, [40, 60]).plot(path=tmp_path / "curve.png")
    _png(tmp_path / "curve.png")
    _check_units(fig)
    result = sx_model.optimize(config, targets, max_stages=120)
    fig = plotting.plot_pareto(result, path=tmp_path / "x.png")
    _png(tmp_path / "x.png")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "cost [USD/kg oxide product]"
    assert "total stages" in ax.get_xlabel() and UNIT.search(ax.get_xlabel())
    best = [line for line in ax.get_lines() if line.get_label().startswith("cheapest")]
    assert best and best[0].get_xdata()[0] == result.best.stages


# ------------------------------------------------------------------------------------------------
# writing files


@pytest.mark.parametrize("name, head", [("x.pdf", b"%PDF"), ("x.svg", b"<?xml")])
def test_save_figure_format_follows_extension(tmp_path, name, head):
    plt = plotting._pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    plotting.save_figure(fig, tmp_path / name)
    assert (tmp_path / name).read_bytes()[:len(head)] == head
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_save_figure_leaves_nothing_behind_on_failure(tmp_path):
    plt = plotting._pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    with pytest.raises(ValueError):
        plotting.save_figure(fig, tmp_path / "x.notaformat")
    assert list(tmp_path.iterdir()) == []

    good = tmp_path / "x.png"
    fig, ax = plt.subplots()
    plotting.save_figure(fig, good)
    before = good.read_bytes()

    fig, ax = plt.subplots()

    def broken(target, **kwargs):
        with open(target, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    fig.savefig = broken
    with pytest.raises(OSError):
        plotting.save_figure(fig, good)
    assert good.read_bytes() == before           # the good file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    with pytest.raises(FileNotFoundError):
        plotting.save_figure(fig, tmp_path / "missing" / "x.png")
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
