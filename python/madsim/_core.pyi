"""Type stubs of madsim._core, the compiled pybind11 module (csrc/bindings/module.cpp).

Internal: madsim's Python modules reach it through madsim._backend. Names marked
"CUDA builds only" exist only when the CUDA launcher is compiled in (build_info()["cuda"]).
tests/test_packaging.py checks this file against the module's names and parameters.
"""

import numpy as np
import numpy.typing as npt

RNG_LAYOUT_VERSION: int
CUDA_MEMORY_MARGIN: int
TAG_SAMPLES: int
TAG_SCATTER: int
TAG_REAL: int
TAG_FILTER: int
TAG_SUBSET: int
TAG_TEST: int

class CudaError(RuntimeError):
    """A CUDA runtime error of the launcher (CUDA builds only)."""

# ---------------------------------------------------------------- model parameters

class Gaussian1DParams:
    def __init__(
        self, n: float, tau: float, estimator: int, path: int, mu0: float = ..., var0: float = ...
    ) -> None: ...
    @property
    def n(self) -> float: ...
    @property
    def tau(self) -> float: ...
    @property
    def estimator(self) -> int: ...
    @property
    def path(self) -> int: ...
    @property
    def mu0(self) -> float: ...
    @property
    def var0(self) -> float: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...

class GaussianLoopParams:
    def __init__(
        self,
        d: int,
        loop: int,
        estimator: int,
        path: int,
        tau: float,
        trunc: float,
        weight: float,
        tpr: float,
        fpr: float,
        real_fixed: float,
        subsample_n: int,
        pool_cap: int,
        truth: np.ndarray,
        counts: np.ndarray,
        factors: int = ...,
        basis: object = ...,
        reweight_beta: float = ...,
        reweight_k: float = ...,
        correction: float = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def n_counts(self) -> int: ...

class CategoricalParams:
    def __init__(
        self,
        loop: int,
        path: int,
        top_k: int,
        tau: float,
        top_p: float,
        smoothing: float,
        weight: float,
        tpr: float,
        fpr: float,
        real_fixed: float,
        subsample_n: int,
        truth: np.ndarray,
        rare: np.ndarray,
        counts: np.ndarray,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def n_counts(self) -> int: ...

class BigramParams:
    def __init__(
        self,
        loop: int,
        path: int,
        top_k: int,
        tau: float,
        top_p: float,
        smoothing: float,
        tpr: float,
        fpr: float,
        real_fixed: float,
        length: int,
        truth: np.ndarray,
        start: np.ndarray,
        pi0: np.ndarray,
        counts: np.ndarray,
        subsample_n: int = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def n_counts(self) -> int: ...

class GaussianMixtureParams:
    def __init__(
        self,
        k: int,
        d: int,
        cov_type: int,
        loop: int,
        em_iters: int,
        em_tol: float,
        cov_floor: float,
        tau: float,
        tpr: float,
        fpr: float,
        real_fixed: float,
        truth: np.ndarray,
        tails: np.ndarray,
        counts: np.ndarray,
        subsample_n: int = ...,
        pool_cap: int = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def scratch_size(self) -> int: ...
    @property
    def n_max(self) -> int: ...
    @property
    def n_counts(self) -> int: ...

class RegressionParams:
    def __init__(
        self,
        d: int,
        loop: int,
        path: int,
        design: int,
        estimator: int,
        refit_noise: int,
        ridge: float,
        tpr: float,
        fpr: float,
        real_fixed: float,
        fixed_real: float,
        fixed_synthetic: float,
        truth: np.ndarray,
        counts: np.ndarray,
        subsample_n: int = ...,
        pool_cap: int = ...,
        weight: float = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def n_counts(self) -> int: ...

class PoissonParams:
    def __init__(
        self,
        loop: int,
        path: int,
        rate0: float,
        real_fixed: float,
        counts: np.ndarray,
        subsample_n: int = ...,
        pool_cap: int = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def n_counts(self) -> int: ...

class KDEParams:
    def __init__(
        self,
        d: int,
        loop: int,
        rule: int,
        h: float,
        real_fixed: float,
        test_points: int,
        truth: np.ndarray,
        counts: np.ndarray,
        subsample_n: int = ...,
        pool_cap: int = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def scratch_size(self) -> int: ...
    @property
    def model_cap(self) -> int: ...
    @property
    def n_counts(self) -> int: ...

class LogisticParams:
    def __init__(
        self,
        d: int,
        loop: int,
        design: int,
        max_iter: int,
        ridge: float,
        tol: float,
        real_fixed: float,
        truth: np.ndarray,
        counts: np.ndarray,
        subsample_n: int = ...,
        pool_cap: int = ...,
    ) -> None: ...
    @property
    def state_size(self) -> int: ...
    @property
    def observe_names(self) -> list[str]: ...
    @property
    def observe_size(self) -> int: ...
    @property
    def scratch_size(self) -> int: ...
    @property
    def n_counts(self) -> int: ...

# ---------------------------------------------------------------- kernels (CPU launcher)

def advance_gaussian1d(
    params: Gaussian1DParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_gaussian_loop(
    params: GaussianLoopParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_categorical(
    params: CategoricalParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_bigram(
    params: BigramParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_gmm(
    params: GaussianMixtureParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_regression(
    params: RegressionParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_poisson(
    params: PoissonParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_kde(
    params: KDEParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def advance_logistic(
    params: LogisticParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int,
    columns: object = ...,
) -> None: ...
def gmm_em(
    params: GaussianMixtureParams, state: np.ndarray, points: np.ndarray
) -> npt.NDArray[np.float64]: ...
def kde_fit(
    params: KDEParams, points: np.ndarray
) -> tuple[bool, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

# ---------------------------------------------------------------- kernels (CUDA builds only)

def advance_gaussian1d_cuda(
    params: Gaussian1DParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_gaussian_loop_cuda(
    params: GaussianLoopParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_categorical_cuda(
    params: CategoricalParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_bigram_cuda(
    params: BigramParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_gmm_cuda(
    params: GaussianMixtureParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_regression_cuda(
    params: RegressionParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_poisson_cuda(
    params: PoissonParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_kde_cuda(
    params: KDEParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...
def advance_logistic_cuda(
    params: LogisticParams,
    state: np.ndarray,
    replica_ids: np.ndarray,
    seed: int,
    gen_begin: int,
    gen_end: int,
    rec_gens: np.ndarray,
    rec_offset: int,
    records: np.ndarray,
    detectors: np.ndarray,
    first: np.ndarray,
    threads: int = ...,
    columns: object = ...,
    block: int = ...,
    gens_per_launch: int = ...,
) -> None: ...

# ---------------------------------------------------------------- Philox streams and transforms

def philox4x32_10(ctr: np.ndarray, key: np.ndarray) -> npt.NDArray[np.uint32]: ...
def stream_blocks(
    seed: int, replica: int, generation: int, tag: int, site: int, block_begin: int, count: int
) -> npt.NDArray[np.uint32]: ...
def uniform32(words: np.ndarray) -> npt.NDArray[np.float64]: ...
def uniform52(lo: np.ndarray, hi: np.ndarray) -> npt.NDArray[np.float64]: ...
def normals(
    seed: int, replica: int, generation: int, tag: int, site: int, count: int
) -> npt.NDArray[np.float64]: ...
def philox_seconds(blocks_per_thread: int, threads: int, lanes: bool = ...) -> float: ...
def normal_pair(
    u_radius: np.ndarray, u_angle: np.ndarray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def gamma(
    alpha: float, seed: int, replicas: np.ndarray, generation: int, tag: int, site: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.uint32]]: ...
def binomial(
    n: float, p: float, seed: int, replicas: np.ndarray, generation: int, tag: int, site: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32]]: ...
def det_log(x: np.ndarray) -> npt.NDArray[np.float64]: ...
def det_sincos_2pi(u: np.ndarray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def log_factorial(k: np.ndarray) -> npt.NDArray[np.float64]: ...
def categorical_sampling_law(
    probs: np.ndarray, tau: float, top_k: int, top_p: float
) -> npt.NDArray[np.float64]: ...

# ---------------------------------------------------------------- build and CUDA

def build_info() -> dict[str, object]: ...
def cuda_memory_estimate(
    replicas: int,
    state_size: int,
    observe_size: int,
    scratch_size: int,
    n_rec: int,
    n_cols: int,
    n_det: int,
    array_doubles: int,
    slots: int,
) -> dict[str, int]: ...
def cuda_launch_plan(
    gen_begin: int, gen_end: int, rec_gens: np.ndarray, gens_per_launch: int, rec_fit: int
) -> list[tuple[int, int, int, int]]: ...

# CUDA builds only:
def cuda_device_count() -> int: ...
def cuda_runtime() -> dict[str, object]: ...
def philox4x32_10_cuda(ctr: np.ndarray, key: np.ndarray) -> npt.NDArray[np.uint32]: ...
def philox_seconds_cuda(blocks_per_thread: int, threads: int, block: int = ...) -> float: ...
