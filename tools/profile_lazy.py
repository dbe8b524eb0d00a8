"""Where an epoch of the lazy path goes: one epoch of `fit(..., lazy=True)` on planted ratings under PyTorch's profiler.

    COLLAB_BOOK_DATA=... python tools/profile_lazy.py [--n 25000000] [--threads 2] > bench/profile_lazy.txt

Trains the benchmark's setting (`tools/bench.py`'s `SYNTH`, 50 factors, batch 65,536) for one warm-up epoch, then
profiles a second one and prints: the epoch's seconds, the share taken by each phase of a step (the loader, forward,
loss, backward, optimiser), and the operators with the most time of their own. The phases are timed with
`record_function` ranges around each part of the loop, so the table says what is and is not the update itself.
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
    a = ap.parse_args()
    import torch
    from torch.profiler import profile, record_function, ProfilerActivity
    from fastai.basics import DataLoaders
    from bench import SYNTH, SYNTH_WD
    from collab_book.lessons.planted import planted_ratings
    from collab_book.models import DotProductBias
    from collab_book.train import FastDL, LOSSES, RowAdam, fit, sparse_grads
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter(); x, y = planted_ratings(a.n, noise=SYNTH['noise'], seed=0)
    print(f"{a.n:,} planted ratings in {time.perf_counter() - t0:.1f} s; {a.threads} thread(s); torch {torch.__version__}")
    dl = FastDL(x, y, bs=SYNTH['bs'], shuffle=True)
    wd = SYNTH_WD.get(a.n, SYNTH_WD[max(k for k in SYNTH_WD if k <= a.n)])
    m = fit(DotProductBias(162_000, 62_000, 50, y_range=(0, 7.5)), DataLoaders(dl), epochs=1, lr=SYNTH['lr'], wd=wd,
            lazy=True, seed=42, verbose=False)  # warm-up: the kernel's build, first-call costs
    opt = RowAdam(m.parameters(), lr=SYNTH['lr'], wd=wd, lazy=True, fused=True)
    sparse_grads(m, on=True); m.train(); loss = LOSSES['mse']
    def epoch():
        it = iter(dl)
        while True:
            with record_function('1 loader'):
                b = next(it, None)
            if b is None: break
            xb, yb = b
            with record_function('2 forward + loss'): l = loss(m, xb, yb)
            with record_function('3 zero_grad + backward'): opt.zero_grad(); l.backward()
            with record_function('4 optimiser'): opt.step()
        with record_function('5 flush'): opt.flush()
    t0 = time.perf_counter(); epoch(); plain = time.perf_counter() - t0
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter(); epoch(); prof_secs = time.perf_counter() - t0
    print(f"one epoch: {plain:.2f} s unprofiled, {prof_secs:.2f} s under the profiler ({len(dl)} steps)\n")
    ev = prof.key_averages()
    phases = sorted((e for e in ev if e.key[:2] in ('1 ', '2 ', '3 ', '4 ', '5 ')), key=lambda e: e.key)
    tot = sum(e.cpu_time_total for e in phases)
    print("phase                          s     share")
    for e in phases: print(f"{e.key:<26} {e.cpu_time_total/1e6:>7.2f}  {e.cpu_time_total/tot:>6.0%}")
    print(f"\noperators by own time (top {a.rows}):")
    print(ev.table(sort_by='self_cpu_time_total', row_limit=a.rows, max_name_column_width=40))

if __name__ == '__main__': main()
