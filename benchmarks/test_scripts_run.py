"""The benchmark scripts that drive the trainers still run against the trainers as they are
(CI runs this file with the rest of benchmarks/): each measurement once, at a size that
takes seconds, with the checks of the numbers a timing run prints."""
import importlib.util
import math
from pathlib import Path

import pytest


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
