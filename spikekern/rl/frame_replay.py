"""Replay for DQN that stores every frame once.

Each parallel env is a stream. At an episode's start the stream receives the whole first
observation (all `stack` frames, exactly as the env returned them); after every step only
the newest frame of the next observation. A transition remembers the index of its
observation's newest frame, so its observation is frames [k-stack+1 .. k] and its next
observation frames [k-stack+2 .. k+1] of the same stream: the stacks are reproduced
exactly, with no special cases at episode boundaries, at about one frame per transition
(100k Atari transitions: ~0.75 GB of uint8 frames instead of 5.6 GB of stacked pairs).

n-step returns are formed when sampling, from the stream's following transitions: they stop
at a terminal (no bootstrap), at an episode's end by truncation, or at the newest stored
transition (bootstrapping from there with the matching discount).
"""
from __future__ import annotations

import numpy as np
import torch


class FrameReplay:
    # The arrays that are the buffer's state (a checkpoint saves them).
    _STATE = ("frames", "frames_written", "act", "rew", "term", "end", "fidx", "trans_written", "newest")

    def __init__(self, capacity: int, num_streams: int, frame_shape: tuple, frame_dtype, stack: int,
                 n_step: int, gamma: float):
        self.S, self.stack, self.n, self.gamma = num_streams, stack, n_step, gamma
        self.C = max(1, capacity // num_streams)                     # transitions per stream
        self.F = self.C + self.C // 8 + 4 * stack + 8                # frames per stream (room for episode starts)
        self.frames = np.zeros((num_streams, self.F) + tuple(frame_shape), dtype=frame_dtype)
        self.frames_written = np.zeros(num_streams, np.int64)         # monotonic frame counter
        self.act = np.zeros((num_streams, self.C), np.int64)
        self.rew = np.zeros((num_streams, self.C), np.float32)
        self.term = np.zeros((num_streams, self.C), bool)            # terminal: no bootstrap
        self.end = np.zeros((num_streams, self.C), bool)             # episode ended (terminal or truncated)
        self.fidx = np.zeros((num_streams, self.C), np.int64)        # newest frame of the observation
        self.trans_written = np.zeros(num_streams, np.int64)         # monotonic transition counter
        self.newest = np.full(num_streams, -1, np.int64)             # frame index of each stream's current obs

    @property
    def nbytes(self) -> int:
        """Memory of the full buffer (what a checkpoint holding it writes)."""
        return sum(getattr(self, k).nbytes for k in self._STATE)

    def __len__(self) -> int:
        return int(np.minimum(self.trans_written, self.C).sum())

    def _push_frame(self, s: int, frame) -> int:
        k = self.frames_written[s]
        self.frames[s, k % self.F] = frame
        self.frames_written[s] = k + 1
        return k

    def start_episode(self, s: int, obs) -> None:
        """The first observation of an episode in stream s (a stack of frames, or one frame)."""
        frames = obs if self.stack > 1 else [obs]
        for f in frames:
            k = self._push_frame(s, f)
        self.newest[s] = k

    def add(self, s: int, action: int, reward: float, next_obs, terminal: bool, ended: bool) -> None:
        """One step of stream s from its current observation; next_obs is what the step returned."""
        j = self.trans_written[s] % self.C
        self.act[s, j], self.rew[s, j], self.term[s, j], self.end[s, j] = action, reward, terminal, ended
        self.fidx[s, j] = self.newest[s]
        self.trans_written[s] += 1
        self.newest[s] = self._push_frame(s, next_obs[-1] if self.stack > 1 else next_obs)

    def _valid(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Transition t (monotonic) of stream s still stored with all its frames."""
        stored = (t < self.trans_written[s]) & (t >= self.trans_written[s] - self.C)
        oldest_frame = self.fidx[s, t % self.C] - (self.stack - 1)
        return stored & (oldest_frame >= self.frames_written[s] - self.F)

    def _stack(self, s: np.ndarray, newest: np.ndarray) -> np.ndarray:
        k = newest[:, None] - np.arange(self.stack - 1, -1, -1)[None, :]   # [B, stack]
        out = self.frames[s[:, None], k % self.F]
        return out if self.stack > 1 else out[:, 0]

    def sample(self, batch_size: int, rng: np.random.Generator, device="cpu") -> dict:
        counts = np.minimum(self.trans_written, self.C)
        s = rng.choice(self.S, size=batch_size, p=counts / counts.sum())
        t = self.trans_written[s] - 1 - rng.integers(0, counts[s])
        bad = ~self._valid(s, t)
        while bad.any():  # the oldest few may have lost frames to new episode starts: redraw
            t[bad] = self.trans_written[s[bad]] - 1 - rng.integers(0, counts[s[bad]])
            bad = ~self._valid(s, t)
        ret = np.zeros(batch_size, np.float32)
        discount = np.ones(batch_size, np.float32)
        done = np.zeros(batch_size, np.float32)
        last = t.copy()
        active = np.ones(batch_size, bool)
        for i in range(self.n):
            ti = t + i
            ok = active & (ti < self.trans_written[s])
            j = ti % self.C
            ret[ok] += discount[ok] * self.rew[s[ok], j[ok]]
            discount[ok] *= self.gamma
            last[ok] = ti[ok]
            done[ok] = np.maximum(done[ok], self.term[s[ok], j[ok]])
            active = ok & ~self.end[s, j]
        obs = self._stack(s, self.fidx[s, t % self.C])
        next_obs = self._stack(s, self.fidx[s, last % self.C] + 1)
        as_t = lambda a: torch.as_tensor(a, device=device)
        return dict(obs=as_t(obs), act=as_t(self.act[s, t % self.C]), ret=as_t(ret), discount=as_t(discount),
                    done=as_t(done), next_obs=as_t(next_obs))

    def state_dict(self) -> dict:
        return {k: getattr(self, k).copy() for k in self._STATE}

    def load_state_dict(self, st: dict) -> None:
        for k, v in st.items():
            getattr(self, k)[...] = v
