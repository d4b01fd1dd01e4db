"""Many trials at once: `spikekern sweep` runs a grid of `spikekern train` runs (envs x agents
x seeds) as Ray tasks, locally or on a cluster, and `spikekern report` turns the run folders
into tables and curves.

`trials` builds and checks the grid, `ray_runner` runs it (one Ray task per trial, which runs
the trial in a process of its own: `trial_process`), `report` aggregates run folders
(it needs no Ray: a table can be rebuilt from copied folders).
"""
