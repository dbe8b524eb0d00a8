"""Build the docs. With Quarto on PATH: `nbdev-docs` (the full site, into _docs/). Without it: nbdev's
notebook processing (what `nbdev-proc-nbs` does, minus its attempt to install Quarto), then each
processed notebook rendered to HTML by nbconvert's HTML exporter into _preview/: one page per notebook
of nbs/sidebar.yml, a contents page (`index.html`) in sidebar order, and `pages.json` listing them.

    python tools/docs.py            # full site or preview, whichever this machine can build
    python tools/docs.py --preview  # the offline preview even where Quarto is installed
"""
import html, json, os, re, shutil, subprocess, sys
from pathlib import Path
import yaml
from nbtools import options as _options  # Quarto's `#| key: value` lines at the top of a cell, and the rest

root = Path(__file__).resolve().parent.parent
os.chdir(root)
QUARTO = '1.5'  # the Quarto version the site is configured for (nbs/_quarto.yml); nbdev-docs needs this or newer
MATHJAX = Path('/usr/share/javascript/mathjax/MathJax.js')  # Debian's libjs-mathjax: maths typeset offline where installed

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
    nb.metadata['title'] = meta.get('title', '')
    return nb, meta

# ---- the HTML around each page: the sidebar of the site, previous and next ----
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block extra_css %}<link rel="stylesheet" href="styles.css">{% endblock extra_css %}
{#- no widgets or mermaid diagrams here: leave out the scripts nbconvert would fetch from the web for them #}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
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
        out.append(f"<li><a href='{p['page']}'{cls}>{html.escape(p['title'])}</a></li>")
    return '\n'.join(out + ['</ul>'])

def pager_html(pages, i):
    prev = f"<a class='prev' href='{pages[i-1]['page']}'>&larr; {html.escape(pages[i-1]['title'])}</a>" if i > 0 else '<span></span>'
    nxt = f"<a class='next' href='{pages[i+1]['page']}'>{html.escape(pages[i+1]['title'])} &rarr;</a>" if i+1 < len(pages) else '<span></span>'
    return prev + nxt

def contents_page(title, desc, pages):
    items, last = [], None
    for p in pages:
        if p['section'] != last and p['section']: items.append(f"<h2>{html.escape(p['section'])}</h2>")
        last = p['section']
        items.append(f"<p class='entry'><a href='{p['page']}'>{html.escape(p['title'])}</a>"
                     f"<span class='nb'>{html.escape(p['notebook'])}</span><br><span class='desc'>{html.escape(p['description'])}</span></p>")
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)}: contents</title><link rel="stylesheet" href="styles.css"></head>'
            f'<body class="preview contents"><main><h1>{html.escape(title)}</h1><p class="lead">{html.escape(desc)}</p>'
            '<p class="note">Offline preview of the docs, built with nbconvert because Quarto is not installed here; '
            f'pages follow <code>nbs/sidebar.yml</code>. The full site: <code>nbdev-docs</code> with Quarto {QUARTO} or newer.</p>'
            + '\n'.join(items) + '</main></body></html>\n')

def preview(cfg):
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    import nbformat
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    nbs = Path(cfg.nbs_path)
    order = sidebar_order(nbs)
    check_pages(nbs, order)
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    cache = Path(proc_nbs(cfg.nbs_path, n_workers=0))
    out = root/'_preview'
    shutil.rmtree(out, ignore_errors=True); out.mkdir()
    shutil.copy(nbs/'styles.css', out/'styles.css')
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
    if MATHJAX.exists(): c.HTMLExporter.mathjax_url = MATHJAX.as_uri() + '?config=TeX-AMS_CHTML-full,Safe'
    exp = HTMLExporter(config=c, extra_loaders=[DictLoader({'preview.html.j2': TEMPLATE})], template_file='preview.html.j2')
    site = cfg.get('title', 'docs')
    for i, (p, nb) in enumerate(zip(pages, nbs_)):
        body, _ = exp.from_notebook_node(nb, resources=dict(site_title=site, sidebar_html=sidebar_html(pages, p['page']),
                                                            pager_html=pager_html(pages, i)))
        (out/p['page']).write_text(body)
        print(f"docs: {p['notebook']:<26} -> _preview/{p['page']}", flush=True)
    front = next((p for p in pages if p['page'] == 'front_page.html'), None)
    (out/'index.html').write_text(contents_page(site, front['description'] if front else '', pages))
    (out/'pages.json').write_text(json.dumps(pages, indent=1) + '\n')
    print(f'docs: Quarto not found, so wrote an offline HTML preview of {len(pages)} pages to _preview/ '
          f'(open _preview/index.html); install Quarto {QUARTO} or newer and rerun for the full site')
    if not MATHJAX.exists(): print('docs: maths in the preview load MathJax from the web; `apt-get install libjs-mathjax` to typeset them offline')

def main():
    from nbdev.config import get_config
    cfg = get_config()
    check_pages(cfg.nbs_path, sidebar_order(cfg.nbs_path))
    if shutil.which('quarto') and '--preview' not in sys.argv:
        subprocess.run([str(Path(sys.executable).parent/'nbdev-docs')], check=True)
        print('docs: built the full Quarto site into _docs/ with nbdev-docs'); return
    preview(cfg)

if __name__ == '__main__': main()
