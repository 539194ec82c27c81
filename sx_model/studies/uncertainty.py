"""Monte Carlo uncertainty: distributions on inputs -> distributions of purity, recovery and cost.

Samples are drawn (Latin hypercube by default, or plain random; seeded, so a seed gives the same
samples on every machine), applied to the cascade as config edits, and solved through an executor.
Every sample is solved cold (no warm start), so each outcome depends on its inputs only: the same on one
core or many, in any order, and a study with zero spread reproduces the deterministic result exactly.
A sample whose inputs are impossible (a negative flow drawn from a wide normal) or that does not converge
is counted as failed and as not meeting the targets.

Reported: mean, standard deviation and percentiles of every output, the probability of meeting each
target (with its standard error and a 95 % Wilson interval), and Spearman rank correlations of every
input with every output (the tornado chart).
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, SxModelError
from ..results import key_outputs as _outputs
from .executors import SerialExecutor

PERCENTILES = (5, 50, 95)


@dataclass
class UncertaintyResult:
    name: str
    spreads: list
    values: np.ndarray                 # (samples, inputs) [SI]
    outputs: list                      # output names
    samples: np.ndarray                # (samples, outputs), NaN where the sample failed
    ok: np.ndarray                     # (samples,) bool
    errors: list                       # message per sample ("" if solved)
    nominal: dict                      # output -> value of the deterministic solve
    targets: dict                      # product -> (purity, recovery or None)
    seed: int = 0
    sampling: str = "latin_hypercube"
    elapsed_s: float = 0.0
    mass_balance_error: float = 0.0    # worst over the solved samples
    converged: int = 0
    interrupted: bool = False          # stopped by Ctrl-C: only the finished samples are kept
    extra: dict = field(default_factory=dict)

    @property
    def count(self):
        return int(self.values.shape[0])

    def meets(self):
        """(samples,) bool: every target met (failed samples do not)."""
        met = self.ok.copy()
        for product, (purity, recovery) in self.targets.items():
            met &= np.nan_to_num(self.samples[:, self.outputs.index(f"{product}.purity")], nan=-1.0) >= purity
            if recovery is not None:
                met &= np.nan_to_num(self.samples[:, self.outputs.index(f"{product}.recovery")],
                                     nan=-1.0) >= recovery
        return met

    def probability(self):
        """Probability of meeting every target: (estimate, standard error, (low, high) 95 % Wilson)."""
        n = self.count
        p = float(self.meets().mean()) if n else math.nan
        se = math.sqrt(p * (1.0 - p) / n) if n else math.nan
        z = 1.959963984540054
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return p, se, (max(0.0, centre - half), min(1.0, centre + half))

    def statistics(self):
        """Output -> {mean, sd, p5, p50, p95, min, max, nominal} over the solved samples."""
        out = {}
        good = self.samples[self.ok]
        for k, name in enumerate(self.outputs):
            col = good[:, k] if good.size else np.array([])
            col = col[np.isfinite(col)]
            row = {"nominal": self.nominal.get(name)}
            if col.size:
                row.update(mean=float(col.mean()), sd=float(col.std(ddof=1)) if col.size > 1 else 0.0,
                           min=float(col.min()), max=float(col.max()),
                           **{f"p{q}": float(np.percentile(col, q)) for q in PERCENTILES})
            out[name] = row
        return out

    def rank_correlations(self):
        """(inputs, outputs) Spearman rank correlation over the solved samples (NaN where undefined)."""
        from scipy.stats import spearmanr

        good = self.ok
        rho = np.full((len(self.spreads), len(self.outputs)), np.nan)
        if good.sum() < 3:
            return rho
        for i in range(len(self.spreads)):
            x = self.values[good, i]
            if np.ptp(x) == 0:
                continue
            for k in range(len(self.outputs)):
                y = self.samples[good, k]
                if np.all(np.isfinite(y)) and np.ptp(y) > 0:
                    rho[i, k] = float(spearmanr(x, y).statistic)
        return rho

    def rows(self):
        out = []
        for s in range(self.count):
            row = {"sample": s}
            row.update({f"{sp.path} [{sp.unit}]" if sp.unit else sp.path: float(self.values[s, i])
                        for i, sp in enumerate(self.spreads)})
            row["ok"] = bool(self.ok[s])
            row.update({name: (float(self.samples[s, k]) if self.ok[s] else None)
                        for k, name in enumerate(self.outputs)})
            row["error"] = self.errors[s]
            out.append(row)
        return out

    def to_csv(self):
        from ..results import tidy_csv

        return tidy_csv(self.rows())

    def to_dict(self):
        p, se, (low, high) = self.probability()
        rho = self.rank_correlations()
        return {"name": self.name, "samples": self.count, "interrupted": self.interrupted,
                "solved": int(self.ok.sum()),
                "failed": int((~self.ok).sum()), "converged": self.converged,
                "mass_balance_error": self.mass_balance_error, "seed": self.seed, "sampling": self.sampling,
                "elapsed_s": self.elapsed_s,
                "inputs": [{"path": s.path, "distribution": s.distribution, "scale": s.scale,
                            "relative": s.relative, "nominal": s.nominal, "unit": s.unit} for s in self.spreads],
                "statistics": self.statistics(),
                "targets": {k: {"purity": pu, "recovery": re} for k, (pu, re) in self.targets.items()},
                "probability_of_meeting_targets": ({"estimate": p, "standard_error": se, "wilson_95": [low, high]}
                                                   if self.targets else None),
                "rank_correlations": {s.path: dict(zip(self.outputs, map(float, rho[i])))
                                      for i, s in enumerate(self.spreads)},
                "points": self.rows()}

    def table(self):
        stats = self.statistics()
        lines = [f"{self.name}: {self.count} samples ({self.sampling}, seed {self.seed}), "
                 f"{int(self.ok.sum())} solved, {int((~self.ok).sum())} failed; worst mass balance "
                 f"{self.mass_balance_error:.1e}; {self.elapsed_s:.2f} s",
                 f"{'output':<28} {'nominal':>12} {'mean':>12} {'sd':>11} {'p5':>12} {'p50':>12} {'p95':>12}"]
        for name, row in stats.items():
            if "mean" not in row:
                lines.append(f"{name:<28} (no solved sample)")
                continue
            lines.append(f"{name:<28} {row['nominal'] if row['nominal'] is not None else math.nan:>12.6g} "
                         f"{row['mean']:>12.6g} {row['sd']:>11.3g} {row['p5']:>12.6g} {row['p50']:>12.6g} "
                         f"{row['p95']:>12.6g}")
        if self.targets:
            p, se, (low, high) = self.probability()
            shown = ", ".join(f"{k} purity >= {pu:g}" + (f", recovery >= {re:g}" if re is not None else "")
                              for k, (pu, re) in self.targets.items())
            lines.append(f"probability of meeting every target ({shown}): {p:.4f} +- {se:.4f} "
                         f"(95 % interval {low:.4f}-{high:.4f})")
        rho = self.rank_correlations()
        lines.append("rank correlation (Spearman) of each input with each output:")
        lines.append(f"{'input':<40} " + " ".join(f"{o[:18]:>18}" for o in self.outputs))
        for i, s in enumerate(self.spreads):
            lines.append(f"{s.path:<40} " + " ".join(f"{rho[i, k]:>18.3f}" for k in range(len(self.outputs))))
        return "\n".join(lines)

    def plot(self, output=None, path=None):
        from ..plotting import uncertainty_plot

        return uncertainty_plot(self, output, path)


def draw(spreads, samples: int, seed: int = 0, sampling: str = "latin_hypercube") -> np.ndarray:
    """(samples, inputs) input values [SI] for the given spreads (seeded)."""
    from scipy.stats import norm, qmc

    d = len(spreads)
    if sampling == "latin_hypercube":
        u = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(samples)
    elif sampling == "random":
        u = np.random.default_rng(seed).random((samples, d))
    else:
        raise ConfigError("sampling", f"{sampling!r}; expected latin_hypercube or random")
    u = np.clip(u, 1e-15, 1.0 - 1e-15)
    z = norm.ppf(u)
    values = np.empty((samples, d))
    for i, spread in enumerate(spreads):
        values[:, i] = [spread.value(float(zz), float(uu)) for zz, uu in zip(z[:, i], u[:, i])]
    return values


def uncertainty(cascade, spec, *, samples: int | None = None, seed: int | None = None,
                sampling: str | None = None, targets: dict | None = None, executor=None,
                progress=None) -> UncertaintyResult:
    """Monte Carlo study of ``cascade`` over the distributions of ``spec``
    (:class:`~sx_model.config.uncertainty.UncertaintySpec`, e.g. from the config's ``uncertainty:``
    section). ``samples``, ``seed``, ``sampling`` and ``targets`` override the spec's."""
    from ..config.edits import variable
    from ..config.uncertainty import MAX_SAMPLES
    from ..solvers.steady import solve

    samples = samples if samples is not None else (spec.samples or 200)
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
        raise ConfigError("--samples", f"{samples!r}; expected a whole number from 1 to {MAX_SAMPLES}")
    seed = spec.seed if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError("--seed", f"{seed!r}; expected a whole number >= 0")
    sampling = sampling or spec.sampling
    targets = spec.targets if targets is None else targets
    for product in targets:
        if product not in cascade.product_keys:
            raise ConfigError("--target", f"no keyed product {product!r}; expected one of "
                                          f"{', '.join(cascade.product_keys)}")
    spreads = list(spec.spreads)
    # every edit reads its value with the config's checks; the edited cascade is checked once
    applies = [variable(s.path, cascade, check=False) for s in spreads]
    start = time.perf_counter()
    nominal_result = solve(cascade)
    names, nominal = _outputs(nominal_result)
    values = draw(spreads, samples, seed, sampling)

    def cascades():
        for row in values:
            edited = cascade
            try:
                for spread, apply, value in zip(spreads, applies, row):
                    edited = apply(edited, spread.text(float(value)))
                edited.check()
            except SxModelError as exc:
                yield exc
                continue
            yield edited

    executor = executor or SerialExecutor(warm=False)
    outcomes = executor.map(_Sized(cascades(), samples))
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        from tqdm import tqdm

        outcomes = tqdm(outcomes, total=samples, delay=1.0, desc="samples", unit="solve", file=sys.stderr)
    table = np.full((samples, len(names)), np.nan)
    ok = np.zeros(samples, dtype=bool)
    errors, worst, converged, interrupted = [], 0.0, 0, False
    try:
        for s, outcome in enumerate(outcomes):
            if isinstance(outcome, Exception):
                errors.append(" ".join(str(outcome).split()))
                continue
            table[s] = _outputs(outcome)[1]
            ok[s] = bool(outcome.converged)
            converged += bool(outcome.converged)
            worst = max(worst, float(outcome.mass_balance_error))
            errors.append("")
    except KeyboardInterrupt:          # Ctrl-C: keep the finished samples
        interrupted = True
        done = len(errors)
        values, table, ok = values[:done], table[:done], ok[:done]
    finally:
        close = getattr(outcomes, "close", None)
        if close:
            close()
    return UncertaintyResult(name=cascade.name, spreads=spreads, values=values, outputs=names, samples=table,
                             ok=ok, errors=errors, nominal=dict(zip(names, nominal)), targets=dict(targets),
                             seed=seed, sampling=sampling, elapsed_s=time.perf_counter() - start,
                             mass_balance_error=worst, converged=converged, interrupted=interrupted)


class _Sized:
    """An iterable of a known length (an executor can then hand out parts of it as it is built)."""

    def __init__(self, items, count):
        self.items, self.count = items, count

    def __len__(self):
        return self.count

    def __iter__(self):
        return iter(self.items)
