"""The command line end to end: output formats, files, plots and exit codes (wiring, not numbers)."""
import json
import subprocess
import sys

import pytest

from sx_model.cli import main


def test_run_json_contract(root, capsys):
    assert main(["run", str(root / "configs" / "prnd_p507.yaml"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["converged"] is True
    assert data["mass_balance_error"] <= 1e-9
    assert data["stages"] == 44
    assert set(data["products"]) == {"raffinate", "loaded_organic"}
    for name, product in data["products"].items():
        for key in ("phase", "stage", "flow_m3_per_s", "composition", "concentration_mol_per_m3",
                    "purity", "recovery", "key"):
            assert key in product, (name, key)
        assert sum(product["composition"].values()) == pytest.approx(1.0)
    assert data["products"]["loaded_organic"]["stage"] == 44
    assert data["products"]["raffinate"]["stage"] == 1
    assert data["products"]["loaded_organic"]["purity"] > 0.995
    profiles = data["profiles"]
    assert len(profiles["aqueous_mol_per_m3"]["Nd"]) == 44
    assert len(profiles["organic_mol_per_m3"]["Pr"]) == 44


def test_run_table_lists_products_first(root, capsys):
    assert main(["run", str(root / "configs" / "prnd_p507.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.index("loaded_organic") < out.index("stage profile")
    assert "converged: True" in out and "purity" in out


def test_run_csv(root, capsys):
    assert main(["run", str(root / "configs" / "kremser_example.yaml"), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("product,phase,stage")
    assert len(lines) == 3


def test_run_out_and_plot(root, tmp_path, capsys):
    out_dir = tmp_path / "results"
    plot = tmp_path / "profile.png"
    assert main(["run", str(root / "configs" / "prnd_p507.yaml"), "--out", str(out_dir),
                 "--plot", str(plot)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["products.csv", "profile.csv", "result.json"]
    assert json.loads((out_dir / "result.json").read_text())["converged"] is True
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out_dir / "profile.csv").read_text().splitlines()) == 45


def test_validate(root, capsys):
    assert main(["validate", str(root / "configs" / "ree_group_split.yaml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_solver_failure_exit_code_1(root, monkeypatch, capsys, tmp_path):
    from sx_model.errors import ConvergenceError
    from sx_model.solvers import steady

    def failing(cascade, **kwargs):
        raise ConvergenceError("steady-state solve did not converge", residual_norm=0.5,
                               worst_stage=7, worst_component="Nd balance", iterations=60)

    monkeypatch.setattr(steady, "solve", failing)
    out_dir = tmp_path / "out"
    assert main(["run", str(root / "configs" / "prnd_p507.yaml"), "--out", str(out_dir)]) == 1
    captured = capsys.readouterr()
    assert "stage 7" in captured.err and "Nd balance" in captured.err
    assert captured.out == ""
    assert not out_dir.exists()


def test_module_entry_point_help():
    proc = subprocess.run([sys.executable, "-m", "sx_model", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "sx-model run" in proc.stdout and "validate" in proc.stdout
