"""Sweeps: a grid of generator runs into a resumable store, in-process or on a Dask cluster.

Command line::

    toptraj sweep CONFIG.toml [--out STORE] [--workers N | --scheduler ADDRESS] [--resume] [--driver-writes]
                  [--force-size]

Python::

    from toptraj.sweeps import run_sweep, load_sweep
    result = run_sweep("grid.toml", "out/grid")             # in-process
    result = run_sweep("grid.toml", "out/grid", client=c)   # c: a dask.distributed.Client
    runs = load_sweep("grid.toml", "out/grid")              # TrajectorySet, grid order

Config (TOML; the same structure as a dict for :func:`run_sweep`)
-----------------------------------------------------------------
::

    name = "modesum-grid"          # optional, shown in the catalog
    generator = "modesum"          # any name toptraj.registry.available_generators() lists
    function = "solve"             # optional: one of the generator's run functions (first = default)
    seeds = {start = 0, stop = 10} # or a list [0, 3, 7]; omit for deterministic functions

    [params]                       # fixed parameters (fields of the generator's params dataclass)
    b = 1.5
    noise = 0.05

    [grid]                         # swept parameters: a list, or a range table
    a = [1.5, 2.0, 3.0]
    time_scale = {start = 0.5, stop = 2.0, num = 3, log = true}

    [axis]                         # the spec's axis: modesum/dmft times; plrf steps; maloney name + values
    times = {start = 1, stop = 1e4, num = 64, log = true}

    [options]                      # optional: fields of the run function's options dataclass
    modes = [1, 10, 100]

A range table ``{start, stop, num, log = false, integer = false}`` gives ``num`` values from
``start`` to ``stop`` inclusive (log-spaced if ``log``; rounded and de-duplicated if
``integer``). Seeds ranges ``{start, stop}`` exclude ``stop`` like Python's ``range``. Runs are the
Cartesian product of the grid (in the order written) times the seeds (innermost). Values are
brought to the declared field types (:func:`toptraj.parameters.convert`): ``a = 2`` and
``a = 2.0`` are the same run for a float field, and integral floats given for ``int`` fields
become ints (``M = 1e3``). Parameters the dataclass gives no default for may be defaulted by the
spec (e.g. dmft's ``P = inf`` and ``M``); a parameter swept by a selectable axis (maloney's N or
T) defaults to the first axis value (it is replaced along the axis).

Generators and the calls made: the config's generator is resolved by
:func:`toptraj.registry.get_generator` (its module is imported only then; ``run_sweep(...,
generator=spec)`` takes a spec object instead), and each run calls::

    function(Params(**params), *axis_arguments, [seed=s | seeds=[s]], **options)

with the seed convention of the run function (a deterministic function takes no seeds).

Everything is checked before the first run starts (exit status 2 on the command line): unknown
generator, function, parameter, option or axis name; a parameter both fixed and swept; an empty
grid list or seed list; a bad range (``num < 1``, ``start >= stop``, ``log`` with ``start <= 0``);
parameter values the Params dataclass rejects; duplicate runs; seeds given to a deterministic
function; a path option (the run function's work folder, ``*_dir``, ``*_path``) that is absolute
or has a ``..`` (path options are resolved inside the store folder, symlinks followed).

Size guards come first, from the lengths alone (nothing is expanded): more than 100 000 runs, or a
range of more than 10^6 values, is refused in well under a millisecond (``toptraj.guards``); then
the generator's ``estimate_memory_bytes`` of the largest run is checked against the machine's
available memory (MemAvailable). ``--force-size`` (``load_config(..., force_size=True)``) skips them.
One driver at a time: a second ``toptraj sweep`` on the same store is refused while the first
runs (the store's lock file names the holder; see :mod:`toptraj.store`).

Store, resume and failures
--------------------------
Each run is stored under a key: the sha256 of the canonical JSON of (generator, generator
version, function, parameters with defaults filled in, seed, axis values, options as given); the
generator version is the spec's ``version`` (toptraj's version for the built-in generators). See
:mod:`toptraj.store` for the layout and the write protocol. A sweep that is killed at any moment
(SIGKILL included) and started again with ``--resume`` runs only the runs that are not recorded as
done with intact files; runs that failed are tried again, corrupt or truncated files are detected
by their sha256 and re-run. Results are bit-for-bit those of an uninterrupted sweep (arrays,
parameters, labels; provenance records the creation time and so differs). Without ``--resume`` the
command refuses a store that already holds runs of the same sweep. A run that raises is recorded
as ``failed`` with its error and traceback, and the sweep goes on; the command prints the number of
failed runs and exits with status 1 (0 when every run is done, 2 for config errors).

The catalog is a SQLite table that pandas reads directly::

    import sqlite3, pandas
    df = pandas.read_sql("SELECT * FROM runs", sqlite3.connect("out/grid/catalog.sqlite"))
    # or: toptraj.store.Store("out/grid").catalog(sweep_id)   (parameters as columns)

Parallel and multi-node runs (Dask)
-----------------------------------
In-process runs use one BLAS/OpenMP thread (``run_sweep(..., threads=1)``), as Dask workers do,
so that both modes give the same bits. ``--workers N`` starts a ``dask.distributed.LocalCluster``
of N single-threaded worker processes on this machine (N = number of cores);
``--scheduler tcp://host:8786`` connects to a running cluster and submits the same tasks
unchanged. Each task is a batch of runs: the first task per worker holds one run, later ones
as many as take about 0.25 s at the measured time per run (at least two tasks left per worker),
so Dask's per-task cost is paid once per batch. A task runs its batch with one BLAS/OpenMP thread
(threadpoolctl; Dask's nanny also sets OMP/MKL/OPENBLAS_NUM_THREADS=1), by default writes the run
files into the store folder itself (no round trip of the data through the driver), makes them
durable with one sync, and returns their hashes; only the driver (the ``toptraj sweep``
process) writes the catalog, one transaction per batch (group commit), so no two processes ever
write the same file or table. In-process sweeps commit a batch every 0.5 s.

Thread settings: one worker process per core, one thread per worker (``--nthreads 1``), one
BLAS/OpenMP thread inside (set once per worker process; a thread pool in your own process gets
its limits back after each batch). ``--workers`` builds its cluster with
:func:`toptraj.sweeps.cluster.local_cluster`, which also switches off Dask's statistical profiler
and thins out its periodic housekeeping, and leaves glibc's malloc tuning alone
(``CLUSTER_CONFIG``; workers you start yourself: ``MALLOC_TRIM_THRESHOLD_`` unset, see there). On a shared machine Linux gives each
login session (autogroup) an equal share of the CPU, so extra workers only help while cores are
idle: ``benchmarks/bench_sweeps.py`` reports each speed-up next to what two bare processes get
at the same moment. On several machines:

1. Start a scheduler on one node (``dask scheduler``) and workers on the others
   (``dask worker tcp://host:8786 --nthreads 1 --nworkers <cores>``), or use dask-jobqueue
   (SLURM/PBS) or dask-kubernetes to start them; every worker needs the same environment
   (``pip install toptraj[dask]`` at the driver's version: the driver computes the run keys,
   the workers the results stored under them).
2. Put the store on a path that every worker and the driver see at the same location: a shared
   file system (NFS, Lustre, GPFS). Run ``toptraj sweep grid.toml --out /mnt/cluster/sweeps/grid
   --scheduler tcp://host:8786``. The catalog (``STORE/catalog.sqlite``) is written by the driver
   only; SQLite's WAL mode needs every process that opens it to be on one host, so read it
   (pandas, ``Store.catalog``) on the driver's node while the sweep runs, and the file system must
   support POSIX locks (NFSv4, Lustre and GPFS do). If in doubt, use ``--driver-writes`` with the
   store on the driver's local disk.
3. Without a shared file system (object store such as S3, or workers on other clouds) add
   ``--driver-writes``: workers send the trajectories back to the driver (tens of kB per run),
   which writes the store locally; copy the finished store to the object store afterwards
   (``aws s3 sync``), or point ``--out`` at a mounted bucket (s3fs/gcsfuse; renames there are
   copies, so write locally when the sweep may be killed). Direct ``s3://`` URLs are not
   supported.
4. If the driver dies, start it again with ``--resume``; runs whose files were written but not
   yet catalogued are re-run (identical results), never read back half-written.
"""

from toptraj.sweeps.command import add_cli_arguments, run_cli
from toptraj.sweeps.config import (
    CONFIG_KEYS,
    RANGE_KEYS,
    RunSpec,
    SweepConfig,
    expand_range,
    expand_seeds,
    load_config,
    run_key,
)
from toptraj.sweeps.runner import SweepResult, execute_run, load_sweep, run_sweep

__all__ = [
    "CONFIG_KEYS", "RANGE_KEYS", "RunSpec", "SweepConfig", "SweepResult", "add_cli_arguments", "execute_run",
    "expand_range", "expand_seeds", "load_config", "load_sweep", "run_cli", "run_key", "run_sweep",
]
