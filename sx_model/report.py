"""Text output of results: the table the command line prints (pure formatting, no I/O)."""
from __future__ import annotations

import numpy as np

L_PER_M3 = 1000.0
SECONDS_PER_MINUTE = 60.0


def _products(result, units):
    if units == "plant":
        header = f"{'product':<20} {'phase':<8} {'stage':>5} {'key':<10} {'purity REO':>11} {'recovery':>11} " \
                 f"{'flow m3/h':>10} {'g/L REO':>9} {'REO kg/h':>10}"
        rows = [f"{r['product']:<20} {r['phase']:<8} {r['stage']:>5} {r['key'] or '-':<10} "
                f"{_pct(r['purity_reo_mass']):>11} {_pct(r['recovery']):>11} {r['flow_m3_per_h']:>10.4g} "
                f"{r['reo_g_per_L']:>9.4g} {r['oxide_kg_per_h']:>10.4g}" for r in result.product_rows("plant")]
    else:
        header = f"{'product':<20} {'phase':<8} {'stage':>5} {'key':<10} {'purity':>11} {'recovery':>11} " \
                 f"{'flow L/min':>10} {'oxide kg/h':>10}"
        rows = [f"{name:<20} {p.phase:<8} {p.stage:>5} {'+'.join(p.key) or '-':<10} "
                f"{_pct(p.purity):>11} {_pct(p.recovery):>11} "
                f"{p.flow_m3_per_s * L_PER_M3 * SECONDS_PER_MINUTE:>10.4g} {p.oxide_kg_per_h:>10.4g}"
                for name, p in result.products.items()]
    return [header, "-" * len(header)] + rows


def _pct(value):
    return "-" if value is None else f"{100 * value:.4f} %"


def steady_table(result, profile_rows: int = 12, units: str = "si") -> str:
    """Products first (purity, recovery, flow, REO output), then a compact stage profile;
    ``units="plant"`` gives flows in m^3/h, product strength in g/L REO, purity on an oxide mass basis
    and the stage profile in g/L of element."""
    lines = [f"{result.name}",
             f"converged: {result.converged} ({result.method}, {result.iterations} iterations, "
             f"{1e3 * result.solve_time_s:.1f} ms); mass-balance closure {result.mass_balance_error:.2e}; "
             f"{result.stages} stages (" + ", ".join(f"{s['name']} {s['stages']}" for s in result.sections)
             + ")"]
    for s in result.sections:
        if "mixer_o_a" in s:
            lines.append(f"mixers of {s['name']}: O/A {s['mixer_o_a']:.3g} (advance {s['advance_o_a']:.3g}), "
                         f"{s['recycled_phase']} recycled at {s['recycle_m3_per_s'] * 3600:.4g} m3/h per stage")
    lines.append("")
    lines += _products(result, units)
    lines.append("")
    comps = list(result.components)
    lines.append("composition (mole fraction of metals):")
    lines.append(f"{'product':<20} " + " ".join(f"{c:>10}" for c in comps))
    for name, p in result.products.items():
        lines.append(f"{name:<20} " + " ".join(f"{p.composition[c]:>10.4g}" for c in comps))
    lines.append("")
    plant = units == "plant"
    lines.append("stage profile (g/L of element):" if plant else "stage profile (mol/L):")
    scale = np.array([result.molar_masses.get(c, np.nan) for c in comps]) if plant else 1.0 / L_PER_M3
    stage_data = getattr(result, "stage_data", {}) or {}
    has_ph = "ph" in stage_data
    head = f"{'stage':>5} {'section':<10} " + " ".join(f"{'aq ' + c:>9}" for c in comps) + " " + \
           " ".join(f"{'org ' + c:>9}" for c in comps) + (f" {'pH':>6} {'load %':>7}" if has_ph else "")
    lines.append(head)
    n = result.stages
    if n <= profile_rows:
        rows = list(range(n))
    else:
        rows = sorted(set(np.linspace(0, n - 1, profile_rows).round().astype(int).tolist())
                      | {s["first_stage"] - 1 for s in result.sections})
    for j in rows:
        lines.append(f"{j + 1:>5} {result.section_of(j + 1):<10} "
                     + " ".join(f"{v:>9.3g}" for v in result.aqueous[j] * scale) + " "
                     + " ".join(f"{v:>9.3g}" for v in result.organic[j] * scale)
                     + (f" {stage_data['ph'][j]:>6.2f} {100 * stage_data['loading_fraction'][j]:>7.1f}"
                        if has_ph else ""))
    r = result.reagents or {}
    if "base_mol_per_h" in r:
        lines.append("")
        per = ""
        acid = r.get("acid", "HCl")
        if f"acid_consumed_kg_{acid}_per_kg_REO" in r:
            per = (f"; per kg REO in keyed products: {r[f'acid_consumed_kg_{acid}_per_kg_REO']:.3g} kg {acid} "
                   f"consumed, {r['base_kg_' + r['base'] + '_per_kg_REO']:.3g} kg {r['base']}")
        lines.append(f"reagents: acid fed {r[f'acid_fed_kg_per_h_as_{acid}']:.4g} kg/h {acid} "
                     f"({r['acid_fed_mol_per_h']:.4g} mol/h H+), consumed "
                     f"{r[f'acid_consumed_kg_per_h_as_{acid}']:.4g} "
                     f"kg/h; base {r['base_kg_per_h_as_' + r['base']]:.4g} kg/h {r['base']}; neutral salt "
                     f"{r['neutral_salt_in_raffinate_kg_per_h_as_' + r['neutral_salt']]:.4g} kg/h "
                     f"{r['neutral_salt']} in the raffinate{per}")
    m = getattr(result, "metal_summary", None)
    if m:
        lines.append("")
        lines.append(_metal_line(m))
    if result.cost is not None:
        c = result.cost
        lines.append("")
        lines.append(f"cost: {c.total_per_year:,.0f} USD/yr, {c.per_kg_product:.3f} USD/kg oxide product "
                     f"({c.product_oxide_kg_per_year:,.0f} kg/yr); installed capital "
                     f"{c.capital_installed:,.0f} USD; solvent inventory {c.solvent_inventory_m3:.3g} m^3")
        for item, value in c.items.items():
            lines.append(f"  {item:<20} {value:>14,.0f} USD/yr")
    if result.cascades:
        lines.append("")
        lines.append("by cascade:")
        for name, part in result.cascades.items():
            shown = ", ".join(f"{k} {_pct(p['purity'])}" for k, p in part["products"].items()
                              if p["purity"] is not None)
            lines.append(f"  {name:<14} stages {part['first_stage']}-{part['first_stage'] + part['stages'] - 1}, "
                         f"acid fed {part['acid_fed_mol_per_h']:.4g} mol/h, saponification base "
                         f"{part['saponification_base_mol_per_h']:.4g} mol/h"
                         + (f", cost {part['cost']['total_usd_per_year']:,.0f} USD/yr" if "cost" in part else "")
                         + (f"; {shown}" if shown else ""))
    if result.warnings:
        lines.append("")
        lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _metal_line(m) -> str:
    """Plant figures of a single-key (copper) cascade, in g/L of the key metal: one line, and a line per
    raffinate and per wash section where there are several raffinates or a wash."""
    key = m["key"]
    parts = [f"raffinate {m['raffinate_g_per_L']:.4g}"]
    if "loaded_organic_g_per_L" in m:
        parts.append(f"loaded organic {m['loaded_organic_g_per_L']:.4g}")
    if "stripped_organic_g_per_L" in m:
        parts.append(f"stripped organic {m['stripped_organic_g_per_L']:.4g}")
    if "net_transfer_g_per_L" in m:
        parts.append(f"net transfer {m['net_transfer_g_per_L']:.4g}")
    text = f"{key} (g/L): " + ", ".join(parts)
    if "net_transfer_g_per_L_per_volume_percent" in m:
        text += f" ({m['net_transfer_g_per_L_per_volume_percent']:.4g} per vol% of reagent)"
    if "percent_of_max_load" in m:
        text += f"; loaded organic at {m['percent_of_max_load']:.1f} % of max load {m['max_load_g_per_L']:.4g}"
    if m.get("recovery") is not None:
        text += f"; recovery {100 * m['recovery']:.2f} %"
    text += f"; acid generated {m['acid_generated_kg_per_h_as_H2SO4']:.4g} kg/h H2SO4"
    lines = [text]
    if "raffinates_g_per_L" in m:
        lines.append("  raffinates (g/L " + key + "): " + ", ".join(
            f"{name} {value:.4g}" for name, value in m["raffinates_g_per_L"].items()) + " (mixed above)")
    for name, w in m.get("wash", {}).items():
        removed = ", ".join(f"{c} {kg:.4g} kg/h" + (f" ({100 * w['removed_fraction'][c]:.3g} %)"
                                                    if w["removed_fraction"][c] is not None else "")
                            for c, kg in w["removed_kg_per_h"].items() if c != key)
        lost = f"{key} lost {w['key_lost_kg_per_h']:.4g} kg/h"
        if w["key_lost_fraction"] is not None:
            lost += f" ({100 * w['key_lost_fraction']:.3g} % of the {key} on the organic)"
        lines.append(f"  {name}: removed from the organic {removed}; {lost}")
    return "\n".join(lines)
