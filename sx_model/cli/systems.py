"""``sx-model systems [NAME]``: the extractant systems shipped with the package, with sources."""
from __future__ import annotations


def main(args) -> int:
    import json

    from ..config import systems

    chosen = systems.all_systems()
    if args.system is not None:
        picked = systems.get(args.system, "system")
        chosen = {picked.key: picked}
    rows = {}
    for key, system in chosen.items():
        cov = system.coverage()
        entry = {"name": system.name, "extractant": system.extractant, "ph_validity": list(system.ph_validity),
                 "log10_k": {el: system.log_k(el)[0] for el in cov["log_k"]},
                 "log10_k_tags": cov["tags"], "reference": cov["reference"],
                 "ph_correlation": cov["ph_correlation"],
                 "ph_slope": _basis(system.data.get("log_d_ph_slope")),
                 "extractant_order": _basis(system.data.get("log_d_extractant_order"))}
        if system.data.get("coverage_note"):
            entry["coverage_note"] = system.data["coverage_note"]
        if args.system is not None:
            entry["log10_k_sources"] = {el: system.log_k(el)[1] for el in cov["log_k"]}
            entry["ph_correlation_entries"] = {el: system.ph_correlation(el)[0] for el in cov["ph_correlation"]}
        rows[key] = entry
    if args.format == "json":
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for key, entry in rows.items():
        ref = entry["reference"]
        ref_text = (f"log10 K_{ref['element']} = {ref['value']} ({ref.get('source')}, {ref.get('tag')})"
                    if ref else "no reference constant (give log10_k or separation_factors + reference)")
        tags = {}
        for el, tag in entry["log10_k_tags"].items():
            tags.setdefault(tag or "-", []).append(el)
        print(f"{key}: {entry['name']}")
        print(f"  pH validity {entry['ph_validity'][0]:g}..{entry['ph_validity'][1]:g}; {ref_text}")
        print(f"  mass_action constants for {len(entry['log10_k'])} elements: "
              + "; ".join(f"{tag}: {' '.join(els)}" for tag, els in tags.items()))
        if entry["ph_correlation"]:
            print(f"  ph_correlation for: {' '.join(entry['ph_correlation'])}")
        defaults = [f"{label} {b['value']:g} ({b['source']}, {b['tag']})"
                    for label, b in (("pH slope", entry["ph_slope"]), ("extractant order", entry["extractant_order"]))
                    if b is not None]
        if defaults:
            print(f"  default {'; '.join(defaults)}")
        if args.system is not None and entry.get("coverage_note"):
            print(f"  coverage: {entry['coverage_note']}")
        if args.system is not None:
            for el, value in entry["log10_k"].items():
                print(f"    {el:<3} log10 K = {value:8.3f}   {entry['log10_k_sources'][el]}")
            for el, corr in entry["ph_correlation_entries"].items():
                print(f"    {el:<3} log10 D = {corr['slope']:g} pH + {corr['intercept']:g}")
    return 0


def _basis(raw):
    """{value, source, tag} of a system's default slope or order entry, or None."""
    if not raw:
        return None
    return {"value": float(raw["value"]), "source": raw.get("source"), "tag": raw.get("tag")}
