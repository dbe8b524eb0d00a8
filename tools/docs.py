"""Build the docs. With Quarto on PATH: `nbdev-docs` (the full site, into _docs/). Without it: nbdev's
notebook processing (what `nbdev-proc-nbs` does, minus its attempt to install Quarto), then each
processed notebook rendered to HTML by nbconvert's HTML exporter into _preview/: one page per notebook
of nbs/sidebar.yml, a contents page (`index.html`) in sidebar order, and `pages.json` listing them.

Both first refresh nbs/nbdev.yml from pyproject.toml (nbdev's `refresh_quarto_yml`): its `repo-url` is
`[project.urls] Repository` and its `site-url` is `Documentation`, so a fork changes those two lines of pyproject.toml
and runs `make docs`. Maths in the preview is typeset offline by a MathJax 2 copied into _preview/mathjax/, from the
`jupyter-server-mathjax` package (the `docs` extra) or else Debian's libjs-mathjax.

    python tools/docs.py            # full site or preview, whichever this machine can build
    python tools/docs.py --preview  # the offline preview even where Quarto is installed
    python tools/docs.py --refresh  # only rewrite nbs/nbdev.yml from pyproject.toml (quick: for `make sync`)
    python tools/docs.py --check    # fail if nbs/nbdev.yml's repo-url or site-url disagrees with pyproject.toml; write nothing
"""
import html, json, os, re, shutil, subprocess, sys
from pathlib import Path
import yaml
from nbtools import options as _options  # Quarto's `#| key: value` lines at the top of a cell, and the rest

root = Path(__file__).resolve().parent.parent
os.chdir(root)
QUARTO = '1.5'  # the Quarto version the site is configured for (nbs/_quarto.yml); nbdev-docs needs this or newer
MATHJAX_CONFIG = 'TeX-AMS-MML_HTMLorMML-full,Safe'  # the one combined config both MathJax copies below ship

def mathjax_dir():
    "A MathJax 2 folder on this machine: the `jupyter-server-mathjax` package's (pip), else Debian's libjs-mathjax; or None."
    from importlib.util import find_spec
    spec = find_spec('jupyter_server_mathjax')  # found, not imported: importing it loads jupyter_server (seconds)
    dirs = [Path(d)/'static' for d in (spec.submodule_search_locations or [])] if spec else []
    dirs.append(Path('/usr/share/javascript/mathjax'))
    return next((d for d in dirs if (d/'MathJax.js').exists() and (d/'config'/(MATHJAX_CONFIG.split(',')[0] + '.js')).exists()), None)

def copy_mathjax(src, dst):
    "Copy MathJax's folder `src` to `dst`, hard-linking files where it can (fast, no space), without its tests and unminified sources."
    def link(a, b):
        try: os.link(a, b)
        except OSError: shutil.copy2(a, b)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('unpacked', 'test', '*.md'), copy_function=link, symlinks=False)

def mathjax_head(url):
    "The scripts that typeset `$...$` and `$$...$$` (nbconvert's settings) with the MathJax at `url`, offline."
    return f"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({{
  tex2jax: {{inlineMath: [['$','$'], ['\\\\(','\\\\)']], displayMath: [['$$','$$'], ['\\\\[','\\\\]']],
            processEscapes: true, processEnvironments: true}},
  TeX: {{equationNumbers: {{autoNumber: 'AMS', useLabelIds: true}}}},
  'HTML-CSS': {{availableFonts: [], preferredFont: null, webFont: 'STIX-Web', imageFont: null}},
  displayAlign: 'center', messageStyle: 'none', showMathMenu: false,
  // typeset once, at once: no quick preview pass first, no pause between sections
  'fast-preview': {{disabled: true}}, menuSettings: {{CHTMLpreview: false}}, processSectionDelay: 0}});
</script>
<script src="{url}"></script>"""

def has_maths(nb):
    "Whether `nb` may show maths: a `$` in a markdown cell or in a Markdown or HTML output (show_doc's docstrings)."
    texts = [c.source for c in nb.cells if c.cell_type == 'markdown']
    texts += [str(o.get('data', {}).get(k, '')) for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])
              for k in ('text/markdown', 'text/html')]
    return any('$' in t for t in texts)

def md_inline(s):
    "One line of Markdown (a title, a description) as inline HTML: code, links, emphasis rendered, HTML escaped, as Quarto shows it."
    import mistune  # nbconvert's Markdown parser, so always here with it
    h = mistune.create_markdown(escape=True)(s or '').strip()
    return re.sub(r'^<p>(.*)</p>$', r'\1', h, flags=re.S)

def md_text(s):
    "One line of Markdown as plain text, for a page's <title>."
    return re.sub(r'<[^>]+>', '', html.unescape(md_inline(s)))

def sidebar_order(nbs):
    "(section, notebook) pairs in the order of nbs/sidebar.yml."
    def walk(items, section):
        for it in items:
            if isinstance(it, str): yield section, it
            elif isinstance(it, dict) and 'contents' in it: yield from walk(it['contents'], it.get('section', section))
            elif isinstance(it, dict) and 'href' in it: yield section, it['href']
    sb = yaml.safe_load((Path(nbs)/'sidebar.yml').read_text())
    return list(walk(sb['website']['sidebar']['contents'], ''))

def check_pages(nbs, pages):
    "Fail with the list of sidebar entries that have no notebook on disk."
    missing = [n for _,n in pages if not (Path(nbs)/n).exists()]
    if missing: raise SystemExit(f"docs: nbs/sidebar.yml lists {', '.join(missing)}, not found in nbs/: "
                                 "build the notebook(s) or remove the line(s) from the sidebar")
    dup = {n for _,n in pages if [m for _,m in pages].count(n) > 1}
    if dup: raise SystemExit(f"docs: nbs/sidebar.yml lists {', '.join(sorted(dup))} more than once")

# ---- preparing nbdev's processed notebooks for nbconvert (what Quarto would do with them) ----
def prepare(nb):
    "Apply to `nb` what Quarto does: title and description from the front matter, cell options honoured and removed."
    import nbformat
    cells, meta = [], {}
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'):  # nbdev's front matter
            meta = yaml.safe_load(re.sub(r'^\s*---\s*\n|\n---\s*$', '', c.source.strip())) or {}
            md = f"# {meta.get('title', '')}\n\n> {meta['description']}" if meta.get('description') else f"# {meta.get('title', '')}"
            cells.append(nbformat.v4.new_markdown_cell(md, metadata={'tags': ['page-title']})); continue
        c.metadata = {k:v for k,v in c.metadata.items() if k not in ('execution',)}  # nbdev's run metadata fails nbformat's schema
        if c.cell_type == 'code':
            opts, c.source = _options(c.source)
            if opts.get('include') == 'false': continue
            tags = []
            if opts.get('echo') == 'false' or not c.source.strip(): tags.append('remove_input')
            if opts.get('output') == 'false': tags.append('remove_output')
            if opts.get('output') == 'asis': tags.append('asis')
            c.metadata['tags'] = tags
            c.setdefault('outputs', []); c.setdefault('execution_count', None)
            if 'remove_input' in tags and not c.outputs: continue
        cells.append(c)
    nb.cells = cells
    nb.metadata['title'] = md_text(meta.get('title', ''))  # the browser tab's title: plain text
    return nb, meta

# ---- the HTML around each page: the sidebar of the site, previous and next ----
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block extra_css %}<link rel="stylesheet" href="styles.css">{% endblock extra_css %}
{#- no widgets or mermaid diagrams here: leave out the scripts nbconvert would fetch from the web for them #}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{#- maths: the MathJax copied into _preview/, configured as nbconvert configures it #}
{%- block html_head_js_mathjax -%}{{ resources.mathjax_head }}{%- endblock html_head_js_mathjax -%}
{%- block body_header -%}
<body class="jp-Notebook preview" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<header class="preview-bar"><a href="index.html">{{ resources.site_title }}</a> <span>offline preview</span></header>
<nav class="preview-sidebar">{{ resources.sidebar_html }}</nav>
<main>
{%- endblock body_header -%}
{% block body_footer %}
<footer class="preview-pager">{{ resources.pager_html }}</footer>
</main>
</body>
{% endblock body_footer %}
"""

def sidebar_html(pages, current=None):
    "The sidebar of the site as nested lists, `current` marked."
    out, last = [], None
    for p in pages:
        if p['section'] != last:
            if last is not None: out.append('</ul>')
            out.append(f"<p class='section'>{html.escape(p['section'])}</p><ul>" if p['section'] else '<ul>')
            last = p['section']
        cls = ' class="current"' if p['page'] == current else ''
        out.append(f"<li><a href='{p['page']}'{cls}>{md_inline(p['title'])}</a></li>")
    return '\n'.join(out + ['</ul>'])

def pager_html(pages, i):
    prev = f"<a class='prev' href='{pages[i-1]['page']}'>&larr; {md_inline(pages[i-1]['title'])}</a>" if i > 0 else '<span></span>'
    nxt = f"<a class='next' href='{pages[i+1]['page']}'>{md_inline(pages[i+1]['title'])} &rarr;</a>" if i+1 < len(pages) else '<span></span>'
    return prev + nxt

def contents_page(title, desc, pages, mathjax=''):
    "The preview's index.html: each page of the sidebar, in order, with its description, their Markdown rendered."
    items, last = [], None
    for p in pages:
        if p['section'] != last and p['section']: items.append(f"<h2>{md_inline(p['section'])}</h2>")
        last = p['section']
        items.append(f"<p class='entry'><a href='{p['page']}'>{md_inline(p['title'])}</a>"
                     f"<span class='nb'>{html.escape(p['notebook'])}</span><br><span class='desc'>{md_inline(p['description'])}</span></p>")
    maths = mathjax if '$' in desc + ''.join(p['title'] + p['description'] for p in pages) else ''
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(md_text(title))}: contents</title><link rel="stylesheet" href="styles.css">{maths}</head>'
            f'<body class="preview contents"><main><h1>{md_inline(title)}</h1><p class="lead">{md_inline(desc)}</p>'
            '<p class="note">Offline preview of the docs, built with nbconvert because Quarto is not installed here; '
            f'pages follow <code>nbs/sidebar.yml</code>. The full site: <code>nbdev-docs</code> with Quarto {QUARTO} or newer.</p>'
            + '\n'.join(items) + '</main></body></html>\n')

def preview(cfg):
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    import nbformat
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    nbs = Path(cfg.nbs_path)
    order = sidebar_order(nbs)
    check_pages(nbs, order)
    nbdev.doclinks._build_modidx()
    cache = Path(proc_nbs(cfg.nbs_path, n_workers=0))
    out = root/'_preview'
    shutil.rmtree(out, ignore_errors=True); out.mkdir()
    shutil.copy(nbs/'styles.css', out/'styles.css')
    mj = mathjax_dir()
    if mj: copy_mathjax(mj, out/'mathjax'); mathjax = mathjax_head(f'mathjax/MathJax.js?config={MATHJAX_CONFIG}')
    else: mathjax = mathjax_head(f'https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config={MATHJAX_CONFIG}')
    pages, nbs_ = [], []
    for section, name in order:
        src = cache/name
        if not src.exists(): raise SystemExit(f"docs: nbdev's processing did not produce {name} (is its name skipped by nbdev, e.g. a leading '_'?)")
        nb, meta = prepare(nbformat.read(src, as_version=4))
        stem = 'front_page' if Path(name).stem == 'index' else Path(meta.get('output-file') or Path(name).stem + '.html').stem
        pages.append(dict(section=section, notebook=name, page=stem + '.html', title=meta.get('title') or Path(name).stem,
                          description=meta.get('description', '')))
        nbs_.append(nb)
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {'remove_output'}
    c.HTMLExporter.exclude_input_prompt = c.HTMLExporter.exclude_output_prompt = True
    exp = HTMLExporter(config=c, extra_loaders=[DictLoader({'preview.html.j2': TEMPLATE})], template_file='preview.html.j2')
    site = cfg.get('title', 'docs')
    for i, (p, nb) in enumerate(zip(pages, nbs_)):
        body, _ = exp.from_notebook_node(nb, resources=dict(site_title=site, sidebar_html=sidebar_html(pages, p['page']),
                                                            pager_html=pager_html(pages, i),
                                                            mathjax_head=mathjax if has_maths(nb) else ''))
        (out/p['page']).write_text(body)
        print(f"docs: {p['notebook']:<26} -> _preview/{p['page']}", flush=True)
    front = next((p for p in pages if p['page'] == 'front_page.html'), None)
    (out/'index.html').write_text(contents_page(site, front['description'] if front else '', pages, mathjax))
    (out/'pages.json').write_text(json.dumps(pages, indent=1) + '\n')
    print(f'docs: Quarto not found, so wrote an offline HTML preview of {len(pages)} pages to _preview/ '
          f'(open _preview/index.html); install Quarto {QUARTO} or newer and rerun for the full site')
    if mj: print(f'docs: maths typeset offline by the MathJax copied into _preview/mathjax/ from {mj.parent.name}/{mj.name}')
    else: print("docs: no MathJax here, so the preview loads it from the web and its maths stay raw offline: "
                "`pip install jupyter-server-mathjax` (in the `docs` extra) or `apt-get install libjs-mathjax`")

# ---- nbs/nbdev.yml from pyproject.toml: the site's and the repository's address set in one place ----
def site_urls(cfg):
    "{nbdev.yml key: the URL pyproject.toml's [project.urls] gives it}, through nbdev's reading of pyproject.toml."
    return {'repo-url': cfg.git_url, 'site-url': (cfg.doc_host + cfg.doc_baseurl) if cfg.doc_host else ''}

def nbdev_yml_problems(cfg):
    "What in nbs/nbdev.yml disagrees with pyproject.toml's Repository and Documentation URLs (empty: nothing)."
    ny, keys = Path(cfg.nbs_path)/'nbdev.yml', {'repo-url': 'Repository', 'site-url': 'Documentation'}
    if not ny.exists(): return [f'{ny.relative_to(root)} is missing']
    web = (yaml.safe_load(ny.read_text()) or {}).get('website', {})
    out = [f"[project.urls] {keys[k]} is not set in pyproject.toml (nbdev.yml's {k} comes from it)" for k, v in site_urls(cfg).items() if not v]
    out += [f"nbs/nbdev.yml has {k}: {str(web.get(k) or '')!r}, but pyproject.toml's [project.urls] {keys[k]} makes it {v!r}"
            for k, v in site_urls(cfg).items() if v and str(web.get(k) or '').rstrip('/') != v.rstrip('/')]
    return out

def refresh_nbdev_yml(cfg):
    "Rewrite nbs/nbdev.yml from pyproject.toml as nbdev does (title, description, repo-url, site-url); say when it changed."
    from nbdev.quarto import refresh_quarto_yml
    ny = Path(cfg.nbs_path)/'nbdev.yml'
    before = ny.read_text() if ny.exists() else ''
    refresh_quarto_yml()
    if ny.read_text() != before:
        print(f"docs: rewrote nbs/nbdev.yml from pyproject.toml (repo-url {cfg.git_url!r}, site-url {site_urls(cfg)['site-url']!r}): commit it")
    for prob in nbdev_yml_problems(cfg): print(f'docs: note: {prob}; the site has no repository links or address until it is')

def main():
    from nbdev.config import get_config
    cfg = get_config()
    if '--check' in sys.argv:
        if probs := nbdev_yml_problems(cfg):
            raise SystemExit('docs: FAIL: ' + '\n      '.join(probs) + '\n      Run `make docs` (or `python tools/docs.py`) and commit nbs/nbdev.yml.')
        u = site_urls(cfg)
        return print(f"docs: nbs/nbdev.yml agrees with pyproject.toml (repo-url {u['repo-url']}, site-url {u['site-url']})")
    if '--refresh' in sys.argv: return refresh_nbdev_yml(cfg)
    check_pages(cfg.nbs_path, sidebar_order(cfg.nbs_path))
    refresh_nbdev_yml(cfg)
    if shutil.which('quarto') and '--preview' not in sys.argv:
        subprocess.run([str(Path(sys.executable).parent/'nbdev-docs')], check=True)
        print('docs: built the full Quarto site into _docs/ with nbdev-docs'); return
    preview(cfg)

if __name__ == '__main__': main()
