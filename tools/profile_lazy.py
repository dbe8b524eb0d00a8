"""Where an epoch of the lazy path goes: one epoch of `fit(..., lazy=True)` on planted ratings under PyTorch's profiler.

    COLLAB_BOOK_DATA=... python tools/profile_lazy.py [--n 25000000] [--threads 2] [--path fused|autograd]

Trains the benchmark's setting (`tools/bench.py`'s `SYNTH`, 50 factors, batch 65,536) with `fit`, one epoch at a
time: a warm-up, one timed without the profiler and one under it. Prints the epoch's seconds, the share taken by each
phase of a step, and the operators with the most time of their own. The phases are the named ranges `fit`'s own loop
marks when `collab_book.train._RANGES` is on (this script turns it on for the profiled epoch), so the table says
what is and is not the update itself; the loader and the loop's own work are the rest of the epoch.

`--path autograd` is the general step, which `fit` takes for every model but exactly `DotProductBias` (here, a
subclass of it): the model's forward and the loss in PyTorch ops, autograd's sparse gradients, then `RowAdam`
(gradient rows summed per distinct row, the compiled row update). `--path fused` (what `fit` runs for a
`DotProductBias` on the MSE loss) is one compiled pass, `mf_step`; its own parts are timed inside the kernel
(`mf_times`) and printed below the profiler's table.
"""
import argparse, time
from pathlib import Path
import sys

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root / 'tools'))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=25_000_000, help='training ratings')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rows', type=int, default=25, help='operators to list')
    ap.add_argument('--path', choices=('fused', 'autograd'), default='fused', help='which step to profile')
    a = ap.parse_args()
    import torch
    from torch.profiler import profile, ProfilerActivity
    from fastai.basics import DataLoaders
    from bench import SYNTH, SYNTH_WD
    import collab_book.train as train
    from collab_book.lessons.planted import planted_ratings
    from collab_book.models import DotProductBias
    from collab_book.train import FastDL, fit, row_adam_kernel
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter(); x, y = planted_ratings(a.n, noise=SYNTH['noise'], seed=0)
    print(f"{a.n:,} planted ratings in {time.perf_counter() - t0:.1f} s; {a.threads} thread(s); torch {torch.__version__}")
    dls = DataLoaders(FastDL(x, y, bs=SYNTH['bs'], shuffle=True))
    wd = SYNTH_WD.get(a.n, SYNTH_WD[max(k for k in SYNTH_WD if k <= a.n)])
    class General(DotProductBias): pass  # `fit` keeps its compiled step for exactly `DotProductBias`: the general step
    torch.manual_seed(42)
    m = (DotProductBias if a.path == 'fused' else General)(162_000, 62_000, 50, y_range=(0, 7.5))
    # `fit`'s own loop, one epoch at a time: a warm-up (the kernel's build, first-call costs), one unprofiled, one profiled
    epoch = lambda: fit(m, dls, epochs=1, lr=SYNTH['lr'], wd=wd, lazy=True, seed=42, verbose=False).history[0]['time']
    epoch()
    kern = row_adam_kernel()
    if a.path == 'fused' and kern is None: raise SystemExit("the compiled kernel did not build: no fused step")
    if kern: kern.mf_times(True)  # drop the warm-up's times
    plain = epoch()
    parts = kern.mf_times(True) if a.path == 'fused' else None  # the kernel's own parts, unprofiled epoch
    train._RANGES = True  # each phase of `fit`'s step becomes a profiler range
    with profile(activities=[ProfilerActivity.CPU]) as prof: prof_secs = epoch()
    train._RANGES = False
    print(f"path: {a.path}")
    print(f"one epoch: {plain:.2f} s unprofiled, {prof_secs:.2f} s under the profiler ({len(dls.train)} steps)\n")
    ev = prof.key_averages()
    phases = sorted((e for e in ev if e.key[:2] in ('2 ', '3 ', '4 ', '5 ')), key=lambda e: e.key)
    rows = [('1 loader and the rest', prof_secs - sum(e.cpu_time_total for e in phases)/1e6)]
    rows += [(e.key, e.cpu_time_total/1e6) for e in phases]
    print("phase                          s     share")
    for k, t in rows: print(f"{k:<26} {t:>7.2f}  {t/prof_secs:>6.0%}")
    print(f"\noperators by own time (top {a.rows}):")
    print(ev.table(sort_by='self_cpu_time_total', row_limit=a.rows, max_name_column_width=40))
    if parts is None: return
    names = ('gathering the batch', 'distinct rows (grouping)', 'items: scores, errors, gradients, Adam',
             'users: gradients + Adam')
    print(f"inside mf_step, the unprofiled epoch (timed in the kernel):\n")
    print("part                                      s     share of the epoch")
    for nm, t in zip(names, parts): print(f"{nm:<38} {t:>7.2f}  {t/plain:>6.0%}")
    print(f"{'rest (loader, Python, flush)':<38} {plain - sum(parts):>7.2f}  {(plain - sum(parts))/plain:>6.0%}")

if __name__ == '__main__': main()
