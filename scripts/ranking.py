"""Top-N ranking on ML-100K under the public protocols, the library's models next to peers; writes `eval/ranking/`.

    pip install -e ".[dev,peers]"   # cornac and implicit are the peers
    COLLAB_BOOK_DATA=/path/to/data OMP_NUM_THREADS=1 python scripts/ranking.py > eval/ranking/log.txt

One process, one thread. Two protocols, every movie the user did not rate in training ranked:
- stratified 75/25 (Microsoft's recommenders): three seeds of the split, every test movie relevant;
- leave-one-out: each user's latest rating is the test, hit rate and NDCG at 10.
Every setting of ours is chosen per split on a validation share of the training share only (`choose_setting`
with NDCG@10; stratified: a random 25% of each user's training ratings; leave-one-out: each user's latest 10%); the
test share is scored once. The peers run with the settings their documentation gives: cornac's BPR as Microsoft's
benchmark runs it (k 200, 100 iterations, lr 0.01, lambda 0.001), implicit's ALS and BPR with their defaults.
Writes `results.csv` (stratified: one row per seed and model), `loo.csv`, `RESULTS.md` and `ndcg_vs_seconds.png`.
"""
import argparse, os, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sps, torch
from collab_book.data import Vocab, leave_one_out, load_ratings, stratified_split
from collab_book.evaluate import RANKERS, choose_setting
from collab_book.metrics import model_scores, popularity_scores, ranking_metrics
from collab_book.ranking import interactions
from collab_book.train import BPR, fit_recipe

METRICS = ['ndcg@10', 'precision@10', 'recall@10', 'map', 'hit_rate@10']
QUOTED = [('BiVAE (cornac)', 0.475, 0.412), ('BPR (cornac)', 0.442, 0.388), ('LightGCN', 0.420, 0.380),
          ('NCF', 0.396, 0.347), ('SAR', 0.382, 0.331), ("fastai's dot product", 0.118, 0.104)]

def engine(recipe): return lambda t, v, s, **kw: model_scores(fit_recipe(t, v, recipe, seed=s, **kw))
# name -> (fit(train, vocab, seed, **setting) -> scores, candidate settings or None for the fixed one); the closed-form
# models and the softmax use the candidates of `eval/` (`collab_book.evaluate.RANKERS`)
OURS = {
    **{k: RANKERS[k] for k in ('EASE', 'item-kNN', 'iALS')},
    'BPR (engine, BPR recipe)': (engine(BPR), None),
    'BPR (engine, tuned)': (engine(BPR), [dict(n_factors=n, epochs=e, l2=l) for n in (50, 200) for e in (40, 80)
                                          for l in (0.01, 0.03)]),
    'softmax (engine, tuned)': RANKERS['DotProductBias (softmax)'],
}

def public_ndcg10(S, train, valid, vocab):
    "NDCG@10 of the public protocol (every held-out movie relevant): the score settings are chosen by."
    return ranking_metrics(S, train, valid, vocab, k=10, threshold=0)['ndcg@10']

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

PEERS = {'BPR (cornac, peer)': cornac_bpr,
         'ALS (implicit, peer)': lambda t, v, s: implicit_model('als', t, v, s),
         'BPR (implicit, peer)': lambda t, v, s: implicit_model('bpr', t, v, s)}

def run(protocol, trn, tst, v, seed, by, valid_pct):
    "Every model on one split: settings chosen on validation inside `trn`, then trained on `trn`, scored on `tst` once."
    rows = []
    def record(name, fn, setting='', tune=0.):
        t0 = time.perf_counter(); S = fn(); secs = time.perf_counter() - t0
        m = ranking_metrics(S, trn, tst, v, k=10, threshold=0)
        rows.append(dict(protocol=protocol, seed=seed, model=name, **{k: m[k] for k in METRICS}, seconds=secs,
                         tuning_seconds=tune, setting=setting))
        print(f"{protocol} seed {seed} {name} {setting}: ndcg@10 {m['ndcg@10']:.4f}, precision@10 "
              f"{m['precision@10']:.4f}, hit rate@10 {m['hit_rate@10']:.4f} in {secs:.1f} s", flush=True)
    record('random', lambda: np.random.default_rng(seed).random((v.n_users, v.n_items)))
    record('popularity', lambda: popularity_scores(trn, v))
    for name,(fn,grid) in OURS.items():
        best,tune = {},0.
        if grid is not None:
            t0 = time.perf_counter()
            best,tab = choose_setting(fn, grid, trn, v, seed=seed, valid_pct=valid_pct, by=by, metric=public_ndcg10)
            tune = time.perf_counter() - t0
            print(f"  {name}: validation NDCG@10 of each setting: " +
                  '; '.join(f"{g} {x:.4f}" for g,x in zip(grid, tab.iloc[:, -1])), flush=True)
        record(name, lambda: fn(trn, v, seed, **best), str(best) if best else 'the recipe', tune)
    for name,fn in PEERS.items(): record(name, lambda: fn(trn, v, seed), 'documented defaults')
    return rows

def md(d):
    return '\n'.join(['| ' + ' | '.join(map(str, [d.index.name or 'model', *d.columns])) + ' |',
                      '|' + ' --- |'*(len(d.columns) + 1)] +
                     ['| ' + ' | '.join(map(str, [i, *r])) + ' |' for i,r in zip(d.index, d.itertuples(index=False))])

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='eval/ranking'); ap.add_argument('--seeds', type=int, nargs='*', default=[42, 1, 2])
    a = ap.parse_args()
    warnings.filterwarnings('ignore'); torch.set_num_threads(1)
    t0,load0 = time.perf_counter(),tuple(round(x, 2) for x in os.getloadavg())
    ratings = load_ratings(); v = Vocab.from_ratings(ratings)
    res = pd.DataFrame([r for s in a.seeds for r in run('stratified', *stratified_split(ratings, 0.25, seed=s), v, s,
                                                         'random', 0.25)])
    loo = pd.DataFrame(run('leave-one-out', *leave_one_out(ratings), v, 42, 'time', 0.1))
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res.to_csv(out/'results.csv', index=False, float_format='%.6f'); loo.to_csv(out/'loo.csv', index=False, float_format='%.6f')
    g = res.groupby('model', sort=False)
    tab = g[METRICS[:4] + ['seconds', 'tuning_seconds']].mean().round(4)
    for k in ('ndcg@10', 'precision@10'): tab.insert(tab.columns.get_loc(k) + 1, f'{k} std', g[k].std().round(4))
    ltab = loo.set_index('model')[['hit_rate@10', 'ndcg@10', 'seconds', 'setting']].round(4)
    wall,load1 = time.perf_counter() - t0,tuple(round(x, 2) for x in os.getloadavg())
    best,lbest = tab['ndcg@10'].idxmax(),ltab['ndcg@10'].idxmax()
    yes = lambda ok: 'met' if ok else 'NOT met'
    chosen = res.pivot(index='model', columns='seed', values='setting').loc[[m for m in OURS if OURS[m][1]]]
    txt = ["# Top-N ranking on ML-100K, the public protocols", "", "Reproduce with:", "",
           '    pip install -e ".[dev,peers]"',
           "    COLLAB_BOOK_DATA=/path/to/data OMP_NUM_THREADS=1 python scripts/ranking.py > eval/ranking/log.txt", "",
           f"One process, one thread; wall time {wall:.0f} s; load average (1, 5, 15 min) {load0} at the start, {load1} at",
           "the end. Every movie the user did not rate in training is ranked. `seconds`: training the chosen setting once",
           "on the training share; `tuning_seconds`: choosing it (every candidate trained on the validation split).", "",
           f"## Stratified 75/25 split of each user's ratings, every test movie relevant: mean (and std) over seeds {a.seeds}",
           "", md(tab), "",
           f"- target NDCG@10 >= 0.48: best {best}, {tab.loc[best, 'ndcg@10']:.4f}: {yes(tab.loc[best, 'ndcg@10'] >= 0.48)}",
           f"- target precision@10 >= 0.42: {best}, {tab.loc[best, 'precision@10']:.4f}: "
           f"{yes(tab.loc[best, 'precision@10'] >= 0.42)}", "",
           "Settings chosen on validation, by seed of the split:", "", md(chosen), "",
           "## Leave-one-out: each user's latest rating held out (seed 42 for the models that draw)", "",
           "Settings chosen on each user's latest 10% of their training ratings.", "", md(ltab), "",
           f"- best: {lbest}, NDCG@10 {ltab.loc[lbest, 'ndcg@10']:.4f}, hit rate@10 {ltab.loc[lbest, 'hit_rate@10']:.4f}", "",
           "## Quoted (Microsoft's recommenders, stratified 75/25, not run here)", "",
           "| model | NDCG@10 | precision@10 |", "| --- | --- | --- |"] + [f"| {m} | {n} | {p} |" for m,n,p in QUOTED]
    (out/'RESULTS.md').write_text('\n'.join(txt) + '\n')
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig,ax = plt.subplots(figsize=(8, 4.5))
    for (name,r),mk in zip(tab.iterrows(), 'os^vD<>ph*X'):
        ax.scatter(max(r.seconds, 1e-3), r['ndcg@10'], marker=mk, s=50, label=name)
    ax.axhline(0.475, ls='--', lw=0.8, c='gray', label='BiVAE, quoted: 0.475')
    ax.set_xscale('log'); ax.set_xlabel('training seconds (one thread)'); ax.set_ylabel('NDCG@10, mean of 3 seeds')
    ax.set_title('ML-100K top 10, stratified 75/25'); ax.legend(fontsize=7, loc='center left', bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout(); fig.savefig(out/'ndcg_vs_seconds.png', dpi=110)
    print(f"done in {wall:.0f} s")
