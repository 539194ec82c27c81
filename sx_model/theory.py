"""Shortcut design by the theory of countercurrent extraction (Xu Guangxian, 1970s).

Two-product fractional extraction of an A/B mixture (A more extractable, to the organic product;
B to the raffinate). All amounts are per mole of feed REE. Sources: Xu Guangxian, Li Biaoguo, Yan
Chunhua et al., the theory of countercurrent extraction as summarised in Xu, Rare Earths, 2nd ed.
(Metallurgical Industry Press, Beijing, 1995) and Cheng Fuxiang, Wu Sheng, Liao Chunsheng, Yan Chunhua,
"Theory of countercurrent extraction" reviews; docs/theory.md (section 4) explains the formulas used
here.

Symbols: beta = separation factor of the key pair (A over B) [-]; S = REE carried by the organic
through the extraction section, W = REE scrubbed back (reflux) [mol/mol feed]; E_M, E'_M = mixed
extraction ratios of the extraction and scrub sections [-]; f_A, f_B = feed fractions [-];
P_A, P_B = product purities [-]; a, b = purification factors [-].
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


class InfeasibleDesign(ValueError):
    """The requested separation cannot be made with these flows (a section does not purify)."""


def purification_factors(purity_a, purity_b, feed_fraction_a):
    """Purification factors a (organic product, A) and b (raffinate, B) [-].

    a = [P_A / (1 - P_A)] / (f_A / f_B),  b = [P_B / (1 - P_B)] / (f_B / f_A).
    """
    fa = float(feed_fraction_a)
    fb = 1.0 - fa
    if not 0 < fa < 1:
        raise InfeasibleDesign(f"feed fraction of A must be between 0 and 1, got {fa}")
    for p in (purity_a, purity_b):
        if not 0 < p < 1:
            raise InfeasibleDesign(f"purities must be between 0 and 1 (exclusive), got {p}")
    a = (purity_a / (1.0 - purity_a)) / (fa / fb)
    b = (purity_b / (1.0 - purity_b)) / (fb / fa)
    if a <= 1 or b <= 1:
        raise InfeasibleDesign(f"targets do not purify the feed (a = {a:.4g}, b = {b:.4g}); both must "
                               "exceed 1")
    return a, b


def organic_product_fraction(purity_a, purity_b, feed_fraction_a):
    """f'_A: REE leaving in the organic product per mol of feed REE, from the two purities [-].

    Mass balance of A: P_A f'_A + (1 - P_B)(1 - f'_A) = f_A.
    """
    return (feed_fraction_a - (1.0 - purity_b)) / (purity_a - (1.0 - purity_b))


def mixed_extraction_ratios(s, w, feed_phase="aqueous"):
    """(E_M, E'_M) for extraction and scrub sections [-].

    Aqueous feed: E_M = S / (W + 1), E'_M = S / W. Organic feed (enters the first scrub stage with the
    organic): E_M = S / W, E'_M = (S + 1) / W.
    """
    if feed_phase == "aqueous":
        return s / (w + 1.0), s / w
    return s / w, (s + 1.0) / w


def minimum_reflux(beta, product_fraction, feed_phase="aqueous"):
    """Minimum W (and the matching S = W + f'_A, or W + f'_A - 1 for an organic feed) at which both
    sections still purify (beta E_M > 1 and beta / E'_M > 1): infinite stages [mol/mol feed]."""
    f = product_fraction
    if feed_phase == "aqueous":
        w_ext = (1.0 - beta * f) / (beta - 1.0)        # beta (W + f) > W + 1
        w_scr = f / (beta - 1.0)                          # W + f < beta W
        w = max(w_ext, w_scr, 0.0)
        return w, w + f
    # organic feed: S = W + f - 1; beta S > W and (S + 1) < beta W
    w_ext = beta * (1.0 - f) / (beta - 1.0)
    w_scr = f / (beta - 1.0)
    w = max(w_ext, w_scr, 0.0)
    return w, w + f - 1.0


def total_reflux_stages(beta, a, b):
    """Minimum total number of stages at total reflux, n + m + 1 = lg(ab) / lg(beta) [-]."""
    return math.log(a * b) / math.log(beta)


def stage_counts(beta, a, b, e_m, e_m_prime):
    """Real-valued stage counts (n, m) for the given mixed extraction ratios.

    n = lg b / lg(beta E_M), m + 1 = lg a / lg(beta / E'_M). Raises InfeasibleDesign where a section
    does not purify (beta E_M <= 1 or beta / E'_M <= 1).
    """
    f_ext = beta * e_m
    f_scr = beta / e_m_prime
    if f_ext <= 1.0:
        raise InfeasibleDesign(f"extraction section does not purify: beta E_M = {f_ext:.4g} <= 1 "
                               "(too little extractant or too much reflux)")
    if f_scr <= 1.0:
        raise InfeasibleDesign(f"scrub section does not purify: beta / E'_M = {f_scr:.4g} <= 1 "
                               "(too little scrub acid)")
    return math.log(b) / math.log(f_ext), math.log(a) / math.log(f_scr) - 1.0


@dataclass
class ShortcutDesign:
    """Static design of a two-product cascade (per mol of feed REE)."""

    beta: float
    feed_fraction_a: float
    purity_a: float
    purity_b: float
    a: float
    b: float
    product_fraction: float     # f'_A = organic product per mol feed
    s: float
    w: float
    s_min: float
    w_min: float
    e_m: float
    e_m_prime: float
    limiting_section: str
    n_real: float
    m_real: float
    extraction_stages: int
    scrub_stages: int
    minimum_total_stages: float
    feed_phase: str = "aqueous"

    @property
    def feed_stage(self) -> int:
        """1-based feed stage: last extraction stage (aqueous feed) or first scrub stage (organic)."""
        return self.extraction_stages if self.feed_phase == "aqueous" else self.extraction_stages + 1

    def to_dict(self) -> dict:
        out = asdict(self)
        out["feed_stage"] = self.feed_stage
        return out


def shortcut_design(beta, feed_fraction_a, purity_a, purity_b, feed_phase="aqueous"):
    """Design at the customary optimum: one section at sqrt(beta) per stage.

    Both choices (E_M = 1/sqrt(beta), extraction limiting; E'_M = sqrt(beta), scrub limiting) are
    computed; the feasible one with fewer stages is returned (Xu's rule picks the section that would
    otherwise need more reflux).
    """
    if beta <= 1.0:
        raise InfeasibleDesign(f"key-pair separation factor must exceed 1, got {beta}")
    a, b = purification_factors(purity_a, purity_b, feed_fraction_a)
    f = organic_product_fraction(purity_a, purity_b, feed_fraction_a)
    w_min, s_min = minimum_reflux(beta, f, feed_phase)
    root = math.sqrt(beta)
    candidates = []
    # extraction limiting: E_M = 1/sqrt(beta)
    e = 1.0 / root
    if feed_phase == "aqueous":
        w = (e - f) / (1.0 - e)                  # S = E (W + 1), S = W + f
        s = w + f
    else:
        w = (f - 1.0) / (e - 1.0)                # S = E W, S = W + f - 1
        s = w + f - 1.0
    if w > 0 and s > 0:
        candidates.append(("extraction", s, w))
    # scrub limiting: E'_M = sqrt(beta)
    if feed_phase == "aqueous":
        w = f / (root - 1.0)                     # S = E' W, S = W + f
        s = w + f
    else:
        w = f / (root - 1.0)                     # S + 1 = E' W, S = W + f - 1
        s = w + f - 1.0
    if w > 0 and s > 0:
        candidates.append(("scrub", s, w))
    best = None
    for section, s, w in candidates:
        e_m, e_mp = mixed_extraction_ratios(s, w, feed_phase)
        try:
            n_real, m_real = stage_counts(beta, a, b, e_m, e_mp)
        except InfeasibleDesign:
            continue
        n, m = max(1, math.ceil(n_real)), max(1, math.ceil(m_real))
        if best is None or n + m < best[0]:
            best = (n + m, section, s, w, e_m, e_mp, n_real, m_real, n, m)
    if best is None:
        raise InfeasibleDesign("neither optimum (E_M = 1/sqrt(beta) nor E'_M = sqrt(beta)) gives two "
                               "purifying sections for these targets")
    _, section, s, w, e_m, e_mp, n_real, m_real, n, m = best
    return ShortcutDesign(beta=beta, feed_fraction_a=feed_fraction_a, purity_a=purity_a,
                          purity_b=purity_b, a=a, b=b, product_fraction=f, s=s, w=w, s_min=s_min,
                          w_min=w_min, e_m=e_m, e_m_prime=e_mp, limiting_section=section,
                          n_real=n_real, m_real=m_real, extraction_stages=n, scrub_stages=m,
                          minimum_total_stages=total_reflux_stages(beta, a, b), feed_phase=feed_phase)
