#!/usr/bin/python3
"""Reference fixtures for @adaseg/torch's optimisers and learning-rate schedules.

Run with Debian's PyTorch 1.13 (`/usr/bin/python3 scripts/gen_optim_fixtures.py` from
packages/torch). Writes test/fixtures/optim/optimizers.json and schedules.json, which
test/optim.test.ts replays:

* optimizers.json: three parameters built from a fixed seed, 20 fixed gradient sets, and for each
  optimiser set-up the parameters after every step (plus the optimiser's state_dict after step 10
  for a few set-ups). Gradients marked null are None at that step (the parameter is skipped).
* schedules.json: the learning rates PyTorch's schedulers produce for two parameter groups
  (base lrs 0.01 and 0.1), read with get_last_lr() after construction and after each of 50 steps.

Float32 values are written with 9 significant digits, enough to round-trip a float32 exactly.
"""
import json
import warnings
import math
import os

import torch

warnings.filterwarnings("ignore", message="The epoch parameter")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'optim')
SHAPES = [[4, 3], [3], [2, 2, 3, 3]]
STEPS = 20
STATE_AT = 10


def f32(t):
    """A float32 tensor as a flat list of 9-significant-digit floats (exact for float32)."""
    return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


def make_data():
    torch.manual_seed(20240611)
    params = [torch.randn(s) for s in SHAPES]
    grads = [[torch.randn(s) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


# Steps at which a parameter gets no gradient (None): exercises skipping and lazy state.
MISSING = {1: {0, 1, 2, 10}, 2: {7}}

SETUPS = [
    ('sgd_momentum', 'SGD', dict(lr=0.1, momentum=0.9, weight_decay=5e-4), None, False),
    ('sgd_nesterov', 'SGD', dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4), None, False),
    ('sgd_dampening', 'SGD', dict(lr=0.1, momentum=0.8, dampening=0.3), None, False),
    ('sgd_plain_maximize', 'SGD', dict(lr=0.1, maximize=True), None, False),
    ('sgd_missing_grads', 'SGD', dict(lr=0.1, momentum=0.9, weight_decay=5e-4), None, True),
    ('adam', 'Adam', dict(lr=1e-2), None, False),
    ('adam_amsgrad_wd', 'Adam', dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True, weight_decay=1e-2), None, False),
    ('adam_maximize_eps', 'Adam', dict(lr=3e-3, eps=1e-3, maximize=True), None, False),
    ('adam_missing_grads', 'Adam', dict(lr=1e-2, weight_decay=1e-3), None, True),
    ('adamw', 'AdamW', dict(lr=1e-2, weight_decay=0.05), None, False),
    ('adamw_amsgrad_maximize', 'AdamW', dict(lr=5e-3, amsgrad=True, maximize=True), None, False),
    # Param groups: the third parameter (a "head") at 10x the lr, with its own weight decay.
    ('sgd_groups', 'SGD', dict(lr=0.1, momentum=0.9, weight_decay=5e-4),
     [dict(params=[0, 1]), dict(params=[2], lr=1.0, weight_decay=0.0)], False),
    ('adamw_groups', 'AdamW', dict(lr=1e-3, weight_decay=1e-2),
     [dict(params=[0, 1]), dict(params=[2], lr=1e-2, betas=(0.5, 0.9))], False),
]

# State dicts after STATE_AT steps are recorded for these set-ups.
STATE_SETUPS = {'sgd_momentum', 'adam_amsgrad_wd', 'adam_missing_grads', 'adamw_groups'}


def run_setup(name, cls_name, options, groups, missing, params0, grads, scheduler=None):
    params = [p.clone().requires_grad_(True) for p in params0]
    cls = getattr(torch.optim, cls_name)
    if groups is None:
        opt = cls(params, **options)
    else:
        opt = cls([dict(g, params=[params[i] for i in g['params']]) for g in groups], **options)
    sched = scheduler(opt) if scheduler is not None else None
    history = []
    state = None
    lrs = []
    for step in range(STEPS):
        for i, p in enumerate(params):
            if missing and step in MISSING.get(i, ()):
                p.grad = None
            else:
                p.grad = grads[step][i].clone()
        opt.step()
        if sched is not None:
            sched.step()
            lrs.append(sched.get_last_lr())
        history.append([f32(p) for p in params])
        if step + 1 == STATE_AT and name in STATE_SETUPS:
            state = export_state(opt.state_dict())
    out = dict(optimizer=cls_name, options=options, groups=groups, missing=missing, params=history)
    if state is not None:
        out['state_dict'] = state
    if sched is not None:
        out['lrs'] = lrs
    return out


def export_state(sd):
    state = {}
    for idx, s in sd['state'].items():
        entry = {}
        for k, v in s.items():
            if torch.is_tensor(v) and v.dim() == 0:
                entry[k] = v.item()
            elif torch.is_tensor(v):
                entry[k] = dict(shape=list(v.shape), data=f32(v))
            else:
                entry[k] = v
        state[str(idx)] = entry
    groups = []
    for g in sd['param_groups']:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    return dict(state=state, param_groups=groups)


def optimizer_fixtures():
    params0, grads = make_data()
    setups = {}
    for name, cls_name, options, groups, missing in SETUPS:
        setups[name] = run_setup(name, cls_name, options, groups, missing, params0, grads)
    # An optimiser driven by a schedule: SGD whose lr follows PolynomialLR, stepped every iteration.
    poly = run_setup('sgd_poly', 'SGD', dict(lr=0.1, momentum=0.9), None, False, params0, grads,
                     scheduler=lambda opt: torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=STEPS, power=0.9))
    poly['schedule'] = dict(kind='PolynomialLR', total_iters=STEPS, power=0.9)
    setups['sgd_poly'] = poly
    return dict(
        torch_version=torch.__version__,
        shapes=SHAPES,
        steps=STEPS,
        state_at=STATE_AT,
        missing={str(k): sorted(v) for k, v in MISSING.items()},
        init=[f32(p) for p in params0],
        grads=[[f32(g) for g in gs] for gs in grads],
        setups=setups,
    )


# ---- schedules ----
BASE_LRS = [0.01, 0.1]
SCHED_STEPS = 50
S = torch.optim.lr_scheduler

SCHEDULES = [
    ('poly_0.9', dict(kind='PolynomialLR', total_iters=40, power=0.9),
     lambda o: S.PolynomialLR(o, total_iters=40, power=0.9)),
    ('poly_linear', dict(kind='PolynomialLR', total_iters=30, power=1.0),
     lambda o: S.PolynomialLR(o, total_iters=30, power=1.0)),
    ('step', dict(kind='StepLR', step_size=7, gamma=0.5),
     lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    ('multistep', dict(kind='MultiStepLR', milestones=[10, 25, 25, 40], gamma=0.3),
     lambda o: S.MultiStepLR(o, milestones=[10, 25, 25, 40], gamma=0.3)),
    ('cosine', dict(kind='CosineAnnealingLR', T_max=20, eta_min=1e-4),
     lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=1e-4)),
    ('cosine_long', dict(kind='CosineAnnealingLR', T_max=50, eta_min=0.0),
     lambda o: S.CosineAnnealingLR(o, T_max=50)),
    ('linear_warmup', dict(kind='LinearLR', start_factor=0.1, end_factor=1.0, total_iters=10),
     lambda o: S.LinearLR(o, start_factor=0.1, total_iters=10)),
    ('linear_decay', dict(kind='LinearLR', start_factor=1.0, end_factor=0.1, total_iters=30),
     lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=30)),
    ('exponential', dict(kind='ExponentialLR', gamma=0.95),
     lambda o: S.ExponentialLR(o, gamma=0.95)),
    ('constant', dict(kind='ConstantLR', factor=0.5, total_iters=5),
     lambda o: S.ConstantLR(o, factor=0.5, total_iters=5)),
    ('warmup_poly', dict(kind='SequentialLR', milestones=[5], schedulers=[
        dict(kind='LinearLR', start_factor=0.1, end_factor=1.0, total_iters=5),
        dict(kind='PolynomialLR', total_iters=45, power=0.9)]),
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                  S.PolynomialLR(o, total_iters=45, power=0.9)], milestones=[5])),
    ('warmup_cosine', dict(kind='SequentialLR', milestones=[10], schedulers=[
        dict(kind='LinearLR', start_factor=0.01, end_factor=1.0, total_iters=10),
        dict(kind='CosineAnnealingLR', T_max=40, eta_min=1e-5)]),
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.01, total_iters=10),
                                  S.CosineAnnealingLR(o, T_max=40, eta_min=1e-5)], milestones=[10])),
    ('three_stages', dict(kind='SequentialLR', milestones=[8, 30], schedulers=[
        dict(kind='ConstantLR', factor=0.25, total_iters=100),
        dict(kind='StepLR', step_size=5, gamma=0.5),
        dict(kind='ExponentialLR', gamma=0.9)]),
     lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.25, total_iters=100),
                                  S.StepLR(o, step_size=5, gamma=0.5),
                                  S.ExponentialLR(o, gamma=0.9)], milestones=[8, 30])),
]


def schedule_fixtures():
    out = {}
    for name, spec, make in SCHEDULES:
        params = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
        opt = torch.optim.SGD([dict(params=[params[0]], lr=BASE_LRS[0]), dict(params=[params[1]], lr=BASE_LRS[1])],
                              lr=BASE_LRS[0])
        sched = make(opt)
        lrs = [list(sched.get_last_lr())]
        for _ in range(SCHED_STEPS):
            opt.step()
            sched.step()
            lrs.append(list(sched.get_last_lr()))
            assert [g['lr'] for g in opt.param_groups] == lrs[-1]
        out[name] = dict(spec=spec, lrs=lrs)

    # Poly with a floor, as mmsegmentation's PolyLR: (base - min_lr) * (1 - t/T)^power + min_lr.
    # PyTorch 1.13 has no such schedule; this is the formula itself, evaluated in doubles.
    total, power, min_lr = 40, 0.9, 1e-4
    lrs = []
    for t in range(SCHED_STEPS + 1):
        coeff = (1.0 - min(total, t) / total) ** power
        lrs.append([(b - min_lr) * coeff + min_lr for b in BASE_LRS])
    out['poly_min_lr'] = dict(spec=dict(kind='PolynomialLR', total_iters=total, power=power, min_lr=min_lr),
                              lrs=lrs, reference='formula (no PyTorch 1.13 equivalent)')
    return dict(torch_version=torch.__version__, base_lrs=BASE_LRS, steps=SCHED_STEPS, schedules=out)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in [('optimizers.json', optimizer_fixtures()), ('schedules.json', schedule_fixtures())]:
        path = os.path.join(OUT, name)
        with open(path, 'w') as f:
            json.dump(data, f, separators=(',', ':'))
            f.write('\n')
        print('%s: %d bytes' % (os.path.relpath(path), os.path.getsize(path)))


if __name__ == '__main__':
    main()
