"""Every check of the project, counted: library and notebooks in sync, README current, no local paths
in committed outputs, the library's line lengths and imports (none starred or unused, and its import graph: see
tools/imports.py), the docs preview built and every page of it checked in headless Chromium (one check per page),
the package built and its wheel used from a fresh venv (tools/wheel_check.py), and every notebook run by
`nbdev-test`. Ends with `N passed, M failed`.

    python tools/check.py [--flags slow] [--only NAME ...] [--jobs 2] [--no-docs]
    python tools/check.py --only lint imports   # just these checks (their keys: see --help)
"""
import argparse, ast, hashlib, json, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from nbtools import LOCAL_PATH

root = Path(__file__).resolve().parent.parent
bin_ = Path(sys.executable).parent
results = []

def report(name, ok, secs, detail=''):
    results.append((name, ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}  ({secs:.1f}s)", flush=True)
    if not ok and detail: print('      ' + '\n      '.join(detail.strip().splitlines()[-40:]), flush=True)

def run(cmd, env=None, timeout=None):
    t = time.time()
    p = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout + p.stderr, time.time() - t

def snapshot(*globs):
    return {f: hashlib.sha256(f.read_bytes()).hexdigest() for g in globs for f in sorted(root.glob(g))}

def unchanged_by(name, cmd, *globs):
    "Check that `cmd` leaves the files matching `globs` as they are; restore them if it does not."
    before = {f: f.read_bytes() for g in globs for f in root.glob(g)}
    h0 = snapshot(*globs)
    rc, out, secs = run(cmd)
    h1 = snapshot(*globs)
    changed = sorted(str(f.relative_to(root)) for f in set(h0) | set(h1) if h0.get(f) != h1.get(f))
    for f in set(h1) - set(h0): f.unlink()
    for f, b in before.items():
        if h1.get(f) != h0[f]: f.write_bytes(b)
    ok = rc == 0 and not changed
    detail = out if rc else f"`{' '.join(map(str, cmd[-1:]))}` would change: {', '.join(changed)}\nRun `make sync`, review and commit."
    report(name, ok, secs, detail)

def no_local_paths():
    t, bad = time.time(), []
    committed_outputs = [f for d in ('bench', 'eval') for f in sorted((root/d).glob('*')) if f.suffix in ('.md', '.json', '.csv', '.txt')]
    for f in sorted((root/'nbs').rglob('*.ipynb')) + [root/'README.md'] + committed_outputs:
        if '.ipynb_checkpoints' in f.parts: continue
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if LOCAL_PATH.search(line): bad.append(f"{f.relative_to(root)}:{i}: {line.strip()[:120]}")
    report('no local paths in notebooks, README, bench/ and eval/', not bad, time.time() - t, '\n'.join(bad[:20]))

MAX_LINE = 120
_noqa = re.compile(r'#\s*noqa\b(?!:)|#\s*noqa:.*\bF401\b')  # `# noqa: F401`: imported for its side effect
def _top_imports(body):
    "The import statements run when the module loads: its own, and those inside its top-level if, try and with blocks."
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)): yield node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for b in ('body', 'orelse', 'finalbody'): yield from _top_imports(getattr(node, b, []))
            for h in getattr(node, 'handlers', []): yield from _top_imports(h.body)

def library_lint():
    """collab_book/**/*.py but _modidx.py: lines over MAX_LINE characters (but the two kinds nbdev writes: the module
    docstring on line 1, taken from the notebook's description, and the `__all__` list), `import *`, and names imported at top level and
    never used (a name in `__all__` counts as used; an import marked `# noqa` or `# noqa: F401` is left alone)."""
    t, bad = time.time(), []  # (kind, file, line, message)
    for f in sorted((root/'collab_book').rglob('*.py')):
        if f.name == '_modidx.py' or any(p.startswith('.') or p == '__pycache__' for p in f.parts): continue
        rel, src = f.relative_to(root), f.read_text()
        lines = src.splitlines()
        # nbdev writes line 1 (the notebook's description as the module docstring) and `__all__`: not ours to wrap
        gen = {1} | {i for i, l in enumerate(lines, 1) if l.startswith('__all__ = ') or l.startswith('           ') and i > 1
                     and lines[i - 2].rstrip().endswith(',') and lines[i - 2].lstrip().startswith(("__all__", "'"))}
        bad += [('long', rel, i, f'{len(l)} characters, over {MAX_LINE}') for i, l in enumerate(lines, 1)
                if len(l) > MAX_LINE and i not in gen]
        try: tree = ast.parse(src, str(rel))
        except SyntaxError as e: bad.append(('syntax', rel, e.lineno or 0, f'syntax error: {e.msg}')); continue
        bad += [('star', rel, x.lineno, f"from {'.' * x.level}{x.module or ''} import *") for x in ast.walk(tree)
                if isinstance(x, ast.ImportFrom) and any(a.name == '*' for a in x.names)]
        used = {x.id for x in ast.walk(tree) if isinstance(x, ast.Name) and not isinstance(x.ctx, ast.Store)}
        for x in ast.walk(tree):  # the names listed in `__all__`
            if isinstance(x, (ast.Assign, ast.AugAssign)) and any(getattr(v, 'id', '') == '__all__' for v in
                                                                   (x.targets if isinstance(x, ast.Assign) else [x.target])):
                used |= {c.value for c in ast.walk(x.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        for x in _top_imports(tree.body):
            if isinstance(x, ast.ImportFrom) and x.module == '__future__': continue
            if _noqa.search('\n'.join(lines[x.lineno - 1:x.end_lineno])): continue
            bad += [('unused', rel, x.lineno, f'`{n}` imported, never used') for a in x.names
                    if a.name != '*' and (n := a.asname or a.name.split('.')[0]) not in used]
    order = ['syntax', 'star', 'unused', 'long']  # the imports first: long lines are many
    bad.sort(key=lambda b: (order.index(b[0]), str(b[1]), b[2]))
    count = lambda k: sum(b[0] == k for b in bad)
    detail = [f'{f}:{i}: {m}' for _, f, i, m in bad[:37]] + [f'... and {len(bad) - 37} more'] * (len(bad) > 37)
    detail.append(f"{count('long')} line(s) over {MAX_LINE} characters, {count('star')} star import(s), {count('unused')} unused import(s)")
    report(f'library: no line over {MAX_LINE} characters, no star imports, no unused imports', not bad, time.time() - t, '\n'.join(detail))

def import_graph():
    "tools/imports.py's rules on collab_book: no cycles, no product module importing a lesson, layers imported downwards."
    t = time.time()
    try:
        import imports
        g = imports.graph(root/'collab_book')
        bad, warn = imports.problems(g), imports.warnings(g)
    except Exception as e: bad, warn = [f'tools/imports.py failed: {type(e).__name__}: {e}'], []
    detail = bad[:38] + [f'... and {len(bad) - 38} more'] * (len(bad) > 38)
    detail += [f'{len(warn)} warning(s): `python tools/imports.py` lists them'] * bool(warn)
    report('library: imports without cycles, lessons imported by no product module, layers imported downwards (tools/imports.py)',
           not bad, time.time() - t, '\n'.join(detail))

def docs_and_browser():
    "Build the offline docs preview, then check each of its pages in headless Chromium: one counted check per page."
    try: rc, out, secs = run([sys.executable, 'tools/docs.py', '--preview'], timeout=1200)
    except subprocess.TimeoutExpired: rc, out, secs = 1, 'timed out after 1200 s', 1200
    report('docs: offline preview builds (tools/docs.py)', rc == 0, secs, out)
    if rc: return
    res = root/'_preview'/'browser_check.json'
    res.unlink(missing_ok=True)
    try: rc, out, secs = run([sys.executable, 'tools/browser_check.py', '--json', str(res)], timeout=900)
    except subprocess.TimeoutExpired: rc, out, secs = 1, 'timed out after 900 s', 900
    print('      ' + (out.strip().splitlines() or [''])[-1], flush=True)
    if not res.exists(): return report('browser check: ran', False, secs, out)
    for r in json.loads(res.read_text()):
        report(f"browser: {r['page']} ({r['notebook']})", r['ok'], r['secs'], '\n'.join(r['problems']))

MIN_BAD_INPUT = 100
def bad_input_cases():
    """The bad-input tests: every `test_fail` call in the notebooks must name the exception type (`exc=`) and part of the
    message (`contains=`), and there must be at least MIN_BAD_INPUT of them; every hypothesis test (`@given`) must have
    `@settings` with `derandomize=True` and a `max_examples`, so that CI runs a fixed, bounded set of examples."""
    t, bad, per, props = time.time(), [], {}, 0
    for nb in notebooks():
        for c in json.loads(nb.read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] != 'code' or ('test_fail' not in src and 'given' not in src): continue
            try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('!', '%'))))
            except SyntaxError as e: bad.append(f'{nb.name}: cell does not parse ({e.msg})'); continue
            for x in ast.walk(tree):
                if isinstance(x, ast.Call) and getattr(x.func, 'id', '') == 'test_fail':
                    kw = {k.arg for k in x.keywords}
                    if {'exc', 'contains'} <= kw: per[nb.name] = per.get(nb.name, 0) + 1
                    else: bad.append(f"{nb.name}: test_fail without {' and '.join(sorted({'exc', 'contains'} - kw))}: "
                                     f"{ast.get_source_segment(src, x) or ast.unparse(x)}"[:160])
                if isinstance(x, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    decs = [d for d in x.decorator_list if isinstance(d, ast.Call)]
                    if not any(getattr(d.func, 'id', '') == 'given' for d in decs): continue
                    props += 1
                    st = [d for d in decs if getattr(d.func, 'id', '') == 'settings']
                    kws = {k.arg: k.value for d in st for k in d.keywords}
                    if 'max_examples' not in kws or getattr(kws.get('derandomize'), 'value', None) is not True:
                        bad.append(f'{nb.name}: hypothesis test {x.name} needs @settings(max_examples=..., derandomize=True)')
    n = sum(per.values())
    if n < MIN_BAD_INPUT: bad.append(f'{n} bad-input cases, fewer than {MIN_BAD_INPUT}')
    detail = bad[:30] + [f'... and {len(bad) - 30} more'] * (len(bad) > 30)
    print(f"      {n} bad-input cases (" + ', '.join(f'{k.split(".")[0]} {v}' for k, v in sorted(per.items())) +
          f"); {props} property-based tests", flush=True)
    report(f'tests: at least {MIN_BAD_INPUT} bad-input cases, each naming exception and message; property tests seeded',
           not bad, time.time() - t, '\n'.join(detail))

def notebooks():
    return [p for p in sorted((root/'nbs').rglob('*.ipynb'))
            if not any(part.startswith(('_', '.')) for part in p.relative_to(root/'nbs').parts)]

def test_nb(nb, flags):
    cmd = [str(bin_/'nbdev-test'), str(nb), '--do-print', '--n-workers', '0']
    if flags: cmd += ['--flags', flags]
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1'), 'MPLBACKEND': 'Agg'}
    try: rc, out, secs = run(cmd, env=env, timeout=3600)
    except subprocess.TimeoutExpired: return nb, False, 3600, 'timed out after 3600 s'
    return nb, rc == 0, secs, out

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--flags', default='', help='nbdev-test flags to run, e.g. slow')
    ap.add_argument('--only', nargs='*', help='run only the checks with these keys (export, clean, readme, paths, lint, '
                    'imports, badinput, colab, docs, wheel, bench) and the notebooks whose names contain these')
    ap.add_argument('--jobs', type=int, default=2, help='notebooks run at once')
    ap.add_argument('--no-docs', action='store_true', help='skip the docs preview and its browser check')
    a = ap.parse_args()
    t0 = time.time()
    want = lambda key: not a.only or key in a.only
    for prior in filter(None, os.environ.get('CHECK_PRIOR', '').split(';')):  # commands .ci/run ran before this one
        name, rc, secs = prior.rsplit(':', 2)
        report(name, rc == '0', float(secs), f'{name} exited with status {rc}: see its output above')
    if want('export'): unchanged_by('nbdev-export leaves the library unchanged', [str(bin_/'nbdev-export')], 'collab_book/**/*.py', 'pyproject.toml')
    if want('clean'): unchanged_by('nbdev-clean leaves the notebooks unchanged', [str(bin_/'nbdev-clean')], 'nbs/**/*.ipynb')
    if want('readme'):
        rc, out, secs = run([sys.executable, 'tools/readme.py', '--check'])
        report('README.md matches nbs/index.ipynb', rc == 0, secs, out)
        rc, out, secs = run([sys.executable, 'tools/readme.py', '--run'], timeout=600)
        report("README's Python runs as pasted: one fresh interpreter, an empty folder (tools/readme.py --run)",
               rc == 0, secs, out)
    if want('paths'): no_local_paths()
    if want('colab'):
        rc, out, secs = run([sys.executable, 'tools/colab.py', '--check'])
        report('every notebook has the Colab link and install cell for the repository in pyproject.toml (tools/colab.py)',
               rc == 0, secs, out + '\nRun `make sync`.')
        rc, out, secs = run([sys.executable, 'tools/docs.py', '--check'])
        report("nbs/nbdev.yml's repo-url and site-url are pyproject.toml's (tools/docs.py --check)", rc == 0, secs,
               out + '\nRun `make sync`.')
    if want('lint'): library_lint()
    if want('imports'): import_graph()
    if want('badinput'): bad_input_cases()
    if want('docs') and not a.no_docs: docs_and_browser()
    if want('wheel'):  # the wheel installed (not editable) in a fresh venv, used from outside the repository
        try: rc, out, secs = run([sys.executable, 'tools/wheel_check.py'], timeout=600)
        except subprocess.TimeoutExpired: rc, out, secs = 1, 'timed out after 600 s', 600
        report('package: sdist and wheel build and pass twine check; the wheel, installed in a fresh venv, trains, '
               'recommends, saves and loads (tools/wheel_check.py)', rc == 0, secs, out)
    if want('bench'):
        rc, out, secs = run([sys.executable, 'tools/bench.py', '--quick'], timeout=900)
        report("benchmark, quick: the fast path's MSE matches (tools/bench.py --quick)", rc == 0, secs, out)
        rc, out, secs = run([sys.executable, 'tools/bench_peers.py', '--quick'], timeout=600)
        report("benchmark against peers, quick: 1 and 2 threads agree, and with the Learner loop (tools/bench_peers.py --quick)",
               rc == 0, secs, out)
    nbs = [n for n in notebooks() if not a.only or any(o in n.name for o in a.only)]
    with ThreadPoolExecutor(a.jobs) as ex:
        for nb, ok, secs, out in ex.map(lambda n: test_nb(n, a.flags), nbs):
            report(f'nbdev-test {nb.relative_to(root)}', ok, secs, out)
    n_pass = sum(ok for _, ok in results)
    print(f"\nall checks took {time.time() - t0:.0f}s")
    print(f"{n_pass} passed, {len(results) - n_pass} failed")
    sys.exit(0 if n_pass == len(results) else 1)
