"""Top-N ranking on ML-100K under the public protocol (stratified 75/25 per user, every test movie relevant, every movie
unrated in training ranked), three seeds of the split, the library's models next to peers; writes `eval/ranking/`.

    pip install -e ".[dev,peers]"   # cornac and implicit are the peers
    COLLAB_BOOK_DATA=/path/to/data OMP_NUM_THREADS=1 python scripts/ranking.py > eval/ranking/log.txt

One process, one thread. Settings of EASE and item-kNN are chosen per seed on a validation share (25%) of the training
share (`choose_setting` with NDCG@10); the test share is scored once. BPR (engine) is the `BPR` recipe. The peers run
with the settings their documentation gives: cornac's BPR as Microsoft's recommenders benchmark runs it (k 200,
100 iterations, lr 0.01, lambda 0.001), implicit's ALS and BPR with their defaults. Writes `results.csv` (one row per
seed and model), `RESULTS.md` (mean and standard deviation over the seeds) and `ndcg_vs_seconds.png`.
"""
import argparse, os, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sps, torch
from collab_book.data import Vocab, load_ratings, stratified_split
from collab_book.evaluate import choose_setting
from collab_book.metrics import model_scores, popularity_scores, ranking_metrics
from collab_book.ranking import ease, interactions, item_knn
from collab_book.train import BPR, fit_recipe

METRICS = ['ndcg@10', 'precision@10', 'recall@10', 'map']
QUOTED = [('BiVAE (cornac)', 0.475, 0.412), ('BPR (cornac)', 0.442, 0.388), ('LightGCN', 0.420, 0.380),
          ('NCF', 0.396, 0.347), ('SAR', 0.382, 0.331), ("fastai's dot product", 0.118, 0.104)]

def ndcg10(S, train, valid, vocab): return ranking_metrics(S, train, valid, vocab, k=10, threshold=0)['ndcg@10']

def cornac_bpr(trn, v, seed):
    import cornac
    u,i = v.user_idx(trn.user.to_numpy()),v.item_idx(trn.item.to_numpy())
    ds = cornac.data.Dataset.from_uir(list(zip(u.tolist(), i.tolist(), np.ones(len(u)).tolist())), seed=seed)
    m = cornac.models.BPR(k=200, max_iter=100, learning_rate=0.01, lambda_reg=0.001, seed=seed, verbose=False)
    m.fit(ds)
    S = np.full((v.n_users, v.n_items), -1e9)  # items cornac never saw in training rank last
    us,its = np.array(list(ds.uid_map.keys())),np.array(list(ds.iid_map.keys()))
    uix,iix = np.array(list(ds.uid_map.values())),np.array(list(ds.iid_map.values()))
    S[np.ix_(us, its)] = (m.u_factors[uix] @ m.i_factors[iix].T) + m.i_biases[iix][None, :]
    return S

def implicit_model(kind, trn, v, seed):
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    m = (AlternatingLeastSquares if kind == 'als' else BayesianPersonalizedRanking)(random_state=seed, num_threads=1)
    m.fit(sps.csr_matrix(interactions(trn, v).numpy().astype(np.float32)), show_progress=False)
    return np.asarray(m.user_factors) @ np.asarray(m.item_factors).T

def run(seed, v, ratings):
    trn,tst = stratified_split(ratings, 0.25, seed=seed)
    rows = []
    def record(name, fn, setting=''):
        t0 = time.perf_counter(); S = fn(); secs = time.perf_counter() - t0
        m = ranking_metrics(S, trn, tst, v, k=10, threshold=0)
        rows.append(dict(seed=seed, model=name, **{k: m[k] for k in METRICS}, seconds=secs, setting=setting))
        print(f"seed {seed} {name} {setting}: ndcg@10 {m['ndcg@10']:.4f}, precision@10 {m['precision@10']:.4f} "
              f"in {secs:.1f} s", flush=True)
    record('popularity', lambda: popularity_scores(trn, v))
    for name,fn,grid in (('EASE', lambda t, v, s, l2: model_scores(ease(t, v, l2)), [dict(l2=x) for x in (100., 250., 500., 1000., 2000.)]),
                         ('item-kNN', lambda t, v, s, k: model_scores(item_knn(t, v, k)), [dict(k=x) for x in (50, 100, 200, 400, 800)])):
        best,_ = choose_setting(fn, grid, trn, v, seed=seed, valid_pct=0.25, metric=ndcg10)
        record(name, lambda: fn(trn, v, seed, **best), str(best))
    record('BPR (engine, BPR recipe)', lambda: model_scores(fit_recipe(trn, v, BPR, seed=seed)))
    record('BPR (cornac, peer)', lambda: cornac_bpr(trn, v, seed))
    record('ALS (implicit, peer)', lambda: implicit_model('als', trn, v, seed))
    record('BPR (implicit, peer)', lambda: implicit_model('bpr', trn, v, seed))
    return rows

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='eval/ranking'); ap.add_argument('--seeds', type=int, nargs='*', default=[42, 1, 2])
    a = ap.parse_args()
    warnings.filterwarnings('ignore'); torch.set_num_threads(1)
    t0,load0 = time.perf_counter(),tuple(round(x, 2) for x in os.getloadavg())
    ratings = load_ratings(); v = Vocab.from_ratings(ratings)
    res = pd.DataFrame([r for s in a.seeds for r in run(s, v, ratings)])
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res.to_csv(out/'results.csv', index=False, float_format='%.6f')
    g = res.groupby('model', sort=False)
    tab = g[METRICS + ['seconds']].mean().round(4)
    for k in ('ndcg@10', 'precision@10'): tab.insert(tab.columns.get_loc(k) + 1, f'{k} std', g[k].std().round(4))
    wall,load1 = time.perf_counter() - t0,tuple(round(x, 2) for x in os.getloadavg())
    best = tab['ndcg@10'].idxmax()
    md = lambda d: '\n'.join(['| ' + ' | '.join(map(str, [d.index.name or 'model', *d.columns])) + ' |',
                              '|' + ' --- |'*(len(d.columns) + 1)] +
                             ['| ' + ' | '.join(map(str, [i, *r])) + ' |' for i,r in zip(d.index, d.itertuples(index=False))])
    yes = lambda ok: 'met' if ok else 'NOT met'
    txt = ["# Top-N ranking on ML-100K, the public protocol", "", "Reproduce with:", "",
           '    pip install -e ".[dev,peers]"',
           "    COLLAB_BOOK_DATA=/path/to/data OMP_NUM_THREADS=1 python scripts/ranking.py > eval/ranking/log.txt", "",
           f"Seeds of the split {a.seeds}; one process, one thread; wall time {wall:.0f} s; load average (1, 5, 15 min)",
           f"{load0} at the start, {load1} at the end. Stratified 75/25 split of each user's ratings; every test movie",
           "relevant; every movie the user did not rate in training ranked. `seconds`: training time.", "",
           "## Mean (and standard deviation) over the seeds", "", md(tab), "",
           f"- target NDCG@10 >= 0.48: best {best}, {tab.loc[best, 'ndcg@10']:.4f}: {yes(tab.loc[best, 'ndcg@10'] >= 0.48)}",
           f"- target precision@10 >= 0.42: {best}, {tab.loc[best, 'precision@10']:.4f}: "
           f"{yes(tab.loc[best, 'precision@10'] >= 0.42)}", "",
           "## Quoted (Microsoft's recommenders, same protocol, not run here)", "",
           "| model | NDCG@10 | precision@10 |", "| --- | --- | --- |"] + [f"| {m} | {n} | {p} |" for m,n,p in QUOTED]
    (out/'RESULTS.md').write_text('\n'.join(txt) + '\n')
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig,ax = plt.subplots(figsize=(8, 4.5))
    for (name,r),mk in zip(tab.iterrows(), 'os^vD<>p'):
        ax.scatter(max(r.seconds, 1e-3), r['ndcg@10'], marker=mk, s=50, label=name)
    ax.axhline(0.475, ls='--', lw=0.8, c='gray', label='BiVAE, quoted: 0.475')
    ax.set_xscale('log'); ax.set_xlabel('training seconds (one thread)'); ax.set_ylabel('NDCG@10, mean of 3 seeds')
    ax.set_title('ML-100K top 10, stratified 75/25'); ax.legend(fontsize=7, loc='center left', bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout(); fig.savefig(out/'ndcg_vs_seconds.png', dpi=110)
    print(f"done in {wall:.0f} s")
