"""TD3 for ILC-SAN, PopSAN and ANN actors (`spikekern train td3`), in one file.

Defaults are the ILC-SAN script's (SpikingJelly `hybrid_td3_cuda_norm.py`): twin ANN critics,
a spiking (or ANN) actor, running observation normalisation clipped to +-3 for actor and
critics. One epoch = `epoch_steps` env steps followed by `test_episodes` deterministic test
episodes; the shared loop (loop.py) then logs a row of progress.csv, writes a checkpoint
atomically and redraws learning_curve.png. Ctrl-C saves a checkpoint before exiting;
`--resume DIR` continues.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._backend import BACKENDS
from ..models import MLPActor, MLPQFunction, PopSpikeActor
from ..models.actors import HIDDEN_NEURONS
from ..nn.population import DECODE_MODES, ENCODE_MODES
from ..nn.seeds import stack_states, unstack_state
from .algorithms import Algorithm
from .checkpoint import (env_snapshot, rng_state, seed_everything, set_lr,
                         set_rng_state, stack_optimizer, unstack_optimizer)
from .envs import make_env, run_episodes, with_video
from .guards import DivergedError, check_observation
from .loop import Trainer, mean_finite
from .normalize import RunningNorm
from .options import check, checkpoint_minutes_option, option
from .replay import ReplayBuffer
from . import runtime

ACTORS = ("ilc-san", "popsan", "ann")


@dataclass
class TD3Config:
    env: str = option("Pendulum-v1", "gymnasium env id with continuous actions (MuJoCo tasks need the [mujoco] extra)")
    actor: str = option("ilc-san", "the actor: ILC-SAN (spiking, intra-layer connections), PopSAN (spiking) or a ReLU MLP",
                        choices=ACTORS)
    backend: str = option("auto", "spiking neuron backend; auto = the fastest available for --device",
                          choices=BACKENDS)
    device: str = option("cpu", "torch device of the networks (cpu, cuda, cuda:N)")
    seed: int = option(0, "seed of the networks, the env and the exploration", low=0)
    steps: int = option(1_000_000, "total env steps (ILC-SAN: 100 epochs of 10000)", low=1)
    # spiking actor (ILC-SAN defaults)
    neuron: str = option("cuba", "neuron of the spiking actor's hidden layers (and of its output layer without ILC): "
                                 "cuba (CUBA-LIF), lif (the same without its current), plif (lif with its time "
                                 "constant learned) or clif (lif with the complementary potential in its soft reset)", choices=tuple(HIDDEN_NEURONS))
    spike_ts: int = option(5, "time steps T of the spiking actor", low=1)
    encoder_pop_dim: int = option(10, "encoder neurons per observation dimension", low=2)
    decoder_pop_dim: int = option(10, "decoder neurons per action dimension", low=1)
    # A variance, as the source scripts' --encoder_var: they build the encoder with
    # std = sqrt(encoder_var) (0.387 for 0.15).
    encoder_var: float = option(0.15, "initial variance of the encoder's Gaussian receptive fields (their std is "
                                      "its square root, as in the ILC-SAN and PopSAN scripts)", above=0)
    mean_range: tuple = option((-3.0, 3.0), "range the encoder's receptive-field means are spread over (two numbers)")
    encode: str = option("pop-det", "population encoding of the observation", choices=ENCODE_MODES)
    decode: str = option("", "population decoding of the action (empty: last-mem for ilc-san, fr-mlp for popsan)",
                         choices=("",) + DECODE_MODES)
    hidden_sizes: tuple = option((256, 256), "hidden layer sizes of the actor and the critics", low=1)
    # TD3
    actor_lr: float = option(1e-4, "Adam learning rate of the actor", above=0)
    critic_lr: float = option(1e-3, "Adam learning rate of the critics", above=0)
    batch_size: int = option(100, "transitions per update", low=1)
    replay_size: int = option(1_000_000, "replay buffer capacity in transitions", low=1)
    gamma: float = option(0.99, "discount factor", low=0, high=1)
    polyak: float = option(0.995, "target networks <- polyak * target + (1 - polyak) * online", low=0, high=1)
    start_steps: int = option(10_000, "env steps of uniformly random actions before the actor acts", low=0)
    update_after: int = option(1_000, "env steps before the first update", low=0)
    update_every: int = option(50, "env steps between update bursts (each burst: that many updates)", low=1)
    act_noise: float = option(0.1, "std of the exploration noise, as a fraction of the action limit", low=0)
    target_noise: float = option(0.2, "std of the target policy smoothing noise", low=0)
    noise_clip: float = option(0.5, "clip of the target policy smoothing noise", low=0)
    policy_delay: int = option(2, "critic updates per actor update", low=1)
    # Proxy Target (Xu et al., NeurIPS 2025; docs/proxy_target.md)
    proxy_target: bool = option(False, "Proxy Target: a ReLU MLP trained to imitate the spiking actor gives the "
                                       "critics' target actions instead of a soft-updated target actor (spiking "
                                       "actors only; used in training only)")
    proxy_hidden_sizes: tuple = option((512, 512), "hidden layer sizes of the proxy network", low=1)
    proxy_lr: float = option(1e-3, "Adam learning rate of the proxy network", above=0)
    proxy_iters: int = option(3, "proxy updates per TD3 update, each on its own batch (the last one is also the "
                                 "TD3 update's)", low=1)
    max_ep_len: int = option(1000, "episode length limit (the env's own limit applies if smaller)", low=1)
    epoch_steps: int = option(10_000, "env steps between evaluations and checkpoints", low=1)
    checkpoint_minutes: float = checkpoint_minutes_option()
    test_episodes: int = option(10, "deterministic test episodes per evaluation", low=1)
    obs_clip: float = option(3.0, "normalised observations are clipped to +- this", above=0)
    threads: int = option(0, "torch threads (0: leave torch's default, all cores)", low=0)

    def decode_mode(self) -> str:
        return self.decode or ("fr-mlp" if self.actor == "popsan" else "last-mem")


def validate(cfg: TD3Config) -> None:
    """Every check a run makes before it writes anything (backend, actor, env), with the
    trainer's own messages, and no side effects: the sweep checks a whole grid with it."""
    check(cfg)
    if cfg.neuron != "cuba" and cfg.actor == "ann":
        raise ValueError(f"--neuron {cfg.neuron} is for spiking actors; the ANN actor (--actor ann) has no neurons")
    if cfg.proxy_target and cfg.actor == "ann":
        raise ValueError("--proxy-target is for spiking actors: the ANN actor (--actor ann) keeps TD3's own "
                         "soft-updated target actor")
    if len(cfg.mean_range) != 2 or not cfg.mean_range[0] < cfg.mean_range[1]:
        raise ValueError(f"--mean-range must be two numbers LOW HIGH with LOW < HIGH, got {list(cfg.mean_range)}")
    runtime.check_backend(cfg)
    make_env(cfg.env, continuous=True, max_episode_steps=cfg.max_ep_len).close()


def build_actor(cfg: TD3Config, obs_dim: int, act_dim: int, act_limit: float, seeds: int | None = None) -> nn.Module:
    if cfg.actor == "ann":
        return MLPActor(obs_dim, act_dim, cfg.hidden_sizes, act_limit, seeds=seeds)
    if cfg.actor not in ACTORS:
        raise ValueError(f"unknown actor {cfg.actor!r}; choose one of {list(ACTORS)}")
    return PopSpikeActor(obs_dim, act_dim, cfg.encoder_pop_dim, cfg.decoder_pop_dim, list(cfg.hidden_sizes),
                         cfg.mean_range, math.sqrt(cfg.encoder_var), cfg.spike_ts, encode=cfg.encode,
                         decode=cfg.decode_mode(), act_limit=act_limit, ilc=cfg.actor == "ilc-san",
                         backend=cfg.backend, seeds=seeds, neuron=cfg.neuron)


class Agent(nn.Module):
    """Actor, twin critics, their targets and the observation normaliser. seeds=K: K seeds'
    agents in one (spikekern.nn.seeds): observations [B, K, obs_dim], actions [B, K, act_dim].
    With Proxy Target there is no target actor (the trainer's proxy network stands in)."""

    def __init__(self, cfg: TD3Config, obs_dim: int, act_dim: int, act_limit: float, seeds: int | None = None):
        super().__init__()
        self.norm = RunningNorm(obs_dim, clip=cfg.obs_clip, seeds=seeds)
        self.actor = build_actor(cfg, obs_dim, act_dim, act_limit, seeds)
        self.q1 = MLPQFunction(obs_dim, act_dim, cfg.hidden_sizes, seeds=seeds)
        self.q2 = MLPQFunction(obs_dim, act_dim, cfg.hidden_sizes, seeds=seeds)
        self.actor_targ = None if cfg.proxy_target else copy.deepcopy(self.actor)
        self.q1_targ, self.q2_targ = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        for p in self.targets_parameters():
            p.requires_grad_(False)

    def _soft_updated(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, target) pairs of the soft update."""
        pairs = [(self.q1, self.q1_targ), (self.q2, self.q2_targ)]
        return pairs if self.actor_targ is None else [(self.actor, self.actor_targ), *pairs]

    def targets_parameters(self):
        return [p for _, m in self._soft_updated() for p in m.parameters()]

    def online_parameters(self):
        return [p for m, _ in self._soft_updated() for p in m.parameters()]

    @torch.no_grad()
    def act(self, obs: np.ndarray, device) -> np.ndarray:
        """One observation [obs_dim] (K seeds: one per seed, [K, obs_dim]) -> its action."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=device).unsqueeze(0)
        return self.actor(self.norm(o))[0].cpu().numpy()


def evaluate(agent: Agent, env_id: str, episodes: int, seed: int, max_ep_len: int, device, video_dir=None,
             progress: bool = False, lengths: list | None = None) -> list[float]:
    """Deterministic episodes of the actor (no exploration noise); video_dir: record them;
    lengths: a list to append each episode's length to."""
    env = make_env(env_id, continuous=True, max_episode_steps=max_ep_len,
                   **(dict(render_mode="rgb_array") if video_dir else {}))
    if video_dir:
        env = with_video(env, video_dir)
    return run_episodes(env, lambda obs: agent.act(obs, device), episodes, seed, progress, lengths)


class TD3Trainer(Trainer):
    """TD3 for one seed or several in one process. Several seeds are one stacked Agent
    (seeds=K) updated by one batched computation, each seed with its own env, replay part,
    random streams, optimiser state and normaliser; its checkpoint and model.pt are a single
    run's. A single run is the same code with K = 1, whose arithmetic is the single model's."""

    algo = "td3"
    several_seeds = True

    def __init__(self, cfg: TD3Config, run_dir: Path, resume: bool | dict | list = False, seeds=None):
        self.begin(cfg, run_dir, seeds)
        cfg, K = self.cfg, len(self.runs)
        self.envs = [make_env(cfg.env, continuous=True, max_episode_steps=cfg.max_ep_len) for _ in self.runs]
        space = self.envs[0].action_space
        if not np.allclose(space.high, -space.low):
            raise ValueError(f"{cfg.env}: TD3 here needs symmetric action bounds, got {space.low}..{space.high}")
        self.obs_dim, self.act_dim = self.envs[0].observation_space.shape[0], space.shape[0]
        self.act_limit = float(space.high[0])
        # Each seed starts as its single run does: its seed, then its networks from the global
        # torch generator; what that generator holds next is the seed's own noise stream (a
        # single run keeps using the global one, so K = 1 draws exactly as ever).
        self.agent = Agent(cfg, self.obs_dim, self.act_dim, self.act_limit, seeds=K)  # its weights: below
        self.rngs, self.gens, singles, proxies = [], [], [], []
        for run in self.runs:
            self.rngs.append(seed_everything(run.seed))
            singles.append(Agent(cfg, self.obs_dim, self.act_dim, self.act_limit))
            if cfg.proxy_target:
                proxies.append(self._proxy())
            self.gens.append(None if K == 1 else self._generator(run.seed))
        self.agent.load_state_dict(stack_states([a.state_dict() for a in singles]))
        self.agent.to(self.device)
        self.single = singles[0].to(self.device)  # one seed's agent at a time, for evaluations
        fused = dict(fused=True) if self.device.type in ("cpu", "cuda") else {}
        self.pi_opt = torch.optim.Adam(self.agent.actor.parameters(), lr=cfg.actor_lr, **fused)
        self.q_opt = torch.optim.Adam(list(self.agent.q1.parameters()) + list(self.agent.q2.parameters()),
                                      lr=cfg.critic_lr, **fused)
        # Proxy Target: the proxy network and its optimiser live in the trainer (and its
        # checkpoints), never in the agent that model.pt, load_agent and eval hold.
        self.proxy = self.proxy_opt = None
        if cfg.proxy_target:
            self.proxy = self._proxy(seeds=K)
            self.proxy.load_state_dict(stack_states([p.state_dict() for p in proxies]))
            self.proxy.to(self.device)
            self.proxy_opt = torch.optim.Adam(self.proxy.parameters(), lr=cfg.proxy_lr, **fused)
        # Full capacity even for short runs (np.zeros commits no memory until used), so a
        # resumed run extended to more steps samples exactly as an uninterrupted one.
        self.buffer = ReplayBuffer(self.obs_dim, self.act_dim, cfg.replay_size, seeds=K)
        self.step, self.updates = 0, 0
        self.episodes, self.last_return = [0] * K, [float("nan")] * K
        self.obs = [env.reset(seed=run.seed)[0] for env, run in zip(self.envs, self.runs)]
        self.ep_ret, self.ep_len = [0.0] * K, [0] * K
        if resume:
            self._load(self.resume_states(resume))
        # Everything is validated: only now is anything written.
        self.open_run(["step", "epoch", "test_return", "test_return_std", "train_return", "episodes", "steps_per_s",
                       "time_s"], bool(resume), self.step)

    def _proxy(self, seeds: int | None = None) -> MLPActor:
        """The Proxy Target network: a ReLU MLP with the actor's tanh output range."""
        return MLPActor(self.obs_dim, self.act_dim, self.cfg.proxy_hidden_sizes, self.act_limit, seeds=seeds)

    def _generator(self, seed: int) -> torch.Generator:
        """Seed k's own torch stream, continuing where its single run's global generator is now
        (CPU; on a GPU, the stream a single run's CUDA generator starts with)."""
        gen = torch.Generator(self.device)
        if self.device.type == "cpu":
            gen.set_state(torch.get_rng_state())
        else:
            gen.manual_seed(seed)
        return gen

    # -------------------------------------------------------------------- checkpoints
    def _state(self, k: int) -> dict:
        """Seed k's checkpoint, exactly a single run's."""
        gen = self.gens[k]
        state = dict(config=dataclasses.asdict(self.runs[k].cfg), agent=unstack_state(self.agent.state_dict(), k),
                     pi_opt=unstack_optimizer(self.pi_opt.state_dict(), k),
                     q_opt=unstack_optimizer(self.q_opt.state_dict(), k),
                     buffer=self.buffer.state_dict(k), rng=rng_state(self.rngs[k], gen), step=self.step,
                     updates=self.updates, episodes=self.episodes[k], last_return=self.last_return[k],
                     time_s=self.elapsed(), env=env_snapshot(self.envs[k]), obs=self.obs[k], ep_ret=self.ep_ret[k],
                     ep_len=self.ep_len[k])
        if self.proxy is not None:  # Proxy Target: the proxy and its optimiser resume with the run
            state.update(proxy=unstack_state(self.proxy.state_dict(), k),
                         proxy_opt=unstack_optimizer(self.proxy_opt.state_dict(), k))
        return state

    def _load(self, states: list[dict]) -> None:
        self.check_lockstep(states, "step", "updates")
        self.agent.load_state_dict(stack_states([st["agent"] for st in states]))
        self.pi_opt.load_state_dict(stack_optimizer([st["pi_opt"] for st in states]))
        self.q_opt.load_state_dict(stack_optimizer([st["q_opt"] for st in states]))
        # An optimiser's state dict carries its learning rate: the config's (which a resume
        # may override, e.g. after a divergence) is the one to use.
        set_lr(self.pi_opt, self.cfg.actor_lr)
        set_lr(self.q_opt, self.cfg.critic_lr)
        if self.proxy is not None:
            self.proxy.load_state_dict(stack_states([st["proxy"] for st in states]))
            self.proxy_opt.load_state_dict(stack_optimizer([st["proxy_opt"] for st in states]))
            set_lr(self.proxy_opt, self.cfg.proxy_lr)
        self.step, self.updates = states[0]["step"], states[0]["updates"]
        self.time_s = states[0].get("time_s", 0.0)
        for k, (st, run) in enumerate(zip(states, self.runs)):
            self.buffer.load_state_dict(st["buffer"], k)
            set_rng_state(st["rng"], self.rngs[k], self.gens[k])
            run.saved_step = self.step
            self.episodes[k], self.last_return[k] = st["episodes"], st["last_return"]
            if st["env"] is not None:  # continue the same episode in the same env state
                self.envs[k].close()
                self.envs[k] = pickle.loads(st["env"])
                self.obs[k], self.ep_ret[k], self.ep_len[k] = st["obs"], st["ep_ret"], st["ep_len"]
            else:
                self.obs[k], _ = self.envs[k].reset(seed=run.seed + self.step)
                self.ep_ret[k], self.ep_len[k] = 0.0, 0

    # -------------------------------------------------------------------- TD3 update
    def noise(self, like: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like [B, K, A], seed k's from seed k's own stream."""
        if self.gens[0] is None:
            return torch.randn_like(like)
        B, _, A = like.shape
        return torch.stack([torch.randn(B, A, generator=g, device=like.device, dtype=like.dtype)
                            for g in self.gens], dim=1)

    def update(self) -> dict:
        """One TD3 update of every seed on a batch from its replay; returns each loss per seed.
        With Proxy Target, first proxy_iters proxy updates, each on a batch of its own; the
        last of those batches is also the TD3 update's."""
        sample = lambda: self.buffer.sample(self.cfg.batch_size, self.rngs, self.device)
        if self.proxy is None:
            return self.learn(sample())
        batches = [sample() for _ in range(self.cfg.proxy_iters)]
        # The actor does not change during the proxy updates, so its actions on all their
        # batches come from one forward (rows are independent): one spiking forward of
        # proxy_iters * batch_size rows costs 0.7x the proxy_iters forwards it replaces.
        o = self.agent.norm(torch.cat([b["obs"] for b in batches]))
        with torch.no_grad():
            targets = self.agent.actor(o)
        for o_b, target in zip(o.split(self.cfg.batch_size), targets.split(self.cfg.batch_size)):
            proxy_loss = self.learn_proxy(o_b, target)
        return dict(self.learn(batches[-1]), proxy_loss=proxy_loss)

    def learn_proxy(self, o: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One proxy update on the normalised observations o: each seed's proxy moves towards
        its actor's actions on them (`target`, computed without gradient), min over the proxy
        of the mean of (proxy(o) - target)^2 over the batch and the action dimensions. Returns
        the loss per seed."""
        loss = ((self.proxy(o) - target) ** 2).mean(dim=(0, 2))
        total = self.checked("proxy loss", loss)
        self.proxy_opt.zero_grad(set_to_none=True)
        total.backward()
        self.proxy_opt.step()
        return loss.detach()

    def learn(self, b: dict) -> dict:
        """One TD3 update of every seed on the batch b (tensors [B, K, ...])."""
        cfg, ag = self.cfg, self.agent
        o, o2 = ag.norm(b["obs"]), ag.norm(b["obs2"])
        with torch.no_grad():
            a2 = (ag.actor_targ if self.proxy is None else self.proxy)(o2)
            noise = (self.noise(a2) * cfg.target_noise).clamp(-cfg.noise_clip, cfg.noise_clip)
            a2 = (a2 + noise).clamp(-self.act_limit, self.act_limit)
            q_targ = torch.min(ag.q1_targ(o2, a2), ag.q2_targ(o2, a2))
            backup = b["rew"] + cfg.gamma * (1 - b["done"]) * q_targ
        # Per seed: the mean over its batch (dim 0); the seeds' losses are summed, and as each
        # seed's parameters enter only its own loss, each gets its single-run gradient.
        q_loss = ((ag.q1(o, b["act"]) - backup) ** 2).mean(0) + ((ag.q2(o, b["act"]) - backup) ** 2).mean(0)
        info = dict(q_loss=q_loss.detach())
        total = self.checked("critic loss", q_loss)
        self.q_opt.zero_grad(set_to_none=True)
        total.backward()
        self.q_opt.step()
        self.updates += 1
        if self.updates % cfg.policy_delay == 0:
            for p in ag.q1.parameters():
                p.requires_grad_(False)
            pi_loss = -ag.q1(o, ag.actor(o)).mean(0)
            info["pi_loss"] = pi_loss.detach()
            total = self.checked("actor loss", pi_loss)
            self.pi_opt.zero_grad(set_to_none=True)
            total.backward()
            self.pi_opt.step()
            for p in ag.q1.parameters():
                p.requires_grad_(True)
            with torch.no_grad():  # targets <- polyak * targets + (1 - polyak) * online
                torch._foreach_lerp_(ag.targets_parameters(), ag.online_parameters(), 1 - cfg.polyak)
        return info

    # -------------------------------------------------------------------- loop
    def explore_actions(self) -> np.ndarray:
        """Each seed's action [K, act_dim]: uniform before start_steps, then the actor's (one
        batched call for every seed) plus that seed's Gaussian noise."""
        cfg, lim = self.cfg, self.act_limit
        if self.step < cfg.start_steps:
            return np.stack([rng.uniform(-lim, lim, self.act_dim).astype(np.float32) for rng in self.rngs])
        a = self.agent.act(np.stack(self.obs), self.device)
        return np.stack([np.clip(a[k] + cfg.act_noise * lim * rng.standard_normal(self.act_dim), -lim, lim)
                         for k, rng in enumerate(self.rngs)]).astype(np.float32)

    def step_once(self) -> None:
        cfg, K = self.cfg, len(self.runs)
        acts = self.explore_actions()
        self.agent.norm.update(np.stack(self.obs))
        obs2s, rews, dones, ended = list(self.obs), np.zeros(K, np.float32), np.zeros(K, np.float32), []
        for k, run in self.alive():
            obs2, r, term, trunc, info = self.envs[k].step(acts[k])
            try:
                check_observation(obs2, self.step + 1, run.saved_step)
            except DivergedError as exc:
                self.diverge(k, exc)  # a single run stops here, before storing anything
                continue
            obs2s[k], rews[k], dones[k] = obs2, r, float(term)
            if term or trunc:
                ended.append((k, float(info["episode"]["r"])))
        # Seeds step in lockstep, so their transitions share a slot (a stopped seed's is unused).
        self.buffer.store(np.stack(self.obs), acts, rews, np.stack(obs2s), dones)
        self.obs = obs2s
        self.step += 1
        for k, episode_return in ended:
            run = self.runs[k]
            self.episodes[k] += 1
            self.last_return[k] = episode_return
            run.logger.scalar("train/episode_return", episode_return, self.step)
            self.obs[k], _ = self.envs[k].reset()
            try:
                check_observation(self.obs[k], self.step, run.saved_step)
            except DivergedError as exc:
                self.diverge(k, exc)
        if self.step >= cfg.update_after and self.step % cfg.update_every == 0:
            for _ in range(cfg.update_every):
                losses = self.update()
            values = {name: v.cpu().tolist() for name, v in losses.items()}
            for k, run in self.alive():
                for name, v in values.items():
                    run.logger.scalar(f"train/{name}", v[k], self.step)

    def postfix(self) -> dict | None:
        if self.step % 100:
            return None
        if len(self.runs) == 1:
            return dict(last_return=f"{self.last_return[0]:.1f}")
        return dict(mean_last_return=f"{mean_finite(self.last_return):.1f}")

    # -------------------------------------------------------------------- epochs
    def agent_step(self) -> int:
        return self.step

    def guard_epoch(self) -> None:
        self.check_seeds_finite([self.agent], self._single)  # a proxy going non-finite: its loss stops the seed

    def _single(self, k: int) -> Agent:
        """Seed k's agent as a single Agent (self.single, loaded with seed k's weights)."""
        self.single.load_state_dict(unstack_state(self.agent.state_dict(), k))
        return self.single

    def evaluate_epoch(self, k: int = 0, progress: bool = False, lengths: list | None = None) -> list[float]:
        cfg = self.runs[k].cfg
        return evaluate(self._single(k), cfg.env, cfg.test_episodes,
                        seed=cfg.seed + 10_000 * (self.step // cfg.epoch_steps + 1), max_ep_len=cfg.max_ep_len,
                        device=self.device, progress=progress, lengths=lengths)

    def epoch_row(self, k: int, returns: list[float], rate: float) -> dict:
        return dict(step=self.step, epoch=-(-self.step // self.cfg.epoch_steps), **self.test_stats(returns),
                    train_return=self.last_return[k], episodes=self.episodes[k], steps_per_s=rate)

    def model_file(self, k: int = 0) -> dict:
        return dict(agent=unstack_state(self.agent.state_dict(), k), obs_dim=self.obs_dim, act_dim=self.act_dim,
                    act_limit=self.act_limit)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _load_net(cfg: TD3Config, st: dict):
    net = Agent(cfg, st["obs_dim"], st["act_dim"], st["act_limit"])
    net.load_state_dict(st["agent"])
    return net, (st["obs_dim"],)


def _act(net: Agent, obs: torch.Tensor) -> torch.Tensor:
    return net.actor(net.norm(obs.to(torch.float32)))


def _evaluate(net: Agent, cfg: TD3Config, episodes: int, seed: int, device, video_dir=None,
              progress: bool = False) -> list[float]:
    return evaluate(net, cfg.env, episodes, seed, cfg.max_ep_len, device, video_dir=video_dir, progress=progress)


# A sweep's and a report's name for an agent: the actor, "-<neuron>" when its neuron is not
# CUBA-LIF, "+proxy" when it trains with --proxy-target ("popsan-lif+proxy").
PROXY = "+proxy"


def _agent_label(config: dict) -> str:
    neuron = config.get("neuron", "cuba")
    return config["actor"] + ("" if neuron == "cuba" else f"-{neuron}") + (PROXY if config.get("proxy_target") else "")


def _agent_options(agent: str) -> dict:
    options, actor = {}, agent
    if actor.endswith(PROXY):
        options["proxy_target"], actor = True, actor.removesuffix(PROXY)
    for neuron in HIDDEN_NEURONS:
        if actor.endswith(f"-{neuron}"):
            options["neuron"], actor = neuron, actor.removesuffix(f"-{neuron}")
    return dict(options, actor=actor)


# every name of a spiking actor that is more than the actor itself, for --help
VARIANTS = tuple(label for a in ACTORS if a != "ann" for n in HIDDEN_NEURONS for p in (False, True)
                 if (label := _agent_label(dict(actor=a, neuron=n, proxy_target=p))) != a)


ALGORITHM = Algorithm(
    name="td3", help="TD3 with an ILC-SAN, PopSAN or ANN actor (continuous control)", description="",
    config_cls=TD3Config, trainer_cls=TD3Trainer, agent_field="actor", budget_field="steps",
    epoch_field="epoch_steps", column="step", validate=validate, load_net=_load_net, act=_act, evaluate=_evaluate,
    acting=lambda net: (net.actor, net.actor.act_limit),
    baseline="ann", time_steps_field="spike_ts", variants=VARIANTS, label=_agent_label,
    variant_options=_agent_options)
run = ALGORITHM.run
config_from_dict = ALGORITHM.config_from_dict
