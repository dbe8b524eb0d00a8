"""Every notebook opens in Colab from the repository named in `pyproject.toml` and installs collab_book there.

The one setting is `[project.urls] Repository` (a GitHub URL). From it this tool writes, in each notebook:
- an "Open in Colab" link on the line after the title cell's `>` subtitle;
- a hidden first code cell that installs collab_book from that repository when it runs in Colab (where
  `/content` exists) and does nothing anywhere else.

    python tools/colab.py           # rewrite the notebooks that differ (part of `make sync`)
    python tools/colab.py --check   # list the notebooks that differ and exit 1; change nothing

A fork sets its own `Repository` URL, then runs `make sync`.
"""
import json, re, sys, tomllib
from pathlib import Path

root = Path(__file__).resolve().parent.parent
MARK = '# In Colab, install collab_book first'  # how the install cell is recognised
LINK = re.compile(r'\n*\[Open in Colab\]\([^)]*\)[^\n]*')

def repo_url():
    "The GitHub repository URL from pyproject.toml, without a trailing slash."
    url = tomllib.loads((root/'pyproject.toml').read_text()).get('project', {}).get('urls', {}).get('Repository', '')
    m = re.fullmatch(r'https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?', url or '')
    if not m: sys.exit(f"colab.py: [project.urls] Repository in pyproject.toml must be a GitHub URL, not {url!r}")
    return f"https://github.com/{m[1]}/{m[2]}"

def install_cell(url):
    return ('#| hide\n' + MARK + ' (from its repository); anywhere else this line does nothing\n'
            f'! [ -e /content ] && pip install -Uqq "collab-book @ git+{url}"')

def link(url, nb):
    return (f"[Open in Colab](https://colab.research.google.com/github/{url.split('github.com/')[1]}/blob/main/"
            f"nbs/{nb.name}): run this page as a notebook there (its first cell installs `collab_book`).")

def _src(c): return ''.join(c['source'])
def _set(c, s): c['source'] = s.splitlines(keepends=True)

def fix(nb_path, url):
    "The notebook's JSON text with the link and the install cell as they should be."
    nb = json.loads(nb_path.read_text())
    cells = nb['cells']
    title = cells[0]
    if title['cell_type'] != 'markdown' or not _src(title).lstrip().startswith('# '):
        sys.exit(f"colab.py: {nb_path.name}: the first cell must be the markdown title cell")
    _set(title, LINK.sub('', _src(title)).rstrip('\n') + '\n\n' + link(url, nb_path))
    code = [i for i, c in enumerate(cells) if c['cell_type'] == 'code']
    cell = dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=[])
    if code and MARK in _src(cells[code[0]]): cell = cells[code[0]]
    else: cell['id'] = f"colab{len(cells):03d}"; cells.insert(1, cell)
    _set(cell, install_cell(url))
    return json.dumps(nb, indent=1, ensure_ascii=False) + '\n'

def notebooks():
    return [p for p in sorted((root/'nbs').glob('*.ipynb')) if not p.name.startswith(('_', '.'))]

if __name__ == '__main__':
    check, url, differ = '--check' in sys.argv, repo_url(), []
    for p in notebooks():
        new = fix(p, url)
        if new != p.read_text():
            differ.append(p.name)
            if not check: p.write_text(new)
    verb = 'differ from' if check else 'rewritten for'
    print(f"{len(differ)} notebook(s) {verb} {url}" + (': ' + ', '.join(differ) if differ else ''))
    sys.exit(1 if check and differ else 0)
