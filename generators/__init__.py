"""Trajectory generators with known exponents (toptraj's own package, not PyPI's `generators`).

One module per model; each exports a frozen ``Params`` dataclass, pure solve/simulate functions
returning :class:`toptraj.Trajectory`, and the model's predicted exponents. Modules that need torch
import it lazily.
"""

#: Generator modules known to the command line (`toptraj generate NAME`) and the sweep runner.
GENERATORS = ("modesum", "dmft", "plrf", "maloney", "network")
