"""Open every page of the offline docs preview (_preview/, from tools/docs.py) in headless Chromium, with the
network off, and fail when a page shows an error or traceback, a broken image, fewer plots than its notebook
holds, an empty output where the notebook has one, a local path, maths left as raw TeX (`$...$` text, or none
typeset where the notebook has maths), or raw Markdown (backticks, `**`, `[text](url)`) outside code. The
contents page (index.html) is checked too: raw Markdown, maths, a link to every page. A self-test first builds
small broken pages and asserts the check reports each problem (and passes a correct page). Saves screenshots of
the front page, the contents page, the interpretation page and a formula in _preview/shots/. Installs Debian's
chromium with apt-get where it is missing.

    python tools/browser_check.py [--pages NAME ...] [--json FILE] [--preview DIR]
    python tools/browser_check.py --self-test   # only the self-test: exit 1 if the check misses a broken page
"""
import argparse, contextlib, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
from nbtools import LOCAL_PATH, options

root = Path(__file__).resolve().parent.parent
preview = root/'_preview'
SHOTS = {'front_page.html': 'front.png', 'interpretation.html': 'interpretation.png', 'index.html': 'contents.png'}
MATHS_SHOT = ('dot_product.html', 'maths.png')  # the markdown cell of the page's first displayed formula
API_NB = '98_api.ipynb'  # the API reference: its page must name every module and every name in each `__all__`
_hidden = {'hide', 'export', 'exporti', 'default_exp'}  # nbdev drops these cells from the docs

def find_chromium():
    "`$CHROMIUM` where it names a file (CI sets it to Playwright's Chromium), else the first Chromium or Chrome on PATH."
    if (c := os.environ.get('CHROMIUM')) and Path(c).exists(): return c
    for n in ('chromium', 'chromium-browser', 'google-chrome', 'chrome'):
        if p := shutil.which(n): return p
    return None

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

# maths as Pandoc reads it: `$$...$$`, or `$...$` with no space inside either dollar and no digit after the closing one
MATHS = re.compile(r'\$\$.+?\$\$|(?<![\\$])\$(?=\S)[^$\n]*?(?<=[^\s\\])\$(?!\d)', re.S)
_code_md = re.compile(r'```.*?```|~~~.*?~~~|`[^`\n]*`', re.S)
def maths_in(md):
    "The formulas in Markdown text `md`, code left out."
    return MATHS.findall(_code_md.sub('', md))

def expected(nb_path):
    """Images shown, (id, number of visible outputs) of each shown code cell that has any, error outputs, and the
    number of formulas in the markdown cells, in the source notebook."""
    nb = json.loads(Path(nb_path).read_text())
    n_img, with_out, errors, n_code = 0, [], [], 0
    n_maths = sum(len(maths_in(''.join(c['source']))) for c in nb['cells'] if c['cell_type'] == 'markdown')
    for i, c in enumerate(nb['cells']):
        if not _shown(c): continue
        n_code += bool(''.join(c['source']).strip())
        outs = c.get('outputs', [])
        n_img += sum(_n_images(o) for o in outs)
        if n := sum(_has_output(o) for o in outs): with_out.append((c.get('id'), n))
        errors += [f"an error output in cell {i} ({c.get('id')}): {o.get('ename')}: {o.get('evalue')}" for o in outs if o['output_type'] == 'error']
    if n_code >= 3 and not with_out: errors.append(f'none of its {n_code} shown code cells has an output: outputs stripped or never run?')
    return n_img, with_out, errors, n_maths

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
  // the prose of the whole page (sidebar and pager too): text outside code, scripts and typeset maths, where raw TeX or raw Markdown would show
  const skip = 'pre, code, script, style, textarea, math, .MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_SVG, .MathJax_CHTML, '
             + '.MJX_Assistive_MathML, mjx-container';
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT,
    {acceptNode: n => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const prose = [];
  for (let n; (n = walk.nextNode());) prose.push(n.textContent);
  const maths = {loaded: !!(window.MathJax && window.MathJax.Hub),
                 typeset: document.querySelectorAll('span.MathJax, span.MathJax_SVG, span.MathJax_CHTML, mjx-container').length,
                 errors: [...document.querySelectorAll('.MathJax_Error, .merror, mjx-merror')].map(e => e.textContent.slice(0, 60))};
  return {n_img: imgs.length, broken, outText, errText, empty, missing, text: main.innerText, prose: prose.join(''), maths,
          links: [...document.querySelectorAll('[href], [src]')].map(e => e.getAttribute('href') || e.getAttribute('src')).filter(s => !s.startsWith('data:')),
          height: document.documentElement.scrollHeight};
}"""
# MathJax 2 typesets after the load event: wait for the end of its start-up (the first typeset), for at most 10 s
MATHJAX_DONE = """() => new Promise(done => {
  if (!(window.MathJax && MathJax.Hub && MathJax.Hub.Register)) return done(false);
  setTimeout(() => done(false), 10000);
  // (the hook returns nothing: a callback returned from a start-up hook would make MathJax wait on it, and this on MathJax)
  MathJax.Hub.Register.StartupHook('End', () => { MathJax.Hub.Queue(() => done(true)); }); })"""
# what raw TeX and raw Markdown look like in a page's prose (text outside code)
RAW_TEX = re.compile(MATHS.pattern + r'|\\(?:frac|mathbf|mathrm|hat|sum|cdot|sigma|lambda|theta|left|right|begin|text|lVert)\b', re.S)
RAW_MD = re.compile(r'`[^`\n]+`|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\s]+\)')

def prose_problems(r, n_maths=0):
    "Raw TeX, raw Markdown and maths errors in what the browser returned (`r`), for a page whose source has `n_maths` formulas."
    out = [f'maths left as raw TeX (not typeset: MathJax missing or failed?): {m.group(0)[:60]!r}' for m in RAW_TEX.finditer(r['prose'])][:5]
    out += [f'raw Markdown on the page (not rendered): {m.group(0)[:60]!r}' for m in RAW_MD.finditer(r['prose'])][:5]
    out += [f'maths MathJax could not typeset: {e!r}' for e in r['maths']['errors']][:3]
    if n_maths and not r['maths']['typeset']:
        out.append(f"none of the {n_maths} formula(s) of the notebook is typeset: "
                   + ('MathJax ran but found none' if r['maths']['loaded'] else 'MathJax is not loaded (run `make docs`; '
                      'tools/docs.py copies it from the jupyter-server-mathjax package into _preview/mathjax/)'))
    return out
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

def check_page(page, p, shots, nbs=None, folder=None):
    "Page `p` of pages.json (in `folder`, the preview by default) against its notebook (in `nbs`, nbs/ by default)."
    t = time.time()
    n_img, with_out, errors, n_maths = expected(Path(nbs or root/'nbs')/p['notebook'])
    problems = [f'the notebook: {e}' for e in errors]
    page.goto((Path(folder or preview)/p['page']).as_uri(), wait_until='load')
    page.evaluate(MATHJAX_DONE)
    r = page.evaluate(JS, [[i, n] for i, n in with_out if i])
    problems += [f'traceback in an output: {s.strip().splitlines()[0][:100]!r}' for s in r['outText'] if _trace.search(s)]
    problems += [f'error in a stderr output: {m.group(0).strip()!r}' for s in r['errText'] if (m := _err.search(s))]
    problems += [f'broken image: {b}' for b in r['broken']]
    problems += prose_problems(r, n_maths)
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
    shot = screenshot(page, p['page'], shots, r['height'])
    return dict(page=p['page'], notebook=p['notebook'], ok=not problems, problems=sorted(set(problems)), images=r['n_img'],
                expected_images=n_img, outputs_checked=len(with_out), maths=r['maths']['typeset'], expected_maths=n_maths,
                height=r['height'], shot=shot, secs=round(time.time() - t, 2))

def screenshot(page, name, shots, height):
    "Save the screenshot(s) SHOTS and MATHS_SHOT name for page `name`; a line saying what was saved, or None."
    saved = []
    if name in SHOTS:
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots/SHOTS[name]), full_page=True)
        saved.append(f"{shots.name}/{SHOTS[name]} ({page.viewport_size['width']}x{height})")
    if name == MATHS_SHOT[0] and (cell := page.locator('.jp-MarkdownCell:has(.MathJax_Display)').first).count():
        shots.mkdir(exist_ok=True)
        cell.screenshot(path=str(shots/MATHS_SHOT[1]))
        saved.append(f'{shots.name}/{MATHS_SHOT[1]} (a displayed formula)')
    return ', '.join(saved) or None

def check_contents(page, pages, shots, path=None):
    "The contents page: each page of the sidebar linked, no raw Markdown or TeX, no local path."
    t, path = time.time(), Path(path or preview/'index.html')
    if not path.exists(): return dict(page=path.name, notebook='sidebar.yml', ok=False, secs=0,
                                      problems=[f'no {path.name}: run `make docs` (tools/docs.py)'])
    page.goto(path.as_uri(), wait_until='load')
    page.evaluate(MATHJAX_DONE)
    r = page.evaluate(JS, [])
    n_maths = sum(len(maths_in(p['title'] + ' ' + p['description'])) for p in pages)
    problems = prose_problems(r, n_maths)
    problems += [f"no link to {p['page']} ({p['notebook']})" for p in pages if p['page'] not in r['links']]
    for s in [r['text']] + r['links']:
        problems += [f'local path on the page: {m.group(0)!r}' for m in LOCAL_PATH.finditer(s)]
    problems += [f'broken image: {b}' for b in r['broken']]
    return dict(page=path.name, notebook='sidebar.yml', ok=not problems, problems=sorted(set(problems)), images=r['n_img'],
                outputs_checked=0, height=r['height'], shot=screenshot(page, path.name, shots, r['height']), secs=round(time.time() - t, 2))

# ---- the self-test: the check must fail pages that break it, and pass a correct one ----
_RULE = r'$\hat r_{ui} = \mathbf p_u \cdot \mathbf q_i + b_u + b_i$'
_LOSS = r'$$\mathcal L = \sum_{(u,i)} (r_{ui} - \hat r_{ui})^2$$'
_DESC = '`DotProduct` and `DotProductBias` built by hand, **trained** with [fastai](typeset.html)'
_PAGE = ('<!doctype html><html><head><meta charset="utf-8">{head}</head><body><main><div class="jp-Cell jp-MarkdownCell">'
         '<div class="jp-RenderedMarkdown"><h1>Models</h1><p>The rule: {rule}, and the loss:</p><p>{loss}</p>'
         '<p>Code is left alone: <code>price = $5; cost = $6</code></p></div></div></main></body></html>')

def self_test(page):
    """Build small pages in a temporary folder (untypeset maths; MathJax missing; a contents page with raw Markdown;
    their correct versions), check each as a real page is checked, and fail unless every broken page is reported
    with its problem and every correct page passes. Returns a result like a page's."""
    import html, tempfile
    from docs import MATHJAX_CONFIG, contents_page, copy_mathjax, mathjax_dir, mathjax_head
    t, problems, lines = time.time(), [], []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
            dict(cell_type='markdown', id='m1', metadata={}, source=f'The rule: {_RULE}, and the loss:\n\n{_LOSS}')])
        (d/'maths.ipynb').write_text(json.dumps(nb))
        mj = mathjax_dir()
        if mj: copy_mathjax(mj, d/'mathjax')
        head = mathjax_head(f'mathjax/MathJax.js?config={MATHJAX_CONFIG}')
        esc = lambda x: html.escape(x, quote=False)
        (d/'untypeset.html').write_text(_PAGE.format(head='', rule=esc(_RULE), loss=esc(_LOSS)))
        (d/'no_mathjax.html').write_text(_PAGE.format(head=head.replace('mathjax/MathJax.js', 'mathjax/Missing.js'),
                                                      rule=esc(_RULE), loss=esc(_LOSS)))
        (d/'typeset.html').write_text(_PAGE.format(head=head, rule=esc(_RULE), loss=esc(_LOSS)))
        pages = [dict(section='', notebook='maths.ipynb', page='typeset.html', title='Models from scratch', description=_DESC)]
        (d/'raw_contents.html').write_text(f"<!doctype html><html><body><main><h1>Contents</h1><p class='entry'><a href='typeset.html'>"
                                           f"Models from scratch</a><br><span class='desc'>{esc(_DESC)}</span></p></main></body></html>")
        (d/'contents.html').write_text(contents_page('collab_book', 'A *book*', pages))
        cases = [('untypeset.html', "raw TeX (not typeset: MathJax missing or failed?): '$\\\\hat r"),
                 ('untypeset.html', "raw TeX (not typeset: MathJax missing or failed?): '$$"),
                 ('untypeset.html', 'MathJax is not loaded'), ('no_mathjax.html', 'MathJax is not loaded'), ('typeset.html', None),
                 ('raw_contents.html', "raw Markdown on the page (not rendered): '`DotProduct`'"),
                 ('raw_contents.html', "raw Markdown on the page (not rendered): '**trained**'"),
                 ('raw_contents.html', "raw Markdown on the page (not rendered): '[fastai](typeset.html)'"), ('contents.html', None)]
        seen = {}
        for name, want in cases:
            if name not in seen:
                p = dict(page=name, notebook='maths.ipynb')
                seen[name] = (check_contents(page, pages, d/'shots', d/name) if 'contents' in name else
                              check_page(page, p, d/'shots', nbs=d, folder=d))['problems']
            got = seen[name]
            hit = [g for g in got if want and want in g]
            if want and not hit: problems.append(f'self-test: the check missed {name!r}: expected {want!r}, got {got}')
            elif not want and got: problems.append(f'self-test: the check fails the correct page {name!r}: {got}')
            lines.append(f'{name} FAILS as it should: {hit[0]}' if want and hit else f'{name} passes as it should' if not want and not got
                         else f'{name}: WRONG')
    if not mj: problems.append('self-test: no MathJax on this machine to typeset the correct page: `pip install jupyter-server-mathjax`')
    return dict(page='self-test', notebook='broken pages', ok=not problems, problems=problems, evidence=lines, secs=round(time.time() - t, 2))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pages', nargs='*', help='check only pages whose file names contain these')
    ap.add_argument('--json', default=str(preview/'browser_check.json'), help='where to write the results')
    ap.add_argument('--preview', default=str(preview), help='the preview folder to check')
    ap.add_argument('--self-test', action='store_true', help='only check that broken pages fail and a correct one passes')
    a = ap.parse_args()
    set_preview(Path(a.preview))
    t0 = time.time()
    if a.self_test: return sys.exit(run_self_test())
    if not (preview/'pages.json').exists(): raise SystemExit('browser check: FAIL: no _preview/pages.json: run `make docs` (tools/docs.py) first')
    pages = json.loads((preview/'pages.json').read_text())
    if a.pages: pages = [p for p in pages if any(s in p['page'] for s in a.pages)]
    exe = ensure_chromium()
    try: from playwright.sync_api import sync_playwright
    except ImportError: raise SystemExit("browser check: FAIL: the `playwright` package is missing: `pip install -e '.[dev]'`")
    shots, results = preview/'shots', []
    print(f'browser check: {len(pages)} pages of {preview.name}/ in {Path(exe).name}', flush=True)
    all_pages = json.loads((preview/'pages.json').read_text())
    with browser_page(exe) as page:
        results.append(self_test(page))
        print_result(results[-1])
        jobs = [('contents', None)] * (not a.pages or any(s in 'index.html' for s in a.pages)) + [('page', p) for p in pages]
        for kind, p in jobs:
            try: r = check_contents(page, all_pages, shots) if kind == 'contents' else check_page(page, p, shots)
            except Exception as e: r = dict(page=p['page'] if p else 'index.html', notebook=p['notebook'] if p else 'sidebar.yml',
                                            ok=False, problems=[f'{type(e).__name__}: {e}'], secs=0)
            results.append(r)
            print_result(r)
    for r in results:
        if r.get('shot'): print(f"browser check: screenshot {r['shot']}", flush=True)
    Path(a.json).write_text(json.dumps(results, indent=1) + '\n')
    n_ok = sum(r['ok'] for r in results)
    print(f'browser check: {n_ok} of {len(results)} pages passed in {time.time() - t0:.1f}s (chromium: {exe})')
    sys.exit(0 if n_ok == len(results) else 1)

def print_result(r):
    if r['page'] == 'self-test':
        print(f"{'PASS' if r['ok'] else 'FAIL'}  browser: self-test: the check fails broken pages and passes correct ones, {r['secs']:.1f}s", flush=True)
        for s in r.get('evidence', []): print('      ' + s, flush=True)
    else:
        print(f"{'PASS' if r['ok'] else 'FAIL'}  browser: {r['page']:<24} ({r['notebook']}): {r.get('images', 0)} of "
              f"{r.get('expected_images', 0)} plots, {r.get('outputs_checked', 0)} outputs checked, "
              f"{r.get('maths', 0)} of {r.get('expected_maths', 0)}+ formulas typeset, {r['secs']:.1f}s", flush=True)
    for s in r['problems']: print('      ' + s, flush=True)

@contextlib.contextmanager
def browser_page(exe):
    "A page of headless Chromium with the network off (only file: and data: URLs load)."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        page.route(re.compile(r'^(?!file:|data:)'), lambda route: route.abort())  # offline: the pages must not need the network
        try: yield page
        finally: browser.close()

def run_self_test():
    "`--self-test`: the self-test alone; its exit status."
    exe = ensure_chromium()
    with browser_page(exe) as page: r = self_test(page)
    print_result(r)
    return 0 if r['ok'] else 1

if __name__ == '__main__': main()
