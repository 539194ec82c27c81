"""Extraction constants fitted to shake-out tests (``sx-model fit``, :func:`fit`).

The data are batch contacts, one per CSV row (see docs/config.md, "Shake-out data"): initial aqueous,
acidity, O/A, extractant, saponification, temperature, and what was measured at equilibrium (aqueous or
organic concentrations, D, pH). Each row is simulated as a batch contact
(:func:`sx_model.batch.batch_contact`) of the config's equilibrium model with some of its constants
replaced by the parameters theta (named by dotted config paths, applied to the model's arrays with
``with_parameters``), and theta minimises the weighted sum of squares

    S(theta) = sum_k w_k (f_k(theta) - m_k)^2 / sd_k^2

with f the model and m the measured value of observation k: log10 of a concentration or of D, or the pH
itself (``scipy.optimize.least_squares``, trust-region reflective within the bounds the config accepts).
At the optimum, with J the Jacobian of the weighted residuals, n observations and p parameters, the
covariance is s^2 (J^T J)^-1 with s^2 = S / (n - p); standard errors are its diagonal's roots, 95 %
intervals theta +- t_{0.975, n-p} se (docs/theory.md, section "Fitting constants to shake-out tests").
With a hold-out fraction, those rows are left out of the fit and predicted afterwards.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, ConvergenceError

#: Observable kinds: log10 of the aqueous or organic concentration, log10 D, pH.
KINDS = ("aq", "org", "d", "ph")
KIND_LABEL = {"aq": "log10 x", "org": "log10 y", "d": "log10 D", "ph": "pH"}
#: Columns that only label a row.
LABEL_COLUMNS = frozenset({"id", "sample", "test", "note", "comment"})
#: Residual (weighted, per observation) given to a contact that does not converge at a trial point.
FAILED_RESIDUAL = 30.0
#: Largest number of data rows read.
MAX_ROWS = 100_000
#: Bounds of the fitted values, in config units (those the config readers accept).
BOUNDS = {"log10_k": (-40.0, 40.0), "intercept": (-40.0, 40.0), "b0": (-40.0, 40.0),
          "ph_slope": (0.0, 12.0), "slope": (0.0, 6.0), "m0": (-40.0, 40.0), "m1": (-40.0, 40.0),
          "extractant_order": (-12.0, 12.0), "b1": (-40.0, 40.0), "enthalpy": (-500.0, 500.0)}
HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\[\s*(.*?)\s*\])?\s*$")


class FitError(ConvergenceError):
    """The fit could not be completed (a contact that does not converge, a singular Jacobian)."""


# -- the data ---------------------------------------------------------------------------------------

@dataclass
class ShakeOutData:
    """Shake-out tests read from a CSV file, SI units (see module docstring).

    ``acid`` is the initial proton total [mol/m^3] (NaN where the row gives ``ph0``, then in ``ph0``);
    ``extractant`` and ``saponification`` are NaN where the row leaves them to the config. The
    observations are flat arrays: ``obs_row``, ``obs_kind`` (index in :data:`KINDS`), ``obs_comp``
    (component index, -1 for pH), ``obs_value`` (log10 of the measured value, or the pH) and
    ``obs_sd`` (standard deviation in those units, times 1/sqrt(weight))."""

    name: str
    components: tuple
    lines: np.ndarray
    aqueous: np.ndarray
    organic: np.ndarray
    acid: np.ndarray
    ph0: np.ndarray
    sulfate: np.ndarray
    o_a: np.ndarray
    extractant: np.ndarray
    saponification: np.ndarray
    temperature: np.ndarray
    obs_row: np.ndarray
    obs_kind: np.ndarray
    obs_comp: np.ndarray
    obs_value: np.ndarray
    obs_sd: np.ndarray
    columns: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.aqueous.shape[0]

    def where(self, row: int) -> str:
        return f"{self.name} line {int(self.lines[row])}"


def _where(name, line, column=None):
    return f"{name} line {line}" + (f", column {column!r}" if column else "")


def _unit_factor(column, unit, kind, element=None, name="data"):
    """SI value of 1 ``unit`` (``kind``: concentration | temperature) or an affine pair for temperature."""
    from ..config import checks as v

    key = f"{name}, column {column!r}"
    if not unit:
        raise ConfigError(key, "no unit; expected one in brackets, e.g. "
                               + ("'Nd_aq0 [mol/L]' or '[g/L]'" if kind == "concentration" else "'[degC]'"))
    try:
        if kind == "metal":
            from ..config.layout import concentration

            return concentration(f"1 {unit}", f"{key}.{element}"), 0.0
        if kind == "temperature":
            low = v.quantity(f"0 {unit}", "temperature", key)
            return v.quantity(f"1 {unit}", "temperature", key) - low, low
        return v.quantity(f"1 {unit}", "concentration", key), 0.0
    except ConfigError as exc:
        raise ConfigError(key, f"unit {unit!r}: {exc.message}") from None


def _column_role(column, base, unit, components, name):
    """(role, element or None, kind of unit) of a CSV column, ConfigError naming it if unknown."""
    def need_element(el, role):
        if el not in components:
            raise ConfigError(f"{name}, column {column!r}", f"{el!r} is not a component of the config "
                                                            f"({', '.join(components)})")
        return role, el
    if base.startswith("sd_"):
        return "sd", base[3:], None
    for suffix, role in (("_aq0", "aq0"), ("_org0", "org0"), ("_aq", "aq"), ("_org", "org")):
        if base.endswith(suffix) and len(base) > len(suffix):
            return (*need_element(base[:-len(suffix)], role), "metal")
    if base.startswith("D_"):
        return (*need_element(base[2:], "d"), None)
    simple = {"acid0": "concentration", "sulfate0": "concentration", "extractant": "concentration",
              "temperature": "temperature", "ph0": None, "ph": None, "o_a": None, "saponification": None,
              "weight": None}
    if base in simple:
        return base, None, simple[base]
    if base.lower() in LABEL_COLUMNS:
        return "label", None, None
    raise ConfigError(f"{name}, column {column!r}",
                      "unknown column; expected <El>_aq0, <El>_org0, acid0 or ph0, sulfate0, o_a, extractant, "
                      "saponification, temperature, measured <El>_aq, <El>_org, D_<El>, ph, and weight or "
                      "sd_<measured column>")


def read_data(path, components, medium_speciated=False) -> ShakeOutData:
    """Shake-out tests from a CSV file (see module docstring); ConfigError naming the row and column."""
    from ..config.files import limit

    name = os.path.basename(os.fspath(path))
    try:
        size = os.path.getsize(path)
        if size > limit("max_config_bytes") * 10:
            raise ConfigError(name, f"{size} bytes; expected a CSV of at most {limit('max_config_bytes') * 10}")
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(name, f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(name, f"not UTF-8 text (byte {exc.start}); expected a CSV file") from None
    return parse_data(text, components, name, medium_speciated)


def parse_data(text, components, name="data", medium_speciated=False) -> ShakeOutData:
    """Shake-out tests from CSV text (see :func:`read_data`)."""
    components = tuple(components)
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text)))
            if any(cell.strip() for cell in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise ConfigError(name, "empty; expected a header row and one shake-out test per row")
    header_line, header = rows[0]
    data = rows[1:]
    if not data:
        raise ConfigError(name, "has a header but no data rows; expected one shake-out test per row")
    if len(data) > MAX_ROWS:
        raise ConfigError(name, f"{len(data)} rows; expected at most {MAX_ROWS}")
    cols = []                    # (column text, role, element, factor, offset)
    seen = {}
    for column in header:
        match = HEADER.match(column)
        if not match:
            raise ConfigError(f"{name}, column {column!r}", "expected NAME or NAME [unit], e.g. 'Nd_aq0 [mol/L]'")
        base, unit = match.group(1), match.group(2)
        role, element, kind = _column_role(column, base, unit, components, name)
        if kind is None:
            if unit not in (None, "", "-", "1"):
                raise ConfigError(f"{name}, column {column!r}", f"unit {unit!r} on a dimensionless quantity; "
                                                                "expected no unit")
            factor, offset = 1.0, 0.0
        else:
            factor, offset = _unit_factor(column, unit, kind, element, name)
        ident = (role, element) if role != "sd" else ("sd", element)
        if ident in seen and role != "label":
            raise ConfigError(f"{name}, column {column!r}", f"the same quantity as column {seen[ident]!r}")
        seen[ident] = column
        cols.append((column, role, element, factor, offset))
    roles = {c[1] for c in cols}
    if "aq0" not in roles:
        raise ConfigError(f"{name}, columns", "no initial aqueous column; expected e.g. 'Nd_aq0 [mol/L]'")
    if "o_a" not in roles:
        raise ConfigError(f"{name}, columns", "missing required column 'o_a' (organic/aqueous volume ratio)")
    if "acid0" in roles and "ph0" in roles:
        raise ConfigError(f"{name}, column 'ph0'", "give the initial acidity as acid0 or ph0, not both")
    if "acid0" not in roles and "ph0" not in roles:
        raise ConfigError(f"{name}, columns", "missing required column: the initial acidity as "
                                              "'acid0 [mol/L]' (proton total) or 'ph0'")
    if "sulfate0" in roles and not medium_speciated:
        raise ConfigError(f"{name}, column {seen[('sulfate0', None)]!r}", "total sulfate is an input of "
                                                                         "sulfate media only")
    measured = [c for c in cols if c[1] in ("aq", "org", "d", "ph")]
    if not measured:
        raise ConfigError(f"{name}, columns", "no measured column; expected any of <El>_aq, <El>_org, "
                                              "D_<El>, ph")
    measured_names = {(c[1], c[2]): c[0] for c in measured}
    by_base = {HEADER.match(c[0]).group(1): c for c in measured}
    for column, role, element, _, _ in cols:
        if role == "sd" and element not in by_base:
            raise ConfigError(f"{name}, column {column!r}", f"no measured column {element!r} for this "
                                                            "standard deviation; expected sd_<measured column>")
    n, c = len(data), len(components)
    out = {"aq0": np.zeros((n, c)), "org0": np.zeros((n, c)), "acid0": np.full(n, np.nan),
           "ph0": np.full(n, np.nan), "sulfate0": np.full(n, np.nan), "o_a": np.full(n, np.nan),
           "extractant": np.full(n, np.nan), "saponification": np.full(n, np.nan),
           "temperature": np.full(n, 298.15), "weight": np.ones(n)}
    obs = []                     # (row, kind, comp, measured, column)
    sds = {}
    lines = np.array([line for line, _ in data])
    for k, (line, cells) in enumerate(data):
        if len(cells) != len(cols):
            raise ConfigError(_where(name, line), f"{len(cells)} cells; expected {len(cols)} as in the header")
        for (column, role, element, factor, offset), cell in zip(cols, cells):
            cell = cell.strip()
            where = _where(name, line, column)
            if role == "label":
                continue
            if not cell:
                if role in ("aq0", "o_a", "acid0", "ph0"):
                    raise ConfigError(where, "empty; expected a number")
                continue
            try:
                value = float(cell)
            except ValueError:
                raise ConfigError(where, f"{cell!r} is not a number") from None
            if not math.isfinite(value):
                raise ConfigError(where, f"{cell!r} is not finite")
            si = value * factor + offset
            if role in ("aq0", "org0", "acid0", "sulfate0") and si < 0:
                raise ConfigError(where, f"{cell} is negative; expected a concentration >= 0")
            if role == "extractant" and si <= 0:
                raise ConfigError(where, f"{cell}; expected an extractant concentration > 0")
            if role == "o_a" and si <= 0:
                raise ConfigError(where, f"{cell}; expected an O/A ratio > 0")
            if role in ("ph0", "ph") and not -1.0 <= si <= 14.0:
                raise ConfigError(where, f"{cell}; expected a pH between -1 and 14")
            if role == "saponification" and not 0.0 <= si <= 1.0:
                raise ConfigError(where, f"{cell}; expected a fraction between 0 and 1")
            if role == "temperature" and not 273.15 < si <= 373.15:
                raise ConfigError(where, f"{cell}; expected a temperature of the liquids between 0 and 100 degC")
            if role in ("weight", "sd") and si <= 0:
                raise ConfigError(where, f"{cell}; expected a number > 0")
            if role in ("aq", "org", "d") and si <= 0:
                raise ConfigError(where, f"{cell}; expected a measured value > 0 (its logarithm is fitted)")
            if role in ("aq0", "org0"):
                out[role][k, components.index(element)] = si
            elif role in ("aq", "org", "d"):
                obs.append((k, KINDS.index(role), components.index(element), math.log10(si), column))
            elif role == "ph":
                obs.append((k, KINDS.index("ph"), -1, si, column))
            elif role == "sd":
                sds[(k, by_base[element][0])] = si
            else:
                out[role][k] = si
        if (out["aq0"][k] + out["org0"][k]).sum() <= 0:
            raise ConfigError(_where(name, line), "the test holds no metal; expected an initial concentration > 0")
    if not obs:
        raise ConfigError(f"{name}, columns", "every measured cell is empty; expected measured values")
    sd = np.array([sds.get((k, column), 1.0) for k, _, _, _, column in obs])
    weight = out["weight"][[o[0] for o in obs]]
    return ShakeOutData(
        name=name, components=components, lines=lines, aqueous=out["aq0"], organic=out["org0"],
        acid=out["acid0"], ph0=out["ph0"], sulfate=out["sulfate0"], o_a=out["o_a"],
        extractant=out["extractant"], saponification=out["saponification"], temperature=out["temperature"],
        obs_row=np.array([o[0] for o in obs]), obs_kind=np.array([o[1] for o in obs]),
        obs_comp=np.array([o[2] for o in obs]), obs_value=np.array([o[3] for o in obs]),
        obs_sd=sd / np.sqrt(weight), columns={v: k for k, v in measured_names.items()})


# -- the parameters ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Parameter:
    """One fitted constant: its config path, the model attribute and index it sets, the config-units
    value it starts from, and its bounds. ``attribute`` ``intercept_cfg`` is the pH-correlation
    intercept at the config's extractant concentration (the model's intercept minus n log10 of it)."""

    path: str
    attribute: str
    index: int
    start: float
    bounds: tuple
    unit: str = ""


def _paths_help(model) -> str:
    return {"mass_action": "equilibrium.log10_k.<El>, equilibrium.ph_slope.<El>, equilibrium.extractant_order.<El>, "
                           "equilibrium.enthalpy.<El>",
            "ph_correlation": "equilibrium.correlations.<El>.slope|intercept|extractant_order, "
                              "equilibrium.enthalpy.<El>",
            "dosage_correlation": "equilibrium.correlations.<El>.m0|m1|b0|b1, equilibrium.enthalpy.<El>"
            }[model.name]


def _log_extractant(model) -> float:
    """log10 of the extractant as (HA)_k in mol/L: where the pH-correlation intercepts are written."""
    return math.log10(model.extractant / model.association / 1000.0)


def parameters(model, paths) -> list:
    """The :class:`Parameter` of each dotted path (ConfigError with key ``--fit`` if unknown)."""
    if model.name not in ("mass_action", "ph_correlation", "dosage_correlation"):
        raise ConfigError("equilibrium.model", f"{model.name}: fitting needs an acidity-driven model "
                                               "(mass_action, ph_correlation or dosage_correlation)")
    if not paths:
        raise ConfigError("--fit", "no parameter to fit; expected e.g. --fit equilibrium.log10_k.Nd")
    comps = tuple(model.components)
    out, seen = [], set()
    for path in paths:
        parts = str(path).split(".")

        def bad(why):
            return ConfigError("--fit", f"{path!r}: {why}; expected one of {_paths_help(model)}")
        if len(parts) < 3 or parts[0] != "equilibrium":
            raise bad("not a fittable constant")
        group, element = parts[1], parts[2]
        if element not in comps:
            raise bad(f"{element!r} is not a component of the config ({', '.join(comps)})")
        i = comps.index(element)
        tail = parts[3:]
        if group == "enthalpy" and not tail:
            spec = ("enthalpy", float(model.enthalpy[i]) / 1000.0, BOUNDS["enthalpy"], "kJ/mol")
        elif model.name == "mass_action" and not tail and group in ("log10_k", "ph_slope", "extractant_order"):
            attr = {"log10_k": "intercept"}.get(group, group)
            spec = (attr, float(getattr(model, attr)[i]), BOUNDS[group], "")
        elif group == "correlations" and len(tail) == 1 and model.name == "ph_correlation" \
                and tail[0] in ("slope", "intercept", "extractant_order"):
            attr = {"slope": "ph_slope", "intercept": "intercept_cfg"}.get(tail[0], tail[0])
            start = (float(model.intercept[i] + model.extractant_order[i] * _log_extractant(model))
                     if attr == "intercept_cfg" else float(getattr(model, attr)[i]))
            spec = (attr, start, BOUNDS[tail[0]], "")
        elif group == "correlations" and len(tail) == 1 and model.name == "dosage_correlation" \
                and tail[0] in ("m0", "m1", "b0", "b1"):
            attr = {"m0": "ph_slope", "m1": "dosage_slope", "b0": "intercept", "b1": "extractant_order"}[tail[0]]
            spec = (attr, float(getattr(model, attr)[i]), BOUNDS[tail[0]], "")
        else:
            raise bad(f"not a fittable constant of model {model.name}")
        key = (spec[0], i)
        if key in seen:
            raise ConfigError("--fit", f"{path!r} is given twice; expected each parameter once")
        seen.add(key)
        low, high = spec[2]
        start = min(max(spec[1], low), high)
        out.append(Parameter(str(path), spec[0], i, start, (low, high), spec[3]))
    return out


def apply(model, params, theta):
    """``model`` with the constants ``theta`` (config units, one per :class:`Parameter`) in place."""
    arrays = {name: np.array(getattr(model, name), dtype=float)
              for name in ("intercept", "ph_slope", "extractant_order", "dosage_slope", "enthalpy")}
    cfg_intercepts = {}
    for par, value in zip(params, theta):
        if par.attribute == "enthalpy":
            arrays["enthalpy"][par.index] = 1000.0 * value
        elif par.attribute == "intercept_cfg":
            cfg_intercepts[par.index] = value
        else:
            arrays[par.attribute][par.index] = value
    if model.name == "ph_correlation":
        # intercepts are written at the config's extractant; the model's is the constant at 1 mol/L
        log_ext = _log_extractant(model)
        for i in range(len(model.components)):
            written = cfg_intercepts.get(i, model.intercept[i] + model.extractant_order[i] * log_ext)
            arrays["intercept"][i] = written - arrays["extractant_order"][i] * log_ext
    return model.with_parameters(**{k: v.tolist() for k, v in arrays.items()})


# -- the fit ----------------------------------------------------------------------------------------

@dataclass
class FitResult:
    """Estimates, their uncertainty and the residuals of a fit (see module docstring)."""

    config: str
    data: str
    model_name: str
    components: tuple
    parameters: list
    start: np.ndarray
    estimate: np.ndarray
    standard_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    covariance: np.ndarray
    correlation: np.ndarray
    observations: int
    dof: int
    ssr: float
    residual_sd: float
    t_value: float
    nfev: int
    message: str
    seconds: float
    residuals: list                     # one dict per observation
    statistics: dict
    holdout: dict | None
    model: object = None
    ph_range: tuple = (float("nan"), float("nan"))

    @property
    def names(self) -> list:
        return [p.path for p in self.parameters]

    def to_dict(self) -> dict:
        return {"config": self.config, "data": self.data, "model": self.model_name,
                "parameters": [{"path": p.path, "unit": p.unit, "start": float(s), "estimate": float(e),
                                "standard_error": float(se), "ci95_low": float(lo), "ci95_high": float(hi)}
                               for p, s, e, se, lo, hi in zip(self.parameters, self.start, self.estimate,
                                                              self.standard_error, self.ci_low, self.ci_high)],
                "correlation": self.correlation.tolist(), "covariance": self.covariance.tolist(),
                "observations": self.observations, "degrees_of_freedom": self.dof, "ssr": self.ssr,
                "residual_sd": self.residual_sd, "t_975": self.t_value, "function_evaluations": self.nfev,
                "message": self.message, "seconds": self.seconds, "statistics": self.statistics,
                "holdout": self.holdout, "residuals": self.residuals}

    def to_csv(self) -> str:
        """One row per parameter."""
        lines = ["parameter,unit,start,estimate,standard_error,ci95_low,ci95_high"]
        for p, s, e, se, lo, hi in zip(self.parameters, self.start, self.estimate, self.standard_error,
                                       self.ci_low, self.ci_high):
            lines.append(f"{p.path},{p.unit},{s!r},{e!r},{se!r},{lo!r},{hi!r}")
        return "\n".join(lines) + "\n"

    def residuals_csv(self) -> str:
        """One row per observation: line, column, set, measured, fitted, residual, weighted residual."""
        lines = ["line,column,set,quantity,measured,fitted,residual,weighted_residual,ph"]
        for r in self.residuals:
            lines.append(",".join(str(r[k]) if not isinstance(r[k], float) else repr(r[k])
                                  for k in ("line", "column", "set", "quantity", "measured", "fitted",
                                            "residual", "weighted_residual", "ph")))
        return "\n".join(lines) + "\n"

    def table(self) -> str:
        width = max(len(p.path) for p in self.parameters) + 2
        out = [f"fit of {self.model_name} constants to {self.data} ({self.observations} observations, "
               f"{len(self.parameters)} parameters, {self.dof} degrees of freedom)",
               "", f"{'parameter':<{width}}{'start':>11}{'estimate':>12}{'std error':>11}"
                   f"{'95 % interval':>25}"]
        for p, s, e, se, lo, hi in zip(self.parameters, self.start, self.estimate, self.standard_error,
                                       self.ci_low, self.ci_high):
            unit = f" {p.unit}" if p.unit else ""
            out.append(f"{p.path:<{width}}{s:>11.4g}{e:>12.5g}{se:>11.3g}{lo:>12.5g} .. {hi:<10.5g}{unit}")
        if len(self.parameters) > 1:
            out += ["", "correlation"]
            for i, p in enumerate(self.parameters):
                out.append(f"{p.path:<{width}}" + "".join(f"{c:>8.3f}" for c in self.correlation[i]))
        st = self.statistics
        out += ["", f"residual standard deviation s = {self.residual_sd:.4g} (weighted), SSR = {self.ssr:.4g}, "
                    f"t(0.975, {self.dof}) = {self.t_value:.4g}"]
        for kind, entry in st["by_quantity"].items():
            out.append(f"  {kind:<8} n = {entry['n']:<4} RMSE {entry['rmse']:.4g}   max |residual| "
                       f"{entry['max_abs']:.4g}   mean {entry['mean']:+.3g}")
        if self.holdout:
            h = self.holdout
            out += ["", f"hold-out: {h['rows']} of {h['rows'] + h['training_rows']} rows (seed {h['seed']}), "
                        f"{h['observations']} observations"]
            for kind, entry in h["by_quantity"].items():
                train = st["by_quantity"].get(kind, {}).get("rmse", float("nan"))
                out.append(f"  {kind:<8} RMSE held out {entry['rmse']:.4g} (training {train:.4g})")
        out += ["", f"{self.nfev} model evaluations, {self.seconds:.2f} s; {self.message}"]
        return "\n".join(out)

    def plot(self, path=None):
        from ..plotting_fit import plot_fit

        return plot_fit(self, path)

    def system_entry(self, key: str, source: str, date: str) -> dict:
        """A system entry (the format of ``sx_model/data/extractants.yaml``) with the fitted constants."""
        model = self.model
        note = {p.path: f"{p.path} = {e:.6g} +- {se:.3g} (standard error; 95 % interval {lo:.6g} .. "
                        f"{hi:.6g}; {self.observations} observations, s = {self.residual_sd:.3g})"
                for p, e, se, lo, hi in zip(self.parameters, self.estimate, self.standard_error,
                                            self.ci_low, self.ci_high)}
        fitted_by_element = {}
        for p in self.parameters:
            fitted_by_element.setdefault(self.components[p.index], []).append(p.path)
        text = f"fitted to {self.data} on {date}"
        low, high = self.ph_range
        body = {"name": f"{model.extractant_name or 'extractant'} in {model.medium.name} media, constants "
                        f"{text}",
                "extractant": model.extractant_name or key, "medium": model.medium.name,
                "dimer": model.association == 2, "ph_validity": [round(float(low), 3), round(float(high), 3)],
                "ph_validity_basis": {"source": source, "tag": "fitted",
                                      "note": "Equilibrium pH range of the shake-out tests."}}
        if model.molar_mass is not None:
            body["molar_mass_g_per_mol"] = model.molar_mass * 1000.0
        if model.name == "mass_action":
            body["log_k"] = {}
            for i, el in enumerate(self.components):
                fitted = [p for p in fitted_by_element.get(el, []) if p.endswith(f"log10_k.{el}")]
                entry = {"value": float(model.intercept[i]), "source": source if fitted else
                         f"{self.config} (held fixed while fitting to {self.data})",
                         "tag": "fitted" if fitted else "estimated"}
                if fitted:
                    entry["note"] = note[fitted[0]]
                body["log_k"][el] = entry
            # apparent slopes, orders and enthalpies, where fitted or not ideal (configs naming the
            # system take them as defaults)
            for table, attr, default, scale in (("ph_slope", "ph_slope", model.protons, 1.0),
                                                ("extractant_order", "extractant_order", model.stoichiometry, 1.0),
                                                ("enthalpy_kj_per_mol", "enthalpy", np.zeros(len(self.components)),
                                                 1e-3)):
                values = getattr(model, attr)
                for i, el in enumerate(self.components):
                    path = f"equilibrium.{'enthalpy' if attr == 'enthalpy' else attr}.{el}"
                    fitted = path in note
                    if fitted or values[i] != default[i]:
                        entry = {"value": float(values[i] * scale),
                                 "source": source if fitted else f"{self.config} (held fixed while fitting)",
                                 "tag": "fitted" if fitted else "estimated"}
                        if fitted:
                            entry["note"] = note[path]
                        body.setdefault(table, {})[el] = entry
        elif model.name == "ph_correlation":
            log_ext = _log_extractant(model)
            body["ph_correlation"] = {}
            for i, el in enumerate(self.components):
                fitted = fitted_by_element.get(el, [])
                entry = {"slope": float(model.ph_slope[i]),
                         "intercept": float(model.intercept[i] + model.extractant_order[i] * log_ext),
                         "extractant_order": float(model.extractant_order[i]),
                         "extractant_concentration": f"{model.extractant / 1000.0!r} mol/L",
                         "source": source if fitted else f"{self.config} (held fixed while fitting)",
                         "tag": "fitted" if fitted else "estimated"}
                if fitted:
                    entry["note"] = "; ".join(note[p] for p in fitted)
                body["ph_correlation"][el] = entry
        else:
            raise ConfigError("--system-out", "a dosage_correlation's constants are read from the config's "
                                              "correlations, not from a system entry; expected a mass_action "
                                              "or ph_correlation config")
        return {key: body}

    def not_in_system(self) -> list:
        """Fitted paths a system entry does not carry (they must go into a config's equilibrium keys)."""
        carried = ("log10_k", "correlations")
        if self.model.name == "mass_action":
            carried += ("ph_slope", "extractant_order", "enthalpy")
        return [p.path for p in self.parameters if p.path.split(".")[1] not in carried]


def _acidity(model, data):
    """Initial proton total of every row [mol/m^3] (rows given by ph0 through the medium)."""
    acid = data.acid.copy()
    rows = np.flatnonzero(np.isnan(acid))
    if rows.size:
        charges = np.asarray(model.charges, dtype=float)
        for k in rows:
            s = None if np.isnan(data.sulfate[k]) else data.sulfate[k]
            acid[k] = model.medium.acid_at_ph(data.ph0[k], float(data.aqueous[k] @ charges),
                                              data.temperature[k], s)
    return acid


class _Problem:
    """The residual function of a fit on a subset of the rows."""

    def __init__(self, model, params, data, rows):
        self.model, self.params, self.data = model, params, data
        self.rows = np.asarray(rows)
        self.acid = _acidity(model, data)
        keep = np.isin(data.obs_row, self.rows)
        self.obs = np.flatnonzero(keep)
        local = {r: i for i, r in enumerate(self.rows)}
        self.obs_local = np.array([local[r] for r in data.obs_row[self.obs]], dtype=int)
        self.sd = data.obs_sd[self.obs]
        self.evaluations = 0

    def contacts(self, theta):
        from ..batch import batch_contact

        d, rows = self.data, self.rows
        model = apply(self.model, self.params, theta)
        ext = np.where(np.isnan(d.extractant[rows]), model.extractant, d.extractant[rows])
        sap = np.where(np.isnan(d.saponification[rows]), model.saponification, d.saponification[rows])
        sulfate = None
        if model.medium.speciated and not np.all(np.isnan(d.sulfate[rows])):
            charges = np.asarray(model.charges, dtype=float)
            sulfate = np.where(np.isnan(d.sulfate[rows]),
                               model.medium.stream_sulfate(self.acid[rows], d.aqueous[rows] @ charges),
                               d.sulfate[rows])
        self.evaluations += 1
        return batch_contact(model, d.aqueous[rows], acid=self.acid[rows], o_a=d.o_a[rows],
                             organic=d.organic[rows], extractant=ext, saponification=sap,
                             temperature=d.temperature[rows], sulfate=sulfate)

    def predictions(self, result):
        """Model values of the observations (log10 or pH) and whether their contact converged."""
        d = self.data
        kind, comp, row = d.obs_kind[self.obs], d.obs_comp[self.obs], self.obs_local
        c = np.maximum(comp, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.select([kind == 0, kind == 1, kind == 2],
                               [np.log10(result.aqueous[row, c]), np.log10(result.organic[row, c]),
                                np.log10(result.distribution[row, c])], result.ph[row])
        ok = result.converged[row] & np.isfinite(values)
        return values, ok

    def residual(self, theta):
        result = self.contacts(theta)
        values, ok = self.predictions(result)
        res = (values - self.data.obs_value[self.obs]) / self.sd
        return np.where(ok, res, FAILED_RESIDUAL)


def _statistics(kinds, raw, weighted):
    by = {}
    for k, name in enumerate(KINDS):
        sel = kinds == k
        if np.any(sel):
            r = raw[sel]
            by[KIND_LABEL[name]] = {"n": int(sel.sum()), "rmse": float(np.sqrt(np.mean(r * r))),
                                    "max_abs": float(np.max(np.abs(r))), "mean": float(np.mean(r))}
    return {"by_quantity": by, "weighted_rmse": float(np.sqrt(np.mean(weighted ** 2))) if weighted.size else 0.0}


def fit(model, data: ShakeOutData, paths, *, holdout: float = 0.0, seed: int = 0, config_name: str = "config"):
    """Fit the constants named by ``paths`` to ``data`` (see module docstring); returns a FitResult.

    ``model`` is the config's equilibrium model (its constants are the starting values). ``holdout``
    (0 <= f < 1) leaves that fraction of the rows (chosen with ``seed``) out of the fit and reports how
    well the fitted constants predict them.
    """
    from scipy import optimize, stats

    t0 = time.perf_counter()
    params = parameters(model, paths)
    if not 0.0 <= float(holdout) < 1.0:
        raise ConfigError("--holdout", f"{holdout!r}; expected a fraction from 0 to below 1")
    n_rows = data.rows
    held = np.zeros(n_rows, bool)
    if holdout > 0:
        count = int(round(holdout * n_rows))
        if count < 1:
            raise ConfigError("--holdout", f"{holdout:g} of {n_rows} rows is no row; expected a larger "
                                           "fraction or more rows")
        held[np.random.default_rng(seed).choice(n_rows, size=count, replace=False)] = True
    train_rows = np.flatnonzero(~held)
    problem = _Problem(model, params, data, train_rows)
    n_obs, p = problem.obs.size, len(params)
    if n_obs <= p:
        raise ConfigError("--fit", f"{p} parameters from {n_obs} observations"
                                   f"{' (after the hold-out)' if holdout else ''}; expected more observations "
                                   "than parameters")
    start = np.array([par.start for par in params])
    def solved(theta, when, hint=""):
        """Contacts and predictions at ``theta``; FitError naming the first row that does not converge."""
        contacts = problem.contacts(theta)
        values, ok = problem.predictions(contacts)
        if not np.all(ok):
            k = int(problem.obs_local[np.flatnonzero(~ok)[0]])
            raise FitError(f"the contact of {data.where(train_rows[k])} does not converge at the {when} "
                           f"constants ({contacts.messages[k] or 'no finite prediction'}){hint}")
        return contacts, values

    solved(start, "starting", "; check the row or the config's constants")
    low = np.array([par.bounds[0] for par in params])
    high = np.array([par.bounds[1] for par in params])
    opt = optimize.least_squares(problem.residual, start, bounds=(low, high), x_scale="jac", method="trf",
                                 xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=200 * (p + 1))
    theta = opt.x
    final, values = solved(theta, "fitted")
    raw = values - data.obs_value[problem.obs]
    weighted = raw / problem.sd
    ssr = float(weighted @ weighted)
    dof = n_obs - p
    s2 = ssr / dof
    jac = opt.jac
    u, sing, vt = np.linalg.svd(jac, full_matrices=False)
    if sing[-1] <= sing[0] * 1e-10 or sing[-1] == 0:
        worst = params[int(np.argmax(np.abs(vt[-1])))].path
        raise FitError(f"the data do not determine the parameters (Jacobian of rank < {p}; {worst} is the "
                       "least determined): fix some of them or add tests that vary what they describe")
    cov = (vt.T / sing ** 2) @ vt * s2
    se = np.sqrt(np.diag(cov))
    corr = cov / np.outer(se, se)
    t_value = float(stats.t.ppf(0.975, dof))
    rows_out = []
    fitted_model = apply(model, params, theta)
    for j, o in enumerate(problem.obs):
        rows_out.append(_residual_row(data, o, "fit", values[j], raw[j], weighted[j],
                                      final.ph[problem.obs_local[j]]))
    statistics = _statistics(data.obs_kind[problem.obs], raw, weighted)
    hold = None
    if held.any():
        test = _Problem(model, params, data, np.flatnonzero(held))
        result = test.contacts(theta)
        hv, hok = test.predictions(result)
        hraw = hv - data.obs_value[test.obs]
        if not np.all(hok):
            k = int(test.obs_local[np.flatnonzero(~hok)[0]])
            raise FitError(f"the held-out contact of {data.where(test.rows[k])} does not converge at the "
                           f"fitted constants ({result.messages[k] or 'no finite prediction'})")
        for j, o in enumerate(test.obs):
            rows_out.append(_residual_row(data, o, "holdout", hv[j], hraw[j], hraw[j] / test.sd[j],
                                          result.ph[test.obs_local[j]]))
        hstats = _statistics(data.obs_kind[test.obs], hraw, hraw / test.sd)
        hold = {"fraction": float(holdout), "seed": int(seed), "rows": int(held.sum()),
                "training_rows": int((~held).sum()), "observations": int(test.obs.size),
                "lines": [int(x) for x in data.lines[held]], **hstats}
    ph_all = final.ph[np.isfinite(final.ph)]
    return FitResult(
        config=config_name, data=data.name, model_name=model.name, components=tuple(model.components),
        parameters=params, start=start, estimate=theta, standard_error=se, ci_low=theta - t_value * se,
        ci_high=theta + t_value * se, covariance=cov, correlation=corr, observations=int(n_obs), dof=int(dof),
        ssr=ssr, residual_sd=float(math.sqrt(s2)), t_value=t_value, nfev=int(problem.evaluations),
        message=str(opt.message), seconds=time.perf_counter() - t0, residuals=rows_out,
        statistics=statistics, holdout=hold, model=fitted_model,
        ph_range=(float(ph_all.min()), float(ph_all.max())) if ph_all.size else (0.0, 7.0))


def _residual_row(data, o, which, fitted, raw, weighted, ph):
    kind = KINDS[data.obs_kind[o]]
    comp = data.obs_comp[o]
    column = next((k for k, v in data.columns.items() if v == (kind, None if comp < 0 else data.components[comp])),
                  kind)
    return {"line": int(data.lines[data.obs_row[o]]), "column": column, "set": which,
            "quantity": KIND_LABEL[kind], "measured": float(data.obs_value[o]), "fitted": float(fitted),
            "residual": float(raw), "weighted_residual": float(weighted), "ph": float(ph)}


def read_equilibrium(path):
    """(model, components) from the ``components`` and ``equilibrium`` sections of a config file (its
    sections and streams are not read)."""
    from ..config import checks as v
    from ..config import systems
    from ..config.files import read_yaml
    from ..config.layout import _read_components
    from ..config.models import read_model

    data = read_yaml(path)
    v.mapping(data, "")
    for need in ("components", "equilibrium"):
        if need not in data:
            raise ConfigError(need, "required key is missing")
    components, table = _read_components(data["components"])
    charges = tuple(table[c].charge for c in components)
    sections = data.get("sections")
    names = list(sections) if isinstance(sections, dict) else []
    with systems.relative_to(path):
        model = read_model(data["equilibrium"], components, names, charges)
    return model, components
