"""Linked against unlinked trains (configs/flowsheets/prnd_linked.yaml, prnd_unlinked.yaml): the same
products to the same purity targets, less acid and base; the reagent figures checked against a hand
balance of the configs' own liquors and organic (acid = flow x free acid of every liquor fed; base =
saponification fraction x extractant x fresh organic flow), not against the code's accounting; the
acid the linked train saves covers at least the protons that stripping the first cascade's loaded
organic needs (3 H+ per trivalent rare earth it carries)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import sx_model
from conftest import ROOT

SHEETS = ROOT / "configs" / "flowsheets"
LINKED, UNLINKED = SHEETS / "prnd_linked.yaml", SHEETS / "prnd_unlinked.yaml"
#: The trains' purity targets (the configs' header comments).
TARGETS = {"lace.raffinate": 0.999, "prnd.raffinate": 0.99, "prnd.strip_liquor": 0.999}
L_PER_MIN = 1e-3 / 60.0          # m^3/s


def _number(text, unit):
    value, given = text.split(" ", 1)
    assert given.strip() == unit, text
    return float(value)


def _hand_balance(path):
    """Acid [mol/h H+] and base [mol/h] by cascade from the config text (linked streams excluded)."""
    sheet = yaml.safe_load(path.read_text())
    linked = {link["to"] for link in sheet["links"]}
    out = {}
    for name, body in sheet["cascades"].items():
        config = body["config"]
        acid = base = 0.0
        for stream, s in config["streams"].items():
            if f"{name}.{stream}" in linked:
                continue
            flow = _number(s["flow"], "L/min")            # L/min
            if "acid" in s:
                acid += flow * _number(s["acid"], "mol/L") * 60.0
            if stream == "organic":
                extractant = config["equilibrium"]["extractant"]
                base += (extractant["saponification"] * _number(extractant["concentration"], "mol/L")
                         * flow * 60.0)
        out[name] = (acid, base)
    return out


@pytest.fixture(scope="module")
def comparison():
    return sx_model.compare_reagents([UNLINKED, LINKED], labels=["unlinked", "linked"], targets=TARGETS)


def test_linked_train_gives_the_same_products_with_less_acid_and_base(comparison):
    unlinked, linked = comparison.uses
    assert unlinked.converged and linked.converged
    assert unlinked.mass_balance_error < 1e-9 and linked.mass_balance_error < 1e-9
    assert comparison.same_products and all(unlinked.targets_met.values()) and all(linked.targets_met.values())
    for name in TARGETS:
        # same products: each target met, and each product's recovery within half a percent
        assert abs(unlinked.products[name]["recovery"] - linked.products[name]["recovery"]) < 5e-3
    saving = comparison.saving(linked)
    assert saving["acid_mol_per_h"] > 0 and saving["base_mol_per_h"] > 0
    # the figures stated in docs/theory.md 7.8 and the configs' comments
    assert saving["acid_mol_per_h"] == pytest.approx(116.67, abs=0.01)
    assert saving["base_mol_per_h"] == pytest.approx(115.2, abs=0.01)


@pytest.mark.parametrize("label, path", [("unlinked", UNLINKED), ("linked", LINKED)])
def test_reagent_figures_equal_a_hand_balance_of_the_configs(comparison, label, path):
    use = next(u for u in comparison.uses if u.label == label)
    hand = _hand_balance(path)
    for name, (acid, base) in hand.items():
        assert use.by_cascade[name]["acid_mol_per_h"] == pytest.approx(acid, rel=1e-12)
        assert use.by_cascade[name]["base_mol_per_h"] == pytest.approx(base, rel=1e-12)
    assert use.acid_mol_per_h == pytest.approx(sum(a for a, _ in hand.values()), rel=1e-12)
    assert use.base_mol_per_h == pytest.approx(sum(b for _, b in hand.values()), rel=1e-12)


def test_hand_balance_of_the_saving():
    """By hand from the configs: acid 60 x (2 x 0.01 + 2 x 3.127 + 1.5 x 1.4 + 1.5 x 2.2178 + 1.5 x 1.6)
    = 846.042 mol/h unlinked, 60 x (2 x 0.01 + 2 x 3.127 + 2.2 x 1.5828 + 2.5 x 0.96) = 729.37 mol/h
    linked; base 0.32 x 1.5 x 60 x (15 + 10.4) = 731.52 and 0.32 x 1.5 x 60 x (15 + 6.4) = 616.32."""
    un = _hand_balance(UNLINKED)
    lk = _hand_balance(LINKED)
    assert sum(a for a, _ in un.values()) == pytest.approx(846.042, rel=1e-9)
    assert sum(a for a, _ in lk.values()) == pytest.approx(729.3696, rel=1e-9)
    assert sum(b for _, b in un.values()) == pytest.approx(731.52, rel=1e-12)
    assert sum(b for _, b in lk.values()) == pytest.approx(616.32, rel=1e-12)


def test_the_strip_the_link_replaces_needs_at_least_three_protons_per_rare_earth(comparison):
    """The first cascade's loaded organic (linked train) carries the Pr and Nd that the unlinked train
    strips; stripping them takes 3 H+ each, a floor under the strip acid the link saves."""
    linked_result = comparison.results[1]
    cascade = sx_model.load_config(LINKED)
    lace = cascade.model.parts[0]
    last = lace.first + lace.stages - 1                         # lace's last scrub stage (0-based)
    carried = linked_result.organic[last] * linked_result.organic_flow[last]      # mol/s per component
    ree = float(sum(carried)) * 3600.0                          # mol/h
    unlinked = yaml.safe_load(UNLINKED.read_text())["cascades"]["lace"]["config"]["streams"]["strip"]
    strip_acid = _number(unlinked["flow"], "L/min") * _number(unlinked["acid"], "mol/L") * 60.0
    assert 3.0 * ree == pytest.approx(72.0, rel=2e-3)           # 0.4 mol/min of Pr + Nd fed, x 3 x 60
    assert strip_acid >= 3.0 * ree
    saving = comparison.saving(comparison.uses[1])
    assert saving["acid_mol_per_h"] >= 3.0 * ree


def test_compare_reagents_from_the_cli(tmp_path):
    args = [sys.executable, "-m", "sx_model", "compare", str(UNLINKED), str(LINKED), "--reagents",
            "--format", "json"] + [f"--target={k}={v}" for k, v in TARGETS.items()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["baseline"] == "prnd_unlinked.yaml" and data["same_products"] is True
    saving = data["saving"]["prnd_linked.yaml"]
    assert saving["acid_mol_per_h"] == pytest.approx(116.67, abs=0.01)
    assert saving["base_fraction"] == pytest.approx(115.2 / 731.52, rel=1e-9)


BAD = [
    (["--reagents"], "--reagents", "baseline"),                                   # one config
    ([str(LINKED), "--reagents", "--vary", "sections.scrub.stages=20:22:2"], "--reagents", "remove --vary"),
    ([str(LINKED), "--target", "prnd.raffinate=0.99"], "--target", "--reagents"),
    ([str(LINKED), "--reagents", "--target", "prnd.raffinate=1.5"], "--target", "between 0 and 1"),
    ([str(LINKED), "--reagents", "--target", "prnd.raffinate=0.99,0.9"], "--target", "purities only"),
    ([str(LINKED), "--reagents", "--target", "nothing=0.99"], "--target", "not a product"),
]


@pytest.mark.parametrize("extra, key, needle", BAD, ids=[b[2] for b in BAD])
def test_bad_compare_reagents_input_is_one_line_exit_2(tmp_path, extra, key, needle):
    out = tmp_path / "res"
    args = [sys.executable, "-m", "sx_model", "compare", str(UNLINKED), *extra, "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and key in done.stderr and needle in done.stderr
    assert not out.exists()


# -- sx-model run FLOWSHEET --plot: the train diagram --------------------------------------------------

def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_a_flowsheet_plot_is_the_train_with_the_flows_its_links_carry():
    """Link labels carry the flow of the outflow each link takes: the unlinked train's strip liquor at the
    strip liquor's 1.5 L/min (the lace strip flow), the linked train's loaded organic at lace's 15 L/min;
    products with their purities."""
    from sx_model.plotting_train import plot_train

    for path, label in ((UNLINKED, "strip liquor, 1.5 L/min"), (LINKED, "loaded organic, 15 L/min")):
        result = sx_model.solve(sx_model.load_config(path))
        fig = plot_train(result, yaml.safe_load(path.read_text()), base_dir=str(path.parent))
        texts = _texts(fig)
        assert label in texts, texts
        purity = 100 * result.products["prnd.strip_liquor"].purity
        assert any(t.startswith(f"strip_liquor: {purity:.3f} %") for t in texts), texts


def test_run_plot_of_a_flowsheet_and_of_a_loop_of_links(tmp_path):
    for path in (LINKED, SHEETS / "copper_series_parallel.yaml"):
        png = tmp_path / f"{path.stem}.png"
        done = subprocess.run([sys.executable, "-m", "sx_model", "run", str(path), "--plot", str(png), "--format",
                               "json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_plot_of_a_flowsheet_bad_input_writes_nothing(tmp_path):
    bad = yaml.safe_load(LINKED.read_text())
    bad["links"][0]["to"] = "prnd.nothing"
    sheet = tmp_path / "bad.yaml"
    sheet.write_text(yaml.safe_dump(bad))
    cases = [([str(sheet), "--plot", str(tmp_path / "a.png")], "links[0]"),
             ([str(LINKED), "--plot", str(tmp_path / "missing" / "b.png")], "--plot"),
             ([str(LINKED), "--plot", str(tmp_path / "c.xyz")], "--plot")]
    for args, key in cases:
        done = subprocess.run([sys.executable, "-m", "sx_model", "run", *args], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and key in done.stderr, \
            done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
