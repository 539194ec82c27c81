"""Steady state of a whole cascade: Newton on the network equations, with fallbacks in a fixed order.

The equations are those of :mod:`sx_model.solvers.equations`. A linear model (constant_d) without
Murphree efficiencies is solved directly with one sparse factorisation. Otherwise the solver runs the
named strategies of :attr:`SteadyOptions.strategies` in turn until one converges:

``warm newton``
    Newton from a previous result (``initial``), resampled onto the stage counts if they differ.
``coarse newton``
    Stage-count continuation (from ``coarsen_min_stages`` stages on): the same cascade with every
    section halved is solved first (the same way, recursively), and Newton starts from its profile
    carried over onto the full stage counts, the added stages inserted in the pinched middle of each
    section (:func:`_resample_section`). That start is close to the answer even where Newton from any
    other start is not (separation-factor cascades at optimum reflux, on the material-balance edge;
    saponified closed loops); for a long section it is the answer to round-off.
``newton``
    Newton (analytic sparse Jacobian, SuperLU, Armijo line search with a watchdog) from successive
    substitution on the distribution ratios (the classical K-value method, with the total metal level
    of each stage from the total balance for models that saturate the organic). Skipped for the
    acidity-driven models when a coarser cascade's solution is at hand.
``stage continuation``
    For models with internal unknowns (the acidity-driven ones): pseudo-transient continuation
    (implicit-Euler steps of the stage holdups, the battery coming on stream) from the warm start or
    from the solution of the same cascade with every section halved (recursively), with Newton tried
    every few steps.
``homotopy``
    The model's own path from an easier problem (separation factors beta^t with a moving half-loading;
    the extractant concentration for the cation-exchange models), tangent predictor, Newton corrector.
``edge check``
    Models that saturate the organic: Newton with the organic flows changed by +-1 % of themselves; if
    the nominal cascade is on the material-balance edge (its organic products carry exactly the feed of
    the components they take) and the stage compositions jump between the two sides, its profile is
    not determined by the inputs: :class:`~sx_model.errors.IllPosedCascade` is raised (fast) instead of
    walking the pseudo-transient path for minutes. (A cascade on the edge that converges carries a
    warning saying so.)
``pseudo-transient``
    Pseudo-transient continuation: from the coarser cascade's profile (with Newton tried every few
    steps), then from where the homotopy stopped and from each start.

A failed solve raises :class:`~sx_model.errors.ConvergenceError` carrying the best iterate
(concentrations of both phases) and diagnostics (residual, worst stage and equation, strategies tried).
Tuning lives in :class:`SteadyOptions`, not in module constants.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse.linalg as spla

from ..cascade import Cascade
from ..circuit import AQUEOUS, ORGANIC
from ..errors import ConfigError, ConvergenceError, IllPosedCascade
from .equations import Network, make_system
from .linalg import factor

#: Scaled residual (max norm) at which Newton stops by default [-].
TOLERANCE = 1e-12
#: Mass-balance closure every converged result must meet [-].
CLOSURE_LIMIT = 1e-9


@dataclass(frozen=True)
class SteadyOptions:
    """Tuning of the steady-state solver (the defaults are what the benchmarks were measured with).

    Attributes
    ----------
    tol : float
        Scaled residual (max norm) at which Newton stops [-]: relative to each component's total
        inflow for balances, relative to the largest inlet concentration for equilibrium equations.
    max_iter : int
        Newton iterations per attempt [-].
    stall_tol : float
        Scaled residual below which Newton counts as converged when no step reduces it further
        (round-off in long cascades with trace components keeps some from reaching ``tol``) [-].
    warm_max_iter : int
        Newton iterations from a warm start [-] (a good one converges in a few; a poor one is left
        for the next strategy instead of costing ``max_iter``).
    strategies : tuple of str
        Strategies tried in order (see the module docstring); any subset, in any order.
    pseudo_transient_steps : int
        Pseudo-time steps allowed from each starting point [-].
    warm_pseudo_transient_steps : int
        ... from a warm start (a previous result or a coarser cascade) [-].
    warm_long_steps : int
        Acidity-driven models: pseudo-time steps from a warm start with the long first step before
        the walk starts again with steps ten times shorter (four times as many allowed), then from the
        cold start [-].
    newton_try_every, newton_try_iter : int
        From a warm start, Newton (at most ``newton_try_iter`` iterations) is tried after every
        ``newton_try_every`` accepted pseudo-time steps [-].
    warm_pseudo_time_step : float
        First pseudo-time step from a warm start, in residence times (1e-2 from a cold start) [-].
    watchdog_steps : int
        Line-search failures after which Newton still takes the shortest step (at most this many) [-].
    coarsen_min_stages : int
        Stage count from which stage continuation starts from a halved cascade [-].
    continuation_newton_iter : int
        Newton iterations per homotopy step before the step is shortened [-].
    continuation_tol : float
        Residual to which intermediate homotopy points are solved [-].
    substitution_passes : int
        Successive-substitution passes that build a starting point [-].
    substitution_tol : float
        Change of ln(composition) below which the substitution start stops [-].
    ln_d_limit : float
        Bound on |ln D| in the substitution start [-].
    """

    tol: float = TOLERANCE
    max_iter: int = 60
    warm_max_iter: int = 15
    stall_tol: float = 1e-9
    strategies: tuple = ("warm newton", "coarse newton", "newton", "stage continuation", "homotopy",
                         "edge check", "pseudo-transient")
    pseudo_transient_steps: int = 1500
    warm_pseudo_transient_steps: int = 400
    warm_long_steps: int = 30
    newton_try_every: int = 5
    newton_try_iter: int = 12
    warm_pseudo_time_step: float = 0.3
    watchdog_steps: int = 4
    coarsen_min_stages: int = 32
    continuation_newton_iter: int = 12
    continuation_tol: float = 1e-7
    substitution_passes: int = 5
    substitution_tol: float = 1e-3
    ln_d_limit: float = 60.0

    def __post_init__(self):
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValueError(f"unknown strategy {unknown[0]!r}; expected some of {', '.join(STRATEGIES)}")


def _factor(jac):
    # The stage-major ordering is banded for a battery: LAPACK's banded LU, with recycles and links as
    # a low-rank correction; SuperLU where the structure does not suit it (see solvers/linalg.py).
    return factor(jac)


def _newton(system, u, *, max_iter=60, tol=TOLERANCE, options=None, progress=None):
    """Damped Newton with Armijo backtracking, kept in the non-negative orthant by projection.

    Returns (u, res, iterations, ok). On convergence one more full step is taken when it does not
    increase the residual, which puts the balances at round-off. With ``progress`` = (k, f), Newton
    gives up when after k iterations the residual has not fallen below f times its starting value
    (from a close start it falls by orders of magnitude in a few; damped steps that shave off a tenth
    each mean the start is far, and the next strategy is cheaper than walking on).
    """
    res, jac = system.residual(u)
    norm = np.max(np.abs(res))
    best, forced, lu = (u, res, norm), 0, None
    first = norm
    for it in range(1, max_iter + 1):
        if norm < tol:
            u, res = _polish(system, u, res, jac, lu)
            return u, res, it - 1, True
        if progress and it - 1 == progress[0] and not norm < progress[1] * first:
            return best[0], best[1], it - 1, False
        try:
            lu = _factor(jac)
            step = lu.solve(-res)
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
                if norm < (options or SteadyOptions()).stall_tol:
                    # no descent left below the stall tolerance: converged to round-off
                    return u, res, it, True
                # Watchdog: accept the shortest step a few times (far from the solution the merit
                # function can block the way to a region where full steps work), keeping the best.
                forced += 1
                if forced > (options or SteadyOptions()).watchdog_steps:
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


def _pseudo_transient(system, u, *, max_iter=2000, tol=TOLERANCE, dt=1e-2, newton_every=0, options=None):
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
            n_u, n_res, n_it, ok = _newton(system, u, max_iter=(options or SteadyOptions()).newton_try_iter,
                                           tol=tol, options=options)
            extra += n_it
            if ok:
                return n_u, n_res, it + extra, True
    return u, res, max_iter + extra, False


def _polish(system, u, res, jac, lu=None):
    """One extra Newton step from a converged point if it does not make things worse.

    With ``lu``, the factorisation of the Jacobian at the previous iterate (a chord step: at a
    residual this small the two Jacobians give the same step to round-off, and a factorisation is
    saved); otherwise ``jac`` is factored.
    """
    try:
        trial = np.maximum(u + (lu if lu is not None else _factor(jac)).solve(-res), system.lower)
    except RuntimeError:
        return u, res
    t_res, _ = system.residual(trial, with_jacobian=False)
    if np.all(np.isfinite(t_res)) and np.max(np.abs(t_res)) <= np.max(np.abs(res)):
        return trial, t_res
    return u, res


def solve(cascade: Cascade, *, initial=None, tol: float | None = None, max_iter: int | None = None,
          options: SteadyOptions | None = None):
    """Solve the steady state of ``cascade``.

    Parameters
    ----------
    cascade : Cascade
    initial : SteadyResult, optional
        A result of a similar cascade (same components) to start from (warm start).
    tol, max_iter : optional
        Shortcuts for the fields of ``options`` of the same name.
    options : SteadyOptions, optional

    Returns
    -------
    SteadyResult

    Raises
    ------
    ConvergenceError
        When no strategy converges (carrying the best iterate and diagnostics), or the converged
        state does not close the mass balance to 1e-9.
    ConfigError
        When the cascade is not solvable as specified (a stage without flow of one phase, ...).
    """
    from ..postprocess import build_steady_result

    options = options or SteadyOptions()
    if tol is not None or max_iter is not None:
        options = replace(options, tol=options.tol if tol is None else tol,
                          max_iter=options.max_iter if max_iter is None else max_iter)
    start = time.perf_counter()
    net = Network(cascade)
    model = cascade.model
    params = model.prepare(net.conditions)
    if initial is None and cascade.starter is not None:
        initial = cascade.starter()          # e.g. a flowsheet's cascades solved one after the other
    try:
        x, y, iterations, method, res_norm = _solve_state(cascade, net, params, initial, options)
    except (ConfigError, ConvergenceError):
        raise
    except (ArithmeticError, RuntimeError, ValueError, np.linalg.LinAlgError) as exc:
        # a singular or overflowing linear algebra step that no strategy caught
        raise ConvergenceError(f"steady-state solve of {cascade.name!r} failed numerically "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})",
                               diagnostics={"exception": type(exc).__name__}) from None
    closure = _closure(cascade, net, x, y, res_norm, iterations)
    stage_data = {k: np.asarray(val, dtype=float) for k, val in model.diagnostics(x, y, params).items()}
    result = build_steady_result(cascade, net.flows, x, y, closure=closure, iterations=iterations,
                                 residual_norm=res_norm, method=method,
                                 solve_time=time.perf_counter() - start, stage_data=stage_data,
                                 model_reagents=model.reagent_flows(params))
    edge = _edge_warning(cascade, result, params)
    if edge:
        result.warnings.append(edge)
    return result


def _solve_state(cascade, net, params, initial, options):
    """(x, y, iterations, method, residual norm) of the steady state."""
    model = cascade.model
    efficiency = cascade.circuit.efficiency()
    if model.linear and not np.any(efficiency < 1.0):
        return _solve_linear(net, model, params)
    system = make_system(net, model, params, efficiency)
    # trial points far from the solution may overflow; they are rejected by the line search
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        u, res, iterations, method = _Run(system, cascade, initial, options).solve()
    x, y = system.unpack(u)
    return x, y, iterations, method, float(np.max(np.abs(res)))


def _solve_linear(net, model, params):
    distribution = model.distribution(params)
    x = np.maximum(net.linear_profile(distribution), 0.0)
    y = distribution * x
    res_norm = float(np.max(np.abs(net.balance(x, y) / net.scale)))
    return x, y, 1, "linear", res_norm


def _closure(cascade, net, x, y, res_norm, iterations):
    """Relative closure |in - out| / in of each component; ConvergenceError above CLOSURE_LIMIT."""
    feeds = cascade.feed_totals()
    closure = np.abs(feeds - net.outlet_totals(x, y)) / np.maximum(feeds, 1e-300)
    closure[feeds <= 0] = 0.0
    if not np.isfinite(res_norm) or not np.all(np.isfinite(closure)) or closure.max() > CLOSURE_LIMIT:
        worst = int(np.argmax(np.where(np.isfinite(closure), closure, np.inf)))
        raise ConvergenceError(f"steady-state solve of {cascade.name!r} does not close the mass balance "
                               f"(closure {closure[worst]:.3g} for {cascade.components[worst]})",
                               residual_norm=res_norm, worst_stage=0,
                               worst_component=cascade.components[worst], iterations=iterations,
                               best_iterate={"aqueous": x, "organic": y},
                               diagnostics={"closure": dict(zip(cascade.components, closure.tolist()))})
    return closure


class _Run:
    """One nonlinear solve: the strategies of the options in turn, keeping the best iterate."""

    def __init__(self, system, cascade, initial, options):
        self.system, self.cascade, self.initial, self.options = system, cascade, initial, options
        self.params = system.params
        self.total = 0
        self.best = None
        self.warm = None
        self.coarse_start = None      # the coarser cascade's profile on this cascade, once solved
        self.coarse_pinched = []      # ... carried over into the pinch (if Newton may start there)
        self.path_end = []
        self.tried = []

    def coarse(self):
        """The solution of the cascade with every section halved (computed once; None below
        ``coarsen_min_stages`` or if it fails); sets the warm start from it."""
        if not hasattr(self, "_coarse"):      # computed on first use only
            self._coarse = _coarse_solution(self.cascade, self.options)
            if self._coarse is not None:
                self.total += self._coarse.iterations
                self.coarse_start = _warm_start(self.system, self._coarse, self.cascade.circuit)
                self.coarse_pinched = _pinched_starts(self.system, self._coarse, self.cascade.circuit,
                                                      self.coarse_start)
                if self.warm is None:
                    self.warm = self.coarse_start
        return self._coarse

    def keep(self, u, res):
        if self.best is None or np.max(np.abs(res)) < np.max(np.abs(self.best[1])):
            self.best = (u, res)

    def starts(self):
        return _starting_points(self.system, self.cascade, self.options)

    def newton(self, u0, **kw):
        u, res, it, ok = _newton(self.system, u0, **{"max_iter": self.options.max_iter,
                                                      "tol": self.options.tol, "options": self.options,
                                                      **kw})
        self.total += it
        return u, res, ok

    def pseudo_transient(self, u0, **kw):
        u, res, it, ok = _pseudo_transient(self.system, u0, tol=self.options.tol, options=self.options,
                                           **kw)
        self.total += it
        return u, res, ok

    def solve(self):
        for name in self.options.strategies:
            found = STRATEGIES[name](self)
            self.tried.append(name)
            if found is not None:
                u, res, label = found
                return u, res, self.total, label
        raise self.failure()

    def failure(self):
        system, cascade = self.system, self.cascade
        if self.best is None:
            u = next(iter(self.starts()))
            self.best = (u, system.residual(u, with_jacobian=False)[0])
        u, res = self.best
        stage, comp, kind = system.worst(res)
        x, y = system.unpack(u)
        hint = cascade.model.failure_hint(x, y, self.params) or ""
        norm = float(np.max(np.abs(res)))
        return ConvergenceError(f"steady-state solve of {cascade.name!r} did not converge{hint}",
                                residual_norm=norm, worst_stage=stage + 1,
                                worst_component=f"{cascade.components[comp]} {kind}", iterations=self.total,
                                best_iterate={"aqueous": x, "organic": y},
                                diagnostics={"strategies": list(self.tried), "residual_norm": norm,
                                             "worst_stage": stage + 1, "equation": kind})


def _warm_newton(run):
    """Newton from the previous result (``initial``)."""
    if run.initial is None:
        return None
    run.warm = _warm_start(run.system, run.initial, run.cascade.circuit)
    starts = [run.warm] if run.warm is not None else []
    if starts and run.initial.aqueous.shape[0] != run.system.net.n:       # a shorter cascade's result
        starts = _pinched_starts(run.system, run.initial, run.cascade.circuit, run.warm) + starts
    return _first_newton(run, starts, "newton (warm start)", max_iter=run.options.warm_max_iter,
                         progress=WARM_PROGRESS)


def _newton_from_starts(run):
    """Newton from each substitution start (skipped for acidity-driven models when a coarser
    cascade's solution is at hand: from the substitution start Newton rarely converges for them, and
    at hundreds of stages the failed attempt costs as much as the pseudo-transient path)."""
    if run.system.model.internal_count and run.initial is None and run.coarse() is not None:
        return None
    return _first_newton(run, run.starts(), "newton")


def _first_newton(run, starts, label, **kw):
    for u0 in starts:
        u, res, ok = run.newton(u0, **kw)
        if ok:
            return u, res, label
        run.keep(u, res)
    return None


def _coarse_newton(run):
    """Stage-count continuation: Newton from the solution of the same cascade with every section
    halved (solved the same way, recursively), carried over onto the full stage counts: first with
    the added stages in the pinch of each section (:func:`_resample_section`, at most
    ``warm_max_iter`` iterations; acidity-driven models only from there), then, for the models without
    internal unknowns, resampled on the relative stage position. (Acidity-driven models rarely
    converge from the resampled profile; they take the pseudo-transient path from it, "stage
    continuation".)"""
    if run.coarse() is None:
        return None
    found = _first_newton(run, run.coarse_pinched, "newton (from a coarser cascade)",
                          max_iter=run.options.warm_max_iter)
    if found is not None or run.system.model.internal_count:
        return found
    return _first_newton(run, [run.coarse_start], "newton (from a coarser cascade)")


def _stage_continuation(run):
    """Acidity-driven models: the pseudo-transient path from the warm start or a coarser cascade's
    solution (the proton balance makes Newton's region of convergence small and the extractant
    homotopy meets sharp turns where the products switch)."""
    if not run.system.model.internal_count:
        return None
    label = "pseudo-transient"
    options = run.options
    if run.initial is None and run.coarse() is not None:
        label = "pseudo-transient (from a coarser cascade)"
    warm = run.warm
    first = next(iter(run.starts()))
    if warm is None:
        u, res, ok = run.pseudo_transient(first, max_iter=options.pseudo_transient_steps)
        if ok:
            return u, res, label
    else:
        # from the warm start, first with long pseudo-time steps, then with steps ten times shorter, a
        # few dozen steps each (where they lead astray they rarely find the way back; the battery's
        # own start-up path below is then cheaper)
        for dt, steps in ((options.warm_pseudo_time_step, options.warm_long_steps),
                          (0.1 * options.warm_pseudo_time_step, 4 * options.warm_long_steps)):
            u, res, ok = run.pseudo_transient(run.system.project(warm), max_iter=steps,
                                              dt=dt, newton_every=options.newton_try_every)
            if ok:
                return u, res, label
        # the coarse path led astray: the battery's own start-up path
        u, res, ok = run.pseudo_transient(first, max_iter=options.pseudo_transient_steps)
        if ok:
            return u, res, "pseudo-transient"
    run.keep(u, res)
    return None


def _homotopy(run):
    """The model's continuation path (if it has one)."""
    system, params = run.system, run.params
    if system.model.continuation(params, 0.0) is None:
        return None
    u, res, it, ok = _continuation(system, run.cascade, run.options)
    run.total += it
    system.params = params
    if ok:
        return u, res, "newton+continuation"
    if np.all(np.isfinite(res)):
        run.path_end.append(u)
    run.keep(u, res)
    return None


def _pseudo_transient_from_starts(run):
    """Pseudo-transient from where the homotopy stopped, then from each start, the plain substitution
    start first: where the organic cannot be saturated (capacity above the metal fed), the saturated
    start is far from the steady state."""
    options = run.options
    coarse = run.coarse_start
    if coarse is not None and not run.system.model.internal_count:
        # the coarser cascade's profile, walked in pseudo time with Newton tried on the way
        u, res, ok = run.pseudo_transient(run.system.project(coarse), max_iter=options.warm_pseudo_transient_steps,
                                          dt=options.warm_pseudo_time_step, newton_every=options.newton_try_every)
        if ok:
            return u, res, "pseudo-transient (from a coarser cascade)"
        run.keep(u, res)
    for u0 in run.path_end + list(reversed(list(run.starts()))):
        u, res, ok = run.pseudo_transient(u0, max_iter=options.pseudo_transient_steps)
        if ok:
            return u, res, "pseudo-transient"
        run.keep(u, res)
    return None


def _edge_check(run):
    """Cascades that saturate the organic: is the steady state determined by the inputs at all?

    Right on the material-balance edge (the organic product carries exactly the extractable share of
    the feed) with long sections, the two sections pinch on either side of the feed and the front
    between them can sit almost anywhere: its place depends on the flows' digits beyond the eighth,
    Newton stalls and the fallbacks spend minutes. Probe: solve the cascade with every organic inlet
    flow changed by -delta and +delta of itself (EDGE_PROBES; if the two sides do not converge, the
    check decides nothing). The organic products' metal flow at the nominal flows (the mean of the two sides') tells
    whether the cascade is on the balance edge at all (it carries exactly the feed of the components it
    takes); if it is not, the cascade is merely hard and the other strategies go on. If it is, and the
    stage compositions of the two sides differ by more than EDGE_JUMP somewhere, the cascade is
    ill-posed: say so (raise :class:`IllPosedCascade`, with the products on both sides) instead of
    searching further.
    """
    system, cascade = run.system, run.cascade
    if system.model.internal_count or system.model.saturation_loading(run.params) is None:
        return None
    organic = {i.name: i.flow for i in cascade.circuit.inlets if i.phase == ORGANIC and i.flow > 0}
    if not organic:
        return None
    for delta, strategies in EDGE_PROBES:
        sides = _edge_probe(cascade, organic, delta, replace(run.options, strategies=strategies))
        if sides is not None:
            if not _on_balance_edge(cascade, *sides):
                return None              # off the edge: a hard cascade, but determined
            break
    else:
        return None
    run.total += sum(r.iterations for r in sides)
    fractions = [r.aqueous / np.maximum(r.aqueous.sum(axis=1, keepdims=True), 1e-300) for r in sides]
    jump = np.max(np.abs(fractions[1] - fractions[0]), axis=1)
    moved = int(np.count_nonzero(jump > EDGE_JUMP))
    if not moved:
        return None
    low, high = sides
    products = {name: (low.products[name].purity, high.products[name].purity) for name in low.products}
    shown = "; ".join(f"{name} purity {a:.6g} to {b:.6g}" for name, (a, b) in products.items())
    raise IllPosedCascade(
        f"steady state of {cascade.name!r} is not determined by its inputs: the cascade sits on the "
        f"material-balance edge (organic product = extractable share of the feed), where changing the "
        f"organic flow by {delta:g} of itself moves the composition of {moved} stages by up to "
        f"{float(jump.max()):.0%} (products on the two sides: {shown}); move the organic or scrub flow off "
        f"the edge by {min(10 * delta, 0.05):g} of itself or more",
        iterations=run.total,
        diagnostics={"strategies": list(run.tried) + ["edge check"],
                     "edge": {"flow_change": delta, "stages_moved": moved,
                              "largest_change": float(jump.max()), "purities": products}})


def _on_balance_edge(cascade, low, high):
    """Whether the organic products, at the nominal flows, carry exactly the feed of the components
    they take (the material-balance edge S - W = f'_A of the theory).

    The organic products' metal flow is linear in the organic flow while the loaded organic leaves
    saturated, so its nominal value is the mean of the two probes' (at -delta and +delta); the
    components they take are those of which they carry most of the feed.
    """
    distance = _edge_distance(cascade, [low, high])
    return distance is not None and distance <= EDGE_BALANCE_TOL


def _edge_distance(cascade, results):
    """Relative distance of the organic products' metal flow (the mean over ``results``) from the
    feed of the components they carry most of; None without organic products or where they take
    none or all of the components."""
    organic = [o.name for o in cascade.circuit.outlets if o.phase == ORGANIC]
    if not organic:
        return None

    def carried(result):
        return sum(result.products[n].flow_m3_per_s
                   * np.array([result.products[n].concentration_mol_per_m3[c] for c in cascade.components])
                   for n in organic if n in result.products)

    flow = sum(carried(r) for r in results) / len(results)
    feed = cascade.feed_totals()
    taken = flow > 0.5 * feed
    if not np.any(taken) or np.all(taken):
        return None
    share = float(feed[taken].sum())
    return abs(float(flow.sum()) - share) / share


def _edge_warning(cascade, result, params):
    """A warning for a converged cascade that saturates the organic and sits on the material-balance
    edge (its stage profile then moves with the flows' eighth digit; see :func:`_edge_check`)."""
    model = cascade.model
    if model.internal_count or model.saturation_loading(params) is None:
        return None
    distance = _edge_distance(cascade, [result])
    if distance is None or distance > EDGE_BALANCE_TOL:
        return None
    return (f"the cascade sits on the material-balance edge (organic product = extractable share of the "
            f"feed to {distance:.1g}): the products are set by the flows, but the stage profile and the "
            f"front between the sections move with changes of the flows far below any meter's accuracy; "
            f"move the organic or scrub flow off the edge by 1e-3 of itself or more for a design")


def _edge_probe(cascade, organic, delta, options):
    """Results with the organic inlet flows changed by -delta and +delta of themselves (None if
    either does not converge by Newton)."""
    sides = []
    for sign in (-1.0, 1.0):
        try:
            shifted = cascade.replace(flows={k: f * (1.0 + sign * delta) for k, f in organic.items()})
            sides.append(solve(shifted, options=options))
        except (ConvergenceError, ConfigError):
            return None
    return sides


#: Relative changes of the organic flows tried by the edge probe, each with the strategies that solve
#: the two sides (the next where they do not converge on both sides of the first). One probe as large
#: as a plant flow meter's error: it converges fast off the edge and tells at once whether the cascade
#: is on the balance edge at all. (Smaller probes, 1e-5 to 1e-3 with the homotopy, decided 2 of the 45
#: edge cases among the 2000 generated ones, both of which converge by the pseudo-transient path in
#: under 4 s without them, and cost a hard cascade off the edge 8 s of failed probes.)
#: Then the change of a stage's composition (mole fraction) that counts as the front having moved.
EDGE_PROBES = ((1e-2, ("coarse newton", "newton")),)
#: Relative distance of the organic products' metal flow from the feed of the components they carry
#: (mostly) within which the cascade counts as sitting on the material-balance edge [-]. A cascade
#: designed for a finite purity sits 1e-4..1e-2 away (99.9 % Pr/Nd: 1e-3); the edge itself is met to
#: within what the two probes leave unsaturated (1.5e-6 in the generated cases).
EDGE_BALANCE_TOL = 1e-5
EDGE_JUMP = 0.1

#: Strategy name -> function(run) returning (u, res, label) or None.
STRATEGIES = {"warm newton": _warm_newton, "coarse newton": _coarse_newton, "newton": _newton_from_starts,
              "edge check": _edge_check,
              "stage continuation": _stage_continuation, "homotopy": _homotopy,
              "pseudo-transient": _pseudo_transient_from_starts}


def _coarse_solution(cascade, options):
    """Steady state of the same cascade with every section halved, or None (stage-count continuation:
    the composition profile changes smoothly with the number of stages per section, and a half-size
    cascade costs less than half as much to bring on stream)."""
    if cascade.stage_count < options.coarsen_min_stages:
        return None
    try:
        return solve(cascade.coarsened(), options=options)
    except IllPosedCascade:
        raise          # the edge is a property of the flows, not of the stage count
    except (ConvergenceError, ConfigError):
        return None


def _continuation(system, cascade, options):
    """Follow the model's homotopy (fraction 0 -> 1) with predictor-corrector steps.

    Predictor: the tangent du/dt = -J^-1 dF/dt (dF/dt by a forward difference in t); corrector:
    Newton. Steps grow by 1.5 after a success and halve after a failure.
    """
    model, params = system.model, system.params
    tol, max_iter = options.tol, options.max_iter

    def at(fraction):
        return params if fraction >= 1.0 else model.continuation(params, fraction)

    fraction, step, total = 0.0, 0.2, 0
    system.params = at(0.0)
    for u0 in _starting_points(system, cascade, options):
        u, res, it, ok = _newton(system, u0, max_iter=max_iter, tol=options.continuation_tol, options=options)
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
        goal = tol if target >= 1.0 else options.continuation_tol
        trial, t_res, it, ok = _newton(system, start, max_iter=options.continuation_newton_iter, tol=goal,
                                       options=options)
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
        u, res, it, ok = _newton(system, u, max_iter=max_iter, tol=tol, options=options)
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


def _warm_start(system, initial, circuit=None, pinched=False):
    """Start from a previous result: as it is when the shapes match; else, when the components match,
    each section's profile carried over onto the new stage count (:func:`_resample_section`; with
    ``pinched``, None unless some section grows)."""
    n, c = system.net.n, system.net.c
    aqueous = getattr(initial, "aqueous", None)
    if aqueous is None or aqueous.shape[1] != c:
        return None
    if aqueous.shape[0] == n and not pinched:
        return system.pack(np.where(system.net.reachable, aqueous, 0.0), getattr(initial, "organic", None))
    if circuit is None:
        return None
    old = {sec["name"]: sec for sec in initial.sections}
    if any(sec.name not in old for sec in circuit.sections):
        return None
    if pinched and not any(sec.stages > old[sec.name]["stages"] for sec in circuit.sections):
        return None
    x = np.empty((n, c))
    for sec in circuit.sections:
        first, count = old[sec.name]["first_stage"] - 1, old[sec.name]["stages"]
        block = np.log(np.maximum(aqueous[first:first + count], 1e-300))
        x[sec.first:sec.first + sec.stages] = np.exp(np.maximum(
            _resample_section(block, sec.stages, pinched=pinched), _LN_FLOOR))
    return system.pack(np.where(system.net.reachable, x, 0.0))


def _pinched_starts(system, initial, circuit, plain):
    """The pinched carry-over of ``initial`` (:func:`_resample_section`) as a list of at most one
    start: only where some section grows, and only if its scaled residual is below PINCHED_GATE and
    below that of the ``plain`` start (where it is not, the sections are too short to be pinched and
    Newton from it would only cost iterations)."""
    u = _warm_start(system, initial, circuit, pinched=True)
    if u is None:
        return []
    norm = np.max(np.abs(system.residual(system.project(u), with_jacobian=False)[0]))
    if not norm < PINCHED_GATE:
        return []
    if plain is not None and not norm < np.max(np.abs(system.residual(system.project(plain),
                                                                      with_jacobian=False)[0])):
        return []
    return [u]


#: Scaled residual below which Newton is tried from the pinched carry-over of a shorter cascade [-].
PINCHED_GATE = 10.0
#: Newton from a warm start gives up when after this many iterations its residual has not fallen below
#: this fraction of the start's (see :func:`_newton`).
WARM_PROGRESS = (4, 1e-2)
_LN_FLOOR = float(np.log(1e-300))


def _resample_section(block, stages, pinched=True):
    """ln(concentration) profile of one section, (m, C), carried over onto ``stages`` stages.

    Fewer stages, a section too short to have a middle, or not ``pinched``: log-linear interpolation
    in the relative stage position. More stages: the stages are added in the middle of the section, where a long
    section is pinched and each component changes by the same factor from stage to stage (the
    per-stage purification of the theory). The two halves keep their shape; each component keeps its
    level at the end where it is more abundant, and the added stages continue its middle slope, so
    that at the other end it is purified further by that slope times the number of stages added. For
    a long section this is the profile of the longer section to round-off (the resampled profile of
    the relative position halves every slope, which is what made Newton fail from it on saponified
    loops: scaled residuals of 10-20). Short sections are not pinched: :func:`_pinched_starts` keeps
    this profile only where its residual is small.
    """
    m, c = block.shape
    if stages <= m or m < 4 or not pinched:
        source = (np.arange(m) + 0.5) / m
        target = (np.arange(stages) + 0.5) / stages
        return np.stack([np.interp(target, source, block[:, i]) for i in range(c)], axis=1)
    half = m // 2
    head, tail = block[:half], block[half:]
    added = stages - m
    slope = tail[0] - head[-1]                      # per stage, in the middle of the section
    head = head + np.where(slope > 0, -slope * added, 0.0)
    tail = tail + np.where(slope < 0, slope * added, 0.0)
    t = np.arange(1, added + 1)[:, None] / (added + 1)
    return np.concatenate([head, head[-1] * (1.0 - t) + tail[0] * t, tail], axis=0)


def _starting_points(system, cascade, options):
    """Starting points, built lazily: substitution with saturation levels (for models that saturate
    the organic), then plain substitution."""
    yield _starting_point(system, cascade, options, saturate=True)
    if system.model.saturation_loading(system.params) is not None:
        yield _starting_point(system, cascade, options, saturate=False)


def _starting_point(system, cascade, options, saturate=True):
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
    limit = options.ln_d_limit
    ln_d = np.clip(ln_d, -limit, limit)
    x = _positive(net.linear_profile(np.exp(ln_d)))
    for _ in range(options.substitution_passes):
        composition = x / x.sum(axis=1, keepdims=True)
        probe = level[:, None] * composition if level is not None else x
        ln_d = np.clip(0.5 * ln_d + 0.5 * _ln_distribution(model, params, probe), -limit, limit)
        x_new = _positive(net.linear_profile(np.exp(ln_d)))
        change = np.max(np.abs(np.log(x_new / x_new.sum(axis=1, keepdims=True))
                               - np.log(composition)))
        x = x_new
        if change < options.substitution_tol:
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
    net = Network(cascade)
    params = cascade.model.prepare(net.conditions)
    system = make_system(net, cascade.model, params, cascade.circuit.efficiency())
    u0 = _warm_start(system, initial, cascade.circuit) if initial is not None else None
    return system, (u0 if u0 is not None else next(_starting_points(system, cascade, SteadyOptions())))
