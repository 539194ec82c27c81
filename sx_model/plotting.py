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
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 5))
    else:
        fig = ax.figure
    stages = np.arange(1, result.stages + 1)
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
