"""Build the docs. With Quarto on PATH: `nbdev-docs` (the full site, into _docs/). Without it: nbdev's
notebook processing (what `nbdev-proc-nbs` does, minus its attempt to install Quarto), then each
processed notebook rendered to HTML by nbconvert into _preview/, with an index in sidebar order."""
import html, json, os, shutil, subprocess, sys
from pathlib import Path
import yaml

root = Path(__file__).resolve().parent.parent
os.chdir(root)

def sidebar_order(nbs):
    "Notebook names in the order of nbs/sidebar.yml, with the section each falls under."
    def walk(items, section):
        for it in items:
            if isinstance(it, str): yield section, it
            elif isinstance(it, dict): yield from walk(it.get('contents', []), it.get('section', section))
    sb = yaml.safe_load((nbs/'sidebar.yml').read_text())
    return list(walk(sb['website']['sidebar']['contents'], ''))

def main():
    if shutil.which('quarto'):
        subprocess.run([str(Path(sys.executable).parent/'nbdev-docs')], check=True)
        print('docs: built the full Quarto site into _docs/ with nbdev-docs'); return
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    cfg = get_config()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    cache = proc_nbs(cfg.nbs_path, n_workers=0)
    out = root/'_preview'
    shutil.rmtree(out, ignore_errors=True); out.mkdir()
    pages = []
    for section, name in sidebar_order(cfg.nbs_path):
        src = Path(cache)/name
        if not src.exists(): raise SystemExit(f"docs: {name} is in sidebar.yml but not in nbs/")
        nb = json.loads(src.read_text())
        for c in nb['cells']:  # nbdev's processing leaves run metadata that nbformat's schema rejects
            c['metadata'] = {k:v for k,v in c.get('metadata', {}).items() if k not in ('execution',)}
            if c['cell_type'] == 'code': c.setdefault('outputs', []); c.setdefault('execution_count', None)
        src.write_text(json.dumps(nb))
        stem = 'front_page' if Path(name).stem == 'index' else Path(name).stem  # index.html is the contents page
        dest = out/(stem + '.html')
        subprocess.run([sys.executable, '-m', 'nbconvert', '--to', 'html', '--output-dir', str(out), '--output', stem, str(src)],
                       check=True, capture_output=True, text=True)
        pages.append((section, name, dest.name))
    items, last = [], None
    for section, name, page in pages:
        if section != last and section: items.append(f'<h3>{html.escape(section)}</h3>')
        last = section
        items.append(f'<p><a href="{page}">{html.escape(Path(name).stem)}</a></p>')
    (out/'index.html').write_text('<!doctype html><html><head><meta charset="utf-8"><title>collab_book</title></head>'
                                  '<body><h1>collab_book: offline preview</h1>' + '\n'.join(items) + '</body></html>\n')
    print(f'docs: Quarto not found, so wrote an offline HTML preview of {len(pages)} pages to _preview/ '
          '(open _preview/index.html); install Quarto and rerun for the full site')

if __name__ == '__main__': main()
