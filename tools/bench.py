"""Benchmark of collab_book's fast training path against fastai's `collab_learner`, and its scaling.

    COLLAB_BOOK_DATA=... python tools/bench.py            # full run: writes bench/results.{md,json}, bench/scaling.png
    COLLAB_BOOK_DATA=... python tools/bench.py --quick    # seconds, for CI: fast path only, asserts its MSE

Every measurement runs in its own subprocess, so each peak memory (max RSS) is that job's alone.
"""
import argparse, json, os, platform, time
from pathlib import Path
import benchlib
from benchlib import loadavg, peak_gb, root
SEEDS = (42, 43, 44)
SYNTH = dict(epochs=20, bs=1 << 16, lr=0.02, noise=0.5)  # the synthetic runs' settings
# weight decay per size: less data needs more of it. Chosen by a short search on the validation RMSE of these runs (bench/README.md)
SYNTH_WD = {100_000: 1.25, 1_000_000: 1.25, 10_000_000: 0.25, 25_000_000: 0.05}
FLOOR_SAMPLE = 50_000  # validation ratings the floors are scored on
PROBE_N = 1_000_000  # ratings of the thread probe's one epoch: enough that the step's own work, not threading overhead, decides


# ---- jobs, each run in a fresh process -------------------------------------------------------------
def job_fastai(seed, epochs):
    "The chapter's recipe: collab_learner(n_factors=50, y_range=(0,5.5)), fit_one_cycle(5, 5e-3, wd=0.1), bs=64."
    from collab_book.data import load_ratings, random_split
    from collab_book.models import valid_mse
    trn, val = random_split(load_ratings(), 0.2, seed=42)
    learn = benchlib.book_learner(trn, val, bs=64, seed=seed)
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 5e-3, wd=0.1)
    secs = time.perf_counter() - t0
    return dict(seed=seed, secs=secs, mse=valid_mse(learn), loader=type(learn.dls.train).__name__, n=len(trn),
                epochs=epochs)

def job_fast(seed, epochs, bs):
    "collab_book.train: fast_dls + fit(DotProductBias) at batch size `bs`, lr and wd from `scale_hparams`."
    from collab_book.data import load_ratings, random_split, Vocab
    from collab_book.models import DotProductBias
    from collab_book.train import fast_dls, fit, model_mse, scale_hparams
    r = load_ratings(); trn, val = random_split(r, 0.2, seed=42)
    dls = fast_dls(trn, val, vocab=Vocab.from_ratings(r), bs=bs)
    fit(DotProductBias, dls, epochs=1, seed=seed, verbose=False)  # warm-up: first-call costs of torch
    t0 = time.perf_counter()
    m = fit(DotProductBias, dls, epochs=epochs, seed=seed, verbose=False)
    secs = time.perf_counter() - t0
    return dict(seed=seed, secs=secs, mse=model_mse(m, dls.valid), n=len(trn), epochs=epochs, bs=bs, **scale_hparams(bs))

def job_synth(n, epochs, bs, lr, wd, noise, n_valid):
    "Planted-factor ratings: `n` training ratings over 162K users x 62K items, lazy row-wise Adam; then how close it got."
    import torch
    from fastai.basics import DataLoaders
    from collab_book.models import DotProductBias
    from collab_book.train import FastDL, fit, model_mse
    from collab_book.lessons.planted import planted_ratings, planted_floor, reachable_rmse, factor_r2
    from collab_book.train import row_adam_kernel
    row_adam_kernel()  # load (or build) the compiled kernels before any clock runs
    t0 = time.perf_counter()
    x, y, planted = planted_ratings(n + n_valid, noise=noise, seed=0, model=True)
    gen = time.perf_counter() - t0
    dls = DataLoaders(FastDL(x[:n], y[:n], bs=bs, shuffle=True), FastDL(x[n:], y[n:], bs=1 << 16))
    uniq = []  # distinct rows per batch / batch size, over a few batches: for the bytes-moved estimate
    for k, (xb, _) in enumerate(dls.train):
        if k == 3: break
        uniq.append((len(xb[:, 0].unique()) + len(xb[:, 1].unique())) / (2 * len(xb)))
    torch.manual_seed(42)  # the starting weights: drawn under the seed, the same at any number of threads
    m = DotProductBias(162_000, 62_000, 50, y_range=(0, 7.5))
    fit(m, dls, epochs=epochs, lr=lr, wd=wd, lazy=True, seed=42, verbose=False)
    peak = peak_gb()  # training's peak, before the floors below allocate their own
    ep = [h['time'] for h in m.history]
    t0 = time.perf_counter()
    floors = {side: planted_floor(x[:n], y[:n], x[n:], y[n:], planted, side, n_sample=FLOOR_SAMPLE) for side in ('user', 'item')}
    r2 = {}
    for side, col in (('user', 0), ('item', 1)):  # rows with at least 100 training ratings, where there are enough of them
        rows = (torch.bincount(x[:n, col].long(), minlength=len(planted[f'{side}_factors'])) >= 100).nonzero().squeeze(1)
        learned = getattr(m, f'{side}_factors').weight.detach()
        r2[side] = dict(rows=len(rows), r2=factor_r2(learned[rows], planted[f'{side}_factors'][rows]) if len(rows) >= 1000 else None)
    mean_rmse = float(y[n:].std())
    return dict(n=n, epochs=epochs, bs=bs, lr=lr, wd=wd, gen_secs=gen, secs_per_epoch=sum(ep) / len(ep), epoch_secs=ep,
                rmse=model_mse(m, dls.valid) ** 0.5, rmse_by_epoch=[h['valid_loss'] ** 0.5 for h in m.history],
                noise=noise, mean_rmse=mean_rmse, uniq_frac=sum(uniq) / len(uniq), peak_gb=peak,
                floor_user=floors['user'], floor_item=floors['item'],
                reachable=reachable_rmse(floors['user'], floors['item'], noise, mean_rmse), floor_secs=time.perf_counter() - t0, factor_r2=r2,
                n_users=len(planted['user_factors']))

ROWS_TABLE, ROWS_PICKED = 1_250_000, 1_000_000  # a 255 MB table: far larger than the caches, like the lazy path's tables

def job_bandwidth():
    """Memory bandwidth of a large tensor copy (read + write), best of 5; and the rate of a scattered-row copy:
    `index_select` of ROWS_PICKED rows of 51 floats (a row of 50 factors and its bias) at random positions of a table
    of ROWS_TABLE rows (read + write), best of 5."""
    import torch
    a = torch.ones(1 << 27); b = torch.empty_like(a)  # 512 MiB each
    best = min(_t(lambda: b.copy_(a)) for _ in range(5))
    del a, b
    t = torch.ones(ROWS_TABLE, 51); o = torch.empty(ROWS_PICKED, 51)
    idx = torch.randint(0, ROWS_TABLE, (ROWS_PICKED,), generator=torch.Generator().manual_seed(0))
    rbest = min(_t(lambda: torch.index_select(t, 0, idx, out=o)) for _ in range(5))
    return dict(gb_s=2 * (1 << 27) * 4 / best / 1e9, bytes=(1 << 27) * 4,
                rows_gb_s=2 * ROWS_PICKED * 51 * 4 / rbest / 1e9, rows_table_bytes=ROWS_TABLE * 51 * 4)

def _t(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t

JOBS = dict(fastai=job_fastai, fast=job_fast, synth=job_synth, bandwidth=job_bandwidth)

def run_job(name, threads, **kw): return benchlib.run_job(__file__, name, threads, **kw)

# ---- the benchmark ---------------------------------------------------------------------------------
def bytes_per_rating(uniq_frac, k=50):
    """Bytes the lazy path must move per rating per epoch, in the compiled step (`mf_step`): the rating's two indices,
    its value and its position in the permutation; one user row and one item row read (each sweep reads the other
    side's row); and for each distinct row of a batch, its weights and both Adam moments read and written, and its
    decay stamp (a float64, for the factors and for the bias) read and written."""
    row = (k + 1) * 4  # factors + bias, float32
    per_rating = 8 + 4 + 4 + 2 * row
    per_row = 2 * row + 2 * 2 * row + 2 * 2 * 8
    return per_rating + 2 * uniq_frac * per_row

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='seconds, for CI: fast path on ML-100K and a small synthetic run')
    ap.add_argument('--threads', type=int, default=None,
                    help='threads for the synthetic runs and the bandwidth (default: 1 or all cores, whichever a short probe finds faster)')
    ap.add_argument('--small-threads', type=int, default=1, help='threads for both ML-100K paths')
    ap.add_argument('--out', default=str(root / 'bench'))
    ap.add_argument('--job', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.job:
        benchlib.serve_job(a.job, JOBS); return
    import torch
    probe = {}
    if a.threads is None and not a.quick:  # on a shared machine, two threads can be far slower than one: measure, don't assume
        for t in sorted({1, os.cpu_count()}):
            probe[t] = run_job('synth', t, n=PROBE_N, **{**SYNTH, 'epochs': 1}, wd=SYNTH_WD[PROBE_N], n_valid=20_000)['secs_per_epoch']
    T = a.threads or (min(probe, key=probe.get) if probe else 1)
    info = dict(python=platform.python_version(), torch=torch.__version__, cpus=os.cpu_count(), threads=T, probe_n=PROBE_N,
                gpu='not run: no GPU was lent to this task' if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
                load_start=loadavg(), quick=a.quick, thread_probe_secs_per_epoch=probe)
    print(f"collab_book benchmark{' (quick)' if a.quick else ''}: {T} thread(s) of {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"GPU: {info['gpu']}")
    print(f"load average at start: {info['load_start']:.2f}", flush=True)
    if probe: print(f"thread probe (s/epoch of {PROBE_N:,} synthetic ratings): {probe}; using {T}", flush=True)
    t_all = time.perf_counter()
    res = dict(info=info)
    seeds = SEEDS[:1] if a.quick else SEEDS
    def step(name, threads=T, **kw):
        r = run_job(name, threads, **kw); r['threads'] = threads
        print(f"  {name} {kw}, {threads} thread(s): done, load {loadavg():.2f}", flush=True); return r
    # the limit is the machine's: the copies run on all cores, whatever the training uses. On a shared machine the copy
    # bandwidth moves with the neighbours' load: probe before, between and after the training runs and keep the
    # highest (the strictest limit); every probe is in results.json
    bandwidth = lambda: step('bandwidth', os.cpu_count())
    probes = [bandwidth()]
    # ML-100K at a.small_threads: batches of 64 gain nothing from a second thread, and on a shared machine lose a lot
    res['fast'] = [step('fast', a.small_threads, seed=s, epochs=5, bs=4096) for s in seeds]
    res['fastai'] = [] if a.quick else [step('fastai', a.small_threads, seed=s, epochs=5) for s in seeds]
    sizes = (100_000,) if a.quick else (100_000, 1_000_000, 10_000_000, 25_000_000)
    res['synth'] = []
    for n in sizes:
        if n >= 1_000_000: probes.append(bandwidth())
        res['synth'].append(step('synth', n=n, **SYNTH, wd=SYNTH_WD[n], n_valid=min(max(n // 10, 20_000), 500_000)))
    res['bandwidth_probes'] = probes + [bandwidth()]
    res['bandwidth'] = max(res['bandwidth_probes'], key=lambda b: b['gb_s'])
    info['load_end'] = loadavg(); info['total_secs'] = time.perf_counter() - t_all
    md = report(res)
    print(md)
    check_quick(res) if a.quick else write(res, md, Path(a.out))

def mean(xs): return sum(xs) / len(xs)

def report(res):
    info, fa, fs, sy, bw = res['info'], res['fastai'], res['fast'], res['synth'], res['bandwidth']
    pr = info.get('thread_probe_secs_per_epoch') or {}
    L = [f"Machine: {info['cpus']} CPUs, {info['threads']} thread(s) for the synthetic runs" +
         (f" (chosen by a probe, s/epoch of {info.get('probe_n', 200_000):,} ratings: {', '.join(f'{k} thread(s) {v:.2f}' for k, v in pr.items())})" if pr else '') +
         f", torch {info['torch']}; GPU: {info['gpu']}.",
         f"Load average (1 min) at start {info['load_start']:.2f}, at end {info['load_end']:.2f}; whole run {info['total_secs']:.0f} s.", '',
         '### ML-100K, the chapter\'s split (`random_split(load_ratings(), 0.2, seed=42)`), 5 epochs', '',
         '| path | seed | batch | threads | train s | valid MSE | ratings/s | peak GB |', '|---|---|---|---|---|---|---|---|']
    for r in fa: L.append(f"| fastai `collab_learner` ({r['loader']}) | {r['seed']} | 64 | {r['threads']} | {r['secs']:.2f} | {r['mse']:.4f} | {r['n']*r['epochs']/r['secs']:,.0f} | {r['peak_gb']:.2f} |")
    for r in fs: L.append(f"| `fit` (lr {r['lr']:.3g}, wd {r['wd']:.3g}) | {r['seed']} | {r['bs']} | {r['threads']} | {r['secs']:.3f} | {r['mse']:.4f} | {r['n']*r['epochs']/r['secs']:,.0f} | {r['peak_gb']:.2f} |")
    fsm, fss = mean([r['mse'] for r in fs]), mean([r['secs'] for r in fs])
    L.append(f"| **`fit`, mean of {len(fs)}** | | | | **{fss:.3f}** | **{fsm:.4f}** | | |")
    if fa:
        fam, fas = mean([r['mse'] for r in fa]), mean([r['secs'] for r in fa])
        L.append(f"| **`collab_learner`, mean of {len(fa)}** | | | | **{fas:.2f}** | **{fam:.4f}** | | |")
        L += ['', f"Speed-up (mean seconds): **{fas/fss:.0f}x**; valid MSE {fsm:.4f} (fast) vs {fam:.4f} (collab_learner); chapter: 0.821. "
                  f"Targets: MSE <= 0.825 ({'met' if fsm <= 0.825 else 'missed'}), <= 0.5 s ({'met' if fss <= 0.5 else 'missed'}), "
                  f">= 40x ({'met' if fas/fss >= 40 else 'missed'})."]
    s0 = sy[0]
    L += ['', f"### Synthetic planted-factor ratings: 162,000 users, 62,000 items, 50 factors, noise std {s0['noise']}, lazy row-wise Adam, "
              f"batch {s0['bs']:,}, lr {s0['lr']}, weight decay per size (below), {s0['threads']} thread(s), {s0['epochs']} epochs (s/epoch is their mean)", '',
          '| ratings | s/epoch | ratings/s | s/epoch per M ratings | peak GB | bytes/rating | % of bandwidth limit |',
          '|---|---|---|---|---|---|---|']
    for r in sy:
        bpr = bytes_per_rating(r['uniq_frac']); rate = r['n'] / r['secs_per_epoch']; lim = bw['gb_s'] * 1e9 / bpr
        r.update(bytes_per_rating=bpr, ratings_per_s=rate, limit_ratings_per_s=lim)
        L.append(f"| {r['n']:,} | {r['secs_per_epoch']:.2f} | {rate:,.0f} | {r['secs_per_epoch']/r['n']*1e6:.2f} | {r['peak_gb']:.2f} | "
                 f"{bpr:,.0f} | {rate/lim:.0%} |")
    r2s = lambda d: '-' if d['r2'] is None else f"{d['r2']:.3f} ({d['rows']:,})"
    L += ['', f"Recovery of the planted model, validation RMSE after the last epoch. Floors: each side's rows estimated (Bayes) from the training "
              f"ratings with the other side's planted values known, scored on {FLOOR_SAMPLE:,} validation ratings; each is a lower bound for any model. "
              "Reachable: `reachable_rmse` of the two floors, an estimate with both sides unknown (the shares of the planted signal each floor explains, multiplied). "
              "R²: share of the planted factors explained by a linear map of the learned ones, over rows with at least 100 training ratings (how many in brackets).", '',
          '| ratings | ratings per user | wd | valid RMSE | floor, users estimated | floor, items estimated | reachable (estimate) | noise | predict the mean | R² user factors | R² item factors |',
          '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in sy:
        L.append(f"| {r['n']:,} | {r['n']/r['n_users']:.1f} | {r['wd']} | **{r['rmse']:.3f}** | {r['floor_user']:.3f} | {r['floor_item']:.3f} | {r['reachable']:.3f} | "
                 f"{r['noise']:.2f} | {r['mean_rmse']:.3f} | {r2s(r['factor_r2']['user'])} | {r2s(r['factor_r2']['item'])} |")
    big = sy[-1]
    probes = ', '.join(f"{b['gb_s']:.1f}" for b in res.get('bandwidth_probes', [bw]))
    L += ['', f"Measured memory bandwidth (tensor copy on {bw.get('threads', info['threads'])} thread(s), read + write, best of 5; the highest of the probes before, between and "
              f"after the training runs: {probes} GB/s): {bw['gb_s']:.1f} GB/s, so the limit for the lazy path is about "
              f"{big['limit_ratings_per_s']/1e6:.1f} M ratings/s at {big['bytes_per_rating']:,.0f} bytes per rating; reached {big['ratings_per_s']/big['limit_ratings_per_s']:.0%} at {big['n']:,} ratings "
              f"(by the mean epoch; its fastest epoch, {min(big['epoch_secs']):.2f} s, reached {big['n']/min(big['epoch_secs'])/big['limit_ratings_per_s']:.0%}: "
              "the epochs are timed under whatever else this shared machine runs).",
          f"Largest size: one epoch of {big['n']:,} ratings in {big['secs_per_epoch']:.1f} s, peak {big['peak_gb']:.2f} GB" +
          (f" (targets for 25M: <= 10 s {'met' if big['secs_per_epoch'] <= 10 else 'missed'}, >= 40% of the bandwidth limit "
           f"{'met' if big['ratings_per_s'] >= 0.4 * big['limit_ratings_per_s'] else 'missed'}, <= 1.5 GB "
           f"{'met' if big['peak_gb'] <= 1.5 else 'missed'}, RMSE 0.669 +- 0.01 {'met' if abs(big['rmse'] - 0.669) <= 0.01 else 'missed'})."
           if big['n'] >= 25_000_000 else ".")]
    rows = [b for b in res.get('bandwidth_probes', [bw]) if 'rows_gb_s' in b]
    if rows:  # the second yardstick: how fast this machine copies scattered rows, which is what the sweeps do
        rw, each = max(b['rows_gb_s'] for b in rows), ', '.join(f"{b['rows_gb_s']:.1f}" for b in rows)
        res['rows_gb_s'] = rw; big['rows_limit_ratings_per_s'] = rw * 1e9 / big['bytes_per_rating']
        L += ['', f"Scattered rows (`index_select` of {ROWS_PICKED:,} rows of 51 floats at random positions of a "
                  f"{ROWS_TABLE * 51 * 4 / 1e6:.0f} MB table, read + write, best of 5, at each probe: "
                  f"{each} GB/s): {rw:.1f} GB/s, {rw / bw['gb_s']:.0%} of the copy's. "
                  f"At that rate the {big['n']:,}-rating epoch's {big['bytes_per_rating']:,.0f} bytes per rating would take "
                  f"{big['n'] / big['rows_limit_ratings_per_s']:.2f} s; the mean epoch moved them at "
                  f"{big['ratings_per_s'] / big['rows_limit_ratings_per_s']:.0%} of that rate."]
    return '\n'.join(L)

def check_quick(res):
    "CI: the fast path's MSE must match the standard path's (the committed collab_learner mean, or 0.83)."
    ref = root / 'bench' / 'results.json'
    bar = mean([r['mse'] for r in json.loads(ref.read_text())['fastai']]) if ref.exists() else 0.83
    m = mean([r['mse'] for r in res['fast']])
    assert m <= bar + 0.005, f"fast path valid MSE {m:.4f} is worse than the standard path's {bar:.4f}"
    print(f"OK: fast path valid MSE {m:.4f} <= standard path {bar:.4f} + 0.005")
    for r in res['synth']:  # the floors are lower bounds: a model cannot beat them, and they cannot beat the noise
        lo = max(r['floor_user'], r['floor_item'])
        assert r['noise'] - 0.02 <= lo <= r['rmse'] + 0.02, f"floors {r['floor_user']:.3f}/{r['floor_item']:.3f}, noise {r['noise']}, model {r['rmse']:.3f}"
    print(f"OK: synthetic floors between the noise and the model's RMSE")

def write(res, md, out):
    out.mkdir(exist_ok=True)
    (out / 'results.md').write_text(md + '\n')
    (out / 'results.json').write_text(json.dumps(res, indent=1) + '\n')
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    sy = res['synth']; n = [r['n'] for r in sy]
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 3.8))
    a0.loglog(n, [r['secs_per_epoch'] for r in sy], 'o-', label='measured')
    a0.loglog(n, [sy[-1]['secs_per_epoch'] * x / n[-1] for x in n], 'k:', label='linear through the largest')
    a0.loglog(n, [x / r['limit_ratings_per_s'] for x, r in zip(n, sy)], 'g--', label='memory-bandwidth limit')
    if 'rows_gb_s' in res:  # the same bytes at the rate of a scattered-row copy
        a0.loglog(n, [x * r['bytes_per_rating'] / (res['rows_gb_s'] * 1e9) for x, r in zip(n, sy)], 'm-.', label='scattered-row rate')
    a0.set_xlabel('training ratings'); a0.set_ylabel('seconds per epoch'); a0.legend(); a0.set_title('time per epoch')
    a1.semilogx(n, [r['rmse'] for r in sy], 'o-', label=f'valid RMSE ({sy[0]["epochs"]} epochs)')
    a1.semilogx(n, [r['reachable'] for r in sy], 's--', color='tab:purple', label='reachable (estimate)')
    a1.semilogx(n, [max(r['floor_user'], r['floor_item']) for r in sy], 'g-.', label='lower bound (larger floor)')
    a1.axhline(sy[0]['noise'], color='k', ls=':', label='noise'); a1.semilogx(n, [r['mean_rmse'] for r in sy], 'r--', label='predict the mean')
    a1.set_xlabel('training ratings'); a1.set_ylabel('RMSE'); a1.legend(); a1.set_title('recovery of the planted factors')
    for ax in (a0, a1): ax.grid(alpha=.3)
    fig.tight_layout(); fig.savefig(out / 'scaling.png', dpi=100)
    print(f"wrote {out.name}/results.md, results.json, scaling.png")

if __name__ == '__main__': main()
