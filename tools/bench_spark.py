"""ALS on Spark against collab_book's engine: ML-100K's canonical splits, and planted ratings from 1M to 25M.

    COLLAB_BOOK_DATA=... python tools/bench_spark.py                      # full run: writes bench/spark/results.{md,json}
    COLLAB_BOOK_DATA=... python tools/bench_spark.py --sizes 1000000      # planted sizes to run (25M only within --budget)
    COLLAB_BOOK_DATA=... python tools/bench_spark.py --quick              # minutes: u1 only, 1M planted, no cluster
    COLLAB_BOOK_DATA=... python tools/bench_spark.py --long 25000000 15 0.035  # add a longer ALS run (N, iterations, l2)

Every measurement runs in its own subprocess, so each peak memory is that job's alone. Spark runs in `local[2]`
(the driver and its executor are one JVM: its peak resident memory is read from /proc); the cluster job starts a
standalone master and two one-core workers on this machine and reads each executor's peak the same way. Shuffle
bytes come from Spark's status store. The floors of the planted ratings come from bench/results.json (tools/bench.py
scores them on the same data: seed 0, the same sizes and validation sets).
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path
import benchlib
from benchlib import loadavg, root
SPLITS = ('u1', 'u2', 'u3', 'u4', 'u5')
SEED = 42
ML_ALS = dict(n_factors=50, l2=0.15, epochs=15, n_blocks=2)  # ALS on ML-100K (plain and on bias residuals)
SYNTH_ALS = dict(n_factors=50, epochs=5, n_blocks=2)
SYNTH_L2 = {1_000_000: 0.3, 10_000_000: 0.1, 25_000_000: 0.05}  # chosen on small planted sets of the same ratings per row, 5 iterations
ENGINE = dict(epochs=20, bs=1 << 16, lr=0.02)  # the engine's planted runs, as tools/bench.py
ENGINE_WD = {1_000_000: 1.25, 10_000_000: 0.25, 25_000_000: 0.05}

def md_table(df, index=True):
    "A DataFrame as a Markdown table (no `tabulate` needed)."
    d = df.reset_index() if index else df
    fmt = lambda v: '' if v is None or (isinstance(v, float) and v != v) else str(v)
    return '\n'.join(['| ' + ' | '.join(map(str, d.columns)) + ' |', '|' + ' --- |' * len(d.columns)] +
                     ['| ' + ' | '.join(fmt(v) for v in r) + ' |' for r in d.itertuples(index=False)])

def n_valid(n): return min(max(n // 10, 20_000), 500_000)  # as tools/bench.py

def vm_hwm_gb(pid):
    "Peak resident memory of process `pid` (VmHWM), GB."
    for l in Path(f'/proc/{pid}/status').read_text().splitlines():
        if l.startswith('VmHWM:'): return int(l.split()[1]) / 2**20

def shuffle_bytes(spark):
    "Bytes written to shuffles by every stage this application ran so far (from the web UI's REST API)."
    import urllib.request
    sc = spark.sparkContext
    with urllib.request.urlopen(f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages", timeout=30) as r:
        return sum(s['shuffleWriteBytes'] for s in json.load(r))

def _ui_conf():
    "Settings that turn the web UI on (on a free port), for its REST API."
    import socket
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    return {'spark.ui.enabled': 'true', 'spark.ui.port': str(port), 'spark.ui.retainedStages': '100000'}

def executor_peaks():
    "Peak resident memory (GB) of each Spark executor process on this machine."
    import psutil
    return [vm_hwm_gb(p.pid) for p in psutil.process_iter(['cmdline'])
            if any('CoarseGrainedExecutorBackend' in c for c in (p.info['cmdline'] or []))]

# ---- jobs, each run in a fresh process -------------------------------------------------------------
def job_ml_engine(split):
    from collab_book.data import Vocab, load_ratings, load_split
    from collab_book.metrics import model_scores, rating_metrics
    from collab_book.train import CHAPTER, fit_recipe
    v = Vocab.from_ratings(load_ratings()); trn, tst = load_split(split)
    t0 = time.perf_counter(); m = fit_recipe(trn, v, CHAPTER, seed=SEED); secs = time.perf_counter() - t0
    return dict(split=split, model='engine, CHAPTER', secs=secs, seed=SEED, **rating_metrics(model_scores(m), tst, v))

def job_ml_spark(split):
    from collab_book.data import Vocab, load_ratings, load_split
    from collab_book.metrics import model_scores, rating_metrics
    from collab_book.spark import fit_als, spark_session
    v = Vocab.from_ratings(load_ratings()); trn, tst = load_split(split)
    spark = spark_session('local[2]', driver_memory='2g')
    rows = []
    for biases in (False, True):
        m = fit_als(trn, v, biases=biases, master=spark, seed=SEED, verbose=False, **ML_ALS)
        rows.append(dict(split=split, model='bias + ALS' if biases else 'ALS', secs=sum(m.als['secs'].values()),
                         secs_parts=m.als['secs'], seed=SEED, **rating_metrics(model_scores(m), tst, v)))
    return dict(rows=rows, jvm_peak_gb=vm_hwm_gb(spark.sparkContext._gateway.proc.pid))

def _planted(n):
    from collab_book.lessons.planted import planted_ratings
    return planted_ratings(n + n_valid(n), noise=0.5, seed=0, model=False)

def job_synth_spark(n, l2, csv, master, cluster, epochs=None):
    "ALS on `n` planted ratings read by Spark from the CSV file `csv`; `cluster`: a standalone cluster on this machine."
    import contextlib, numpy as np, torch
    from collab_book.data import Vocab
    from collab_book.spark import fit_als, spark_session, standalone_cluster
    x, y = _planted(n)
    xv, yv = x[n:], y[n:]
    v = Vocab(np.arange(162_000), np.arange(62_000))
    with (standalone_cluster(n_workers=2, cores=1, memory='6g') if cluster else contextlib.nullcontext(master)) as url:
        spark = spark_session(url, driver_memory='6g', conf={**_ui_conf(), **({'spark.executor.memory': '5g'} if cluster else {})})
        kw = {**SYNTH_ALS, 'epochs': epochs or SYNTH_ALS['epochs']}
        m = fit_als(csv, v, l2=l2, master=spark, seed=SEED, verbose=True, **kw)
        sh, ex = shuffle_bytes(spark), executor_peaks()
        jvm = vm_hwm_gb(spark.sparkContext._gateway.proc.pid)
    with torch.no_grad(): rmse = float(((m(xv.long()).view(-1) - yv) ** 2).mean().sqrt())
    return dict(n=n, master=m.als['master'], l2=l2, **kw, secs=m.als['secs'],
                secs_per_iter=m.als['secs']['als'] / kw['epochs'], rmse=rmse, shuffle_gb=sh / 1e9,
                driver_jvm_peak_gb=jvm, executor_peak_gb=ex, seed=SEED)

def job_synth_engine(n, epochs):
    import torch
    from fastai.basics import DataLoaders
    from collab_book.models import DotProductBias
    from collab_book.train import FastDL, fit, model_mse
    x, y = _planted(n)
    dls = DataLoaders(FastDL(x[:n], y[:n], bs=ENGINE['bs'], shuffle=True), FastDL(x[n:], y[n:], bs=1 << 16))
    m = DotProductBias(162_000, 62_000, 50, y_range=(0, 7.5))
    fit(m, dls, epochs=epochs, lr=ENGINE['lr'], wd=ENGINE_WD[n], lazy=True, seed=SEED, verbose=False)
    ep = [h['time'] for h in m.history]
    return dict(n=n, epochs=epochs, secs_per_epoch=sum(ep) / len(ep), rmse=model_mse(m, dls.valid) ** 0.5, seed=SEED,
                threads=torch.get_num_threads())

JOBS = dict(ml_engine=job_ml_engine, ml_spark=job_ml_spark, synth_spark=job_synth_spark, synth_engine=job_synth_engine)

def run_job(name, threads=1, **kw):
    "Run job `name` in a fresh interpreter; its result dict, with the Python process's peak memory in GB."
    res = benchlib.run_job(__file__, name, threads, **kw)
    print(f"  {name} {kw}: {res['wall_secs']:.0f} s (load {loadavg():.1f})", flush=True)
    return res

# ---- the report ------------------------------------------------------------------------------------
def report(res):
    import numpy as np, pandas as pd
    i = res['info']
    out = [f"{i['cpus']} CPUs, PySpark {i['pyspark']} on Java {i['java']}, torch {i['torch']}; "
           f"load average {i['load_start']:.2f} at start, {i['load_end']:.2f} at end; {i['secs']:.0f} s in all; seed {SEED}.", '']
    ml = pd.DataFrame(res['ml100k'])
    t = ml.pivot_table(index='split', columns='model', values='rmse')
    t.loc['mean'] = t.mean()
    s = ml.groupby('model').secs.mean()
    out += ['### ML-100K, canonical splits u1..u5: test RMSE', '',
            f"ALS: {ML_ALS['n_factors']} factors, l2 {ML_ALS['l2']}, {ML_ALS['epochs']} iterations, {ML_ALS['n_blocks']} blocks, "
            "Spark local[2]; the engine: `fit_recipe(train, vocab, CHAPTER)` on one thread. Same test ratings, same `rating_metrics`.", '',
            md_table(t.round(4)), '', 'Mean seconds per split (Spark: loading, biases, ALS and export, in a warm session): ' +
            ', '.join(f"{k} {v:.1f}" for k, v in s.items()), '']
    rows = []
    for r in res['synth_spark']:
        f = res['floors'].get(str(r['n']), {})
        rows.append({'ratings': f"{r['n']/1e6:g}M", 'where': 'cluster (2 workers)' if r['master'].startswith('spark') else r['master'],
                     's/iteration': round(r['secs_per_iter'], 1), 'load+biases s': round(r['secs']['load'] + r['secs']['biases'], 1),
                     'shuffle GB': round(r['shuffle_gb'], 2), 'driver JVM GB': round(r['driver_jvm_peak_gb'], 2),
                     'executors GB': ', '.join(f"{g:.2f}" for g in r['executor_peak_gb']) or '(in the driver)',
                     'python GB': round(r['peak_gb'], 2), 'RMSE': round(r['rmse'], 3),
                     'reachable': round(f['reachable'], 3) if f else None, 'noise floor': 0.5})
    for r in res.get('long', []):
        f = res['floors'].get(str(r['n']), {})
        rows.append({'ratings': f"{r['n']/1e6:g}M", 'where': f"local[2], {r['epochs']} iterations, l2 {r['l2']}",
                     's/iteration': round(r['secs_per_iter'], 1), 'load+biases s': round(r['secs']['load'] + r['secs']['biases'], 1),
                     'shuffle GB': round(r['shuffle_gb'], 2), 'driver JVM GB': round(r['driver_jvm_peak_gb'], 2),
                     'executors GB': '(in the driver)', 'python GB': round(r['peak_gb'], 2), 'RMSE': round(r['rmse'], 3),
                     'reachable': round(f['reachable'], 3) if f else None, 'noise floor': 0.5})
    for r in res['synth_engine']:
        f = res['floors'].get(str(r['n']), {})
        rows.append({'ratings': f"{r['n']/1e6:g}M", 'where': f"engine, {r['threads']} thread(s)", 's/iteration': round(r['secs_per_epoch'], 1),
                     'python GB': round(r['peak_gb'], 2), 'RMSE': round(r['rmse'], 3) if r['epochs'] >= 20 else None,
                     'reachable': round(f['reachable'], 3) if f else None, 'noise floor': 0.5,
                     'load+biases s': None, 'shuffle GB': None, 'driver JVM GB': None, 'executors GB': None})
    out += ['### Planted ratings (162,000 users, 62,000 items, 50 planted factors, noise 0.5)', '',
            f"ALS: bias + ALS, {SYNTH_ALS['n_factors']} factors, {SYNTH_ALS['epochs']} iterations, {SYNTH_ALS['n_blocks']} blocks, l2 by size "
            f"{ {f'{k/1e6:g}M': v for k, v in SYNTH_L2.items()} }, read by Spark from CSV. The engine: the lazy path "
            f"(`tools/bench.py` settings); an engine 's/iteration' is seconds per epoch, and its RMSE is shown after 20 epochs only. "
            "'reachable' is the estimate of `13a_scale` from bench/results.json.", '',
            md_table(pd.DataFrame(rows), index=False), '']
    out += [f"The {r['n']/1e6:g}M run with {r['epochs']} iterations was added by `--long {r['n']} {r['epochs']} {r['l2']}` "
            f"(load average {r['load_start']:.2f} at start, {r['load_end']:.2f} at end)." for r in res.get('long', [])]
    out += res.get('notes', [])
    return '\n'.join(out) + '\n'

def long_run(out, n, epochs, l2):
    "One more local[2] ALS run on `n` planted ratings with `epochs` iterations, added to results.json."
    import pandas as pd
    res = json.loads((out / 'results.json').read_text())
    with tempfile.TemporaryDirectory() as d:
        x, y = _planted(n); csv = Path(d) / f'planted-{n}.csv'
        pd.DataFrame(dict(user=x[:n, 0].numpy(), item=x[:n, 1].numpy(), rating=y[:n].numpy())).to_csv(
            csv, index=False, float_format='%.5f')
        del x, y
        load = loadavg()
        r = run_job('synth_spark', n=n, l2=l2, csv=str(csv), master='local[2]', cluster=False, epochs=epochs)
    res['long'] = [*res.get('long', []), {**r, 'load_start': load, 'load_end': loadavg()}]
    (out / 'results.json').write_text(json.dumps(res, indent=1) + '\n')
    (out / 'results.md').write_text(report(res))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--sizes', type=int, nargs='*', default=[1_000_000, 10_000_000, 25_000_000])
    ap.add_argument('--budget', type=float, default=900, help='seconds a Spark run may take; larger sizes are skipped by extrapolation')
    ap.add_argument('--out', default=str(root / 'bench' / 'spark'))
    ap.add_argument('--report', action='store_true', help='only rewrite results.md from results.json')
    ap.add_argument('--long', type=float, nargs=3, metavar=('N', 'ITERATIONS', 'L2'),
                    help='add one longer local[2] ALS run to results.json, e.g. --long 25000000 15 0.035')
    ap.add_argument('--job', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.job:
        benchlib.serve_job(a.job, JOBS); return
    if a.long:
        return long_run(Path(a.out), int(a.long[0]), int(a.long[1]), a.long[2])
    if a.report:
        out = Path(a.out); (out / 'results.md').write_text(report(json.loads((out / 'results.json').read_text()))); return
    import pyspark, torch
    from collab_book.spark import java_home, _java_version
    t_all = time.perf_counter()
    info = dict(cpus=os.cpu_count(), pyspark=pyspark.__version__, torch=torch.__version__,
                java=_java_version(Path(java_home())), python=platform.python_version(), load_start=loadavg(), quick=a.quick)
    print(f"Spark benchmark: load average {info['load_start']:.2f}", flush=True)
    res = dict(info=info, notes=[])
    splits = SPLITS[:1] if a.quick else SPLITS
    res['ml100k'] = [run_job('ml_engine', split=s) for s in splits]
    for s in splits:
        r = run_job('ml_spark', split=s); res['ml100k'] += r['rows']
    bench = json.loads((root / 'bench' / 'results.json').read_text())
    res['floors'] = {str(r['n']): {k: r[k] for k in ('floor_user', 'floor_item', 'reachable', 'mean_rmse')} for r in bench['synth']}
    sizes = [1_000_000] if a.quick else a.sizes
    res['synth_spark'], res['synth_engine'] = [], []
    with tempfile.TemporaryDirectory() as d:
        import pandas as pd
        from collab_book.lessons.planted import planted_ratings
        for n in sizes:
            done = [r for r in res['synth_spark'] if r['master'].startswith('local')]
            if len(done) >= 2 and n > done[-1]['n'] > done[-2]['n']:  # linear extrapolation from the last two local sizes
                (n0, s0), (n1, s1) = [(r['n'], r['wall_secs']) for r in done[-2:]]
                est = s1 + (s1 - s0) / (n1 - n0) * (n - n1)
                if est > a.budget:
                    msg = (f"The {n/1e6:g}M Spark run was not made: from the 1M and 10M runs ({s0:.0f} s and {s1:.0f} s in all) it "
                           f"would take about {est:.0f} s, over the budget of {a.budget:.0f} s.")
                    print(msg); res['notes'].append(msg); continue
            x, y = planted_ratings(n, noise=0.5, seed=0)  # the first n of the n + n_valid: the same draws (chunked generator)
            csv = Path(d) / f'planted-{n}.csv'
            pd.DataFrame(dict(user=x[:, 0].numpy(), item=x[:, 1].numpy(), rating=y.numpy())).to_csv(csv, index=False, float_format='%.5f')
            del x, y
            res['synth_spark'].append(run_job('synth_spark', n=n, l2=SYNTH_L2[n], csv=str(csv), master='local[2]', cluster=False))
            if n == sizes[0] and not a.quick:
                res['synth_spark'].append(run_job('synth_spark', n=n, l2=SYNTH_L2[n], csv=str(csv), master=None, cluster=True))
            csv.unlink()
            (Path(a.out) / 'partial.json').parent.mkdir(parents=True, exist_ok=True)
            (Path(a.out) / 'partial.json').write_text(json.dumps(res, indent=1))
    for n in sizes:
        res['synth_engine'].append(run_job('synth_engine', n=n, epochs=ENGINE['epochs'] if n <= 10_000_000 else 2))
    info.update(load_end=loadavg(), secs=time.perf_counter() - t_all)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / 'results.json').write_text(json.dumps(res, indent=1) + '\n')
    (out / 'results.md').write_text(report(res))
    (out / 'partial.json').unlink(missing_ok=True)
    print(report(res))

if __name__ == '__main__': main()
