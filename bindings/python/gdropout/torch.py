"""gdropout.torch: guided dropout for a torch.nn.Module, on libgdropout.

Optional: `import gdropout` never imports torch; `import gdropout.torch`
needs it (PyTorch 1.13 as in Debian 12, or 2.x; features are tested, not
versions).  The path, in five lines:

    import gdropout, gdropout.torch as gt
    sites = gt.map_sites(model, sample, leave_alone=["classifier.dropout"])
    fisher = gt.estimate_fisher(model, loss_fn, batches, sites=sites)
    plan = gt.make_plan(fisher, sites, p_max=0.1, p_min=0.0)
    gt.apply_plan(model, plan, sites)          # or gt.replace_dropout(...)

Sites
    A *site* is one dropout module (nn.Dropout and the other torch.nn
    dropouts, or gdropout.torch.Dropout), named by its qualified module name.
    Site i of a Sites object is the i-th in forward order (order of first
    call on the sample input), not counting the modules the caller leaves
    alone.  Dropout applied functionally (F.dropout, nn.MultiheadAttention's
    dropout= argument) is not a site: only modules have a p to set.

The traced mapping (map_sites with a sample and no mapping)
    The model runs once on the sample, in eval mode with gradients enabled,
    and the output of every call of every site is recorded.  A trainable
    parameter feeds the site of the EARLIEST DROPOUT CALL, in execution order,
    WHOSE OUTPUT DEPENDS ON IT through the autograd graph of that forward.
    A module's parameters therefore feed the first site its output reaches;
    a parameter no site's output depends on (a head after the last site, or
    before a site the caller left alone) feeds no site: it is tracked in the
    Fisher with site None and does not enter the plan.
    Consequences for post-LayerNorm blocks (BERT, nn.TransformerEncoderLayer
    with norm_first=False), where LayerNorm(x + dropout(sublayer(x))) ends
    each sub-block: the LayerNorm after the attention block feeds the FFN's
    first site, and the block's last LayerNorm feeds the NEXT block's first
    site (the last block's feeds no site unless a later site is traced); the
    embeddings' LayerNorm feeds the embedding dropout.  In BERT's attention
    the query and key projections feed the attention-probabilities dropout
    (softmax(QK^T) is what it drops), while the value and output projections
    feed the attention-output dropout.  In a pre-LayerNorm block every
    LayerNorm feeds its own sub-block's first site.
    An explicit mapping (a dict or a callable) replaces the trace.

Fisher (estimate_fisher)
    F_j = mean over examples of g_{n,j}^2, g_n the gradient of example n's
    own loss, accumulated by the C library in double.  Methods: "loop"
    (forward/backward per example, batch of one: the paper's), "vmap"
    (torch.func / functorch vmap(grad)), "dense" (nn.Linear layers through
    gd_fisher_accumulate_dense / _dense_seq from their inputs and output
    gradients captured by hooks, no per-example gradient formed; every other
    parameter by vmap, else loop), "auto" ("dense").

Kernels (Dropout, dropout)
    Dropout(p, seed, site) is a drop-in nn.Dropout with libgdropout's masks
    on any device: strided CPU float32 tensors go through the C kernels on
    their own memory (the mask regenerated in backward), and so do bfloat16
    and float16 ones (the half kernels of 1.2: float32's masks, the float32
    result rounded to nearest even, as torch rounds), everything else
    through Philox4x32-10 and the mask rule written in torch integer ops on
    the tensor's device (philox_words, keep_mask), bit-identical to the C
    kernels.  Its k-th training-mode call (k = 0, 1, ... counted from its
    `step` attribute's starting value s0, every call counted whatever p is)
    uses

        gd_stream { .seed = seed, .stream = ((s0 + k) << 16) | site,
                    .offset = rank << 40 }

    over the n elements of the input in row-major (C-contiguous) order, i.e.
    element j has Philox index offset + j: exactly the masks a C trainer
    following the README's (step << 16) | site convention gets.  The step
    is saved in state_dict, so a resumed run continues the masks;
    set_step(model, s) sets every such module's step by hand (or, with
    gradient accumulation, numbers each micro-batch as the C trainer does).
    Data-parallel ranks pass rank= (set_rank) so that they draw disjoint
    masks.
"""

import collections.abc
import math
import numbers
import os
import sys
import time
import warnings
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as e:
    raise ImportError("gdropout.torch needs PyTorch (Debian: apt-get install python3-torch); "
                      f"import gdropout itself works without it ({e})") from e

from ._args import PathLike
from ._native import Stream, check, lib
from .fisher import REDUCE_TENSOR_MEAN, Fisher
from .kernels import mask_bernoulli
from .mixed import GD_BF16, GD_F16, MASK_32
from .plan import CONTROLS, RULE_RANK_LINEAR, Plan, control_rates

__all__ = [
    "Sites", "dropout_sites", "map_sites", "estimate_fisher", "make_plan", "save_scores",
    "apply_plan", "Dropout", "dropout", "replace_dropout", "set_step", "set_rank",
    "vmap_backend", "philox_words", "keep_mask", "control_rates", "CONTROLS",
    "MAX_SITE", "MAX_STEP", "MAX_RANK", "RANK_SHIFT", "BACKENDS", "METHODS",
]

#: Site indices and steps must fit the (step << 16) | site stream id.
MAX_SITE = (1 << 16) - 1
MAX_STEP = (1 << 48) - 1


# ---------------------------------------------------------------------------
# Small helpers: batches as trees of tensors
# ---------------------------------------------------------------------------

def _flatten(tree):
    """(tensor leaves, rebuild): rebuild(new_leaves) gives the same structure
    with the tensors replaced; non-tensors are kept as they are."""
    if isinstance(tree, torch.Tensor):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        kind = type(tree)

        def rebuild(leaves):
            out, k = [], 0
            for (ls, rb) in parts:
                out.append(rb(leaves[k:k + len(ls)]))
                k += len(ls)
            if hasattr(kind, "_fields"):  # a namedtuple
                return kind(*out)
            return tuple(out) if kind is tuple else kind(out)
        return [leaf for ls, _ in parts for leaf in ls], rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]

        def rebuild_dict(leaves):
            out, k = {}, 0
            for key, (ls, rb) in zip(keys, parts):
                out[key] = rb(leaves[k:k + len(ls)])
                k += len(ls)
            return out
        return [leaf for ls, _ in parts for leaf in ls], rebuild_dict
    return [], lambda leaves: tree


def _split_batch(batch):
    """A batch is (inputs, *rest) or a bare inputs tensor; returns the pair."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 0:
            raise ValueError("estimate_fisher: an empty batch")
        return batch[0], tuple(batch[1:])
    return batch, ()


def _call(model, inputs):
    """model(inputs), model(*inputs) for a tuple/list, model(**inputs) for a dict."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def _batch_size(leaves):
    sizes = {t.shape[0] if t.dim() > 0 else None for t in leaves}
    if not leaves or len(sizes) != 1 or None in sizes:
        raise ValueError("estimate_fisher: every tensor of a batch needs the example index on "
                         f"dim 0, all the same size; got shapes {[tuple(t.shape) for t in leaves]}")
    return sizes.pop()


def _to_numpy(t):
    """A tensor as a C-contiguous float32 numpy array on the CPU (no copy
    when it already is one)."""
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()


def _device_of(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def vmap_backend() -> Optional[Tuple[Any, Any, Any, str]]:
    """(functional_call, grad, vmap, name) from torch.func (PyTorch 2.x) or
    functorch (1.13), or None when the installed torch has neither."""
    try:
        from torch.func import functional_call, grad, vmap
        return functional_call, grad, vmap, "torch.func"
    except ImportError:
        pass
    try:
        import functorch
        from torch.nn.utils.stateless import functional_call
        return functional_call, functorch.grad, functorch.vmap, "functorch"
    except ImportError:
        return None


class _Progress:
    """One status line on stderr, rewritten in place.  progress=None shows it
    only on a terminal and once the pass has run for 2 s; True always; False
    never; a callable gets (batches_done, batches_total_or_None, examples)."""

    def __init__(self, progress, total, what):
        self.progress, self.total, self.what = progress, total, what
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, done, examples):
        p = self.progress
        if callable(p):
            p(done, self.total, examples)
            return
        dt = time.monotonic() - self.t0
        if p is False or (p is None and (not sys.stderr.isatty() or dt < 2.0)):
            return
        of = f"/{self.total}" if self.total is not None else ""
        sys.stderr.write(f"\rgdropout.torch: {self.what}: batch {done}{of}, {examples} examples, "
                         f"{dt:.1f} s")
        sys.stderr.flush()
        self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------------
# Sites and the parameter-to-site mapping
# ---------------------------------------------------------------------------

def _dropout_types():
    base = getattr(nn.modules.dropout, "_DropoutNd", nn.Dropout)
    return (base, Dropout)


def _is_dropout(m):
    return isinstance(m, _dropout_types())


def _gradients_possible(function):
    """Refuses torch.inference_mode(): there no gradient can be recorded,
    not even under enable_grad(), and a Fisher or a trace taken there would
    be all zeros or empty without a word."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError(f"{function}: called under torch.inference_mode(), where no "
                           "gradient can be taken; call it outside that block")


def _leave_alone_names(model, leave_alone):
    """The qualified names of the modules to leave alone, validated."""
    if isinstance(leave_alone, (str, nn.Module)):  # one, not an iterable of names
        leave_alone = [leave_alone]
    all_drop = {name: m for name, m in model.named_modules(remove_duplicate=False)
                if _is_dropout(m)}
    by_id = {id(m): name for name, m in model.named_modules() if _is_dropout(m)}
    out = set()
    for x in leave_alone or ():
        if isinstance(x, nn.Module):
            if id(x) not in by_id:
                raise ValueError(f"leave_alone: {type(x).__name__} module is not a dropout "
                                 "module of this model")
            out.add(by_id[id(x)])
        elif isinstance(x, str):
            if x not in all_drop:
                raise ValueError(f"leave_alone: no dropout module named {x!r} (the model's: "
                                 f"{', '.join(all_drop) or 'none'})")
            out.add(by_id[id(all_drop[x])])  # the module's first name, which sites use
        else:
            raise TypeError(f"leave_alone: expected module names or modules, got {x!r}")
    return out


def _trace(model, sample, names, function):
    """Runs the model on sample with a hook on each named dropout module;
    returns [(name, output autograd node or None)] in call order."""
    _gradients_possible(function)
    modules = dict(model.named_modules())
    calls, handles = [], []

    def hook_for(name):
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor) and output.requires_grad:
                # A view gives this call an autograd node of its own, even
                # when an eval-mode dropout hands back its input unchanged.
                output = output.view_as(output)
                calls.append((name, output.grad_fn))
                return output
            calls.append((name, None))
            return None
        return hook

    was_training = model.training
    try:
        for name in names:
            handles.append(modules[name].register_forward_hook(hook_for(name)))
        model.eval()
        with torch.enable_grad():
            _call(model, sample)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return calls


def _trace_params(calls, site_index, model):
    """The traced rule: each trainable parameter -> the site of the earliest
    call whose output depends on it (None if none does)."""
    param_of = {id(p): name for name, p in model.named_parameters() if p.requires_grad}
    assigned, visited = {}, set()
    for name, node in calls:
        stack = [node] if node is not None else []
        while stack:
            n = stack.pop()
            if n is None or n in visited:
                continue
            visited.add(n)  # everything above a visited node was walked then
            var = getattr(n, "variable", None)  # AccumulateGrad: a leaf
            if var is not None:
                pname = param_of.get(id(var))
                if pname is not None and pname not in assigned:
                    assigned[pname] = site_index[name]
            stack.extend(nxt for nxt, _ in n.next_functions)
    return assigned


def dropout_sites(model: "nn.Module", sample: Any = None,
                  leave_alone: Iterable[Union[str, "nn.Module"]] = ()) -> List[str]:
    """The model's dropout modules by qualified name: in forward order (first
    call on `sample`, which is passed as model(sample), model(*sample) for a
    tuple, model(**sample) for a dict) when a sample is given, else in
    registration order (named_modules).  Modules never called on the sample
    come last, in registration order.  Modules named in leave_alone (names
    or the modules themselves) are not sites."""
    skip = _leave_alone_names(model, leave_alone)
    names = [n for n, m in model.named_modules() if _is_dropout(m) and n not in skip]
    if sample is None:
        return names
    order = []
    for name, _ in _trace(model, sample, names, "dropout_sites"):
        if name not in order:
            order.append(name)
    return order + [n for n in names if n not in order]


class Sites:
    """The dropout sites of a model and which site each trainable parameter
    feeds.  names[i] is site i's qualified module name; params maps every
    trainable parameter name (named_parameters order) to a site index or
    None (tracked, on no site)."""

    def __init__(self, names: Iterable[str], params: Dict[str, Optional[int]],
                 aliases: Optional[Dict[str, Sequence[str]]] = None,
                 uncalled: Iterable[str] = ()) -> None:
        self.names = tuple(names)
        #: sites the traced sample never called (listed last; none feeds a
        #: parameter): dropout applied functionally or on another branch
        self.uncalled = tuple(uncalled)
        #: {site name: its other names}, for a module registered under
        #: several attribute names (self.b = self.a): one site, every name
        self.aliases = {n: tuple(a) for n, a in (aliases or {}).items() if a}
        if len(self.names) > MAX_SITE + 1:
            raise ValueError(f"Sites: at most {MAX_SITE + 1} sites, got {len(self.names)}")
        self.params = dict(params)
        for p, s in self.params.items():
            if s is not None and not 0 <= s < len(self.names):
                raise ValueError(f"Sites: parameter {p!r} maps to site {s}, outside "
                                 f"0..{len(self.names) - 1}")

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __getitem__(self, i: int) -> str:
        return self.names[i]

    def index(self, name: str) -> int:
        """Site index of a module name (its first name or any alias)."""
        for site, other in self.aliases.items():
            if name in other:
                name = site
        return self.names.index(name)

    def table(self) -> Dict[str, Optional[str]]:
        """{parameter name: site name or None}, the mapping to read or test."""
        return {p: (None if s is None else self.names[s]) for p, s in self.params.items()}

    def params_of(self, site: Union[int, str]) -> List[str]:
        """The parameter names feeding site (an index or a name)."""
        i = self.index(site) if isinstance(site, str) else site
        return [p for p, s in self.params.items() if s == i]

    def modules(self, model: "nn.Module") -> List["nn.Module"]:
        """The site modules of `model`, in site order (ValueError if it lacks one)."""
        mods = dict(model.named_modules())
        missing = [n for n in self.names if n not in mods]
        if missing:
            raise ValueError(f"the model has no module named {', '.join(map(repr, missing))}: "
                             "are these Sites from another model?")
        return [mods[n] for n in self.names]

    def __repr__(self) -> str:
        lines = [f"Sites({len(self.names)} sites)"]
        for i, n in enumerate(self.names):
            also = f" (also {', '.join(self.aliases[n])})" if n in self.aliases else ""
            lines.append(f"  {i:3d} {n}{also}: "
                         f"{', '.join(self.params_of(i)) or '(no parameters)'}")
        none = [p for p, s in self.params.items() if s is None]
        if none:
            lines.append(f"  no site: {', '.join(none)}")
        return "\n".join(lines)


def _explicit(model, mapping, names):
    """An explicit mapping: a dict {parameter or module name: site} (the
    longest matching key wins; a module name covers its parameters) or a
    callable param_name -> site; a site is a site name, an index or None."""
    index = {n: i for i, n in enumerate(names)}

    def resolve(key, site):
        if site is None:
            return None
        if isinstance(site, str):
            if site not in index:
                raise ValueError(f"mapping: {key!r} -> {site!r}, which is not a site (sites: "
                                 f"{', '.join(names) or 'none'})")
            return index[site]
        if isinstance(site, (int, np.integer)) and not isinstance(site, bool) \
                and 0 <= site < len(names):
            return int(site)
        raise ValueError(f"mapping: {key!r} -> {site!r}: expected a site name, an index in "
                         f"0..{len(names) - 1} or None")

    pnames = [n for n, p in model.named_parameters() if p.requires_grad]
    if callable(mapping) and not isinstance(mapping, dict):
        return {p: resolve(p, mapping(p)) for p in pnames}
    if not isinstance(mapping, dict):
        raise TypeError(f"mapping: expected a dict or a callable, got {type(mapping).__name__}")
    known = set(pnames) | {n for n, _ in model.named_modules() if n}
    for key in mapping:
        if key not in known:
            raise ValueError(f"mapping: {key!r} is neither a trainable parameter nor a module "
                             "of the model")
    out = {}
    for p in pnames:
        parts = p.split(".")
        site = None
        for k in range(len(parts), 0, -1):  # the longest prefix that is a key
            key = ".".join(parts[:k])
            if key in mapping:
                site = resolve(key, mapping[key])
                break
        out[p] = site
    return out


def map_sites(model: "nn.Module", sample: Any = None,
              mapping: Union[Dict[str, Union[str, int, None]],
                             Callable[[str], Union[str, int, None]], None] = None,
              leave_alone: Iterable[Union[str, "nn.Module"]] = ()) -> Sites:
    """The model's Sites: dropout modules (forward order with a sample, see
    dropout_sites) and the parameter-to-site mapping, traced on `sample`
    (the rule in this module's docstring) or given as `mapping`: a dict
    {parameter or module name: site name, index or None} (the longest
    matching name wins; parameters matching no key feed no site) or a
    callable param_name -> the same.  Dropout modules in leave_alone (a
    classifier's dropout) are not sites."""
    if sample is None and mapping is None:
        raise ValueError("map_sites: give a sample input to trace, or an explicit mapping")
    skip = _leave_alone_names(model, leave_alone)
    candidates = [n for n, m in model.named_modules() if _is_dropout(m) and n not in skip]
    calls = _trace(model, sample, candidates, "map_sites") if sample is not None else None
    if calls is not None:
        order = []
        for name, _ in calls:
            if name not in order:
                order.append(name)
        names = order + [n for n in candidates if n not in order]
    else:
        names = candidates
    if mapping is not None:
        params = _explicit(model, mapping, names)
    else:
        assigned = _trace_params(calls, {n: i for i, n in enumerate(names)}, model)
        params = {n: assigned.get(n) for n, p in model.named_parameters() if p.requires_grad}
    mods = dict(model.named_modules())
    every = _all_names(model)
    uncalled = [n for n in names if n not in order] if calls is not None else []
    return Sites(names, params, {n: every[id(mods[n])][1:] for n in names}, uncalled)


# ---------------------------------------------------------------------------
# Fisher
# ---------------------------------------------------------------------------

def _register(fisher, model, sites):
    """Registers every trainable parameter (or checks an existing Fisher
    holds them); returns [(name, parameter, tensor id)]."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("estimate_fisher: the model has no trainable parameter")
    site_of = sites.params if sites is not None else {}
    if sites is not None:
        extra = set(site_of) - {n for n, _ in params}
        if extra:
            raise ValueError(f"estimate_fisher: sites name parameters the model lacks "
                             f"({', '.join(sorted(extra))}): Sites from another model?")
    out = []
    fresh = len(fisher) == 0
    for n, p in params:
        site = site_of.get(n)
        if fresh:
            tid = fisher.add_tensor(n, p.numel(), site)
        else:
            tid = fisher.find(n)
            info = fisher.info(tid)
            if info.numel != p.numel() or info.site != site:
                raise ValueError(f"estimate_fisher: the given Fisher's {n!r} has {info.numel} "
                                 f"elements on site {info.site}, the model's {p.numel()} on "
                                 f"site {site}")
        out.append((n, p, tid))
    if not fresh and len(fisher) != len(out):
        raise ValueError(f"estimate_fisher: the given Fisher holds {len(fisher)} tensors, the "
                         f"model has {len(out)} trainable parameters")
    return out


def _check_losses(losses, batch, how):
    if not isinstance(losses, torch.Tensor) or losses.dim() > 1 or (
            losses.dim() == 1 and losses.shape[0] != batch) or (
            losses.dim() == 0 and batch != 1):
        shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
        raise ValueError(f"estimate_fisher ({how}): loss_fn must return one loss per example, "
                         f"shape [{batch}] (e.g. reduction='none'), got {shape}")
    return losses.sum()


def _loop(model, loss_fn, inputs, rest, tensors, fisher, n):
    """Batch of one: per example, the gradient of its own loss."""
    leaves, rebuild = _flatten((inputs, rest))
    params = [p for _, p, _ in tensors]
    for i in range(n):
        ex_inputs, ex_rest = rebuild([t[i:i + 1] for t in leaves])
        loss = _check_losses(loss_fn(_call(model, ex_inputs), *ex_rest), 1, "loop")
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for (_, p, tid), g in zip(tensors, grads):
            ga = np.zeros(p.numel(), np.float32) if g is None else _to_numpy(g)
            fisher.accumulate(tid, ga, 1.0)


def _aliases(model):
    """{id(parameter): every qualified name it has}: a tied parameter (an
    embedding shared with an output layer) has several."""
    out: Dict[int, List[str]] = {}
    for mname, m in model.named_modules(remove_duplicate=False):
        for pname, p in m.named_parameters(recurse=False):
            out.setdefault(id(p), []).append(f"{mname}.{pname}" if mname else pname)
    return out


def _vmap(model, loss_fn, inputs, rest, tensors, fisher, n, backend):
    """vmap(grad) over the examples of the batch, for `tensors` only."""
    functional_call, grad, vmap = backend[:3]
    leaves, rebuild = _flatten((inputs, rest))
    pdict = {name: p.detach() for name, p, _ in tensors}
    aliases = _aliases(model)
    names = [(name, aliases.get(id(p), [name])) for name, p, _ in tensors]

    def one_loss(pd, *ex_leaves):
        # every name of a tied parameter gets the one differentiated tensor
        full = {alias: pd[name] for name, al in names for alias in al}
        ex_inputs, ex_rest = rebuild([t.unsqueeze(0) for t in ex_leaves])
        out = _call(lambda *a, **k: functional_call(model, full, a, k), ex_inputs)
        return _check_losses(loss_fn(out, *ex_rest), 1, "vmap")

    grads = vmap(grad(one_loss), in_dims=(None,) + (0,) * len(leaves))(pdict, *leaves)
    for name, _, tid in tensors:
        fisher.accumulate_batch(tid, _to_numpy(grads[name]).reshape(n, -1))


def _uses(outputs):
    """{id(leaf tensor): how many autograd nodes take it directly} over the
    graph behind outputs."""
    uses: Dict[int, int] = {}
    seen = set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            var = getattr(nxt, "variable", None)
            if var is not None:
                uses[id(var)] = uses.get(id(var), 0) + 1
            stack.append(nxt)
    return uses


def _dense_candidates(model, inputs, batch):
    """nn.Linear modules fit for the dense path, probed on the first batch:
    exactly nn.Linear (a subclass may change forward), weight trainable,
    called once per forward with the example index on dim 0 of its input,
    and its weight and bias each used by one operation of the whole forward
    (a weight tied to an embedding, or read elsewhere, is not: its
    per-example gradient has other terms)."""
    calls: Dict[Any, Tuple[int, bool]] = {}
    handles = []

    def hook(module, args, output):
        x = args[0] if args else None
        ok = isinstance(x, torch.Tensor) and x.dim() >= 2 and x.shape[0] == batch
        prev = calls.get(module)
        calls[module] = (prev[0] + 1 if prev else 1, ok and (prev is None or prev[1]))

    for m in model.modules():
        if type(m) is nn.Linear and m.weight.requires_grad:
            handles.append(m.register_forward_hook(hook))
    try:
        with torch.enable_grad():
            out = _call(model, inputs)
    finally:
        for h in handles:
            h.remove()
    uses = _uses(_flatten(out)[0])

    def used_once(p):
        return p is None or not p.requires_grad or uses.get(id(p)) == 1
    return [m for m, (count, ok) in calls.items()
            if count == 1 and ok and used_once(m.weight) and used_once(m.bias)]


def _dense(model, loss_fn, inputs, rest, linears, ids, fisher, n):
    """One forward of the whole batch; each dense Linear's input x and the
    gradient dy of the summed per-example losses w.r.t. its output (row b of
    dy is example b's own output gradient, examples being independent) go to
    gd_fisher_accumulate_dense (x [B, in]) or _dense_seq (x [B, T..., in])."""
    captured, handles = {}, []

    def hook(module, args, output):
        captured[module] = (args[0].detach(), output)

    for m in linears:
        handles.append(m.register_forward_hook(hook))
    try:
        out = _call(model, inputs)
    finally:
        for h in handles:
            h.remove()
    total = _check_losses(loss_fn(out, *rest), n, "dense")
    mods = [m for m in linears if m in captured]
    dys = torch.autograd.grad(total, [captured[m][1] for m in mods], allow_unused=True)
    for m, dy in zip(mods, dys):
        x, y = captured[m]
        w_id, b_id = ids[m]
        if dy is None:
            dy = torch.zeros_like(y)
        xa, da = _to_numpy(x), _to_numpy(dy)
        if xa.ndim == 2:
            fisher.accumulate_dense(w_id, xa, da, b_id=b_id)
        else:
            fisher.accumulate_dense_seq(w_id, xa.reshape(n, -1, xa.shape[-1]),
                                        da.reshape(n, -1, da.shape[-1]), b_id=b_id)


METHODS = ("auto", "dense", "vmap", "loop")


def estimate_fisher(model: "nn.Module", loss_fn: Callable[..., "torch.Tensor"],
                    batches: Iterable[Any], sites: Optional[Sites] = None, method: str = "auto",
                    fisher: Optional[Fisher] = None,
                    progress: Union[bool, None, Callable[[int, Optional[int], int], None]] = None
                    ) -> Fisher:
    """The diagonal empirical Fisher of the model's trainable parameters
    from per-example gradients of the given loss, as a gdropout.Fisher with
    one tensor per parameter (named as in named_parameters, on the site
    `sites` maps it to; sites=None: no sites).

    batches: an iterable of batches; a batch is (inputs, *targets) or a bare
    inputs tensor; inputs go in as model(inputs), model(*inputs) for a
    tuple, model(**inputs) for a dict.  Every tensor has the example index
    on dim 0 and is moved to the device of the model's first parameter.
    loss_fn(output, *targets) returns one loss per example, shape [B] (e.g.
    cross_entropy(..., reduction='none'); for sequences, reduce over each
    sequence yourself): example n's gradient is that of its own loss.

    method: "loop" (one forward/backward per example, the paper's), "vmap"
    (torch.func or functorch vmap(grad); ValueError if the installed torch
    has neither), "dense" (nn.Linear layers from hooks through
    gd_fisher_accumulate_dense/_dense_seq without forming per-example
    gradients; Linear layers called more than once per forward or whose
    input does not have the example on dim 0, and all other parameters, by
    vmap if available, else loop; if vmap fails on the model, a
    RuntimeWarning and the loop), "auto" = "dense".  All agree to float
    rounding (the tests hold them to 1e-5 relative).  The model runs in
    eval mode (dropout off; examples independent) and is put back in its
    mode afterwards.  Gradients go to the CPU as float32 for accumulation,
    so CUDA and float64 models work alike.

    fisher: an existing Fisher to add to (same tensors), e.g. over several
    calls; it is returned.  All or nothing: the pass accumulates into a
    Fisher of its own and adds it to `fisher` only once every batch has
    succeeded, so an error (or KeyboardInterrupt) leaves `fisher` unchanged.
    progress: see _Progress (None: a line on a terminal after 2 s).
    """
    if method not in METHODS:
        raise ValueError(f"estimate_fisher: method must be one of {', '.join(METHODS)}, "
                         f"got {method!r}")
    _gradients_possible("estimate_fisher")
    if sites is not None and not isinstance(sites, Sites):
        raise TypeError("estimate_fisher: sites must be a Sites (from map_sites) or None")
    backend = vmap_backend() if method in ("auto", "dense", "vmap") else None
    if method == "vmap" and backend is None:
        raise ValueError("estimate_fisher: method 'vmap' needs torch.func (PyTorch 2) or "
                         f"functorch; torch {torch.__version__} has neither: use 'loop' or "
                         "'dense'")
    # Everything is accumulated into a Fisher of our own and added to the
    # caller's only once the whole pass has succeeded: a batch that fails
    # half-way (a loss_fn error, an interrupt) leaves `fisher` as it was.
    target = fisher
    if target is not None:
        _register(target, model, sites)  # checks it holds the model's tensors
    fisher = Fisher()
    try:
        if target is not None:  # the same tensors in the same order, for merge
            for info in target.tensors():
                fisher.add_tensor(info.name, info.numel, info.site)
        tensors = _register(fisher, model, sites)
        device = _device_of(model)
        total = len(batches) if isinstance(batches, collections.abc.Sized) else None
        bar = _Progress(progress, total, f"Fisher ({'dense' if method == 'auto' else method})")
        was_training = model.training
        model.eval()
        linears = ids = rest_tensors = None
        examples = 0
        try:
            with torch.enable_grad():  # under torch.no_grad() too
                for k, batch in enumerate(batches):
                    leaves, rebuild = _flatten(batch)
                    batch = rebuild([t.to(device) for t in leaves])
                    inputs, rest = _split_batch(batch)
                    n = _batch_size(leaves)
                    if method == "loop":
                        _loop(model, loss_fn, inputs, rest, tensors, fisher, n)
                    elif method == "vmap":
                        _vmap(model, loss_fn, inputs, rest, tensors, fisher, n, backend)
                    else:
                        if linears is None:
                            linears, ids, rest_tensors = _dense_plan(model, inputs, n, tensors)
                        if linears:
                            _dense(model, loss_fn, inputs, rest, linears, ids, fisher, n)
                        if rest_tensors and backend is not None:
                            try:
                                _vmap(model, loss_fn, inputs, rest, rest_tensors, fisher, n,
                                      backend)
                            except (RuntimeError, NotImplementedError, TypeError) as e:
                                # Nothing was accumulated: vmap computes every
                                # gradient of the batch before any is added.
                                warnings.warn(f"estimate_fisher: vmap failed on this model ({e}); "
                                              "the parameters outside nn.Linear go by the loop",
                                              RuntimeWarning, stacklevel=2)
                                backend = None
                        if rest_tensors and backend is None:
                            _loop(model, loss_fn, inputs, rest, rest_tensors, fisher, n)
                    examples += n
                    bar(k + 1, examples)
        finally:
            bar.close()
            model.train(was_training)
        if examples == 0:
            raise ValueError("estimate_fisher: batches gave no example")
        if target is None:
            return fisher
        target.merge(fisher)  # one C call; on error target is unchanged
    except BaseException:
        fisher.close()
        raise
    fisher.close()
    return target


def _dense_plan(model, inputs, n, tensors):
    """Which Linear modules take the dense path, their (weight, bias) ids,
    and the tensors left to vmap / loop."""
    linears = _dense_candidates(model, inputs, n)
    id_of = {id(p): tid for _, p, tid in tensors}
    ids, covered = {}, set()
    for m in linears:
        b = m.bias if m.bias is not None and m.bias.requires_grad else None
        ids[m] = (id_of[id(m.weight)], None if b is None else id_of[id(b)])
        covered.add(id(m.weight))
        if b is not None:
            covered.add(id(b))
    rest = [t for t in tensors if id(t[1]) not in covered]
    return linears, ids, rest


# ---------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------

def make_plan(fisher: Fisher, sites: Sites, rule: int = RULE_RANK_LINEAR, p_max: float = 0.1,
              p_min: float = 0.0, reduce: int = REDUCE_TENSOR_MEAN) -> Plan:
    """A computed gdropout.Plan over the sites, each named by its module:
    scores from fisher.site_scores(reduce), probabilities by gd_plan_compute
    (rank-linear by default, the paper's).  A site no parameter feeds has no
    score: ValueError naming it (leave it alone, or map parameters to it)."""
    if not isinstance(sites, Sites):
        raise TypeError("make_plan: sites must be a Sites (from map_sites)")
    scores = fisher.site_scores(reduce, n_sites=len(sites))
    unfed = [sites[i] for i in range(len(sites)) if math.isnan(scores[i])]
    never = [n for n in unfed if n in sites.uncalled]
    if never:
        raise ValueError(f"make_plan: site(s) {', '.join(never)} were never called on the traced "
                         "sample, so no parameter feeds them: dropout applied functionally "
                         "(F.dropout, dropout_p=) is not a module call; Hugging Face models with "
                         "SDPA attention do that for attention dropout: load them with "
                         "attn_implementation=\"eager\" (or pass these sites as leave_alone)")
    if unfed:
        raise ValueError(f"make_plan: no parameter feeds site(s) {', '.join(unfed)}: pass them "
                         "as leave_alone to map_sites, or map parameters to them")
    plan = Plan(len(sites))
    try:
        for i, name in enumerate(sites):
            plan.set_site(i, float(scores[i]), name=name)
        plan.compute(rule, p_max, p_min)
    except BaseException:
        plan.close()
        raise
    return plan


def save_scores(path: PathLike, fisher: Fisher, sites: Sites,
                reduce: int = REDUCE_TENSOR_MEAN) -> None:
    """Writes the site scores as a gdropout-plan scores file, one site a line
    "<index> <site name> <score>" (9 significant digits: the float32 score
    reads back exactly), so that `gdropout-plan FILE -o plan.txt` makes a
    plan whose sites carry the module names apply_plan checks."""
    if not isinstance(sites, Sites):
        raise TypeError("save_scores: sites must be a Sites (from map_sites)")
    scores = fisher.site_scores(reduce, n_sites=len(sites))
    lines = ["# gdropout.torch site scores: <index> <site> <score>"]
    for i, name in enumerate(sites):
        if math.isnan(scores[i]):
            raise ValueError(f"save_scores: no parameter feeds site {name}")
        lines.append(f"{i} {name} {float(scores[i]):.9g}")
    tmp = os.fsencode(path) + b".tmp"
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def apply_plan(model: "nn.Module", plan: Union[Plan, PathLike, Sequence[float], np.ndarray],
               sites: Union[Sites, Sequence[str]], check_names: bool = True) -> Dict[str, float]:
    """Sets each site module's p from the plan; returns {site name: p}.

    plan: a gdropout.Plan, a plan file's path (gd_plan_save's format, read
    with Plan.load), or a sequence of probabilities (unnamed).  sites: a
    Sites or a list of module names, site i <-> plan site i.  A count
    mismatch is a ValueError; so is a named plan site whose name is not the
    model's site name at that index (unnamed plan sites are taken by
    position).  check_names=False skips the name check, e.g. for a plan made
    by gdropout-plan from a Fisher file, which names sites after their
    tensors' common prefix rather than after the dropout module."""
    names = list(sites.names if isinstance(sites, Sites) else sites)
    mods = dict(model.named_modules(remove_duplicate=False))
    missing = [n for n in names if n not in mods]
    if missing:
        raise ValueError(f"apply_plan: the model has no module {', '.join(map(repr, missing))}")
    notdrop = [n for n in names if not _is_dropout(mods[n])]
    if notdrop:
        raise ValueError(f"apply_plan: {', '.join(notdrop)} is not a dropout module")
    if isinstance(plan, (str, bytes, os.PathLike)):
        with Plan.load(plan) as loaded:
            return apply_plan(model, loaded, names, check_names)
    if isinstance(plan, Plan):
        probs = [float(v) for v in plan.get_all()]
        plan_names = [plan.site_info(i).name for i in range(len(probs))]
    else:
        probs = [_real_rate(v, i) for i, v in enumerate(plan)]  # range: below, by site
        plan_names = [""] * len(probs)
    if len(probs) != len(names):
        raise ValueError(f"apply_plan: the plan has {len(probs)} sites, the model {len(names)} "
                         f"({', '.join(names)})")
    if check_names:
        bad = [f"site {i}: plan {pn!r}, model {mn!r}"
               for i, (pn, mn) in enumerate(zip(plan_names, names)) if pn and pn != mn]
        if bad:
            raise ValueError("apply_plan: the plan's site names differ from the model's: "
                             + "; ".join(bad) + " (gdropout-plan names the sites of a Fisher "
                             "file after their tensors: give it save_scores' file instead, or "
                             "pass check_names=False to apply by position)")
    for name, p in zip(names, probs):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"apply_plan: site {name}: p = {p} is outside [0, 1]")
    first: Dict[int, Tuple[str, float]] = {}
    for name, p in zip(names, probs):
        seen = first.setdefault(id(mods[name]), (name, p))
        if seen[1] != p:
            raise ValueError(f"apply_plan: {seen[0]} and {name} are one module (registered under "
                             f"both names) but the plan gives it p = {seen[1]} and p = {p}")
    for name, p in zip(names, probs):
        mods[name].p = p
    return dict(zip(names, probs))


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------

#: Rank r of a data-parallel run draws its masks at Philox offset r << RANK_SHIFT.
RANK_SHIFT = 40
#: Largest rank: offset + n must stay below 2^63 (torch's int64 indices).
MAX_RANK = (1 << (63 - RANK_SHIFT)) - 1
#: Largest input of one call on a rank: rank r's words end before rank r+1's.
MAX_NUMEL = 1 << RANK_SHIFT

BACKENDS = ("auto", "c", "torch")

_U32 = 0xFFFFFFFF
_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_CHUNK = 1 << 20  # Philox blocks per pass: bounds the int64 temporaries (~100 MiB)


def _mulhilo(m: int, x: "torch.Tensor") -> Tuple["torch.Tensor", "torch.Tensor"]:
    """(hi, lo) 32-bit halves of the 64-bit product m * x, m a 32-bit
    constant, x an int64 tensor of values in [0, 2^32).  torch has no uint32
    and int64 products may overflow, so it goes by 16-bit halves: every
    partial product and sum stays below 2^34."""
    mh, ml = m >> 16, m & 0xFFFF
    xh, xl = x >> 16, x & 0xFFFF
    mid = xh * ml + xl * mh                  # < 2^33
    low = xl * ml + ((mid & 0xFFFF) << 16)   # < 2^33: the low word and its carry
    hi = (xh * mh + (mid >> 16) + (low >> 32)) & _U32
    return hi, low & _U32


def philox_words(seed: int, stream: int, offset: int, n: int,
                 device: Union[str, "torch.device", None] = None) -> "torch.Tensor":
    """The n stream words of Philox indices offset .. offset + n - 1 as an
    int64 tensor of values in [0, 2^32) on `device`, computed with torch
    integer ops there (no CPU round trip): word i % 4 of Philox4x32-10 block
    (counter (i / 4, stream), key seed), as gdropout.random_u32 gives them."""
    fn = "philox_words"
    seed = _whole(seed, "seed", (1 << 64) - 1, fn)
    stream = _whole(stream, "stream", (1 << 64) - 1, fn)
    offset, n = _whole(offset, "offset", (1 << 63) - 1, fn), _whole(n, "n", (1 << 63) - 1, fn)
    if offset + n > (1 << 63):
        raise ValueError(f"philox_words: offset + n = {offset + n} exceeds 2**63")
    out = torch.empty(n, dtype=torch.int64, device=device)
    if n == 0:
        return out
    first, last = offset >> 2, (offset + n - 1) >> 2
    k0_0, k1_0 = seed & _U32, seed >> 32
    s_lo, s_hi = stream & _U32, stream >> 32
    pos = 0  # next element of out to write
    for b0 in range(first, last + 1, _CHUNK):
        nb = min(_CHUNK, last + 1 - b0)
        block = torch.arange(b0, b0 + nb, dtype=torch.int64, device=out.device)
        c0, c1 = block & _U32, block >> 32
        c2 = torch.full_like(block, s_lo)
        c3 = torch.full_like(block, s_hi)
        k0, k1 = k0_0, k1_0
        for rnd in range(10):
            if rnd:  # the key's Weyl bump between rounds
                k0, k1 = (k0 + _W0) & _U32, (k1 + _W1) & _U32
            hi0, lo0 = _mulhilo(_M0, c0)
            hi1, lo1 = _mulhilo(_M1, c2)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        words = torch.stack((c0, c1, c2, c3), dim=1).reshape(-1)
        skip = (offset & 3) if b0 == first else 0
        take = min(words.numel() - skip, n - pos)
        out[pos:pos + take] = words[skip:skip + take]
        pos += take
    return out


def _threshold(p: float) -> int:
    """t(p) = p >= 1 ? 2^32 : floor((double)(float)p * 2^32): kept iff word >= t."""
    pf = float(np.float32(p))
    return 1 << 32 if pf >= 1.0 else int(math.floor(pf * 4294967296.0))


def _keep_scale(p: float) -> float:
    """(float)(1.0 / (1.0 - (double)(float)p)) as a Python float; inf at p = 1."""
    pf = float(np.float32(p))
    return math.inf if pf >= 1.0 else float(np.float32(1.0 / (1.0 - pf)))


def keep_mask(shape: Sequence[int], p: float, stream: Stream,
              device: Union[str, "torch.device", None] = None) -> "torch.Tensor":
    """The library's keep mask (True = kept) of a tensor of `shape` at drop
    probability p on `stream`, element j (row-major) at Philox index
    stream.offset + j, as a bool tensor on `device` made with torch ops there:
    unpacked, it is gdropout.mask_bernoulli(n, p, stream) bit for bit."""
    p = _prob(p, "keep_mask")
    if not isinstance(stream, Stream):
        raise TypeError(f"keep_mask: stream must be a gdropout.Stream, got "
                        f"{type(stream).__name__}")
    n = int(math.prod(shape))
    w = philox_words(stream.seed, stream.stream, stream.offset, n, device)
    return (w >= _threshold(p)).view(tuple(shape))


def _scaled(x: "torch.Tensor", scale: float) -> "torch.Tensor":
    """x * scale rounded as the C kernels round: float32 and float64 in their
    own precision (the float32 scale is exact in both); half types computed
    in float32 and rounded once to the type."""
    if x.dtype in (torch.float16, torch.bfloat16):
        return (x.float() * scale).to(x.dtype)
    return x * torch.tensor(scale, dtype=torch.float32).to(dtype=x.dtype)


class _MaskApply(torch.autograd.Function):
    """y = where(keep, x * scale, +0.0) with torch ops on x's device (what
    gd_dropout_fwd / _bwd compute); linear in x, so backward is itself."""

    @staticmethod
    def forward(ctx: Any, x: "torch.Tensor", keep: "torch.Tensor", scale: float,
                inplace: bool) -> "torch.Tensor":
        if inplace:
            if x.dtype in (torch.float16, torch.bfloat16):
                x.copy_(_scaled(x, scale))
            else:
                x.mul_(torch.tensor(scale, dtype=torch.float32).to(dtype=x.dtype))
            x.masked_fill_(~keep, 0.0)
            ctx.mark_dirty(x)
            y = x
        else:
            y = _scaled(x, scale).masked_fill_(~keep, 0.0)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx: Any, dy: "torch.Tensor") -> Tuple[Optional["torch.Tensor"], None, None,
                                                         None]:
        (keep,) = ctx.saved_tensors
        return _MaskApply.apply(dy, keep, ctx.scale, False), None, None, None


#: The half dtypes' codes for mixed.h's _ex kernels (float32 goes through
#: the 1.0 kernels, which every 1.x library has).
_HALF_CODES = {torch.bfloat16: GD_BF16, torch.float16: GD_F16}


def _c_dtypes() -> Tuple["torch.dtype", ...]:
    """The dtypes the loaded library's C kernels take: float32, and the half
    types from 1.2 on (an older library leaves them to the torch path)."""
    if lib.has("gd_dropout_fwd_ex"):
        return (torch.float32, torch.bfloat16, torch.float16)
    return (torch.float32,)


def _c_takes(x: "torch.Tensor") -> bool:
    return x.device.type == "cpu" and x.dtype in _c_dtypes() and x.layout == torch.strided


def _aligned(t: "torch.Tensor") -> "torch.Tensor":
    """t contiguous with its data on a multiple of its element size (a
    tensor made by torch.from_numpy over an odd offset may not be): what C
    may read."""
    t = t.contiguous()
    return t if t.data_ptr() % t.element_size() == 0 else t.clone()


def _c_dropout(name: str, out: "torch.Tensor", inp: "torch.Tensor", p: float,
               s: Stream) -> None:
    """C function `name` (gd_dropout_fwd, or gd_dropout_bwd with the mask
    regenerated from s) from inp into out, both contiguous of one dtype; a
    half dtype goes through the function's _ex form under the 32-bit rule,
    so that its mask is float32's."""
    n = inp.numel()
    if not n:
        return
    args: Tuple[Any, ...] = (out.data_ptr(), inp.data_ptr(), n, p, s.c, None)
    code = _HALF_CODES.get(inp.dtype)
    if code is not None:
        name += "_ex"
        args = (code, MASK_32) + args
    check(getattr(lib, name)(*args), name)


class _Fwd(torch.autograd.Function):
    """y = gd_dropout_fwd(x) (gd_dropout_fwd_ex for a half dtype): the C
    kernel on the tensor's memory; no mask is stored, backward regenerates it
    from the stream."""

    @staticmethod
    def forward(ctx: Any, x: "torch.Tensor", p: float, seed: int, stream: int, offset: int,
                inplace: bool) -> "torch.Tensor":
        s = Stream(seed, stream, offset)
        xc = _aligned(x)
        if inplace and xc.data_ptr() == x.data_ptr():
            y = x
        else:
            y = torch.empty(xc.shape, dtype=xc.dtype)
        _c_dropout("gd_dropout_fwd", y, xc, p, s)
        if inplace:
            if y is not x:
                x.copy_(y)
            ctx.mark_dirty(x)
            y = x
        ctx.args = (p, seed, stream, offset)
        return y

    @staticmethod
    def backward(ctx: Any, dy: "torch.Tensor") -> Tuple[Any, ...]:
        return (_Bwd.apply(dy, *ctx.args),) + (None,) * 5


class _Bwd(torch.autograd.Function):
    """dx = gd_dropout_bwd(dy) (or _ex) with the mask regenerated from the
    stream; its own derivative is the forward (dropout is linear), for
    double backward."""

    @staticmethod
    def forward(ctx: Any, dy: "torch.Tensor", p: float, seed: int, stream: int,
                offset: int) -> "torch.Tensor":
        s = Stream(seed, stream, offset)
        dyc = _aligned(dy)
        dx = torch.empty(dyc.shape, dtype=dyc.dtype)
        _c_dropout("gd_dropout_bwd", dx, dyc, p, s)
        ctx.args = (p, seed, stream, offset)
        return dx

    @staticmethod
    def backward(ctx: Any, g: "torch.Tensor") -> Tuple[Any, ...]:
        return (_Fwd.apply(g, *ctx.args, False),) + (None,) * 4


def dropout(x: "torch.Tensor", p: float, stream: Stream, inplace: bool = False,
            backend: str = "auto") -> "torch.Tensor":
    """Dropout of x at probability p on a gdropout.Stream, with gradient:
    element j of x (row-major order, whatever its strides) is kept iff the
    library's rule keeps Philox index stream.offset + j, and kept elements
    are multiplied by (float)(1 / (1 - p)).

    backend "c": the C kernels (gd_dropout_fwd / gd_dropout_bwd, the mask
    regenerated in backward; their _ex forms for bfloat16 and float16) on
    the tensor's memory; strided CPU float32, bfloat16 or float16 only
    (TypeError otherwise; float32 only with a library older than 1.2).
    "torch": Philox4x32-10 and the mask rule in torch integer ops on x's
    device, any floating dtype and device, no CPU round trip; the bool mask
    is kept for backward.  "auto" (default): "c" where it applies, "torch"
    for everything else.  For float32 both give gdropout.dropout_fwd's
    values bit for bit; float64 (torch only) gets the same mask and the same
    float32 scale, multiplied in double; float16 and bfloat16 keep float32's
    mask, multiply in float32 and round once to the type (to nearest even),
    identically on both.  A non-contiguous tensor goes to the C kernels as
    a contiguous copy."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"gdropout.torch.dropout: expected a tensor, got {type(x).__name__}")
    if not isinstance(stream, Stream):
        raise TypeError("gdropout.torch.dropout: stream must be a gdropout.Stream")
    p = _prob(p, "gdropout.torch.dropout")
    if backend not in BACKENDS:
        raise ValueError(f"gdropout.torch.dropout: backend must be one of {', '.join(BACKENDS)}"
                         f", got {backend!r}")
    if backend == "auto":
        backend = "c" if _c_takes(x) else "torch"
    if backend == "c":
        if not _c_takes(x):
            names = [str(d).replace("torch.", "") for d in _c_dtypes()]
            what = " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))
            raise TypeError(f"gdropout.torch.dropout: the C kernels take strided CPU {what} "
                            f"tensors; got {x.dtype} {x.layout} on {x.device} (backend='torch' "
                            "or 'auto' takes any device and floating dtype)")
        return _Fwd.apply(x, p, stream.seed, stream.stream, stream.offset, bool(inplace))
    if x.layout != torch.strided or not x.is_floating_point():
        raise TypeError(f"gdropout.torch.dropout: expected a strided floating tensor, got "
                        f"{x.dtype} {x.layout}")
    keep = keep_mask(tuple(x.shape), p, stream, x.device)
    return _MaskApply.apply(x, keep, _keep_scale(p), bool(inplace))


class Dropout(nn.Module):
    """A drop-in nn.Dropout whose masks are libgdropout's.

    Dropout(p=0.5, seed=0, site=0, step=0, inplace=False, rank=0,
    backend="auto").  In training mode the k-th call (k = 0, 1, ...; every
    training call counts, whatever p) computes

        dropout(x, p, Stream(seed, (step << 16) | site, rank << RANK_SHIFT))

    with step = the starting step + k, then adds one to .step: a C trainer
    reproduces it with gd_stream {seed, (step << 16) | site, rank << 40} over
    the n elements in row-major order.  Eval mode is the identity and does
    not count.  Any device and floating dtype (see dropout() for backend).

    The step is saved in state_dict (key "<prefix>step", an int64 tensor)
    and restored by load_state_dict, so a resumed run continues the mask
    sequence instead of repeating it; a state dict without it (saved from
    the model before replace_dropout) loads and leaves the step as it is.
    It is kept as a Python int, not a device buffer, so that reading it
    never waits for a device.

    Data-parallel training (DDP, one process per rank, each with the same
    seed and model): pass rank=torch.distributed.get_rank() (or call
    set_rank(model, rank)).  Rank r draws at Philox offset r * 2^40, so the
    ranks' masks are disjoint parts of one stream however their batch sizes
    differ (up to 2^40 elements per call), and a run is reproducible for a
    given world size.  Without it every rank draws the same masks."""

    def __init__(self, p: float = 0.5, seed: int = 0, site: int = 0, step: int = 0,
                 inplace: bool = False, rank: int = 0, backend: str = "auto") -> None:
        super().__init__()
        p = _prob(p, "Dropout")
        seed, site, step, rank, backend = _check_ids("Dropout", seed, site, step, rank, backend)
        self.p, self.seed, self.site, self.step, self.rank = p, seed, site, step, rank
        self.inplace, self.backend = bool(inplace), backend

    def stream(self) -> Stream:
        """The Stream the next training call will use."""
        _check_step(self.step)
        _check_rank(self.rank)
        return Stream(self.seed, (self.step << 16) | self.site, self.rank << RANK_SHIFT)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        """x in eval mode; in training mode dropout(x) on stream(), then step += 1."""
        if not self.training:
            return x
        s = self.stream()
        if x.numel() > MAX_NUMEL:
            raise ValueError(f"Dropout: an input of {x.numel()} elements would reach the next "
                             f"rank's words (at most 2**{RANK_SHIFT} per call)")
        if self.p == 0.0:
            y = x
        else:
            y = dropout(x, self.p, s, inplace=self.inplace, backend=self.backend)
        self.step += 1  # only once the call succeeded
        return y

    def _save_to_state_dict(self, destination: Dict[str, Any], prefix: str,
                            keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "step"] = torch.tensor(self.step, dtype=torch.int64)

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str,
                              local_metadata: Any, strict: bool, missing_keys: List[str],
                              unexpected_keys: List[str], error_msgs: List[str]) -> None:
        key = prefix + "step"
        if key in state_dict:
            v = state_dict[key]
            try:
                if isinstance(v, torch.Tensor):
                    # a step is saved as int64; a float or bool tensor is
                    # another key's value, not one to truncate
                    if v.numel() != 1 or v.dtype not in (torch.int64, torch.int32):
                        raise ValueError(f"step must be an int in [0, {MAX_STEP}], got a "
                                         f"{v.dtype} tensor of shape {tuple(v.shape)}")
                    v = v.item()
                step = _check_step(v)
            except (ValueError, TypeError, RuntimeError) as e:
                error_msgs.append(f"{key}: {e}")
            else:
                self.step = step
        # no step (a checkpoint saved before replace_dropout): not an error,
        # the step is left as it is
        rest = {k: v for k, v in state_dict.items() if k != key}
        super()._load_from_state_dict(rest, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        """p, seed, site, step (and rank, inplace, backend when set), for repr()."""
        return (f"p={self.p}, seed={self.seed}, site={self.site}, step={self.step}"
                + (f", rank={self.rank}" if self.rank else "")
                + (", inplace=True" if self.inplace else "")
                + (f", backend={self.backend!r}" if self.backend != "auto" else ""))


def _prob(p: Any, function: str) -> float:
    """p as a float in [0, 1]: a real number (numpy's, a 0-d tensor's
    item), not a str or bool; NaN is outside."""
    if isinstance(p, torch.Tensor) and p.numel() == 1:
        p = p.item()
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{function}: p must be a real number, got {type(p).__name__}")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{function}: p must be in [0, 1], got {p}")
    return p


def _real_rate(v: Any, i: int) -> float:
    """apply_plan's rate i as a float: a real number ("0.1", True or
    [0.1, 0.2] is not one, though float() takes the first two)."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        v = v.item()
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"apply_plan: plan[{i}] must be a real number (one rate a site), got "
                        f"{type(v).__name__} {v!r}")
    return float(v)


def _whole(v: Any, name: str, limit: int, function: str = "Dropout") -> int:
    """v as an int in [0, limit]: Python's or numpy's integers, not bool,
    not a float that happens to be whole."""
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or not 0 <= int(v) <= limit:
        raise ValueError(f"{function}: {name} must be an int in [0, {limit}], got {v!r}")
    return int(v)


def _check_step(step: Any, function: str = "Dropout") -> int:
    return _whole(step, "step", MAX_STEP, function)


def _check_rank(rank: Any, function: str = "Dropout") -> int:
    return _whole(rank, "rank", MAX_RANK, function)


def _check_ids(function: str, seed: Any, site: Any, step: Any, rank: Any,
               backend: Any) -> Tuple[int, int, int, int, str]:
    """A Dropout's seed, site, step, rank and backend, checked as one (the
    constructor and replace_dropout alike)."""
    seed = _whole(seed, "seed", (1 << 64) - 1, function)
    site = _whole(site, "site", MAX_SITE, function)
    step, rank = _check_step(step, function), _check_rank(rank, function)
    if backend not in BACKENDS:
        raise ValueError(f"{function}: backend must be one of {', '.join(BACKENDS)}, got "
                         f"{backend!r}")
    return seed, site, step, rank, backend


def _all_names(model: "nn.Module") -> Dict[int, List[str]]:
    """{id(module): every qualified name it has}: a module registered under
    two attribute names (self.b = self.a) has both."""
    out: Dict[int, List[str]] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        out.setdefault(id(m), []).append(name)
    return out


def replace_dropout(model: "nn.Module", sites: Union["Sites", Sequence[str]], seed: int,
                    step: int = 0, rank: int = 0, backend: str = "auto") -> List[Dropout]:
    """Replaces each site's nn.Dropout with a gdropout.torch.Dropout of the
    same p and inplace, site index = its index in `sites`, under every name
    the module has (a module registered twice stays one module); returns the
    new modules.  Sites that are already gdropout Dropouts get seed, site,
    step, rank and backend set."""
    names = list(sites.names if isinstance(sites, Sites) else sites)
    if len(names) > MAX_SITE + 1:
        raise ValueError(f"replace_dropout: at most {MAX_SITE + 1} sites")
    # checked before any module changes, for the sites already replaced too
    seed, _, step, rank, backend = _check_ids("replace_dropout", seed, 0, step, rank, backend)
    aliases = _all_names(model)
    mods = dict(model.named_modules(remove_duplicate=False))
    done: Dict[int, Tuple[int, Dropout]] = {}
    new = []
    for i, name in enumerate(names):
        if name not in mods:
            raise ValueError(f"replace_dropout: the model has no module {name!r}")
        old = mods[name]
        if id(old) in done:
            j, d = done[id(old)]
            raise ValueError(f"replace_dropout: {name} and {names[j]} are one module (registered "
                             f"under both names): list it once")
        if isinstance(old, Dropout):
            old.seed, old.site, old.step, old.rank, old.backend = seed, i, step, rank, backend
            d = old
        elif type(old) is nn.Dropout:
            d = Dropout(old.p, seed=seed, site=i, step=step, inplace=old.inplace, rank=rank,
                        backend=backend)
            d.train(old.training)
            for alias in aliases[id(old)]:
                parent_name, _, attr = alias.rpartition(".")
                parent = model.get_submodule(parent_name) if parent_name else model
                setattr(parent, attr, d)
        else:
            raise TypeError(f"replace_dropout: {name} is {type(old).__name__}, not nn.Dropout")
        done[id(old)] = (i, d)
        new.append(d)
    return new


def set_step(model: "nn.Module", step: int) -> None:
    """Sets .step of every gdropout.torch.Dropout in the model."""
    step = _check_step(step, "set_step")
    for m in model.modules():
        if isinstance(m, Dropout):
            m.step = step


def set_rank(model: "nn.Module", rank: int) -> None:
    """Sets .rank of every gdropout.torch.Dropout in the model (data-parallel
    training: each process its torch.distributed rank; see Dropout)."""
    rank = _check_rank(rank, "set_rank")
    for m in model.modules():
        if isinstance(m, Dropout):
            m.rank = rank
