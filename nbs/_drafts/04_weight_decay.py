# %% [markdown]
# # Weight decay
# > Why large weights overfit, L2 in the loss versus in the gradient, fastai's decoupled `wd`, a `create_params` model, and why the book's fastai recipe scores worse today.

# %%
#| default_exp weight_decay

# %%
#| export
from __future__ import annotations
import torch
from torch import nn
from fastai.basics import Module
from fastai.layers import sigmoid_range

# %%
#| hide
from fastcore.test import *

# %%
import inspect, tempfile, warnings
import numpy as np, pandas as pd, matplotlib.pyplot as plt
import fastai
from fastai.basics import *
from fastai.optimizer import SGD, Adam
from fastai.collab import CollabDataLoaders, collab_learner, EmbeddingDotBias
from fastai.tabular.core import TabularPandas, TabDataLoader, Categorify
from collab_book.data import load_ratings, random_split, Vocab
from collab_book.models import (DotProductBias, collab_dls, fit_model, valid_mse, predict, recommend)

# %% [markdown]
# This notebook trains about fifteen models. fastai's live progress bars are costly to render when
# a notebook runs unattended (in a test run they made a short training about eight times slower),
# so we swap them for a callback that prints the same per-epoch table as plain text.

# %%
class EpochTable(Callback):
    "Print the epoch table (epoch, losses, time) as plain text instead of fastai's progress bars."
    order = 60
    def before_fit(self):
        self.old_logger = self.learn.logger
        if self.learn.logger is not noop: self.learn.logger = self._row; self._row(self.recorder.metric_names)
    def after_fit(self): self.learn.logger = self.old_logger
    def _row(self, log): print(''.join(f'{v:>12.6f}' if isinstance(v, float) else f'{v!s:>12}' for v in log))

defaults.callbacks = [TrainEvalCallback, Recorder, EpochTable]

# %% [markdown]
# At the end of the previous notebook `DotProductBias` overfitted: its training loss kept falling
# while its validation loss turned back up. This notebook adds the standard cure, a penalty on the
# size of the weights, and measures what it buys. With all the parameters of the model written
# $\theta$ and a penalty strength $\mathrm{wd}$, the loss we now minimise is
#
# $$L(\theta) = \frac1N\sum_{(u,i)} \left(r_{ui} - \hat r_{ui}\right)^2 \;+\; \mathrm{wd}\sum_{w\in\theta} w^2 .$$
#
# > jargon: **weight decay** (**wd**), also **L2 regularisation**: adding a multiple of the sum of
# > the squared weights to the loss, so that the optimiser trades a little training fit for smaller weights.

# %% [markdown]
# ## Why large weights mean sharp functions
#
# A weight is a gain: it says how strongly the output reacts when an input moves. The left panel
# draws $y = a x^2$ for a few gains $a$; the larger $a$, the narrower the bowl and the more the
# output jumps for the same small step in $x$. A model that is free to use large gains can bend
# itself around every training point, noise included. The right panel shows what the penalty does
# to a one-weight problem whose data alone would put the weight at 3: adding $\mathrm{wd}\,w^2$
# lifts the curve on both sides and slides its minimum towards zero, to $3/(1+\mathrm{wd})$.

# %%
x = np.linspace(-2, 2, 201)
fig,(ax0,ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
for a in (0.5, 1, 3, 10, 30): ax0.plot(x, a*x**2, label=f'a={a}')
ax0.set_ylim(0, 4); ax0.set_title('y = a·x²: bigger gain, sharper bowl'); ax0.legend()
w = np.linspace(-1, 5, 301)
for wd in (0, 0.5, 2):
    l = (w-3)**2 + wd*w**2
    ax1.plot(w, l, label=f'wd={wd}'); ax1.plot(w[l.argmin()], l.min(), 'k.')
ax1.set_ylim(0, 12); ax1.set_xlabel('w'); ax1.set_title('(w-3)² + wd·w²: minimum moves to 0'); ax1.legend()
plt.tight_layout()
print({wd: round(float(w[((w-3)**2 + wd*w**2).argmin()]), 2) for wd in (0, 0.5, 2)})

# %% [markdown]
# The printed minima are $3$, $2$ and $1$, as $3/(1+\mathrm{wd})$ says. The same step of $0.1$ in
# $x$, from $0.5$ to $0.6$, moves $a x^2$ by $0.11\,a$: thirty times further for $a=30$ than for $a=1$.

# %%
print({a: round(a*(0.6**2 - 0.5**2), 3) for a in (1, 30)})

# %% [markdown]
# ## L2 in the loss, or in the gradient
#
# Summing the squares of every parameter at every step is wasteful. Because the derivative of
# $\mathrm{wd}\,w^2$ is $2\,\mathrm{wd}\,w$, we can leave the loss alone and add $2\,\mathrm{wd}\,w$
# to each gradient instead. Let us check that on a small `DotProductBias` (3 users, 4 movies, 2
# factors) with one plain SGD step each way, from the same starting weights.

# %%
xb = torch.tensor([[0,1],[1,2],[2,3],[0,0]]); yb = torch.tensor([4., 3., 5., 1.])
wd,lr = 0.05, 0.5
def tiny(n_items=4): set_seed(0); return DotProductBias(3, n_items, n_factors=2)
def mse(m): return ((m(xb) - yb)**2).mean()

m_loss = tiny()                                # (a) penalty added to the loss
(mse(m_loss) + wd*sum((p**2).sum() for p in m_loss.parameters())).backward()
torch.optim.SGD(m_loss.parameters(), lr=lr).step()

m_grad = tiny()                                # (b) 2*wd*w added to the gradient
mse(m_grad).backward()
for p in m_grad.parameters(): p.grad += 2*wd*p.detach()
torch.optim.SGD(m_grad.parameters(), lr=lr).step()

def maxdiff(m1, m2): return max(float((p-q).detach().abs().max()) for p,q in zip(m1.parameters(), m2.parameters()))
diff,moved = maxdiff(m_loss, m_grad),maxdiff(m_loss, tiny())
print(f"largest difference between the two updates: {diff:.1e}; largest change of a weight in the step: {moved:.2f}")

# %%
#| hide
test_close(diff, 0., eps=1e-6); assert moved > 0.1

# %% [markdown]
# Identical, up to rounding. **The factor 2 is a convention**: the book writes the penalty as
# $\mathrm{wd}\sum w^2$ and then folds the 2 into $\mathrm{wd}$; fastai's optimisers do the same,
# adding $\mathrm{wd}\cdot w$ to the gradient. So fastai's `wd=0.1` corresponds to a penalty of
# $0.05\sum w^2$ in the loss above.
#
# fastai has two ways to apply `wd`, chosen by the `decouple_wd` argument of each optimiser:
# `l2_reg` adds $\mathrm{wd}\cdot w$ to the gradient (classic L2), while `weight_decay` shrinks the
# weights directly, $w \leftarrow w\,(1 - \mathrm{lr}\cdot\mathrm{wd})$, before the optimiser's own
# step. That second form is **decoupled weight decay**, and it is fastai's default. For plain SGD
# the two are the same update:

# %%
def one_step(opt_func, m):
    mse(m).backward(); opt = opt_func(list(m.parameters()), lr=lr, wd=2*wd); opt.step(); return m
a = one_step(partial(SGD, decouple_wd=True), tiny())
b = one_step(partial(SGD, decouple_wd=False), tiny())
print(f"SGD, decoupled vs L2: {maxdiff(a, b):.1e}; fastai's decoupled SGD vs (a) above: {maxdiff(a, m_loss):.1e}")

# %%
#| hide
test_close(maxdiff(a, b), 0., eps=1e-6); test_close(maxdiff(a, m_loss), 0., eps=1e-6)

# %% [markdown]
# For Adam they are not. Adam divides each gradient by a running estimate of its size, so an L2
# term that travels with the gradient is divided too: a weight whose data gradient is zero gets
# its tiny decay term blown up to a full-sized step. Decoupled decay shrinks every weight by the
# same factor, whatever its gradient. Give the tiny model a fifth movie that is not in the batch
# and take one Adam step each way:

# %%
a = one_step(partial(Adam, decouple_wd=True), tiny(5))
b = one_step(partial(Adam, decouple_wd=False), tiny(5))
rows = torch.stack([tiny(5).item_factors.weight[4], a.item_factors.weight[4], b.item_factors.weight[4]]).detach()
pd.DataFrame(rows.numpy(), index=['before', 'Adam, decoupled', 'Adam, L2'], columns=['factor 0', 'factor 1']).round(4)

# %% [markdown]
# Decoupled decay nudges the unseen movie's factors a few percent towards zero; L2 under Adam
# throws them across zero by about the learning rate. On a real model with thousands of rarely
# seen rows, the two are different regularisers, and the `wd` that suits one does not suit the other.

# %%
#| hide
test_close(a.item_factors.weight[4], tiny(5).item_factors.weight[4]*(1 - lr*2*wd), eps=1e-6)
assert (b.item_factors.weight[4] - tiny(5).item_factors.weight[4]).abs().min() > 0.4

# %% [markdown]
# Which one does `fit_one_cycle(..., wd=0.1)` use? `Learner`'s default optimiser is fastai's
# `Adam`, whose `decouple_wd` defaults to `True`: it is AdamW-style decoupled decay, applied with
# the learning rate of the moment, so the decay follows the one-cycle schedule too. We check on a
# real learner below, by listing the steps its optimiser runs.

# %%
print("Learner's default opt_func:", inspect.signature(Learner).parameters['opt_func'].default.__name__)
print("Adam's decouple_wd default:", inspect.signature(Adam).parameters['decouple_wd'].default)

# %% [markdown]
# ## `DotProductBias` with weight decay
#
# Now the real thing: the chapter's split and model, trained for five epochs at `lr=5e-3`, once
# with `wd=0.1` and once with no decay at all, side by side.

# %%
ratings = load_ratings()
trn,val = random_split(ratings, valid_pct=0.2, seed=42)
dls = collab_dls(trn, val, bs=64, seed=42)
def epochs_table(learn) -> pd.DataFrame:
    "Loss per epoch. Read it before `get_preds`: its validation pass starts a new `recorder.values`."
    return pd.DataFrame([v[:2] for v in learn.recorder.values], columns=['train_loss', 'valid_loss'],
                        index=pd.RangeIndex(1, len(learn.recorder.values)+1, name='epoch'))

learn_wd = fit_model(DotProductBias, dls, n_factors=50, epochs=5, lr=5e-3, wd=0.1, seed=42)
ep_wd = epochs_table(learn_wd)

# %%
print("steps the optimiser runs:", [getattr(cb, '__name__', None) or cb.func.__name__ for cb in learn_wd.opt.cbs])

# %% [markdown]
# `weight_decay`, not `l2_reg`: decoupled. The run without decay, same seed:

# %%
learn_0 = fit_model(DotProductBias, dls, n_factors=50, epochs=5, lr=5e-3, wd=0., seed=42)
ep_0 = epochs_table(learn_0)

# %%
def summary(learn, ep):
    "Last epoch's train loss, validation MSE and the gap between them."
    tl,vm = float(ep.train_loss.iloc[-1]),valid_mse(learn)
    return dict(train_loss=tl, valid_mse=vm, gap=vm-tl)

cmp = pd.DataFrame({'wd=0': summary(learn_0, ep_0), 'wd=0.1': summary(learn_wd, ep_wd)}).T
cmp['chapter valid'] = [0.893, 0.823]
cmp.round(3)

# %%
mse_wd,mse_0 = cmp.loc['wd=0.1','valid_mse'],cmp.loc['wd=0','valid_mse']
print(f"DotProductBias wd=0.1: valid MSE {mse_wd:.3f}; chapter: 0.823")
print(f"DotProductBias wd=0:   valid MSE {mse_0:.3f}; chapter: 0.893")

# %%
vc = pd.DataFrame({'wd=0': ep_0.valid_loss, 'wd=0.1': ep_wd.valid_loss})
vc.plot(marker='o', ylabel='validation MSE', title='validation loss per epoch, seed 42');

# %% [markdown]
# The table says it plainly: without decay the model drives its training loss far lower and pays
# for it on the held-out ratings; the gap between training and validation loss is about twice
# what it is with decay. With `wd=0.1` the validation loss keeps improving to the last epoch instead of turning
# back up, and lands close to the chapter's number.

# %%
assert mse_wd < mse_0 - 0.05, (mse_wd, mse_0)
assert cmp.loc['wd=0.1','gap'] < 0.6 * cmp.loc['wd=0','gap']

# %% [markdown]
# ### Target: mean of three seeds at or below 0.83
#
# One run could be lucky. We train the same recipe with two more seeds (the split stays the
# seed-42 one; the seed changes the starting weights and the shuffle) and require the **mean**
# validation MSE of seeds 42, 1 and 2 to be at most 0.83.

# %%
learns = {42: learn_wd}
for s in (1, 2): learns[s] = fit_model(DotProductBias, dls, n_factors=50, epochs=5, lr=5e-3, wd=0.1, seed=s)

# %%
t1 = {s: valid_mse(l) for s,l in learns.items()}
for s,m in t1.items(): print(f"seed {s:2d}: valid MSE {m:.4f}")
t1_mean = float(np.mean(list(t1.values())))
print(f"mean of 3 seeds: {t1_mean:.4f} (spread {max(t1.values())-min(t1.values()):.4f}); chapter: 0.823, one run")

# %%
assert t1_mean <= 0.83, t1_mean

# %% [markdown]
# The chapter's recipe clears the bar as it stands: five epochs, `lr=5e-3`, `bs=64`, no change needed.
#
# ## Our own embedding module
#
# `Embedding` has done the table look-ups so far. Underneath it is just a matrix the optimiser is
# allowed to change, and we can build that ourselves. The one thing to get right is how PyTorch
# finds the numbers to train: `Module.parameters()` collects only tensors wrapped in
# `nn.Parameter` (and those inside sub-modules). A plain tensor attribute is invisible to it:

# %%
class Plain(Module):
    def __init__(self): self.a = torch.ones(3)
class Marked(Module):
    def __init__(self): self.a = nn.Parameter(torch.ones(3))
L(Plain().parameters()), L(Marked().parameters())

# %%
#| hide
test_eq(len(list(Plain().parameters())), 0)
test_eq(len(list(Marked().parameters())), 1)
assert Marked().a.requires_grad and not Plain().a.requires_grad

# %% [markdown]
# An optimiser built from `Plain().parameters()` would have nothing to update, and weight decay
# nothing to decay. `nn.Parameter` adds no behaviour of its own beyond turning on `requires_grad`:
# it is a label that says "train me". `create_params` makes one, filled with small random numbers
# as `Embedding` does:

# %%
#| export
def create_params(size, # shape of the table, e.g. `[n_users, n_factors]`
                  std:float=0.01, # standard deviation of the normal start
                 ) -> nn.Parameter:
    "A trainable tensor of shape `size`, started from a normal distribution with mean 0 and `std`."
    return nn.Parameter(torch.zeros(*size).normal_(0, std))

# %%
t = create_params([1000, 50])
type(t).__name__, t.shape, t.requires_grad, round(float(t.detach().std()), 4)

# %%
#| hide
test_eq(t.shape, (1000, 50)); test_eq(type(t), nn.Parameter)
test_close(float(t.detach().std()), 0.01, eps=5e-4); test_close(float(t.detach().mean()), 0., eps=1e-3)
test_eq(create_params([7]).shape, (7,))

# %% [markdown]
# With it, `DotProductBias` needs no `Embedding` at all. Looking up rows is ordinary indexing,
# `table[idx]`, and the biases can be flat vectors, one number per user or movie. The attribute
# names are those of `DotProductBias`, so `predict` and `recommend` from `collab_book.models`
# work on it unchanged.

# %%
#| export
class ParamDotProductBias(Module):
    "`DotProductBias` built from `create_params` tables instead of `Embedding` layers."
    def __init__(self, n_users:int, n_items:int, n_factors:int=50, y_range:tuple|None=(0,5.5)):
        self.user_factors,self.item_factors = create_params([n_users, n_factors]),create_params([n_items, n_factors])
        self.user_bias,self.item_bias = create_params([n_users]),create_params([n_items])
        self.y_range = y_range
    def forward(self, x):
        u,i = x[:,0],x[:,1]
        res = (self.user_factors[u] * self.item_factors[i]).sum(dim=1) + self.user_bias[u] + self.item_bias[i]
        return res if self.y_range is None else sigmoid_range(res, *self.y_range)

# %%
pm = ParamDotProductBias(dls.vocab.n_users, dls.vocab.n_items)
xb64,_ = dls.one_batch()
[(n, tuple(p.shape)) for n,p in pm.named_parameters()], pm(xb64).shape

# %% [markdown]
# A hand check on a tiny model: with every factor and bias set by hand, the forward pass must
# equal the dot product plus the two biases, squashed by `sigmoid_range` when a range is given.

# %%
tm = ParamDotProductBias(2, 3, n_factors=2, y_range=None)
with torch.no_grad():
    tm.user_factors.copy_(torch.tensor([[1., 2.], [0.5, -1.]]))
    tm.item_factors.copy_(torch.tensor([[1., 0.], [2., 1.], [-1., 3.]]))
    tm.user_bias.copy_(torch.tensor([0.1, -0.2])); tm.item_bias.copy_(torch.tensor([0.3, 0., 1.]))
xs = torch.tensor([[0, 1], [1, 2]])
tm(xs)   # user 0, movie 1: 1*2 + 2*1 + 0.1 + 0 = 4.1;  user 1, movie 2: -0.5 - 3 - 0.2 + 1 = -2.7

# %%
#| hide
test_close(tm(xs), torch.tensor([4.1, -2.7]))
tm.y_range = (0, 5.5)
test_close(tm(xs), sigmoid_range(torch.tensor([4.1, -2.7]), 0, 5.5))
test_eq(pm(xb64).shape, (64,)); assert ((pm(xb64) > 0) & (pm(xb64) < 5.5)).all()
test_eq(len(list(pm.parameters())), 4)
nu_,ni_ = dls.vocab.n_users,dls.vocab.n_items
test_eq({n: tuple(p.shape) for n,p in pm.named_parameters()},
        {'user_factors': (nu_, 50), 'item_factors': (ni_, 50), 'user_bias': (nu_,), 'item_bias': (ni_,)})

# %% [markdown]
# An index past the end of a table is a bug in the caller (an id encoded with another vocabulary,
# say). Plain indexing reports it with the offending index and the table size, which is clearer
# than `Embedding`'s "index out of range in self":

# %%
bad = torch.tensor([[0, 3]])   # the tiny model has 3 movies: indices 0, 1, 2
for m in (tm, DotProductBias(2, 3, n_factors=2)):
    try: m(bad)
    except IndexError as e: print(f"{type(m).__name__}: {e}")

# %%
#| hide
test_fail(lambda: tm(bad), contains='index 3 is out of bounds for dimension 0 with size 3')
test_fail(lambda: tm(torch.tensor([[2, 0]])), contains='index 2 is out of bounds for dimension 0 with size 2')

# %% [markdown]
# Trained exactly like `DotProductBias`, it should land in the same place (the chapter got 0.824
# with this version):

# %%
learn_p = fit_model(ParamDotProductBias, dls, n_factors=50, epochs=5, lr=5e-3, wd=0.1, seed=42)
mse_p = valid_mse(learn_p)
print(f"ParamDotProductBias wd=0.1: valid MSE {mse_p:.3f}; DotProductBias, same seed: {mse_wd:.3f}; chapter: 0.824")

# %%
assert mse_p <= 0.83, mse_p
test_close(mse_p, mse_wd, eps=0.02)

# %% [markdown]
# The two start from different random numbers (fastai's `Embedding` uses a truncated normal), so
# they do not agree to the last digit, but they end up within a few thousandths. `predict` and
# `recommend` work on the new model, and the learned movie biases are one `argsort` away:

# %%
print(f"user 1, Star Wars: {predict(learn_p.model, dls.vocab, 1, titles='Star Wars (1977)'):.2f} stars")
recommend(learn_p.model, dls.vocab, user=1, n=3, rated=trn)

# %%
ib = learn_p.model.item_bias.detach()
pd.DataFrame({'lowest bias': dls.vocab.titles[ib.argsort()[:5].numpy()],
              'highest bias': dls.vocab.titles[ib.argsort(descending=True)[:5].numpy()]})

# %% [markdown]
# The whole learner can be saved with `learn.export()` and read back with `load_learner`; the
# reloaded model must predict exactly the same numbers.

# %%
fn = Path(tempfile.mkdtemp())/'param_dot_bias.pkl'
learn_p.export(fn)
with warnings.catch_warnings():
    warnings.simplefilter('ignore')   # load_learner unpickles: only load files you made yourself
    learn_p2 = load_learner(fn)
pairs = dict(users=[1, 2, 3], titles=['Star Wars (1977)', 'Fargo (1996)', 'Toy Story (1995)'])
predict(learn_p2.model, learn_p2.dls.vocab, **pairs), predict(learn_p.model, dls.vocab, **pairs)

# %%
#| hide
test_eq(predict(learn_p2.model, learn_p2.dls.vocab, **pairs), predict(learn_p.model, dls.vocab, **pairs))
test_eq(type(learn_p2.model).__name__, 'ParamDotProductBias')
fn.unlink()

# %% [markdown]
# ## Beating the book
#
# Can we reach a validation MSE of **0.80** on the same split? The obvious place to look is the five
# knobs of the recipe: `n_factors`, `wd`, `epochs`, `lr` and `bs`. The cells below (slow: they train
# four models; their saved output comes from a full run) change them one or two at a time, starting
# from the chapter's recipe, whose row reuses `learn_wd`.

# %%
#| slow
grid = [dict(n_factors=50,  wd=0.1, epochs=5,  lr=5e-3, bs=64),    # the chapter's recipe
        dict(n_factors=50,  wd=0.1, epochs=5,  lr=1e-2, bs=64),
        dict(n_factors=50,  wd=0.5, epochs=5,  lr=5e-3, bs=64),
        dict(n_factors=100, wd=0.2, epochs=5,  lr=5e-3, bs=64),
        dict(n_factors=50,  wd=0.2, epochs=10, lr=1e-2, bs=256)]
def knob_row(g):
    "Train `DotProductBias` with the knobs in `g` on the seed-42 split; return them with the losses."
    d = collab_dls(trn, val, bs=g['bs'], seed=42)
    l = fit_model(DotProductBias, d, n_factors=g['n_factors'], epochs=g['epochs'], lr=g['lr'], wd=g['wd'], seed=42)
    tl = float(l.recorder.values[-1][0])
    return {**g, 'train_loss': tl, 'valid_mse': valid_mse(l)}
rows = [{**grid[0], 'train_loss': float(ep_wd.train_loss.iloc[-1]), 'valid_mse': mse_wd}]   # already trained: `learn_wd`
rows += [knob_row(g) for g in grid[1:3]]

# %%
#| slow
rows += [knob_row(g) for g in grid[3:]]
knobs = pd.DataFrame(rows)
print(knobs.round(4).to_string()); print(f"best single model: {knobs.valid_mse.min():.4f}; bar 0.80; chapter: 0.823")

# %%
#| slow
assert knobs.valid_mse.min() > 0.80 and knobs.valid_mse.idxmin() in (0, 3), knobs   # the plateau the prose describes
assert knobs.valid_mse.round(4).nunique() == len(knobs)   # every knob moved the result

# %% [markdown]
# Every change moves the result, but none crosses the bar: a higher learning rate overfits, a
# stronger decay underfits, larger batches (even with twice the epochs) do worse, and more factors
# only help when the decay grows with them, to about where the chapter's recipe already is. A wider grid, run while preparing this notebook,
# found nothing better on this split either. A single model of this kind seems to sit at a floor a
# little above 0.80 here.
#
# What does cross it is not a knob but a second and third opinion. The three models of the
# target above were trained with different seeds; their errors are correlated but not identical,
# so the average of their predictions is better than any one of them:
#
# > jargon: **ensemble**: several models whose predictions are averaged (or voted); it removes the
# > part of each model's error that comes from its own random start and shuffle.

# %%
preds = {s: l.get_preds(dl=dls.valid)[0].view(-1) for s,l in learns.items()}
targ = torch.tensor(val.rating.to_numpy(), dtype=torch.float32)
for s,p in preds.items(): print(f"seed {s:2d}: valid MSE {float(((p-targ)**2).mean()):.4f}")
ens = float(((torch.stack(list(preds.values())).mean(0) - targ)**2).mean())
print(f"average of the 3 seeds' predictions: valid MSE {ens:.4f}; bar 0.80; chapter: 0.823")

# %%
assert ens <= 0.80, ens
assert ens < min(t1.values()) - 0.005

# %% [markdown]
# The margin is thin, and the price is three trainings instead of one; the check of the bar sits
# on this 3-seed average, not on a single configuration.

# %% [markdown]
# ## Why the book's fastai recipe scores worse here
#
# The chapter's last model is fastai's own: `CollabDataLoaders.from_df(ratings, item_name='title',
# bs=64)`, `collab_learner(dls, n_factors=50, y_range=(0,5.5))`, `fit_one_cycle(5, 5e-3, wd=0.1)`,
# reported at 0.822. Run here, with fastai as installed, it comes out clearly worse, while our
# `DotProductBias` with the same hyperparameters matches the book. Something in the fastai
# pipeline changed. We run the recipe seeded (the seed fixes fastai's own random 20% split, the
# starting weights and the shuffle):

# %%
print("fastai", fastai.__version__)
def book_recipe(seed:int, bar:bool=True, item_name:str='title', **dl_kw):
    "The chapter's fastai recipe, seeded; `dl_kw` go to `CollabDataLoaders.from_df`."
    set_seed(seed, reproducible=True); print(f"seed {seed}")
    dls_fa = CollabDataLoaders.from_df(ratings, item_name=item_name, bs=64, **dl_kw)
    learn = collab_learner(dls_fa, n_factors=50, y_range=(0,5.5))
    with warnings.catch_warnings():   # a torch warning about read-only arrays, which prints a local path
        warnings.simplefilter('ignore', UserWarning)
        if bar: learn.fit_one_cycle(5, 5e-3, wd=0.1)
        else:
            with learn.no_logging(): learn.fit_one_cycle(5, 5e-3, wd=0.1)
    return learn

learn_book = book_recipe(42)
tl_book,mse_book = float(learn_book.recorder.values[-1][0]),valid_mse(learn_book)
print(f"book recipe, seed 42: valid MSE {mse_book:.3f}; chapter: 0.822")

# %% [markdown]
# The candidates, one at a time.
#
# **The model.** `EmbeddingDotBias` and our `DotProductBias` create the same four `Embedding`
# tables in the same order and compute the same sum, so under the same seed they start from the
# same numbers and predict the same thing:

# %%
dls_fa = learn_book.dls
nu,ni = len(dls_fa.classes['user']), len(dls_fa.classes['title'])
set_seed(0); m_fa = EmbeddingDotBias(50, nu, ni, y_range=(0,5.5))
set_seed(0); m_ours = DotProductBias(nu, ni, n_factors=50)
xf = dls_fa.one_batch()[0]
print("same starting weights:", all(torch.equal(p, q) for p,q in zip(m_fa.parameters(), m_ours.parameters())),
      "| same predictions:", torch.equal(m_fa(xf), m_ours(xf)))

# %% [markdown]
# So the model class cannot be the cause. **Titles.** `item_name='title'` merges movies that
# share a title into one row. That touches very few ratings:

# %%
n_id = ratings.groupby('title').item.nunique()
shared = n_id[n_id > 1]
print(f"{len(shared)} titles cover {int(shared.sum())} movie ids; "
      f"{ratings.title.isin(shared.index).mean():.2%} of the ratings")

# %% [markdown]
# **The vocabulary.** In the book, `dls.classes` listed fewer titles than the dataset has:
# `Categorify` learned its categories from the training split only, and a title seen only in
# validation became `#na#`. Here:

# %%
tr_fa,va_fa = dls_fa.train.items.index, dls_fa.valid.items.index   # fastai's seed-42 split, as row labels
print(f"fastai's classes now: {len(dls_fa.classes['user'])} users, {len(dls_fa.classes['title'])} titles (with #na#); the book's: 944 and 1635")
print("Categorify.setups:", inspect.getsource(Categorify.setups).splitlines()[1].strip())
vr = ratings.loc[va_fa]
unseen = int((~vr.title.isin(set(ratings.title[tr_fa])) | ~vr.user.isin(set(ratings.user[tr_fa]))).sum())
print(f"validation ratings whose user or title never occurs in training: {unseen} of {len(vr):,}")
print(f"if each were off by 2 stars, they would add {unseen*4/len(vr):.4f} to the MSE")

# %% [markdown]
# A second change since the book: `Categorify` now builds its categories from the whole table,
# validation rows included. It is harmless here. A title seen only in validation gets its own row
# instead of `#na#`, but that row never trains either, exactly as in our `Vocab`, and such ratings
# are too few to matter.

# %% [markdown]
# The gap we are chasing is several times larger than that bound. **The loader.** Here is the culprit.
# Look at the class of the training `DataLoader` fastai built, and count how many distinct
# training ratings one epoch visits:

# %%
dl = dls_fa.train
idx = dl.get_idxs()
print(f"{type(dl).__name__}: {len(idx):,} draws per epoch, {len(set(idx))/dl.n:.1%} of the {dl.n:,} training ratings distinct")
print("TabularPandas._dl_type is", TabularPandas._dl_type.__name__)
print(inspect.getsource(type(dl).get_idxs))

# %% [markdown]
# In recent fastai, `fastai.tabular.core` defines a weighted tabular loader, `TabWeightedDL`,
# and its last line sets `TabularPandas._dl_type = TabWeightedDL`, replacing the plain
# `TabDataLoader` as the default loader of every `TabularPandas`, which is what
# `CollabDataLoaders.from_df` builds. With no weights given, its `get_idxs` still *samples with
# replacement* (`np.random.choice` over all rows). Each "epoch" is therefore a bootstrap sample:
# about $1-1/e \approx 63\%$ of the ratings, some seen two or three times, and the rest not at
# all. Our `collab_dls`, like the book's fastai 2.0, shuffles: every rating once per epoch.
#
# The test is to put the plain loader back, `dl_type=TabDataLoader`, and change nothing else: same
# seed, hence the same split, the same starting weights, the same model.

# %%
learn_fix = book_recipe(42, dl_type=TabDataLoader)
tl_fix,mse_fix = float(learn_fix.recorder.values[-1][0]),valid_mse(learn_fix)
print(f"{type(learn_fix.dls.train).__name__}: {len(set(learn_fix.dls.train.get_idxs()))/learn_fix.dls.train.n:.1%} distinct per epoch")

# %%
inv = pd.DataFrame({'train loss': [tl_book, tl_fix],
                    'valid MSE': [mse_book, mse_fix]}, index=['TabWeightedDL (default)', 'TabDataLoader'])
print(inv.round(3).to_string()); print(f"chapter: 0.822")

# %%
assert mse_fix < mse_book - 0.02, (mse_book, mse_fix)
assert mse_fix <= 0.83, mse_fix

# %% [markdown]
# With the shuffle restored, the book's recipe lands where the book says it does. The sampled
# loader gives a *lower* training loss and a *higher* validation loss: it overfits more, not less.

# %% [markdown]
# One seed proves little, so the slow cells below repeat the comparison on another seed (which
# gives fastai a different split), and add two controls on seed 42: movie ids instead of titles,
# and our own pipeline (`collab_dls` + `DotProductBias`) trained on fastai's split.

# %%
#| slow
def inv_row(seed, loader, items, l):
    "One row of the comparison; the train loss is read before `valid_mse` resets the recorder."
    tl = float(l.recorder.values[-1][0])
    return dict(seed=seed, loader=loader, items=items, train_loss=tl, valid_mse=valid_mse(l))
runs = [dict(seed=42, loader='TabWeightedDL (default)', items='title', train_loss=tl_book, valid_mse=mse_book),
        dict(seed=42, loader='TabDataLoader', items='title', train_loss=tl_fix, valid_mse=mse_fix)]
runs += [inv_row(1, 'TabWeightedDL (default)', 'title', book_recipe(1, bar=False)),
         inv_row(1, 'TabDataLoader', 'title', book_recipe(1, bar=False, dl_type=TabDataLoader))]

# %%
#| slow
runs.append(inv_row(42, 'TabDataLoader', 'item id', book_recipe(42, bar=False, item_name='item', dl_type=TabDataLoader)))
dls_ours_fa = collab_dls(ratings.loc[tr_fa], ratings.loc[va_fa], bs=64, seed=42)   # our pipeline on fastai's split
runs.append(inv_row(42, 'collab_dls (ours)', 'item id', fit_model(DotProductBias, dls_ours_fa, wd=0.1, seed=42)))
runs = pd.DataFrame(runs)
print(runs.round(4).to_string()); print("chapter: 0.822")

# %%
#| slow
v = runs.set_index(['seed','loader','items']).valid_mse
gaps = {s: v[s,'TabWeightedDL (default)','title'] - v[s,'TabDataLoader','title'] for s in (42, 1)}
print({s: round(g, 4) for s,g in gaps.items()})
assert all(g > 0.02 for g in gaps.values()), gaps
assert abs(v[42,'TabDataLoader','item id'] - v[42,'TabDataLoader','title']) < 0.01
assert abs(v[42,'collab_dls (ours)','item id'] - v[42,'TabDataLoader','title']) < 0.015

# %% [markdown]
# On both seeds the default loader costs several hundredths of MSE against the plain one, on the
# same split with the same starting weights, while titles versus ids and fastai's pipeline versus
# ours (on fastai's split) barely matter. Changing the seed moves each loader's result by about a
# hundredth (compare the two seeds here, and the three seeds of our target above), which is why a
# single run of the book's recipe can land anywhere in a small band around the chapter's number.
#
# **What this does not explain.** We cannot rerun the book's fastai 2.0 here, so the claim that
# its `CollabDataLoaders` shuffled rather than sampled rests on the code history, not on a side by
# side run, and other changes since 2020 cannot be ruled out, only shown to be small: with the
# plain loader the recipe matches the chapter within the seed spread. The book's exact split is not
# recoverable, so its exact numbers cannot be reproduced. And we have not pinned down *why*
# bootstrap epochs hurt this much: each rating's weight in an epoch becomes random (0, 1, 2, ...
# times), which lowers the training loss the learner reports and raises the validation loss, but
# separating the effect of the ratings left out from that of the ratings repeated would need
# experiments this notebook does not run.

# %% [markdown]
# ## Summary
#
# - Large weights make sharp functions; weight decay adds $\mathrm{wd}\sum w^2$ to the loss, which
#   is the same as adding $2\,\mathrm{wd}\,w$ to the gradient (fastai folds the 2 into `wd`).
# - fastai's `wd` is decoupled by default (`weight_decay`, AdamW-style with `Adam`); for SGD that
#   equals L2, for Adam it does not.
# - `DotProductBias` with `wd=0.1` beats the unregularised model by a wide margin and matches the
#   chapter; the mean of three seeds is well inside 0.83.
# - `create_params` and `ParamDotProductBias` rebuild the model from bare `nn.Parameter` tables.
# - The book's fastai recipe scores worse today because `CollabDataLoaders` now trains on
#   bootstrap samples (`TabWeightedDL`); `dl_type=TabDataLoader` restores the book's result.
#
# **Questions.** Why does decoupled decay shrink rows of users and movies that are not in the
# batch, while L2 in the gradient (without momentum) would not? What value of the book's
# penalty $\mathrm{wd}\sum w^2$ matches fastai's `wd=0.1` under SGD? Why might sampling with
# replacement make a model overfit *more*, when bagging usually reduces variance?
#
# **Further work.** Tune the decay of the biases separately from that of the factors; compare
# decoupled and L2 decay under Adam on this data; report the fastai loader change upstream with
# the side-by-side numbers from this notebook.
