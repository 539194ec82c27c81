"""Steady state of a whole cascade, solved as one system of equations.

Unknowns are the logarithms of the aqueous and organic concentrations leaving every stage,
u = [ln x_1, ln y_1, ln x_2, ln y_2, ...] (stage-major, so the Jacobian is block-banded for a plain
battery and merely sparse with recycles). Equations per stage and component:

- component balance  q_ji + sum_k (T_aq F_aq)_jk x_ki + sum_k (T_org F_org)_jk y_ki - F_aq,j x_ji - F_org,j y_ji = 0
  (scaled by the component's total inflow, so it reads as a relative closure);
- equilibrium        ln y_ji - ln f_i(x_j) = 0.

Newton's method with the analytic sparse Jacobian (SuperLU), a starting point from the linear
(constant-D) cascade with the model's own distribution estimate, and an Armijo line search; if that
stalls, pseudo-transient continuation (implicit pseudo-time steps over stage holdups), which is the
globally robust fallback. Working in logarithms keeps every concentration positive and resolves trace
components over tens of orders of magnitude. A linear model (constant_d) is solved directly with one
sparse factorisation.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..cascade import Cascade
from ..circuit import AQUEOUS, ORGANIC
from ..errors import ConfigError, ConvergenceError

#: Scaled residual (max norm) at which Newton stops [-]: relative to each component's inflow for
#: balances, and a relative error in concentration for the equilibrium equations.
TOLERANCE = 1e-11
#: Largest change of any ln(concentration) in one Newton step [-] (a factor of e^8 ~ 3000).
MAX_LOG_STEP = 8.0
#: Concentration standing in for "none" in ln space for unreachable (stage, component) pairs [mol/m^3].
PINNED_LN = -700.0
#: Mass-balance closure every converged result must meet [-].
CLOSURE_LIMIT = 1e-9


class _Network:
    """Linear part of the cascade equations: flows, stage-to-stage transfer matrices, inlet loads."""

    def __init__(self, cascade: Cascade):
        circuit = cascade.circuit
        self.n = circuit.stage_count
        self.c = circuit.component_count
        self.flows = circuit.phase_flows()
        for phase in (AQUEOUS, ORGANIC):
            low = np.flatnonzero(~(self.flows[phase] > 0))
            if low.size:
                j = int(low[0])
                sec = circuit.sections[circuit.section_of_stage()[j]].name
                hint = "streams.scrub.flow" if (phase == AQUEOUS and sec == "scrub") else (
                    "streams.strip.flow" if phase == AQUEOUS and sec == "strip" else "streams")
                raise ConfigError(hint, f"stage {j + 1} ({sec}) has no {phase} flow through it; "
                                        f"expected every stage to be passed by both phases")
        self.loads = circuit.inlet_loads()
        self.scale = circuit.inlet_loads().sum(axis=0)
        total = self.scale.sum()
        self.scale = np.maximum(self.scale, 1e-30 * max(total, 1e-300))
        # M_phase = T_phase diag(F) - diag(F): inflow from linked stages minus own outflow.
        self.mat = {}
        for phase in (AQUEOUS, ORGANIC):
            flow = self.flows[phase]
            t = circuit.transfer_matrix(phase)
            self.mat[phase] = (t @ sp.diags(flow) - sp.diags(flow)).tocoo()
        self.reachable = circuit.reachable()
        self.conditions = cascade.conditions(self.flows)

    def balance(self, x, y):
        """Component balance of each stage [mol/s], shape (N, C)."""
        return self.loads + self.mat[AQUEOUS] @ x + self.mat[ORGANIC] @ y

    def outlet_totals(self, cascade, x, y):
        """Total outflow of each component through all outlets [mol/s], shape (C,)."""
        total = np.zeros(self.c)
        for outlet in cascade.circuit.outlets:
            conc = x if outlet.phase == AQUEOUS else y
            total += outlet.fraction * self.flows[outlet.phase][outlet.stage] * conc[outlet.stage]
        # A stage whose outflow has no link and no outlet would lose material: count what leaves.
        drawn = cascade.circuit.draw_fractions()
        for phase, conc in ((AQUEOUS, x), (ORGANIC, y)):
            loose = (cascade.circuit.links[phase] < 0) & (drawn[phase] < 1.0)
            if loose.any():
                total += ((1.0 - drawn[phase][loose]) * self.flows[phase][loose]) @ conc[loose]
        return total

    def linear_profile(self, distribution):
        """Solve the cascade for y = D x with D (N, C) fixed; returns x (N, C) [mol/m^3]."""
        n, c = self.n, self.c
        aq, org = self.mat[AQUEOUS], self.mat[ORGANIC]
        rows = [(aq.row[:, None] + n * np.arange(c)).ravel(),
                (org.row[:, None] + n * np.arange(c)).ravel()]
        cols = [(aq.col[:, None] + n * np.arange(c)).ravel(),
                (org.col[:, None] + n * np.arange(c)).ravel()]
        vals = [np.repeat(aq.data, c), (org.data[:, None] * distribution[org.col, :]).ravel()]
        matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(n * c, n * c))
        rhs = -self.loads.T.ravel()
        sol = spla.splu(matrix).solve(rhs)
        return sol.reshape(c, n).T


class _NewtonSystem:
    """Residual and sparse Jacobian of the log-variable steady-state equations."""

    def __init__(self, net: _Network, model, params):
        self.net, self.model, self.params = net, model, params
        n, c = net.n, net.c
        self.size = 2 * n * c
        stage_x = (np.arange(n)[:, None] * 2 * c + np.arange(c)[None, :])   # index of ln x_ji
        stage_y = stage_x + c                                                  # index of ln y_ji
        self.ix, self.iy = stage_x, stage_y
        aq, org = net.mat[AQUEOUS], net.mat[ORGANIC]
        rows, cols = [], []
        # balance rows: d/d ln x_ki and d/d ln y_ki
        rows.append(stage_x[aq.row].ravel()); cols.append(stage_x[aq.col].ravel())
        rows.append(stage_x[org.row].ravel()); cols.append(stage_y[org.col].ravel())
        # equilibrium rows: d/d ln y_ji (identity) and d/d ln x_jk (model Jacobian)
        rows.append(stage_y.ravel()); cols.append(stage_y.ravel())
        rows.append(np.repeat(stage_y, c, axis=1).ravel())
        cols.append(np.tile(stage_x, (1, c)).ravel())
        self._rows = np.concatenate(rows)
        self._cols = np.concatenate(cols)
        self._aq, self._org = aq, org
        nnz = self._rows.size
        template = sp.csc_matrix((np.arange(1, nnz + 1, dtype=float), (self._rows, self._cols)),
                                 shape=(self.size, self.size))
        self._order = template.data.astype(np.int64) - 1
        self._indices, self._indptr = template.indices, template.indptr
        # Pinned (unreachable) pairs: their equations become u = PINNED_LN.
        pinned = ~net.reachable
        self.pinned_rows = np.concatenate([stage_x[pinned], stage_y[pinned]])
        self.has_pins = self.pinned_rows.size > 0
        if self.has_pins:
            row_pinned = np.zeros(self.size, dtype=bool)
            row_pinned[self.pinned_rows] = True
            self._zero_entries = row_pinned[self._rows]
            self._diag_entries = self._zero_entries & (self._rows == self._cols)
        inv = 1.0 / net.scale
        self._inv_scale = inv

    def unpack(self, u):
        n, c = self.net.n, self.net.c
        block = u.reshape(n, 2, c)
        return block[:, 0, :], block[:, 1, :]

    def pack(self, ln_x, ln_y):
        n, c = self.net.n, self.net.c
        u = np.empty((n, 2, c))
        u[:, 0, :] = ln_x
        u[:, 1, :] = ln_y
        return u.ravel()

    def residual(self, u, with_jacobian=True):
        net = self.net
        ln_x, ln_y = self.unpack(u)
        x, y = np.exp(ln_x), np.exp(ln_y)
        ln_f, jac_f = self.model.log_organic(x, self.params)
        f_bal = net.balance(x, y) * self._inv_scale
        f_eq = ln_y - ln_f
        res = self.pack(f_bal, f_eq)
        if self.has_pins:
            res[self.pinned_rows] = u[self.pinned_rows] - PINNED_LN
        if not with_jacobian:
            return res, None
        aq, org, inv = self._aq, self._org, self._inv_scale
        data = np.concatenate([
            (aq.data[:, None] * x[aq.col] * inv).ravel(),
            (org.data[:, None] * y[org.col] * inv).ravel(),
            np.ones(net.n * net.c),
            (-jac_f).ravel(),
        ])
        if self.has_pins:
            data[self._zero_entries] = 0.0
            data[self._diag_entries] = 1.0
        jac = sp.csc_matrix((data[self._order], self._indices, self._indptr),
                            shape=(self.size, self.size))
        return res, jac

    def holdup_diagonal(self, u):
        """Diagonal of d(holdup)/du for pseudo-transient steps (unit residence time per phase)."""
        net = self.net
        ln_x, ln_y = self.unpack(u)
        d_x = net.flows[AQUEOUS][:, None] * np.exp(ln_x) * self._inv_scale
        d_y = net.flows[ORGANIC][:, None] * np.exp(ln_y) * self._inv_scale
        diag = self.pack(d_x, np.zeros_like(d_y))
        # the organic holdup enters the balance rows through the y columns
        off = self.pack(np.zeros_like(d_x), d_y)
        if self.has_pins:
            diag[self.pinned_rows] = 0.0
            off[self.pinned_rows] = 0.0
        return diag, off

    def worst(self, res):
        k = int(np.argmax(np.abs(res)))
        n, c = self.net.n, self.net.c
        stage, rest = divmod(k, 2 * c)
        kind, comp = divmod(rest, c)
        return stage, comp, ("balance" if kind == 0 else "equilibrium")


def _factor(jac):
    return spla.splu(jac, permc_spec="COLAMD")


def _newton(system: _NewtonSystem, u, *, max_iter=60, tol=TOLERANCE):
    """Damped Newton with Armijo backtracking. Returns (u, res, iterations, ok)."""
    res, jac = system.residual(u)
    norm = np.max(np.abs(res))
    merit = 0.5 * float(res @ res)
    for it in range(1, max_iter + 1):
        if norm < tol:
            return u, res, it - 1, True
        try:
            step = _factor(jac).solve(-res)
        except RuntimeError:   # exactly singular Jacobian
            return u, res, it, False
        if not np.all(np.isfinite(step)):
            return u, res, it, False
        biggest = np.max(np.abs(step))
        if biggest > MAX_LOG_STEP:
            step *= MAX_LOG_STEP / biggest
        alpha = 1.0
        while True:
            trial = u + alpha * step
            t_res, _ = system.residual(trial, with_jacobian=False)
            t_merit = 0.5 * float(t_res @ t_res)
            if np.isfinite(t_merit) and t_merit <= (1.0 - 1e-4 * alpha) * merit:
                break
            alpha *= 0.5
            if alpha < 1.0 / 1024:
                return u, res, it, False
        u = trial
        res, jac = system.residual(u)
        norm = np.max(np.abs(res))
        merit = 0.5 * float(res @ res)
    return u, res, max_iter, norm < tol


def _pseudo_transient(system: _NewtonSystem, u, *, max_iter=400, tol=TOLERANCE):
    """Pseudo-transient continuation (implicit Euler in pseudo time, switched-evolution relaxation).

    Stage holdups evolve as d(holdup)/dt = balance residual, so a step solves (J - M/dt) du = -F.
    """
    res, jac = system.residual(u)
    norm = float(np.linalg.norm(res))
    dt = 1e-2
    for it in range(1, max_iter + 1):
        if np.max(np.abs(res)) < tol:
            return u, res, it - 1, True
        d_x, d_y = system.holdup_diagonal(u)
        n, c = system.net.n, system.net.c
        size = system.size
        # balance row of (j,i) sits at ix; its organic holdup term sits in column iy.
        rows_off = system.ix.ravel()
        cols_off = system.iy.ravel()
        holdup = sp.csc_matrix(sp.diags(d_x / dt)) + sp.csc_matrix(
            (d_y[cols_off] / dt, (rows_off, cols_off)), shape=(size, size))
        try:
            step = _factor((jac - holdup).tocsc()).solve(-res)
        except RuntimeError:
            return u, res, it, False
        if not np.all(np.isfinite(step)):
            return u, res, it, False
        biggest = np.max(np.abs(step))
        if biggest > MAX_LOG_STEP:
            step *= MAX_LOG_STEP / biggest
        trial = u + step
        t_res, t_jac = system.residual(trial)
        t_norm = float(np.linalg.norm(t_res))
        if not np.isfinite(t_norm):
            dt *= 0.25
            continue
        dt = min(dt * min(max(norm / max(t_norm, 1e-300), 0.5), 4.0) * 1.5, 1e12)
        u, res, jac, norm = trial, t_res, t_jac, t_norm
        if norm < 1e-3:
            u2, r2, it2, ok = _newton(system, u, tol=tol)
            if ok:
                return u2, r2, it + it2, True
    return u, res, max_iter, False


def solve(cascade: Cascade, *, initial=None, tol: float = TOLERANCE, max_iter: int = 60):
    """Solve the steady state of ``cascade``.

    Parameters
    ----------
    cascade : Cascade
    initial : SteadyResult, optional
        A result of a similar cascade (same stage and component counts) to start from (warm start).
    tol : float
        Scaled residual at which to stop [-].
    max_iter : int
        Newton iterations before falling back to pseudo-transient continuation.

    Returns
    -------
    SteadyResult

    Raises
    ------
    ConvergenceError
        When no method converges, or the converged state does not close the mass balance to 1e-9.
    ConfigError
        When the cascade is not solvable as specified (a stage without flow of one phase, ...).
    """
    from ..results import build_steady_result

    start = time.perf_counter()
    net = _Network(cascade)
    model = cascade.model
    params = model.prepare(net.conditions)
    if model.linear:
        distribution = model.distribution(params)
        x = net.linear_profile(distribution)
        x = np.maximum(x, 0.0)
        y = distribution * x
        iterations, method = 1, "linear"
        res_norm = float(np.max(np.abs(net.balance(x, y) / net.scale)))
        converged = bool(np.isfinite(res_norm) and res_norm < 1e-9)
    else:
        system = _NewtonSystem(net, model, params)
        u0 = _starting_point(system, net, model, params, cascade, initial)
        u, res, iterations, ok = _newton(system, u0, max_iter=max_iter, tol=tol)
        method = "newton"
        if not ok:
            u, res, extra, ok = _pseudo_transient(system, u0, tol=tol)
            iterations += extra
            method = "newton+pseudo-transient"
        res_norm = float(np.max(np.abs(res)))
        if not ok:
            stage, comp, kind = system.worst(res)
            raise ConvergenceError(f"steady-state solve of {cascade.name!r} did not converge",
                                   residual_norm=res_norm, worst_stage=stage + 1,
                                   worst_component=f"{cascade.components[comp]} {kind}",
                                   iterations=iterations)
        ln_x, ln_y = system.unpack(u)
        x, y = np.exp(ln_x), np.exp(ln_y)
        x[~net.reachable] = 0.0
        y[~net.reachable] = 0.0
        converged = True
    feeds = cascade.feed_totals()
    out = net.outlet_totals(cascade, x, y)
    closure = np.abs(feeds - out) / np.maximum(feeds, 1e-300)
    closure[feeds <= 0] = 0.0
    if not converged or not np.all(np.isfinite(closure)) or closure.max() > CLOSURE_LIMIT:
        worst = int(np.argmax(np.where(np.isfinite(closure), closure, np.inf)))
        raise ConvergenceError(f"steady-state solve of {cascade.name!r} does not close the mass balance "
                               f"(closure {closure[worst]:.3g} for {cascade.components[worst]})",
                               residual_norm=res_norm, worst_stage=0,
                               worst_component=cascade.components[worst], iterations=iterations)
    elapsed = time.perf_counter() - start
    return build_steady_result(cascade, net.flows, x, y, closure=closure, iterations=iterations,
                               residual_norm=res_norm, method=method, solve_time=elapsed)


def _starting_point(system, net, model, params, cascade, initial):
    n, c = net.n, net.c
    if initial is not None and getattr(initial, "aqueous", None) is not None \
            and initial.aqueous.shape == (n, c):
        x0 = np.maximum(initial.aqueous, 1e-300)
        y0 = np.maximum(initial.organic, 1e-300)
        return system.pack(np.log(x0), np.log(y0))
    aq_in = np.zeros(c)
    q_aq = 0.0
    for inlet in cascade.circuit.inlets:
        if inlet.phase == AQUEOUS:
            aq_in += inlet.flow * inlet.concentration
            q_aq += inlet.flow
    x_ref = aq_in / q_aq if q_aq > 0 else cascade.feed_totals() / net.flows[AQUEOUS].mean()
    distribution = model.distribution_guess(x_ref, params)
    loading = model.saturation_loading(params)
    if loading is not None:
        distribution = _saturated_distribution(net, model, params, loading, x_ref)
    x = net.linear_profile(distribution)
    floor = 1e-12 * max(float(np.max(np.abs(x))), 1e-300)
    x = np.maximum(x, floor)
    ln_x = np.log(x)
    ln_y, _ = model.log_organic(x, params)
    ln_x[~net.reachable] = PINNED_LN
    ln_y[~net.reachable] = PINNED_LN
    return system.pack(ln_x, ln_y)


def _saturated_distribution(net, model, params, loading, x_ref):
    """Distribution ratios for a start in which the organic leaves every stage at ``loading``.

    The total metal carried by the aqueous then follows from the total balance alone,
    (I - T_aq) G = q + (T_org - I) O L; where that leaves too little metal to saturate the organic,
    the stage is treated as depleted. Each stage's D is the one that puts the feed-composition
    aqueous at that total level in equilibrium with the saturated organic.
    """
    n = net.n
    total_loads = net.loads.sum(axis=1)
    organic_flux = net.flows[ORGANIC] * loading
    aq = net.mat[AQUEOUS].tocsc()
    org = net.mat[ORGANIC].tocsc()
    # net.mat = T F - F, so (T - I) F G/F = mat @ (G/F)
    level = spla.spsolve(aq, -(total_loads + org @ loading)) if n > 1 else \
        np.atleast_1d(-(total_loads + org @ loading) / aq.toarray()[0, 0])
    reference = max(float(x_ref.sum()), 1e-300)
    level = np.maximum(np.asarray(level, dtype=float), 1e-6 * reference)
    del organic_flux
    x_stage = level[:, None] * (x_ref / reference)[None, :]
    ln_y, _ = model.log_organic(np.maximum(x_stage, 1e-300), params)
    return np.exp(ln_y) / np.maximum(x_stage, 1e-300)
