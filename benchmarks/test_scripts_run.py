"""The benchmark scripts that drive the trainers still run against the trainers as they are
(CI runs this file with the rest of benchmarks/): each measurement once, at a size that
takes seconds, with the checks of the numbers a timing run prints."""
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch


def _script(name: str):
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("agent", ["ilc-san", "popsan-clif"])
def test_train_throughput_td3(agent):
    rate = _script("train_throughput").td3_steps_per_s("cpp", "Pendulum-v1", 520, agent)
    assert math.isfinite(rate) and rate > 0


def test_train_throughput_minatar():
    pytest.importorskip("minatar", reason="MinAtar is not installed")
    rate = _script("train_throughput").dqn_frames_per_s("cpp", "MinAtar/Breakout-v1", 5)
    assert math.isfinite(rate) and rate > 0


@pytest.mark.parametrize("agent", ["ann", "ilc-san+proxy"])
def test_td3_update(agent):
    ms = _script("td3_update").update_ms("Pendulum-v1", agent, 1, 2)
    assert math.isfinite(ms) and ms > 0


def test_td3_update_breakdown_sees_spike_linear_only_where_the_model_uses_it():
    bench = _script("td3_update")
    spiking = bench.breakdown("Pendulum-v1", "ilc-san", 1, 2)
    dense = bench.breakdown("Pendulum-v1", "ilc-san:dense", 1, 2)
    assert spiking["ms_per_update"]["spike_linear"] > 0 and spiking["ms_per_update"]["neurons"] > 0
    assert "spike_linear" not in dense["ms_per_update"] and dense["ms_per_update"]["neurons"] > 0
    assert spiking["op_calls_per_update"] > 100


def test_spike_linear_models_compares_with_dense_layers_in_one_run(tmp_path):
    out = tmp_path / "models.json"
    assert _script("spike_linear_models").main(["--compare-dense", "--updates", "2", "--steps", "5", "--kinds",
                                                 "td3:Pendulum-v1", "--out", str(out)]) == 0
    import json

    res = json.loads(out.read_text())["results"]["td3:Pendulum-v1"]
    for variant in ("spike_linear", "dense"):
        (r,) = res["rounds"][variant]
        assert r["update_ms"] > 0 and r["env_steps_per_s"] > 0 and r["actor_update_saved_bytes"] > 0
    # the dense layers keep their float input for the backward, spike_linear its bits
    assert res["rounds"]["dense"][0]["actor_update_saved_bytes"] > res["rounds"]["spike_linear"][0]["actor_update_saved_bytes"]
    assert math.isfinite(res["update_speedup"])


def test_neuron_step_cost_builds_and_prints_every_step(tmp_path):
    """neuron_step_cost.cpp compiles as its header says (with warnings as errors) and prints a
    positive, finite time for each of its six steps."""
    import re
    import shutil
    import subprocess

    if shutil.which("g++") is None:
        pytest.skip("no g++ on this machine")
    root = Path(__file__).resolve().parent.parent
    exe = tmp_path / "neuron_step_cost"
    subprocess.run(["g++", "-O3", "-march=x86-64-v3", "-ffp-contract=off", "-fno-trapping-math", "-DSK_ISA_FMA=1",
                    "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{root / 'csrc'}",
                    str(root / "benchmarks" / "neuron_step_cost.cpp"), "-o", str(exe)], check=True)
    with open("/proc/cpuinfo") as f:
        if " avx2 " not in f.read():
            pytest.skip("compiled; this CPU cannot run an x86-64-v3 program")
    out = subprocess.run([str(exe), "200"], capture_output=True, text=True, check=True).stdout
    times = [float(t) for t in re.findall(r"([\d.]+) ns per neuron-step", out)]
    assert len(times) == 6 and all(math.isfinite(t) and t > 0 for t in times), out
    assert subprocess.run([str(exe), "0"], capture_output=True).returncode == 2


def test_grid_activity_tabulates_every_saved_agent(tmp_path):
    from spikekern.rl import td3

    for actor in ("ann", "popsan"):
        td3.run(td3.TD3Config(actor=actor, steps=100, start_steps=50, update_after=50, update_every=50,
                              epoch_steps=100, test_episodes=1, hidden_sizes=(16, 16), batch_size=16,
                              replay_size=500, max_ep_len=30, threads=1), tmp_path / "sweep" / actor / "seed0",
                progress=False)
    # --initial's agent is the one the trainer started from
    from spikekern.rl import load_agent

    run = tmp_path / "sweep" / "popsan" / "seed0"
    cfg = json.loads((run / "config.json").read_text())
    cfg.pop("algo")
    start = td3.TD3Trainer(td3.config_from_dict(cfg), tmp_path / "again")
    fresh = _script("grid_activity").initial(load_agent(run)).net.actor.state_dict()
    assert fresh.keys() == start.single.actor.state_dict().keys()
    assert all(torch.equal(v, start.single.actor.state_dict()[k]) for k, v in fresh.items())
    start.close()
    out = tmp_path / "activity.md"
    assert _script("grid_activity").main([str(tmp_path / "sweep"), "--episodes", "2", "--initial",
                                          "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 6 and "hidden_neurons.0" in lines[0]
    assert "| popsan | 0 | initial |" in lines[4] and "| popsan | 0 | step 100 |" in lines[5]
    ann = lines[3].split("|")
    assert ann[2].strip() == "ann" and ann[4].strip() == "step 100" and ann[6].strip() == ""
    assert ann[-2].strip().endswith("%")


class _Walker:
    """A stand-in locomotion env: moves 0.5 along x per step, forward reward 2 per step, ends
    after 4 steps."""

    def reset(self, seed=None):
        self.t, self.x = 0, 1.0
        return np.zeros(3), {"x_position": self.x}

    def step(self, action):
        self.t, self.x = self.t + 1, self.x + 0.5
        return np.zeros(3), 3.0, self.t == 4, False, {"x_position": self.x, "reward_forward": 2.0}


def test_grid_gait_counts_length_forward_reward_and_distance(tmp_path):
    gait = _script("grid_gait")
    assert gait.episode(_Walker(), lambda obs: 0.0, seed=0) == dict(length=4, test_return=12.0, forward=8.0, dx=2.0)

    from spikekern.rl import td3

    td3.run(td3.TD3Config(actor="ann", steps=100, start_steps=50, update_after=50, update_every=50, epoch_steps=100,
                          test_episodes=1, hidden_sizes=(16, 16), batch_size=16, replay_size=500, max_ep_len=30,
                          threads=1), tmp_path / "sweep" / "ann" / "seed0", progress=False)
    out, js = tmp_path / "gait.md", tmp_path / "gait.json"
    assert gait.main([str(tmp_path / "sweep"), "--episodes", "2", "--out", str(out), "--json", str(js)]) == 0
    row, = json.loads(js.read_text())
    # Pendulum never ends early and reports no position: 30 steps, no forward reward or distance
    assert (row["agent"], row["length"], row["forward"], row["dx"]) == ("ann", 30.0, None, None)
    assert out.read_text().splitlines()[2].startswith("| Pendulum-v1 | ann | 0 | 30 | ")
    assert gait.main([str(tmp_path / "empty")]) == 2


def test_actor_init_activity_measures_each_neuron_encoding_and_seed(tmp_path):
    init = _script("actor_init_activity")
    out, js = tmp_path / "t.md", tmp_path / "t.json"
    assert init.main(["--envs", "Pendulum-v1", "--neurons", "lif", "cuba", "--seeds", "0", "1", "--samples", "50",
                      "--out", str(out), "--json", str(js)]) == 0
    rows = json.loads(js.read_text())
    assert [(r["neuron"], r["encoding"], r["seed"]) for r in rows] == [
        (n, e, s) for n in ("lif", "cuba") for e in ("scripts", "authors") for s in (0, 1)]
    for r in rows:
        assert all(0.0 <= v <= 1.0 for k, v in r.items() if k.startswith(("rate/", "pinned/")))
        assert "rate/out_neurons" in r and r["action_std"] >= 0.0
    # a seed's actor is built from that seed (the trainer's initial weights): the same seed
    # measures the same, another seed differs
    obs, act_dim, limit = init.observations("Pendulum-v1", 50, seed=0)
    again = init.measure("Pendulum-v1", obs, act_dim, limit, "popsan", "lif", "scripts", 1)
    assert again == rows[1] and again != rows[0]
    assert len(out.read_text().splitlines()) == 2 + len(rows)
