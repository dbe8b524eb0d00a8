"""The library against the tools a practitioner would otherwise use, on ML-100K's chapter split, in one run.

    COLLAB_BOOK_DATA=... python tools/bench_peers.py              # full run: writes bench/peers/results.{md,json}, frontier.png
    COLLAB_BOOK_DATA=... python tools/bench_peers.py --quick      # seconds, for CI: correctness only, never a speed

The split is the chapter's (`random_split(load_ratings(), 0.2, seed=42)`); every number is the validation MSE of a
training seeded with 42. Each system runs with the settings its documentation gives ("defaults") and with one tuned
setting, at one thread and then at all threads (where it has threads to use), every run in a fresh process (so its
peak memory is its own). A run yields points (training seconds, validation MSE): one per epoch where a system reports
them as it goes (the library's `fit`, fastai), otherwise one per separate run of a longer budget (iterations, epochs,
samples). From the points: the time each system needs to reach MSE <= 0.83, the best MSE it reaches within 60 s, and
the frontier: the best MSE of each system within 1, 10 and 60 s.
"""
import argparse, json, math, os, platform, shutil, sys, tempfile, time
from pathlib import Path
import benchlib
from benchlib import loadavg, root
SEED, BAR, BUDGETS = 42, 0.83, (1, 10, 60)

def split():
    from collab_book.data import Vocab, load_ratings, random_split
    r = load_ratings(); trn, val = random_split(r, 0.2, seed=42)
    return trn, val, Vocab.from_ratings(r)

def mse(p, val): import numpy as np; return float(((np.asarray(p, dtype='float64') - val.rating.to_numpy())**2).mean())

# ---- jobs: each returns a list of points {secs, mse, budget} -------------------------------------------------------
def job_fit(setting, threads, epochs=5):
    "The engine: `fit` on `fast_dls` (dense or lazy updates), or the `CHAPTER` recipe; one point per epoch."
    from collab_book.models import DotProductBias
    from collab_book.train import CHAPTER, fast_dls, fit, model_mse
    trn, val, v = split()
    kw = dict(bs=CHAPTER.bs, lr=CHAPTER.lr, wd=CHAPTER.wd, l2=CHAPTER.l2) if setting == 'chapter recipe' else dict(bs=4096)
    dls = fast_dls(trn, val, vocab=v, bs=kw.pop('bs'))
    lazy = setting == 'lazy'
    fit(DotProductBias, dls, epochs=1, seed=SEED, verbose=False, lazy=lazy)  # warm-up: torch's first-call costs
    m = fit(DotProductBias, dls, epochs=epochs, seed=SEED, verbose=False, lazy=lazy, **kw)
    t = 0.; pts = []
    for h in m.history: t += h['time']; pts.append(dict(secs=t, mse=h['valid_loss'], budget=f"epoch {h['epoch'] + 1}"))
    assert abs(pts[-1]['mse'] - model_mse(m, dls.valid)) < 1e-9
    return pts

def _fastai_points(learn, epochs, lr, wd):
    "Train a fastai `Learner` with `fit_one_cycle`, timing the training passes only; one point per epoch."
    from fastai.callback.core import Callback
    from collab_book.models import valid_mse
    class Clock(Callback):
        order = 100  # after the `Recorder`, so this epoch's validation loss is in it
        def before_fit(self): self.t, self.pts = 0., []
        def before_train(self): self.t0 = time.perf_counter()
        def after_train(self): self.t += time.perf_counter() - self.t0
        def after_epoch(self): self.pts.append(dict(secs=self.t, mse=float(self.recorder.values[-1][1]), budget=f"epoch {self.epoch + 1}"))
    clock = Clock()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, lr, wd=wd, cbs=clock)
    assert abs(clock.pts[-1]['mse'] - valid_mse(learn)) < 1e-4, (clock.pts[-1], valid_mse(learn))
    return clock.pts

def job_fastai(setting, threads, epochs=5):
    "fastai's `collab_learner` as the chapter runs it (bs 64, lr 5e-3, wd 0.1), or the same at a batch of 1,024 (tuned)."
    trn, val, v = split()
    bs, lr = (64, 5e-3) if setting == 'defaults' else (1024, 5e-3)
    return _fastai_points(benchlib.book_learner(trn, val, bs=bs, seed=SEED), epochs, lr, 0.1)

def job_learner(setting, threads, epochs=5):
    "The library's model and loader under a fastai `Learner` (notebook 13's Learner path), `scale_hparams(4096)`."
    from fastai.basics import Learner, set_seed
    from fastai.losses import MSELossFlat
    from collab_book.models import DotProductBias
    from collab_book.train import fast_dls, scale_hparams
    trn, val, v = split()
    dls = fast_dls(trn, val, vocab=v, bs=4096); hp = scale_hparams(4096)
    set_seed(SEED, reproducible=True)
    return _fastai_points(Learner(dls, DotProductBias(v.n_users, v.n_items), loss_func=MSELossFlat()), epochs, hp['lr'], hp['wd'])

def job_bpmf(setting, threads, n_samples, burn_in):
    "The library's Gibbs sampler (notebook 14), rank 10: plain; its defaults (implicit, flipped, time biases); + side info."
    from collab_book.bayes import BPMF, demographic_features, genre_features
    from collab_book.data import load_ratings, ml100k_users
    trn, val, v = split()
    kw = dict(plain=dict(implicit=False, flipped=False, time=()), full={},
              side=dict(user_side=demographic_features(ml100k_users(), v), item_side=genre_features(load_ratings(), v)))[setting]
    t0 = time.perf_counter(); b = BPMF(trn, v, seed=SEED, **kw).fit(n_samples, burn_in); secs = time.perf_counter() - t0
    return [dict(secs=secs, mse=mse(b.predict(val), val), budget=f"{burn_in} + {n_samples} sweeps")]

def job_surprise(setting, threads, n_epochs):
    "Surprise's SVD (defaults: 100 factors; tuned: 50 factors, 40 epochs) and SVD++ (defaults), `n_epochs` epochs."
    import surprise
    trn, val, v = split()
    data = surprise.Dataset.load_from_df(trn[['user', 'item', 'rating']], surprise.Reader(rating_scale=(1, 5)))
    ts = data.build_full_trainset()
    algo = dict(svd=lambda: surprise.SVD(n_epochs=n_epochs, random_state=SEED),
                svd_tuned=lambda: surprise.SVD(n_factors=50, n_epochs=n_epochs, random_state=SEED),
                svdpp=lambda: surprise.SVDpp(n_epochs=n_epochs, random_state=SEED, cache_ratings=True))[setting]()
    t0 = time.perf_counter(); algo.fit(ts); secs = time.perf_counter() - t0
    p = [algo.predict(u, i).est for u, i in zip(val.user, val.item)]
    return [dict(secs=secs, mse=mse(p, val), budget=f"{n_epochs} epochs")]

def job_lenskit(setting, threads, epochs, data):
    """LensKit's biased MF (`lenskit.als.BiasedMFScorer`, ALS): its defaults (50 features, regularization 0.1,
    damping 5), or 100 features (tuned); `epochs` iterations. Runs in LensKit's own environment (it needs pandas < 3),
    so it reads the split from the CSV files in `data` that the benchmark wrote from `split()`, and imports nothing
    of collab_book. Timed: `train` on a dataset built before the clock."""
    os.environ['LK_NUM_THREADS'] = str(threads)
    import pandas as pd
    from lenskit.als import BiasedMFScorer
    from lenskit.batch import predict
    from lenskit.data import from_interactions_df
    from lenskit.pipeline import predict_pipeline
    from lenskit.training import TrainingOptions
    trn, val = (pd.read_csv(Path(data) / f) for f in ('train.csv', 'valid.csv'))
    ds = from_interactions_df(trn, user_col='user', item_col='item', rating_col='rating')
    pipe = predict_pipeline(BiasedMFScorer(epochs=epochs, **({} if setting == 'defaults' else dict(embedding_size=100))))
    t0 = time.perf_counter(); pipe.train(ds, TrainingOptions(rng=SEED)); secs = time.perf_counter() - t0
    out = predict(pipe, val.rename(columns={'user': 'user_id', 'item': 'item_id'}), n_jobs=1).to_df()
    p = val.merge(out[['user_id', 'item_id', 'score']], how='left', left_on=['user', 'item'],
                  right_on=['user_id', 'item_id']).score  # in `val`'s order; LensKit's bias fallback covers new ids
    return [dict(secs=secs, mse=mse(p, val), budget=f"{epochs} iterations")]

def job_myfm(setting, threads, n_iter):
    "myFM's Bayesian FM, rank 10: plain MF (defaults), or timeSVD++ flipped as its documentation builds it (tuned)."
    sys.path.insert(0, str(root / 'scripts'))
    from accuracy import myfm_predict
    trn, val, v = split()
    t0 = time.perf_counter()
    p = myfm_predict(trn, val, v, SEED, setting == 'timeSVD++ flipped', n_iter=n_iter, n_kept=n_iter - n_iter // 5)
    return [dict(secs=time.perf_counter() - t0, mse=mse(p, val), budget=f"{n_iter} iterations")]

def job_spark(setting, threads, epochs):
    "Spark ALS in `local[threads]`: its defaults (rank 10, regParam 0.1), or biases first with rank 50, l2 0.15."
    from collab_book.spark import fit_als, spark_session
    from collab_book.metrics import model_scores, rating_metrics
    trn, val, v = split()
    s = spark_session(f'local[{threads}]')  # started before the clock: a cluster is up before anyone trains
    kw = dict(n_factors=10, l2=0.1, biases=False) if setting == 'defaults' else dict(n_factors=50, l2=0.15, biases=True)
    fit_als(trn, v, epochs=1, master=s, seed=SEED, **kw)  # warm-up: the JVM's first-call costs, as `fit` gets one
    t0 = time.perf_counter(); m = fit_als(trn, v, epochs=epochs, master=s, seed=SEED, **kw); secs = time.perf_counter() - t0
    return [dict(secs=secs, mse=rating_metrics(model_scores(m), val, v)['rmse']**2, budget=f"{epochs} iterations")]

JOBS = dict(fit=job_fit, fastai=job_fastai, learner=job_learner, bpmf=job_bpmf, surprise=job_surprise, myfm=job_myfm,
            spark=job_spark, lenskit=job_lenskit)

# the sampler's budgets (kept samples, burn-in sweeps): runs on either side of one second, as myFM's below
SWEEPS = [dict(n_samples=n, burn_in=b) for n, b in ((10, 5), (25, 10), (30, 10), (35, 10), (50, 20), (100, 30), (200, 50),
                                                   (500, 50))]
# system, job, setting label, job setting, budgets (keyword sets, one run each), does it use more than one thread
PLAN = [
    ('collab_book `fit`', 'fit', 'defaults (bs 4096)', 'dense', [{}], True),
    ('collab_book `fit`', 'fit', 'lazy row updates', 'lazy', [{}], True),
    ('collab_book `fit`', 'fit', 'CHAPTER recipe', 'chapter recipe', [{}], True),
    ('collab_book Learner path', 'learner', 'defaults (bs 4096)', 'defaults', [{}], True),
    ('collab_book BPMF', 'bpmf', 'plain, rank 10', 'plain', [dict(n_samples=n, burn_in=b) for n, b in
                                                            ((10, 5), (25, 10), (50, 20), (100, 30), (200, 50))], True),
    ('collab_book BPMF', 'bpmf', 'defaults (implicit, flipped, time)', 'full', SWEEPS, True),
    ('collab_book BPMF', 'bpmf', '+ demographics and genres', 'side', SWEEPS, True),
    ('fastai `collab_learner`', 'fastai', 'chapter (bs 64)', 'defaults', [{}], True),
    ('fastai `collab_learner`', 'fastai', 'chapter at bs 1024', 'tuned', [{}], True),
    ('Surprise', 'surprise', 'SVD defaults', 'svd', [dict(n_epochs=e) for e in (1, 2, 5, 10, 20)], False),
    ('Surprise', 'surprise', 'SVD, 50 factors', 'svd_tuned', [dict(n_epochs=e) for e in (5, 10, 20, 40)], False),
    ('Surprise', 'surprise', 'SVD++ defaults', 'svdpp', [dict(n_epochs=e) for e in (1, 2, 5, 10, 20)], False),
    ('myFM', 'myfm', 'MF, rank 10', 'plain', [dict(n_iter=n) for n in (10, 25, 50, 100, 200)], True),
    ('myFM', 'myfm', 'timeSVD++ flipped, rank 10', 'timeSVD++ flipped', [dict(n_iter=n) for n in (20, 25, 30, 50, 100, 200)], True),
    ('Spark ALS', 'spark', 'defaults (rank 10)', 'defaults', [dict(epochs=e) for e in (1, 2, 5, 10)], True),
    ('Spark ALS', 'spark', 'biases first, rank 50', 'tuned', [dict(epochs=e) for e in (2, 5, 15)], True),
    ('LensKit', 'lenskit', 'biased MF (ALS) defaults', 'defaults', [dict(epochs=e) for e in (1, 2, 5, 10, 20)], True),
    ('LensKit', 'lenskit', 'biased MF, 100 features', 'tuned', [dict(epochs=e) for e in (2, 5, 10, 20)], True),
]
LENSKIT = 'LensKit'  # runs in an environment of its own (`--lenskit-python`): its wheel needs pandas < 3
QUICK = [('collab_book `fit`', 'fit', 'defaults (bs 4096)', 'dense', [dict(epochs=3)], True),
         ('collab_book `fit`', 'fit', 'lazy row updates', 'lazy', [dict(epochs=3)], True),
         ('collab_book Learner path', 'learner', 'defaults (bs 4096)', 'defaults', [dict(epochs=3)], False)]
NO_LENSKIT = ("not run: its wheel needs pandas < 3, and this environment has pandas 3; give `--lenskit-python`, the "
              "interpreter of an environment with `lenskit` (see bench/README.md)")

def run_job(name, threads, python=None, **kw):
    "Run job `name` in a fresh interpreter at `threads` threads; its points, each with the job's peak memory."
    res = benchlib.run_job(__file__, name, threads, python=python, **kw)
    return [dict(pt, peak_gb=res['peak_gb']) for pt in res['points']]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='seconds, for CI: the engine at 1 and 2 threads agree')
    ap.add_argument('--out', default=str(root / 'bench' / 'peers'))
    ap.add_argument('--only', nargs='*', help='systems to run (default: all)')
    ap.add_argument('--report-only', action='store_true', help="rewrite results.md and frontier.png from --out's results.json")
    ap.add_argument('--lenskit-python', default=os.environ.get('LENSKIT_PYTHON'),
                    help="python of an environment with lenskit (its wheel needs pandas < 3); default: $LENSKIT_PYTHON")
    ap.add_argument('--job', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.job:
        benchlib.serve_job(a.job, JOBS, with_threads=True); return
    if a.report_only:
        d = json.loads((Path(a.out) / 'results.json').read_text())
        md = report(d['runs'], d['info']); print(md); return write(d['runs'], d['info'], md, Path(a.out))
    import torch
    cpus = os.cpu_count()
    info = dict(python=platform.python_version(), torch=torch.__version__, cpus=cpus, load_start=os.getloadavg(),
                seed=SEED, quick=a.quick)
    print(f"collab_book against its peers{' (quick)' if a.quick else ''}: ML-100K, the chapter's split, seed {SEED}; "
          f"{cpus} CPUs; load average at start {info['load_start'][0]:.2f}", flush=True)
    t_all, runs = time.perf_counter(), []
    info['not_run'] = {} if a.lenskit_python else {LENSKIT: NO_LENSKIT}
    data = Path(tempfile.mkdtemp())  # the split as CSV files, for a peer in an environment of its own
    trn, val, _ = split(); trn[['user', 'item', 'rating']].to_csv(data / 'train.csv', index=False)
    val[['user', 'item', 'rating']].to_csv(data / 'valid.csv', index=False)
    for system, job, label, setting, budgets, threaded in (QUICK if a.quick else PLAN):
        if (a.only and system not in a.only) or system in info['not_run']: continue
        own = dict(python=a.lenskit_python, data=str(data)) if system == LENSKIT else {}
        for threads in sorted({1, cpus}) if threaded else [1]:
            pts = [p for kw in budgets for p in run_job(job, threads, setting=setting, **own, **kw)]
            runs.append(dict(system=system, setting=label, threads=threads, points=pts))
            best = min(pts, key=lambda p: p['mse'])
            print(f"  {system}, {label}, {threads} thread(s): best MSE {best['mse']:.4f} after {best['secs']:.2f} s "
                  f"({best['budget']}); load {loadavg():.2f}", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    info.update(load_end=os.getloadavg(), total_secs=time.perf_counter() - t_all)
    if a.quick: return check_quick(runs)
    md = report(runs, info); print(md); write(runs, info, md, Path(a.out))

def check_quick(runs):
    "CI: one and all threads give the same MSE, and the engine's loop the same as fastai's `Learner` loop (the reference)."
    last = {(r['setting'], r['system'], r['threads']): r['points'][-1]['mse'] for r in runs}
    for setting in ('defaults (bs 4096)', 'lazy row updates'):
        by = {t: m for (s, sys_, t), m in last.items() if s == setting and sys_ == 'collab_book `fit`'}
        assert max(by.values()) - min(by.values()) < 1e-4, f"`fit` ({setting}): valid MSE differs between thread counts: {by}"
        print(f"OK: `fit` ({setting}) valid MSE {by} by thread count")
    ref, ours = last[('defaults (bs 4096)', 'collab_book Learner path', 1)], last[('defaults (bs 4096)', 'collab_book `fit`', 1)]
    assert abs(ref - ours) < 2e-3, f"`fit` ends at valid MSE {ours:.4f}, the Learner loop at {ref:.4f}"
    assert ours <= 0.86, f"the engine's valid MSE after 3 epochs is {ours:.4f}, worse than 0.86"
    print(f"OK: `fit` {ours:.4f}, the reference Learner loop {ref:.4f}, after 3 epochs")

def _family(r): return 'collab_book' if r['system'].startswith('collab_book') else r['system']
def first_below(pts, bar): return min((p['secs'] for p in pts if p['mse'] <= bar), default=math.inf)
def best_within(pts, secs): return min((p['mse'] for p in pts if p['secs'] <= secs), default=math.inf)
def fmt_s(x): return '-' if x == math.inf else f"{x:.2f}" if x < 10 else f"{x:.1f}"
def fmt_m(x): return '-' if x == math.inf else f"{x:.4f}"

def report(runs, info):
    L = [f"ML-100K, the chapter's split (`random_split(load_ratings(), 0.2, seed=42)`, 80,000 training ratings), seed {SEED}; "
         f"{info['cpus']} CPUs, torch {info['torch']}, Python {info['python']}. Load average (1 min) {info['load_start'][0]:.2f} at the "
         f"start, {info['load_end'][0]:.2f} at the end; whole run {info['total_secs']:.0f} s.", '',
         f"### Every system and setting: time to reach validation MSE <= {BAR}, best MSE within 60 s", '',
         f"| system | setting | threads | s to MSE <= {BAR} | best MSE within 60 s | its s | peak GB |", '|---|---|---|---|---|---|---|']
    for r in runs:
        pts = r['points']; b60 = [p for p in pts if p['secs'] <= 60]
        b = min(b60, key=lambda p: p['mse']) if b60 else None
        L.append(f"| {r['system']} | {r['setting']} | {r['threads']} | {fmt_s(first_below(pts, BAR))} | "
                 f"{fmt_m(b['mse']) if b else '-'} | {fmt_s(b['secs']) if b else '-'} | {max(p['peak_gb'] for p in pts):.2f} |")
    for s, why in info.get('not_run', {}).items(): L.append(f"| {s} | | | {why} | | | |")
    systems = list(dict.fromkeys(r['system'].split(' ')[0] if r['system'].startswith('collab_book') else r['system']
                                 for r in runs))
    fam = _family
    front = {s: {b: min(best_within(r['points'], b) for r in runs if fam(r) == s) for b in BUDGETS} for s in systems}
    L += ['', f"### The frontier: the best validation MSE each library reaches within a time budget (any setting, any thread count)", '',
          '| library | ' + ' | '.join(f"within {b} s" for b in BUDGETS) + ' |', '|---|' + '---|' * len(BUDGETS)]
    for s in systems: L.append(f"| {s} | " + ' | '.join(fmt_m(front[s][b]) for b in BUDGETS) + ' |')
    own = {b: all(front['collab_book'][b] <= front[s][b] for s in systems) for b in BUDGETS}
    L += ['', 'collab_book is at least as accurate as every peer within ' +
          ', '.join(f"{b} s: {'yes' if own[b] else 'NO'}" for b in BUDGETS) + '.']
    fa = [r for r in runs if r['system'].startswith('fastai') and r['setting'].startswith('chapter') and r['threads'] == 1]
    ours = min(first_below(r['points'], 0.825) for r in runs if fam(r) == 'collab_book')
    if fa:
        fa_secs, fa_mse = fa[0]['points'][-1]['secs'], fa[0]['points'][-1]['mse']
        L += ['', f"The library reaches MSE <= 0.825 after {fmt_s(ours)} s; fastai's `collab_learner` as the chapter runs it "
                  f"(one thread) trains {fa_secs:.1f} s and ends at {fa_mse:.4f}"
                  f"{' (it never reaches 0.825)' if first_below(fa[0]['points'], 0.825) == math.inf else ''}: "
                  f"**{fa_secs / ours:.0f}x** sooner (target: 100x)."]
    info['frontier'], info['owns_frontier'] = front, own
    return '\n'.join(L)

def write(runs, info, md, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / 'results.md').write_text(md + '\n')
    (out / 'results.json').write_text(json.dumps(dict(info=info, runs=runs), indent=1, default=str) + '\n')
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5))
    fams = list(dict.fromkeys(_family(r) for r in runs))
    styles = {}  # (system, setting) -> line style, in order within each library
    for r in runs: styles.setdefault((r['system'], r['setting']), ['-', '--', ':', '-.', (0, (3, 1, 1, 1))][
        sum(k[0].split(' ')[0] == r['system'].split(' ')[0] for k in styles) % 5])
    for r in runs:
        pts = sorted(r['points'], key=lambda p: p['secs'])
        ax.plot([max(p['secs'], 1e-2) for p in pts], [p['mse'] for p in pts], ls=styles[(r['system'], r['setting'])],
                marker='o' if r['threads'] == 1 else 's', ms=3, lw=1, color=f"C{fams.index(_family(r))}",
                label=f"{r['system']}, {r['setting']}" if r['threads'] == 1 else None)
    for b in BUDGETS: ax.axvline(b, c='gray', lw=0.6, ls=':')
    ax.axhline(BAR, c='k', lw=0.6, ls=':')
    ax.set_xscale('log'); ax.set_ylim(0.76, 1.0); ax.set_xlabel('training seconds'); ax.set_ylabel('validation MSE')
    ax.set_title("ML-100K, the chapter's split: time against accuracy (circles: 1 thread, squares: 2)")
    ax.legend(fontsize=5.5, loc='center left', bbox_to_anchor=(1.01, 0.5)); fig.tight_layout()
    fig.savefig(out / 'frontier.png', dpi=110)
    print(f"wrote {out.relative_to(root)}/results.md, results.json, frontier.png")

if __name__ == '__main__': main()
