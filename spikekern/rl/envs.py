"""Environment construction with one clear error for each kind of bad request."""
from __future__ import annotations


class EnvError(ValueError):
    """An environment that cannot be used for the requested algorithm."""


def is_minatar(env_id: str) -> bool:
    return env_id.startswith("MinAtar/")


def register(env_id: str) -> None:
    """Make the envs of the package behind env_id known to gymnasium (ale-py's Atari games,
    minatar's games), with one clear error when that package is missing."""
    import gymnasium as gym

    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
    elif is_minatar(env_id) and "MinAtar/Breakout-v1" not in gym.registry:
        try:
            from minatar.gym import register_envs
        except ImportError:
            raise EnvError(f"{env_id} needs the minatar package: pip install -e '.[rl]' --no-build-isolation "
                           "(or pip install minatar)") from None
        register_envs()


def make_env(env_id: str, *, continuous: bool, max_episode_steps: int | None = None, **kwargs):
    """gymnasium.make with episode statistics; checks the action space kind."""
    import gymnasium as gym

    register(env_id)
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise EnvError(f"unknown environment {env_id!r} ({exc})") from None
    limit = spec.max_episode_steps
    if max_episode_steps is not None:
        limit = min(limit, max_episode_steps) if limit else max_episode_steps
    try:
        env = gym.make(env_id, max_episode_steps=limit, **kwargs)
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        raise EnvError(f"environment {env_id!r} needs a package that is not installed: {exc} "
                       "(MuJoCo tasks: pip install 'gymnasium[mujoco]')") from None
    box = isinstance(env.action_space, gym.spaces.Box)
    if continuous and not box:
        env.close()
        raise EnvError(f"{env_id} has a {type(env.action_space).__name__} action space; TD3 needs continuous (Box) actions")
    if not continuous and not isinstance(env.action_space, gym.spaces.Discrete):
        env.close()
        raise EnvError(f"{env_id} has a {type(env.action_space).__name__} action space; DQN needs discrete actions")
    return gym.wrappers.RecordEpisodeStatistics(env)


def with_video(env, video_dir):
    """env recording every episode as mp4 into video_dir (gymnasium's RecordVideo), or one
    clear error saying what is missing: moviepy, or the env's own rendering (classic-control
    envs draw with pygame). env must have been made with render_mode="rgb_array"."""
    import importlib.util

    import gymnasium as gym

    if importlib.util.find_spec("moviepy") is None:
        env.close()
        raise RuntimeError("--video writes mp4 files through gymnasium's RecordVideo, which needs moviepy "
                           "(pip install moviepy)")
    try:
        env.reset(seed=0)
        frame = env.render()
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        env.close()
        raise RuntimeError(f"--video: {env.spec.id if env.spec else 'this env'} cannot render here: {exc}") from None
    if frame is None:
        env.close()
        raise RuntimeError("--video: this env renders no rgb frames")
    return gym.wrappers.RecordVideo(env, str(video_dir), episode_trigger=lambda e: True, disable_logger=True)


def run_episodes(env, policy, episodes: int, seed: int, progress: bool = False,
                 lengths: list | None = None) -> list[float]:
    """Undiscounted return of `episodes` episodes of a single env under policy(obs) -> action
    (episode i starts from reset(seed=seed + i)); closes the env. progress: a bar of episodes;
    lengths: a list to append each episode's length (env steps) to."""
    from tqdm import tqdm

    returns = []
    bar = tqdm(total=episodes, disable=not progress, unit="episode", desc="evaluating", leave=False)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, total, n = False, 0.0, 0
        while not done:
            obs, r, term, trunc, _ = env.step(policy(obs))
            total, n = total + float(r), n + 1
            done = term or trunc
        returns.append(total)
        if lengths is not None:
            lengths.append(n)
        bar.update(1)
        bar.set_postfix(last_return=f"{total:.1f}")
    bar.close()
    env.close()
    return returns
