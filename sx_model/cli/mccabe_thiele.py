"""``sx-model mccabe-thiele CONFIG [--section S] [--component C] [--target END=VALUE]``: McCabe-Thiele
diagram of one section: isotherm, operating line, simulated stages, stages stepped for targets, pinch."""
from __future__ import annotations

from ..errors import ConfigError
from . import output

FILES = {"mccabe_thiele.json": "mccabe_thiele.json", "mccabe_thiele.csv": "mccabe_thiele.csv"}
#: Library error keys -> the option that sets them.
OPTIONS = {"section": "--section", "component": "--component", "target": "--target"}


def parse_targets(texts, component):
    """``END=VALUE`` texts (``raffinate=0.05 g/L``, ``organic=0.2 mmol/L``) -> {end: mol/m^3}."""
    from ..config.layout import concentration

    out = {}
    for text in texts or []:
        name, sep, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ConfigError("--target", f"{text!r}; expected OUTLET=CONCENTRATION such as "
                                          "raffinate=0.05g/L or organic=0.2mmol/L")
        try:
            number = concentration(value, f"--target.{component}")
        except ConfigError as exc:
            raise ConfigError("--target", f"{text!r}: {exc.message}") from None
        if name in out:
            raise ConfigError("--target", f"{name!r} is given twice; expected one target per outlet")
        out[name] = number
    return out


def main(args) -> int:
    from ..studies.mccabe_thiele import mccabe_thiele

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade = output.load(args.config)
    try:
        component = args.component
        if component is not None and component not in cascade.components:
            raise ConfigError("component", f"{component!r} is not a component of this cascade; expected one "
                                           f"of {', '.join(cascade.components)}")
        section = cascade.circuit.section(args.section)
        if section is None:
            raise ConfigError("section", f"{args.section!r}: this cascade has no {args.section} section; it "
                                         f"has {', '.join(s.name for s in cascade.circuit.sections)}")
        if args.target and component is None:
            from ..studies.mccabe_thiele import _component

            component = cascade.components[_component(cascade, section, None)]
        targets = parse_targets(args.target, component) if args.target else None
        result = mccabe_thiele(cascade, args.section, component, targets)
    except ConfigError as exc:
        if exc.key in OPTIONS:
            raise ConfigError(OPTIONS[exc.key], exc.message) from None
        raise
    files = {"mccabe_thiele.json": output.dumps(result.to_dict()), "mccabe_thiele.csv": result.to_csv()}
    extra = {"plot": output.figure_writer(result.plot(units=args.units))} if args.plot else {}
    output.finish(args, outputs, paths, files, "mccabe_thiele.json", "mccabe_thiele.csv",
                  lambda: result.table(units=args.units), extra)
    return 0
