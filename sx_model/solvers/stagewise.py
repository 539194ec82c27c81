"""Stage-by-stage (Gauss-Seidel) steady state of a cascade: a slow, independent verification reference.

This is the classical stage-wise simulation of the theory of countercurrent extraction (Xu Guangxian
et al., 1970s; see ``docs/theory.md``), which designers run to check a static design: keep the outflow
concentrations of every stage, visit the stages one after another, and for each stage mix what flows into
it (external inlets plus the current outflows of the stages linked to it) and let the stage come to
equilibrium, the single-stage "flash"

    F_aq,j x_j + F_org,j f_j(x_j) = q_j + sum_k A_jk x_k + sum_k B_jk y_k       (C equations),

with A = T_aq diag(F_aq), B = T_org diag(F_org) from the circuit (side draws enter through the transfer
matrices), q_j the inlet loads and f_j the equilibrium model of stage j. Forward sweeps (along the
organic) and backward sweeps (along the aqueous) alternate (symmetric Gauss-Seidel), so that both phases
carry news across the whole battery in one pair of sweeps. The iteration starts from the battery filled
with feed liquor and stops when the largest relative change of any concentration in one sweep falls
below ``tol``.

In high-reflux cascades the plain iteration creeps: the composition profile relaxes like the physical
start-up of the battery (about 75 000 sweeps and 7 minutes for the 44-stage Pr/Nd example, 30 000
sweeps for a 60-stage CePr/Nd split). By default, once the sweeps have settled (no concentration
changing by more than 3 % in a pair of sweeps), the state after each pair of sweeps is mixed with the
previous ones by Anderson acceleration, which cuts that to a few hundred sweeps. The stopping test is
always one plain sweep, so acceleration changes the cost, never the fixed point: the answer is the
state that stage-wise equilibrium maps onto itself.

It shares only the linear network (flows, transfer matrices and inlet loads of
:class:`sx_model.solvers.equations.Network`) with :mod:`sx_model.solvers.steady`: no whole-circuit
residual, no analytic derivatives (each flash uses a finite-difference Jacobian of
:meth:`EquilibriumModel.organic`), no starting point. It exists to check the production Newton solver; it is not meant for production use.

Cost: each sweep solves N small nonlinear systems (two or three Newton iterations near convergence,
each one call of the model on C + 1 rows and one C x C solve), about 0.1-0.2 ms per stage and sweep in
CPython, i.e. O(N C^3) arithmetic dominated by interpreter overhead. The sweep count grows with the
stage count and the internal reflux: tens of sweeps for a short Kremser battery, about 400 for the
44-stage Pr/Nd cascade and 700 for the 60-stage split (seconds). Use it on cascades of up to about a
hundred stages; the Newton solver is orders of magnitude faster.

Assumption: the model's stage parameters depend only on that stage's own conditions (section, flows,
acid fed to it), so each stage can be prepared on its own. This holds for the constant-D and
separation-factor models.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..circuit import AQUEOUS, ORGANIC
from ..equilibrium.base import StageConditions
from .equations import Network

#: Step in ln x for the forward-difference Jacobian of the equilibrium model [-]. Its relative error
#: (about this size) only slows the flash Newton to a linear rate of ~1e-7 per iteration.
FD_STEP = 1e-7
#: A flash is iterated to round-off: it stops after evaluating the point reached by a Newton step
#: smaller than this in every ln x [-] (that point is then exact to ~FD_STEP * POLISH_STEP) ...
POLISH_STEP = 1e-9
#: ... or when the next step would be smaller than this [-] (the point is at round-off already).
ROUND_OFF_STEP = 1e-15
#: Flash residual (max over components of |balance| / inflow) above which a flash counts as unsolved
#: [-]; below it, backtracking is pointless (round-off).
FLASH_SOLVED = 1e-12
#: Largest change of any ln x in one flash Newton step [-].
FLASH_MAX_LN_STEP = 5.0
#: Newton iterations (including backtracking) allowed per flash.
FLASH_MAX_ITER = 100
#: Past pairs of sweeps combined by the Anderson acceleration [-].
ANDERSON_MEMORY = 16
#: Largest change of any ln(concentration) in a pair of sweeps at which acceleration starts [-];
#: further out the profile still moves as a loading front, which mixing past iterates does not model
#: (started from the first sweep, the acceleration wanders on the 60-stage CePr/Nd split).
ANDERSON_START = 3e-2
#: The acceleration history is dropped when a pair changes the state this many times more than the
#: smallest change seen since the last restart [-].
ANDERSON_RESTART = 10.0
#: Largest change of any ln(concentration) one acceleration step may make [-].
ANDERSON_MAX_LN_STEP = 5.0


@dataclass
class StagewiseSolution:
    """Steady state found by stage-wise (Gauss-Seidel) iteration.

    Attributes
    ----------
    aqueous : numpy.ndarray
        Aqueous concentrations leaving each stage [mol/m^3], shape (N, C).
    organic : numpy.ndarray
        Organic concentrations leaving each stage [mol/m^3], shape (N, C).
    sweeps : int
        Sweeps done (a forward or a backward pass over all stages counts one) [-].
    converged : bool
        Whether the largest relative change in the last sweep fell below ``tol`` with every stage
        flash solved to round-off.
    change : float
        Largest relative change of any concentration in the last sweep [-].
    """

    aqueous: np.ndarray
    organic: np.ndarray
    sweeps: int
    converged: bool
    change: float


def _stage_slice(params, j, rows, n):
    """Stage ``j`` of per-stage parameters (arrays with a leading axis of length n), repeated ``rows``
    times; everything else unchanged."""
    if isinstance(params, np.ndarray) and params.ndim and params.shape[0] == n:
        return np.repeat(params[j:j + 1], rows, axis=0)
    if isinstance(params, dict):
        return {k: _stage_slice(v, j, rows, n) for k, v in params.items()}
    return params


class _StageFlash:
    """Equilibrium flash of one stage: find x >= 0 with F_aq x + F_org f(x) = inflow."""

    def __init__(self, model, conditions: StageConditions, j: int, components: int, full_params=None):
        rows = components + 1   # the point itself and one forward-difference probe per component
        self.model = model
        if full_params is not None:
            # models whose stage parameters come from the whole circuit (the chloride profile of the
            # acidity-driven models): stage j's slice of the cascade's parameters
            self.params = _stage_slice(full_params, j, rows, len(conditions.section))
        else:
            stage = StageConditions(section=(conditions.section[j],) * rows,
                                    aqueous_flow=np.full(rows, conditions.aqueous_flow[j]),
                                    organic_flow=np.full(rows, conditions.organic_flow[j]),
                                    acid_inflow=np.full(rows, conditions.acid_inflow[j]))
            self.params = model.prepare(stage)
        self.aqueous_flow = float(conditions.aqueous_flow[j])
        self.organic_flow = float(conditions.organic_flow[j])
        self.c = components
        self._block = np.empty((rows, components))
        self._diagonal = (np.arange(1, rows), np.arange(components))
        self._probe_factor = np.exp(FD_STEP)

    def _evaluate(self, x):
        """f(x) and the forward-difference probes f(x e^{h e_k}) [mol/m^3], shape (C + 1, C)."""
        block = self._block
        block[:] = x
        block[self._diagonal] *= self._probe_factor
        return self.model.organic(block, self.params)

    def solve(self, inflow, x_guess):
        """Outflow concentrations for the component ``inflow`` [mol/s], starting from ``x_guess``
        [mol/m^3] where it is positive.

        Returns ``(x, y, solved)``: aqueous and organic concentrations [mol/m^3], each (C,), and whether
        the flash residual reached round-off.
        """
        active = inflow > 0
        if not active.any():
            return np.zeros(self.c), np.zeros(self.c), True
        every = bool(active.all())
        idx = np.flatnonzero(active)
        q = np.where(active, inflow, 1.0)
        fa, fo = self.aqueous_flow, self.organic_flow
        start = np.where((x_guess > 0) & active, x_guess, q / (fa + fo))   # fresh: as if D = 1
        ln_x = np.log(start)
        best_norm, best_ln_x, step, alpha = np.inf, ln_x, None, 1.0
        best_x, best_y = np.where(active, start, 0.0), np.zeros(self.c)
        polished = False
        for _ in range(FLASH_MAX_ITER):
            x = np.exp(ln_x) if every else np.where(active, np.exp(ln_x), 0.0)
            organic = self._evaluate(x)
            y = organic[0]
            res = (fa * x + fo * y - q) / q
            norm = float(np.abs(res if every else res[idx]).max())
            worse = not norm <= (1.0 - 1e-4 * alpha) * best_norm   # also catches nan
            if worse and step is not None and not norm <= FLASH_SOLVED:
                # the last step made things worse: go back and take half of it
                alpha *= 0.5
                if alpha < 1e-6:
                    break
                ln_x = best_ln_x + alpha * step
                continue
            best_norm, best_ln_x, best_x, best_y = norm, ln_x, x, y
            if polished or norm == 0.0:
                break
            # d res_i / d ln x_k: exact aqueous term plus the finite-difference organic term
            jac = (organic[1:] - y).T * (fo / FD_STEP)
            jac[np.diag_indices(self.c)] += fa * x
            jac /= q[:, None]
            try:
                if every:
                    delta = np.linalg.solve(jac, -res)
                else:
                    delta = np.linalg.solve(jac[np.ix_(idx, idx)], -res[idx])
            except np.linalg.LinAlgError:
                break
            biggest = float(np.abs(delta).max())
            if not biggest >= ROUND_OFF_STEP:   # at round-off already (or nan): nothing to gain
                break
            if biggest > FLASH_MAX_LN_STEP:
                delta *= FLASH_MAX_LN_STEP / biggest
            polished = biggest < POLISH_STEP
            if every:
                step = delta
            else:
                step = np.zeros(self.c)
                step[idx] = delta
            alpha = 1.0
            ln_x = best_ln_x + step
        if not every:
            best_y = np.where(active, best_y, 0.0)
        return best_x, best_y, best_norm <= FLASH_SOLVED


class _Anderson:
    """Anderson acceleration (Anderson, J. ACM 12 (1965) 547; Walker and Ni, SIAM J. Numer. Anal. 49
    (2011) 1715) of the pair-of-sweeps map s -> G(s), s = ln of the positive outflow concentrations.

    The next input is the combination of the last few outputs G(s_k) whose residuals G(s_k) - s_k
    cancel best in the least-squares sense; the history is dropped when it stops helping (a residual
    ANDERSON_RESTART times the best seen) or when the set of present (stage, component) pairs changes.
    """

    def __init__(self, memory=ANDERSON_MEMORY):
        self.memory = memory
        self._reset(None)

    def _reset(self, mask):
        self.outputs, self.residuals, self.mask, self.best = [], [], mask, np.inf

    def __call__(self, before, after):
        """Next input state from the flattened concentrations before and after a pair of sweeps."""
        mask = (before > 0) & (after > 0)
        if self.mask is None or not np.array_equal(mask, self.mask):
            self._reset(mask)
        if not mask.any():
            return after
        g = np.log(after[mask])
        f = g - np.log(before[mask])
        norm = float(np.abs(f).max())
        if norm > ANDERSON_START or norm > ANDERSON_RESTART * self.best:
            # far from the fixed point (or thrown off it): plain sweeps until the change is small
            self._reset(mask)
            return after
        self.best = min(self.best, norm)
        self.outputs = (self.outputs + [g])[-(self.memory + 1):]
        self.residuals = (self.residuals + [f])[-(self.memory + 1):]
        if len(self.residuals) < 2:
            return after
        d_f = np.diff(np.array(self.residuals), axis=0).T
        d_g = np.diff(np.array(self.outputs), axis=0).T
        gamma = np.linalg.lstsq(d_f, f, rcond=1e-12)[0]
        jump = -(d_g @ gamma)
        biggest = float(np.abs(jump).max())
        if not np.isfinite(biggest):
            self._reset(mask)
            return after
        if biggest > ANDERSON_MAX_LN_STEP:
            jump *= ANDERSON_MAX_LN_STEP / biggest
        out = after.copy()
        out[mask] = np.exp(g + jump)
        return out


def _filled_start(cascade, flows, conditions):
    """Every stage filled with the mean aqueous feed liquor and the organic in equilibrium with it,
    the way a battery is commissioned; components that cannot reach a stage are left out there."""
    circuit = cascade.circuit
    aqueous_in = [inlet for inlet in circuit.inlets if inlet.phase == AQUEOUS]
    load = sum((inlet.flow * inlet.concentration for inlet in aqueous_in),
               np.zeros(circuit.component_count))
    if load.sum() > 0:
        liquor = load / sum(inlet.flow for inlet in aqueous_in)
    else:   # only organic feeds: spread what they bring over the aqueous leaving the cascade
        liquor = circuit.inlet_loads().sum(axis=0) / max(float(flows[AQUEOUS].max()), 1e-300)
    x = np.where(circuit.reachable(), liquor[None, :], 0.0)
    y = cascade.model.organic(x, cascade.model.prepare(conditions))
    return x, y


def _relative_change(new, old):
    """Largest |new - old| / max(|new|, |old|) over the entries, 0 where both are 0 [-]."""
    scale = np.maximum(np.abs(new), np.abs(old))
    present = scale > 0
    if not present.any():
        return 0.0
    return float((np.abs(new - old)[present] / scale[present]).max())


def solve_stagewise(cascade, *, tol: float = 1e-13, max_sweeps: int = 200000,
                    accelerate: bool = True) -> StagewiseSolution:
    """Steady state of ``cascade`` by symmetric Gauss-Seidel over the stages (verification reference).

    Parameters
    ----------
    cascade : Cascade
        Any circuit (side draws, recycles, several feeds); the model's stage parameters must depend only
        on the stage's own conditions (see the module docstring).
    tol : float
        Largest relative change of any concentration in one sweep at which to stop [-].
    max_sweeps : int
        Sweeps (forward and backward passes each count one) before giving up [-].
    accelerate : bool
        Anderson-accelerate the pairs of sweeps (see the module docstring). False gives the plain
        classical iteration (same answer, often a hundred times more sweeps).

    Returns
    -------
    StagewiseSolution
        ``converged`` is False if ``max_sweeps`` ran out before the change fell below ``tol``, or if a
        stage flash was left unsolved when it did; the concentrations are then the last iterate.
    """
    net = Network(cascade)
    n, c = net.n, net.c
    sources = {phase: _sources(net, phase) for phase in (AQUEOUS, ORGANIC)}
    full = cascade.model.prepare(net.conditions) if cascade.model.internal_count else None
    flashes = [_StageFlash(cascade.model, net.conditions, j, c, full) for j in range(n)]
    x, y = _filled_start(cascade, net.flows, net.conditions)
    orders = (np.arange(n), np.arange(n)[::-1])
    anderson = _Anderson() if accelerate else None
    pair_start = None
    change, sweeps, converged = np.inf, 0, False
    while sweeps < max_sweeps:
        if sweeps % 2 == 0 and anderson is not None:
            pair_start = np.concatenate([x.ravel(), y.ravel()])
        change, all_solved = _sweep(orders[sweeps % 2], net.loads, sources, flashes, x, y)
        sweeps += 1
        if change < tol and sweeps >= 2:
            # a stall with an unsolved flash is reported, not swept on
            converged = all_solved
            break
        if anderson is not None and sweeps % 2 == 0:
            state = anderson(pair_start, np.concatenate([x.ravel(), y.ravel()]))
            x[...] = state[:x.size].reshape(x.shape)
            y[...] = state[x.size:].reshape(y.shape)
    return StagewiseSolution(aqueous=x, organic=y, sweeps=sweeps, converged=converged,
                             change=float(change))


def _sources(net, phase):
    """For each stage j: the stages k feeding it with ``phase`` and the flow coefficients T_jk F_k
    [m^3/s] (the off-diagonal part of the network's coupling matrix)."""
    scaled = net.circuit.transfer_matrix(phase).multiply(net.flows[phase][None, :]).tocsr()
    return [(scaled.indices[scaled.indptr[j]:scaled.indptr[j + 1]].copy(),
             scaled.data[scaled.indptr[j]:scaled.indptr[j + 1]].copy()) for j in range(net.n)]


def _sweep(order, loads, sources, flashes, x, y):
    """One pass over the stages in ``order``, updating x and y in place; (largest relative change,
    whether every flash was solved)."""
    change, all_solved = 0.0, True
    for j in order:
        inflow = loads[j].copy()
        src, coef = sources[AQUEOUS][j]
        if src.size:
            inflow += coef @ x[src]
        src, coef = sources[ORGANIC][j]
        if src.size:
            inflow += coef @ y[src]
        x_new, y_new, solved = flashes[j].solve(inflow, x[j])
        all_solved = all_solved and solved
        change = max(change, _relative_change(x_new, x[j]), _relative_change(y_new, y[j]))
        x[j], y[j] = x_new, y_new
    return change, all_solved
