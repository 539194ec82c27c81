"""Batch (shake-out) contacts: one aqueous and one organic shaken to equilibrium.

A contact is the laboratory test behind every extraction constant: an aqueous of known metal
concentrations x0 and acidity (proton total H_T0, see :mod:`sx_model.equilibrium.media`), and an organic
of known extractant, saponification and loading y0, at phase ratio r = O/A and temperature T. Per unit
volume of aqueous, the equilibrium (x, y, [H+]) satisfies

    x + r y(x, [H+]) = x0 + r y0                               (metal, per component)
    H_T([H+]) + sum_i p_i x_i = H_T0 - r s c_HA + sum_i p_i x0_i   (protons)

with y(x, [H+]) the model's equilibrium organic (its extractant balance inside) and s the
saponification: the Na+/NH4+ salt of the extractant exchanges before any proton, so it enters the proton
balance as r s c_HA of base added to the aqueous (the cascade does the same in the stage where the organic
enters). Every contact is one "stage" of a :class:`~sx_model.equilibrium.base.StageConditions` whose
stages are not connected (the aqueous tracer of a contact is its own load), so the model's vectorised
``prepare``, ``equilibrium_internal`` and ``constraint`` serve all contacts at once; the unknowns
[x, ln [H+]] of every contact are solved together by a damped dense Newton iteration (one (C+1) x (C+1)
system per contact), started from the model's trace distribution ratios and its ``internal_start``.

Everything is in SI: concentrations mol/m^3 (= mmol/L), temperature K. ``tests/test_fit.py`` checks a
contact against the cascade solver on one-stage cascades (1e-10) and against the three balances (1e-12).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .equilibrium.base import StageConditions
from .errors import ConfigError

#: Convergence: largest scaled residual (relative metal balance, change of ln [H+]) [-].
TOLERANCE = 1e-13
MAX_ITERATIONS = 80
#: The start (internal unknowns eliminated) is taken this far before Newton on [x, w] [-].
START_TOLERANCE = 1e-3
#: Largest Newton change of ln [H+] in one step [-].
MAX_LN_STEP = 2.0


@dataclass
class BatchResult:
    """Equilibrium of N batch contacts (arrays lead with the contact, components in ``components``).

    Attributes
    ----------
    components : tuple of str
    aqueous, organic : numpy.ndarray
        Equilibrium concentrations [mol/m^3], shape (N, C).
    distribution : numpy.ndarray
        D = y/x [-], shape (N, C) (NaN where the contact holds none of that metal).
    ph : numpy.ndarray
        Equilibrium pH (-log10 [H+], mol/L), shape (N,) (NaN for models without an acidity).
    free_extractant : numpy.ndarray
        Free (HA)_k [mol/m^3] (NaN for models without one), shape (N,).
    loading_fraction : numpy.ndarray
        sum nu_i y_i over the extractant's capacity [-], shape (N,) (NaN where not defined).
    converged : numpy.ndarray of bool
    iterations : numpy.ndarray of int
    residual : numpy.ndarray
        Largest scaled residual at the end [-], shape (N,).
    balance : dict
        ``metal`` (largest |x + r y - x0 - r y0| / (x0 + r y0) over the components) and ``protons``
        (|proton total out - in| over the larger of the two and 1e-3 mol/m^3), each shape (N,).
    messages : list of str
        Why a contact did not converge ("" where it did).
    """

    components: tuple
    aqueous: np.ndarray
    organic: np.ndarray
    distribution: np.ndarray
    ph: np.ndarray
    free_extractant: np.ndarray
    loading_fraction: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    balance: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)

    def __len__(self) -> int:
        return self.aqueous.shape[0]

    @property
    def mass_balance_error(self) -> np.ndarray:
        """Largest of the metal and proton closures per contact [-], shape (N,)."""
        return np.max(np.vstack([b for b in self.balance.values()]), axis=0)

    def to_dict(self) -> dict:
        """Plain data (lists), concentrations in mol/m^3."""
        def per_metal(a):
            return [dict(zip(self.components, row)) for row in a.tolist()]
        return {"components": list(self.components), "aqueous_mol_per_m3": per_metal(self.aqueous),
                "organic_mol_per_m3": per_metal(self.organic), "distribution": per_metal(self.distribution),
                "ph": self.ph.tolist(), "free_extractant_mol_per_m3": self.free_extractant.tolist(),
                "loading_fraction": self.loading_fraction.tolist(), "converged": self.converged.tolist(),
                "iterations": self.iterations.tolist(), "residual": self.residual.tolist(),
                "balance": {k: v.tolist() for k, v in self.balance.items()}, "messages": list(self.messages)}


def _model_of(source):
    """An equilibrium model from a model object, a Cascade, or a config path or mapping."""
    from .equilibrium.base import EquilibriumModel

    if isinstance(source, EquilibriumModel):
        return source
    model = getattr(source, "model", None)
    if isinstance(model, EquilibriumModel):
        return model
    from .config import load_config

    return load_config(source).model


def _per_contact(value, n, name, components=None):
    """``value`` broadcast to (n,) or, with ``components``, (n, C) (a mapping: component -> value(s))."""
    if components is not None and isinstance(value, Mapping):
        unknown = [k for k in value if k not in components]
        if unknown:
            raise ConfigError(f"{name}.{unknown[0]}", f"not one of the model's components "
                                                     f"({', '.join(components)})")
        cols = [np.broadcast_to(np.asarray(value.get(c, 0.0), dtype=float), (n,)) for c in components]
        return np.stack(cols, axis=1)
    arr = np.asarray(value, dtype=float)
    shape = (n,) if components is None else (n, len(components))
    try:
        return np.array(np.broadcast_to(arr, shape), dtype=float)
    except ValueError:
        raise ConfigError(name, f"shape {arr.shape}; expected {shape} or something that broadcasts to it") from None


def _count(aqueous, others, components):
    """Number of contacts implied by the inputs."""
    sizes = []
    if isinstance(aqueous, Mapping):
        sizes += [np.size(v) for v in aqueous.values()]
    else:
        a = np.asarray(aqueous, dtype=float)
        sizes.append(a.shape[0] if a.ndim == 2 else 1)
    for value in others:
        if value is None:
            continue
        if isinstance(value, Mapping):
            sizes += [np.size(v) for v in value.values()]
        else:
            a = np.asarray(value, dtype=float)
            if a.ndim == 2 or (a.ndim == 1 and a.size != len(components)):
                sizes.append(a.shape[0])
    sizes = [s for s in sizes if s != 1] or [1]
    if len(set(sizes)) > 1:
        raise ConfigError("contacts", f"inputs give different numbers of contacts ({sorted(set(sizes))})")
    return sizes[0]


def batch_contact(model, aqueous, *, acid=None, ph=None, o_a=1.0, organic=None, extractant=None,
                  saponification=None, temperature=298.15, sulfate=None, tolerance=TOLERANCE,
                  max_iterations=MAX_ITERATIONS) -> BatchResult:
    """Equilibrium of one or many batch contacts (see module docstring). All inputs in SI.

    Parameters
    ----------
    model : EquilibriumModel, Cascade, or config path / mapping (its model is used)
    aqueous : mapping component -> mol/m^3, or array (C,) or (N, C)
        Initial aqueous metal concentrations [mol/m^3].
    acid : float or array (N,), optional
        Initial proton total of the aqueous [mol/m^3] (H+ + HSO4-; negative: free base). Default 0.
    ph : float or array (N,), optional
        Initial pH instead of ``acid`` (the acid follows from the medium's speciation).
    o_a : float or array (N,)
        Organic to aqueous volume ratio [-], > 0.
    organic : mapping or array (C,) / (N, C), optional
        Initial organic loading [mol/m^3] (default none).
    extractant : float or array (N,), optional
        Extractant as HA [mol/m^3] (default the model's).
    saponification : float or array (N,), optional
        Fraction of the extractant as its Na+/NH4+ salt (default the model's).
    temperature : float or array (N,)
        [K].
    sulfate : float or array (N,), optional
        Total sulfate of the aqueous [mol/m^3] (sulfate medium; default metal sulfates + sulfuric acid).

    Returns
    -------
    BatchResult
        One entry per contact; contacts that did not converge have ``converged`` False and a message.
    """
    model = _model_of(model)
    comps = tuple(model.components)
    if acid is not None and ph is not None:
        raise ConfigError("ph", "give the acidity as acid or as ph, not both")
    n = _count(aqueous, [acid, ph, o_a, organic, extractant, saponification, temperature, sulfate], comps)
    x0 = _per_contact(aqueous, n, "aqueous", comps)
    y0 = _per_contact(0.0 if organic is None else organic, n, "organic", comps)
    r = _per_contact(o_a, n, "o_a")
    temp = _per_contact(temperature, n, "temperature")
    exchange = hasattr(model, "saponification") and model.internal_count == 1
    if exchange:
        ext = _per_contact(model.extractant if extractant is None else extractant, n, "extractant")
        sap = _per_contact(model.saponification if saponification is None else saponification, n,
                           "saponification")
    else:
        for name, value in (("extractant", extractant), ("saponification", saponification)):
            if value is not None:
                raise ConfigError(name, f"model {model.name} has no extractant; leave {name} out")
        ext = sap = np.zeros(n)
    _check_inputs(x0, y0, r, temp, ext, sap)
    charges = np.asarray(getattr(model, "charges", np.zeros(len(comps))), dtype=float)
    medium = getattr(model, "medium", None)
    sulf = None if sulfate is None else _per_contact(sulfate, n, "sulfate")
    if sulf is not None and (medium is None or not medium.speciated):
        raise ConfigError("sulfate", "total sulfate is an input of sulfate media only")
    if ph is not None:
        if medium is None:
            raise ConfigError("ph", f"model {model.name} has no acidity; leave ph out")
        phs = _per_contact(ph, n, "ph")
        charge = x0 @ charges
        h_t = np.array([medium.acid_at_ph(phs[j], charge[j], temp[j], None if sulf is None else sulf[j])
                        for j in range(n)])
    else:
        h_t = _per_contact(0.0 if acid is None else acid, n, "acid")
    if medium is not None and medium.speciated and sulf is None:
        sulf = medium.stream_sulfate(h_t, x0 @ charges)
        if np.any(sulf < 0):
            j = int(np.flatnonzero(sulf < 0)[0])
            raise ConfigError(f"contacts[{j}].acid", "the liquor carries more free base than its metal "
                                                    "sulfates give sulfate; give its total sulfate")
    if exchange:
        used = (y0 @ model.stoichiometry) / (ext / model.association)
        if np.any(used > 1.0 + 1e-9):
            j = int(np.argmax(used))
            raise ConfigError(f"contacts[{j}].organic", f"the organic carries {100 * used[j]:.4g} % of the "
                                                        "extractant's capacity; expected at most 100 %")
    # saponification as base in the aqueous (see module docstring)
    h_net = h_t - r * sap * ext
    if exchange:
        _check_alkaline(model, h_net + x0 @ np.asarray(model.protons, dtype=float), sulf, temp)
    out = _empty(n, len(comps))
    keys = np.stack([ext, np.zeros(n)], axis=1) if exchange else np.zeros((n, 2))
    for key in np.unique(keys, axis=0):
        idx = np.flatnonzero(np.all(keys == key, axis=1))
        group = model.with_parameters(extractant=float(key[0]), saponification=0.0) if exchange else model
        _solve_group(group, idx, x0[idx], y0[idx], r[idx], temp[idx], h_t[idx], h_net[idx],
                     None if sulf is None else sulf[idx], out, tolerance, max_iterations)
    return BatchResult(comps, out["x"], out["y"], out["d"], out["ph"], out["free"], out["loading"],
                       out["converged"], out["iterations"], out["residual"],
                       {"metal": out["metal"], "protons": out["protons"]}, out["messages"])


def _check_inputs(x0, y0, r, temp, ext, sap):
    def bad(name, mask, what):
        if np.any(mask):
            j = np.argwhere(mask)[0]
            raise ConfigError(f"contacts[{int(j[0])}].{name}", what)
    bad("aqueous", ~np.isfinite(x0) | (x0 < 0), "expected finite concentrations >= 0")
    bad("organic", ~np.isfinite(y0) | (y0 < 0), "expected finite concentrations >= 0")
    bad("aqueous", (x0 + y0).sum(axis=1) <= 0, "the contact holds no metal; expected some in a phase")
    bad("o_a", ~np.isfinite(r) | (r <= 0), "expected an O/A ratio > 0")
    bad("temperature", ~np.isfinite(temp) | (temp <= 273.15) | (temp > 373.15),
        "expected a temperature of the liquids between 0 and 100 degC")
    bad("extractant", ~np.isfinite(ext) | (ext < 0), "expected an extractant concentration > 0")
    bad("saponification", ~np.isfinite(sap) | (sap < 0) | (sap > 1), "expected a fraction 0..1")


def _check_alkaline(model, most, sulfate, temp):
    """Refuse contacts whose base exceeds the acid and metal salts: alkaline whatever is extracted."""
    from .equilibrium.cation_exchange import ADMISSIBLE_PROTON

    medium = model.medium
    ka2 = medium.ka2(temp) if medium.speciated else None
    floor, _ = medium.proton_total(np.full(most.shape, ADMISSIBLE_PROTON), sulfate, ka2)
    if np.any(most < floor):
        j = int(np.flatnonzero(most < floor)[0])
        raise ConfigError(f"contacts[{j}].saponification",
                          "the base it brings exceeds the acid and metal salts of the aqueous, so the "
                          "aqueous would be alkaline whatever is extracted; expected less saponification "
                          "or O/A, or more acid")


def _empty(n, c):
    nan = np.full(n, np.nan)
    return {"x": np.full((n, c), np.nan), "y": np.full((n, c), np.nan), "d": np.full((n, c), np.nan),
            "ph": nan.copy(), "free": nan.copy(), "loading": nan.copy(), "converged": np.zeros(n, bool),
            "iterations": np.zeros(n, int), "residual": np.full(n, np.inf), "metal": nan.copy(),
            "protons": nan.copy(), "messages": [""] * n}


def _conditions(model, x0, r, temp, acid, sulfate):
    """StageConditions of n unconnected one-stage contacts of unit aqueous volume."""
    n = x0.shape[0]
    ones = np.ones(n)
    charges = np.asarray(getattr(model, "charges", np.zeros(x0.shape[1])), dtype=float)

    def tracer(load):
        return np.asarray(load, dtype=float) / ones

    return StageConditions(section=("batch",) * n, aqueous_flow=ones, organic_flow=r.copy(),
                           acid_inflow=acid.copy(), metal_inflow=float(x0.sum()),
                           anion_inflow=acid + x0 @ charges, tracer=tracer, solvent_inflow=float(r.sum()),
                           temperature=temp.copy(), aqueous_metal_inflow=x0.copy(),
                           sulfate_inflow=None if sulfate is None else sulfate.copy())


def _solve_group(model, idx, x0, y0, r, temp, h_t, h_net, sulfate, out, tol, max_iter):
    """Newton on [x, w] for contacts sharing one model (see module docstring); fills ``out``."""
    n, c = x0.shape
    m = model.internal_count
    total = x0 + r[:, None] * y0                         # metal per m^3 of aqueous
    scale = np.where(total > 0, total, 1.0)
    present = total > 0
    try:
        params = model.prepare(_conditions(model, x0, r, temp, h_net, sulfate))
    except ConfigError as exc:
        for j in idx:
            out["messages"][j] = f"no equilibrium: {exc.message}"
        return

    def residual(x, w, internal):
        """Scaled residual (n, c [+ m]) and its Jacobian; ``internal``: unknowns [x, w] (else x, with w
        eliminated through the model's own internal equations)."""
        k = m if internal else 0
        f = np.empty((n, c + k))
        jac = np.zeros((n, c + k, c + k))
        if internal:
            y, dydx, dydw = model.equilibrium_internal(x, w, params)
        else:
            y, dydx = model.equilibrium(x, params)
        f[:, :c] = (x + r[:, None] * y - total) / scale
        jac[:, :c, :c] = (np.eye(c)[None] + r[:, None, None] * dydx) / scale[:, :, None]
        if internal:
            e, de_dx, de_dw = model.constraint(x, w, params)
            jac[:, :c, c:] = r[:, None, None] * dydw / scale[:, :, None]
            # the internal equations in units of their own unknowns (a Newton step of ln [H+])
            d = np.abs(np.diagonal(de_dw, axis1=1, axis2=2))
            d = np.where(d > 0, d, 1.0)
            f[:, c:] = e / d
            jac[:, c:, :c] = de_dx / d[:, :, None]
            jac[:, c:, c:] = de_dw / d[:, :, None]
        return y, f, jac

    def newton(x, w, internal, tol, max_iter):
        """Damped Newton (backtracking on the largest scaled residual, x kept >= 0 and admissible)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            y, f, jac = residual(x, w, internal)
        norm = _norm(f)
        iterations = np.zeros(n, int)
        done = norm < tol
        for _ in range(max_iter):
            active = ~done & np.isfinite(norm)
            if not np.any(active):
                break
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                try:
                    step = -np.linalg.solve(jac[active], f[active][:, :, None])[:, :, 0]
                except np.linalg.LinAlgError:
                    step = -np.stack([np.linalg.lstsq(a, b, rcond=None)[0]
                                      for a, b in zip(jac[active], f[active])])
            full = np.zeros(f.shape)
            full[active] = np.where(np.isfinite(step), step, 0.0)
            dx = full[:, :c]
            dw = np.clip(full[:, c:], -MAX_LN_STEP, MAX_LN_STEP) if internal else 0.0
            # keep x >= 0: at most 90 % of the way to zero in one step
            with np.errstate(divide="ignore", invalid="ignore"):
                limit = np.where(dx < 0, -0.9 * x / dx, np.inf)
            alpha = np.where(active, np.minimum(1.0, limit.min(axis=1)), 0.0)
            pending = active.copy()
            for _ in range(40):
                xt = np.maximum(np.where(present, x + alpha[:, None] * dx, 0.0), 0.0)
                xt = model.admissible(xt, params)
                wt = w + alpha[:, None] * dw if internal else w
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    yt, ft, jt = residual(xt, wt, internal)
                nt = _norm(ft)
                accept = pending & np.isfinite(nt) & ((nt <= (1.0 - 1e-4 * alpha) * norm) | (nt < tol))
                x[accept], y[accept], f[accept], jac[accept] = xt[accept], yt[accept], ft[accept], jt[accept]
                if internal:
                    w[accept] = wt[accept]
                norm[accept] = nt[accept]
                iterations[accept] += 1
                pending &= ~accept
                if not np.any(pending):
                    break
                alpha = np.where(pending, 0.5 * alpha, alpha)
                if np.all(alpha[pending] < 1e-12):
                    break
            done |= norm < tol
            # no descent at working precision: converged if the residual is as small as it gets
            done |= pending & (norm < 1e3 * tol)
            if np.all(done | pending):
                break
        return x, w, y, norm, iterations, done

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dist0 = model.distribution_guess(total.mean(axis=0), params)
    x = np.where(present, total / (1.0 + r[:, None] * np.nan_to_num(dist0, posinf=1e300)), 0.0)
    x = model.admissible(x, params)
    iterations = np.zeros(n, int)
    if m:
        # start: the internal unknowns eliminated by the model (always consistent with x), to a
        # loose tolerance, then Newton on [x, w] from the model's internal start
        x, _, _, _, iterations, _ = newton(x, None, False, START_TOLERANCE, max_iter)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            w = model.internal_start(x, params)
    else:
        w = np.zeros((n, 0))
    x, w, y, norm, more, done = newton(x, w, m > 0, tol, max_iter)
    iterations = iterations + more
    converged = done & np.isfinite(norm)
    diag = model.diagnostics(x, y, params) if m else {}
    out["x"][idx], out["y"][idx] = x, y
    with np.errstate(divide="ignore", invalid="ignore"):
        out["d"][idx] = np.where(x > 0, y / np.where(x > 0, x, 1.0), np.nan)
    if "ph" in diag:
        out["ph"][idx] = diag["ph"]
    if "free_extractant_mol_per_m3" in diag:
        out["free"][idx] = diag["free_extractant_mol_per_m3"]
        out["loading"][idx] = diag["loading_fraction"]
    out["converged"][idx] = converged
    out["iterations"][idx] = iterations
    out["residual"][idx] = norm
    out["metal"][idx] = np.max(np.abs(x + r[:, None] * y - total) / scale, axis=1)
    if "acid_mol_per_m3" in diag:
        p = np.asarray(model.protons, dtype=float)
        before = h_net + x0 @ p
        after = diag["acid_mol_per_m3"] + x @ p
        out["protons"][idx] = np.abs(after - before) / np.maximum(np.maximum(np.abs(before), np.abs(after)), 1e-3)
    else:
        out["protons"][idx] = 0.0
    for k, j in enumerate(idx):
        if not converged[k]:
            out["messages"][j] = (f"did not converge: scaled residual {norm[k]:.3g} after {iterations[k]} "
                                  "Newton steps")


def _norm(f):
    with np.errstate(invalid="ignore"):
        out = np.max(np.abs(f), axis=1) if f.shape[1] else np.zeros(f.shape[0])
    return np.where(np.isfinite(out), out, np.inf)
