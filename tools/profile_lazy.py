"""Where an epoch of the lazy path goes: one epoch of `fit(..., lazy=True)` on planted ratings under PyTorch's profiler.

    COLLAB_BOOK_DATA=... python tools/profile_lazy.py [--n 25000000] [--threads 2] [--path fused|autograd]

Trains the benchmark's setting (`tools/bench.py`'s `SYNTH`, 50 factors, batch 65,536) for one warm-up epoch, then
profiles a second one and prints: the epoch's seconds, the share taken by each phase of a step, and the operators
with the most time of their own. The phases are timed with `record_function` ranges around each part of the loop,
so the table says what is and is not the update itself.

`--path autograd` is the general step: the model's forward and the loss in PyTorch ops, autograd's sparse
gradients, then `RowAdam` (gradient rows summed per distinct row, the compiled row update). `--path fused` (what
`fit` runs for a `DotProductBias` on the MSE loss) is one compiled pass, `mf_step`; its own parts are timed inside
the kernel (`mf_times`) and printed below the profiler's table.
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
    from torch.profiler import profile, record_function, ProfilerActivity
    from fastai.basics import DataLoaders
    from bench import SYNTH, SYNTH_WD
    from collab_book.lessons.planted import planted_ratings
    from collab_book.models import DotProductBias
    from collab_book.train import FastDL, LOSSES, RowAdam, fit, sparse_grads, _mf_step, row_adam_kernel
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter(); x, y = planted_ratings(a.n, noise=SYNTH['noise'], seed=0)
    print(f"{a.n:,} planted ratings in {time.perf_counter() - t0:.1f} s; {a.threads} thread(s); torch {torch.__version__}")
    dl = FastDL(x, y, bs=SYNTH['bs'], shuffle=True)
    wd = SYNTH_WD.get(a.n, SYNTH_WD[max(k for k in SYNTH_WD if k <= a.n)])
    torch.manual_seed(42)
    m = fit(DotProductBias(162_000, 62_000, 50, y_range=(0, 7.5)), DataLoaders(dl), epochs=1, lr=SYNTH['lr'], wd=wd,
            lazy=True, seed=42, verbose=False)  # warm-up: the kernel's build, first-call costs
    opt = RowAdam(m.parameters(), lr=SYNTH['lr'], wd=wd, lazy=True, fused=True)
    sparse_grads(m, on=True); m.train(); loss = LOSSES['mse']
    fused = _mf_step(m, opt, dl) if a.path == 'fused' else None
    if a.path == 'fused' and fused is None: raise SystemExit("the compiled kernel did not build: no fused step")
    def epoch():
        it = iter(dl.positions() if fused is not None else dl)  # the fused step gathers its batch itself
        while True:
            with record_function('1 loader'):
                b = next(it, None)
            if b is None: break
            if fused is not None:
                with record_function('2 mf_step'): fused(b)
                continue
            xb, yb = b
            with record_function('2 forward + loss'): l = loss(m, xb, yb)
            with record_function('3 zero_grad + backward'): opt.zero_grad(); l.backward()
            with record_function('4 optimiser'): opt.step()
        with record_function('5 flush'): opt.flush()
    if fused is not None: row_adam_kernel().mf_times(True)  # drop the warm-up's times
    t0 = time.perf_counter(); epoch(); plain = time.perf_counter() - t0
    parts = row_adam_kernel().mf_times(True) if fused is not None else None  # the kernel's own parts, unprofiled epoch
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter(); epoch(); prof_secs = time.perf_counter() - t0
    print(f"path: {a.path}")
    print(f"one epoch: {plain:.2f} s unprofiled, {prof_secs:.2f} s under the profiler ({len(dl)} steps)\n")
    ev = prof.key_averages()
    phases = sorted((e for e in ev if e.key[:2] in ('1 ', '2 ', '3 ', '4 ', '5 ')), key=lambda e: e.key)
    tot = sum(e.cpu_time_total for e in phases)
    print("phase                          s     share")
    for e in phases: print(f"{e.key:<26} {e.cpu_time_total/1e6:>7.2f}  {e.cpu_time_total/tot:>6.0%}")
    print(f"\noperators by own time (top {a.rows}):")
    print(ev.table(sort_by='self_cpu_time_total', row_limit=a.rows, max_name_column_width=40))
    if parts is None: return
    names = ('gathering the batch', 'distinct rows (grouping)', 'items: scores, errors, gradients', 'users: gradients + Adam',
             'items: Adam')
    print(f"inside mf_step, the unprofiled epoch (timed in the kernel):\n")
    print("part                              s     share of the epoch")
    for nm, t in zip(names, parts): print(f"{nm:<30} {t:>7.2f}  {t/plain:>6.0%}")
    print(f"{'rest (loader, Python, flush)':<30} {plain - sum(parts):>7.2f}  {(plain - sum(parts))/plain:>6.0%}")

if __name__ == '__main__': main()
