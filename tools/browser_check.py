"""Open every page of the offline docs preview (_preview/, from tools/docs.py) in headless Chromium and fail
when a page shows an error or traceback, a broken image, fewer plots than its notebook holds, an empty
output where the notebook has one, or a local path. Saves screenshots of the front page and of the
interpretation page in _preview/shots/. Installs Debian's chromium with apt-get where it is missing.

    python tools/browser_check.py [--pages NAME ...] [--json FILE] [--preview DIR]
"""
import argparse, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
from nbtools import LOCAL_PATH, options

root = Path(__file__).resolve().parent.parent
preview = root/'_preview'
SHOTS = {'front_page.html': 'front.png', 'interpretation.html': 'interpretation.png'}
API_NB = '98_api.ipynb'  # the API reference: its page must name every module and every name in each `__all__`
_hidden = {'hide', 'export', 'exporti', 'default_exp'}  # nbdev drops these cells from the docs

def find_chromium():
    for n in ('chromium', 'chromium-browser', 'google-chrome', 'chrome'):
        if p := shutil.which(n): return p
    return os.environ.get('CHROMIUM') if os.environ.get('CHROMIUM') and Path(os.environ['CHROMIUM']).exists() else None

def ensure_chromium():
    "Path of a Chromium binary, installing Debian's `chromium` package where none is found."
    if p := find_chromium(): return p
    if not shutil.which('apt-get'): raise SystemExit('browser check: FAIL: no chromium on PATH and no apt-get to install it')
    print('browser check: chromium missing, running `apt-get install -y chromium`', flush=True)
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    log = ''
    for cmds in ([['apt-get', 'install', '-y', '-q', 'chromium']],
                 [['apt-get', 'update', '-q'], ['apt-get', 'install', '-y', '-q', 'chromium']]):
        for cmd in cmds:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            log = p.stdout[-1500:] + p.stderr[-1500:]
            if p.returncode: break
        if p := find_chromium(): return p
    raise SystemExit(f'browser check: FAIL: could not install Debian\'s chromium (`apt-get install -y chromium`, '
                     f'needs root and the Debian archive):\n{log}')

# ---- what each page should show, read from its source notebook ----
def _shown(cell):
    if cell['cell_type'] != 'code': return False
    d, _ = options(''.join(cell['source']))
    return not (d.keys() & _hidden) and d.get('include') != 'false' and d.get('output') != 'false'

def _n_images(o):
    data = o.get('data', {})
    if any(k.startswith('image/') for k in data): return 1
    h = ''.join(data.get('text/html', ''))
    return len(re.findall(r'<img\b', h))

_priority = ('application/javascript', 'text/html', 'text/markdown', 'image/svg+xml', 'text/latex', 'image/png', 'image/jpeg', 'text/plain')
def _has_output(o):
    "Whether `o` shows something, judged on the representation nbconvert picks (an empty HTML progress bar shows nothing)."
    if o['output_type'] == 'stream': return bool(''.join(o.get('text', '')).strip())
    if o['output_type'] == 'error': return True
    data = o.get('data', {})
    k = next((k for k in _priority if k in data), None)
    v = ''.join(data[k]) if k and isinstance(data[k], (str, list)) else data.get(k)
    if k == 'text/html':  # fastprogress leaves a <style> block and nothing to see
        v = re.sub(r'(?is)<(style|script)\b.*?</\1>', '', v)
        return bool(re.search(r'(?i)<(img|table|svg|canvas)\b', v) or re.sub(r'<[^>]+>', '', v).strip())
    return bool(v.strip() if isinstance(v, str) else v)

def expected(nb_path):
    "Images shown, (id, number of visible outputs) of each shown code cell that has any, and error outputs, in the source notebook."
    nb = json.loads(Path(nb_path).read_text())
    n_img, with_out, errors, n_code = 0, [], [], 0
    for i, c in enumerate(nb['cells']):
        if not _shown(c): continue
        n_code += bool(''.join(c['source']).strip())
        outs = c.get('outputs', [])
        n_img += sum(_n_images(o) for o in outs)
        if n := sum(_has_output(o) for o in outs): with_out.append((c.get('id'), n))
        errors += [f"an error output in cell {i} ({c.get('id')}): {o.get('ename')}: {o.get('evalue')}" for o in outs if o['output_type'] == 'error']
    if n_code >= 3 and not with_out: errors.append(f'none of its {n_code} shown code cells has an output: outputs stripped or never run?')
    return n_img, with_out, errors

# ---- what the browser sees ----
JS = """cells => {
  const main = document.querySelector('main') || document.body;
  const imgs = [...document.querySelectorAll('.jp-OutputArea img')];
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => (i.alt || i.src).slice(0, 60));
  const outText = [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText);
  const errText = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.innerText);
  const shows = e => e.innerText.trim() !== '' || e.querySelector('img, svg, table, canvas') !== null;
  const empty = [], missing = [];
  for (const [id, n] of cells) {
    const cell = document.getElementById('cell-id=' + id);
    if (!cell) { missing.push(id); continue; }
    const shown = [...cell.querySelectorAll('.jp-OutputArea-child')].filter(shows).length;
    if (shown < n) empty.push(`${id} (${n - shown} of ${n})`);
  }
  return {n_img: imgs.length, broken, outText, errText, empty, missing, text: main.innerText,
          links: [...document.querySelectorAll('[href], [src]')].map(e => e.getAttribute('href') || e.getAttribute('src')).filter(s => !s.startsWith('data:')),
          height: document.documentElement.scrollHeight};
}"""
# MathJax 2 (nbconvert's) typesets after the load event: wait for its queue, for at most 10 s
MATHJAX_DONE = """() => new Promise(done => {
  if (!(window.MathJax && MathJax.Hub && MathJax.Hub.Queue)) return done(false);
  setTimeout(() => done(false), 10000); MathJax.Hub.Queue(() => done(true)); })"""
_trace = re.compile(r'Traceback \(most recent call last\)')
_err = re.compile(r'^\s*\w*(Error|Exception)\b', re.M)  # an exception's name at a line start, in a stderr or error output

def exported_names(pkg='collab_book'):
    "{module name: its `__all__`} for the public modules of `pkg`."
    import importlib, pkgutil, warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        p = importlib.import_module(pkg)
        mods = [importlib.import_module(f'{pkg}.{m.name}') for m in pkgutil.iter_modules(p.__path__) if not m.name.startswith('_')]
    return {m.__name__: list(getattr(m, '__all__', [])) for m in mods}

def set_preview(d):
    global preview
    preview = d.resolve()

def check_page(page, p, shots):
    t = time.time()
    n_img, with_out, errors = expected(root/'nbs'/p['notebook'])
    problems = [f'the notebook: {e}' for e in errors]
    page.goto((preview/p['page']).as_uri(), wait_until='load')
    page.evaluate(MATHJAX_DONE)
    r = page.evaluate(JS, [[i, n] for i, n in with_out if i])
    problems += [f'traceback in an output: {s.strip().splitlines()[0][:100]!r}' for s in r['outText'] if _trace.search(s)]
    problems += [f'error in a stderr output: {m.group(0).strip()!r}' for s in r['errText'] if (m := _err.search(s))]
    problems += [f'broken image: {b}' for b in r['broken']]
    if r['n_img'] < n_img: problems.append(f"{n_img - r['n_img']} plot(s) missing: the notebook shows {n_img} image(s), the page {r['n_img']}")
    problems += [f'empty output(s) where the notebook has some: cell {i}' for i in r['empty']]
    problems += [f'cell {i} has an output in the notebook but is not on the page (a preview older than the notebook? run `make docs`)' for i in r['missing']]
    for s in [r['text']] + r['links']:
        problems += [f'local path on the page: {m.group(0)!r}' for m in LOCAL_PATH.finditer(s)]
    if p['notebook'] == API_NB:
        text, names = r['text'], exported_names()
        gone = [m for m in names if m not in text] + [f'{m}.{n}' for m, ns in names.items() for n in ns
                                                      if not re.search(rf'\b{re.escape(n)}\b', text)]
        if gone: problems.append(f"the API page lacks {len(gone)} exported name(s), e.g. {', '.join(gone[:5])}: rebuild {API_NB}")
    shot = None
    if p['page'] in SHOTS:
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots/SHOTS[p['page']]), full_page=True)
        shot = f"{shots.name}/{SHOTS[p['page']]} ({page.viewport_size['width']}x{r['height']})"
    return dict(page=p['page'], notebook=p['notebook'], ok=not problems, problems=sorted(set(problems)), images=r['n_img'],
                expected_images=n_img, outputs_checked=len(with_out), height=r['height'], shot=shot, secs=round(time.time() - t, 2))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pages', nargs='*', help='check only pages whose file names contain these')
    ap.add_argument('--json', default=str(preview/'browser_check.json'), help='where to write the results')
    ap.add_argument('--preview', default=str(preview), help='the preview folder to check')
    a = ap.parse_args()
    set_preview(Path(a.preview))
    t0 = time.time()
    if not (preview/'pages.json').exists(): raise SystemExit('browser check: FAIL: no _preview/pages.json: run `make docs` (tools/docs.py) first')
    pages = json.loads((preview/'pages.json').read_text())
    if a.pages: pages = [p for p in pages if any(s in p['page'] for s in a.pages)]
    exe = ensure_chromium()
    try: from playwright.sync_api import sync_playwright
    except ImportError: raise SystemExit("browser check: FAIL: the `playwright` package is missing: `pip install -e '.[dev]'`")
    shots, results = preview/'shots', []
    print(f'browser check: {len(pages)} pages of {preview.name}/ in {Path(exe).name}', flush=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        page.route(re.compile(r'^(?!file:|data:)'), lambda route: route.abort())  # offline: the pages must not need the network
        for p in pages:
            try: r = check_page(page, p, shots)
            except Exception as e: r = dict(page=p['page'], notebook=p['notebook'], ok=False, problems=[f'{type(e).__name__}: {e}'], secs=0)
            results.append(r)
            print(f"{'PASS' if r['ok'] else 'FAIL'}  browser: {r['page']:<24} ({r['notebook']}): {r.get('images', 0)} of "
                  f"{r.get('expected_images', 0)} plots, {r.get('outputs_checked', 0)} outputs checked, {r['secs']:.1f}s", flush=True)
            for s in r['problems']: print('      ' + s, flush=True)
        browser.close()
    for r in results:
        if r.get('shot'): print(f"browser check: screenshot {r['shot']}", flush=True)
    Path(a.json).write_text(json.dumps(results, indent=1) + '\n')
    n_ok = sum(r['ok'] for r in results)
    print(f'browser check: {n_ok} of {len(results)} pages passed in {time.time() - t0:.1f}s (chromium: {exe})')
    sys.exit(0 if n_ok == len(results) else 1)

if __name__ == '__main__': main()
