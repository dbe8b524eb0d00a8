"""Every check of the project, counted: library and notebooks in sync, README current, no local paths
in committed outputs, the docs preview built and every page of it checked in headless Chromium (one
check per page), and every notebook run by `nbdev-test`. Ends with `N passed, M failed`.

    python tools/check.py [--flags slow] [--only NAME ...] [--jobs 2] [--no-docs]
"""
import argparse, hashlib, json, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

_local = re.compile(r'(/home/|/root/|/Users/|/tmp/|/work/|/private/var/|[A-Z]:\\\\Users)')
def no_local_paths():
    t, bad = time.time(), []
    committed_outputs = [f for d in ('bench', 'eval') for f in sorted((root/d).glob('*')) if f.suffix in ('.md', '.json', '.csv', '.txt')]
    for f in sorted((root/'nbs').rglob('*.ipynb')) + [root/'README.md'] + committed_outputs:
        if '.ipynb_checkpoints' in f.parts: continue
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if _local.search(line): bad.append(f"{f.relative_to(root)}:{i}: {line.strip()[:120]}")
    report('no local paths in notebooks, README, bench/ and eval/', not bad, time.time() - t, '\n'.join(bad[:20]))

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
    ap.add_argument('--only', nargs='*', help='run only notebooks whose names contain these')
    ap.add_argument('--jobs', type=int, default=2, help='notebooks run at once')
    ap.add_argument('--no-docs', action='store_true', help='skip the docs preview and its browser check')
    a = ap.parse_args()
    t0 = time.time()
    if not a.only:
        unchanged_by('nbdev-export leaves the library unchanged', [str(bin_/'nbdev-export')], 'collab_book/**/*.py', 'pyproject.toml')
        unchanged_by('nbdev-clean leaves the notebooks unchanged', [str(bin_/'nbdev-clean')], 'nbs/**/*.ipynb')
        rc, out, secs = run([sys.executable, 'tools/readme.py', '--check'])
        report('README.md matches nbs/index.ipynb', rc == 0, secs, out)
        no_local_paths()
        if not a.no_docs: docs_and_browser()
        rc, out, secs = run([sys.executable, 'tools/bench.py', '--quick'], timeout=900)
        report("benchmark, quick: the fast path's MSE matches (tools/bench.py --quick)", rc == 0, secs, out)
    nbs = [n for n in notebooks() if not a.only or any(o in n.name for o in a.only)]
    with ThreadPoolExecutor(a.jobs) as ex:
        for nb, ok, secs, out in ex.map(lambda n: test_nb(n, a.flags), nbs):
            report(f'nbdev-test {nb.relative_to(root)}', ok, secs, out)
    n_pass = sum(ok for _, ok in results)
    print(f"\nall checks took {time.time() - t0:.0f}s")
    print(f"{n_pass} passed, {len(results) - n_pass} failed")
    sys.exit(0 if n_pass == len(results) else 1)
