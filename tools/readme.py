"""Build README.md from nbs/index.ipynb without Quarto, check that the committed README matches, or run its code.

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 (and show a diff) when README.md is stale
    python tools/readme.py --run    # run the README's Python blocks, in order, as one script pasted into a fresh
                                    # interpreter in an empty folder: they must need nothing a hidden cell defines
"""
import difflib, os, re, subprocess, sys, tempfile
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter
from nbtools import directives

root = Path(__file__).resolve().parent.parent
PICTURE = '(The picture is on the front page of the docs site.)'  # what the text-only README shows for a plot
HEADER = "<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n\n"

def render(nb_path=root/'nbs'/'index.ipynb'):
    "Markdown of `nb_path`: hidden cells dropped, `#|` directive lines removed, saved outputs kept."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        ds, rest = directives(c.source, anywhere=True) if c.cell_type == 'code' else ([], c.source)
        if any(k in ('hide','export','exporti','default_exp') for k, _ in ds): continue
        if c.cell_type == 'code':
            c.source = rest.strip()
            if any(k == 'echo' and v.strip('\'"').lower() == 'false' for k, v in ds): c.source = ''
        cells.append(c)
    nb.cells = cells
    nb.metadata['language_info'] = {'name': 'python'}
    for c in nb.cells:  # plain-text tables read better in a README than pandas' HTML; pictures live on the docs site
        for o in c.get('outputs', []):
            d = o.get('data', {})
            if 'text/plain' in d: d.pop('text/html', None)
            if 'image/png' in d: o['data'] = {'text/plain': PICTURE}
    body, res = MarkdownExporter().from_notebook_node(nb)
    if res.get('outputs'): raise SystemExit("index.ipynb has image outputs: save the picture as a file under nbs/images and link it")
    body = re.sub(r'```python\s*```\n', '', body)  # a cell shown by its output only (`#| echo: false`)
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return HEADER + body

def run_code(readme=root/'README.md'):
    "Run the README's ```python blocks as one script in a fresh interpreter, in an empty folder; return its status."
    code = '\n'.join(re.findall(r'```python\n(.*?)```', readme.read_text(), flags=re.S))
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONPATH': ''}
        p = subprocess.run([sys.executable, '-c', code], cwd=d, env=env, capture_output=True, text=True)
    print(p.stdout[-2000:] + p.stderr[-3000:])
    print(f"README code ({code.count(chr(10)) + 1} lines): {'ran' if p.returncode == 0 else 'FAILED'}")
    return p.returncode

if __name__ == '__main__':
    if '--run' in sys.argv: sys.exit(run_code())
    new, readme = render(), root/'README.md'
    if '--check' not in sys.argv: readme.write_text(new); sys.exit(0)
    old = readme.read_text() if readme.exists() else ''
    if old == new: print('README.md matches nbs/index.ipynb'); sys.exit(0)
    sys.stdout.writelines(list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), 'README.md', 'from index.ipynb'))[:60])
    print('README.md differs from nbs/index.ipynb: run `make readme` and commit it')
    sys.exit(1)
