"""Benchmarks: this provider next to what users would otherwise run, measured in one run.

Run `python -m bench --help` (or `make bench` / `make bench-quick`). Scenarios:

- `waiting`: our waiter against azure-core's LRO poller, fixed 30 s and 5 s loops and an oracle;
- `concurrency`: N offers going live at once through the dynamic host and the plugin;
- `overhead`: per-resource RPC latency, plugin start-up, pickled provider size.

Everything runs on the local Partner Portal emulator; see bench/README.md.
"""
