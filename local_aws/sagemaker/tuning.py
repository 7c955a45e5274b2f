"""Hyperparameter tuning jobs that really search: each trial is a real training job.

``Tuner.start`` runs a ``TuningRun`` in a background thread: optuna proposes hyperparameters over the
job's ``ParameterRanges`` (Bayesian: TPE; Random: random sampling; Grid: every combination of the
categorical and integer ranges), at most ``MaxParallelTrainingJobs`` trials run at once and at most
``MaxNumberOfTrainingJobs`` are started. Each trial's objective is its training job's final value of the
objective metric (read with the job's MetricDefinitions regex); failed trials count as failed and the
search goes on. Describe reports the counters and the best training job as AWS does. Trials run on the definition's
``ResourceConfig``, or on its ``HyperParameterTuningResourceConfig`` (what the SageMaker Python SDK sends).
``TrainingJobDefinitions`` (several algorithms, each with its own objective and ranges) are taken in turn, each
searched by its own study; the best trial is the best over all of them.

``TrainingJobEarlyStoppingType: Auto`` applies SageMaker's median stopping rule: a running trial whose
objective at step k (its k-th value in the log) is worse than the median of earlier trials' running averages
over their first k values is stopped; it counts as Stopped and its last value is still its objective.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import queue
import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import optuna

from local_aws import moto_seam
from local_aws.moto_seam import utcnow
from local_aws.sagemaker.exceptions import ValidationException
from local_aws.sagemaker.metric_definitions import metric_values
from local_aws.sagemaker.training import TrainingScheduler
from local_aws.service_limits import trial_resources

log = logging.getLogger(__name__)

STRATEGIES = ("Bayesian", "Random", "Grid")
_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")



def validate_tuning_request(config: dict[str, Any], definition: dict[str, Any] | None,
                            definitions: list[dict[str, Any]] | None = None) -> None:
    """Refuse what this runtime cannot search: one ``TrainingJobDefinition`` (objective and ranges in ``config``),
    or ``TrainingJobDefinitions`` (each with its ``DefinitionName``, ``TuningObjective`` and
    ``HyperParameterRanges``; no early stopping, as on AWS, and no Grid here)."""
    strategy = config.get("Strategy", "Bayesian")
    if strategy not in STRATEGIES:
        raise ValidationException(f"Strategy {strategy} is not supported locally; use one of {', '.join(STRATEGIES)}.")
    if definition is None and not definitions:
        raise ValidationException("Either TrainingJobDefinition or TrainingJobDefinitions must be specified.")
    if strategy != "Grid" and not (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs"):
        raise ValidationException("ResourceLimits.MaxNumberOfTrainingJobs is required for this strategy.")
    if definition is not None:
        _validate_definition(config.get("HyperParameterTuningJobObjective"), config.get("ParameterRanges") or {},
                             definition, strategy)
        return
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        raise ValidationException("Early stopping is available only when tuning a single training job definition.")
    if strategy == "Grid":
        raise ValidationException("Grid search over several TrainingJobDefinitions is not supported locally.")
    names = [item.get("DefinitionName") for item in definitions]
    if None in names or len(set(names)) != len(names):
        raise ValidationException("Each of the TrainingJobDefinitions needs a DefinitionName, unique in the tuning job.")
    for item in definitions:
        _validate_definition(item.get("TuningObjective"), item.get("HyperParameterRanges") or {}, item, strategy)


def _validate_definition(objective: dict[str, Any] | None, ranges: dict[str, Any], definition: dict[str, Any],
                         strategy: str) -> None:
    if not objective:
        raise ValidationException("HyperParameterTuningJobObjective is required.")
    names = [d["Name"] for d in definition.get("AlgorithmSpecification", {}).get("MetricDefinitions") or []]
    if objective["MetricName"] not in names:
        raise ValidationException(
            f"The objective metric [{objective['MetricName']}] is not defined in the algorithm's MetricDefinitions."
        )
    for kind in ("ContinuousParameterRanges", "IntegerParameterRanges"):
        for item in ranges.get(kind, []):
            low, high = float(item["MinValue"]), float(item["MaxValue"])
            if low > high:
                raise ValidationException(f"MinValue of hyperparameter {item['Name']} must not exceed its MaxValue.")
            scaling = item.get("ScalingType", "Auto")
            if scaling not in _SCALINGS:
                raise ValidationException(f"ScalingType {scaling} of hyperparameter {item['Name']} is not valid.")
            if scaling == "Logarithmic" and low <= 0:
                raise ValidationException(f"Logarithmic scaling of hyperparameter {item['Name']} needs MinValue > 0.")
            if scaling == "ReverseLogarithmic" and not (0 <= low and high < 1):
                raise ValidationException(f"ReverseLogarithmic scaling of hyperparameter {item['Name']} needs 0 <= values < 1.")
    if strategy == "Grid" and ranges.get("ContinuousParameterRanges"):
        raise ValidationException("Grid search supports only categorical and integer parameter ranges.")


class SearchSpace:
    """ParameterRanges as optuna suggestions, and back to the string hyperparameters SageMaker passes."""

    def __init__(self, ranges: dict[str, Any]) -> None:
        self.continuous = ranges.get("ContinuousParameterRanges", [])
        self.integer = ranges.get("IntegerParameterRanges", [])
        self.categorical = ranges.get("CategoricalParameterRanges", [])

    def suggest(self, trial: optuna.Trial) -> dict[str, str]:
        values: dict[str, str] = {}
        for item in self.continuous:
            low, high = float(item["MinValue"]), float(item["MaxValue"])
            scaling = item.get("ScalingType", "Auto")
            if scaling == "Logarithmic":
                value = trial.suggest_float(item["Name"], low, high, log=True)
            elif scaling == "ReverseLogarithmic":
                value = 1.0 - trial.suggest_float(item["Name"] + ":1-x", 1.0 - high, 1.0 - low, log=True)
            else:
                value = trial.suggest_float(item["Name"], low, high)
            values[item["Name"]] = repr(float(value))
        for item in self.integer:
            low, high = int(item["MinValue"]), int(item["MaxValue"])
            log_scale = item.get("ScalingType") == "Logarithmic" and low > 0
            values[item["Name"]] = str(trial.suggest_int(item["Name"], low, high, log=log_scale))
        for item in self.categorical:
            values[item["Name"]] = str(trial.suggest_categorical(item["Name"], list(item["Values"])))
        return values

    def grid(self) -> dict[str, list[Any]]:
        grid: dict[str, list[Any]] = {item["Name"]: list(item["Values"]) for item in self.categorical}
        for item in self.integer:
            grid[item["Name"]] = list(range(int(item["MinValue"]), int(item["MaxValue"]) + 1))
        return grid


@dataclass
class SearchDefinition:
    """One training job definition trials are drawn from: its objective, its ranges and its own optuna study."""

    name: str | None  #: ``DefinitionName`` (None for a single ``TrainingJobDefinition``)
    request: dict[str, Any]
    objective: dict[str, str]
    space: SearchSpace
    regex: str
    study: optuna.Study | None = None

    @classmethod
    def all_of(cls, tuning_job: Any) -> list["SearchDefinition"]:
        config = tuning_job.hyper_parameter_tuning_job_config
        if tuning_job.training_job_definition is not None:
            chosen = [(None, tuning_job.training_job_definition, config["HyperParameterTuningJobObjective"],
                       config.get("ParameterRanges") or {})]
        else:
            chosen = [(item["DefinitionName"], item, item["TuningObjective"], item.get("HyperParameterRanges") or {})
                      for item in tuning_job.training_job_definitions]
        return [cls(name, request, objective, SearchSpace(ranges),
                    next(d["Regex"] for d in request["AlgorithmSpecification"]["MetricDefinitions"]
                         if d["Name"] == objective["MetricName"]))
                for name, request, objective, ranges in chosen]

    def better(self, value: float, than: float) -> bool:
        return value < than if self.objective["Type"] == "Minimize" else value > than


class TuningRun:
    """One tuning job's search loop, in a background thread. With several ``TrainingJobDefinitions`` the trials
    take the definitions in turn, each searched by its own study."""

    def __init__(self, tuner: "Tuner", backend: Any, tuning_job: Any) -> None:
        self.tuner = tuner
        self.backend = backend
        self.job = tuning_job
        config = tuning_job.hyper_parameter_tuning_job_config
        self.definitions = SearchDefinition.all_of(tuning_job)
        limits = config.get("ResourceLimits") or {}
        strategy = config.get("Strategy", "Bayesian")
        self.grid_points: Iterator[dict[str, str]] | None = None
        if strategy == "Grid":
            # Every combination, in order; no sampler is needed to walk a grid.
            grid = self.definitions[0].space.grid()
            names = list(grid)
            self.grid_points = ({n: str(v) for n, v in zip(names, combo)} for combo in itertools.product(*grid.values()))
            size = math.prod(len(v) for v in grid.values()) if grid else 1
            sampler: optuna.samplers.BaseSampler = optuna.samplers.RandomSampler()
            self.max_jobs = min(size, int(limits.get("MaxNumberOfTrainingJobs") or size))
        elif strategy == "Random":
            sampler = optuna.samplers.RandomSampler()
            self.max_jobs = int(limits["MaxNumberOfTrainingJobs"])
        else:
            sampler = optuna.samplers.TPESampler(n_startup_trials=min(4, int(limits["MaxNumberOfTrainingJobs"])))
            self.max_jobs = int(limits["MaxNumberOfTrainingJobs"])
        self.max_parallel = max(1, int(limits.get("MaxParallelTrainingJobs") or 1))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for definition in self.definitions:
            direction = "minimize" if definition.objective["Type"] == "Minimize" else "maximize"
            definition.study = optuna.create_study(direction=direction, sampler=copy.deepcopy(sampler))
        self.trials: dict[str, tuple[SearchDefinition, optuna.Trial | None, dict[str, str]]] = {}
        self.training_jobs: list[Any] = []
        self.finished: queue.Queue = queue.Queue()
        self.stop_requested = threading.Event()
        self.early_stopping = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
        self.curves: dict[str, list[float]] = {}
        self.thread = threading.Thread(target=self.run, name=f"tuning-{tuning_job.hyper_parameter_tuning_job_name}", daemon=True)

    # --- bookkeeping ----------------------------------------------------------------------------------
    def reset_record(self) -> None:
        job = self.job
        job.hyper_parameter_tuning_job_status = "InProgress"
        job.creation_time = job.last_modified_time = utcnow()
        job.hyper_parameter_tuning_end_time = None
        job.best_training_job = None
        job.OverallBestTrainingJob = None
        job.failure_reason = None
        job.tuning_job_completion_details = None
        job.consumed_resources = {"RuntimeInSeconds": 0}
        self.refresh_counters()

    def summary(self, training_job: Any) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "TrainingJobName": training_job.training_job_name,
            "TrainingJobArn": training_job.arn,
            "TuningJobName": self.job.hyper_parameter_tuning_job_name,
            "CreationTime": training_job.creation_time,
            "TrainingJobStatus": training_job.training_job_status,
            "TunedHyperParameters": self.trials[training_job.training_job_name][2],
            "ObjectiveStatus": self.objective_status(training_job),
        }
        for key, attr in (("TrainingStartTime", "training_start_time"), ("TrainingEndTime", "training_end_time"),
                          ("FailureReason", "failure_reason")):
            if getattr(training_job, attr, None):
                summary[key] = getattr(training_job, attr)
        definition = self.definition_of(training_job)
        if definition.name is not None:
            summary["TrainingJobDefinitionName"] = definition.name
        value = self.objective_value(training_job)
        if value is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": definition.objective["Type"], "MetricName": definition.objective["MetricName"], "Value": value,
            }
        return summary

    def definition_of(self, training_job: Any) -> SearchDefinition:
        return self.trials[training_job.training_job_name][0]

    def objective_value(self, training_job: Any) -> float | None:
        name = self.definition_of(training_job).objective["MetricName"]
        for metric in training_job.final_metric_data_list or []:
            if metric["MetricName"] == name:
                return float(metric["Value"])
        return None

    def objective_status(self, training_job: Any) -> str:
        if training_job.training_job_status in ("InProgress", "Stopping"):
            return "Pending"
        return "Succeeded" if self.objective_value(training_job) is not None else "Failed"

    def refresh_counters(self) -> None:
        statuses = [j.training_job_status for j in self.training_jobs]
        self.job.training_job_status_counters = {
            "Completed": statuses.count("Completed"),
            "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
            "RetryableError": 0,
            "NonRetryableError": statuses.count("Failed"),
            "Stopped": statuses.count("Stopped"),
        }
        objectives = [self.objective_status(j) for j in self.training_jobs]
        self.job.objective_status_counters = {
            "Succeeded": objectives.count("Succeeded"),
            "Pending": objectives.count("Pending"),
            "Failed": objectives.count("Failed"),
        }
        best, best_value = None, None
        for training_job in self.training_jobs:
            value = self.objective_value(training_job)
            if value is not None and (best is None or self.definition_of(training_job).better(value, best_value)):
                best, best_value = training_job, value
        if best is not None:
            self.job.best_training_job = self.summary(best)
        self.job.last_modified_time = utcnow()

    # --- the search -------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.search()
        except Exception as error:
            log.exception("tuning job %s crashed", self.job.hyper_parameter_tuning_job_name)
            self.job.failure_reason = f"InternalServerError: {type(error).__name__}: {error}"
            self.job.hyper_parameter_tuning_job_status = "Failed"
        finally:
            self.job.hyper_parameter_tuning_end_time = utcnow()
            elapsed = (self.job.hyper_parameter_tuning_end_time - self.job.creation_time).total_seconds()
            self.job.consumed_resources = {"RuntimeInSeconds": int(elapsed)}
            self.job.last_modified_time = utcnow()
            self.tuner.forget(self)

    def search(self) -> None:
        numbers = itertools.count(1)
        running: set[str] = set()
        launched = 0
        while True:
            while not self.stop_requested.is_set() and len(running) < self.max_parallel and launched < self.max_jobs:
                running.add(self.launch(next(numbers)))
                launched += 1
            if not running:
                break
            if self.stop_requested.is_set():
                for name in running:
                    job = moto_seam.training_job(self.backend, name)
                    if job is not None and job.training_job_status == "InProgress":
                        self.backend.stop_training_job(name)
            elif self.early_stopping:
                self.stop_early(running)
            try:
                finished, lines = self.finished.get(timeout=0.2)
            except queue.Empty:
                continue
            running.discard(finished.training_job_name)
            self.curves[finished.training_job_name] = metric_values(self.definition_of(finished).regex, lines)
            self.record(finished)
        self.refresh_counters()
        if self.stop_requested.is_set() and self.tuner.closing:
            self.job.failure_reason = "InternalServerError: the local runtime shut down while the tuning job was running"
            self.job.hyper_parameter_tuning_job_status = "Failed"
        elif self.stop_requested.is_set():
            self.job.hyper_parameter_tuning_job_status = "Stopped"
        elif self.job.objective_status_counters["Succeeded"] == 0:
            self.job.failure_reason = "All training jobs failed or reported no objective metric. Check the training jobs' FailureReason and logs."
            self.job.hyper_parameter_tuning_job_status = "Failed"
        else:
            self.job.hyper_parameter_tuning_job_status = "Completed"

    def launch(self, number: int) -> str:
        search = self.definitions[(number - 1) % len(self.definitions)]
        if self.grid_points is not None:
            trial, tuned = None, next(self.grid_points)
        else:
            trial = search.study.ask()
            tuned = search.space.suggest(trial)
        name = f"{self.job.hyper_parameter_tuning_job_name}-{number:03d}-{secrets.token_hex(4)}"
        definition = search.request
        hyper_parameters = {**(definition.get("StaticHyperParameters") or {}), **tuned}
        request = {**definition, "TrainingJobName": name, "HyperParameters": hyper_parameters}
        if request.get("ResourceConfig") is None and request.get("HyperParameterTuningResourceConfig"):
            request["ResourceConfig"] = trial_resources(request.pop("HyperParameterTuningResourceConfig"))
        training_job = self.backend.create_training_job(
            request, tuning_job_name=self.job.hyper_parameter_tuning_job_name, start=False)
        training_job.tuning_job_arn = self.job.arn
        self.trials[name] = (search, trial, tuned)
        self.training_jobs.append(training_job)
        self.refresh_counters()
        self.tuner.training.submit(training_job, self.backend.region_name, self.backend.account_id,
                                   lambda job, lines: self.finished.put((job, lines)))
        log.info("tuning job %s: started %s with %s", self.job.hyper_parameter_tuning_job_name, name, tuned)
        return name

    def worse_than_median(self, values: list[float]) -> bool:
        """The median stopping rule, against the trials that have ended."""
        step = len(values)
        if step == 0:
            return False
        peers = [statistics.fmean(curve[:step]) for curve in self.curves.values() if len(curve) >= step]
        if not peers:
            return False
        median = statistics.median(peers)
        return self.definitions[0].better(median, values[-1])

    def stop_early(self, running: set[str]) -> None:
        for name in running:
            job = moto_seam.training_job(self.backend, name)
            if job is None or job.training_job_status != "InProgress":
                continue
            values = metric_values(self.definitions[0].regex,
                                   self.tuner.training.output_lines(self.backend.region_name, job.arn))
            if self.worse_than_median(values):
                log.info("tuning job %s: stopping %s early (objective %s at step %d)",
                         self.job.hyper_parameter_tuning_job_name, name, values[-1], len(values))
                self.backend.stop_training_job(name)

    def record(self, training_job: Any) -> None:
        search, trial, _ = self.trials[training_job.training_job_name]
        value = self.objective_value(training_job)
        if trial is not None:  # grid points are not an optuna study's trials
            if value is None:
                search.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                search.study.tell(trial, value)
        self.refresh_counters()
        training_job.tuning_summary = self.summary(training_job)


class Tuner:
    """Runs every tuning job's search; training jobs go through the shared training scheduler."""

    def __init__(self, training: TrainingScheduler) -> None:
        self.training = training
        self._lock = threading.Lock()
        self._runs: dict[str, TuningRun] = {}
        self._finished: dict[str, TuningRun] = {}
        self.closing = False

    def start(self, backend: Any, tuning_job: Any) -> None:
        run = TuningRun(self, backend, tuning_job)
        run.reset_record()
        with self._lock:
            self._runs[tuning_job.arn] = run
        run.thread.start()

    def forget(self, run: TuningRun) -> None:
        with self._lock:
            self._runs.pop(run.job.arn, None)
            self._finished[run.job.arn] = run

    def _run_of(self, tuning_job: Any) -> TuningRun | None:
        with self._lock:
            return self._runs.get(tuning_job.arn) or self._finished.get(tuning_job.arn)

    def stop(self, backend: Any, tuning_job: Any) -> None:
        run = self._run_of(tuning_job)
        if run is not None:
            run.stop_requested.set()

    def summaries(self, backend: Any, tuning_job: Any) -> list[dict[str, Any]]:
        run = self._run_of(tuning_job)
        if run is not None:
            return [run.summary(job) for job in list(run.training_jobs)]
        # After a restart: the trials are the training jobs that name this tuning job.
        return [job.tuning_summary for job in moto_seam.training_jobs(backend)
                if getattr(job, "tuning_job_name", None) == tuning_job.hyper_parameter_tuning_job_name
                and getattr(job, "tuning_summary", None)]

    def shutdown(self, timeout: float = 15.0) -> None:
        self.closing = True
        self._end_runs(timeout)

    def reset(self, timeout: float = 15.0) -> None:
        """End every search now and forget the finished ones; new tuning jobs start afterwards."""
        self.closing = True
        try:
            self._end_runs(timeout)
        finally:
            with self._lock:
                self._finished.clear()
            self.closing = False

    def _end_runs(self, timeout: float) -> None:
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop_requested.set()
        deadline = time.monotonic() + timeout
        for run in runs:
            run.thread.join(timeout=max(0.1, deadline - time.monotonic()))
