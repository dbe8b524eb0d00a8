"""What the tools share: the parser for `#|` cell directives and the pattern for local paths.

    from nbtools import directives, options, LOCAL_PATH   # tools/ is on sys.path when a tool runs
    python tools/nbtools.py                                # self-test: prints `ok`
"""
import re

# A directive line: `#| key: value`, `#|key`, `# | hide`, `#| slow`, `#| export lessons.foo`, indented or not.
_line = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')
_kv = re.compile(r'([^\s:]*)\s*(?::\s*)?(.*)$')  # key, then `: value` or ` value` (nbdev's `#| default_exp data`)

def directives(src, anywhere=False):
    """`([(key, value), ...], source without the directive lines)` of a cell's source.
    Directives are the `#|` lines at the top of the cell (Quarto's and nbdev's rule); `anywhere=True` takes
    them from every line. Values are as written, stripped of white space: see `options` for Quarto's."""
    pairs, rest, top = [], [], True
    for l in src.splitlines():
        m = _line.match(l) if top or anywhere else None
        if m: pairs.append(tuple(_kv.match(m.group(1)).groups()))
        else: rest.append(l); top = False
    return pairs, '\n'.join(rest)

def options(src):
    "`({key: value}, rest)` from the directives at the top of `src`, values unquoted and lower-cased (`'false'`)."
    pairs, rest = directives(src)
    return {k: v.strip('\'"').lower() for k, v in pairs}, rest

# A local path: Linux and macOS home, temporary and work folders, and Windows' C:\Users (`C:\\Users` as JSON
# writes it in a notebook). Not inside a web address (`https://example.com/work/x`), since there a letter, a
# digit or a dot comes before the slash; after `\n` or `\t` (an escaped line break in JSON text) it still counts.
LOCAL_PATH = re.compile(r'(?:(?<![\w.])|(?<=\\[nt]))'
                        r'(?:/home/|/root/|/Users/|/tmp/|/work/|/private/var/|[A-Z]:\\{1,2}Users\b)[\w.-]*')

if __name__ == '__main__':
    d = lambda s, **kw: directives(s, **kw)[0]
    assert d('#| key: value') == [('key', 'value')]
    assert d('#|key') == [('key', '')]
    assert d('# | hide') == [('hide', '')]
    assert d('  #|  slow  ') == [('slow', '')]
    assert d('#| export lessons.foo') == [('export', 'lessons.foo')]
    assert d('#| default_exp data') == [('default_exp', 'data')]
    assert d('#| fig-cap: "A: b"') == [('fig-cap', '"A: b"')]
    assert d('#|') == [('', '')]
    assert d('#| echo:false') == [('echo', 'false')] and d('#|  hide: true') == [('hide', 'true')]
    assert directives('#| hide\n#| echo: false\nx = 1\n#| not: a directive\ny = 2') == \
        ([('hide', ''), ('echo', 'false')], 'x = 1\n#| not: a directive\ny = 2')
    assert directives('#| hide\nx = 1\n  # | export\ny', anywhere=True) == ([('hide', ''), ('export', '')], 'x = 1\ny')
    assert directives('x = 1  #| not a directive') == ([], 'x = 1  #| not a directive')
    assert directives('') == ([], '')
    assert options("#| echo: False\n#| output: 'asis'\n#| slow\nprint(1)") == \
        ({'echo': 'false', 'output': 'asis', 'slow': ''}, 'print(1)')
    caught = ['/home/me/x', 'saved to /root/.cache', '"/Users/me/data.csv"', '/tmp/tmpab12/x', 'cd /work/main',
              '/private/var/folders/x', 'C:\\Users\\me', '"C:\\\\Users\\\\me"', 'file:///home/me/x.html', '~/work/x',
              '(/tmp/x)', "'a\\n/home/me'", 'x=/tmp/y']
    for s in caught: assert LOCAL_PATH.search(s), s
    assert LOCAL_PATH.search('at /home/me/data.csv, line 3').group(0) == '/home/me'  # the folder, as browser_check reports it
    missed = ['https://example.com/work/x', 'http://localhost:8888/tmp/x', 'https://github.com/a/b/tree/main/home/x',
              'www.example.org/Users/x', 'nbs/work/x', 'a_tmp/x', './tmp/x', 'home/me', 'C:\\Usersfoo', 'D:\\data']
    for s in missed: assert not LOCAL_PATH.search(s), s
    print('ok')
