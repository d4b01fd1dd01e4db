"""The command line and Python API as users meet them: every bad input is one line and exit 2
with nothing written, every option has help, trained agents load safely and act, TensorBoard
keeps the evaluation at a resume step, README install lines build against the installed torch."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium", reason="the [rl] extra is not installed")

from spikekern import cli  # noqa: E402
from spikekern.rl import dqn, load_agent, td3  # noqa: E402
from spikekern.rl.options import check  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY_TD3 = ["--steps", "200", "--start-steps", "50", "--update-after", "50", "--epoch-steps", "100",
            "--test-episodes", "1", "--hidden-sizes", "16", "16", "--batch-size", "16", "--replay-size", "500",
            "--max-ep-len", "50", "--threads", "1", "--no-progress"]
TINY_DQN = ["--env", "CartPole-v1", "--frames", "200", "--learning-starts", "50", "--epoch-frames", "100",
            "--test-episodes", "1", "--hidden-sizes", "16", "--batch-size", "8", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def td3_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("td3") / "run"
    assert cli.main(["train", "td3", *TINY_TD3, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn") / "run"
    assert cli.main(["train", "dqn", *TINY_DQN, "--out", str(out)]) == 0
    return out


def one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


@pytest.mark.parametrize("algo,argv,message", [
    ("td3", ["--steps", "-5"], "--steps must be at least 1, got -5"),
    ("td3", ["--steps", "0"], "--steps must be at least 1, got 0"),
    ("td3", ["--epoch-steps", "0"], "--epoch-steps must be at least 1"),
    ("td3", ["--batch-size", "0"], "--batch-size must be at least 1"),
    ("td3", ["--gamma", "1.5"], "--gamma must be between 0 and 1"),
    ("td3", ["--actor-lr", "nan"], "--actor-lr must be above 0"),
    ("td3", ["--hidden-sizes", "64", "0"], "--hidden-sizes must be at least 1"),
    ("td3", ["--mean-range", "3", "-3"], "--mean-range must be two numbers LOW HIGH with LOW < HIGH"),
    ("td3", ["--decode", "last"], "unknown decode 'last'; choose one of ['last-mem', 'max-mem', 'max-abs-mem', "
                                  "'mean-mem', 'fr-mlp']"),
    ("td3", ["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "tpu"], "--device"),
    ("dqn", ["--frames", "-5"], "--frames must be at least 1, got -5"),
    ("dqn", ["--eps-end", "2"], "--eps-end must be between 0 and 1"),
    ("dqn", ["--optimizer", "sgd"], "unknown optimizer 'sgd'; choose one of ['adamw', 'rmsprop']"),
])
def test_bad_options_one_line_nothing_written(tmp_path, capsys, algo, argv, message):
    out = tmp_path / "run"
    one_line_error(capsys, cli.main(["train", algo, "--out", str(out), *argv]), message)
    assert not out.exists()


def test_sweep_checks_the_same_ranges(tmp_path, capsys):
    out = tmp_path / "sweep"
    one_line_error(capsys, cli.main(["sweep", "td3", "--steps", "-5", "--out", str(out)]), "--steps must be at least 1")
    assert not out.exists()


def test_eval_activity_of_a_spiking_q_network(dqn_run, capsys):
    # DQN's progress.csv has a firing-rate column per spiking layer of its Q-network (and no
    # action statistics: its actions are discrete); eval --activity prints the same layers.
    import csv

    with open(dqn_run / "progress.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    layers = [k.removeprefix("rate/") for k in last if k.startswith("rate/")]
    assert layers and "action_std" not in last and all(0 <= float(last["rate/" + k]) <= 1 for k in layers)
    assert cli.main(["eval", str(dqn_run), "--episodes", "1", "--activity", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert all(k in out for k in layers) and "actions:" not in out, out


def test_eval_episodes_zero_and_seed(td3_run, capsys):
    one_line_error(capsys, cli.main(["eval", str(td3_run), "--episodes", "0"]), "--episodes must be at least 1")
    one_line_error(capsys, cli.main(["eval", str(td3_run), "--seed", "-1"]), "--seed must be at least 0")


def test_resume_a_run_of_the_other_algorithm(dqn_run, capsys):
    one_line_error(capsys, cli.main(["train", "td3", "--resume", str(dqn_run)]),
                   f"holds a dqn run; continue it with `spikekern train dqn --resume {dqn_run}`")


def test_eval_of_a_folder_that_is_no_run(tmp_path, capsys):
    one_line_error(capsys, cli.main(["eval", str(tmp_path)]), "is not a run directory (no config.json)")


def test_every_option_has_help_and_choices_are_shown(capsys):
    for algo in ("td3", "dqn"):
        with pytest.raises(SystemExit):
            cli.main(["train", algo, "--help"])
        text = capsys.readouterr().out
        cls = td3.TD3Config if algo == "td3" else dqn.DQNConfig
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{algo} --{f.name} has no help sentence"
            for choice in f.metadata.get("choices") or ():
                assert choice in text, f"{algo} --help does not show {choice!r}"
        assert "(default: )" not in text
    assert "fr-mlp" in td3.TD3Config.__dataclass_fields__["decode"].metadata["choices"]


def test_flag_booleans_need_no_value(tmp_path):
    args = cli.build_parser().parse_args(["train", "dqn", "--save-buffer", "--double-dqn", "false"])
    assert args.save_buffer is True and args.double_dqn is False


def test_check_accepts_the_defaults():
    for cfg in (td3.TD3Config(), dqn.DQNConfig(), dqn.DQNConfig.preset("CartPole-v1"),
                dqn.DQNConfig.preset("MinAtar/Breakout-v1")):
        check(cfg)


def test_final_line_says_frames_and_agent_steps(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "dqn", "--env", "ALE/Pong-v5", "--frames", "80", "--num-envs", "2",
                     "--learning-starts", "10", "--epoch-frames", "80", "--test-episodes", "1",
                     "--max-test-steps", "5", "--time-window", "2", "--threads", "1", "--no-progress",
                     "--out", str(out)]) == 0
    assert "(80 frames = 20 agent steps)" in capsys.readouterr().out


def test_load_agent_td3_acts_on_numpy_and_torch(td3_run):
    policy = load_agent(td3_run)
    obs = np.array([0.1, -0.2, 0.3], np.float32)
    a = policy.act(obs)
    assert isinstance(a, np.ndarray) and a.shape == (1,) and abs(a[0]) <= 2.0
    batch = torch.tensor(np.stack([obs, -obs]))
    b = policy.act(batch)
    assert isinstance(b, torch.Tensor) and b.shape == (2, 1)
    torch.testing.assert_close(b[0], torch.as_tensor(a))
    with pytest.raises(ValueError, match=r"expected observations of shape \(3,\)"):
        policy.act(np.zeros(4))
    assert len(policy.evaluate(2, seed=0)) == 2


def test_load_agent_dqn_greedy_actions(dqn_run):
    policy = load_agent(dqn_run)
    obs = np.array([0.01, 0.2, -0.03, 0.1], np.float32)
    a = policy.act(obs)
    q = policy.net(torch.as_tensor(obs)[None])
    assert isinstance(a, int) and a == int(q.argmax())
    assert policy.act(np.stack([obs, obs])).shape == (2,)


def test_load_agent_uses_the_runs_backend_explicitly(td3_run):
    import spikekern

    before = spikekern.get_backend()
    policy = load_agent(td3_run, backend="reference")
    assert {m.backend for m in policy.net.actor.modules() if hasattr(m, "backend")} == {"reference"}
    assert spikekern.get_backend() == before  # loading changes no process-wide default


def test_eval_video_td3_and_dqn(td3_run, dqn_run, tmp_path, capsys, monkeypatch):
    import importlib.util

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    have = importlib.util.find_spec("moviepy") is not None and importlib.util.find_spec("pygame") is not None
    for run in (td3_run, dqn_run):
        video = tmp_path / run.parent.name
        code = cli.main(["eval", str(run), "--episodes", "1", "--video", str(video), "--no-progress"])
        if have:
            assert code == 0 and len(list(video.glob("*.mp4"))) == 1
        else:
            one_line_error(capsys, code, "--video")


def test_eval_video_says_why_an_env_cannot_render(dqn_run, tmp_path, capsys, monkeypatch):
    import gymnasium as gym

    def no_pygame(self, *a, **k):
        raise gym.error.DependencyNotInstalled("pygame is not installed, run `pip install pygame`")

    monkeypatch.setattr(gym.envs.classic_control.CartPoleEnv, "render", no_pygame)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())  # as if moviepy were there
    one_line_error(capsys, cli.main(["eval", str(dqn_run), "--episodes", "1", "--video", str(tmp_path / "v")]),
                   "--video: CartPole-v1 cannot render here: pygame is not installed")


def test_tensorboard_keeps_the_evaluation_at_the_resume_step(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert cli.main(["train", "td3", *TINY_TD3, "--out", str(out)]) == 0
    assert cli.main(["train", "td3", "--resume", str(out), "--steps", "300", "--no-progress"]) == 0
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("eval/test_return")] == [100, 200, 300]


def test_readme_and_docs_install_lines_build_against_the_installed_torch():
    # Without --no-build-isolation pip builds the extension against a freshly downloaded
    # (CUDA) torch, not the installed one.
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    lines = [(f.name, line) for f in files for line in f.read_text().splitlines()
             if re.search(r"pip install[^\n]*(-e\s+\.|\-e\s+[\"']\.\[|\s\.\[|\s\.$|\s\.\s)", line)]
    assert lines, "the README shows how to install this package"
    for name, line in lines:
        assert "--no-build-isolation" in line, f"{name}: {line.strip()}"


def test_seq_to_ann_equals_a_loop_over_time():
    from spikekern.nn import SeqToANN

    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(2, 5, 3), torch.nn.BatchNorm2d(5).eval()
    bn.running_mean.uniform_(-1, 1)
    x = torch.randn(4, 3, 2, 9, 9)
    got = SeqToANN(conv, bn)(x)
    want = torch.stack([bn(conv(x[t])) for t in range(4)])
    assert got.shape == (4, 3, 5, 7, 7)
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match=r"multi-step input \[T, B, ...\]"):
        SeqToANN(conv)(torch.randn(5))


def test_reset_clears_every_stateful_neuron():
    from spikekern.nn import LIF, SeqToANN, reset

    torch.manual_seed(0)
    net = torch.nn.Sequential(SeqToANN(torch.nn.Linear(6, 8)), LIF(stateful=True, backend="reference"),
                              SeqToANN(torch.nn.Linear(8, 4)), LIF(stateful=True, backend="reference"))
    with torch.no_grad():
        for layer in (net[0].module, net[2].module):
            layer.weight.mul_(4.0)  # both layers fire
    x = torch.randn(5, 2, 6) * 3
    first = torch.cat([net[:2](x), net(x)], -1)   # spikes of both LIF layers, fresh state
    second = torch.cat([net[:2](x), net(x)], -1)  # carries the potentials of the calls before
    assert first.any() and not torch.equal(first, second)
    assert reset(net) == 2 and all(m.v is None for m in net if isinstance(m, LIF))
    assert torch.equal(torch.cat([net[:2](x), net(x)], -1), first)
