"""The import graph of collab_book, read with `ast` (nothing is imported), and its rules: no cycles, no product
module importing a lesson (`collab_book/lessons/`), and the product's layers (`LAYERS`) imported only downwards.
Exits 1 on any failure; modules outside `LAYERS` are listed as warnings.

    python tools/imports.py [--root collab_book] [--dot FILE] [--png FILE]

From a notebook: `sys.path.insert(0, 'tools'); from imports import graph, problems; problems(graph('collab_book'))`.
"""
import argparse, ast, sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent/'collab_book'
LESSONS = 'lessons'  # modules under collab_book/lessons/ teach; the rest is the product
# The product's layers, lowest first: a module may import from its own layer and the ones before it, never later ones.
LAYERS = [['data'], ['models'], ['train'], ['bayes', 'coldstart', 'interpret', 'metrics', 'ranking'], ['recommend', 'spark'],
          ['evaluate'], ['quickstart'], ['cli']]
SAME_LAYER = {'fast': 'train'}  # modules that count as another layer's
INIT = '__init__'  # the package's own __init__.py: above every layer, not checked

def _name(f, root):
    "`lessons.foo` for root/lessons/foo.py, `lessons` for root/lessons/__init__.py, `__init__` for root/__init__.py."
    parts = list(f.relative_to(root).with_suffix('').parts)
    if parts[-1] == '__init__' and len(parts) > 1: parts.pop()
    return '.'.join(parts)

def _files(root):
    return [f for f in sorted(Path(root).rglob('*.py')) if f.name != '_modidx.py'
            and not any(p.startswith('.') or p == '__pycache__' for p in f.relative_to(root).parts)]

def graph(root=ROOT):
    "{module: the package's modules it imports} for each module under `root` but `_modidx.py`, named relative to `root`."
    root = Path(root)
    mods = {_name(f, root): f for f in _files(root)}
    def resolve(parts, names):  # `from <parts> import <names>`: the submodules named, else the module itself
        base = '.'.join(parts) or INIT
        subs = {f'{base}.{n}' if parts else n for n in names}
        found = {m for m in subs if m in mods}
        return found if found and found == subs else found | {base}
    g = {}
    for m, f in mods.items():
        pkg = m.split('.') if f.name == '__init__.py' and m != INIT else m.split('.')[:-1]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names if a.name != '*']
                if node.level:
                    if node.level - 1 > len(pkg): continue  # above the package: not ours
                    base = pkg[:len(pkg) - (node.level - 1)] + (node.module.split('.') if node.module else [])
                elif node.module and node.module.split('.')[0] == root.name: base = node.module.split('.')[1:]
                else: continue
                deps |= resolve(base, names)
            elif isinstance(node, ast.Import):
                deps |= {'.'.join(a.name.split('.')[1:]) or INIT for a in node.names if a.name.split('.')[0] == root.name}
        g[m] = deps - {m}
    return g

def is_lesson(m): return m == LESSONS or m.startswith(LESSONS + '.')

def layer(m):
    "Index of `m`'s layer in `LAYERS` (a subpackage's modules take its layer), or None."
    top = SAME_LAYER.get(m.split('.')[0], m.split('.')[0])
    return next((i for i, l in enumerate(LAYERS) if top in l), None)

def cycles(g):
    "Each set of modules that import each other (in a loop), as a shortest loop through its first module and the set."
    index, low, stack, sccs = {}, {}, [], []
    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index); stack.append(v)
        for w in sorted(g.get(v, ())):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in stack: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set(stack[stack.index(v):]); del stack[stack.index(v):]
            if len(scc) > 1: sccs.append(scc)
    for v in sorted(g):
        if v not in index: visit(v)
    out = []
    for scc in sccs:  # breadth-first from the first module back to itself, inside the set
        start, prev, todo = min(scc), {}, deque([min(scc)])
        while start not in prev:
            v = todo.popleft()
            for w in sorted(g.get(v, set()) & scc): prev.setdefault(w, v); todo.append(w)
        loop = [start]
        while (v := prev[loop[-1]]) != start: loop.append(v)
        out.append(([start] + loop[1:][::-1] + [start], sorted(scc)))
    return sorted(out)

def _wrong(m, d):
    "What is wrong with `m` importing `d`, or None."
    if not is_lesson(m) and is_lesson(d): return f'lessons import: product module {m} imports lesson {d}'
    lm, ld = layer(m), layer(d)
    if m != INIT and not is_lesson(m) and None not in (lm, ld) and ld > lm:
        return f"layer: {m} (layer {lm}: {', '.join(LAYERS[lm])}) imports {d} (layer {ld}: {', '.join(LAYERS[ld])}), a higher layer"

def problems(g):
    "Failures, one line each: cycles, product modules importing lessons, imports from a lower layer to a higher one."
    out = [f"cycle: {' -> '.join(loop)}" + (f" (and more loops among {', '.join(scc)})" if len(scc) > len(loop) - 1 else '')
           for loop, scc in cycles(g)]
    return out + [w for m in sorted(g) for d in sorted(g[m]) if (w := _wrong(m, d))]

def warnings(g):
    "Product modules outside `LAYERS`, and imports of modules that are not in the package."
    out = [f'unlayered: {m} is in no layer of LAYERS' for m in sorted(g)
           if m != INIT and not is_lesson(m) and layer(m) is None]
    return out + [f'missing: {m} imports {d}, not found in the package' for m in sorted(g) for d in sorted(g[m]) if d not in g]

def depth(g):
    "{module: length of the longest import chain below it}: 0 for modules that import nothing of the package."
    memo = {}
    def d(m, seen=()):
        if m not in memo: memo[m] = 1 + max((d(x, seen + (m,)) for x in g.get(m, ()) if x not in seen), default=-1)
        return memo[m]
    return {m: d(m) for m in set(g) | {x for v in g.values() for x in v}}

def _bad_edges(g):
    return {(a, b) for loop, _ in cycles(g) for a, b in zip(loop, loop[1:])} | {(m, d) for m in g for d in g[m] if _wrong(m, d)}

COLOURS = {'product': '#cfe2f3', 'lesson': '#fce5cd', 'missing': '#eeeeee'}
def _kind(g, m): return 'missing' if m not in g else 'lesson' if is_lesson(m) else 'product'

def dot(g):
    "Graphviz source: one box per module, an arrow from each module to what it imports (problems in red)."
    bad, nodes = _bad_edges(g), sorted(_shown(g))
    lines = ['digraph imports {', '  rankdir=RL; node [shape=box, style=filled, fontname=Helvetica];']
    lines += [f'  "{m}" [fillcolor="{COLOURS[_kind(g, m)]}"];' for m in nodes]
    lines += [f'  "{m}" -> "{d}"' + (' [color=red]' if (m, d) in bad else '') + ';'
              for m in sorted(g) for d in sorted(g[m]) if m in nodes]
    return '\n'.join(lines + ['}']) + '\n'

def _shown(g):
    "The modules to draw: all, but the package's `__init__` when it imports nothing and nothing imports it."
    every = set(g) | {x for v in g.values() for x in v}
    return {m for m in every if m != INIT or g.get(m) or any(m in v for v in g.values())}

def png(g, path, title='collab_book'):
    "Draw the graph with matplotlib: layers left to right by `depth`, modules as boxes, arrows from importer to imported."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    shown, bad = _shown(g), _bad_edges(g)
    dep = {m: d for m, d in depth(g).items() if m in shown}
    cols = [sorted(m for m in dep if dep[m] == i) for i in range(max(dep.values(), default=0) + 1)]
    near = {m: {d for d in g.get(m, ()) if d in shown} | {u for u in g if m in g[u] and u in shown} for m in dep}
    y = {m: -i for col in cols for i, m in enumerate(col)}
    for _ in range(4):  # each module near the mean height of the modules it touches, to keep arrows short; loners last
        for col in cols:
            col.sort(key=lambda m: (not near[m], -sum(y[n] for n in near[m]) / max(1, len(near[m])), m))
            y.update({m: (len(col) - 1) / 2 - i for i, m in enumerate(col)})
    x = {m: 3.0 * dep[m] for m in dep}
    fig, ax = plt.subplots(figsize=(2.2 * len(cols) + 1, 0.7 * max(map(len, cols), default=1) + 1.5))
    box = {m: ax.text(x[m], y[m], m, ha='center', va='center', fontsize=9, zorder=4,
                      bbox=dict(boxstyle='round,pad=0.4', fc=COLOURS[_kind(g, m)], ec='#333333')) for m in dep}
    fig.canvas.draw()  # lays out the boxes, so that arrows can start and end at their edges
    for m, d in ((m, d) for m in g for d in g[m] if m in shown):
        ax.annotate('', xy=(x[d], y[d]), xytext=(x[m], y[m]), zorder=2, arrowprops=dict(
            arrowstyle='-|>', color='red' if (m, d) in bad else '#555555', lw=1.4 if (m, d) in bad else 0.8,
            patchA=box[m].get_bbox_patch(), patchB=box[d].get_bbox_patch(), shrinkA=1, shrinkB=1,
            connectionstyle='arc3,rad=0.08'))
    kinds = [Patch(fc=c, ec='#333333', label=k) for k, c in COLOURS.items() if any(_kind(g, m) == k for m in dep)]
    ax.legend(handles=kinds + [Patch(fc='red', label='problem')] * bool(bad), loc='upper left', bbox_to_anchor=(0, -0.02),
              ncol=4, frameon=False)
    ax.set_title(f'{title}: an arrow from each module to the ones it imports')
    ax.set_xlim(-1.5, 3.0 * (len(cols) - 1) + 1.5)
    ax.set_ylim(min(y.values(), default=0) - 0.8, max(y.values(), default=0) + 0.8)
    ax.axis('off'); fig.tight_layout(); fig.savefig(path, dpi=120); plt.close(fig)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--root', default=str(ROOT), help='the package folder (default: collab_book)')
    ap.add_argument('--dot', help='write the graph as Graphviz dot to this file')
    ap.add_argument('--png', help='draw the graph to this image file with matplotlib')
    a = ap.parse_args()
    g = graph(a.root)
    dep = depth(g)
    for m in sorted(_shown(g) & set(g), key=lambda m: (dep[m], m)):
        print(f"{m} -> {', '.join(sorted(g[m])) or '(nothing)'}")
    if a.dot: Path(a.dot).write_text(dot(g)); print(f'wrote {a.dot}')
    if a.png: png(g, a.png, Path(a.root).resolve().name); print(f'wrote {a.png}')
    bad, warn = problems(g), warnings(g)
    print(f'\n{len(g)} modules, {sum(map(len, g.values()))} imports: {len(bad)} problem(s), {len(warn)} warning(s)')
    for w in warn: print('warning:', w)
    for p in bad: print('FAIL:', p)
    sys.exit(1 if bad else 0)
