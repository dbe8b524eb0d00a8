"""Full ML-100K evaluation of collab_book's models against Surprise baselines; writes the tables under `eval/`.

    COLLAB_BOOK_DATA=/path/to/data OMP_NUM_THREADS=1 python scripts/evaluate.py --out eval > eval/log.txt

The splits (and the fold-in study) run in `--jobs` processes at once (default: 2), each on one thread. The models are
`collab_book.evaluate.MODELS`: the engine's (`collab_book.train.fit_recipe` with the `CHAPTER`, `BPR` and `SOFTMAX`
recipes) and `collab_book.ranking`'s EASE, item-kNN and implicit ALS; every model with candidate settings has them
chosen per split on that split's training file (`choose_setting`) and prints its choice. Every training is seeded
(`--seed`, default 42) and prints its seed. Takes about twelve minutes of wall time (about 17 minutes of CPU time),
most of it choosing the softmax model's and iALS's settings; the total wall and CPU time and the seconds per model are
written to `RESULTS.md`.
"""
import argparse, os, textwrap, time, warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import pandas as pd, torch
from collab_book.data import ML100K_SPLITS
from collab_book.evaluate import MSE_GRID, RANKERS, RANKING, benchmark, foldin_benchmark, summarize

CMD = "COLLAB_BOOK_DATA=/path/to/data OMP_NUM_THREADS=1 python scripts/evaluate.py --out eval > eval/log.txt"

def md(df:pd.DataFrame, index=True) -> str:
    "A pandas frame as a Markdown table, numbers to 4 decimals."
    df = df.reset_index() if index else df
    cell = lambda x: f"{x:.4f}" if isinstance(x, float) else str(x)
    rows = [list(map(str, df.columns)), ['---']*len(df.columns)]
    rows += [[cell(x) for x in r] for r in df.itertuples(index=False)]
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in rows)

def candidates(grid:list) -> str:
    "A grid of settings in words: 'wd in {0.05, 0.1} × epochs in {5, 10}'."
    vals = lambda k: ', '.join(f"{x:g}" for x in dict.fromkeys(g[k] for g in grid))
    return ' × '.join(f"{k} in {{{vals(k)}}}" for k in grid[0])

def protocol() -> str:
    "How each of our models is trained and its settings chosen, for `RESULTS.md`."
    ranks = '; '.join(f"`{n}` ({candidates(g)})" for n,(f,g) in RANKERS.items())
    return ("Protocol: rating metrics on every test rating of the split. Ranking: per user, test items rated 4 or more "
            "are relevant; all items the user did not rate in training are ranked; users with no relevant test item "
            "are left out. Our models: `DotProductBias (MSE)`, the `CHAPTER` recipe of `collab_book.train.fit_recipe` "
            f"with its setting ({candidates(MSE_GRID)}) chosen on each split by `choose_setting` by validation RMSE "
            "(on a seeded random 10% of each user's ratings in that split's base file; the test file is scored once); "
            "`DotProductBias (BPR)`, the `BPR` recipe (chosen once on validation ratings from the u1/u2 base files); "
            "and the ranking models of `collab_book.evaluate.RANKERS`, each with its setting chosen on each split "
            "the same way but by validation NDCG@10 of this protocol (validation ratings of 4 or more relevant), "
            f"other settings at their defaults: {ranks}. `DotProductBias (softmax)` is the `SOFTMAX` recipe; `EASE`, "
            "`item-kNN` and `iALS` are `collab_book.ranking`'s `ease`, `item_knn` and `ials`. The setting each model "
            "chose on each split is in `log.txt`.")

def _quiet():
    warnings.filterwarnings('ignore')
    torch.set_num_threads(1)

def run_split(sp, seed):
    "`benchmark` on one split, in a worker process."
    _quiet(); return benchmark([sp], seed=seed)

def run_foldin(seed):
    "`foldin_benchmark` and its seconds, in a worker process."
    _quiet(); t = time.perf_counter(); fi = foldin_benchmark(seed=seed); return fi,time.perf_counter() - t

def seconds_table(res:pd.DataFrame, foldin_s:float) -> pd.DataFrame:
    "Seconds per model (training, scoring and metrics) summed over the splits, then the fold-in study and the total."
    t = res.groupby('model', sort=False).seconds.sum().to_frame('seconds')
    t['per split'] = res.groupby('model', sort=False).seconds.mean()
    t.loc['fold-in study (2 trainings, 6 sizes)'] = [foldin_s, float('nan')]
    return t

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='eval', help='folder for the tables')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--splits', nargs='*', default=list(ML100K_SPLITS))
    ap.add_argument('--jobs', type=int, default=2, help='worker processes, one thread each')
    a = ap.parse_args()
    if a.jobs < 1: ap.error(f"--jobs must be at least 1, not {a.jobs}")
    t0 = time.perf_counter()
    _quiet()
    out = Path(a.out); out.mkdir(exist_ok=True)
    with ProcessPoolExecutor(a.jobs) as ex:
        fi_job = ex.submit(run_foldin, a.seed)  # the longest single task goes first
        res = pd.concat(list(ex.map(run_split, a.splits, [a.seed]*len(a.splits))), ignore_index=True)
        fi,fi_s = fi_job.result()
    res.to_csv(out/'benchmark.csv', index=False, float_format='%.6f')
    fi.to_csv(out/'foldin.csv', index=False, float_format='%.6f')
    secs = seconds_table(res, fi_s)
    wall,cpu = time.perf_counter() - t0,sum(os.times()[:4])
    print(f"total wall time {wall:.0f} s, CPU time {cpu:.0f} s")
    cv = [s for s in a.splits if s in ('u1','u2','u3','u4','u5')]
    u1 = res[res.split == 'u1'].set_index('model')
    best = summarize(res, splits=cv).rmse.idxmin()
    txt = [f"# ML-100K evaluation (seed {a.seed})", "", "Reproduce with:", "",
           f"    {CMD}", "", *textwrap.wrap(protocol(), 116, break_on_hyphens=False), "",
           f"## Mean ± standard deviation over {', '.join(cv)}", "", md(summarize(res, splits=cv, fmt=True)), ""]
    for sp in [s for s in a.splits if s in ('ua','ub')]:
        txt += [f"## {sp}", "", md(res[res.split == sp].set_index('model')[['rmse','mae', *RANKING]]), ""]
    txt += ["## Against published numbers", "",
            f"- best rating model over {', '.join(cv)}: {best}, mean RMSE {summarize(res, splits=cv).rmse[best]:.4f} "
            "(target 0.905; Surprise README: SVD 0.934, SVD++ 0.919)",
            f"- u1 RMSE of {best}: {u1.rmse[best]:.4f}; GLocal-K (published, u1): 0.889", "",
            "## New users folded in (users held out of training; NDCG@10 and others, by number of fold-in ratings)", "",
            md(fi.pivot(index='n', columns='model', values='ndcg@10')), "", md(fi, index=False), "",
            f"## Time ({len(a.splits)} splits, {a.jobs} worker processes of one thread each)", "",
            f"Total wall time: {wall:.0f} s; CPU time of the script and its workers: {cpu:.0f} s. Seconds per model,",
            "summed over the splits (`per split`: their mean), each measured inside its worker:", "",
            md(secs.rename_axis('model')), ""]
    (out/'RESULTS.md').write_text('\n'.join(txt))
    print('\n'.join(txt))
