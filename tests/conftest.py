import os

# The unit tests run on two pytest-xdist workers on a two-core machine (`make unit`). OpenBLAS
# starts one thread per core in each worker, so four BLAS threads would share two cores and
# spin-wait on each other: a least-squares fit of a 4000 x 201 design took 10.8 s instead
# of 0.4 s with one thread. One BLAS/OpenMP thread per worker, for this process and the
# subprocesses the tests start (the variables are read when a library loads; threadpoolctl
# limits the libraries already loaded).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import matplotlib  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)

os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")
