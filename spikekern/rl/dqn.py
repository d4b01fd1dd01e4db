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
from .algorithms import Algorithm
from .checkpoint import (env_snapshot, load_checkpoint, rng_state, save_checkpoint, seed_everything, set_lr,
                         set_rng_state)
from .envs import EnvError, is_minatar, make_env, register, run_episodes
from .frame_replay import FrameReplay
from .guards import check_loss, check_observation
from .loop import Trainer
from .options import check, option
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


def build_q(cfg: DQNConfig, obs_shape: tuple, n_actions: int) -> torch.nn.Module:
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {list(MODELS)}")
    if is_minatar(cfg.env):  # [10, 10, C] boolean grids
        if cfg.model == "dqn":
            return MinAtarQNet(obs_shape[-1], n_actions)
        return SpikingMinAtarQNet(obs_shape[-1], n_actions, time_window=cfg.time_window,
                                  popnorm=cfg.model == "pl-sdqn", backend=cfg.backend)
    if len(obs_shape) == 3:
        c, h, w = obs_shape
        if cfg.model == "dqn":
            return AtariQNet(c, h, w, n_actions)
        return SpikingDQN(c, h, w, n_actions, time_window=cfg.time_window, popnorm=cfg.model == "pl-sdqn",
                          backend=cfg.backend)
    if len(obs_shape) != 1:
        raise EnvError(f"observations of shape {obs_shape} are neither frames nor a state vector")
    if cfg.model == "dqn":
        return MLPQNet(obs_shape[0], n_actions, cfg.hidden_sizes)
    return SpikingMLPQNet(obs_shape[0], n_actions, cfg.hidden_sizes, time_window=cfg.time_window,
                          popnorm=cfg.model == "pl-sdqn", backend=cfg.backend)


@torch.no_grad()
def greedy(q: torch.nn.Module, obs: np.ndarray, device) -> np.ndarray:
    return q(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy()


def evaluate(q: torch.nn.Module, cfg: DQNConfig, episodes: int, seed: int, device, video_dir=None,
             progress: bool = False) -> list[float]:
    """One episode in each of `episodes` parallel test envs (no episodic life), epsilon test_eps.
    progress: a bar of finished episodes (test episodes can take minutes)."""
    if video_dir:
        return _evaluate_video(q, cfg, episodes, seed, device, video_dir, progress)
    from tqdm import tqdm

    env = VecEnv(cfg.env, episodes, train=False)
    rng = np.random.default_rng(seed)
    obs = env.reset(seed)
    returns, finished = np.zeros(episodes), np.zeros(episodes, bool)
    bar = tqdm(total=episodes, disable=not progress, unit="episode", desc="evaluating", leave=False)
    for step in range(cfg.max_test_steps):
        a = greedy(q, obs, device)
        explore = rng.random(episodes) < cfg.test_eps
        a[explore] = rng.integers(0, env.n_actions, explore.sum())
        obs, r, _, trunc, game_over = env.step(a)
        returns += np.where(finished, 0.0, r)
        newly = game_over & ~finished
        finished |= game_over
        bar.update(int(newly.sum()))
        if step % 100 == 0:
            bar.set_postfix(agent_steps=step, refresh=False)
        if finished.all():
            break
    bar.close()
    env.close()
    return returns.tolist()


def _evaluate_video(q, cfg, episodes, seed, device, video_dir, progress) -> list[float]:
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
    return run_episodes(env, policy, episodes, seed, progress)


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
    algo = "dqn"
    unit = "frame"

    def __init__(self, cfg: DQNConfig, run_dir: Path, resume: bool | dict = False, seeds=None):
        self.begin(cfg, run_dir, seeds)
        self.env = VecEnv(cfg.env, cfg.num_envs, train=True)
        self.rng = seed_everything(cfg.seed)
        self.q = build_q(cfg, self.env.obs_shape, self.env.n_actions).to(self.device)
        self.q_targ = copy.deepcopy(self.q).requires_grad_(False)
        if cfg.optimizer == "rmsprop":  # the MinAtar paper's settings
            self.opt = torch.optim.RMSprop(self.q.parameters(), lr=cfg.lr, alpha=0.95, eps=0.01, centered=True,
                                           foreach=True)  # one call per op for all tensors, not per tensor
        else:
            self.opt = torch.optim.AdamW(self.q.parameters(), lr=cfg.lr)
        frame_shape = self.env.obs_shape[1:] if self.env.atari else self.env.obs_shape
        frame_dtype = np.uint8 if self.env.atari else (np.bool_ if is_minatar(cfg.env) else np.float32)
        self.buffer = FrameReplay(cfg.buffer_size, cfg.num_envs, frame_shape, frame_dtype,
                                  4 if self.env.atari else 1, cfg.n_step, cfg.gamma)
        self.env_steps, self.grad_steps, self.games, self.last_return = 0, 0, 0, float("nan")
        self._new_episodes(self.env.reset(cfg.seed))
        if resume:
            self._load(resume if isinstance(resume, dict) else load_checkpoint(self.run_dir))
        if not self.buffer_in_checkpoint():
            print(f"dqn: the replay buffer ({self.buffer.nbytes / 2**20:.0f} MB) is over --buffer-checkpoint-mb "
                  f"{cfg.buffer_checkpoint_mb}: checkpoints leave it out, so a resumed run refills it from empty "
                  "(raise the bound, or pass --save-buffer, for exact resumes)", file=sys.stderr)
        # Everything is validated: only now is anything written.
        self.open_run(["step", "frames", "test_return", "test_return_std", "train_return", "games", "epsilon",
                       "frames_per_s", "time_s"], bool(resume), self.env_steps)

    def _new_episodes(self, obs) -> None:
        self.obs = obs
        self.ep_ret = np.zeros(self.cfg.num_envs)
        self.starting = np.zeros(self.cfg.num_envs, bool)
        for s in range(self.cfg.num_envs):
            self.buffer.start_episode(s, obs[s])

    @property
    def frames(self) -> int:
        return self.env_steps * self.env.frames_per_step

    def epsilon(self) -> float:
        cfg = self.cfg
        frac = min(1.0, self.env_steps / max(1, cfg.eps_decay_steps))
        return cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)

    # ---------------------------------------------------------------- checkpoints
    def buffer_in_checkpoint(self) -> bool:
        cfg = self.cfg
        return cfg.save_buffer or (cfg.buffer_checkpoint_mb > 0 and self.buffer.nbytes <= cfg.buffer_checkpoint_mb << 20)

    def save(self) -> None:
        # With the replay buffer, also the envs and the episodes under way: the resumed run
        # then continues exactly where this one stopped (where the envs can be pickled).
        exact = self.buffer_in_checkpoint()
        st = dict(config=dataclasses.asdict(self.cfg), q=self.q.state_dict(), q_targ=self.q_targ.state_dict(),
                  opt=self.opt.state_dict(), rng=rng_state(self.rng), env_steps=self.env_steps,
                  grad_steps=self.grad_steps, games=self.games, last_return=self.last_return,
                  time_s=self.elapsed(), buffer=self.buffer.state_dict() if exact else None,
                  env=self.env.snapshot() if exact else None,
                  episodes=dict(obs=self.obs, ep_ret=self.ep_ret, starting=self.starting) if exact else None)
        save_checkpoint(st, self.run_dir)
        self.saved_step = self.env_steps

    def _load(self, st: dict) -> None:
        self.q.load_state_dict(st["q"])
        self.q_targ.load_state_dict(st["q_targ"])
        self.opt.load_state_dict(st["opt"])
        set_lr(self.opt, self.cfg.lr)  # the config's (a resume may override it), not the saved one
        set_rng_state(st["rng"], self.rng)
        self.env_steps, self.grad_steps = st["env_steps"], st["grad_steps"]
        self.saved_step = self.env_steps
        self.games, self.last_return = st["games"], st["last_return"]
        self.time_s = st.get("time_s", 0.0)
        if st.get("env") is not None and st["buffer"] is not None:  # the same episodes continue
            self.env.restore(st["env"])
            self.obs, self.ep_ret, self.starting = (st["episodes"][k] for k in ("obs", "ep_ret", "starting"))
            self.buffer.load_state_dict(st["buffer"])
            return
        # Without the envs' state (Atari) a resumed run starts new episodes.
        self._new_episodes(self.env.reset(self.cfg.seed + self.env_steps))
        if st["buffer"] is not None:
            self.buffer.load_state_dict(st["buffer"])
            for s in range(self.cfg.num_envs):
                self.buffer.start_episode(s, self.obs[s])

    # ---------------------------------------------------------------- learning
    def update(self) -> float:
        cfg = self.cfg
        b = self.buffer.sample(cfg.batch_size, self.rng, self.device)
        with torch.no_grad():
            q_next = self.q_targ(b["next_obs"])
            if cfg.double_dqn:  # Double DQN: the online net picks, the target net values
                q2 = q_next.gather(1, self.q(b["next_obs"]).argmax(dim=1, keepdim=True)).squeeze(1)
            else:
                q2 = q_next.max(dim=1).values
            target = b["ret"] + b["discount"] * (1.0 - b["done"]) * q2
        q = self.q(b["obs"]).gather(1, b["act"].unsqueeze(1)).squeeze(1)
        if cfg.loss == "huber":
            loss = torch.nn.functional.smooth_l1_loss(q, target)
        else:
            loss = torch.nn.functional.mse_loss(q, target)
        value = loss.item()
        check_loss("TD loss", value, self.env_steps, self.saved_step)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.grad_steps += 1
        if self.grad_steps % cfg.target_update == 0:
            self.q_targ.load_state_dict(self.q.state_dict())
        return value

    def act(self) -> np.ndarray:
        n = self.cfg.num_envs
        actions = greedy(self.q, self.obs, self.device)
        explore = self.rng.random(n) < self.epsilon()
        actions[explore] = self.rng.integers(0, self.env.n_actions, explore.sum())
        return actions

    def collect(self) -> None:
        """One step of every env, stored in the replay."""
        actions = self.act()
        obs2, r, term, trunc, game_over = self.env.step(actions)
        check_observation(obs2, self.env_steps + self.cfg.num_envs, self.saved_step)
        reward = np.sign(r) if self.env.atari else r  # Atari: clip for learning, log game scores
        for s in range(self.cfg.num_envs):
            if self.starting[s]:  # this step reset env s (next-step autoreset): a new episode
                self.buffer.start_episode(s, obs2[s])
                continue
            self.buffer.add(s, int(actions[s]), float(reward[s]), obs2[s], bool(term[s]), bool(term[s] or trunc[s]))
            self.ep_ret[s] += r[s]
            if game_over[s]:
                self.games += 1
                self.last_return = float(self.ep_ret[s])
                self.logger.scalar("train/episode_return", self.last_return, self.env_steps)
                self.ep_ret[s] = 0.0
        self.starting = term | trunc
        self.obs = obs2
        self.env_steps += self.cfg.num_envs

    def step_once(self) -> None:
        cfg = self.cfg
        self.collect()
        due = (self.env_steps - cfg.learning_starts) // cfg.train_every
        while self.env_steps >= cfg.learning_starts and self.grad_steps < due and len(self.buffer) >= cfg.batch_size:
            loss = self.update()
            if self.grad_steps % 100 == 0:
                self.logger.scalar("train/loss", loss, self.env_steps)

    def postfix(self) -> dict:
        if self.env_steps < self.cfg.learning_starts:  # no gradient step yet: say so
            return dict(warm_up=f"until step {self.cfg.learning_starts}", step=self.env_steps)
        return dict(last_return=f"{self.last_return:.1f}", eps=f"{self.epsilon():.2f}")

    def close(self) -> None:
        self.env.close()

    # ---------------------------------------------------------------- epochs
    def agent_step(self) -> int:
        return self.env_steps

    def guarded(self) -> torch.nn.Module:
        return self.q

    def evaluate_epoch(self, k: int = 0, progress: bool = False) -> list[float]:
        cfg = self.cfg
        return evaluate(self.q, cfg, cfg.test_episodes, seed=cfg.seed + 7919 * (self.env_steps + 1), device=self.device,
                        progress=progress)

    def epoch_row(self, k: int, returns: list[float], rate: float) -> dict:
        return dict(step=self.env_steps, frames=self.frames, **self.test_stats(returns), train_return=self.last_return,
                    games=self.games, epsilon=self.epsilon(), frames_per_s=rate)

    def model_file(self, k: int = 0) -> dict:
        return dict(q=self.q.state_dict(), obs_shape=self.env.obs_shape, n_actions=self.env.n_actions)


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
    evaluate=evaluate, discrete=True, baseline="dqn")
run = ALGORITHM.run
config_from_dict = ALGORITHM.config_from_dict
