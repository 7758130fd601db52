"""toptraj: topological analysis of neural-network training trajectories.

Light to import: numpy only. torch, dask, giotto-tda and matplotlib.pyplot load where used.
"""

from toptraj.diagrams import Diagram
from toptraj.trajectory import KNOWN_LABELS, Trajectory, TrajectorySet

__version__ = "0.1.0"

__all__ = ["Diagram", "KNOWN_LABELS", "Trajectory", "TrajectorySet", "__version__"]
