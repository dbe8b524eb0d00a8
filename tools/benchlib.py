"""What the benchmark scripts share: each measurement runs in a fresh interpreter at a set number of threads, so that
its peak memory is its own, and comes back as one line of JSON.

A script calls `run_job(__file__, name, threads, **kw)`; that runs `python script --job '{...}'`, whose `main` hands
the spec to `serve_job(spec, JOBS)`.
"""
from __future__ import annotations
import json, os, resource, subprocess, sys, time, warnings
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def loadavg() -> float:
    "The one-minute load average (the machine's cores are shared: every result file prints it)."
    return os.getloadavg()[0]

def peak_gb() -> float:
    "This process's peak resident memory, in GB (Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def run_job(script, # the benchmark script whose `--job` runs the job
            name:str, threads:int, # the job's name in the script's `JOBS`; OpenMP and MKL threads
            strict:bool=True, # a failed job stops the benchmark; False: it comes back as {'failed': its last line}
            python:str|None=None, # the interpreter (a peer that needs an environment of its own); default: this one
            **kw) -> dict:
    "Run job `name` of `script` in a fresh interpreter at `threads` threads: its result, with `wall_secs`."
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads)}
    t0 = time.perf_counter()
    p = subprocess.run([python or sys.executable, str(script), '--job', json.dumps(dict(name=name, threads=threads, **kw))],
                       capture_output=True, text=True, env=env, cwd=root)
    if p.returncode:
        if strict: raise SystemExit(f"job {name} {kw} at {threads} thread(s) failed:\n{p.stderr[-3000:]}")
        print(f"  {name} {kw} failed:\n{p.stderr[-2000:]}", flush=True)
        return dict(failed=p.stderr.strip().splitlines()[-1][:300] if p.stderr.strip() else f"exit {p.returncode}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res['wall_secs'] = time.perf_counter() - t0
    return res

def serve_job(spec:str, # the JSON that `run_job` passed: name, threads and the job's keywords
              jobs:dict, # name -> function returning a dict, or a list of points
              with_threads:bool=False): # pass `threads` on to the job too
    "The `--job` side: set torch's threads, run the job, print its result with the peak memory and threads as JSON."
    import torch
    kw = json.loads(spec); name,threads = kw.pop('name'),kw.pop('threads')
    torch.set_num_threads(threads)
    warnings.filterwarnings('ignore')
    res = jobs[name](**kw, **({'threads': threads} if with_threads else {}))
    res = dict(points=res) if isinstance(res, list) else res
    res.setdefault('peak_gb', peak_gb())  # a job may report its own (e.g. training's peak, before its scoring)
    res['threads'] = threads
    print(json.dumps(res))

def book_learner(trn, val, # the training and validation ratings (user, item, rating)
                 bs:int=64, seed:int=42):
    """fastai's `collab_learner` as the chapter builds it (50 factors, `y_range` (0, 5.5)), seeded, on our split:
    what `CollabDataLoaders.from_df` makes, with our training and validation ratings instead of its random splitter."""
    import pandas as pd
    from fastai.basics import set_seed
    from fastai.collab import collab_learner, TabularCollab
    from fastai.data.block import TransformBlock
    from fastai.tabular.core import Categorify
    df = pd.concat([trn, val], ignore_index=True)[['user', 'item', 'rating']]
    set_seed(seed, reproducible=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        to = TabularCollab(df, [Categorify], ['user', 'item'], y_names=['rating'], y_block=TransformBlock(),
                           splits=(list(range(len(trn))), list(range(len(trn), len(df)))))
        return collab_learner(to.dataloaders(bs=bs), n_factors=50, y_range=(0, 5.5))
