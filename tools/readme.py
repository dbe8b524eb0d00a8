"""Build README.md from nbs/index.ipynb without Quarto, or check that the committed README matches.

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 (and show a diff) when README.md is stale
"""
import difflib, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter
from nbtools import directives

root = Path(__file__).resolve().parent.parent
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
    for c in nb.cells:  # plain-text tables read better in a README than pandas' HTML
        for o in c.get('outputs', []):
            if 'text/plain' in o.get('data', {}): o['data'].pop('text/html', None)
    body, res = MarkdownExporter().from_notebook_node(nb)
    if res.get('outputs'): raise SystemExit("index.ipynb has image outputs: save the picture as a file under nbs/images and link it")
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return HEADER + body

if __name__ == '__main__':
    new, readme = render(), root/'README.md'
    if '--check' not in sys.argv: readme.write_text(new); sys.exit(0)
    old = readme.read_text() if readme.exists() else ''
    if old == new: print('README.md matches nbs/index.ipynb'); sys.exit(0)
    sys.stdout.writelines(list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), 'README.md', 'from index.ipynb'))[:60])
    print('README.md differs from nbs/index.ipynb: run `make readme` and commit it')
    sys.exit(1)
