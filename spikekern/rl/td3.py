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
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._backend import BACKENDS
from ..models import MLPActor, MLPQFunction, PopSpikeActor
from ..nn.population import DECODE_MODES, ENCODE_MODES
from .algorithms import Algorithm
from .checkpoint import env_snapshot, load_checkpoint, rng_state, save_checkpoint, seed_everything, set_lr, set_rng_state
from .envs import make_env, run_episodes, with_video
from .guards import check_loss, check_observation
from .loop import Trainer
from .normalize import RunningNorm
from .options import check, option
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
    spike_ts: int = option(5, "time steps T of the spiking actor", low=1)
    encoder_pop_dim: int = option(10, "encoder neurons per observation dimension", low=2)
    decoder_pop_dim: int = option(10, "decoder neurons per action dimension", low=1)
    encoder_var: float = option(0.15, "initial std of the encoder's Gaussian receptive fields", above=0)
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
    max_ep_len: int = option(1000, "episode length limit (the env's own limit applies if smaller)", low=1)
    epoch_steps: int = option(10_000, "env steps between evaluations and checkpoints", low=1)
    test_episodes: int = option(10, "deterministic test episodes per evaluation", low=1)
    obs_clip: float = option(3.0, "normalised observations are clipped to +- this", above=0)
    threads: int = option(0, "torch threads (0: leave torch's default, all cores)", low=0)

    def decode_mode(self) -> str:
        return self.decode or ("fr-mlp" if self.actor == "popsan" else "last-mem")


def validate(cfg: TD3Config) -> None:
    """Every check a run makes before it writes anything (backend, actor, env), with the
    trainer's own messages, and no side effects: the sweep checks a whole grid with it."""
    check(cfg)
    if len(cfg.mean_range) != 2 or not cfg.mean_range[0] < cfg.mean_range[1]:
        raise ValueError(f"--mean-range must be two numbers LOW HIGH with LOW < HIGH, got {list(cfg.mean_range)}")
    runtime.check_backend(cfg)
    make_env(cfg.env, continuous=True, max_episode_steps=cfg.max_ep_len).close()


def build_actor(cfg: TD3Config, obs_dim: int, act_dim: int, act_limit: float) -> nn.Module:
    if cfg.actor == "ann":
        return MLPActor(obs_dim, act_dim, cfg.hidden_sizes, act_limit)
    if cfg.actor not in ACTORS:
        raise ValueError(f"unknown actor {cfg.actor!r}; choose one of {list(ACTORS)}")
    return PopSpikeActor(obs_dim, act_dim, cfg.encoder_pop_dim, cfg.decoder_pop_dim, list(cfg.hidden_sizes),
                         cfg.mean_range, cfg.encoder_var, cfg.spike_ts, encode=cfg.encode,
                         decode=cfg.decode_mode(), act_limit=act_limit, ilc=cfg.actor == "ilc-san",
                         backend=cfg.backend)


class Agent(nn.Module):
    """Actor, twin critics, their targets and the observation normaliser."""

    def __init__(self, cfg: TD3Config, obs_dim: int, act_dim: int, act_limit: float):
        super().__init__()
        self.norm = RunningNorm(obs_dim, clip=cfg.obs_clip)
        self.actor = build_actor(cfg, obs_dim, act_dim, act_limit)
        self.q1 = MLPQFunction(obs_dim, act_dim, cfg.hidden_sizes)
        self.q2 = MLPQFunction(obs_dim, act_dim, cfg.hidden_sizes)
        self.actor_targ, self.q1_targ, self.q2_targ = (copy.deepcopy(m) for m in (self.actor, self.q1, self.q2))
        for p in self.targets_parameters():
            p.requires_grad_(False)

    def targets_parameters(self):
        return [p for m in (self.actor_targ, self.q1_targ, self.q2_targ) for p in m.parameters()]

    def online_parameters(self):
        return [p for m in (self.actor, self.q1, self.q2) for p in m.parameters()]

    @torch.no_grad()
    def act(self, obs: np.ndarray, device) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=device).unsqueeze(0)
        return self.actor(self.norm(o))[0].cpu().numpy()


def evaluate(agent: Agent, env_id: str, episodes: int, seed: int, max_ep_len: int, device, video_dir=None,
             progress: bool = False) -> list[float]:
    """Deterministic episodes of the actor (no exploration noise); video_dir: record them."""
    env = make_env(env_id, continuous=True, max_episode_steps=max_ep_len,
                   **(dict(render_mode="rgb_array") if video_dir else {}))
    if video_dir:
        env = with_video(env, video_dir)
    return run_episodes(env, lambda obs: agent.act(obs, device), episodes, seed, progress)


class TD3Trainer(Trainer):
    algo = "td3"

    def __init__(self, cfg: TD3Config, run_dir: Path, resume: bool | dict = False):
        self.begin(cfg, run_dir)
        self.env = make_env(cfg.env, continuous=True, max_episode_steps=cfg.max_ep_len)
        space = self.env.action_space
        if not np.allclose(space.high, -space.low):
            raise ValueError(f"{cfg.env}: TD3 here needs symmetric action bounds, got {space.low}..{space.high}")
        self.obs_dim, self.act_dim = self.env.observation_space.shape[0], space.shape[0]
        self.act_limit = float(space.high[0])
        self.rng = seed_everything(cfg.seed)
        self.agent = Agent(cfg, self.obs_dim, self.act_dim, self.act_limit).to(self.device)
        fused = dict(fused=True) if self.device.type in ("cpu", "cuda") else {}
        self.pi_opt = torch.optim.Adam(self.agent.actor.parameters(), lr=cfg.actor_lr, **fused)
        self.q_opt = torch.optim.Adam(list(self.agent.q1.parameters()) + list(self.agent.q2.parameters()),
                                      lr=cfg.critic_lr, **fused)
        # Full capacity even for short runs (np.zeros commits no memory until used), so a
        # resumed run extended to more steps samples exactly as an uninterrupted one.
        self.buffer = ReplayBuffer(self.obs_dim, self.act_dim, cfg.replay_size)
        self.step, self.updates, self.episodes = 0, 0, 0
        self.last_return = float("nan")
        self.obs, _ = self.env.reset(seed=cfg.seed)
        self.ep_ret, self.ep_len = 0.0, 0
        if resume:
            self._load(resume if isinstance(resume, dict) else load_checkpoint(self.run_dir))
        # Everything is validated: only now is anything written.
        self.open_run(["step", "epoch", "test_return", "test_return_std", "train_return", "episodes", "steps_per_s",
                       "time_s"], bool(resume), self.step)

    # -------------------------------------------------------------------- checkpoints
    def _state(self) -> dict:
        return dict(config=dataclasses.asdict(self.cfg), agent=self.agent.state_dict(),
                    pi_opt=self.pi_opt.state_dict(), q_opt=self.q_opt.state_dict(),
                    buffer=self.buffer.state_dict(), rng=rng_state(self.rng), step=self.step,
                    updates=self.updates, episodes=self.episodes, last_return=self.last_return,
                    time_s=self.elapsed(), env=env_snapshot(self.env), obs=self.obs, ep_ret=self.ep_ret, ep_len=self.ep_len)

    def _load(self, st: dict) -> None:
        self.agent.load_state_dict(st["agent"])
        self.pi_opt.load_state_dict(st["pi_opt"])
        self.q_opt.load_state_dict(st["q_opt"])
        # An optimiser's state dict carries its learning rate: the config's (which a resume
        # may override, e.g. after a divergence) is the one to use.
        set_lr(self.pi_opt, self.cfg.actor_lr)
        set_lr(self.q_opt, self.cfg.critic_lr)
        self.buffer.load_state_dict(st["buffer"])
        set_rng_state(st["rng"], self.rng)
        self.step, self.updates, self.episodes = st["step"], st["updates"], st["episodes"]
        self.saved_step = self.step
        self.last_return = st["last_return"]
        self.time_s = st.get("time_s", 0.0)
        if st["env"] is not None:  # continue the same episode in the same env state
            self.env.close()
            self.env = pickle.loads(st["env"])
            self.obs, self.ep_ret, self.ep_len = st["obs"], st["ep_ret"], st["ep_len"]
        else:
            self.obs, _ = self.env.reset(seed=self.cfg.seed + self.step)
            self.ep_ret, self.ep_len = 0.0, 0

    def save(self) -> None:
        save_checkpoint(self._state(), self.run_dir)
        self.saved_step = self.step

    # -------------------------------------------------------------------- TD3 update
    def update(self) -> dict:
        cfg, ag = self.cfg, self.agent
        b = self.buffer.sample(cfg.batch_size, self.rng, self.device)
        o, o2 = ag.norm(b["obs"]), ag.norm(b["obs2"])
        with torch.no_grad():
            a2 = ag.actor_targ(o2)
            noise = (torch.randn_like(a2) * cfg.target_noise).clamp(-cfg.noise_clip, cfg.noise_clip)
            a2 = (a2 + noise).clamp(-self.act_limit, self.act_limit)
            q_targ = torch.min(ag.q1_targ(o2, a2), ag.q2_targ(o2, a2))
            backup = b["rew"] + cfg.gamma * (1 - b["done"]) * q_targ
        q_loss = ((ag.q1(o, b["act"]) - backup) ** 2).mean() + ((ag.q2(o, b["act"]) - backup) ** 2).mean()
        info = dict(q_loss=q_loss.item())
        check_loss("critic loss", info["q_loss"], self.step, self.saved_step)
        self.q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_opt.step()
        self.updates += 1
        if self.updates % cfg.policy_delay == 0:
            for p in ag.q1.parameters():
                p.requires_grad_(False)
            pi_loss = -ag.q1(o, ag.actor(o)).mean()
            info["pi_loss"] = pi_loss.item()
            check_loss("actor loss", info["pi_loss"], self.step, self.saved_step)
            self.pi_opt.zero_grad(set_to_none=True)
            pi_loss.backward()
            self.pi_opt.step()
            for p in ag.q1.parameters():
                p.requires_grad_(True)
            with torch.no_grad():  # targets <- polyak * targets + (1 - polyak) * online
                torch._foreach_lerp_(ag.targets_parameters(), ag.online_parameters(), 1 - cfg.polyak)
        return info

    # -------------------------------------------------------------------- loop
    def explore_action(self) -> np.ndarray:
        if self.step < self.cfg.start_steps:
            return self.rng.uniform(-self.act_limit, self.act_limit, self.act_dim).astype(np.float32)
        a = self.agent.act(self.obs, self.device)
        a = a + self.cfg.act_noise * self.act_limit * self.rng.standard_normal(self.act_dim)
        return np.clip(a, -self.act_limit, self.act_limit).astype(np.float32)

    def step_once(self) -> None:
        cfg = self.cfg
        a = self.explore_action()
        self.agent.norm.update(self.obs)
        obs2, r, term, trunc, info = self.env.step(a)
        check_observation(obs2, self.step + 1, self.saved_step)
        self.buffer.store(self.obs, a, r, obs2, float(term))
        self.obs = obs2
        self.step += 1
        if term or trunc:
            self.episodes += 1
            self.last_return = float(info["episode"]["r"])
            self.logger.scalar("train/episode_return", self.last_return, self.step)
            self.obs, _ = self.env.reset()
            check_observation(self.obs, self.step, self.saved_step)
        if self.step >= cfg.update_after and self.step % cfg.update_every == 0:
            for _ in range(cfg.update_every):
                losses = self.update()
            for k, v in losses.items():
                self.logger.scalar(f"train/{k}", v, self.step)

    def postfix(self) -> dict | None:
        return dict(last_return=f"{self.last_return:.1f}") if self.step % 100 == 0 else None

    # -------------------------------------------------------------------- epochs
    def agent_step(self) -> int:
        return self.step

    def guarded(self) -> nn.Module:
        return self.agent

    def evaluate_epoch(self, progress: bool = False) -> list[float]:
        cfg = self.cfg
        return evaluate(self.agent, cfg.env, cfg.test_episodes, seed=cfg.seed + 10_000 * (self.step // cfg.epoch_steps + 1),
                        max_ep_len=cfg.max_ep_len, device=self.device)

    def epoch_row(self, returns: list[float], rate: float) -> dict:
        return dict(step=self.step, epoch=-(-self.step // self.cfg.epoch_steps), **self.test_stats(returns),
                    train_return=self.last_return, episodes=self.episodes, steps_per_s=rate)

    def model_file(self) -> dict:
        return dict(agent=self.agent.state_dict(), obs_dim=self.obs_dim, act_dim=self.act_dim, act_limit=self.act_limit)


def _load_net(cfg: TD3Config, st: dict):
    net = Agent(cfg, st["obs_dim"], st["act_dim"], st["act_limit"])
    net.load_state_dict(st["agent"])
    return net, (st["obs_dim"],)


def _act(net: Agent, obs: torch.Tensor) -> torch.Tensor:
    return net.actor(net.norm(obs.to(torch.float32)))


def _evaluate(net: Agent, cfg: TD3Config, episodes: int, seed: int, device, video_dir=None,
              progress: bool = False) -> list[float]:
    return evaluate(net, cfg.env, episodes, seed, cfg.max_ep_len, device, video_dir=video_dir, progress=progress)


ALGORITHM = Algorithm(
    name="td3", help="TD3 with an ILC-SAN, PopSAN or ANN actor (continuous control)", description="",
    config_cls=TD3Config, trainer_cls=TD3Trainer, agent_field="actor", budget_field="steps",
    epoch_field="epoch_steps", column="step", validate=validate, load_net=_load_net, act=_act, evaluate=_evaluate,
    baseline="ann")
run = ALGORITHM.run
config_from_dict = ALGORITHM.config_from_dict
