"""Trajectory generators with known exponents (toptraj's own package, not PyPI's `generators`).

One module per model; each exports a frozen params dataclass, pure solve/simulate functions
returning :class:`toptraj.Trajectory`, the model's predicted exponents, and ``SPEC``: the
:class:`toptraj.registry.GeneratorSpec` through which toptraj's command line and sweep runner find
it (``toptraj.registry.get_generator(NAME)``). Modules that need torch import it lazily.
"""

#: Built-in generator names (`toptraj generate NAME`); the registry maps "network" to generators.networks.
GENERATORS = ("modesum", "dmft", "plrf", "maloney", "network")
