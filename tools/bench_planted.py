"""The library against its peers on the planted-factor ratings of `tools/bench.py` (1M, 10M and 25M), in one run.

    COLLAB_BOOK_DATA=... python tools/bench_planted.py                 # writes bench/peers/planted.{md,json}
    COLLAB_BOOK_DATA=... python tools/bench_planted.py --sizes 1000000 # one size (to try settings; not committed)

Same data as `tools/bench.py` (`planted_ratings(n + n_valid, noise=0.5, seed=0)`: 162,000 users, 62,000 items,
50 planted factors; the last `n_valid` ratings are the validation set), 50 factors everywhere, every training seeded
with 42, each run in a fresh process (its peak memory is its own; Spark's JVM is read from /proc). Per system: seconds
per epoch (or iteration, or sample), peak memory, and the validation RMSE after its budget, next to the floors and
the reachable estimate that `tools/bench.py` computed for the same ratings (`bench/results.json`).

Budgets: the library trains `bench.py`'s 20 epochs (and at one thread too); fastai's `collab_learner` trains 2
epochs at the library's batch, lr and weight decay (a full 20 at its own speed would take hours at 25M, so it gets
a time-boxed row: seconds per epoch, and the RMSE after 2 epochs next to the library's after 2); Surprise's SVD its
documented 20 epochs (50 factors); myFM's Bayesian MF 30, 12 and 8 samples (rank 50, a third burned in: a
sample costs about a minute at 25M); Spark ALS, biases first,
15 iterations, the regularisation chosen by `tools/bench_spark.py`; LensKit's biased MF (ALS) its documented defaults
and 10 iterations, in an environment of its own (`--lenskit-python`; its wheel needs pandas < 3).
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path
import benchlib
from benchlib import loadavg, root
SEED, SIZES, K = 42, (1_000_000, 10_000_000, 25_000_000), 50
SPARK_L2 = {1_000_000: 0.3, 10_000_000: 0.1, 25_000_000: 0.035}  # tools/bench_spark.py's choices (25M: its --long runs)
MYFM = {1_000_000: 30, 10_000_000: 12, 25_000_000: 8}  # samples per size (a third burned in): ~1 min each at 25M
FASTAI_EPOCHS = 2

def planted(n):
    from bench_spark import n_valid
    from collab_book.lessons.planted import planted_ratings
    x, y = planted_ratings(n + n_valid(n), noise=0.5, seed=0)
    return x[:n], y[:n], x[n:], y[n:]

def rmse(p, y): import numpy as np; return float(np.sqrt(((np.asarray(p, dtype='float64') - y.numpy()) ** 2).mean()))

# ---- jobs: each returns {secs_per_epoch, epochs, rmse, unit, ...} ----------------------------------------------------
def job_fit(n, epochs):
    "The library: lazy `fit` of a `DotProductBias` at `tools/bench.py`'s settings (the compiled step)."
    import torch
    from fastai.basics import DataLoaders
    from bench import SYNTH, SYNTH_WD
    from collab_book.models import DotProductBias
    from collab_book.train import FastDL, fit, model_mse
    x, y, xv, yv = planted(n)
    dls = DataLoaders(FastDL(x, y, bs=SYNTH['bs'], shuffle=True), FastDL(xv, yv, bs=1 << 16))
    torch.manual_seed(SEED)  # the starting weights: drawn under the seed, the same at any number of threads
    m = fit(DotProductBias(162_000, 62_000, K, y_range=(0, 7.5)), dls, epochs=epochs, lr=SYNTH['lr'], wd=SYNTH_WD[n],
            lazy=True, seed=SEED, verbose=False)
    ep = [h['time'] for h in m.history]
    return dict(unit='epoch', epochs=epochs, secs_per_epoch=sum(ep) / len(ep), train_secs=sum(ep),
                rmse=model_mse(m, dls.valid) ** 0.5, rmse_by_epoch=[h['valid_loss'] ** 0.5 for h in m.history],
                secs_by_epoch=ep, setting=f"lazy, bs {SYNTH['bs']:,}, lr {SYNTH['lr']}, wd {SYNTH_WD[n]}")

def job_fastai(n, epochs):
    "fastai's `collab_learner` (50 factors) on the same ratings, at the library's batch size, lr and weight decay."
    import numpy as np, pandas as pd, torch
    from fastai.basics import set_seed
    from fastai.collab import collab_learner, TabularCollab
    from fastai.tabular.core import Categorify
    from fastai.data.block import TransformBlock
    from bench import SYNTH, SYNTH_WD
    x, y, xv, yv = planted(n)
    df = pd.DataFrame(dict(user=np.concatenate([x[:, 0].numpy(), xv[:, 0].numpy()]),
                           item=np.concatenate([x[:, 1].numpy(), xv[:, 1].numpy()]),
                           rating=np.concatenate([y.numpy(), yv.numpy()])))
    set_seed(SEED, reproducible=True)
    t0 = time.perf_counter()
    to = TabularCollab(df, [Categorify], ['user', 'item'], y_names=['rating'], y_block=TransformBlock(),
                       splits=(list(range(n)), list(range(n, len(df)))))
    dls = to.dataloaders(bs=SYNTH['bs'])
    prep = time.perf_counter() - t0
    learn = collab_learner(dls, n_factors=K, y_range=(0, 7.5))
    from fastai.callback.core import Callback
    class Clock(Callback):
        order = 100
        def before_fit(self): self.ep = []
        def before_train(self): self.t0 = time.perf_counter()
        def after_train(self): self.ep.append(time.perf_counter() - self.t0)
    clock = Clock()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, SYNTH['lr'], wd=SYNTH_WD[n], cbs=clock)
    p, t = learn.get_preds(dl=dls.valid)
    return dict(unit='epoch', epochs=epochs, secs_per_epoch=sum(clock.ep) / len(clock.ep), train_secs=sum(clock.ep),
                prep_secs=prep, rmse=float(((p.view(-1) - t.view(-1)) ** 2).mean().sqrt()),
                setting=f"bs {SYNTH['bs']:,}, lr {SYNTH['lr']}, wd {SYNTH_WD[n]}, one cycle")

def job_surprise(n, epochs):
    "Surprise's SVD, 50 factors, its default learning rate and regularisation, `epochs` epochs."
    import pandas as pd, surprise
    x, y, xv, yv = planted(n)
    t0 = time.perf_counter()
    df = pd.DataFrame(dict(user=x[:, 0].numpy(), item=x[:, 1].numpy(), rating=y.numpy()))
    ts = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(float(y.min()), float(y.max())))).build_full_trainset()
    del df
    prep = time.perf_counter() - t0
    algo = surprise.SVD(n_factors=K, n_epochs=epochs, random_state=SEED)
    t0 = time.perf_counter(); algo.fit(ts); secs = time.perf_counter() - t0
    # predict through the model's arrays (its `predict` is a Python call per rating): the same formula, unclipped
    users, items, pred = ts._raw2inner_id_users, ts._raw2inner_id_items, []
    for a, b in zip(xv[:, 0].tolist(), xv[:, 1].tolist()):
        cu, ci = users.get(a), items.get(b)
        est = ts.global_mean + (algo.bu[cu] if cu is not None else 0) + (algo.bi[ci] if ci is not None else 0)
        if cu is not None and ci is not None: est += float(algo.pu[cu] @ algo.qi[ci])
        pred.append(est)
    return dict(unit='epoch', epochs=epochs, secs_per_epoch=secs / epochs, train_secs=secs, prep_secs=prep,
                rmse=rmse(pred, yv), setting=f"SVD, {K} factors, lr 0.005, reg 0.02 (defaults)")

def job_myfm(n, n_iter, burn_in):
    "myFM's Bayesian MF (user and item one-hot blocks), rank 50, `n_iter` Gibbs samples of which the last are kept."
    import numpy as np, scipy.sparse as sps, myfm
    x, y, xv, yv = planted(n)
    eye = lambda k: sps.identity(k, format='csr', dtype='float64')
    rel = lambda xx: [myfm.RelationBlock(xx[:, 0].numpy().astype(np.int32), eye(162_000)),
                      myfm.RelationBlock(xx[:, 1].numpy().astype(np.int32), eye(62_000))]
    fm = myfm.MyFMRegressor(rank=K, random_seed=SEED)
    t0 = time.perf_counter()
    fm.fit(sps.csr_matrix((n, 0)), y.numpy().astype('float64'), X_rel=rel(x), n_iter=n_iter, n_kept_samples=n_iter - burn_in,
           group_shapes=[162_000, 62_000], callback=lambda *_: (False, None))
    secs = time.perf_counter() - t0
    p = fm.predict(sps.csr_matrix((len(yv), 0)), rel(xv))
    return dict(unit='sample', epochs=n_iter, secs_per_epoch=secs / n_iter, train_secs=secs, rmse=rmse(p, yv),
                setting=f"rank {K}, {n_iter} samples, {burn_in} burned in")

def job_spark(n, epochs, l2, csv):
    "Spark ALS in local[2], biases first, reading the ratings itself from a CSV file (`tools/bench_spark.py`'s job)."
    from bench_spark import job_synth_spark
    r = job_synth_spark(n, l2, csv, 'local[2]', False, epochs=epochs)
    return dict(unit='iteration', epochs=epochs, secs_per_epoch=r['secs_per_iter'], train_secs=r['secs']['als'],
                prep_secs=sum(v for k, v in r['secs'].items() if k != 'als'), rmse=r['rmse'],
                jvm_peak_gb=r['driver_jvm_peak_gb'], shuffle_gb=r['shuffle_gb'],
                setting=f"biases + ALS, rank {K}, regParam {l2}, {epochs} iterations, local[2]")

def job_lenskit(n, epochs, csv, valid_csv):
    """LensKit's biased MF (`lenskit.als.BiasedMFScorer`, ALS), its defaults but the trained user rows kept
    (`user_embeddings='prefer'`: 50 features, regularization 0.1, damping 5), `epochs` iterations, at the job's threads.
    Runs in LensKit's own environment (it needs pandas < 3): it reads the CSV files Spark reads and imports nothing of
    collab_book. LensKit accepts one rating per (user, item) pair, so the pairs the planted ratings repeat are averaged
    (the count is in the row's setting). Scored from the model's arrays, global mean + biases + dot product (what its `predict` gives for a
    known user and item, to 1e-6, checked on ML-100K; its per-user pipeline would take longer than the training here);
    a user or item it never saw gets the bias terms it has."""
    os.environ['LK_NUM_THREADS'] = os.environ.get('OMP_NUM_THREADS', '1')
    import numpy as np, pandas as pd
    from lenskit.als import BiasedMFScorer
    from lenskit.data import from_interactions_df
    from lenskit.training import TrainingOptions
    t0 = time.perf_counter()
    df = pd.read_csv(csv); n_read = len(df)
    df = df.groupby(['user', 'item'], as_index=False).rating.mean()  # LensKit takes one rating per pair: repeats averaged
    ds = from_interactions_df(df, user_col='user', item_col='item', rating_col='rating')
    prep, repeats = time.perf_counter() - t0, n_read - len(df)
    del df
    sc = BiasedMFScorer(epochs=epochs, embedding_size=K, user_embeddings='prefer')
    t0 = time.perf_counter(); sc.train(ds, TrainingOptions(rng=SEED)); secs = time.perf_counter() - t0
    val = pd.read_csv(valid_csv); b = sc.bias
    u,i = (v.numbers(val[c].to_numpy(), missing='negative') for v,c in ((sc.users, 'user'), (sc.items, 'item')))
    est = np.full(len(val), b.global_bias, dtype='float64'); ku,ki = u >= 0,i >= 0
    if b.user_biases is not None: est[ku] += b.user_biases[u[ku]]
    if b.item_biases is not None: est[ki] += b.item_biases[i[ki]]
    both = ku & ki
    est[both] += np.einsum('ij,ij->i', sc.user_embeddings[u[both]], sc.item_embeddings[i[both]])
    return dict(unit='iteration', epochs=epochs, secs_per_epoch=secs / epochs, train_secs=secs, prep_secs=prep,
                rmse=float(np.sqrt(((est - val.rating.to_numpy()) ** 2).mean())),
                setting=f"biased MF (ALS), {K} features, regularization 0.1, damping 5 (defaults), {epochs} iterations; "
                        f"the {repeats:,} repeated (user, item) pairs averaged")

JOBS = dict(fit=job_fit, fastai=job_fastai, surprise=job_surprise, myfm=job_myfm, spark=job_spark, lenskit=job_lenskit)

def run_job(name, threads, python=None, **kw):
    "A failed job (a peer that runs out of memory, say) is a row that says so, not the end of the benchmark."
    return benchlib.run_job(__file__, name, threads, strict=False, python=python, **kw)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', nargs='*', type=int, default=list(SIZES))
    ap.add_argument('--only', nargs='*', help='systems to run (default: all)')
    ap.add_argument('--out', default=str(root / 'bench' / 'peers'))
    ap.add_argument('--report-only', action='store_true', help="rewrite planted.md from --out's planted.json")
    ap.add_argument('--lenskit-python', default=os.environ.get('LENSKIT_PYTHON'),
                    help="python of an environment with lenskit (its wheel needs pandas < 3); default: $LENSKIT_PYTHON")
    ap.add_argument('--job', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.job:
        benchlib.serve_job(a.job, JOBS); return
    out = Path(a.out)
    if a.report_only:
        d = json.loads((out / 'planted.json').read_text()); md = report(d); print(md)
        (out / 'planted.md').write_text(md + '\n'); return
    import torch
    cpus = os.cpu_count()
    info = dict(python=platform.python_version(), torch=torch.__version__, cpus=cpus, load_start=loadavg(),
                seed=SEED, sizes=a.sizes,
                not_run={} if a.lenskit_python else {'LensKit': "not run: give `--lenskit-python` (bench/README.md)"})
    print(f"planted ratings, peers side by side: sizes {a.sizes}; {cpus} CPUs; load {info['load_start']:.2f}", flush=True)
    t_all, rows = time.perf_counter(), []
    want = lambda s: not a.only or s in a.only
    for n in a.sizes:
        plan = [('collab_book `fit`', 'fit', cpus, dict(epochs=20)), ('collab_book `fit`', 'fit', 1, dict(epochs=20)),
                ('collab_book `fit`', 'fit', cpus, dict(epochs=FASTAI_EPOCHS)),
                ('fastai `collab_learner`', 'fastai', cpus, dict(epochs=FASTAI_EPOCHS)),
                ('Surprise', 'surprise', 1, dict(epochs=20)), ('myFM', 'myfm', cpus, dict(n_iter=MYFM[n], burn_in=MYFM[n] // 3)),
                ('Spark ALS', 'spark', cpus, dict(epochs=15, l2=SPARK_L2[n])),
                ('LensKit', 'lenskit', cpus, dict(epochs=10))]
        with tempfile.TemporaryDirectory() as d:
            csv = None
            for system, job, threads, kw in plan:
                if not want(system) or system in info['not_run']: continue
                if job in ('spark', 'lenskit') and csv is None:  # they read the ratings themselves, as from a data lake
                    import pandas as pd
                    x, y, xv, yv = planted(n); csv, vcsv = Path(d) / f'planted-{n}.csv', Path(d) / f'valid-{n}.csv'
                    pd.DataFrame(dict(user=x[:, 0].numpy(), item=x[:, 1].numpy(), rating=y.numpy())).to_csv(
                        csv, index=False, float_format='%.5f')
                    pd.DataFrame(dict(user=xv[:, 0].numpy(), item=xv[:, 1].numpy(), rating=yv.numpy())).to_csv(
                        vcsv, index=False, float_format='%.9g')
                    del x, y, xv, yv
                own = (dict(csv=str(csv)) if job == 'spark' else
                       dict(csv=str(csv), valid_csv=str(vcsv), python=a.lenskit_python) if job == 'lenskit' else {})
                r = run_job(job, threads, n=n, **kw, **own)
                r.update(system=system, n=n, threads=threads); rows.append(r)
                print(f"  {n:,} {system}, {threads} thread(s): " + (r['failed'] if 'failed' in r else
                      f"{r['secs_per_epoch']:.2f} s/{r['unit']}, RMSE {r['rmse']:.4f} after {r['epochs']}, "
                      f"peak {r['peak_gb']:.2f} GB") + f"; load {loadavg():.2f}", flush=True)
    info.update(load_end=loadavg(), total_secs=time.perf_counter() - t_all)
    d = dict(info=info, rows=rows)
    out.mkdir(parents=True, exist_ok=True)
    md = report(d); print(md)
    if set(a.sizes) == set(SIZES) and not a.only:
        (out / 'planted.json').write_text(json.dumps(d, indent=1) + '\n'); (out / 'planted.md').write_text(md + '\n')
        print(f"wrote {out.relative_to(root)}/planted.md, planted.json")

def report(d):
    info, rows = d['info'], d['rows']
    ref = {r['n']: r for r in json.loads((root / 'bench' / 'results.json').read_text())['synth']}
    L = [f"Planted ratings of `tools/bench.py` (162,000 users, 62,000 items, 50 planted factors, noise 0.5, seed 0), "
         f"50 factors in every model, seed {SEED}; {info['cpus']} CPUs, torch {info['torch']}. Load average (1 min) "
         f"{info['load_start']:.2f} at the start, {info['load_end']:.2f} at the end; whole run {info['total_secs']:.0f} s. "
         "Floors and the reachable estimate: `bench/results.json` (same ratings). Peak GB: the Python process "
         "(and Spark's JVM, which holds the driver and its executor in local mode).", '',
         '| ratings | system | setting | threads | s per epoch / iteration / sample | budget | training s | '
         'valid RMSE | reachable (estimate) | larger floor | peak GB |', '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        f = ref.get(r['n'], {})
        reach = f"{f['reachable']:.3f}" if f else '-'; floor = f"{max(f['floor_user'], f['floor_item']):.3f}" if f else '-'
        if 'failed' in r:
            L.append(f"| {r['n']:,} | {r['system']} | | {r['threads']} | failed: {r['failed']} | | | | {reach} | {floor} | |"); continue
        mem = f"{r['peak_gb']:.2f}" + (f" + JVM {r['jvm_peak_gb']:.2f}" if r.get('jvm_peak_gb') else '')
        L.append(f"| {r['n']:,} | {r['system']} | {r['setting']} | {r['threads']} | {r['secs_per_epoch']:.2f} | "
                 f"{r['epochs']} {r['unit']}s | {r['train_secs']:.0f} | **{r['rmse']:.3f}** | {reach} | {floor} | {mem} |")
    for system, why in info.get('not_run', {}).items(): L.append(f"| | {system} | | | {why} | | | | | | |")
    big = max(r['n'] for r in rows)
    ours = [r for r in rows if r['n'] == big and r['system'].startswith('collab_book') and 'failed' not in r
            and r['epochs'] == 20 and r['threads'] == info['cpus']]
    peers = [r for r in rows if r['n'] == big and not r['system'].startswith('collab_book') and 'failed' not in r]
    if ours and peers:
        o = ours[0]
        # the first epoch at which the library is within 0.005 of each peer's RMSE: its time to the same accuracy
        L += ['', f"At {big:,} ratings the library trains {o['epochs']} epochs in {o['train_secs']:.0f} s "
                  f"({o['secs_per_epoch']:.2f} s each) to RMSE {o['rmse']:.3f}. Time for the library to reach each peer's "
                  "RMSE (its first epoch at or below it), against the peer's training time:", '',
              '| peer | peer RMSE | peer training s | library s to the same RMSE | ratio |', '|---|---|---|---|---|']
        for p in sorted(peers, key=lambda p: p['rmse']):
            t = next((sum(o['secs_by_epoch'][:k + 1]) for k, e in enumerate(o['rmse_by_epoch']) if e <= p['rmse']), None)
            L.append(f"| {p['system']} ({p['setting']}) | {p['rmse']:.3f} | {p['train_secs']:.0f} | "
                     + (f"{t:.1f} | {p['train_secs'] / t:.0f}x |" if t else "not reached in 20 epochs | |"))
        best = min(peers, key=lambda p: p['rmse'])
        L += ['', f"The most accurate peer at {big:,} is {best['system']} ({best['rmse']:.3f} in {best['train_secs']:.0f} s of "
                  f"training{', plus ' + format(best['prep_secs'], '.0f') + ' s reading and preparing' if best.get('prep_secs') else ''})."]
    return '\n'.join(L)

if __name__ == '__main__': main()
