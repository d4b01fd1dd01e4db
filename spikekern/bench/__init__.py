"""Benchmarks of the fused neurons: cases, timing and the `spikekern bench` report."""
