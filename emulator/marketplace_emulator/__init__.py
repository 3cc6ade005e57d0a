"""Local emulator of the Cloud Partner Portal publishing API.

The one test bed for tests, examples and benchmarks; the provider never imports it.
"""
