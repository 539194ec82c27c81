"""Diagram of a flowsheet (a train of cascades): cascades as boxes with their name and stages, links
as arrows labelled with flow, final products as arrows out with flow and purity."""
from __future__ import annotations

#: m^3/s -> L/min
L_PER_MIN = 6e4


def _layers(names, links):
    """Depth of each cascade from the feed (longest chain of links above it)."""
    depth = {n: 0 for n in names}
    for _ in range(len(names)):
        changed = False
        for src, dst in links:
            if depth[dst] < depth[src] + 1:
                depth[dst], changed = depth[src] + 1, True
        if not changed:
            break
    return depth


def link_flows(flowsheet: dict, base_dir=None) -> dict:
    """(source cascade, product) of every link -> (0-based stage in the joined cascade, phase) of the
    outflow the link carries (``base_dir``: where the flowsheet's cascade files are)."""
    from .config.flowsheet import read_flowsheet

    sheet = read_flowsheet(flowsheet, base_dir)
    offsets, first = {}, 0
    for node in sheet.nodes:
        offsets[node.name] = first
        first += node.cascade.stage_count
    cascades = {node.name: node.cascade for node in sheet.nodes}
    out = {}
    for link in sheet.links:
        outlet = next(o for o in cascades[link.source_cascade].circuit.outlets if o.name == link.source)
        out[(link.source_cascade, link.source)] = (outlet.stage + offsets[link.source_cascade], outlet.phase)
    return out


def plot_train(result, flowsheet: dict, path=None, base_dir=None):
    """The train of ``flowsheet`` (a flowsheet config mapping; ``base_dir`` where its cascade files are)
    with the figures of its solved ``result``: each link labelled with the flow of the outflow it
    carries, each keyed product with its purity and flow."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(flowsheet["cascades"])
    links = [(l["from"].split(".")[0], l["to"].split(".")[0], l["from"].split(".")[1]) for l in flowsheet["links"]]
    depth = _layers(names, [(a, b) for a, b, _ in links])
    children = {n: [b for a, b, _ in links if a == n] for n in names}
    targets = {b for _, b, _ in links}
    slot, pos = [0], {}

    visiting = set()

    def place(n):
        # a tree layout: a cascade sits level with the middle of the cascades it feeds (a recycle's
        # return link is not followed)
        if n in pos:
            return pos[n][1]
        visiting.add(n)
        kids = [place(k) for k in children[n] if k not in visiting]
        if kids:
            y = sum(kids) / len(kids)
        else:
            y = -1.6 * slot[0]
            slot[0] += 1
        pos[n] = (3.0 * depth[n], y)
        return y

    for n in names:
        if n not in targets:
            place(n)
    for n in names:             # cascades on a loop of links with no root above them
        place(n)
    columns = {}
    for n in names:
        columns.setdefault(depth[n], []).append(n)
    height = max(slot[0], 1)
    fig, ax = plt.subplots(figsize=(3.2 * len(columns) + 3.0, 1.3 * height + 1.5))
    stages, first = {}, {}
    for s in result.sections:
        node = s["name"].split(".")[0]
        stages[node] = stages.get(node, 0) + s["stages"]
        first[node] = min(first.get(node, s["first_stage"] - 1), s["first_stage"] - 1)
    flows = {name: p.flow_m3_per_s * L_PER_MIN for name, p in result.products.items()}
    for n in names:
        x, y = pos[n]
        ax.add_patch(plt.Rectangle((x - 1.0, y - 0.45), 2.0, 0.9, fill=True, facecolor="#e8eef7",
                                   edgecolor="#2b4c7e"))
        ax.text(x, y + 0.12, n, ha="center", va="center", fontsize=7, weight="bold")
        ax.text(x, y - 0.2, f"{stages.get(n, 0)} stages", ha="center", va="center", fontsize=6.5)
    # links between cascades: flow from the source cascade's stage outflow
    carried = link_flows(flowsheet, base_dir)
    for a, b, outlet in links:
        stage, phase = carried[(a, outlet)]
        flow = (result.organic_flow if phase == "organic" else result.aqueous_flow)[stage]
        xa, ya = pos[a]
        xb, yb = pos[b]
        ax.annotate("", xy=(xb - 1.0, yb), xytext=(xa + 1.0, ya),
                    arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 1.0})
        ax.text((xa + xb) / 2 + 0.2, (ya + yb) / 2 - 0.15,
                f"{outlet.replace('_', ' ')}, {flow * L_PER_MIN:.3g} L/min", fontsize=5.5, ha="center",
                color="#555555")
    # feed and products
    first = names[0]
    xf, yf = pos[first]
    ax.annotate("feed", xy=(xf - 1.0, yf), xytext=(xf - 2.2, yf), fontsize=7, va="center",
                arrowprops={"arrowstyle": "->", "color": "#2b7e3a", "lw": 1.2})
    below = {}
    for name, p in result.products.items():
        if not p.key:
            continue
        node = name.split(".")[0]
        x, y = pos[node]
        k = below.get(node, 0)
        below[node] = k + 1
        dy = 0.3 - 0.6 * k
        ax.annotate(f"{name.split('.', 1)[1]}: {100 * p.purity:.3f} %, {flows[name]:.3g} L/min ({p.phase})",
                    xy=(x + 1.05, y + dy), xytext=(x + 1.15, y + dy), fontsize=6, va="center", color="#8a1c1c")
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 2.5, max(xs) + 3.2)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.axis("off")
    ax.set_title(f"{result.name}: converged {result.converged}, closure {result.mass_balance_error:.1e}",
                 fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
