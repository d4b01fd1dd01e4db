"""Run logging: progress.csv (one row per evaluation), TensorBoard scalars, and the
learning-curve PNG."""
from __future__ import annotations

import csv
from pathlib import Path


class RunLogger:
    def __init__(self, run_dir: Path, fields: list[str], resume_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.csv_path = self.run_dir / "progress.csv"
        self.fields = fields
        rows = []
        if resume_step is not None and self.csv_path.exists():
            # Keep what was logged up to the checkpoint; later rows are redone by the resumed run.
            with open(self.csv_path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with open(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops TensorBoard events at and after that step, which a resumed run logs
        # again; the evaluation at the resume step itself was kept in the checkpointed run.
        self.tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=None if resume_step is None else resume_step + 1)

    def scalar(self, name: str, value: float, step: int) -> None:
        self.tb.add_scalar(name, value, step)

    def row(self, values: dict) -> None:
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields).writerow(values)
        for k, v in values.items():
            if k != "step" and isinstance(v, (int, float)):
                self.tb.add_scalar(f"eval/{k}", v, values["step"])
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()


def plot_curve(run_dir: Path, x: str = "step", y: str = "test_return", title: str = "") -> Path:
    """learning_curve.png from progress.csv: mean test return (shaded +- std) against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    xs = [float(r[x]) for r in rows]
    ys = [float(r[y]) for r in rows]
    sd = [float(r.get(f"{y}_std") or 0.0) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys, marker="o")
    ax.fill_between(xs, [a - b for a, b in zip(ys, sd)], [a + b for a, b in zip(ys, sd)], alpha=0.2)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = run_dir / "learning_curve.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
