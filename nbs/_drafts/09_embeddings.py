# %% [markdown]
# # Embeddings under the hood
# > The Posit AI blog's Keras recommender rebuilt in PyTorch on ml-latest-small: `SimpleDot`, `DotWithBias`, an embedding layer written by hand, early stopping, and a look at what the movie vectors learned.

# %%
#| default_exp embeddings

# %%
#| export
from __future__ import annotations
import copy, math
from contextlib import contextmanager
import numpy as np, pandas as pd, torch
from torch import nn
import torch.nn.functional as F
import matplotlib.pyplot as plt
from collab_book.data import Vocab, load_ratings, random_split

# %%
#| hide
from fastcore.test import *
from collab_book.models import DotProductBias, collab_dls, fit_model, valid_mse, predict, recommend, item_biases

# %% [markdown]
# The chapter built its models with fastai. A post on the Posit AI blog, *Collaborative filtering
# with embeddings* (2018), tells the same story from the Keras side, in R: two small models made
# of embedding layers, trained with early stopping on MovieLens' `ml-latest-small`, a look at the
# movie vectors with PCA, and finally an embedding layer written from scratch to show that it is
# only a lookup. This notebook redoes all of it in PyTorch, with the project's data and models
# beside it so the numbers can be compared on one split. (From `collab_book.models` we use
# `DotProductBias`, `fit_model`, `predict` and `recommend`, imported at the top.)
#
# One difference has to be kept in mind throughout: the post used the **2016** edition of
# ml-latest-small (671 users), ours is the **2018** edition. The post's numbers are on other data.

# %% [markdown]
# ## The data, with dense movie ids

# %%
df = load_ratings('ml-latest-small')
lo,hi = float(df.rating.min()), float(df.rating.max())
print(f"{len(df):,} ratings by {df.user.nunique()} users on {df.item.nunique():,} movies; ratings from {lo} to {hi}")
print("post (2016 edition): about 100,000 ratings, 671 users")

# %% [markdown]
# Movie ids in this file run up to six digits for fewer than ten thousand movies. An embedding table
# has one row per index, so the post renumbers the movies 1, 2, 3, ... (its `movieIdDense`). Our
# `Vocab` does the same, from 0, and keeps the way back to ids and titles:

# %%
vocab = Vocab.from_ratings(df)
idx = np.array([0, 1, 2, vocab.n_items-1])
print(vocab, '| largest raw movie id:', df.item.max())
pd.DataFrame({'dense index': idx, 'movie id': vocab.items[idx], 'title': vocab.titles[idx]})

# %% [markdown]
# Counting from 0 also removes a detail of the post: its tables have `n + 1` rows because R counts
# from 1 and row 0 is never used. Ours have exactly one row per user and per movie.
#
# We hold out 20% of the ratings at random, with a seed, and keep that split for every model below.
# The post expected that after such a split every user would still be in the training part but
# some movies would not. Let us count:

# %%
trn,val = random_split(df, 0.2, seed=42)
val_only_users = set(val.user) - set(trn.user)
val_only_items = set(val.item) - set(trn.item)
cold = val.item.isin(val_only_items).to_numpy().copy()  # validation ratings of movies never seen in training
print(f"train {len(trn):,}, valid {len(val):,} ratings")
print(f"users only in validation: {len(val_only_users)}; movies only in validation: {len(val_only_items)} "
      f"({cold.sum()} validation ratings, {cold.mean():.1%})")
n_per_item = df.groupby('item').size()
print(f"fewest ratings by one user: {df.groupby('user').size().min()}; movies with one or two ratings: {(n_per_item <= 2).sum():,}")

# %%
#| hide
test_eq((len(df), vocab.n_users, vocab.n_items), (100_836, 610, 9724))
test_eq((lo, hi), (0.5, 5.0))
test_eq(len(val_only_users), 0)
assert 500 < len(val_only_items) < 1000, len(val_only_items)

# %% [markdown]
# The post guessed right. Every user rated at least 20 movies, so with 80% kept each user is almost
# sure to stay in training. Movies are different: several thousand have only one or two ratings,
# and several hundred land entirely in the validation part. Their rows in the movie table will never
# receive a gradient; whatever the model predicts for them comes from their starting values. We
# will see below how much that costs each model.
#
# A model takes a `(batch, 2)` tensor of (user index, movie index), as everywhere in this project.
# `rating_tensors` makes that tensor and the ratings from a frame:

# %%
#| export
def rating_tensors(df:pd.DataFrame, # ratings: user, item, rating
                   vocab:Vocab, # dense ids for users and items
                  ) -> tuple: # (x, y): (n, 2) long tensor of (user index, item index), float ratings
    "A ratings frame as model inputs and targets."
    e = vocab.encode(df)
    x = np.stack([e.user_idx.to_numpy(), e.item_idx.to_numpy()], 1).astype('int64')
    return torch.from_numpy(x), torch.tensor(e.rating.to_numpy(), dtype=torch.float32)

# %%
xt,yt = rating_tensors(trn, vocab)
xv,yv = rating_tensors(val, vocab)
xt[:3], yt[:3]

# %%
#| hide
test_eq(xt.shape, (len(trn), 2)); test_eq(xt.dtype, torch.int64); assert xt.is_contiguous()
test_eq(xt[0].tolist(), [vocab.user_idx(trn.user[0]), vocab.item_idx(trn.item[0])])
test_eq(yt[:5].tolist(), trn.rating[:5].tolist())

# %% [markdown]
# ## An embedding layer is a lookup
#
# The post saves this part for last; we start with it, because everything else is built on it.
# An embedding layer holds a matrix with one row per user (or movie). Given a tensor of indices, it
# returns the rows at those indices. Nothing is multiplied: the layer **gathers** rows.
#
# > jargon: **gather**: build a new tensor by picking entries (here, whole rows) of another tensor
# > at the positions given by an index tensor. Keras calls it `k_gather`; in PyTorch it is plain
# > indexing, `weight[idx]`, or `index_select`.
#
# Our own layer needs a weight matrix registered as a parameter, so that the optimiser finds it,
# and a forward pass that indexes it. One thing PyTorch's `nn.Embedding` does badly is the error
# for an index past the end of the table (it says "index out of range in self"), so our layer
# checks first and says which index and how big the table is.

# %%
#| export
def _check_idx(idx:torch.Tensor, n:int, what:str='') -> torch.Tensor:
    "`idx` unchanged if it holds integers in `[0, n)`; otherwise an error naming the first bad one and `n`."
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise TypeError(f"{what}indices must be integers, got a {idx.dtype} tensor")
    bad = (idx < 0) | (idx >= n)
    if bad.any(): raise IndexError(f"{what}index {idx[bad][0].item()} is out of range for a table of {n} rows "
                                   f"(valid indices are 0 to {n-1})")
    return idx

# %%
#| export
class GatherEmbedding(nn.Module):
    "An embedding layer written out: a learnable matrix whose rows are gathered by index."
    def __init__(self, n:int, # rows: how many users or items
                 n_factors:int, # columns: the length of each vector
                 init:tuple=(-0.05, 0.05), # range of the uniform starting weights (Keras' default)
                ):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, n_factors).uniform_(*init))
    def forward(self, idx):
        idx = _check_idx(torch.as_tensor(idx, device=self.weight.device), self.weight.shape[0])
        return self.weight[idx]  # advanced indexing is a gather: one row per index, any index shape
    def extra_repr(self): return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

# %% [markdown]
# A table of 5 rows of 3 numbers, looked up with a 2x2 tensor of indices, gives a 2x2x3 result:
# each index has been replaced by its row.

# %%
torch.manual_seed(0)
emb = GatherEmbedding(5, 3)
ix = torch.tensor([[4, 0], [2, 2]])
emb, emb(ix).shape, emb(ix)[0, 0], emb.weight[4]

# %% [markdown]
# The chapter described an embedding as a shortcut for multiplying a one-hot vector by a matrix.
# Both give the same numbers; the lookup just skips building a vector of zeros the size of the table:

# %%
onehot = F.one_hot(ix, num_classes=5).float()
(onehot @ emb.weight - emb(ix)).abs().max()

# %% [markdown]
# Now the real test: the same weights in `nn.Embedding` and in our layer must give the same output
# and, after a backward pass, the same gradient. The indices below repeat row 7 on purpose:

# %%
torch.manual_seed(1)
ref,mine = nn.Embedding(10, 4),GatherEmbedding(10, 4)
with torch.no_grad(): mine.weight.copy_(ref.weight)
ix = torch.tensor([7, 1, 7, 3])
g = torch.randn(4, 4)  # an arbitrary upstream gradient
(ref(ix) * g).sum().backward(); (mine(ix) * g).sum().backward()
print('forward equal:', torch.equal(ref(ix), mine(ix)), '| gradient equal:', torch.allclose(ref.weight.grad, mine.weight.grad))
print('gradient of row 7 = g[0] + g[2]:', torch.allclose(mine.weight.grad[7], g[0] + g[2]),
      '| rows never looked up get zero:', bool((mine.weight.grad[[0, 2, 4, 5, 6, 8, 9]] == 0).all()))

# %% [markdown]
# The backward pass of a gather is a scatter: the gradient arriving for each output row is added
# into the table row it came from, and a row used twice receives the sum of both. Rows that were
# not looked up get exactly zero. Remember that last point; it matters for training speed below.
#
# And an index past the end of the table:

# %%
for name,layer in (('nn.Embedding:   ', ref), ('GatherEmbedding:', mine)):
    try: layer(torch.tensor([3, 12]))
    except IndexError as e: print(name, e)

# %%
#| hide
test_eq(emb(torch.tensor([1, 3])).shape, (2, 3))
test_eq(emb(torch.tensor(2)), emb.weight[2])
w = GatherEmbedding(1000, 8).weight
assert -0.05 <= w.min() < -0.04 and 0.04 < w.max() <= 0.05, (w.min(), w.max())
w = GatherEmbedding(1000, 8, init=(0, 0.05)).weight
assert 0 <= w.min() < 0.001, w.min()
test_eq(mine(ix), ref(ix))
test_close(mine.weight.grad, ref.weight.grad, eps=1e-7)
test_fail(lambda: mine(torch.tensor([3, 12])), contains='index 12 is out of range for a table of 10 rows (valid indices are 0 to 9)')
test_fail(lambda: mine(torch.tensor([-1])), contains='index -1 is out of range')
test_fail(lambda: mine(torch.tensor([1.0])), contains='indices must be integers, got a torch.float32 tensor')

# %% [markdown]
# ## `SimpleDot`: the dot product, nothing else
#
# The post's first model is the chapter's `DotProduct` in Keras clothing: a user table, a movie
# table, and the dot product of the two rows as the predicted rating. Two details are its own: 64
# factors, and starting weights drawn uniformly from 0 to 0.05, so every first prediction is a
# small positive number. The embedding class is a parameter, so our `GatherEmbedding` can be
# swapped in, as the post does with its hand-made layer.
#
# Both models below check their input: a `(batch, 2)` tensor whose user and movie indices fit the
# tables.

# %%
#| export
def _emb(cls, n:int, n_factors:int, init:tuple) -> nn.Module:
    "An embedding of class `cls` with weights drawn uniformly from `init`."
    e = cls(n, n_factors)
    nn.init.uniform_(e.weight, *init)
    return e

def _split_x(x:torch.Tensor, n_users:int, n_items:int) -> tuple:
    "User and item index columns of `x`, checked against the table sizes."
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"expected a (batch, 2) tensor of (user index, item index), got shape {tuple(x.shape)}")
    return _check_idx(x[:,0], n_users, 'user '),_check_idx(x[:,1], n_items, 'item ')

# %%
#| export
class SimpleDot(nn.Module):
    "The post's first model: the rating is the dot product of a user vector and a movie vector."
    def __init__(self, n_users:int, n_items:int,
                 n_factors:int=64, # length of each vector
                 emb=nn.Embedding, # embedding class taking (n, n_factors), e.g. `GatherEmbedding`
                 init:tuple=(0., 0.05), # range of the uniform starting weights
                ):
        super().__init__()
        self.user_factors,self.item_factors = _emb(emb, n_users, n_factors, init),_emb(emb, n_items, n_factors, init)
    def forward(self, x):
        u,i = _split_x(x, self.user_factors.weight.shape[0], self.item_factors.weight.shape[0])
        return (self.user_factors(u) * self.item_factors(i)).sum(dim=1)

# %%
torch.manual_seed(42)
sd = SimpleDot(vocab.n_users, vocab.n_items)
sd, sd(xt[:4]), yt[:4]

# %% [markdown]
# The starting predictions are about 64 x 0.025 x 0.025, far below any rating: the first epoch
# will be spent mostly growing the vectors. A bad input says what is wrong:

# %%
for bad in (torch.tensor([[0, 9724]]), torch.tensor([0, 1])):
    try: sd(bad)
    except (IndexError, ValueError) as e: print(e)

# %%
#| hide
test_eq(sd(xt[:7]).shape, (7,))
for t in (sd.user_factors.weight, sd.item_factors.weight): assert 0 <= t.min() and t.max() <= 0.05
m = SimpleDot(3, 4, n_factors=2, emb=GatherEmbedding)
test_eq(type(m.item_factors), GatherEmbedding)
with torch.no_grad(): m.user_factors.weight.copy_(torch.tensor([[1.,2],[0,1],[3,0]])); m.item_factors.weight.fill_(1.)
test_eq(m(torch.tensor([[0,0],[2,3]])), torch.tensor([3., 3.]))
test_fail(lambda: sd(torch.tensor([[0, 9724]])), contains='item index 9724 is out of range for a table of 9724 rows')
test_fail(lambda: sd(torch.tensor([[610, 0]])), contains='user index 610 is out of range for a table of 610 rows')
test_fail(lambda: sd(torch.tensor([0, 1])), contains='expected a (batch, 2) tensor')

# %% [markdown]
# ## Training as the post trains, with early stopping
#
# Keras' recipe: Adam at its default learning rate (0.001), mean squared error, batches of 32, up to
# 10 epochs, and stop when the validation loss has not improved for 2 epochs in a row.
#
# > jargon: **early stopping**: watch the validation loss after every epoch and stop training
# > once it has failed to improve `patience` times in a row. Keras' callback stops but keeps the
# > last weights unless told otherwise; we put back the weights of the best epoch.
#
# fastai offers this as `EarlyStoppingCallback` plus `SaveModelCallback`, but its `Learner` collates
# batches item by item, which at 32 ratings a batch costs far more than the model itself. A plain
# loop that shuffles whole tensors and slices them is much faster here. It is three small pieces: the
# optimiser, one epoch, and the validation loss.

# %%
#| export
def _adam(model:nn.Module, lr:float, wd:float):
    "Adam as Keras uses it (`wd=0`), or AdamW with decoupled weight decay; fused where torch supports it."
    cls = torch.optim.AdamW if wd else torch.optim.Adam
    try: return cls(model.parameters(), lr=lr, weight_decay=wd, fused=True)
    except (RuntimeError, TypeError, ValueError): return cls(model.parameters(), lr=lr, weight_decay=wd)

def _train_epoch(model, opt, x, y, bs:int, gen:torch.Generator, sched=None) -> float:
    "One pass over (`x`, `y`) in shuffled batches of `bs`; the mean training loss."
    model.train()
    tot = 0.
    for b in torch.randperm(len(y), generator=gen).split(bs):
        loss = F.mse_loss(model(x[b]), y[b])
        opt.zero_grad(); loss.backward(); opt.step()
        if sched is not None: sched.step()
        tot += loss.item() * len(b)
    return tot / len(y)

def _valid_loss(model, x, y, bs:int=8192) -> float:
    "Mean squared error of `model` on (`x`, `y`), in evaluation mode."
    model.eval()
    with torch.no_grad(): return sum(F.mse_loss(model(a), b, reduction='sum').item() for a,b in zip(x.split(bs), y.split(bs))) / len(y)

# %% [markdown]
# One more piece is about speed, and it is worth a short detour.
#
# Adam keeps two running averages per weight, and updates *every* weight at every step, including
# the thousands of movie rows whose gradient was zero in that batch (the scatter above). For those
# rows the averages are multiplied by 0.9 and 0.999 again and again, and within a few hundred steps
# they shrink below the smallest normal `float32`, into the **subnormal** range, where x86 CPUs
# compute many times slower. TensorFlow flushes such numbers to zero by default, which is why the
# post never met this; PyTorch does not, and our first version of this loop ran several times slower
# for it. `torch.set_flush_denormal(True)` restores the speed and, at this scale, changes nothing
# that we could see in the losses. One catch: the flag belongs to the CPU thread that sets it, and
# PyTorch's worker threads do not inherit it. With batches of 32 extra threads only add overhead
# anyway, so the context manager below also runs PyTorch on a single thread while it is active.
#
# > jargon: **subnormal (denormal) numbers**: floats smaller than about 1.2e-38 in `float32`, kept
# > with reduced precision instead of being rounded to zero, and slow on most CPUs.

# %%
#| export
@contextmanager
def flush_denormal(threads:int=1, # PyTorch CPU threads inside the block: the flag only reaches the calling thread
                  ):
    "Treat subnormal floats as zero inside the block (speeds up dense Adam on big embedding tables)."
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    ok = torch.set_flush_denormal(True)
    try: yield ok
    finally: torch.set_flush_denormal(False); torch.set_num_threads(old)

# %%
tiny = torch.tensor([1e-30])
n_threads = torch.get_num_threads()
with flush_denormal() as ok: inside,inside_threads = (tiny * 1e-10).item(),torch.get_num_threads()
print(f"flush supported: {ok}; 1e-30 x 1e-10 inside: {inside} (on {inside_threads} thread), outside: {(tiny * 1e-10).item():.3g}")

# %%
#| hide
if ok: test_eq(inside, 0.)
assert (tiny * 1e-10).item() > 0  # restored on exit
test_eq(inside_threads, 1); test_eq(torch.get_num_threads(), n_threads)

# %% [markdown]
# Now the loop itself. Like the project's `fit_model`, it takes a model class (built under the seed)
# or a built model, prints its seed, and prints one line per epoch; a `*` marks an improvement.

# %%
#| export
def _log(ep, trn_loss, val_loss, improved):
    print(f"epoch {ep:2d}  train {trn_loss:.4f}  valid {val_loss:.4f}  rmse {val_loss**0.5:.4f}{'  *' if improved else ''}")

def train_early_stopping(model, # a model class taking (n_users, n_items, **model_kw), or a built model
                         train:pd.DataFrame, valid:pd.DataFrame, # ratings to train on; ratings that decide when to stop
                         vocab:Vocab, # dense ids for users and items
                         bs:int=32, epochs:int=10, lr:float=1e-3, # batch size, most epochs, learning rate
                         wd:float=0., # decoupled weight decay (AdamW); 0 is plain Adam, as in the post
                         patience:int=2, # stop after this many epochs without a lower validation loss
                         one_cycle:bool=False, # anneal the learning rate with `OneCycleLR` instead of keeping it constant
                         seed:int=42, # seeds the starting weights (when `model` is a class), the shuffle and dropout
                         **model_kw, # passed to `model` when it is a class
                        ) -> tuple: # (model with the best weights, history frame)
    "Train with Adam and MSE until the validation loss stops improving, then restore the best epoch's weights."
    if patience < 1: raise ValueError(f"patience must be at least 1, not {patience}")
    torch.manual_seed(seed); gen = torch.Generator().manual_seed(seed)
    if not isinstance(model, nn.Module): model = model(vocab.n_users, vocab.n_items, **model_kw)
    elif model_kw: raise TypeError(f"model options {list(model_kw)} given for a model that is already built")
    print(f"seed {seed}")
    dev = next(model.parameters()).device
    (xt,yt),(xv,yv) = [[t.to(dev) for t in rating_tensors(d, vocab)] for d in (train, valid)]
    opt = _adam(model, lr, wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs*math.ceil(len(yt)/bs)) if one_cycle else None
    hist,best,wait = [],(0, math.inf, None),0
    with flush_denormal():
        for ep in range(1, epochs+1):
            hist.append((ep, _train_epoch(model, opt, xt, yt, bs, gen, sched), _valid_loss(model, xv, yv)))
            improved = hist[-1][2] < best[1]
            if improved: best,wait = (ep, hist[-1][2], copy.deepcopy(model.state_dict())),0
            else: wait += 1
            _log(*hist[-1], improved)
            if wait >= patience: break
    model.load_state_dict(best[2])
    print(f"best epoch {best[0]} of {ep}: valid RMSE {best[1]**0.5:.4f} (its weights restored)")
    h = pd.DataFrame(hist, columns=['epoch', 'train_loss', 'valid_loss']).assign(valid_rmse=lambda d: d.valid_loss**0.5)
    h.attrs['best_epoch'] = best[0]
    return model, h

# %% [markdown]
# First a check of the mechanics on a small slice of the data (too small to learn much, and most of
# its validation movies are unseen, hence the high error): with `patience=1` the loop must stop at
# the first epoch that does not improve, and the weights it hands back must score the best loss.

# %%
small_t,small_v = trn.iloc[:4000],val.iloc[:1000]
m_small,h_small = train_early_stopping(SimpleDot, small_t, small_v, vocab, bs=32, epochs=10, lr=3e-2, patience=1, seed=0)

# %%
#| hide
test_eq(len(h_small), h_small.attrs['best_epoch'] + 1)  # stopped one epoch after the best
test_close(_valid_loss(m_small, *rating_tensors(small_v, vocab)), h_small.valid_loss.min(), eps=1e-5)
test_eq(list(h_small.columns), ['epoch', 'train_loss', 'valid_loss', 'valid_rmse'])
test_fail(lambda: train_early_stopping(SimpleDot(2, 2), small_t, small_v, vocab, n_factors=3), contains="model options ['n_factors'] given")
test_fail(lambda: train_early_stopping(SimpleDot, small_t, small_v, vocab, patience=0), contains='patience must be at least 1')

# %% [markdown]
# Now `SimpleDot` on the full split, exactly as the post trains it:

# %%
simple,h_simple = train_early_stopping(SimpleDot, trn, val, vocab, bs=32, epochs=10, lr=1e-3, patience=2, seed=42, n_factors=64)
rmse_simple = h_simple.valid_rmse.min()
print(f"SimpleDot: valid RMSE {rmse_simple:.3f}; post (2016 data): 1.08")

# %% [markdown]
# Like the post, we see the training loss fall fast while the validation loss stalls after a few
# epochs: the model fits the training ratings much better than it predicts new ones.
#
# Part of the validation error has a simpler cause. The movies that occur only in validation kept
# their starting vectors, so their predictions are dot products with tiny vectors. A helper that
# splits the validation RMSE into ratings of movies seen in training and the rest:

# %%
def rmse_parts(m):
    "Validation RMSE of `m`: all ratings, ratings of movies seen in training, ratings of validation-only movies."
    m.eval()
    with torch.no_grad(): se = (m(xv) - yv).pow(2).numpy()
    return se.mean()**0.5, se[~cold].mean()**0.5, se[cold].mean()**0.5

def cold_mean(m):
    "Mean prediction of `m` for the ratings of validation-only movies."
    m.eval()
    with torch.no_grad(): return m(xv[torch.from_numpy(cold)]).mean().item()

r_all,r_seen,r_cold = rmse_parts(simple)
print(f"SimpleDot: all {r_all:.3f}, seen movies {r_seen:.3f}, validation-only movies {r_cold:.3f} "
      f"(mean prediction there {cold_mean(simple):.2f} stars, mean rating {yv[torch.from_numpy(cold)].mean():.2f})")
print(f"share of the validation squared error from validation-only movies: {cold.mean() * r_cold**2 / r_all**2:.0%}")

# %% [markdown]
# On the 4% of validation ratings whose movie was never trained, `SimpleDot` is off by almost three
# stars, and that small group carries a large share of the total squared error.

# %% [markdown]
# ### The hand-made layer inside `SimpleDot`
#
# The post checks its own layer by training `SimpleDot` with it and finding a similar RMSE. We can
# make a sharper check first: start both versions from the *same* weights, feed them the *same*
# batches, and compare the weights after a few hundred Adam steps.

# %%
torch.manual_seed(3)
a = SimpleDot(vocab.n_users, vocab.n_items)
b = SimpleDot(vocab.n_users, vocab.n_items, emb=GatherEmbedding)
b.load_state_dict(a.state_dict())
for m in (a, b): _train_epoch(m, _adam(m, 1e-3, 0.), xt[:6400], yt[:6400], 32, torch.Generator().manual_seed(0))
print(b.item_factors, '| largest weight difference after 200 steps:', (a.item_factors.weight - b.item_factors.weight).abs().max().item())

# %%
#| hide
test_close(a.item_factors.weight, b.item_factors.weight, eps=1e-5)
test_close(a.user_factors.weight, b.user_factors.weight, eps=1e-5)

# %% [markdown]
# The two agree to rounding error, so a full training run with our layer would simply repeat the
# one above. The post, though, got 1.13 with its own layer against 1.08 with Keras'. Its
# hand-made layer used Keras' default starting range, uniform(-0.05, 0.05), where the built-in
# version had been given (0, 0.05). So we train our layer the way the post did, with the symmetric range:

# %%
gather,h_gather = train_early_stopping(SimpleDot, trn, val, vocab, seed=42, emb=GatherEmbedding, init=(-0.05, 0.05))
rmse_gather = h_gather.valid_rmse.min()
print(f"SimpleDot with GatherEmbedding, init (-0.05, 0.05): valid RMSE {rmse_gather:.3f}; post (2016 data): 1.13")
print(f"SimpleDot with nn.Embedding,    init (0, 0.05):     valid RMSE {rmse_simple:.3f}; post (2016 data): 1.08")

# %% [markdown]
# The symmetric start gives a clearly worse model, as in the post. Where the difference comes from:

# %%
for name,m in (('init 0..0.05     ', simple), ('init -0.05..0.05', gather)):
    r_all,r_seen,r_cold = rmse_parts(m)
    print(f"{name}: seen movies {r_seen:.3f}, validation-only movies {r_cold:.3f}, mean prediction there {cold_mean(m):.2f}")

# %% [markdown]
# On movies seen in training the symmetric start is not worse at all. The whole gap is in the
# validation-only movies. Their vectors never move from the start. With (0, 0.05) they are small
# *positive* vectors, and the trained user vectors, which also started positive, mostly point into the
# same region, so the dot product gives a fraction of a star. With (-0.05, 0.05) an untrained movie
# vector points nowhere in particular and the prediction is zero stars. The post's gap between its
# two runs (1.08 and 1.13) is very likely the same effect: the starting range, not the layer.

# %% [markdown]
# ## `DotWithBias`: biases, dropout and a squashed output
#
# The post's second model adds what the chapter added to `DotProduct`: a bias per user and per
# movie, and a sigmoid scaled to the range of ratings. It also puts **dropout** on the two vectors
# before the dot product, a stronger rate on the movies (0.6) than on the users (0.3).
#
# > jargon: **dropout**: during training, set each number of a layer's output to zero with
# > probability `p` (and scale the rest by `1/(1-p)`), so that the model cannot rely on any single
# > factor. At evaluation time nothing is dropped.
#
# $$\hat r_{ui} = r_{\min} + (r_{\max} - r_{\min})\,\sigma\!\left(\mathbf p_u \cdot \mathbf q_i + b_u + b_i\right)$$
#
# The post takes $r_{\min}$ and $r_{\max}$ from the data (0.5 and 5 here), where the chapter chose
# (0, 5.5) so that the extreme ratings can be reached; with the post's choice a prediction of
# exactly 5 is never quite possible. All four tables start at Keras' default, uniform(-0.05, 0.05).

# %%
#| export
class DotWithBias(nn.Module):
    "The post's second model: dot product plus user and item biases, dropout on the vectors, sigmoid scaled to `y_range`."
    def __init__(self, n_users:int, n_items:int,
                 n_factors:int=64, # length of each vector
                 y_range:tuple=(0.5, 5.), # lowest and highest rating in the data
                 p_user:float=0.3, p_item:float=0.6, # dropout on the user and on the item vectors
                 init:tuple=(-0.05, 0.05), # range of the uniform starting weights of all four tables
                ):
        super().__init__()
        self.user_factors,self.item_factors = _emb(nn.Embedding, n_users, n_factors, init),_emb(nn.Embedding, n_items, n_factors, init)
        self.user_bias,self.item_bias = _emb(nn.Embedding, n_users, 1, init),_emb(nn.Embedding, n_items, 1, init)
        self.user_drop,self.item_drop,self.y_range = nn.Dropout(p_user),nn.Dropout(p_item),y_range
    def forward(self, x):
        u,i = _split_x(x, self.user_bias.weight.shape[0], self.item_bias.weight.shape[0])
        dot = (self.user_drop(self.user_factors(u)) * self.item_drop(self.item_factors(i))).sum(dim=1)
        lo,hi = self.y_range
        return lo + (hi - lo) * torch.sigmoid(dot + self.user_bias(u)[:,0] + self.item_bias(i)[:,0])

# %%
torch.manual_seed(42)
dwb = DotWithBias(vocab.n_users, vocab.n_items, y_range=(lo, hi))
dwb.eval()
dwb, dwb(xt[:4])

# %% [markdown]
# Untrained, every prediction sits near the middle of the range, (0.5 + 5) / 2. In training mode
# dropout makes two calls on the same input differ; in evaluation mode they agree:

# %%
dwb.train(); t1,t2 = dwb(xt[:4]),dwb(xt[:4])
dwb.eval(); e1,e2 = dwb(xt[:4]),dwb(xt[:4])
print('train mode, same input, same output:', torch.equal(t1, t2), '| eval mode:', torch.equal(e1, e2))

# %%
#| hide
test_eq(dwb(xt[:9]).shape, (9,))
for t in dwb.parameters(): assert -0.05 <= t.min() and t.max() <= 0.05
test_close(dwb(xt[:100]), 2.75, eps=0.15)
m = DotWithBias(3, 4, n_factors=2, y_range=(1, 5))
with torch.no_grad():
    for p in m.parameters(): p.fill_(0.)
    m.item_bias.weight[2] = 100.; m.user_bias.weight[0] = -100.
m.eval(); test_close(m(torch.tensor([[1,2],[0,1],[1,1]])), torch.tensor([5., 1., 3.]), eps=1e-4)
test_eq(DotWithBias(3, 4, p_user=0.1).user_drop.p, 0.1)
test_fail(lambda: dwb(torch.tensor([[0, 10_000]])), contains='item index 10000 is out of range for a table of 9724 rows')

# %%
withbias,h_bias = train_early_stopping(DotWithBias, trn, val, vocab, seed=42, y_range=(lo, hi))
rmse_bias = h_bias.valid_rmse.min()
print(f"DotWithBias: valid RMSE {rmse_bias:.3f}; post (2016 data): 0.88")

# %% [markdown]
# A large step down from `SimpleDot`, and the validation loss keeps improving for longer, as the post
# observed. The issue this notebook answers asks for at most 0.90 on this split, averaged over three
# seeds. The default run checks one seed; the full run (a `slow` cell) trains two more:

# %%
assert rmse_bias <= 0.90, rmse_bias
assert rmse_bias < rmse_simple - 0.1, (rmse_bias, rmse_simple)

# %%
#| slow
seed_rmse = {42: rmse_bias}
for s in (1, 2):
    _,h = train_early_stopping(DotWithBias, trn, val, vocab, seed=s, y_range=(lo, hi))
    seed_rmse[s] = h.valid_rmse.min()
for s,r in seed_rmse.items(): print(f"seed {s}: valid RMSE {r:.4f}")
print(f"DotWithBias, mean of 3 seeds: {np.mean(list(seed_rmse.values())):.3f} (spread {np.ptp(list(seed_rmse.values())):.4f}); post (2016 data, one run): 0.88")
assert np.mean(list(seed_rmse.values())) <= 0.90

# %% [markdown]
# ## The chapter's model on the same split
#
# For the comparison the issue asks for, the chapter's `DotProductBias` (50 factors, output squashed
# into (0, 5.5), no dropout) trained the chapter's way: fastai's `fit_one_cycle`, 5 epochs, learning
# rate 5e-3, weight decay 0.1, batches of 64. The same subnormal-number slowdown hits fastai's
# Adam, so we run it inside `flush_denormal` too.

# %%
with flush_denormal():
    learn = fit_model(DotProductBias, collab_dls(trn, val, bs=64, seed=42), n_factors=50, epochs=5, lr=5e-3, wd=0.1, seed=42)
chapter = learn.model
rmse_chapter = valid_mse(learn)**0.5
print(f"DotProductBias, wd 0.1 (fastai): valid RMSE {rmse_chapter:.3f}; chapter on ML-100K: MSE 0.823, RMSE {0.823**0.5:.3f}")

# %% [markdown]
# Weight decay with a one-cycle schedule does about as well as the post's dropout with early
# stopping. (The chapter's own 0.823 is an MSE on ML-100K, another dataset; we print its square root
# only so it sits on the same scale.)
#
# ### Does tuning help?
#
# The chapter's settings were chosen for ML-100K. To see whether this dataset wants others, we search
# factors and weight decay in our own loop with batches of 256 (far cheaper per epoch than fastai at
# 64) and a one-cycle schedule. The settings are chosen on an **inner split of the training
# ratings**, never looking at the validation set, so that the validation number stays honest. The
# search runs in the full build (`slow`); it picked 32 factors and weight decay 0.3.

# %%
#| slow
inner_t,inner_v = random_split(trn, 0.1, seed=0)
grid = []
for nf in (32, 64, 128):
    for wd in (0.1, 0.3, 0.5):
        _,h = train_early_stopping(DotProductBias, inner_t, inner_v, vocab, bs=256, epochs=5, lr=5e-3, wd=wd,
                                   one_cycle=True, patience=5, seed=42, n_factors=nf)
        grid.append(dict(n_factors=nf, wd=wd, inner_rmse=h.valid_rmse.min()))
grid = pd.DataFrame(grid).sort_values('inner_rmse', ignore_index=True)
grid

# %%
#| slow
test_eq(grid.loc[0, ['n_factors', 'wd']].tolist(), [32, 0.3])

# %%
tuned,h_tuned = train_early_stopping(DotProductBias, trn, val, vocab, bs=256, epochs=5, lr=5e-3, wd=0.3,
                                     one_cycle=True, patience=5, seed=42, n_factors=32)
rmse_tuned = h_tuned.valid_rmse.min()
print(f"DotProductBias, 32 factors, wd 0.3, bs 256: valid RMSE {rmse_tuned:.3f}; chapter recipe on this split: {rmse_chapter:.3f}")

# %% [markdown]
# Tuning bought speed, not accuracy: the tuned model lands a few thousandths from the chapter's
# recipe (both printed above). On this data the chapter's defaults were already close to the best
# this model can do.
#
# ### Averaging two models
#
# What does help is combining models. `DotWithBias` and the chapter's `DotProductBias` reach similar
# errors by different routes (dropout and early stopping; weight decay and a schedule), so they make
# partly different mistakes, and the average of their predictions is better than either. A blend is
# one more `nn.Module`, so it takes the same `(batch, 2)` input:

# %%
class Blend(nn.Module):
    "Average of the predictions of several models that take the same (batch, 2) input."
    def __init__(self, *models): super().__init__(); self.models = nn.ModuleList(models)
    def forward(self, x): return torch.stack([m(x) for m in self.models]).mean(0)

blend = Blend(withbias, chapter)
rmse_blend = _valid_loss(blend, xv, yv)**0.5
print(f"average of DotWithBias and the chapter's DotProductBias: valid RMSE {rmse_blend:.3f} "
      f"(alone: {rmse_bias:.3f} and {rmse_chapter:.3f})")

# %% [markdown]
# All these models work with the project's tools, since they take the same input. `predict` and
# `recommend` on the blend, for user 1:

# %%
print(f"user 1, Toy Story (1995): {predict(blend, vocab, 1, titles='Toy Story (1995)'):.2f}")
recommend(blend, vocab, 1, n=5, rated=trn)

# %%
#| hide
for m in (simple, gather, withbias, tuned, blend):
    p = predict(m, vocab, val.user[:6].to_numpy(), items=val.item[:6].to_numpy())
    m.eval()
    with torch.no_grad(): test_close(p, m(xv[:6]).numpy(), eps=1e-5)
r = recommend(withbias, vocab, 1, n=5, rated=trn)
test_eq(len(r), 5); assert not set(r.item) & set(trn.item[trn.user == 1])
test_eq(len(item_biases(withbias, vocab)), vocab.n_items)

# %% [markdown]
# ## Results side by side
#
# One table for all of it, on our split of the 2018 data. Besides the overall RMSE it splits the
# validation ratings into those of movies the model saw in training and those of the movies that
# only occur in validation, counted at the top of the notebook:

# %%
models = {'SimpleDot (nn.Embedding, init 0..0.05)': (simple, h_simple, '1.08'),
          'DotWithBias (dropout 0.3/0.6)': (withbias, h_bias, '0.88'),
          'SimpleDot (GatherEmbedding, init -0.05..0.05)': (gather, h_gather, '1.13'),
          'DotProductBias, wd 0.1 (chapter, fastai)': (chapter, None, 'chapter: 0.907 (ML-100K)'),
          'DotProductBias, 32 factors, wd 0.3, bs 256': (tuned, h_tuned, ''),
          'average of DotWithBias and the chapter model': (blend, None, '')}
res = pd.DataFrame([(k, h.attrs['best_epoch'] if h is not None else None, *rmse_parts(m), post)
                    for k,(m,h,post) in models.items()],
                   columns=['model', 'best epoch', 'valid RMSE', 'seen movies', 'validation-only movies', 'post / chapter'])
res = res.astype({'best epoch': 'Int64'})
res.round(3)

# %%
best = res.loc[res['valid RMSE'].idxmin()]
print(f"best: {best.model}, valid RMSE {best['valid RMSE']:.3f}")
test_close(res['valid RMSE'].tolist()[:3], [rmse_simple, rmse_bias, rmse_gather], eps=1e-4)
assert res['valid RMSE'].min() <= 0.86, res
assert rmse_tuned <= 0.86 and rmse_chapter <= 0.87, (rmse_tuned, rmse_chapter)
assert rmse_blend < min(rmse_bias, rmse_chapter) - 0.005, (rmse_blend, rmse_bias, rmse_chapter)
assert 1.0 < rmse_simple < 1.15 and rmse_gather > rmse_simple + 0.02, (rmse_simple, rmse_gather)

# %% [markdown]
# What the table says, and why our numbers are not the post's:
#
# - **The order is the post's**: `DotWithBias` far ahead of `SimpleDot`, and the hand-made layer
#   with the symmetric start behind the built-in one. The values differ because the data differ (the
#   2018 edition, with fewer users and more rarely rated movies), the split differs, and we hand back
#   the weights of the best epoch where Keras keeps the last; on top of that every run of the post
#   was a single unseeded draw.
# - **Movies seen only in validation dominate `SimpleDot`'s error.** Their vectors never moved from
#   the start, so their dot product is close to zero and the prediction is nearly zero stars, several
#   stars off. On the movies it did see, `SimpleDot` is much closer to the other models than its
#   overall RMSE suggests. `DotWithBias` has a user bias and a sigmoid centred in the rating range,
#   so for an unseen movie it falls back to roughly what that user usually gives.
# - **Dropout and weight decay land in the same place.** `DotWithBias` and the chapter's
#   `DotProductBias` end close together on this split, by different regularisers, and tuning the
#   latter on an inner split did not move it. Averaging the two gives the best number in the notebook:
#   biases, a squashed output, some regularisation, and a second opinion are what it took.
# - **Both the post's and the chapter's numbers are beaten by the same models on our data**: this
#   edition and split seem easier than the post's 2016 data and than ML-100K (the chapter's 0.907
#   is on ML-100K; the same recipe gives a lower RMSE here).
# - Smaller details that move the numbers a little: Keras' Adam uses `epsilon=1e-7` where PyTorch
#   uses 1e-8, and the post's ratings table kept an unused row 0.

# %% [markdown]
# ## Training curves

# %%
fig,axs = plt.subplots(1, 4, figsize=(16, 3.2), sharey=True)
curves = [('SimpleDot', h_simple), ('SimpleDot, GatherEmbedding\ninit -0.05..0.05', h_gather),
          ('DotWithBias', h_bias), ('DotProductBias, tuned', h_tuned)]
for ax,(name,h) in zip(axs, curves):
    ax.plot(h.epoch, h.train_loss, 'o-', label='train'); ax.plot(h.epoch, h.valid_loss, 'o-', label='valid')
    ax.axvline(h.attrs['best_epoch'], color='grey', ls=':', label='best epoch')
    ax.set_title(name, fontsize=10); ax.set_xlabel('epoch'); ax.set_yscale('log')
axs[0].set_ylabel('MSE (log scale)'); axs[0].legend();

# %% [markdown]
# The `SimpleDot` runs start from a large loss (predictions near zero stars) and the gap between
# training and validation opens within two or three epochs, wider for the symmetric start.
# `DotWithBias` starts near the right level thanks to the sigmoid and keeps its validation loss
# falling for longer; its training loss is measured with dropout switched on, so it overstates the
# training error. The tuned model's validation loss flattens in its last epochs while the training
# loss keeps falling.

# %% [markdown]
# ## A look inside the movie vectors
#
# We read `DotWithBias`'s movie table, as the post does: 9,724 rows of 64 numbers. First the first
# 20 movies (by movie id), with titles:

# %%
W = withbias.item_factors.weight.detach().numpy()
m20 = np.abs(W[:20]).max()
fig,ax = plt.subplots(figsize=(12, 5))
im = ax.imshow(W[:20], cmap='RdBu_r', vmin=-m20, vmax=m20, aspect='auto')
ax.set_yticks(range(20), vocab.titles[:20], fontsize=8); ax.set_xlabel('factor')
fig.colorbar(im, ax=ax, shrink=0.8);

# %%
seen = np.isin(vocab.items, trn.item.unique())
print(f"first 20 movies: weights from {W[:20].min():.2f} to {W[:20].max():.2f}; post (2016 data): roughly -0.5 to 0.5")
print(f"all movies seen in training: std {W[seen].std():.3f}; the {(~seen).sum()} never seen: std {W[~seen].std():.3f}, "
      f"max |w| {np.abs(W[~seen]).max():.3f} (their starting values)")

# %% [markdown]
# Like the post, we find little structure to the eye: the numbers are spread around zero, no factor
# is obviously "comedy" or "old film", and only a few columns lean to one colour for most movies (a
# hint of the shared direction that PCA finds below). The rows of movies never seen in training are
# still at their starting values, a much narrower range.
#
# ### PCA, uncentred and centred
#
# To find the main directions in the 64 dimensions the post runs PCA without centring (R's
# `prcomp(center = FALSE)`). The two versions answer different questions:
#
# > jargon: **uncentred PCA**: the singular value decomposition of the matrix as it is. Its first
# > component points wherever most of the *sum of squares* lies, and if the rows share a common
# > offset, that is where it points. **Centred PCA** subtracts each column's mean first, so its
# > components describe how movies *differ* from the average movie.
#
# `embedding_pca` does both with one SVD. Signs of components are arbitrary, so we fix each so that
# its largest loading is positive.

# %%
#| export
def embedding_pca(w, # (n, k) matrix, e.g. a model's item factors
                  center:bool=False, # subtract the column means first; the post did not
                 ) -> tuple: # scores (n, k), components (k, k) as rows, share of the total sum of squares per component
    "PCA of the rows of `w` by SVD, uncentred (the post's) or centred; each component's largest loading is made positive."
    w = torch.as_tensor(np.asarray(w), dtype=torch.float64)
    if w.ndim != 2: raise ValueError(f"expected a 2-d matrix, got shape {tuple(w.shape)}")
    if center: w = w - w.mean(0)
    _,s,vt = torch.linalg.svd(w, full_matrices=False)
    vt = vt * torch.sign(vt.gather(1, vt.abs().argmax(1, keepdim=True)))
    return (w @ vt.T).numpy(), vt.numpy(), (s**2 / (s**2).sum()).numpy()

# %%
sc_u,pc_u,var_u = embedding_pca(W)
sc_c,pc_c,var_c = embedding_pca(W, center=True)

def pca_compare(w):
    "How much of `w` is a shared offset, and how that changes the first principal component."
    _,pu,vu = embedding_pca(w); _,pc,vc = embedding_pca(w, center=True)
    m = w.mean(0)
    return {'offset share': len(w) * (m**2).sum() / (w**2).sum(), 'PC1 share, uncentred': vu[0], 'PC1 share, centred': vc[0],
            'cos(PC1 uncentred, mean)': abs(pu[0] @ m) / np.linalg.norm(m), 'cos(PC1 uncentred, PC1 centred)': abs(pu[0] @ pc[0])}

cmp = pd.DataFrame({'DotWithBias': pca_compare(W), 'SimpleDot': pca_compare(simple.item_factors.weight.detach().numpy())}).T
cmp.round(3)

# %%
fig,ax = plt.subplots(figsize=(7, 3))
k = np.arange(1, 16)
ax.bar(k - 0.2, var_u[:15], 0.4, label='uncentred (post)'); ax.bar(k + 0.2, var_c[:15], 0.4, label='centred')
ax.set_xlabel('component'); ax.set_ylabel('share of sum of squares'); ax.legend();

# %%
#| hide
test_close(sc_u @ pc_u, W, eps=1e-5)  # uncentred scores rebuild the matrix
test_close(sc_c.mean(0), np.zeros(W.shape[1]), eps=1e-9)
test_close(var_u.sum(), 1.); assert (np.diff(var_u) <= 1e-12).all() and (np.diff(var_c) <= 1e-12).all()
ev = np.linalg.eigvalsh(np.cov(W.T))[::-1]
test_close(var_c, ev / ev.sum(), eps=1e-8)  # centred shares are the covariance eigenvalues
assert (pc_u[np.arange(len(pc_u)), np.abs(pc_u).argmax(1)] > 0).all()
test_fail(lambda: embedding_pca(np.zeros(5)), contains='expected a 2-d matrix, got shape (5,)')

# %% [markdown]
# The table and the bars show how the two relate here. In both models the first component points
# the same way whether we centre or not (last column), and the average movie vector lies along it
# (the column before): these vectors differ from each other mostly along their own mean direction.
# What centring changes is the share. For `DotWithBias`, whose vectors started symmetric around
# zero, the common offset is small and the two spectra nearly match; as the post found, the second
# component carries much less than the first. For `SimpleDot`, whose vectors all started positive,
# the offset is most of the matrix, and uncentred PCA counts it as explained: its first component
# claims almost everything, where centred PCA gives it a smaller share of what actually varies
# between movies. In general the two can point in different directions, whenever the offset is not
# along the main spread; then only the centred one describes how movies differ.
#
# ### Which movies sit at the two ends of the first component?
#
# Following the post, only movies with more than 20 ratings, with their mean rating, genres and
# count over all the data:

# %%
stats = df.groupby('item').agg(mean_rating=('rating', 'mean'), count=('rating', 'size'))
movies = pd.DataFrame({'title': vocab.titles, 'PC1': sc_u[:, 0], 'centred PC1': sc_c[:, 0]}, index=vocab.items)
movies = movies.join(stats).join(df.drop_duplicates('item').set_index('item').genres)
pop = movies[movies['count'] > 20].sort_values('PC1')
cols = ['title', 'PC1', 'mean_rating', 'genres', 'count']
print(f"{len(pop)} movies with more than 20 ratings; post (2016 data): 1,247")
pop[cols].head(10).round(3)

# %%
pop[cols].tail(10).iloc[::-1].round(3)

# %%
corr = pop[['PC1', 'centred PC1']].corrwith(pop.mean_rating)
corr_n = pop[['PC1', 'centred PC1']].corrwith(np.log(pop['count']))
print(f"correlation with mean rating: uncentred PC1 {corr['PC1']:+.2f}, centred PC1 {corr['centred PC1']:+.2f}")
print(f"correlation with log(count):  uncentred PC1 {corr_n['PC1']:+.2f}, centred PC1 {corr_n['centred PC1']:+.2f}")
print(f"movies shared by the two top-10 lists (uncentred vs centred): "
      f"{len(set(pop.nlargest(10, 'PC1').title) & set(pop.nlargest(10, 'centred PC1').title))}")
U = withbias.user_factors.weight.detach().numpy()
print(f"user vectors: offset share {len(U) * (U.mean(0)**2).sum() / (U**2).sum():.3f}, "
      f"cos(mean user vector, movie PC1) {abs(U.mean(0) @ pc_u[0]) / np.linalg.norm(U.mean(0)):.2f}")

# %%
#| hide
test_eq(len(pop), (stats['count'] > 20).sum())
assert pop.PC1.is_monotonic_increasing and (pop['count'] > 20).all()
test_close(movies.loc[1, 'mean_rating'], df.rating[df.item == 1].mean(), eps=1e-6)

# %% [markdown]
# The post left naming its factor to the reader. Ours names itself: the low end holds films that
# few people liked (in the first table, with their low mean ratings), the high end the Godfather
# films, *Pulp Fiction* and *Schindler's List*, and the first component correlates strongly with the
# mean rating, centred or not. That is a surprise, because `DotWithBias` has an item bias for exactly
# this. The last line printed explains it: the user vectors share a common direction, and the
# movies' first component lies along it. Where a movie sits along that shared direction raises or
# lowers its predicted rating for nearly every user, so the dot product has grown a second movie
# bias. (The sign of a component means nothing by itself; we fixed it by the largest loading, and
# here that happens to make high scores mean well liked.)

# %% [markdown]
# ## Summary
#
# - `GatherEmbedding` is an embedding layer in a few lines: a parameter matrix and an index. It matches
#   `nn.Embedding` in output and gradient, and names the bad index and the table size when misused.
# - `SimpleDot` and `DotWithBias` are the post's two models; `train_early_stopping` trains them the
#   post's way (Adam, batches of 32, patience 2) and restores the best epoch's weights.
# - On our split of the 2018 data the ranking of the post repeats; much of `SimpleDot`'s error comes
#   from movies that only appear in validation, which a model without biases cannot handle.
# - Dropout (`DotWithBias`) and weight decay (`DotProductBias`) reach similar errors; tuning on an
#   inner split did not beat the chapter's settings, but averaging the two models does best.
# - Dense Adam drives the untouched rows' running averages into subnormal floats; `flush_denormal`
#   avoids the slowdown.
# - Uncentred PCA, as in the post, counts the vectors' shared offset as explained variance: harmless
#   for `DotWithBias`, misleading for `SimpleDot`. In both, the first component lies along the mean
#   direction, and for `DotWithBias` it is a "well liked" axis that works as a second movie bias.
#
# **Questions.** What does `DotWithBias` predict for a movie it never saw in training, and why is that
# a sensible guess? Why would the dot product learn a second movie bias when the model already has
# one, and would weight decay on the vectors change that? Why does the gradient of a row used twice in a batch equal the sum of the two
# upstream gradients? Would dropout on the biases make sense? Why does the share of the first
# uncentred component grow when all vectors share an offset?
#
# **Further work.** Train with sparse gradients (`nn.Embedding(sparse=True)` with `SparseAdam`) and
# compare speed and RMSE with dense Adam. Give movies seen only in validation the average movie
# vector instead of their random start. Try the post's `DotWithBias` with the chapter's `y_range` of
# (0, 5.5).
