"""Plots for reports (matplotlib is imported here, inside the functions, and never opens a window).

Every function returns the matplotlib Figure and writes it to ``path`` when one is given
(:func:`save_figure`: the format follows the extension, and a failed write leaves nothing behind).
Concentrations are drawn in mol/L, impurities as ``1 - purity`` on log axes with a floor, so that
values of zero or below the floor never reach a logarithm.
"""
from __future__ import annotations

import math
import re

import numpy as np

#: Lowest concentration drawn on the profile axes, relative to the largest concentration [-] (the
#: axes start at the decade of the smallest concentration when that is higher).
CONCENTRATION_FLOOR = 1e-9
#: Lowest impurity (1 - purity) drawn on log axes [-].
IMPURITY_FLOOR = 1e-12
#: Second sweep path with at most this many values: a family of curves; more: a heat map.
FAMILY_MAX = 6

#: Qualitative colours (tab10), line styles and markers; a component's style is the i-th of each
#: cycle, and with cycle lengths 10, 4 and 7 no two of the first 20 components share a
#: (colour, line style) pair (nor of the first 140 a (colour, line style, marker) triple).
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
            "tab:gray", "tab:olive", "tab:cyan")
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "v", "D", "P", "X")
_STAGE_LABEL = "stage number [-] (1 = solvent inlet)"
_IMPURITY_LABEL = "impurity 1 - purity [-]"
_RECOVERY_LABEL = "recovery of key components [-]"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------------------------
# stage profiles


def plot_profiles(result, path=None, ax=None):
    """Stage profiles of a steady result, for a report.

    Panels sharing the stage axis: aqueous and organic concentrations [mol/L] (log scale, floor
    ``CONCENTRATION_FLOOR`` of the largest concentration; lower values leave through the bottom
    edge), the impurity (1 - purity) of each keyed product's key group in that product's phase at
    every stage, and pH / organic loading when the model reports them. Section boundaries are vertical
    lines with the section names above; product outlets (and feed stages when the result carries
    ``feed_stages``) are marked. Each component has its own (colour, line style, marker); one legend
    outside the panels lists them.

    With ``ax`` only the concentrations are drawn into that axes (aqueous solid, organic dashed).
    Returns the matplotlib Figure; writes it to ``path`` when given.
    """
    import numpy as np

    plt = _pyplot()
    aq = np.asarray(result.aqueous, dtype=float) / 1000.0          # mol/m^3 -> mol/L
    org = np.asarray(result.organic, dtype=float) / 1000.0
    floor, top = _concentration_range(aq, org)
    stages = np.arange(1, result.stages + 1)
    styles = _styles(len(result.components))
    every = max(1, result.stages // 8)

    if ax is not None:
        return _profiles_into(ax, result, aq, org, floor, top, stages, styles, every, path)

    stage_data = getattr(result, "stage_data", {}) or {}

    comps = set(result.components)
    keyed = [(name, p) for name, p in result.products.items()       # keyed, with possible impurities
             if list(getattr(p, "key", None) or []) and comps - set(p.key)]
    has_state = "ph" in stage_data or "loading_fraction" in stage_data
    kinds = ["aqueous", "organic"] + (["purity"] if keyed else []) + (["state"] if has_state else [])
    heights = {"aqueous": 3.0, "organic": 3.0, "purity": 2.3, "state": 1.7}
    ratios = [heights[k] for k in kinds]
    fig, axes = plt.subplots(len(kinds), 1, sharex=True, figsize=(10.5, 1.2 + 1.25 * sum(ratios)),
                             gridspec_kw={"height_ratios": ratios}, layout="constrained")
    axes = dict(zip(kinds, np.atleast_1d(axes)))

    handles = []
    for phase, data in (("aqueous", aq), ("organic", org)):
        a = axes[phase]
        for i, comp in enumerate(result.components):
            line, = a.semilogy(stages, _below(data[:, i], floor), color=styles[i]["color"],
                               ls=styles[i]["linestyle"], marker=styles[i]["marker"], ms=3.5,
                               markevery=(i * every // max(1, len(result.components)), every),
                               lw=1.3, label=comp)
            if phase == "aqueous":
                handles.append(line)
        a.set_ylim(floor, top)
        a.set_ylabel(f"{phase} phase\nconcentration [mol/L]")
        _stage_axis(a, result, names=phase == "aqueous")
        _outlet_marks(a, result, phase=phase)
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, title="component",
               title_fontsize=8, ncol=1 if len(handles) <= 24 else 2, frameon=False)

    if "purity" in axes:
        _purity_panel(axes["purity"], result, keyed, stages)
    if "state" in axes:
        _state_panel(axes["state"], result, stage_data, stages)

    bottom = axes[kinds[-1]]
    bottom.set_xlabel(_STAGE_LABEL)
    bottom.set_xlim(0.5, result.stages + 0.5)
    from matplotlib.ticker import MaxNLocator

    bottom.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    fig.suptitle(result.name, fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig


def _profiles_into(ax, result, aq, org, floor, top, stages, styles, every, path):
    """Concentrations of both phases into one given axes (aqueous solid, organic dashed)."""
    fig = ax.figure
    handles = []
    for i, comp in enumerate(result.components):
        st = dict(color=styles[i]["color"], marker=styles[i]["marker"], ms=3.5,
                  markevery=(i * every // max(1, len(result.components)), every), lw=1.2)
        handles.append(ax.semilogy(stages, _below(aq[:, i], floor), "-", label=comp, **st)[0])
        ax.semilogy(stages, _below(org[:, i], floor), "--", **st)
    ax.set_ylim(floor, top)
    _stage_axis(ax, result, names=True)
    _outlet_marks(ax, result, phase=None)
    ax.set_ylabel("concentration [mol/L]")
    ax.set_xlabel(_STAGE_LABEL)
    from matplotlib.lines import Line2D

    handles += [Line2D([], [], color="k", ls="-", label="aqueous"),
                Line2D([], [], color="k", ls="--", label="organic")]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0, ncol=1 if len(handles) <= 20 else 2)
    ax.set_title(result.name, pad=24)
    if path is not None:
        save_figure(fig, path)
    return fig


def _styles(count):
    """(colour, line style, marker) of each of ``count`` lines; pairwise distinct (see ``_COLOURS``)."""
    return [{"color": _COLOURS[i % len(_COLOURS)], "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
             "marker": _MARKERS[i % len(_MARKERS)]} for i in range(count)]


def _concentration_range(*arrays):
    """(floor, top) of the concentration axes [mol/L] from the largest finite value."""
    import numpy as np

    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 1e-12, 1.0
    largest = float(values.max())
    floor = max(CONCENTRATION_FLOOR * largest, 10.0 ** math.floor(math.log10(values.min())))
    return floor, 2.0 * largest


def _below(values, floor):
    """Values for a log axis whose lower limit is ``floor``: anything below it (zero and negative
    round-off included) is drawn just outside the axes, so lines leave through the bottom edge and no
    logarithm of zero is taken; NaN stays NaN (a gap)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), np.maximum(values, 0.3 * floor), np.nan)


def _stage_axis(ax, result, names=False):
    """Section boundaries (vertical lines) and, with ``names``, section names above the axes."""
    for k, sec in enumerate(result.sections):
        start = sec["first_stage"] - 0.5
        if k % 2 == 1:
            ax.axvspan(start, start + sec["stages"], color="0.5", alpha=0.06, lw=0, zorder=0)
        if k > 0:
            ax.axvline(start, color="0.35", lw=0.9, zorder=1)
        if names:
            last = sec["first_stage"] + sec["stages"] - 1
            wide = sec["stages"] >= 0.2 * result.stages
            text = f"{sec['name']} (stages {sec['first_stage']}-{last})" if wide else \
                f"{sec['name']}\n({sec['first_stage']}-{last})"
            ax.text(start + sec["stages"] / 2, 1.02, text, ha="center", va="bottom",
                    transform=ax.get_xaxis_transform(), fontsize=9 if wide else 8)
    ax.set_xlim(0.5, result.stages + 0.5)
    ax.grid(True, which="major", alpha=0.3)


def _outlet_marks(ax, result, phase):
    """Mark product outlets of ``phase`` (all phases for None) and feed stages (``feed_stages``)."""
    marks = [(p.stage, f"{name} out", "0.15") for name, p in result.products.items()
             if phase is None or p.phase == phase]
    for feed in getattr(result, "feed_stages", None) or []:
        name, feed_phase, stage = feed if isinstance(feed, tuple) else ("feed", "aqueous", feed)
        if phase is None or feed_phase == phase:
            marks.append((int(stage), f"{name} in", "tab:red"))
    for stage, text, colour in marks:
        ax.axvline(stage, color=colour, ls=(0, (1, 2)), lw=1.1, zorder=1)
        near_right = stage > 0.8 * result.stages
        ax.annotate(text, xy=(stage, 0.97), xycoords=ax.get_xaxis_transform(), rotation=90,
                    xytext=(-3 if near_right else 3, 0), textcoords="offset points",
                    ha="right" if near_right else "left", va="top", fontsize=7.5, color=colour,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})


def key_impurity(result, product):
    """Per-stage impurity of a product's key group in its phase: the fraction of the non-key
    components among all components at each stage [-], shape (N,); NaN where the phase carries no
    metal. Computed from the non-key sum (not 1 - key fraction), so it keeps its digits near purity 1."""
    import numpy as np

    data = np.asarray(result.aqueous if product.phase == "aqueous" else result.organic, dtype=float)
    comps = list(result.components)
    key = [comps.index(k) for k in product.key if k in comps]
    other = [i for i in range(len(comps)) if i not in key]
    data = np.clip(data, 0.0, None)
    total = data.sum(axis=1)
    impure = data[:, other].sum(axis=1) if other else np.zeros(len(total))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, impure / np.where(total > 0, total, 1.0), np.nan)


def _key_text(key):
    key = list(key)
    return "+".join(key) if len(key) <= 4 else f"{key[0]}..{key[-1]} ({len(key)})"


def _purity_panel(ax, result, keyed, stages):
    import numpy as np

    curves = []
    for j, (name, product) in enumerate(keyed):
        imp = key_impurity(result, product)
        curves.append(imp)
        colour = ("k", "tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown")[j % 6]
        ls = _LINESTYLES[j % len(_LINESTYLES)]
        ax.semilogy(stages, _below(imp, IMPURITY_FLOOR), color=colour, ls=ls, lw=1.4,
                    label=f"{name}\nkey {_key_text(product.key)}\nin the {product.phase}")
        outlet = imp[product.stage - 1] if 1 <= product.stage <= len(imp) else np.nan
        if np.isfinite(outlet):
            shown = max(outlet, IMPURITY_FLOOR)
            ax.plot([product.stage], [shown], "o", color=colour, ms=7, mfc="white", mew=1.6, zorder=5)
            near_right = product.stage > 0.8 * result.stages
            ax.annotate(f"{name} outlet\n1 - purity = {outlet:.2g}", xy=(product.stage, shown),
                        xytext=(-8 if near_right else 8, 8), textcoords="offset points",
                        ha="right" if near_right else "left", fontsize=7.5, color=colour)
    _log_limits(ax, curves, IMPURITY_FLOOR, top=1.5)
    ax.set_ylabel("key-group impurity\n1 - purity [-]")
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False, title="product key group", title_fontsize=7.5, labelspacing=0.9)
    _stage_axis(ax, result)


def _state_panel(ax, result, stage_data, stages):
    import numpy as np

    target = ax
    if "ph" in stage_data:
        ax.plot(stages, np.asarray(stage_data["ph"], dtype=float), ".-", color="k", ms=4, lw=1.1,
                label="equilibrium pH")
        ax.set_ylabel("equilibrium pH [-]")
        target = ax.twinx() if "loading_fraction" in stage_data else None
    if target is not None and "loading_fraction" in stage_data:
        target.plot(stages, 100.0 * np.asarray(stage_data["loading_fraction"], dtype=float), "-",
                    color="tab:red", lw=1.3, label="organic loading")
        target.set_ylabel("organic loading\n[% of capacity]", color="tab:red")
        target.tick_params(axis="y", colors="tab:red")
        target.set_ylim(bottom=0)
    _stage_axis(ax, result)


def _log_limits(ax, arrays, floor, top=None):
    """Log y axis from the smallest positive value (not below ``floor``) to the largest."""
    import numpy as np

    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays]) if arrays else \
        np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    if values.size == 0:
        ax.set_ylim(floor, top or 1.0)
        return
    low = max(floor, 10.0 ** math.floor(math.log10(values.min())))
    high = top if top is not None else 10.0 ** math.ceil(math.log10(values.max()) + 1e-9)
    if high <= low:
        high = low * 10.0
    ax.set_ylim(low, high)


# ----------------------------------------------------------------------------------------------
# writing


def save_figure(fig, path):
    """Write a figure in the format of ``path``'s extension (PNG without one), atomically: it is drawn
    into a hidden temporary file next to ``path`` and renamed over it, so a failed write leaves
    neither a partial file nor the temporary behind (and an existing file unchanged). The figure is
    closed afterwards (it stays usable as an object)."""
    import os
    import tempfile

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    ext = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                   dir=directory)
        os.close(fd)
        fig.savefig(tmp, dpi=150, format=ext)
        os.chmod(tmp, 0o666 & ~_umask())       # mkstemp makes it 0600; give it a normal file's mode
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        _pyplot().close(fig)


def _umask():
    """The process umask, read without changing it (Linux); 0o022 where it cannot be read."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _finish(fig, axes, path, legend_size=8, legend=True):
    """Label each (ax, xlabel, ylabel, title), add grids and (with ``legend``) legends where there
    are labelled lines, lay out and save to ``path`` if given."""
    for ax, xlabel, ylabel, title in axes:
        if xlabel is not None:
            ax.set_xlabel(xlabel)
        if ylabel is not None:
            ax.set_ylabel(ylabel)
        if title is not None:
            ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        if legend and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=legend_size)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------------------------
# sweeps

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def _leading_number(value):
    try:
        return float(str(value).split()[0])
    except (ValueError, IndexError):
        return float("nan")


def _axis_values(values, path):
    """(x positions, axis label, tick labels or None) for the values of one varied path.

    Numbers are used as they are (unit ``-``); strings like ``"40 L/min"`` give their number and
    unit when all share the unit; anything else is placed at 0, 1, 2 ... with the strings as ticks."""
    import numpy as np

    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float), f"{path} [-]", None
    parsed = [_NUMBER_UNIT.match(str(v)) for v in values]
    units = {m.group(2) for m in parsed if m}
    if all(parsed) and len(units) == 1:
        unit = units.pop() or "-"
        return np.array([float(m.group(1)) for m in parsed]), f"{path} [{unit}]", None
    order = list(dict.fromkeys(str(v) for v in values))
    return np.array([order.index(str(v)) for v in values], dtype=float), f"{path} [as given]", order


def _x_ticks(ax, xs, ticks):
    """Tick labels for categorical values; whole-number ticks when all values are whole numbers."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    if ticks is not None:
        ax.set_xticks(range(len(ticks)), ticks, rotation=30, ha="right")
        return
    xs = np.asarray(xs, dtype=float)
    xs = xs[np.isfinite(xs)]
    if xs.size and np.all(xs == np.round(xs)):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _mark_failed(ax, xs, label="failed solve", level=0, marker="x"):
    """Red crosses on the x axis (and a faint line) at failed points; ``level`` stacks the marks of
    several sweeps; ``label`` (None: no legend entry) names them once."""
    for k, x in enumerate(xs):
        ax.axvline(x, color="red", alpha=0.25, lw=0.8)
        ax.plot([x], [0.03 + 0.06 * level], marker, color="red", ms=8, mew=2, mfc="none",
                transform=ax.get_xaxis_transform(), clip_on=False, zorder=6,
                label=label if label and k == 0 else "_nolegend_")


def plot_sweep(labelled_sweeps, path=None):
    """Impurity (1 - purity, log) and recovery of every product against the varied value.

    ``labelled_sweeps`` is a list of (label, SweepResult); several are overlaid (``sx-model compare``).
    A single sweep of two paths is drawn as a family of curves (one per value of the second path,
    at most ``FAMILY_MAX``) or, for more values, as heat maps of impurity and recovery over the grid.
    With other multi-path sweeps each combination of the further values is its own curve. Failed
    points are red crosses on the x axis (grey cells in a heat map).
    """
    labelled_sweeps = list(labelled_sweeps)
    if len(labelled_sweeps) == 1 and len(labelled_sweeps[0][1].paths) == 2:
        label, result = labelled_sweeps[0]
        seconds = list(dict.fromkeys(str(p["values"][1]) for p in result.points))
        if len(seconds) <= FAMILY_MAX:
            return _sweep_family(label, result, path)
        return _sweep_heatmap(label, result, path)
    return _sweep_lines(labelled_sweeps, path)


def _sweep_lines(labelled_sweeps, path):
    import numpy as np

    plt = _pyplot()
    fig, (ax_p, ax_r) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    lines = []
    many = len(labelled_sweeps) > 1
    for number, (label, result) in enumerate(labelled_sweeps):
        xs, _, _ = _axis_values([p["values"][0] for p in result.points], result.paths[0])
        groups = {}
        for i, p in enumerate(result.points):
            groups.setdefault(tuple(str(v) for v in p["values"][1:]), []).append(i)
        for name in result.product_names():
            purity, recovery = result.series(name, "purity"), result.series(name, "recovery")
            for rest, idx in groups.items():
                idx = sorted(idx, key=lambda i: xs[i])
                tag = f"{label}: {name}" if len(labelled_sweeps) > 1 else name
                if rest:
                    tag += " (" + ", ".join(f"{p.split('.', 1)[-1]}={v}"
                                            for p, v in zip(result.paths[1:], rest)) + ")"
                if np.isfinite(purity[idx]).any() or np.isfinite(recovery[idx]).any():
                    lines.append((tag, xs[idx], 1.0 - purity[idx], recovery[idx]))
        failed = [xs[i] for i, p in enumerate(result.points) if not p["ok"]]
        mark = _MARKERS[number % len(_MARKERS)] if many else "x"
        text = f"failed solve ({len(failed)} of {len(result.points)} points)"
        _mark_failed(ax_p, failed, f"{text}, {label}" if many else text, number, mark)
        _mark_failed(ax_r, failed, None, number, mark)
    styles = _styles(len(lines))
    for (tag, x, imp, rec), st in zip(lines, styles):
        kw = dict(color=st["color"], ls=st["linestyle"], marker=st["marker"], ms=4, lw=1.3, label=tag)
        ax_p.semilogy(x, np.maximum(imp, IMPURITY_FLOOR), **kw)
        ax_r.plot(x, rec, **kw)
    _log_limits(ax_p, [imp for _, _, imp, _ in lines], IMPURITY_FLOOR)
    first = labelled_sweeps[0][1]
    x_first, xlabel, ticks = _axis_values([p["values"][0] for p in first.points], first.paths[0])
    for ax in (ax_p, ax_r):
        _x_ticks(ax, x_first, ticks)
    title = labelled_sweeps[0][0] if len(labelled_sweeps) == 1 else "comparison"
    fig.suptitle(title, fontsize=11)
    outside = len(lines) > 6                 # many curves: one legend beside the panels
    if outside:
        handles, labels = ax_p.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=7, frameon=False)
    return _finish(fig, [(ax_p, xlabel, _IMPURITY_LABEL, "product impurity (log)"),
                         (ax_r, xlabel, _RECOVERY_LABEL, "product recovery")], path, legend_size=7,
                   legend=not outside)


def _sweep_grid(result):
    """(x values, x label, x ticks, y values, y label, y ticks, index of each point in the grid)."""
    xs_all, xlabel, xticks = _axis_values([p["values"][0] for p in result.points], result.paths[0])
    ys_all, ylabel, yticks = _axis_values([p["values"][1] for p in result.points], result.paths[1])
    xu, yu = sorted(set(xs_all.tolist())), sorted(set(ys_all.tolist()))
    cells = [(xu.index(x), yu.index(y)) for x, y in zip(xs_all.tolist(), ys_all.tolist())]
    return xs_all, xlabel, xticks, ys_all, ylabel, yticks, xu, yu, cells


def _product_rows_figure(names, row_height):
    """A figure with one row of (impurity, recovery) panels per product: (fig, axes, rows)."""
    rows = max(1, len(names))
    fig, axes = _pyplot().subplots(rows, 2, figsize=(12, 1.2 + row_height * rows), squeeze=False,
                                   layout="constrained")
    return fig, axes, rows


def _sweep_family(label, result, path):
    """Two varied paths, few values of the second: one curve per value of the second path."""
    import numpy as np

    names = result.product_names()
    xs_all, xlabel, xticks, ys_all, ylabel, yticks, xu, yu, cells = _sweep_grid(result)
    fig, axes, rows = _product_rows_figure(names, 3.2)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    handles = []
    for r, name in enumerate(names):
        imp, rec = 1.0 - result.series(name, "purity"), result.series(name, "recovery")
        for k, y in enumerate(yu):
            idx = sorted((i for i in range(len(result.points)) if ys_all[i] == y), key=lambda i: xs_all[i])
            colour = cmap(0.85 * k / max(1, len(yu) - 1))
            value = yticks[int(y)] if yticks is not None else _fmt_value(y)
            kw = dict(color=colour, ls=_LINESTYLES[k % len(_LINESTYLES)], marker=_MARKERS[k % len(_MARKERS)],
                      ms=4, lw=1.4, label=value)
            line, = axes[r, 0].semilogy(xs_all[idx], np.maximum(imp[idx], IMPURITY_FLOOR), **kw)
            axes[r, 1].plot(xs_all[idx], rec[idx], **kw)
            if r == 0:
                handles.append(line)
        _log_limits(axes[r, 0], [imp], IMPURITY_FLOOR)
        failed = [xs_all[i] for i, p in enumerate(result.points) if not p["ok"]]
        _mark_failed(axes[r, 0], failed, None)
        _mark_failed(axes[r, 1], failed, None)
        axes[r, 0].set_title(f"{name}: impurity")
        axes[r, 1].set_title(f"{name}: recovery")
    for ax in axes.ravel():
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        _x_ticks(ax, xs_all, xticks)
    for r in range(rows):
        axes[r, 0].set_ylabel(_IMPURITY_LABEL)
        axes[r, 1].set_ylabel(_RECOVERY_LABEL)
    if any(not p["ok"] for p in result.points):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="red", marker="x", ls="none", mew=2, label="failed solve"))
    fig.legend(handles=handles, loc="outside right upper", title=ylabel, fontsize=8, title_fontsize=8)
    fig.suptitle(label, fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig


def _sweep_heatmap(label, result, path):
    """Two varied paths, many values of the second: heat maps of impurity and recovery."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import LogNorm

    names = result.product_names()
    xs_all, xlabel, xticks, ys_all, ylabel, yticks, xu, yu, cells = _sweep_grid(result)
    fig, axes, rows = _product_rows_figure(names, 3.6)
    failed = [cells[i] for i, p in enumerate(result.points) if not p["ok"]]
    for r, name in enumerate(names):
        imp, rec = 1.0 - result.series(name, "purity"), result.series(name, "recovery")
        for c, (values, title, bar) in enumerate(((imp, "impurity", _IMPURITY_LABEL),
                                                  (rec, "recovery", _RECOVERY_LABEL))):
            grid = np.full((len(yu), len(xu)), np.nan)
            for (i, j), v in zip(cells, values):
                grid[j, i] = v
            ax = axes[r, c]
            cmap = matplotlib.colormaps["viridis" if c == 0 else "cividis"].with_extremes(bad="0.8")
            if c == 0:
                finite = grid[np.isfinite(grid)]
                positive = finite[finite > 0]
                low = max(IMPURITY_FLOOR, float(positive.min())) if positive.size else IMPURITY_FLOOR
                high = max(low * 10, float(finite.max())) if finite.size else 1.0
                shown = np.where(np.isfinite(grid), np.maximum(grid, low), np.nan)
                image = ax.imshow(shown, origin="lower", aspect="auto", cmap=cmap,
                                  norm=LogNorm(vmin=low, vmax=high), interpolation="nearest")
            else:
                image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
            fig.colorbar(image, ax=ax, label=bar)
            if grid.size <= 100:
                for j in range(grid.shape[0]):
                    for i in range(grid.shape[1]):
                        if np.isfinite(grid[j, i]):
                            shade = image.norm(grid[j, i] if c == 1 else max(grid[j, i], low))
                            ax.text(i, j, f"{grid[j, i]:.2g}" if c == 0 else f"{grid[j, i]:.4f}",
                                    ha="center", va="center", fontsize=6.5,
                                    color="white" if shade < 0.5 else "black")
            for i, j in failed:
                ax.plot(i, j, "x", color="red", ms=9, mew=2)
            ax.set_title(f"{name}: {title}")
            ax.set_xticks(range(len(xu)), xticks if xticks is not None else [_fmt_value(x) for x in xu],
                          rotation=30 if len(xu) > 6 else 0, ha="right" if len(xu) > 6 else "center")
            ax.set_yticks(range(len(yu)), yticks if yticks is not None else [_fmt_value(y) for y in yu])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
    fig.suptitle(label + ("  (red x: failed solve)" if failed else ""), fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig


def _fmt_value(x):
    return f"{x:.6g}"


# ----------------------------------------------------------------------------------------------
# design studies


def _targets(curve):
    """{product: target purity} from ``curve.targets`` (product -> {"purity": p} or p), if any."""
    out = {}
    targets = getattr(curve, "targets", None)
    if isinstance(targets, dict):
        for name, spec in targets.items():
            value = spec.get("purity") if isinstance(spec, dict) else spec
            if isinstance(value, (int, float)) and 0 < value < 1:
                out[name] = float(value)
    return out


def plot_curve(curve, path=None):
    """Impurity (log) and recovery of each product against total stage count (best split at the
    design flows). Filled markers: the point meets the targets; open: it misses them. Target
    impurities (1 - target purity) are dashed horizontal lines when the curve carries ``targets``."""
    import numpy as np
    from matplotlib.lines import Line2D

    plt = _pyplot()
    fig, (ax, ax_r) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    totals = np.asarray(curve.total_stages, dtype=float)
    meets = np.asarray(list(curve.meets), dtype=bool)
    targets = _targets(curve)
    impurities = []
    for k, (name, values) in enumerate(curve.purities.items()):
        st = _styles(k + 1)[k]
        colour = st["color"]
        impurity = 1.0 - np.asarray(values, dtype=float)
        impurities.append(impurity)
        shown = np.maximum(impurity, IMPURITY_FLOOR)
        ax.semilogy(totals, shown, color=colour, ls=st["linestyle"], lw=1.3, label=name)
        rec = np.asarray(curve.recoveries.get(name, [np.nan] * len(totals)), dtype=float)
        ax_r.plot(totals, rec, color=colour, ls=st["linestyle"], lw=1.3, label=name)
        for a, y in ((ax, shown), (ax_r, rec)):
            a.plot(totals[meets], y[meets], st["marker"], color=colour, ms=6, ls="none")
            a.plot(totals[~meets], y[~meets], st["marker"], color=colour, mfc="white", ms=6, ls="none")
    levels = {}                       # one line per distinct target level, naming its products
    colours = {name: _styles(k + 1)[k]["color"] for k, name in enumerate(curve.purities)}
    for name, purity in targets.items():
        levels.setdefault(round(1.0 - purity, 15), []).append(name)
    for level, names in levels.items():
        impurities.append(np.array([level]))
        ax.axhline(level, color=colours.get(names[0], "0.3") if len(names) == 1 else "0.25",
                   ls=(0, (5, 3)), lw=1.1, label=f"target 1 - purity = {level:.3g} ({', '.join(names)})")
    _log_limits(ax, impurities, IMPURITY_FLOOR)
    extra = [Line2D([], [], marker="o", color="0.3", ls="none", label="meets targets"),
             Line2D([], [], marker="o", color="0.3", mfc="white", ls="none", label="misses targets")]
    for a in (ax, ax_r):
        handles, _ = a.get_legend_handles_labels()
        a.legend(handles=handles + extra, fontsize=8)
    for a in (ax, ax_r):
        if 0 < len(totals) <= 15:
            a.set_xticks(totals, [str(int(t)) for t in totals])
        else:
            _x_ticks(a, totals, None)
    fig.suptitle(curve.name + ("" if targets else "  (no targets given: markers show curve.meets)"),
                 fontsize=11)
    xlabel = "total stages N = n + m [-]"
    ax.grid(True, alpha=0.3)
    ax_r.grid(True, alpha=0.3)
    ax.set(xlabel=xlabel, ylabel=_IMPURITY_LABEL, title="impurity at the best split")
    ax_r.set(xlabel=xlabel, ylabel=_RECOVERY_LABEL, title="recovery at the best split")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_pareto(result, path=None):
    """Cost per kg of oxide product against total stage count; the Pareto front joined and the
    cheapest design marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    ax.plot([c.stages for c in result.candidates], [c.usd_per_kg for c in result.candidates], "o",
            color="0.65", ms=4, label="checked designs (meet the targets)")
    front = sorted(result.front, key=lambda c: c.stages)
    ax.plot([c.stages for c in front], [c.usd_per_kg for c in front], "o-", color="tab:blue", ms=5,
            label="Pareto front (labels: scrub reflux W [mol/mol feed])")
    best = result.best
    xs = [c.stages for c in result.candidates] or [0]
    ys = [c.usd_per_kg for c in result.candidates] or [0]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    placed = [(best.stages, best.usd_per_kg)]
    for c in front:                   # label the front points that do not crowd a labelled one
        if all(abs(c.stages - x) > 0.04 * span_x or abs(c.usd_per_kg - y) > 0.05 * span_y
               for x, y in placed):
            ax.annotate(f"W = {c.w:.2f}", (c.stages, c.usd_per_kg), xytext=(5, 4),
                        textcoords="offset points", fontsize=7, color="tab:blue")
            placed.append((c.stages, c.usd_per_kg))
    ax.plot([best.stages], [best.usd_per_kg], "*", ms=15, color="tab:red",
            label=f"cheapest: n = {best.n}, m = {best.m} ({best.stages} stages), W = {best.w:.2f}, "
                  f"{best.usd_per_kg:.3f} USD/kg")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(fig, [(ax, "total stages n + m [-]", "cost [USD/kg oxide product]", result.name)], path)


# ----------------------------------------------------------------------------------------------
# sensitivities and uncertainty


def tornado_plot(sens, output=None, path=None, top=15):
    """Tornado chart: elasticity of one output (default: the first) to each input, largest first.

    ``sens`` is a :class:`~sx_model.studies.sensitivity.Sensitivity`; bars show the % change of the
    output per % change of the input (at most ``top`` inputs)."""
    plt = _pyplot()
    output = sens.outputs[0] if output is None else output
    if output not in sens.outputs:
        raise ValueError(f"no output {output!r}; expected one of {', '.join(sens.outputs)}")
    row = sens.elasticity[sens.outputs.index(output)]
    order = [j for j in sorted(range(len(sens.inputs)), key=lambda j: -abs(row[j]) if math.isfinite(row[j])
                               else 0.0)][:top]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(order) + 1.6))
    values = [row[j] for j in order][::-1]
    labels = [sens.inputs[j] for j in order][::-1]
    colours = ["tab:red" if v < 0 else "tab:blue" for v in values]
    ax.barh(range(len(values)), values, color=colours)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    return _finish(fig, [(ax, f"elasticity of {output} [% per % of the input]", None,
                          f"{sens.name}: sensitivity of {output}")], path, legend=False)


def uncertainty_plot(study, output=None, path=None):
    """Monte Carlo study: histogram of one output (default: the first) with the nominal value and the
    target marked, and the inputs' rank correlations with it (tornado)."""
    plt = _pyplot()
    output = study.outputs[0] if output is None else output
    if output not in study.outputs:
        raise ValueError(f"no output {output!r}; expected one of {', '.join(study.outputs)}")
    k = study.outputs.index(output)
    values = study.samples[study.ok, k]
    values = values[np.isfinite(values)]
    fig, (hist, bars) = plt.subplots(1, 2, figsize=(11, 4.2))
    if values.size:
        hist.hist(values, bins=min(50, max(5, int(math.sqrt(values.size)))), color="tab:blue", alpha=0.8)
    nominal = study.nominal.get(output)
    if nominal is not None:
        hist.axvline(nominal, color="black", linestyle="--", label=f"nominal {nominal:.6g}")
    product, _, quantity = output.partition(".")
    target = study.targets.get(product)
    if target is not None and quantity in ("purity", "recovery"):
        level = target[0] if quantity == "purity" else target[1]
        if level is not None:
            hist.axvline(level, color="tab:red", label=f"target {level:g}")
    rho = study.rank_correlations()[:, k]
    order = sorted(range(len(study.spreads)), key=lambda i: abs(rho[i]) if math.isfinite(rho[i]) else -1.0)
    bars.barh(range(len(order)), [rho[i] if math.isfinite(rho[i]) else 0.0 for i in order],
              color=["tab:red" if rho[i] < 0 else "tab:blue" for i in order])
    bars.set_yticks(range(len(order)), [study.spreads[i].path for i in order], fontsize=8)
    bars.axvline(0.0, color="black", linewidth=0.8)
    bars.set_xlim(-1, 1)
    solved = int(study.ok.sum())
    return _finish(fig, [(hist, output, "samples", f"{study.name}: {solved} of {study.count} samples solved"),
                         (bars, f"rank correlation with {output}", None, "what drives it")], path)


def window_plot(window, path=None):
    """Operating window: with a grid (:func:`~sx_model.studies.window.window_map`), the worst margin to
    the targets over two inputs, the edge of the window (margin 0) and the nominal point; else each
    input's window as a bar in % of its nominal value."""
    plt = _pyplot()
    grid = window.grid
    if grid:
        fig, ax = plt.subplots(figsize=(7.5, 5.8))
        margin = np.asarray(grid["margin"], dtype=float)
        finite = margin[np.isfinite(margin)]
        from matplotlib.colors import TwoSlopeNorm

        low = float(finite.min()) if finite.size else -1.0
        high = float(finite.max()) if finite.size else 1.0
        low, high = min(low, -1e-12), max(high, 1e-12)       # red below the targets, green above
        image = ax.contourf(grid["x"], grid["y"], margin, levels=np.linspace(low, high, 22), cmap="RdYlGn",
                            norm=TwoSlopeNorm(vmin=low, vcenter=0.0, vmax=high))
        fig.colorbar(image, ax=ax, label="worst margin to the targets (purity or recovery) [-]")
        if finite.size and finite.min() < 0 < finite.max():
            ax.contour(grid["x"], grid["y"], margin, levels=[0.0], colors="black", linewidths=1.5)
        failed = ~np.isfinite(margin)
        if failed.any():
            yy, xx = np.meshgrid(grid["y"], grid["x"], indexing="ij")
            ax.plot(xx[failed], yy[failed], "x", color="grey", label="failed solve")
        ax.plot(*grid["nominal"], "o", color="black", markersize=8, label="nominal")
        units = grid["units"]
        return _finish(fig, [(ax, f"{grid['x_path']}" + (f" [{units[0]}]" if units[0] else ""),
                              f"{grid['y_path']}" + (f" [{units[1]}]" if units[1] else ""),
                              f"{window.name}:\noperating window (black line: targets just met)")], path)
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(window.windows) + 1.8))
    for k, w in enumerate(window.windows):
        low = -w.span if w.low is None else w.low_fraction
        high = w.span if w.high is None else w.high_fraction
        ax.barh(k, 100 * (high - low), left=100 * low, color="tab:green", alpha=0.7)
        for edge, open_end in ((low, w.low is None), (high, w.high is None)):
            ax.text(100 * edge, k, " open" if open_end else f" {100 * edge:+.2f} %", va="center", fontsize=8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(window.windows)), [w.path for w in window.windows], fontsize=8)
    return _finish(fig, [(ax, "change from the nominal value where every target holds [%]", None,
                          f"{window.name}: operating window")], path, legend=False)


def plot_general_pareto(result, path=None):
    """Cost per kg of keyed oxide against total stage count for designs by simulation at several organic
    flows: every design that meets the targets, the Pareto front joined, the cheapest marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    good = [c for c in result.candidates if c.met]
    ax.plot([c.total for c in good], [c.usd_per_kg for c in good], "o", color="0.65", ms=5,
            label="designs that meet the targets (labels: organic flow x config)")
    front = sorted(result.front, key=lambda c: c.total)
    ax.plot([c.total for c in front], [c.usd_per_kg for c in front], "o-", color="tab:blue", ms=5,
            label="Pareto front")
    for c in good:
        ax.annotate(f"x {c.multiple:g}", (c.total, c.usd_per_kg), xytext=(5, 4), textcoords="offset points",
                    fontsize=7, color="0.3")
    best = result.best
    ax.plot([best.total], [best.usd_per_kg], "*", ms=15, color="tab:red",
            label=f"cheapest: {best.total} stages, organic x {best.multiple:g}, {best.usd_per_kg:.3f} USD/kg")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(fig, [(ax, "total stages (extraction + scrub) [-]", "cost [USD/kg oxide product]",
                          f"{result.name} ({result.model} model)")], path)


def plot_draw(result, path=None):
    """Purity and recovery of the drawn middle product against the draw stage, one line per phase; the
    chosen draw marked."""
    plt = _pyplot()
    fig, (ax, ax_r) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    name = result.product
    for k, phase in enumerate(("aqueous", "organic")):
        rows = [r for r in result.rows if r["phase"] == phase and not r.get("failed")]
        if not rows:
            continue
        st = _styles(2)[k]
        stages = [r["stage"] for r in rows]
        ax.plot(stages, [r[f"{name}_purity"] for r in rows], color=st["color"], ls=st["linestyle"],
                marker=st["marker"], ms=3, label=f"drawn from the {phase}")
        ax_r.plot(stages, [r[f"{name}_recovery"] for r in rows], color=st["color"], ls=st["linestyle"],
                  marker=st["marker"], ms=3, label=f"drawn from the {phase}")
    b = result.best
    ax.plot([b["stage"]], [b[f"{name}_purity"]], "*", ms=14, color="tab:red", label=f"chosen: {b['phase']}, stage {b['stage']}")
    return _finish(fig, [(ax, "draw stage [-]", f"{name} purity [-]", result.name),
                         (ax_r, "draw stage [-]", f"{name} recovery [-]", None)], path)
