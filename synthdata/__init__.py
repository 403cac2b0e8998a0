"""Synthetic output trees and footprint records shared by the tests and the benchmarks.

Not shipped (``pyproject.toml`` packages only ``bids_energy*``), and not part of ``tests/``
so that ``benchmarks/`` time exactly the trees the tests check without importing the test
package. Run from the repository root (pytest and ``benchmarks/*.py`` put it on sys.path).
"""
