"""DQN for Spiking-DQN / PL-SDQN (`spikekern train dqn`), in one file.

Defaults are the BrainCog Spiking-DQN example's (Atari): Double DQN, 3-step returns, AdamW
lr 1e-4, gamma 0.99, target copy every 500 gradient steps, 100k-transition replay, batch 32,
epsilon 1.0 -> 0.05 over the first 1M env steps, one gradient step per 10 env steps, test
epsilon 0.005, time window 16, 10 parallel envs. Atari runs through ale-py's own vector env
(84x84 grey, frame skip 4, stack 4, no-op starts, fire reset, episodic life while training);
rewards are clipped by the trainer, so the logged returns are game scores. Environments with
state observations (CartPole-v1) use SpikingMLPQNet and a classic-control preset. MinAtar
games (`MinAtar/<Game>-v1`) use the MinAtar paper's network and DQN settings (preset below).
"""
from __future__ import annotations

import copy
import dataclasses
import pickle
import sys
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._backend import BACKENDS
from ..models import AtariQNet, MinAtarQNet, MLPQNet, SpikingDQN, SpikingMinAtarQNet, SpikingMLPQNet
from ..nn.seeds import stack_states, unstack_state
from .algorithms import Algorithm
from .checkpoint import (env_snapshot, rng_state, seed_everything, set_lr,
                         set_rng_state, stack_optimizer, unstack_optimizer)
from .envs import EnvError, is_minatar, make_env, register, run_episodes
from .frame_replay import FrameReplay
from .guards import DivergedError, check_observation
from .loop import Trainer, mean_finite
from .options import check, checkpoint_minutes_option, option
from . import runtime

MODELS = ("pl-sdqn", "sdqn", "dqn")
OPTIMIZERS = ("adamw", "rmsprop")
LOSSES = ("mse", "huber")
ATARI_FRAMESKIP = 4


@dataclass
class DQNConfig:
    env: str = option("ALE/Pong-v5", "gymnasium env id with discrete actions: ALE/<Game>-v5 (Atari), "
                      "MinAtar/<Game>-v1, or a state-vector env such as CartPole-v1")
    model: str = option("pl-sdqn", "Q-network: PL-SDQN (spiking, PopNorm), SDQN (spiking) or the ANN DQN",
                        choices=MODELS)
    backend: str = option("auto", "spiking neuron backend; auto = the fastest available for --device",
                          choices=BACKENDS)
    device: str = option("cpu", "torch device of the networks (cpu, cuda, cuda:N)")
    seed: int = option(0, "seed of the networks, the envs and the exploration", low=0)
    frames: int = option(10_000_000, "training budget in env frames (Atari: 4 frames per agent step; "
                         "other envs: a frame is an env step)", low=1)
    num_envs: int = option(10, "parallel training envs", low=1)
    lr: float = option(1e-4, "learning rate", above=0)
    optimizer: str = option("adamw", "optimizer (rmsprop: the MinAtar paper's alpha 0.95, eps 0.01, centered)",
                            choices=OPTIMIZERS)
    loss: str = option("mse", "TD loss (huber: smooth L1)", choices=LOSSES)
    double_dqn: bool = option(True, "Double DQN: the online net picks the next action, the target net values it")
    gamma: float = option(0.99, "discount factor", low=0, high=1)
    n_step: int = option(3, "steps of the n-step return", low=1)
    target_update: int = option(500, "gradient steps between target-network copies", low=1)
    buffer_size: int = option(100_000, "replay capacity in transitions", low=1)
    batch_size: int = option(32, "transitions per gradient step", low=1)
    eps_start: float = option(1.0, "exploration epsilon at the start", low=0, high=1)
    eps_end: float = option(0.05, "exploration epsilon after the decay", low=0, high=1)
    eps_decay_steps: int = option(1_000_000, "env steps of the linear epsilon decay", low=0)
    train_every: int = option(10, "env steps per gradient step", low=1)
    learning_starts: int = option(20_000, "env steps of warm-up before the first gradient step", low=0)
    test_eps: float = option(0.005, "epsilon of the test episodes", low=0, high=1)
    time_window: int = option(16, "time steps T of the spiking Q-networks", low=1)
    hidden_sizes: tuple = option((256, 256), "hidden layer sizes of the state-vector Q-networks", low=1)
    epoch_frames: int = option(500_000, "frames between evaluations and checkpoints", low=1)
    checkpoint_minutes: float = checkpoint_minutes_option()
    test_episodes: int = option(10, "test episodes per evaluation (run as parallel envs)", low=1)
    max_test_steps: int = option(27_000, "agent steps cap per test episode", low=1)
    buffer_checkpoint_mb: int = option(
        256, "checkpoints hold the replay buffer when it takes at most this many MB (0: never), so a resumed "
        "run continues exactly: MinAtar's 100k transitions (at most about 115 MB) fit; Atari's (84x84 frames, "
        "about 760 MB, written at every epoch) do not", low=0)
    save_buffer: bool = option(False, "checkpoints hold the replay buffer whatever its size")
    threads: int = option(0, "torch threads (0: leave torch's default, all cores)", low=0)

    @staticmethod
    def preset(env: str) -> "DQNConfig":
        """The defaults for an env: the Atari example's, or a classic-control preset that
        learns CartPole within 100k steps."""
        if is_atari(env):
            return DQNConfig(env=env)
        if is_minatar(env):
            # The MinAtar paper's DQN (Young & Tian 2019, its dqn.py): one env, a gradient step
            # per env step after 5000 warm-up steps, RMSprop 2.5e-4, Huber loss, no Double DQN,
            # 1-step targets, target copy every 1000 steps, epsilon 1.0 -> 0.1 over 100k steps,
            # 5M steps in all. Spiking nets use T = 4.
            return DQNConfig(env=env, frames=5_000_000, num_envs=1, lr=2.5e-4, optimizer="rmsprop", loss="huber",
                             double_dqn=False, n_step=1, target_update=1000, buffer_size=100_000, batch_size=32,
                             eps_start=1.0, eps_end=0.1, eps_decay_steps=100_000, train_every=1,
                             learning_starts=5000, time_window=4, epoch_frames=50_000, test_episodes=10,
                             max_test_steps=10_000)
        return DQNConfig(env=env, frames=100_000, num_envs=4, lr=1e-3, buffer_size=50_000, batch_size=64,
                         eps_decay_steps=20_000, train_every=2, learning_starts=1_000, target_update=200,
                         time_window=8, hidden_sizes=(128, 128), epoch_frames=10_000, test_eps=0.0,
                         max_test_steps=1_000)


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def atari_game(env_id: str) -> str:
    """'ALE/SpaceInvaders-v5' -> 'space_invaders', checked against ale-py's ROMs."""
    import ale_py

    m = re.fullmatch(r"ALE/([A-Za-z0-9]+)-v\d+", env_id)
    game = re.sub(r"(?<!^)(?=[A-Z])", "_", m.group(1)).lower() if m else ""
    if game not in ale_py.roms.get_all_rom_ids():
        raise EnvError(f"unknown Atari game {env_id!r}; use ALE/<Game>-v5 with one of ale-py's ROMs, e.g. ALE/Pong-v5")
    return game


class VecEnv:
    """The parallel envs a run steps: ale-py's AtariVectorEnv, or gymnasium's SyncVectorEnv.
    Both reset a finished env on the following step (next-step autoreset)."""

    def __init__(self, env_id: str, num_envs: int, train: bool):
        import gymnasium as gym

        self.atari = is_atari(env_id)
        if self.atari:
            from ale_py.vector_env import AtariVectorEnv

            self.env = AtariVectorEnv(atari_game(env_id), num_envs, episodic_life=train, reward_clipping=False,
                                      noop_max=30, use_fire_reset=True, frameskip=ATARI_FRAMESKIP, stack_num=4)
        else:
            register(env_id)
            self.env = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(num_envs)])
        self.num_envs = num_envs
        self.n_actions = int(self.env.single_action_space.n)
        self.obs_shape = tuple(self.env.single_observation_space.shape)
        self.frames_per_step = ATARI_FRAMESKIP if self.atari else 1

    def reset(self, seed: int):
        return self.env.reset(seed=seed)[0]

    def step(self, actions):
        obs, r, term, trunc, info = self.env.step(actions)
        # A game is over at its last life (Atari with episodic life) or at any end otherwise.
        game_over = (term & (info["lives"] == 0)) | trunc if self.atari else term | trunc
        return obs, r.astype(np.float64), term, trunc, game_over

    def close(self):
        self.env.close()

    def snapshot(self) -> bytes | None:
        """The envs' full state, where it can be pickled (gymnasium's vector env of MinAtar or
        classic-control envs: everything but the functions that made them), else None (Atari)."""
        if self.atari:
            return None
        return env_snapshot({k: v for k, v in vars(self.env).items() if k != "env_fns"})

    def restore(self, snapshot: bytes) -> None:
        """Continue from snapshot(): the same episodes, at the same step."""
        self.env.close()
        vars(self.env).update(pickle.loads(snapshot))


def build_q(cfg: DQNConfig, obs_shape: tuple, n_actions: int, seeds: int | None = None) -> torch.nn.Module:
    """The Q-network of cfg.model for the env's observations (seeds=K: K networks in one)."""
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {list(MODELS)}")
    if is_minatar(cfg.env):  # [10, 10, C] boolean grids
        if cfg.model == "dqn":
            return MinAtarQNet(obs_shape[-1], n_actions, seeds=seeds)
        return SpikingMinAtarQNet(obs_shape[-1], n_actions, time_window=cfg.time_window,
                                  popnorm=cfg.model == "pl-sdqn", backend=cfg.backend, seeds=seeds)
    if len(obs_shape) == 3:
        c, h, w = obs_shape
        if cfg.model == "dqn":
            return AtariQNet(c, h, w, n_actions, seeds=seeds)
        return SpikingDQN(c, h, w, n_actions, time_window=cfg.time_window, popnorm=cfg.model == "pl-sdqn",
                          backend=cfg.backend, seeds=seeds)
    if len(obs_shape) != 1:
        raise EnvError(f"observations of shape {obs_shape} are neither frames nor a state vector")
    if cfg.model == "dqn":
        return MLPQNet(obs_shape[0], n_actions, cfg.hidden_sizes, seeds=seeds)
    return SpikingMLPQNet(obs_shape[0], n_actions, cfg.hidden_sizes, time_window=cfg.time_window,
                          popnorm=cfg.model == "pl-sdqn", backend=cfg.backend, seeds=seeds)


@torch.no_grad()
def greedy(q: torch.nn.Module, obs: np.ndarray, device) -> np.ndarray:
    return q(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy()


def evaluate(q: torch.nn.Module, cfg: DQNConfig, episodes: int, seed: int, device, video_dir=None,
             progress: bool = False, lengths: list | None = None) -> list[float]:
    """One episode in each of `episodes` parallel test envs (no episodic life), epsilon test_eps.
    progress: a bar of finished episodes (test episodes can take minutes); lengths: a list to
    append each episode's length to, in agent steps (an episode cut at max_test_steps counts
    those)."""
    if video_dir:
        return _evaluate_video(q, cfg, episodes, seed, device, video_dir, progress, lengths)
    from tqdm import tqdm

    env = VecEnv(cfg.env, episodes, train=False)
    rng = np.random.default_rng(seed)
    obs = env.reset(seed)
    returns, finished, steps = np.zeros(episodes), np.zeros(episodes, bool), np.zeros(episodes, np.int64)
    bar = tqdm(total=episodes, disable=not progress, unit="episode", desc="evaluating", leave=False)
    for step in range(cfg.max_test_steps):
        a = greedy(q, obs, device)
        explore = rng.random(episodes) < cfg.test_eps
        a[explore] = rng.integers(0, env.n_actions, explore.sum())
        obs, r, _, trunc, game_over = env.step(a)
        returns += np.where(finished, 0.0, r)
        steps += ~finished
        newly = game_over & ~finished
        finished |= game_over
        bar.update(int(newly.sum()))
        if step % 100 == 0:
            bar.set_postfix(agent_steps=step, refresh=False)
        if finished.all():
            break
    bar.close()
    env.close()
    if lengths is not None:
        lengths.extend(steps.tolist())
    return returns.tolist()


def _evaluate_video(q, cfg, episodes, seed, device, video_dir, progress, lengths=None) -> list[float]:
    import gymnasium as gym

    from .envs import with_video

    register(cfg.env)
    if is_atari(cfg.env):
        env = gym.make(cfg.env, render_mode="rgb_array", frameskip=1, repeat_action_probability=0.0)
        env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=ATARI_FRAMESKIP, screen_size=84)
        env = gym.wrappers.FrameStackObservation(env, 4, padding_type="zero")
    else:
        env = gym.make(cfg.env, render_mode="rgb_array")
    env = with_video(env, video_dir)
    rng = np.random.default_rng(seed)

    def policy(obs):
        if rng.random() < cfg.test_eps:
            return int(rng.integers(0, env.action_space.n))
        return int(greedy(q, np.asarray(obs)[None], device)[0])
    return run_episodes(env, policy, episodes, seed, progress, lengths)


def validate(cfg: DQNConfig) -> None:
    """Every check a run makes before it writes anything (backend, model, env), with the
    trainer's own messages, and no side effects: the sweep checks a whole grid with it."""
    check(cfg)
    runtime.check_backend(cfg)
    if is_atari(cfg.env):
        atari_game(cfg.env)
    else:
        make_env(cfg.env, continuous=False).close()


class DQNTrainer(Trainer):
    """DQN for one seed or several in one process. Several seeds are one stacked Q-network
    (seeds=K) and its target, updated by one batched computation; each seed has its own envs,
    replay, random stream and optimiser state, and its checkpoint and model.pt are a single
    run's. A single run is the same code with K = 1, whose arithmetic is the single network's."""

    algo = "dqn"
    unit = "frame"
    several_seeds = True

    def __init__(self, cfg: DQNConfig, run_dir: Path, resume: bool | dict | list = False, seeds=None):
        self.begin(cfg, run_dir, seeds)
        cfg, K = self.cfg, len(self.runs)
        self.envs = [VecEnv(cfg.env, cfg.num_envs, train=True) for _ in self.runs]
        env = self.envs[0]
        self.q = build_q(cfg, env.obs_shape, env.n_actions, seeds=K)  # its weights: below
        self.rngs, singles = [], []
        for run in self.runs:  # each seed's networks as its single run makes them
            self.rngs.append(seed_everything(run.seed))
            singles.append(build_q(cfg, env.obs_shape, env.n_actions))
        self.q.load_state_dict(stack_states([q.state_dict() for q in singles]))
        self.q.to(self.device)
        self.single = singles[0].to(self.device)  # one seed's network at a time, for evaluations
        self.q_targ = copy.deepcopy(self.q).requires_grad_(False)
        if cfg.optimizer == "rmsprop":  # the MinAtar paper's settings
            self.opt = torch.optim.RMSprop(self.q.parameters(), lr=cfg.lr, alpha=0.95, eps=0.01, centered=True,
                                           foreach=True)  # one call per op for all tensors, not per tensor
        else:
            self.opt = torch.optim.AdamW(self.q.parameters(), lr=cfg.lr)
        frame_shape = env.obs_shape[1:] if env.atari else env.obs_shape
        frame_dtype = np.uint8 if env.atari else (np.bool_ if is_minatar(cfg.env) else np.float32)
        self.buffers = [FrameReplay(cfg.buffer_size, cfg.num_envs, frame_shape, frame_dtype, 4 if env.atari else 1,
                                    cfg.n_step, cfg.gamma) for _ in self.runs]
        self.env_steps, self.grad_steps = 0, 0
        self.games, self.last_return = [0] * K, [float("nan")] * K
        self.obs, self.ep_ret, self.starting = [None] * K, [None] * K, [None] * K
        for k, run in enumerate(self.runs):
            self._new_episodes(k, self.envs[k].reset(run.seed))
        if resume:
            self._load(self.resume_states(resume))
        if not self.buffer_in_checkpoint():
            print(f"dqn: the replay buffer ({self.buffers[0].nbytes / 2**20:.0f} MB) is over --buffer-checkpoint-mb "
                  f"{cfg.buffer_checkpoint_mb}: checkpoints leave it out, so a resumed run refills it from empty "
                  "(raise the bound, or pass --save-buffer, for exact resumes)", file=sys.stderr)
        # Everything is validated: only now is anything written.
        self.open_run(["step", "frames", "test_return", "test_return_std", "train_return", "games", "epsilon",
                       "frames_per_s", "time_s"], bool(resume), self.env_steps)

    def _new_episodes(self, k: int, obs) -> None:
        self.obs[k] = obs
        self.ep_ret[k] = np.zeros(self.cfg.num_envs)
        self.starting[k] = np.zeros(self.cfg.num_envs, bool)
        for s in range(self.cfg.num_envs):
            self.buffers[k].start_episode(s, obs[s])

    @property
    def frames(self) -> int:
        return self.env_steps * self.envs[0].frames_per_step

    def epsilon(self) -> float:
        cfg = self.cfg
        frac = min(1.0, self.env_steps / max(1, cfg.eps_decay_steps))
        return cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)

    # ---------------------------------------------------------------- checkpoints
    def buffer_in_checkpoint(self) -> bool:
        cfg = self.cfg
        return cfg.save_buffer or (cfg.buffer_checkpoint_mb > 0 and
                                   self.buffers[0].nbytes <= cfg.buffer_checkpoint_mb << 20)

    def _state(self, k: int) -> dict:
        """Seed k's checkpoint, exactly a single run's. With the replay buffer, also the envs and
        the episodes under way: the resumed run then continues exactly where this one stopped
        (where the envs can be pickled)."""
        exact = self.buffer_in_checkpoint()
        return dict(config=dataclasses.asdict(self.runs[k].cfg), q=unstack_state(self.q.state_dict(), k),
                    q_targ=unstack_state(self.q_targ.state_dict(), k), opt=unstack_optimizer(self.opt.state_dict(), k),
                    rng=rng_state(self.rngs[k]), env_steps=self.env_steps, grad_steps=self.grad_steps,
                    games=self.games[k], last_return=self.last_return[k], time_s=self.elapsed(),
                    buffer=self.buffers[k].state_dict() if exact else None,
                    env=self.envs[k].snapshot() if exact else None,
                    episodes=dict(obs=self.obs[k], ep_ret=self.ep_ret[k], starting=self.starting[k]) if exact else None)

    def _load(self, states: list[dict]) -> None:
        self.check_lockstep(states, "env_steps", "grad_steps")
        self.q.load_state_dict(stack_states([st["q"] for st in states]))
        self.q_targ.load_state_dict(stack_states([st["q_targ"] for st in states]))
        self.opt.load_state_dict(stack_optimizer([st["opt"] for st in states]))
        set_lr(self.opt, self.cfg.lr)  # the config's (a resume may override it), not the saved one
        self.env_steps, self.grad_steps = states[0]["env_steps"], states[0]["grad_steps"]
        self.time_s = states[0].get("time_s", 0.0)
        for k, (st, run) in enumerate(zip(states, self.runs)):
            set_rng_state(st["rng"], self.rngs[k])
            run.saved_step = self.env_steps
            self.games[k], self.last_return[k] = st["games"], st["last_return"]
            if st.get("env") is not None and st["buffer"] is not None:  # the same episodes continue
                self.envs[k].restore(st["env"])
                self.obs[k], self.ep_ret[k], self.starting[k] = (st["episodes"][n] for n in ("obs", "ep_ret", "starting"))
                self.buffers[k].load_state_dict(st["buffer"])
                continue
            # Without the envs' state (Atari) a resumed run starts new episodes.
            self._new_episodes(k, self.envs[k].reset(run.seed + self.env_steps))
            if st["buffer"] is not None:
                self.buffers[k].load_state_dict(st["buffer"])
                for s in range(self.cfg.num_envs):
                    self.buffers[k].start_episode(s, self.obs[k][s])

    # ---------------------------------------------------------------- learning
    def sample(self) -> dict:
        """Each seed's batch from its own replay with its own stream, stacked [B, K, ...]."""
        batches = [buf.sample(self.cfg.batch_size, rng, self.device) for buf, rng in zip(self.buffers, self.rngs)]
        return {name: torch.stack([b[name] for b in batches], dim=1) for name in batches[0]}

    def update(self) -> torch.Tensor:
        """One gradient step of every seed on a batch from its replay; returns the losses [K]."""
        return self.learn(self.sample())

    def learn(self, b: dict) -> torch.Tensor:
        """One gradient step of every seed on the batch b (tensors [B, K, ...])."""
        cfg = self.cfg
        with torch.no_grad():
            q_next = self.q_targ(b["next_obs"])
            if cfg.double_dqn:  # Double DQN: the online net picks, the target net values
                q2 = q_next.gather(-1, self.q(b["next_obs"]).argmax(dim=-1, keepdim=True)).squeeze(-1)
            else:
                q2 = q_next.max(dim=-1).values
            target = b["ret"] + b["discount"] * (1.0 - b["done"]) * q2
        q = self.q(b["obs"]).gather(-1, b["act"].unsqueeze(-1)).squeeze(-1)
        loss_fn = torch.nn.functional.smooth_l1_loss if cfg.loss == "huber" else torch.nn.functional.mse_loss
        # Per seed: the mean over its batch; as each seed's parameters enter only its own loss,
        # the sum gives each its single-run gradient.
        losses = loss_fn(q, target, reduction="none").mean(0)
        total = self.checked("TD loss", losses)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        self.grad_steps += 1
        if self.grad_steps % cfg.target_update == 0:
            self.q_targ.load_state_dict(self.q.state_dict())
        return losses.detach()

    @torch.no_grad()
    def act(self) -> np.ndarray:
        """Every seed's actions [num_envs, K]: greedy from one batched call, then each seed's
        epsilon-greedy draws."""
        n = self.cfg.num_envs
        obs = torch.as_tensor(np.stack(self.obs, axis=1), device=self.device)
        actions = self.q(obs).argmax(dim=-1).cpu().numpy()
        eps = self.epsilon()
        for k, rng in enumerate(self.rngs):
            explore = rng.random(n) < eps
            actions[explore, k] = rng.integers(0, self.envs[k].n_actions, explore.sum())
        return actions

    def collect(self) -> None:
        """One step of every env of every seed, stored in its replay."""
        actions = self.act()
        for k, run in self.alive():
            env, buf = self.envs[k], self.buffers[k]
            obs2, r, term, trunc, game_over = env.step(actions[:, k])
            try:
                check_observation(obs2, self.env_steps + self.cfg.num_envs, run.saved_step)
            except DivergedError as exc:
                self.diverge(k, exc)  # a single run stops here, before storing anything
                continue
            reward = np.sign(r) if env.atari else r  # Atari: clip for learning, log game scores
            for s in range(self.cfg.num_envs):
                if self.starting[k][s]:  # this step reset env s (next-step autoreset): a new episode
                    buf.start_episode(s, obs2[s])
                    continue
                buf.add(s, int(actions[s, k]), float(reward[s]), obs2[s], bool(term[s]), bool(term[s] or trunc[s]))
                self.ep_ret[k][s] += r[s]
                if game_over[s]:
                    self.games[k] += 1
                    self.last_return[k] = float(self.ep_ret[k][s])
                    run.logger.scalar("train/episode_return", self.last_return[k], self.env_steps)
                    self.ep_ret[k][s] = 0.0
            self.starting[k] = term | trunc
            self.obs[k] = obs2
        self.env_steps += self.cfg.num_envs

    def step_once(self) -> None:
        cfg = self.cfg
        self.collect()
        due = (self.env_steps - cfg.learning_starts) // cfg.train_every
        while (self.env_steps >= cfg.learning_starts and self.grad_steps < due
               and min(len(b) for b in self.buffers) >= cfg.batch_size):
            losses = self.update()
            if self.grad_steps % 100 == 0:
                values = losses.cpu().tolist()
                for k, run in self.alive():
                    run.logger.scalar("train/loss", values[k], self.env_steps)

    def postfix(self) -> dict:
        if self.env_steps < self.cfg.learning_starts:  # no gradient step yet: say so
            return dict(warm_up=f"until step {self.cfg.learning_starts}", step=self.env_steps)
        last = self.last_return[0] if len(self.runs) == 1 else mean_finite(self.last_return)
        return dict(**{"last_return" if len(self.runs) == 1 else "mean_last_return": f"{last:.1f}"},
                    eps=f"{self.epsilon():.2f}")

    def close(self) -> None:
        for env in self.envs:
            env.close()

    # ---------------------------------------------------------------- epochs
    def agent_step(self) -> int:
        return self.env_steps

    def guard_epoch(self) -> None:
        self.check_seeds_finite([self.q], self._single)

    def _single(self, k: int) -> torch.nn.Module:
        """Seed k's network as a single one (self.single, loaded with seed k's weights)."""
        self.single.load_state_dict(unstack_state(self.q.state_dict(), k))
        return self.single

    def evaluate_epoch(self, k: int = 0, progress: bool = False, lengths: list | None = None) -> list[float]:
        cfg = self.runs[k].cfg
        return evaluate(self._single(k), cfg, cfg.test_episodes, seed=cfg.seed + 7919 * (self.env_steps + 1),
                        device=self.device, progress=progress, lengths=lengths)

    def epoch_row(self, k: int, returns: list[float], rate: float) -> dict:
        return dict(step=self.env_steps, frames=self.frames, **self.test_stats(returns),
                    train_return=self.last_return[k], games=self.games[k], epsilon=self.epsilon(), frames_per_s=rate)

    def model_file(self, k: int = 0) -> dict:
        return dict(q=unstack_state(self.q.state_dict(), k), obs_shape=self.envs[0].obs_shape,
                    n_actions=self.envs[0].n_actions)


def _load_net(cfg: DQNConfig, st: dict):
    net = build_q(cfg, tuple(st["obs_shape"]), st["n_actions"])
    net.load_state_dict(st["q"])
    return net, tuple(st["obs_shape"])


def _act(net: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
    return net(obs).argmax(dim=1)


ALGORITHM = Algorithm(
    name="dqn", help="DQN with a spiking (PL-SDQN, SDQN) or ANN Q-network (Atari, MinAtar, CartPole)",
    description="The defaults shown are the Atari example's; MinAtar games and state-vector envs such as "
                "CartPole-v1 start from their own presets (see README); options given override them.",
    config_cls=DQNConfig, trainer_cls=DQNTrainer, agent_field="model", budget_field="frames",
    epoch_field="epoch_frames", column="frames", validate=validate, load_net=_load_net, act=_act,
    evaluate=evaluate, discrete=True, baseline="dqn", time_steps_field="time_window", acting=lambda net: (net, None))
run = ALGORITHM.run
config_from_dict = ALGORITHM.config_from_dict
