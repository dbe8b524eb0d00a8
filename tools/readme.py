"""Build README.md from nbs/index.ipynb without Quarto, or check that the committed README matches.

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 (and show a diff) when README.md is stale
"""
import difflib, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
HEADER = "<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n\n"
_dir = re.compile(r'^\s*#\s*\|\s*(.*)$')

def _directives(src): return [m.group(1).strip() for l in src.splitlines() if (m := _dir.match(l))]

def render(nb_path=root/'nbs'/'index.ipynb'):
    "Markdown of `nb_path`: hidden cells dropped, `#|` directive lines removed, saved outputs kept."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        ds = _directives(c.source) if c.cell_type == 'code' else []
        if any(d.split()[0] in ('hide','export','exporti','default_exp') for d in ds if d): continue
        if c.cell_type == 'code':
            c.source = '\n'.join(l for l in c.source.splitlines() if not _dir.match(l)).strip()
            if any(d.startswith('echo: false') for d in ds): c.source = ''
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
