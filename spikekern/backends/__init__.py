"""Neuron implementations: `reference` (pure PyTorch loops, the ground truth), `extension`
(the compiled spikekern._C extension: cpp on CPU, cuda on GPU) and `triton_backend`."""
