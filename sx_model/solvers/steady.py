"""Steady state of a whole cascade, solved as one system of equations.

Unknowns are the aqueous concentrations leaving every stage, scaled by the largest inlet concentration,
stage-major (so the Jacobian is block-banded for a plain battery and merely sparse with recycles); the
organic is eliminated through equilibrium, y = f(x). Equations are the component balances of each stage,

    q_ji + sum_k (T_aq F_aq)_jk x_ki + sum_k (T_org F_org)_jk y_ki - F_aq,j x_ji - F_org,j y_ji = 0,

divided by each component's total inflow, so they read as a relative closure even for trace components.
Where the organic cannot be eliminated stage by stage (a Murphree efficiency below 1) or the model has
internal unknowns (ln [H+] with the charge balance for the acidity-driven models), the block system
:class:`_BlockSystem` carries [x, y, w] per stage instead.

Newton's method with the analytic sparse Jacobian (SuperLU) and an Armijo line search with a watchdog,
started from successive substitution on the distribution ratios (the classical K-value method, with the
total metal level of each stage taken from the total balance for models that saturate the organic); a
warm start from a previous result when given. If Newton stalls: a homotopy supplied by the model
(separation factors beta^t with a moving half-loading; the extractant concentration for the
cation-exchange models) followed with tangent predictor and Newton corrector, and pseudo-transient
continuation (implicit-Euler steps of the stage holdups, the battery coming on stream) as the last
resort. A linear model (constant_d) without Murphree efficiencies is solved directly with one sparse
factorisation.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..cascade import Cascade
from ..circuit import AQUEOUS, ORGANIC
from ..errors import ConfigError, ConvergenceError

#: Scaled residual (max norm) at which Newton stops [-]: relative to each component's total inflow
#: for balances, relative to the largest inlet concentration for the equilibrium equations.
TOLERANCE = 1e-12
#: Pseudo-time steps allowed from each starting point before giving up [-].
PSEUDO_TRANSIENT_STEPS = 1500
#: ... from a warm start (a previous result or a coarser cascade), before starting afresh [-].
WARM_PSEUDO_TRANSIENT_STEPS = 400
#: From a warm start, Newton is tried after every this many accepted pseudo-time steps [-] ...
NEWTON_TRY_EVERY = 5
#: ... with at most this many iterations [-].
NEWTON_TRY_ITER = 12
#: First pseudo-time step from a warm start, in residence times (1e-2 from a cold start) [-].
WARM_PSEUDO_TIME_STEP = 0.3
#: Line-search failures after which Newton still takes the shortest step (at most this many) [-].
WATCHDOG_STEPS = 4
#: Bound on |ln D| in the substitution start [-] (keeps the linear solves well conditioned).
LN_D_LIMIT = 60.0
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
        self._circuit = circuit
        self.conditions = cascade.conditions(self.flows)
        concentrations = [inlet.concentration.max() for inlet in circuit.inlets]
        self.c_ref = max(max(concentrations, default=0.0), 1e-30)

    @property
    def reachable(self):
        """(N, C) bool: which components can reach which stages (computed once, when first needed)."""
        if getattr(self, "_reachable", None) is None:
            self._reachable = self._circuit.reachable()
        return self._reachable

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
    """Residual and sparse Jacobian of the steady-state equations in scaled aqueous concentrations.

    The organic leaving each stage is at equilibrium, y = f(x), so the unknowns are the aqueous
    concentrations only, u = x / c_ref, stage-major [x_1, x_2, ...] with c_ref the largest inlet
    concentration. The equations are the component balances, divided by each component's total
    inflow so that they read as a relative closure. For a plain battery the Jacobian is block
    tridiagonal (C x C blocks) and banded.
    """

    #: Lower bound of every unknown (concentrations stay non-negative).
    lower = 0.0

    def project(self, u, internal=True):
        return u

    def __init__(self, net: _Network, model, params):
        self.net, self.model, self.params = net, model, params
        n, c = net.n, net.c
        self.size = n * c
        self.c_ref = net.c_ref
        index = np.arange(n * c).reshape(n, c)
        aq, org = net.mat[AQUEOUS], net.mat[ORGANIC]
        self._aq, self._org = aq, org
        rows = [index[aq.row].ravel(),
                np.repeat(index[org.row], c, axis=1).ravel()]
        cols = [index[aq.col].ravel(),
                np.tile(index[org.col], (1, c)).ravel()]
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        # CSC structure with duplicates (aqueous and organic terms on the same entry) summed:
        # sorting by (column, row) gives CSC order directly.
        keys, self._slot = np.unique(cols * self.size + rows, return_inverse=True)
        self._nnz = keys.size
        self._indices = (keys % self.size).astype(np.int32)
        self._indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // self.size,
                                                                   minlength=self.size))]).astype(np.int32)
        self._aq_data = (aq.data[:, None] * self.c_ref / net.scale[None, :]).ravel()
        self._org_factor = org.data[:, None, None] * self.c_ref / net.scale[None, :, None]
        # Unreachable (stage, component) pairs stay at zero: their equations become u = 0.
        self.pinned_rows = index[~net.reachable]
        self.has_pins = self.pinned_rows.size > 0
        if self.has_pins:
            row_pinned = np.zeros(self.size, dtype=bool)
            row_pinned[self.pinned_rows] = True
            entry_col = np.repeat(np.arange(self.size), np.diff(self._indptr))
            self._zero_entries = row_pinned[self._indices]
            self._diag_entries = self._zero_entries & (self._indices == entry_col)

    def unpack(self, u):
        """Concentrations (x, y) [mol/m^3], each (N, C), from the unknown vector."""
        x = u.reshape(self.net.n, self.net.c) * self.c_ref
        return x, self.model.equilibrium(x, self.params)[0]

    def pack(self, x, y=None):
        """Unknown vector from aqueous concentrations x [mol/m^3] (y is implied by equilibrium)."""
        return np.asarray(x, dtype=float).ravel() / self.c_ref

    def residual(self, u, with_jacobian=True):
        """Scaled residual and (optionally) its sparse Jacobian at ``u``; returns ``(res, jac)``."""
        net = self.net
        x = u.reshape(net.n, net.c) * self.c_ref
        y, dydx = self.model.equilibrium(x, self.params)
        res = (net.balance(x, y) / net.scale).ravel()
        if self.has_pins:
            res[self.pinned_rows] = u[self.pinned_rows]
        if not with_jacobian:
            return res, None
        org = self._org
        raw = np.concatenate([self._aq_data, (self._org_factor * dydx[org.col]).ravel()])
        data = np.bincount(self._slot, weights=raw, minlength=self._nnz)
        if self.has_pins:
            data[self._zero_entries] = 0.0
            data[self._diag_entries] = 1.0
        jac = sp.csc_matrix((data, self._indices, self._indptr), shape=(self.size, self.size))
        return res, jac

    def holdup_matrix(self):
        """d(stage holdup)/du for the balance rows, one unit of residence time per phase [s]."""
        if getattr(self, "_holdup", None) is None:
            net = self.net
            aq_hold = net.flows[AQUEOUS][:, None] * self.c_ref / net.scale[None, :]
            org_hold = net.flows[ORGANIC][:, None] * self.c_ref / net.scale[None, :]
            self._holdup = (aq_hold.ravel(), org_hold)
        return self._holdup

    def holdup_jacobian(self, u):
        """Sparse d(holdup)/du at ``u`` (the organic holdup follows x through equilibrium)."""
        aq_hold, org_hold = self.holdup_matrix()
        net = self.net
        x = u.reshape(net.n, net.c) * self.c_ref
        _, dydx = self.model.equilibrium(x, self.params)
        blocks = org_hold[:, :, None] * dydx + np.eye(net.c)[None] * aq_hold.reshape(net.n, net.c)[:, :, None]
        if self.has_pins:
            pinned = ~net.reachable
            blocks[pinned] = 0.0
        return sp.block_diag(list(blocks), format="csc")

    def worst(self, res):
        stage, comp = divmod(int(np.argmax(np.abs(res))), self.net.c)
        return stage, comp, "balance"


class _BlockSystem:
    """Steady-state equations with per-stage blocks of unknowns [x (C), y (C), w (m)].

    Used when the organic cannot be eliminated stage by stage or the model has internal unknowns:

    - ``y`` (organic concentrations, scaled like x) when a section has a Murphree efficiency below 1:
      y_j = (1 - E_j) y_in,j + E_j y*(x_j, w_j), with y_in,j the mixed organic entering stage j (organic
      phase Murphree efficiency); otherwise y = y*(x, w) is eliminated as in :class:`_NewtonSystem`;
    - ``w`` (m per stage) internal unknowns of the equilibrium model (ln [H+] for the cation-exchange
      models), whose equations (the aqueous charge balance) the model supplies.

    Rows follow the unknowns: component balances at the x positions, Murphree relations at the y
    positions, model equations at the w positions; all scaled (balances and Murphree relations by each
    component's total inflow, the model equations by the model). The Jacobian is the constant linear
    coupling plus block-diagonal local derivatives (plus, with y eliminated, the organic coupling through
    dy*/du of the sending stage); stage-major, so it stays banded for a battery.
    """

    def __init__(self, net: _Network, model, params, efficiency=None):
        self.net, self.model, self.params = net, model, params
        n, c = net.n, net.c
        self.m = int(model.internal_count)
        self.murphree = efficiency is not None and bool(np.any(efficiency < 1.0))
        self.efficiency = np.asarray(efficiency if efficiency is not None else np.ones(n), dtype=float)
        nc = 2 * c if self.murphree else c
        self.b = b = nc + self.m
        self.size = n * b
        self.c_ref = net.c_ref
        index = np.arange(n * b).reshape(n, b)
        self.ix = index[:, :c]
        self.iy = index[:, c:2 * c] if self.murphree else None
        self.iw = index[:, nc:]
        self.lower = np.zeros(self.size)
        self.lower[self.iw.ravel()] = -np.inf
        inv = 1.0 / net.scale
        aq, org = net.mat[AQUEOUS], net.mat[ORGANIC]
        rows, cols, vals = [], [], []

        def couple(matrix, row_index, col_index, factor):
            rows.append(row_index[matrix.row].ravel())
            cols.append(col_index[matrix.col].ravel())
            vals.append((matrix.data[:, None] * factor[None, :]).ravel())

        couple(aq, self.ix, self.ix, self.c_ref * inv)
        flows_org = net.flows[ORGANIC]
        self.org_loads = np.zeros((n, c))
        for inlet in net._circuit.inlets:
            if inlet.phase == ORGANIC:
                self.org_loads[inlet.stage] += inlet.flow * inlet.concentration
        if self.murphree:
            couple(org, self.ix, self.iy, self.c_ref * inv)
            # Murphree rows: F_j y_j - (1 - E_j) (T_in y)_j, with T_in = M_org + diag(F_org)
            t_in = (org.tocsr() + sp.diags(flows_org)).tocoo()
            keep = 1.0 - self.efficiency[t_in.row]
            t_in = sp.coo_matrix((-keep * t_in.data, (t_in.row, t_in.col)), shape=(n, n))
            couple(t_in, self.iy, self.iy, self.c_ref * inv)
            diag = sp.coo_matrix((flows_org, (np.arange(n), np.arange(n))), shape=(n, n))
            couple(diag, self.iy, self.iy, self.c_ref * inv)
        lin_rows, lin_cols = np.concatenate(rows), np.concatenate(cols)
        self._lin_vals = np.concatenate(vals)
        block = np.arange(b)
        # local block entries: rows from C on (Murphree and model rows) against the stage's unknowns
        local_rows = (index[:, c:, None] + 0 * block[None, None, :]).ravel()
        local_cols = np.broadcast_to(index[:, None, :], (n, b - c, b)).ravel()
        # holdup entries: balance rows of a stage against the stage's unknowns
        hold_rows = np.broadcast_to(index[:, :c, None], (n, c, b)).ravel()
        hold_cols = np.broadcast_to(index[:, None, :], (n, c, b)).ravel()
        parts_rows = [lin_rows, local_rows, hold_rows, np.arange(self.size)]
        parts_cols = [lin_cols, local_cols, hold_cols, np.arange(self.size)]
        if not self.murphree:
            # balance rows <- organic of the sending stage through dy*/du of that stage
            org_rows = np.broadcast_to(self.ix[org.row][:, :, None], (org.nnz, c, b)).ravel()
            org_cols = np.broadcast_to(index[org.col][:, None, :], (org.nnz, c, b)).ravel()
            self._org_factor = org.data[:, None, None] * inv[None, :, None]
            self._org_col = org.col
            parts_rows.append(org_rows)
            parts_cols.append(org_cols)
        keys = np.concatenate([cc.astype(np.int64) * self.size + rr for rr, cc in zip(parts_rows, parts_cols)])
        pattern, inverse = np.unique(keys, return_inverse=True)
        sizes = np.cumsum([0] + [len(rr) for rr in parts_rows])
        self._slot_lin = inverse[sizes[0]:sizes[1]]
        self._slot_local = inverse[sizes[1]:sizes[2]]
        self._slot_hold = inverse[sizes[2]:sizes[3]]
        self._slot_diag = inverse[sizes[3]:sizes[4]]
        self._slot_org = inverse[sizes[4]:sizes[5]] if not self.murphree else None
        self._nnz = pattern.size
        self._indices = (pattern % self.size).astype(np.int32)
        self._indptr = np.concatenate([[0], np.cumsum(np.bincount(pattern // self.size,
                                                                   minlength=self.size))]).astype(np.int32)
        self._lin_data = np.bincount(self._slot_lin, weights=self._lin_vals, minlength=self._nnz)
        self.pinned_rows = self.ix[~net.reachable]
        if self.murphree:
            self.pinned_rows = np.concatenate([self.pinned_rows, self.iy[~net.reachable]])
        self.has_pins = self.pinned_rows.size > 0
        if self.has_pins:
            row_pinned = np.zeros(self.size, dtype=bool)
            row_pinned[self.pinned_rows] = True
            self._zero_entries = row_pinned[self._indices]
            self._pin_diag = self._slot_diag[self.pinned_rows]

    def _csc(self, data):
        return sp.csc_matrix((data, self._indices, self._indptr), shape=(self.size, self.size))

    # -- helpers -------------------------------------------------------------------------------
    def _split(self, u):
        n, c = self.net.n, self.net.c
        x = u[self.ix] * self.c_ref
        y = u[self.iy] * self.c_ref if self.murphree else None
        w = u[self.iw] if self.m else np.zeros((n, 0))
        return x, y, w

    def _equilibrium(self, x, w):
        """y*, dy*/dx, dy*/dw (the last (N, C, m))."""
        if self.m:
            return self.model.equilibrium_internal(x, w, self.params)
        y, dydx = self.model.equilibrium(x, self.params)
        return y, dydx, np.zeros(dydx.shape[:2] + (0,))

    def unpack(self, u):
        x, y, w = self._split(u)
        if y is None:
            y = self._equilibrium(x, w)[0]
        return x, y

    def internal(self, u):
        return self._split(u)[2]

    def project(self, u, internal=True):
        """``u`` inside the model's admissible region (for the cation-exchange models: aqueous metal
        charge below the chloride, i.e. pH below 10) and, with ``internal``, with the internal unknowns
        put back on their equations (the charge balance) for the current concentrations, which keeps
        the algebraic part of the pseudo-transient steps consistent."""
        if not self.m:
            return u
        x, _, _ = self._split(u)
        admissible = getattr(self.model, "admissible", None)
        out = u.copy()
        if admissible is not None:
            x = admissible(x, self.params)
            out[self.ix] = x / self.c_ref
        if internal:
            out[self.iw] = self.model.internal_start(x, self.params)
        return out

    def pack(self, x, y=None):
        x = np.asarray(x, dtype=float)
        u = np.zeros(self.size)
        u[self.ix] = x / self.c_ref
        w = self.model.internal_start(x, self.params) if self.m else np.zeros((x.shape[0], 0))
        if self.m:
            u[self.iw] = w
        if self.murphree:
            if y is None or np.shape(y) != x.shape:
                y = self._equilibrium(x, w)[0]
            u[self.iy] = np.asarray(y, dtype=float) / self.c_ref
        return u

    # -- equations -----------------------------------------------------------------------------
    def residual(self, u, with_jacobian=True):
        net, n, c, b = self.net, self.net.n, self.net.c, self.b
        x, y, w = self._split(u)
        y_star, dydx, dydw = self._equilibrium(x, w)
        res = np.empty(self.size)
        inv = 1.0 / net.scale
        if self.murphree:
            f_org = net.flows[ORGANIC]
            e = self.efficiency
            inflow = net.mat[ORGANIC] @ y + f_org[:, None] * y + self.org_loads
            mur = f_org[:, None] * y - (1.0 - e)[:, None] * inflow - (e * f_org)[:, None] * y_star
            res[self.iy] = mur * inv
            res[self.ix] = net.balance(x, y) * inv
        else:
            res[self.ix] = net.balance(x, y_star) * inv
        if self.m:
            e_int, de_dx, de_dw = self.model.constraint(x, w, self.params)
            res[self.iw] = e_int
        if self.has_pins:
            res[self.pinned_rows] = u[self.pinned_rows]
        if not with_jacobian:
            return res, None
        cx, nc = slice(0, c), 2 * c if self.murphree else c
        local = np.zeros((n, b - c, b))
        if self.murphree:
            factor = -(self.efficiency * net.flows[ORGANIC])[:, None, None] * inv[None, :, None]
            local[:, :c, cx] = factor * dydx * self.c_ref
            local[:, :c, nc:] = factor * dydw
        if self.m:
            local[:, nc - c:, cx] = de_dx * self.c_ref
            local[:, nc - c:, nc:] = de_dw
        data = self._lin_data + np.bincount(self._slot_local, weights=local.ravel(), minlength=self._nnz)
        if not self.murphree:
            ydu = np.concatenate([dydx * self.c_ref, dydw], axis=2)             # (N, C, b)
            org_vals = (self._org_factor * ydu[self._org_col]).ravel()
            data += np.bincount(self._slot_org, weights=org_vals, minlength=self._nnz)
        if self.has_pins:
            data[self._zero_entries] = 0.0
            data[self._pin_diag] = 1.0
        return res, self._csc(data)

    def holdup_jacobian(self, u):
        """d(stage holdup)/du for the balance rows, one unit of residence time per phase [s]
        (on the Jacobian's sparsity pattern)."""
        return self._csc(self._holdup_data(u))

    def _holdup_data(self, u):
        net, n, c, b = self.net, self.net.n, self.net.c, self.b
        inv = 1.0 / net.scale
        x, y, w = self._split(u)
        local = np.zeros((n, c, b))
        idx = np.arange(c)
        local[:, idx, idx] = net.flows[AQUEOUS][:, None] * self.c_ref * inv[None, :]
        org = net.flows[ORGANIC][:, None] * inv[None, :]
        if self.murphree:
            local[:, idx, c + idx] = org * self.c_ref
        else:
            _, dydx, dydw = self._equilibrium(x, w)
            local[:, :, :c] += org[:, :, None] * dydx * self.c_ref
            local[:, :, c:] = org[:, :, None] * dydw
        if self.has_pins:
            local[~net.reachable] = 0.0
        return np.bincount(self._slot_hold, weights=local.ravel(), minlength=self._nnz)

    def shifted_jacobian(self, u, jac, dt):
        """J - M / dt for a pseudo-transient step, on the common sparsity pattern."""
        return self._csc(jac.data - self._holdup_data(u) / dt)

    def worst(self, res):
        stage, within = divmod(int(np.argmax(np.abs(res))), self.b)
        c = self.net.c
        if within < c:
            return stage, within, "balance"
        if self.murphree and within < 2 * c:
            return stage, within - c, "Murphree relation"
        return stage, 0, "charge balance (pH)"


def _factor(jac):
    # The stage-major ordering is already banded for a battery; SuperLU's natural column order keeps
    # fill inside the band and is about twice as fast as COLAMD here (recycles add a few columns).
    return spla.splu(jac, permc_spec="NATURAL")


def _newton(system: _NewtonSystem, u, *, max_iter=60, tol=TOLERANCE):
    """Damped Newton with Armijo backtracking, kept in the non-negative orthant by projection.

    Returns (u, res, iterations, ok). On convergence one more full step is taken when it does not
    increase the residual, which puts the balances at round-off.
    """
    res, jac = system.residual(u)
    norm = np.max(np.abs(res))
    best, forced = (u, res, norm), 0
    for it in range(1, max_iter + 1):
        if norm < tol:
            u, res = _polish(system, u, res, jac)
            return u, res, it - 1, True
        try:
            step = _factor(jac).solve(-res)
        except RuntimeError:   # exactly singular Jacobian
            return u, res, it, False
        if not np.all(np.isfinite(step)):
            return u, res, it, False
        merit = 0.5 * float(res @ res)
        alpha = 1.0
        while True:
            trial = system.project(np.maximum(u + alpha * step, system.lower), internal=False)
            t_res, _ = system.residual(trial, with_jacobian=False)
            t_merit = 0.5 * float(t_res @ t_res)
            if np.isfinite(t_merit) and t_merit <= (1.0 - 1e-4 * alpha) * merit:
                break
            alpha *= 0.5
            if alpha < 1.0 / 4096:
                # Watchdog: accept the shortest step a few times (far from the solution the merit
                # function can block the way to a region where full steps work), keeping the best.
                forced += 1
                if forced > WATCHDOG_STEPS:
                    return best[0], best[1], it, False
                break
        u = trial
        res, jac = system.residual(u)
        norm = np.max(np.abs(res))
        if not np.isfinite(norm):
            return best[0], best[1], it, False
        if norm < best[2]:
            best = (u, res, norm)
    if norm < tol:
        return u, res, max_iter, True
    return best[0], best[1], max_iter, False


def _pseudo_transient(system: _NewtonSystem, u, *, max_iter=2000, tol=TOLERANCE, dt=1e-2,
                      newton_every=0):
    """Pseudo-transient continuation: implicit-Euler steps of the stage holdups in pseudo time.

    d(holdup)/dt = balance residual, equilibrium held at every step, so a step solves
    (J - M/dt) du = -F. The time step grows as the residual falls (switched evolution relaxation)
    and shrinks when a step fails; as dt grows the steps become Newton steps. Slower than Newton,
    but it follows the physical approach to steady state, so it does not need a good start.
    With ``newton_every`` = k > 0, Newton is tried (a few iterations) after every k accepted steps
    and ends the walk when it converges; a failed try costs its iterations and nothing else.
    """
    res, jac = system.residual(u)
    norm = float(np.linalg.norm(res))
    accepted, extra = 0, 0
    for it in range(1, max_iter + 1):
        if np.max(np.abs(res)) < tol:
            u, res = _polish(system, u, res, jac)
            return u, res, it - 1, True
        try:
            shifted = getattr(system, "shifted_jacobian", None)
            matrix = shifted(u, jac, dt) if shifted else (jac - system.holdup_jacobian(u) / dt).tocsc()
            step = _factor(matrix).solve(-res)
        except RuntimeError:
            dt *= 0.1
            continue
        trial = system.project(np.maximum(u + step, system.lower))
        t_res, t_jac = system.residual(trial)
        t_norm = float(np.linalg.norm(t_res))
        if not np.isfinite(t_norm) or t_norm > 2.0 * norm:
            dt *= 0.2
            if dt < 1e-12:
                return u, res, it, False
            continue
        dt = min(dt * min(max(norm / t_norm, 0.5), 10.0) * 1.5, 1e20)
        u, res, jac, norm = trial, t_res, t_jac, t_norm
        accepted += 1
        if newton_every and accepted % newton_every == 0 and np.max(np.abs(res)) >= tol:
            n_u, n_res, n_it, ok = _newton(system, u, max_iter=NEWTON_TRY_ITER, tol=tol)
            extra += n_it
            if ok:
                return n_u, n_res, it + extra, True
    return u, res, max_iter + extra, False


def _polish(system, u, res, jac):
    """One extra Newton step from a converged point if it does not make things worse."""
    try:
        trial = np.maximum(u + _factor(jac).solve(-res), system.lower)
    except RuntimeError:
        return u, res
    t_res, _ = system.residual(trial, with_jacobian=False)
    if np.all(np.isfinite(t_res)) and np.max(np.abs(t_res)) <= np.max(np.abs(res)):
        return trial, t_res
    return u, res


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
        Newton iterations per attempt.

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
    efficiency = cascade.circuit.efficiency()
    if model.linear and not np.any(efficiency < 1.0):
        distribution = model.distribution(params)
        x = np.maximum(net.linear_profile(distribution), 0.0)
        y = distribution * x
        iterations, method = 1, "linear"
        res_norm = float(np.max(np.abs(net.balance(x, y) / net.scale)))
        converged = bool(np.isfinite(res_norm) and res_norm < 1e-9)
    else:
        system = _make_system(net, model, params, efficiency)
        # trial points far from the solution may overflow; they are rejected by the line search
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            u, res, iterations, method = _solve_nonlinear(system, cascade, initial, tol, max_iter)
        res_norm = float(np.max(np.abs(res)))
        x, y = system.unpack(u)
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
    stage_data = {k: np.asarray(val, dtype=float) for k, val in model.diagnostics(x, y, params).items()}
    elapsed = time.perf_counter() - start
    return build_steady_result(cascade, net.flows, x, y, closure=closure, iterations=iterations,
                               residual_norm=res_norm, method=method, solve_time=elapsed,
                               stage_data=stage_data, model_reagents=model.reagent_flows(params))


def _make_system(net, model, params, efficiency):
    """The x-only system where the organic can be eliminated, else the block system."""
    if model.internal_count or np.any(efficiency < 1.0):
        return _BlockSystem(net, model, params, efficiency)
    return _NewtonSystem(net, model, params)


def _solve_nonlinear(system: _NewtonSystem, cascade, initial, tol, max_iter):
    """Newton from the best start available; then a homotopy from an easier problem; else fail."""
    model, params = system.model, system.params
    total = 0
    best = None
    warm = None
    if initial is not None:
        u0 = _warm_start(system, initial, cascade.circuit)
        warm = u0
        if u0 is not None:
            u, res, it, ok = _newton(system, u0, max_iter=max_iter, tol=tol)
            total += it
            if ok:
                return u, res, total, "newton (warm start)"
            best = (u, res)
    for u0 in _starting_points(system, cascade):
        u, res, it, ok = _newton(system, u0, max_iter=max_iter, tol=tol)
        total += it
        if ok:
            return u, res, total, "newton"
        if best is None or np.max(np.abs(res)) < np.max(np.abs(best[1])):
            best = (u, res)
    if getattr(model, "internal_count", 0):
        # Acidity-driven models: the proton balance makes Newton's region of convergence small and the
        # extractant homotopy meets sharp turns where the products switch; the pseudo-transient path
        # (the battery coming on stream) from the substitution start is the reliable one.
        label = "pseudo-transient"
        if warm is None:
            coarse = _coarse_solution(cascade, tol, max_iter)
            if coarse is not None:
                warm = _warm_start(system, coarse, cascade.circuit)
                total += coarse.iterations
                label = "pseudo-transient (from a coarser cascade)"
        start = system.project(warm) if warm is not None else next(iter(_starting_points(system, cascade)))
        steps = WARM_PSEUDO_TRANSIENT_STEPS if warm is not None else PSEUDO_TRANSIENT_STEPS
        u, res, it, ok = _pseudo_transient(system, start, tol=tol, max_iter=steps,
                                           dt=WARM_PSEUDO_TIME_STEP if warm is not None else 1e-2,
                                           newton_every=NEWTON_TRY_EVERY if warm is not None else 0)
        total += it
        if ok:
            return u, res, total, label
        if warm is not None:   # the coarse path led astray: the battery's own start-up path
            u, res, it, ok = _pseudo_transient(system, next(iter(_starting_points(system, cascade))),
                                               tol=tol, max_iter=PSEUDO_TRANSIENT_STEPS)
            total += it
            if ok:
                return u, res, total, "pseudo-transient"
        if np.max(np.abs(res)) < np.max(np.abs(best[1])):
            best = (u, res)
    path_end = []
    if model.continuation(params, 0.0) is not None:
        u, res, it, ok = _continuation(system, cascade, tol, max_iter)
        total += it
        system.params = params
        if ok:
            return u, res, total, "newton+continuation"
        if np.all(np.isfinite(res)):
            path_end.append(u)
        if np.max(np.abs(res)) < np.max(np.abs(best[1])):
            best = (u, res)
    # Pseudo-transient from where the homotopy stopped, then from each start, the plain substitution
    # start first: where the organic cannot be saturated (capacity above the metal fed), the saturated
    # start is far from the steady state.
    for u0 in path_end + list(reversed(list(_starting_points(system, cascade)))):
        u, res, it, ok = _pseudo_transient(system, u0, tol=tol, max_iter=PSEUDO_TRANSIENT_STEPS)
        total += it
        if ok:
            return u, res, total, "pseudo-transient"
        if np.max(np.abs(res)) < np.max(np.abs(best[1])):
            best = (u, res)
    u, res = best
    stage, comp, kind = system.worst(res)
    hint = ""
    explain = getattr(model, "failure_hint", None)
    if explain is not None:
        x, y = system.unpack(u)
        hint = explain(x, y, params) or ""
    raise ConvergenceError(f"steady-state solve of {cascade.name!r} did not converge{hint}",
                           residual_norm=float(np.max(np.abs(res))), worst_stage=stage + 1,
                           worst_component=f"{cascade.components[comp]} {kind}", iterations=total)


#: Stage count from which an acidity-driven cascade is first solved with half the stages per
#: section (recursively), whose profile, resampled, starts the full solve [-].
COARSEN_MIN_STAGES = 32


def _coarse_solution(cascade, tol, max_iter):
    """Steady state of the same cascade with every section halved, or None.

    Stage-count continuation: the composition profile of a cascade changes smoothly with the number
    of stages per section, and a half-size cascade costs less than half as much to bring on stream.
    Only for configs whose streams and products sit at the default stages (no explicit ``stage``).
    """
    import copy

    from ..config import load_config

    config = cascade.config
    if cascade.stage_count < COARSEN_MIN_STAGES or not config:
        return None
    explicit = any(isinstance(body, dict) and "stage" in body
                   for part in ("streams", "products") for body in (config.get(part) or {}).values())
    if explicit:
        return None
    coarse = copy.deepcopy(config)
    for body in coarse["sections"].values():
        if isinstance(body, dict) and isinstance(body.get("stages"), int) and body["stages"] > 0:
            body["stages"] = max(1, (body["stages"] + 1) // 2)
    try:
        return solve(load_config(coarse), tol=tol, max_iter=max_iter)
    except (ConvergenceError, ConfigError):
        return None


#: Newton iterations allowed per continuation step before the step is shortened [-].
CONTINUATION_NEWTON_ITER = 12
#: Residual to which intermediate continuation points are solved [-] (the last one to ``tol``).
CONTINUATION_TOL = 1e-7


def _continuation(system: _NewtonSystem, cascade, tol, max_iter):
    """Follow the model's homotopy (fraction 0 -> 1) with predictor-corrector steps.

    Predictor: the tangent du/dt = -J^-1 dF/dt (dF/dt by a forward difference in t); corrector:
    Newton. Steps grow by 1.5 after a success and halve after a failure.
    """
    model, params = system.model, system.params

    def at(fraction):
        return params if fraction >= 1.0 else model.continuation(params, fraction)

    fraction, step, total = 0.0, 0.2, 0
    system.params = at(0.0)
    for u0 in _starting_points(system, cascade):
        u, res, it, ok = _newton(system, u0, max_iter=max_iter, tol=CONTINUATION_TOL)
        total += it
        if ok:
            break
    else:
        return u, res, total, False
    tangent = _tangent(system, u, at, fraction)
    while fraction < 1.0:
        target = min(1.0, fraction + step)
        system.params = at(target)
        start = u
        if tangent is not None:
            predicted = np.maximum(u + (target - fraction) * tangent, system.lower)
            r_pred = system.residual(predicted, with_jacobian=False)[0]
            r_plain = system.residual(u, with_jacobian=False)[0]
            if np.all(np.isfinite(r_pred)) and r_pred @ r_pred < r_plain @ r_plain:
                start = predicted
        goal = tol if target >= 1.0 else CONTINUATION_TOL
        trial, t_res, it, ok = _newton(system, start, max_iter=CONTINUATION_NEWTON_ITER, tol=goal)
        total += it
        if ok:
            u, res, fraction = trial, t_res, target
            step = min(step * 1.5, 1.0)
            tangent = _tangent(system, u, at, fraction) if fraction < 1.0 else None
        else:
            step *= 0.5
            if step < 1.0 / 1024:
                # give back the last point on the path, measured against the real problem
                system.params = params
                return u, system.residual(u, with_jacobian=False)[0], total, False
    if np.max(np.abs(res)) >= tol:   # reached t = 1 only to the intermediate tolerance
        u, res, it, ok = _newton(system, u, max_iter=max_iter, tol=tol)
        total += it
        return u, res, total, ok
    return u, res, total, True


def _tangent(system, u, at, fraction, h=1e-4):
    """du/dt along the homotopy at a solved point (None if the Jacobian cannot be factored)."""
    saved = system.params
    res0, jac = system.residual(u)
    system.params = at(min(fraction + h, 1.0))
    res1, _ = system.residual(u, with_jacobian=False)
    system.params = saved
    try:
        tangent = _factor(jac).solve(-(res1 - res0) / h)
    except RuntimeError:
        return None
    return tangent if np.all(np.isfinite(tangent)) else None


def _warm_start(system, initial, circuit=None):
    """Start from a previous result: as it is when the shapes match; else, when the components match,
    each section's profile resampled (log-linear in the stage position) onto the new stage count."""
    n, c = system.net.n, system.net.c
    aqueous = getattr(initial, "aqueous", None)
    if aqueous is None or aqueous.shape[1] != c:
        return None
    if aqueous.shape[0] == n:
        return system.pack(np.where(system.net.reachable, aqueous, 0.0), getattr(initial, "organic", None))
    if circuit is None:
        return None
    old = {sec["name"]: sec for sec in initial.sections}
    x = np.empty((n, c))
    for sec in circuit.sections:
        if sec.name not in old:
            return None
        first, count = old[sec.name]["first_stage"] - 1, old[sec.name]["stages"]
        block = np.log(np.maximum(aqueous[first:first + count], 1e-300))
        source = (np.arange(count) + 0.5) / count
        target = (np.arange(sec.stages) + 0.5) / sec.stages
        for i in range(c):
            x[sec.first:sec.first + sec.stages, i] = np.exp(np.interp(target, source, block[:, i]))
    return system.pack(np.where(system.net.reachable, x, 0.0))


#: Successive-substitution passes on the distribution ratios used to build a starting point [-].
SUBSTITUTION_PASSES = 5
#: Change of ln(composition) below which the substitution start stops [-].
SUBSTITUTION_TOL = 1e-3


def _starting_points(system: _NewtonSystem, cascade):
    """Starting points, built lazily: substitution with saturation levels (for models that saturate
    the organic), then plain substitution."""
    yield _starting_point(system, cascade, saturate=True)
    if system.model.saturation_loading(system.params) is not None:
        yield _starting_point(system, cascade, saturate=False)


def _starting_point(system: _NewtonSystem, cascade, saturate=True):
    """A start from successive substitution on the distribution ratios (the classical K-value method).

    Each pass fixes D = f(x)/x per stage and component, solves the now linear cascade exactly (one
    sparse LU), and updates D (damped in ln D). For models that saturate the organic (and with
    ``saturate``), the total metal level of each stage is taken from the total balance (the theta-method
    normalisation), which keeps the iteration from running away where the organic is loaded to capacity.
    """
    net, model, params = system.net, system.model, system.params
    c = net.c
    aq_in = np.zeros(c)
    q_aq = 0.0
    for inlet in cascade.circuit.inlets:
        if inlet.phase == AQUEOUS:
            aq_in += inlet.flow * inlet.concentration
            q_aq += inlet.flow
    x_ref = aq_in / q_aq if q_aq > 0 and aq_in.sum() > 0 else \
        cascade.feed_totals() / net.flows[AQUEOUS].mean()
    loading = model.saturation_loading(params) if saturate else None
    level = _saturated_level(net, loading, x_ref) if loading is not None else None
    if level is not None:
        composition = np.tile(x_ref / x_ref.sum(), (net.n, 1))
        ln_d = _ln_distribution(model, params, level[:, None] * composition)
    else:
        ln_d = np.log(np.maximum(model.distribution_guess(x_ref, params), 1e-300))
    ln_d = np.clip(ln_d, -LN_D_LIMIT, LN_D_LIMIT)
    x = _positive(net.linear_profile(np.exp(ln_d)))
    for _ in range(SUBSTITUTION_PASSES):
        composition = x / x.sum(axis=1, keepdims=True)
        probe = level[:, None] * composition if level is not None else x
        ln_d = np.clip(0.5 * ln_d + 0.5 * _ln_distribution(model, params, probe), -LN_D_LIMIT,
                       LN_D_LIMIT)
        x_new = _positive(net.linear_profile(np.exp(ln_d)))
        change = np.max(np.abs(np.log(x_new / x_new.sum(axis=1, keepdims=True))
                               - np.log(composition)))
        x = x_new
        if change < SUBSTITUTION_TOL:
            break
    return system.pack(np.where(net.reachable, x, 0.0))


def _positive(x):
    floor = 1e-30 * max(float(np.max(np.abs(x))), 1e-100)
    return np.maximum(x, floor)


def _ln_distribution(model, params, x):
    x = np.maximum(x, 1e-200)
    y, _ = model.equilibrium(x, params)
    return np.log(np.maximum(y, 1e-300)) - np.log(x)


def _saturated_level(net, loading, x_ref):
    """Total metal concentration of each stage's aqueous if the organic leaves every stage at ``loading``.

    From the total balance alone: (T_aq F_aq - F_aq) X = -(q + (T_org F_org - F_org) L). Where that
    leaves too little metal to saturate the organic, the stage is treated as nearly depleted.
    """
    aq = net.mat[AQUEOUS].tocsc()
    org = net.mat[ORGANIC].tocsc()
    rhs = -(net.loads.sum(axis=1) + org @ loading)
    level = spla.spsolve(aq, rhs) if net.n > 1 else rhs / aq.toarray()[0, 0]
    reference = max(float(x_ref.sum()), 1e-300)
    return np.maximum(np.atleast_1d(np.asarray(level, dtype=float)), 1e-6 * reference)


def newton_system(cascade: Cascade, initial=None):
    """The residual system of ``cascade`` and its starting point (for baselines and tests).

    Returns ``(system, u0)``; ``system.residual(u)`` gives ``(F, J)`` with J a scipy.sparse CSC matrix
    (``with_jacobian=False``: ``(F, None)``), ``system.unpack(u)`` gives the concentrations ``(x, y)``
    [mol/m^3] of shape (N, C) each.
    """
    net = _Network(cascade)
    params = cascade.model.prepare(net.conditions)
    system = _make_system(net, cascade.model, params, cascade.circuit.efficiency())
    u0 = _warm_start(system, initial, cascade.circuit) if initial is not None else None
    return system, (u0 if u0 is not None else next(_starting_points(system, cascade)))
