"""Plots (matplotlib is imported here, inside the functions, and never opens a window)."""
from __future__ import annotations


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_profiles(result, path=None, ax=None):
    """Stage concentration profiles of both phases on a log scale, one line per component.

    Returns the matplotlib Figure; writes it to ``path`` when given.
    """
    import numpy as np

    plt = _pyplot()
    stage_data = getattr(result, "stage_data", {}) or {}
    ph_ax = None
    if ax is None and "ph" in stage_data:
        fig, (ax, ph_ax) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 1.4]})
    elif ax is None:
        fig, ax = plt.subplots(figsize=(8, 5))
    else:
        fig = ax.figure
    stages = np.arange(1, result.stages + 1)
    if ph_ax is not None:
        ph_ax.plot(stages, stage_data["ph"], "k.-", label="equilibrium pH")
        ph_ax.set_ylabel("pH")
        ph_ax.set_xlabel("stage (numbered along the organic flow)")
        if "loading_fraction" in stage_data:
            load_ax = ph_ax.twinx()
            load_ax.plot(stages, 100 * stage_data["loading_fraction"], "-", color="tab:red", alpha=0.7)
            load_ax.set_ylabel("organic loading [% of capacity]", color="tab:red", fontsize=8)
        ph_ax.grid(True, alpha=0.3)
        for sec in result.sections[1:]:
            ph_ax.axvline(sec["first_stage"] - 0.5, color="0.6", lw=0.8)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, comp in enumerate(result.components):
        color = colors[i % len(colors)]
        aq = result.aqueous[:, i] / 1000.0
        org = result.organic[:, i] / 1000.0
        ax.semilogy(stages, np.where(aq > 0, aq, np.nan), "-", color=color, label=f"{comp} aqueous")
        ax.semilogy(stages, np.where(org > 0, org, np.nan), "--", color=color, label=f"{comp} organic")
    for sec in result.sections[1:]:
        ax.axvline(sec["first_stage"] - 0.5, color="0.6", lw=0.8)
    for sec in result.sections:
        ax.text(sec["first_stage"] - 0.5 + sec["stages"] / 2, 1.01, sec["name"], ha="center",
                va="bottom", transform=ax.get_xaxis_transform(), fontsize=9)
    if ph_ax is None:
        ax.set_xlabel("stage (numbered along the organic flow)")
    ax.set_ylabel("concentration [mol/L]")
    ax.set_title(result.name, pad=18)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path):
    """Write a figure atomically (a partly written file never replaces a good one)."""
    import os
    import tempfile

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1] or ".png"
    fd, tmp = tempfile.mkstemp(suffix=suffix, dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        _pyplot().close(fig)


def plot_sweep(labelled_sweeps, path=None):
    """Purity (and recovery, dashed) of every product against the first varied value.

    ``labelled_sweeps`` is a list of (label, SweepResult); several are overlaid (``sx-model compare``).
    """
    import numpy as np

    plt = _pyplot()
    fig, (ax_p, ax_r) = plt.subplots(1, 2, figsize=(11, 4.5))
    for label, result in labelled_sweeps:
        x = [p["values"][0] for p in result.points]
        numeric = all(isinstance(v, (int, float)) for v in x)
        xs = np.array(x, dtype=float) if numeric else np.array([_leading_number(v) for v in x])
        for name in result.product_names():
            tag = f"{label}: {name}" if len(labelled_sweeps) > 1 else name
            impurity = 1.0 - result.series(name, "purity")
            ax_p.semilogy(xs, np.where(impurity > 0, impurity, np.nan), "o-", ms=3, label=tag)
            ax_r.plot(xs, result.series(name, "recovery"), "o--", ms=3, label=tag)
        failed = [xs[i] for i, p in enumerate(result.points) if not p["ok"]]
        for xf in failed:
            ax_p.axvline(xf, color="red", alpha=0.3, lw=0.8)
    xlabel = labelled_sweeps[0][1].paths[0]
    return _finish(fig, [(ax_p, xlabel, "impurity 1 - purity [-] (log)", "purity"),
                         (ax_r, xlabel, "recovery of key components [-]", "recovery")], path, legend_size=7)


def _finish(fig, axes, path, legend_size=8):
    """Label each (ax, xlabel, ylabel, title), add grids and legends, save to ``path`` if given."""
    for ax, xlabel, ylabel, title in axes:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=legend_size)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def _leading_number(value):
    try:
        return float(str(value).split()[0])
    except ValueError:
        return float("nan")


def plot_curve(curve, path=None):
    """Impurity of each product against total stage count (best split at the design flows)."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in curve.purities.items():
        impurity = 1.0 - np.asarray(values)
        ax.semilogy(curve.total_stages, np.where(impurity > 0, impurity, np.nan), "o-", ms=3,
                    label=name)
    return _finish(fig, [(ax, "total stages N = n + m", "impurity 1 - purity [-] (log)", curve.name)], path)


def plot_pareto(result, path=None):
    """Cost per kg of oxide product against total stage count; the chosen design marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([c.stages for c in result.candidates], [c.usd_per_kg for c in result.candidates], "o",
            color="0.7", ms=4, label="checked designs")
    ax.plot([c.stages for c in result.front], [c.usd_per_kg for c in result.front], "o-", ms=5,
            label="Pareto front")
    ax.plot([result.best.stages], [result.best.usd_per_kg], "*", ms=14, color="red",
            label=f"cheapest: {result.best.n} + {result.best.m} stages")
    return _finish(fig, [(ax, "total stages n + m", "cost [USD/kg oxide product]", result.name)], path)
