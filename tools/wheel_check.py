"""The package as a user gets it: build the sdist and wheel (`python -m build`), check them with `twine check`, make sure
neither carries data or notebooks, install the wheel (not editable) into a fresh virtual environment, and from a
temporary folder outside the repository run `collab-book --help`, `collab-book train` on a small CSV with string ids,
`collab-book recommend`, and the Python API on ML-100K (`$COLLAB_BOOK_DATA`): split, train, recommend, save, load.

The fresh environment gets collab_book from the wheel and nothing else from the repository. Its third-party
dependencies (torch, fastai, ...) are borrowed from .venv instead of reinstalled, which would take minutes and a
registry: a `.pth` file in the fresh site-packages names .venv's site-packages. A path added by a `.pth` line is
appended to `sys.path` after the fresh site-packages and is not itself processed as a site folder, so .venv's own
`.pth` files, among them the `__editable__` finder of its editable collab_book, never run. The check asserts it:
collab_book cannot be imported in the fresh environment before the wheel is installed, and afterwards
`collab_book.__file__` lies in the fresh environment, no editable finder is on `sys.meta_path`, and no `sys.path`
entry is inside the repository but .venv's site-packages, which comes after the fresh one.

    python tools/wheel_check.py          # about 30 s on 2 cores; exit status 0 when everything passed
    python tools/wheel_check.py --keep   # keep the temporary folder and print its path
"""
import os, subprocess, sys, sysconfig, tarfile, tempfile, shutil, time, textwrap, zipfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent
DATA_SUFFIXES = ('.ipynb', '.csv', '.data', '.item', '.user', '.base', '.test', '.zip', '.pkl', '.pt', '.pth')

def sh(cmd, cwd, env=None, timeout=300):
    "Run `cmd`; its output, or SystemExit with the output when it fails."
    t = time.time()
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"  {time.time() - t:5.1f}s  {' '.join(Path(str(c)).name if i == 0 else str(c) for i, c in enumerate(cmd))}",
          flush=True)
    if p.returncode: raise SystemExit(f"FAIL (exit {p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}{p.stderr}")
    return p.stdout + p.stderr

def check_dists(dist:Path):
    "One sdist and one wheel, twine-clean, holding the package, README and LICENSE and no data or notebooks."
    sdist, = dist.glob('*.tar.gz'); whl, = dist.glob('*.whl')
    out = sh([sys.executable, '-m', 'twine', 'check', '--strict', sdist, whl], dist)
    print(textwrap.indent(out.strip(), '        '))
    sn, wn = tarfile.open(sdist).getnames(), zipfile.ZipFile(whl).namelist()
    bad = [n for n in sn + wn if n.lower().endswith(DATA_SUFFIXES) or 'nbs/' in n or 'ml-100k' in n.lower()]
    if bad: raise SystemExit(f"FAIL: data or notebooks in the distributions: {bad[:10]}")
    for need in ('/LICENSE', '/README.md', '/pyproject.toml', '/collab_book/__init__.py', '/collab_book/lessons/__init__.py'):
        if not any(n.endswith(need) for n in sn): raise SystemExit(f"FAIL: no {need[1:]} in the sdist")
    for need in ('collab_book/cli.py', 'collab_book/lessons/__init__.py'):
        if need not in wn: raise SystemExit(f"FAIL: no {need} in the wheel")
    if not any(n.endswith('licenses/LICENSE') for n in wn): raise SystemExit("FAIL: no LICENSE in the wheel")
    print(f"        {sdist.name} ({sdist.stat().st_size // 1024} KB), {whl.name} ({whl.stat().st_size // 1024} KB): "
          f"no data, no notebooks")
    return whl

def fresh_venv(tmp:Path, whl:Path) -> Path:
    "A new virtual environment with the wheel installed (no deps) and .venv's site-packages borrowed through a .pth."
    venv = tmp/'venv'
    sh([sys.executable, '-m', 'venv', '--without-pip', venv], tmp)
    py = venv/'bin'/'python'
    site = Path(subprocess.check_output([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                                        text=True).strip())
    (site/'_borrowed_deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')  # a path, not a site folder
    sh([py, '-c', "import importlib.util as u; assert u.find_spec('collab_book') is None, 'collab_book leaks in from .venv'"],
       tmp)  # before the wheel: .venv's editable collab_book must not be importable
    sh([sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '--no-compile', '-q', whl], tmp)
    return venv

SCRIPT = '''
import sys, numpy as np, collab_book as cb
venv, root, deps = sys.argv[1:4]
assert cb.__file__.startswith(venv + '/'), f"collab_book imported from {cb.__file__}, not from {venv}"
inside = [p for p in sys.path if (p + '/').startswith(root + '/') and p != deps]
assert not inside, f"repository folders on sys.path: {inside}"
assert sys.path.index(deps) > sys.path.index(next(p for p in sys.path if p.startswith(venv + '/'))), sys.path
ed = [f for f in sys.meta_path if 'editable' in type(f).__module__.lower()]
assert not ed, f"an editable finder is active: {ed}"
r = cb.load_ratings('ml-100k')
v = cb.Vocab.from_ratings(r)
trn, val = cb.random_split(r, 0.2, seed=42)
m = cb.fit_recipe(trn, v, 'chapter', valid=val, seed=42)
mse = m.history[-1]['valid_loss']
assert mse < 0.9, f"validation MSE {mse:.3f}"
rec = cb.Recommender(m, v, rated=trn)
top = rec.recommend(1, n=5)
assert len(top) == 5 and not top['item'].isin(trn[trn.user == 1].item).any(), top
rec.save('model'); rec2 = cb.Recommender.load('model')
p1, p2 = rec.predict(val.user.values, items=val.item.values), rec2.predict(val.user.values, items=val.item.values)
assert np.array_equal(p1, p2), "predictions differ after save and load"
assert rec2.recommend(1, n=5).equals(top), "recommendations differ after save and load"
print(f"collab_book {cb.__version__} from the fresh venv; ML-100K validation MSE {mse:.4f}; save/load: same predictions")
'''

def small_csv(fn:Path):
    "6 users x 8 items with string ids and a header: every user rates 6 items, the ratings follow a pattern."
    users, items = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'], [f'film-{c}' for c in 'abcdefgh']
    rows = [f'{u},{it},{1 + (i * 3 + j * 5) % 5}' for i, u in enumerate(users) for j, it in enumerate(items) if (i + j) % 4]
    fn.write_text('user,item,rating\n' + '\n'.join(rows) + '\n')

def main():
    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix='collab_book_wheel_'))
    try:
        dist = tmp/'dist'
        # the sdist, then the wheel built from it; with .venv's setuptools where it is new enough (no registry needed)
        try: sh([sys.executable, '-m', 'build', '--no-isolation', '--outdir', dist], root)
        except SystemExit as e:  # e.g. "Unmet dependencies": setuptools too old here; a real failure fails again below
            print('        ' + str(e).strip().splitlines()[-1][:200] + ': building in an isolated environment instead')
            shutil.rmtree(dist, ignore_errors=True)
            sh([sys.executable, '-m', 'build', '--outdir', dist], root)  # build-system.requires from the registry
        whl = check_dists(dist)
        venv = fresh_venv(tmp, whl)
        work = tmp/'work'; work.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
        env.update(PATH=f"{venv/'bin'}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS=env.get('OMP_NUM_THREADS', '1'),
                   MPLBACKEND='Agg')
        cli = venv/'bin'/'collab-book'
        if 'train' not in sh([cli, '--help'], work, env): raise SystemExit("FAIL: `collab-book --help` lists no train")
        small_csv(work/'ratings.csv')
        sh([cli, 'train', '--data', 'ratings.csv', '--out', 'small', '--epochs', '2', '--quiet'], work, env)
        out = sh([cli, 'recommend', '--model', 'small', '--user', 'alice', '-n', '2'], work, env)
        if 'film-' not in out: raise SystemExit(f"FAIL: `collab-book recommend` printed no items:\n{out}")
        print(textwrap.indent(out.strip(), '        '))
        (work/'api.py').write_text(SCRIPT)
        print('        ' + sh([venv/'bin'/'python', 'api.py', venv, root, sysconfig.get_paths()['purelib']], work, env).strip().splitlines()[-1])
    finally:
        if '--keep' in sys.argv: print(f"kept {tmp}")
        else: shutil.rmtree(tmp, ignore_errors=True)
    print(f"wheel check passed in {time.time() - t0:.0f}s")

if __name__ == '__main__': main()
