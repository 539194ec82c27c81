"""The network equations of a cascade: residual, Jacobian and holdup (mass) matrix.

Shared by every solver: the steady-state solver (:mod:`sx_model.solvers.steady`) drives the residual to
zero; the pseudo-transient path and a time-dependent solver step ``M du/dt = F(u)`` with the holdup
matrix ``M``; the stage-wise reference uses the same balances stage by stage.

Unknowns are the aqueous concentrations leaving every stage, scaled by the largest inlet concentration,
stage-major (so the Jacobian is block-banded for a plain battery and merely sparse with recycles); the
organic is eliminated through equilibrium, y = f(x) (:class:`EliminatedSystem`). Equations are the
component balances of each stage,

    q_ji + sum_k (T_aq F_aq)_jk x_ki + sum_k (T_org F_org)_jk y_ki - F_aq,j x_ji - F_org,j y_ji = 0,

divided by each component's total inflow, so they read as a relative closure even for trace components.
Where the organic cannot be eliminated stage by stage (a Murphree efficiency below 1) or the model has
internal unknowns (ln [H+] with the charge balance for the acidity-driven models),
:class:`BlockSystem` carries [x, y, w] per stage instead. :func:`make_system` picks the right one.

Both systems offer the same methods: ``residual(u, with_jacobian)`` -> (F, J as CSC),
``holdup_jacobian(u)`` (d holdup / du, one residence time per phase), ``pack(x, y)`` / ``unpack(u)``
between unknowns and concentrations [mol/m^3], ``project(u)`` into the model's admissible region,
``worst(res)`` (stage, component, equation kind of the largest residual), and ``lower`` bounds.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..cascade import Cascade, check_flows
from ..circuit import AQUEOUS, ORGANIC


class Network:
    """Linear part of the cascade equations: flows, stage-to-stage transfer matrices, inlet loads."""

    def __init__(self, cascade: Cascade):
        circuit = cascade.circuit
        self.n = circuit.stage_count
        self.c = circuit.component_count
        self.flows = circuit.phase_flows()
        check_flows(circuit, self.flows)
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
        self.circuit = circuit
        self.conditions = cascade.conditions(self.flows)
        concentrations = [inlet.concentration.max() for inlet in circuit.inlets]
        self.c_ref = max(max(concentrations, default=0.0), 1e-30)

    @property
    def reachable(self):
        """(N, C) bool: which components can reach which stages (computed once, when first needed)."""
        if getattr(self, "_reachable", None) is None:
            self._reachable = self.circuit.reachable()
        return self._reachable

    def balance(self, x, y):
        """Component balance of each stage [mol/s], shape (N, C)."""
        return self.loads + self.mat[AQUEOUS] @ x + self.mat[ORGANIC] @ y

    def outlet_totals(self, x, y):
        """Total outflow of each component through all outlets [mol/s], shape (C,)."""
        total = np.zeros(self.c)
        for outlet in self.circuit.outlets:
            conc = x if outlet.phase == AQUEOUS else y
            total += outlet.fraction * self.flows[outlet.phase][outlet.stage] * conc[outlet.stage]
        # A stage whose outflow has no link and no outlet would lose material: count what leaves.
        drawn = self.circuit.draw_fractions()
        for phase, conc in ((AQUEOUS, x), (ORGANIC, y)):
            loose = (self.circuit.links[phase] < 0) & (drawn[phase] < 1.0)
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


class EliminatedSystem:
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

    def __init__(self, net: Network, model, params):
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
        jac = sp.csc_matrix((_flushed(data), self._indices, self._indptr), shape=(self.size, self.size))
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


class BlockSystem:
    """Steady-state equations with per-stage blocks of unknowns [x (C), y (C), w (m)].

    Used when the organic cannot be eliminated stage by stage or the model has internal unknowns:

    - ``y`` (organic concentrations, scaled like x) when a section has a Murphree efficiency below 1:
      y_j = (1 - E_j) y_in,j + E_j y*(x_j, w_j), with y_in,j the mixed organic entering stage j (organic
      phase Murphree efficiency); otherwise y = y*(x, w) is eliminated as in :class:`EliminatedSystem`;
    - ``w`` (m per stage) internal unknowns of the equilibrium model (ln [H+] for the cation-exchange
      models), whose equations (the aqueous charge balance) the model supplies.

    Rows follow the unknowns: component balances at the x positions, Murphree relations at the y
    positions, model equations at the w positions; all scaled (balances and Murphree relations by each
    component's total inflow, the model equations by the model). The Jacobian is the constant linear
    coupling plus block-diagonal local derivatives (plus, with y eliminated, the organic coupling through
    dy*/du of the sending stage); stage-major, so it stays banded for a battery.
    """

    def __init__(self, net: Network, model, params, efficiency=None):
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
        #: Positions of the scaled concentrations in u (x, and y where it is an unknown).
        self.concentration_index = (np.concatenate([self.ix.ravel(), self.iy.ravel()]) if self.murphree
                                    else self.ix.ravel())
        self.lower = np.zeros(self.size)
        self.lower[self.iw.ravel()] = -np.inf
        self.org_loads = np.zeros((n, c))
        for inlet in net.circuit.inlets:
            if inlet.phase == ORGANIC:
                self.org_loads[inlet.stage] += inlet.flow * inlet.concentration
        lin_rows, lin_cols = self._linear_coupling(index)
        self._pattern(index, lin_rows, lin_cols)
        self.pinned_rows = self.ix[~net.reachable]
        if self.murphree:
            self.pinned_rows = np.concatenate([self.pinned_rows, self.iy[~net.reachable]])
        self.has_pins = self.pinned_rows.size > 0
        if self.has_pins:
            row_pinned = np.zeros(self.size, dtype=bool)
            row_pinned[self.pinned_rows] = True
            self._zero_entries = row_pinned[self._indices]
            self._pin_diag = self._slot_diag[self.pinned_rows]

    def _linear_coupling(self, index):
        """Rows and columns of the constant (flow) part of the Jacobian; its values in ``_lin_vals``."""
        net, n = self.net, self.net.n
        inv = 1.0 / net.scale
        aq, org = net.mat[AQUEOUS], net.mat[ORGANIC]
        rows, cols, vals = [], [], []

        def couple(matrix, row_index, col_index, factor):
            rows.append(row_index[matrix.row].ravel())
            cols.append(col_index[matrix.col].ravel())
            vals.append((matrix.data[:, None] * factor[None, :]).ravel())

        couple(aq, self.ix, self.ix, self.c_ref * inv)
        if self.murphree:
            flows_org = net.flows[ORGANIC]
            couple(org, self.ix, self.iy, self.c_ref * inv)
            # Murphree rows: F_j y_j - (1 - E_j) (T_in y)_j, with T_in = M_org + diag(F_org)
            t_in = (org.tocsr() + sp.diags(flows_org)).tocoo()
            keep = 1.0 - self.efficiency[t_in.row]
            t_in = sp.coo_matrix((-keep * t_in.data, (t_in.row, t_in.col)), shape=(n, n))
            couple(t_in, self.iy, self.iy, self.c_ref * inv)
            diag = sp.coo_matrix((flows_org, (np.arange(n), np.arange(n))), shape=(n, n))
            couple(diag, self.iy, self.iy, self.c_ref * inv)
        self._lin_vals = np.concatenate(vals)
        return np.concatenate(rows), np.concatenate(cols)

    def _pattern(self, index, lin_rows, lin_cols):
        """The fixed CSC pattern of the Jacobian and the slots each kind of entry adds into."""
        net, n, c, b = self.net, self.net.n, self.net.c, self.b
        org = net.mat[ORGANIC]
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
            parts_rows.append(np.broadcast_to(self.ix[org.row][:, :, None], (org.nnz, c, b)).ravel())
            parts_cols.append(np.broadcast_to(index[org.col][:, None, :], (org.nnz, c, b)).ravel())
            self._org_factor = org.data[:, None, None] * (1.0 / net.scale)[None, :, None]
            self._org_col = org.col
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

    def _csc(self, data):
        return sp.csc_matrix((_flushed(data), self._indices, self._indptr), shape=(self.size, self.size))

    # -- helpers -------------------------------------------------------------------------------
    def _split(self, u):
        n = self.net.n
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
        out = u.copy()
        x = self.model.admissible(x, self.params)
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


def make_system(net, model, params, efficiency):
    """The x-only system where the organic can be eliminated, else the block system."""
    if model.internal_count or np.any(efficiency < 1.0):
        return BlockSystem(net, model, params, efficiency)
    return EliminatedSystem(net, model, params)


_TINY = np.finfo(float).tiny


def _flushed(data):
    """Jacobian entries with the subnormal ones set to zero. Trace components deep in a pinched
    section reach concentrations below 1e-308, and their entries, against entries of order one in
    the same rows, change no step; but LU factorisations and solves run several times slower on
    subnormal numbers (a 1000 x 16 Jacobian with 2e4 of them: 31 ms for SuperLU against 21 ms)."""
    data[np.abs(data) < _TINY] = 0.0
    return data
