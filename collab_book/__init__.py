"""Collaborative filtering, taught and shipped: `import collab_book as cb` gives the names a user needs first.

This file is written by hand (nbdev generates the modules, not the package's front door). Each name is
imported from its module on first use, so `import collab_book` and the `collab-book` command stay fast.
"""
__version__ = "0.0.1"

# module -> the names `cb.<name>` reaches; notebook 98_api lists them and checks each one resolves
_NAMES = {
    'data': ['get_path', 'load_ratings', 'load_split', 'random_split', 'stratified_split', 'time_split',
             'leave_one_out', 'read_ratings', 'read_csv_ratings', 'Vocab', 'DataError', 'UnknownIdError'],
    'models': ['DotProduct', 'DotProductBias'],
    'train': ['fast_dls', 'fit', 'fit_recipe', 'Recipe', 'CHAPTER', 'BPR', 'SOFTMAX', 'RECIPES'],
    'recommend': ['Recommender'],
    'coldstart': ['MeanUser'],
    'bayes': ['BPMF', 'fit_bpmf'],
    'ranking': ['ease', 'item_knn', 'ials'],
    'metrics': ['model_scores', 'popularity_scores', 'rating_metrics', 'ranking_metrics'],
    'evaluate': ['choose_setting'],
}
_WHERE = {n: m for m, ns in _NAMES.items() for n in ns}
__all__ = ['__version__', *_WHERE]

def __getattr__(name):
    "Import `name` from its module the first time it is used (PEP 562)."
    if name not in _WHERE: raise AttributeError(f"module 'collab_book' has no attribute {name!r}")
    import importlib
    val = getattr(importlib.import_module(f'.{_WHERE[name]}', __name__), name)
    globals()[name] = val
    return val

def __dir__(): return sorted(set(globals()) | set(__all__))
