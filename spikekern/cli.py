"""The `spikekern` command line: train (td3, dqn), eval, sweep, report, bench."""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path

from .rl.guards import DivergedError
from .rl.options import help_text, option


def _flag_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_config_options(parser: argparse.ArgumentParser, config_cls, skip=()) -> None:
    """One --option per hyperparameter of a trainer's config dataclass, with the help, allowed
    values and default stated beside the field (rl/options.py). Options left out keep the
    config's default (for DQN, the preset of the chosen env). Values are range-checked by
    the trainer's validate(), so train and sweep give the same one-line errors."""
    for f in dataclasses.fields(config_cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default, choices = f.default, f.metadata.get("choices")
        metavar = "{" + ",".join(c for c in choices if c) + "}" if choices else None
        if isinstance(default, tuple):
            kind = type(default[0]) if default else float
            parser.add_argument(flag, type=kind, nargs="+", default=None, help=help_text(f))
        elif isinstance(default, bool):  # `--save-buffer` alone means true; `--double-dqn false` turns one off
            parser.add_argument(flag, type=_flag_bool, nargs="?", const=True, default=None, metavar="BOOL",
                                help=help_text(f))
        else:
            parser.add_argument(flag, type=type(default), default=None, metavar=metavar, help=help_text(f))


def build_parser() -> argparse.ArgumentParser:
    from .rl.algorithms import algorithms

    table = algorithms()
    parser = argparse.ArgumentParser(prog="spikekern", description="Fused spiking neurons for PyTorch")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an agent").add_subparsers(dest="algo", required=True)
    for name, algo in table.items():
        p = train.add_parser(name, help=algo.help, description=algo.description or None)
        _add_config_options(p, algo.config_cls)
        p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                       help="train these seeds in one process as one batched computation, each in its own "
                            "folder OUT/seed<k>/ (one seed: as --seed)")
        p.add_argument("--out", help=f"run directory (default: runs/{name}-ENV-{algo.agent_field.upper()}-sSEED-TIME)")
        p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (its settings; options given override)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    _add_sweep_parsers(sub, table)
    rep = sub.add_parser("report", help="summary.csv, summary.md and curves of the runs under a sweep's folder "
                                        "(or several sweeps', into one report)")
    rep.add_argument("dirs", nargs="+", metavar="dir",
                     help="a sweep's --out folder (any folder holding run folders); several make one report")
    rep.add_argument("--out", help="write the report here (default: the one dir; needed with several)")

    ev = sub.add_parser("eval", help="run a saved agent (its model.pt) and print the mean and std of its return")
    ev.add_argument("run_dir", help="a run folder (of spikekern train, or a sweep trial)")
    for f in dataclasses.fields(EvalOptions):
        ev.add_argument("--" + f.name, type=type(f.default), default=f.default, help=help_text(f))
    ev.add_argument("--video", metavar="DIR", help="record the episodes as mp4 files into DIR (needs moviepy, and "
                                                   "an env that renders)")
    ev.add_argument("--activity", action="store_true",
                    help="also print each spiking layer's firing rate and how the actions vary over the episodes "
                         "(the columns progress.csv logs at each evaluation)")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")

    bench = sub.add_parser("bench", help="time every neuron x backend x size against the reference loop")
    bench.add_argument("--quick", action="store_true", help="the headline sizes only, fewer rounds")
    bench.add_argument("--report", metavar="DIR", help="also write results.json and report.md to DIR")
    bench.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    bench.add_argument("--backends", nargs="+", help="default: every backend available on the device")
    bench.add_argument("--threads", type=int, help="torch.set_num_threads before timing")
    bench.add_argument("--keep-freed-memory", action="store_true",
                       help="first tune glibc to keep freed memory (spikekern/_malloc.py), for every candidate; "
                            "default: the allocator as a user's process has it")
    bench.add_argument("--no-malloc-tuning", action="store_true", help=argparse.SUPPRESS)  # the default now
    return parser


def _sweep_own(algo: str) -> tuple[str, ...]:
    """The config fields a sweep sets itself: lists over the grid (env, agent, seed) and the
    threads (= --cpus-per-trial)."""
    from .rl.algorithms import get

    return ("env", get(algo).agent_field, "seed", "threads")


def _add_sweep_parsers(sub, table: dict) -> None:
    sweep = sub.add_parser("sweep", help="run every env x agent x seed as a `spikekern train` trial on Ray")
    algos = sweep.add_subparsers(dest="algo", required=True)
    for algo, spec in table.items():
        cls, agent = spec.config_cls, spec.agent_field
        p = algos.add_parser(algo, help=f"a grid of `spikekern train {algo}` runs; every train option applies to "
                                        "every trial")
        _add_config_options(p, cls, skip=_sweep_own(algo))
        p.add_argument("--env", nargs="+", default=[cls.env], help=f"environments (default: {cls.env})")
        choices = next(f for f in dataclasses.fields(cls) if f.name == agent).metadata["choices"] + spec.variants
        p.add_argument(f"--{agent}", nargs="+", default=[getattr(cls, agent)], metavar="{" + ",".join(choices) + "}",
                       help=f"agents to compare (default: {getattr(cls, agent)})")
        p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
        p.add_argument("--seeds-per-trial", type=int, default=1, metavar="K",
                       help="train the seeds of each env and agent K at a time in one process (one trial), as one "
                            "batched computation; see docs/sweep.md for when it pays (default: 1)")
        p.add_argument("--out", required=True, help="sweep folder: each trial runs in OUT/<env>/<agent>/seed<k>/")
        p.add_argument("--address", help="join this Ray cluster (default: $RAY_ADDRESS, else start a local Ray "
                                         "with this machine's CPUs)")
        p.add_argument("--cpus-per-trial", type=int, default=1,
                       help="CPUs reserved per trial, and its torch threads (default: 1)")
        p.add_argument("--gpus-per-trial", type=float, default=0.0,
                       help="GPUs reserved per trial (fractions share a GPU; needs --device cuda; default: 0)")
        p.add_argument("--max-retries", type=int, default=3,
                       help="times Ray reruns a trial whose worker or node died; it resumes from its "
                            "checkpoint (default: 3)")


def _given(args, config_cls) -> dict:
    """The config options given on the command line."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(args).items()
            if k in names and v is not None}


def _config(args, config_cls):
    from .rl.runtime import make_config

    return make_config(config_cls, _given(args, config_cls))


def _stamp() -> str:
    import time

    return time.strftime("%Y%m%d-%H%M%S")


def _train(args) -> int:
    from .rl.agents import run_algo
    from .rl.algorithms import get
    from .rl.runtime import read_group, saved_run, seed_dir

    algo = get(args.algo)
    cfg = _config(args, algo.config_cls)
    seeds = args.seeds
    if seeds is not None and args.seed is not None:
        raise ValueError("give --seed S or --seeds S1 S2 ..., not both")
    if seeds is not None and args.resume:
        raise ValueError("--resume continues the seeds saved in its folder; --seeds goes with a new run")
    if seeds is not None and len(seeds) == 1:  # one seed: a single run, exactly as --seed
        cfg, seeds = dataclasses.replace(cfg, seed=seeds[0]), None
    agent = getattr(cfg, algo.agent_field)
    tag = "-".join(map(str, seeds)) if seeds else cfg.seed
    out = Path(args.resume or args.out or f"runs/{algo.name}-{cfg.env.replace('/', '_')}-{agent}-s{tag}-{_stamp()}")
    if args.resume:
        group = read_group(out)
        saved = run_algo(seed_dir(out, group[0]) if group else out)
        if saved != args.algo:
            raise ValueError(f"{out} holds a {saved} run; continue it with `spikekern train {saved} --resume {out}`")
    elif saved_run(out):
        raise ValueError(f"{out} already holds a run; use --resume {out} or another --out")
    overrides = {k: v for k, v in dataclasses.asdict(cfg).items() if getattr(args, k, None) is not None}
    result = algo.run(None if args.resume else cfg, out, resume=bool(args.resume), progress=not args.no_progress,
                      overrides=overrides, seeds=seeds)
    rows = result.get("seeds", {0: result}) if result else {}
    names = seeds or read_group(out) or []
    for k, row in rows.items():
        where = (f"{row['step']} env steps" if algo.column == "step"
                 else f"{row[algo.column]} {algo.column} = {row['step']} agent steps")
        print(("" if len(rows) == 1 else f"seed {names[k]}: ") +
              f"final test return: {row['test_return']:.2f} +- {row['test_return_std']:.2f} ({where})"
              + ("" if len(rows) > 1 else f"; run saved in {out}"))
    if len(rows) > 1:
        print(f"runs saved in {out}/seed<k>/")
    return 0


@dataclasses.dataclass
class EvalOptions:
    episodes: int = option(10, "test episodes", low=1)
    seed: int = option(12345, "seed of the first test episode (episode i uses seed + i)", low=0)


def _eval(args) -> int:
    from .rl import activity, load_agent
    from .rl.options import check

    check(EvalOptions(args.episodes, args.seed))
    run_dir = Path(args.run_dir)
    policy = load_agent(run_dir)
    target = None
    if args.activity:
        if policy.spec.acting is None:
            raise SystemExit(f"spikekern eval: --activity is not recorded for {policy.algo} agents")
        target = policy.spec.acting(policy.net)
    with activity.Activity(*target) if target else contextlib.nullcontext() as recorded:
        returns = policy.evaluate(args.episodes, args.seed, video_dir=args.video, progress=not args.no_progress)
    import numpy as np

    print(f"{run_dir}: return over {args.episodes} episodes: {np.mean(returns):.2f} +- {np.std(returns):.2f}")
    if recorded is not None:
        print(activity.describe(recorded.summary()))
    if args.video:
        print(f"videos in {args.video}")
    return 0


def _sweep(args) -> int:
    from .rl.algorithms import get
    from .sweep import ray_runner, trials

    if args.cpus_per_trial < 1:
        raise ValueError(f"--cpus-per-trial must be at least 1, got {args.cpus_per_trial}")
    if args.gpus_per_trial < 0:
        raise ValueError(f"--gpus-per-trial must be at least 0, got {args.gpus_per_trial}")
    cls = get(args.algo).config_cls
    given = dict(_given(args, cls), threads=args.cpus_per_trial)
    device = given.get("device", cls.device)
    if (args.gpus_per_trial > 0) != device.startswith("cuda"):
        raise ValueError("--gpus-per-trial > 0 goes with --device cuda (and --device cuda needs --gpus-per-trial)")
    agents = getattr(args, _sweep_own(args.algo)[1])
    grid = trials.make_trials(args.algo, args.env, agents, args.seeds, given, Path(args.out), args.seeds_per_trial)
    trials.validate(grid)  # a bad entry fails here, before any trial starts
    ray_runner.import_ray()
    counts = ray_runner.run(grid, address=args.address, cpus_per_trial=args.cpus_per_trial,
                            gpus_per_trial=args.gpus_per_trial, max_retries=args.max_retries)
    _report(Path(args.out))
    return 1 if counts["failed"] else 0


def _report(root: Path, sources: list[Path] | tuple = ()) -> int:
    from .sweep import summary as report

    paths = report.write(root, sources)
    print((root / "summary.md").read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _report_folders(dirs: list[str], out: str | None) -> tuple[Path, list[Path]]:
    """`spikekern report`'s output folder and the folders it reads."""
    if out is None and len(dirs) > 1:
        raise ValueError(f"{len(dirs)} folders to report on: say where the report goes with --out")
    return Path(out or dirs[0]), [Path(d) for d in dirs]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "report":
            return _report(*_report_folders(args.dirs, args.out))
        if args.command == "bench":
            return _bench(args)
    except KeyboardInterrupt:
        return 130
    except DivergedError as exc:
        print(f"spikekern {args.command}: {exc}", file=sys.stderr)
        return 3
    except (RuntimeError, ValueError, FileNotFoundError) as exc:  # EnvError is a ValueError
        print(f"spikekern {args.command}: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


def _bench(args) -> int:
    import torch

    from .bench import report

    if args.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda but no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    report.main(quick=args.quick, report=args.report, device=args.device, backends=args.backends,
                malloc_tuning=args.keep_freed_memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
