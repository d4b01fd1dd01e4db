"""End-to-end model timings: the ILC-SAN actor's TD3 update and action, and the Spiking-DQN
forward+backward, per backend, with the share of the time spent in the neuron layers.

The neuron share is measured, not inferred: the inputs every neuron layer receives in one
forward pass are captured, then the neuron layers alone are timed (forward+backward, or
forward only for inference) on exactly those inputs, and divided by the model's time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .. import use_backend
from ..models import MLPQFunction, PopSpikeActor, SpikingDQN
from ..nn import CUBALIF, LIF
from .timing import interleaved, speedup_text, speedup_vs_reference

NEURON_TYPES = (LIF, CUBALIF)  # ILCCUBALIF and IFEncoderNeuron are subclasses


@dataclass
class ModelCase:
    name: str
    # -> (model, one step of work, the observation batch, whether the step runs backward)
    build: Callable[[], tuple[torch.nn.Module, Callable[[], None], torch.Tensor, bool]]


def _ilc_san_actor():
    # HalfCheetah sizes: obs 17, act 6, populations 10/10, hidden [256, 256], T = 5; the
    # script's encoder fields (std = sqrt(encoder_var = 0.15)).
    return PopSpikeActor(17, 6, 10, 10, [256, 256], (-3, 3), math.sqrt(0.15), 5, act_limit=1.0)


def ilc_san_update(batch=100):
    def build():
        torch.manual_seed(0)
        actor, critic = _ilc_san_actor(), MLPQFunction(17, 6, (256, 256))
        opt = torch.optim.Adam(actor.parameters(), lr=1e-4, fused=True)  # as the TD3 trainer
        obs = torch.randn(batch, 17)

        def step():  # the TD3 policy update: maximise Q(s, pi(s))
            opt.zero_grad(set_to_none=True)
            loss = -critic(obs, actor(obs)).mean()
            loss.backward()
            opt.step()
        return actor, step, obs, True
    return ModelCase(f"ILC-SAN actor Adam update, batch {batch}", build)


def ilc_san_action():
    def build():
        torch.manual_seed(0)
        actor = _ilc_san_actor()
        obs = torch.randn(1, 17)

        def step():
            with torch.no_grad():
                actor(obs)
        return actor, step, obs, False
    return ModelCase("ILC-SAN action, batch 1", build)


def spiking_dqn_update(batch=32, time_window=16):
    def build():
        torch.manual_seed(0)
        model = SpikingDQN(4, 84, 84, 6, time_window=time_window)
        obs = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)

        def step():
            model.zero_grad(set_to_none=True)
            model(obs).sum().backward()
        return model, step, obs, True
    return ModelCase(f"PL-SDQN forward+backward, batch {batch}, T={time_window}", build)


CASES = [ilc_san_update, ilc_san_action, spiking_dqn_update]


def _neuron_runner(model: torch.nn.Module, obs: torch.Tensor, backward: bool) -> Callable[[], None]:
    """A callable running only the model's neuron layers on the inputs they see in one forward."""
    captured = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: captured.append((mod, inp[0].detach().clone(), out.shape)))
             for m in model.modules() if isinstance(m, NEURON_TYPES)]
    with torch.no_grad():
        model(obs)
    for h in hooks:
        h.remove()
    grads = [torch.randn(shape) for _, _, shape in captured]
    leaves = [x.requires_grad_(backward) for _, x, _ in captured]

    def run():
        if backward:
            for (mod, _, _), x, g in zip(captured, leaves, grads):
                torch.autograd.grad(mod(x), [x] + [p for p in mod.parameters()], g)
        else:
            with torch.no_grad():
                for (mod, _, _), x in zip(captured, leaves):
                    mod(x)
    return run


HEADER = f"{'model case':<44} {'backend':<10} {'ms':>9} {'neurons ms':>11} {'share':>6} {'x ref':>6}"


def format_row(r: dict) -> str:
    return (f"{r['case']:<44} {r['backend']:<10} {r['ms']:>9.2f} {r['neuron_ms']:>11.2f} "
            f"{100 * r['neuron_share']:>5.0f}% {speedup_text(r):>6}")


def run_models(backends: list[str], rounds: int = 5, log=print) -> list[dict]:
    rows = []
    for make in CASES:
        case = make()
        model, step, obs, backward = case.build()
        fns = {}
        for b in backends:
            def model_step(b=b):
                with use_backend(b):
                    step()

            with use_backend(b):
                run_neurons = _neuron_runner(model, obs, backward)

            def neurons(b=b, run_neurons=run_neurons):
                with use_backend(b):
                    run_neurons()
            fns[b] = model_step
            fns[f"{b}:neurons"] = neurons
        times = interleaved(fns, rounds, max_seconds=10.0, min_seconds=0.3)
        for b in backends:
            row = dict(case=case.name, backend=b, ms=times[b] * 1e3, neuron_ms=times[f"{b}:neurons"] * 1e3,
                       neuron_share=times[f"{b}:neurons"] / times[b],
                       speedup_vs_reference=speedup_vs_reference(times, b))
            rows.append(row)
            log(format_row(row))
    return rows
