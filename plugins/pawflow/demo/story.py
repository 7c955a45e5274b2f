"""What ``make demo`` prints and saves: the pipeline's story told task by task as the run goes.

It reads what a user would look at in the console: task states and XComs through Airflow's REST API, and the
resources themselves (tuning trials, training metrics, the endpoint, the Lambda) through the local runtime's
AWS API.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import tarfile
import time
from pathlib import Path

from pawflow.demo.airflow_services import AirflowApiClient, AirflowEnvironment
from pawflow.demo.celery_stack import CeleryStack
from pawflow.demo.processes import DemoServices
from pawflow.demo.report import write_report

IAM_DIR = Path(__file__).resolve().parents[3] / "iam"
SHIPPED_POLICIES = ("airflow-execution-role-policy.json", "sagemaker-execution-role-policy.json",
                    "lambda-permissions-boundary.json")

REPO = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}
LATENCY_REQUESTS = 30

#: The demo's run: the write-up's pipeline, sized for a 2-core machine.
DEMO_CONF = {
    "tuning_max_jobs": 4,
    "tuning_max_parallel_jobs": 2,
    "multi_instance_count": 2,
    "epochs": 3,
    # Not shorter: a deferred task whose trigger fires within a few seconds of the deferral can be failed by Airflow
    # 3.3's scheduler, which then drains the deferral's own "success" as a state mismatch (apache/airflow#67287,
    # #72716). A 5 s poll leaves the scheduler time to drain it first.
    "poll_seconds": 5,
    "deferrable": True,
    "keep_resources": True,
}


def worker_spread(task_instances: list[dict]) -> dict[str, list[str]]:
    """Task ids by the host that ran them; tasks that never ran (skipped) have no host and are left out."""
    spread: dict[str, list[str]] = {}
    for ti in sorted(task_instances, key=lambda t: t.get("start_date") or "~"):
        if ti.get("hostname"):
            spread.setdefault(ti["hostname"], []).append(ti["task_id"])
    return spread


class PipelineStory:
    """Prints the run as it happens and gathers what the report shows.

    :param out: the demo's output folder (runtime state, Airflow home, logs, report).
    """

    def __init__(self, out: Path):
        self.out = out
        self.report: dict = {"summary": {}, "trials": [], "curves": {}, "latencies_ms": []}
        self._aws_endpoint: str | None = None
        self._phase_started = time.monotonic()
        self._phase_name: str | None = None
        self.phases: dict[str, float] = {}

    # -- set-up ---------------------------------------------------------------------------------------
    def reset_output_dir(self) -> None:
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)

    def phase(self, name: str) -> None:
        """Start timing a phase of the demo; the previous one ends."""
        now = time.monotonic()
        if self._phase_name:
            self.phases[self._phase_name] = now - self._phase_started
        self._phase_name, self._phase_started = name, now
        print(f"\n== {name}", flush=True)

    def prepare_data(self) -> Path:
        from pawflow.sample_data import generate_dog_images

        self.phase("demo data set")
        data_dir = generate_dog_images(self.out / "dogImages", num_classes=10, train_per_class=24,
                                       valid_per_class=6, test_per_class=6, image_size=128, seed=7)
        images = sum(1 for _ in data_dir.rglob("*.jpg"))
        print(f"   {images} generated JPEGs in the dogImages layout (10 breeds, train/valid/test) at {data_dir}")
        return data_dir

    def runtime_environ(self) -> dict[str, str]:
        import os

        return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")]),
                "AWS_DEFAULT_REGION": REGION}

    def _client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self._aws_endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def runtime_ready(self, endpoint_url: str) -> str:
        """The account's one-time set-up, as an administrator does it before the DAGs run; the Airflow role's ARN."""
        from pawflow.account_setup import set_up_account

        self._aws_endpoint = endpoint_url
        arns = set_up_account(self._client("iam"), self._client("sts"))
        print(f"   local AWS runtime on {endpoint_url}; account set up: " + ", ".join(arns.values()))
        print(f"   Airflow works as {arns['AirflowRoleArn']}: every call it makes is judged by IAM")
        return arns["AirflowRoleArn"]

    def airflow_ready(self, airflow: AirflowEnvironment | CeleryStack, client: AirflowApiClient) -> None:
        services = "api-server, scheduler, dag-processor, triggerer"
        if isinstance(airflow, CeleryStack):
            print(f"   PostgreSQL on {airflow.postgres.address}, Redis on {airflow.redis_address}; configured from "
                  "docker-compose.yaml's x-airflow-common (CeleryExecutor)")
            services += ", Celery workers " + ", ".join(f"celery@{name}" for name in airflow.worker_names)
        print(f"   Airflow {airflow.base_url}: {services} healthy; DAGs: {', '.join(sorted(client.dag_ids()))}")

    def run_conf(self, data_dir: Path) -> dict:
        conf = {**DEMO_CONF, "data_source": str(data_dir)}
        self.phase("dog_breed_pipeline")
        print("   triggered through the REST API with " + ", ".join(f"{k}={v}" for k, v in conf.items()))
        return conf

    # -- following the run ----------------------------------------------------------------------------
    def follow(self, client: AirflowApiClient, dag_id: str, run_id: str, *, services: DemoServices,
               timeout: float) -> bool:
        """Print each task as it finishes, with its duration and what it did; True when the run succeeded."""
        deadline = time.monotonic() + timeout
        told: set[str] = set()
        while True:
            services.check_alive()
            run = client.dag_run(dag_id, run_id)
            for ti in sorted(client.task_instances(dag_id, run_id), key=lambda t: t.get("end_date") or "~"):
                if ti["state"] in FINISHED and ti["task_id"] not in told:
                    told.add(ti["task_id"])
                    self._tell_task(client, dag_id, run_id, ti)
            if run["state"] in ("success", "failed"):
                print(f"\n   run {run_id}: {run['state'].upper()}")
                return run["state"] == "success"
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s")
            time.sleep(2)

    def _tell_task(self, client: AirflowApiClient, dag_id: str, run_id: str, ti: dict) -> None:
        task_id, state = ti["task_id"], ti["state"]
        mark = {"success": "ok", "skipped": "skipped"}.get(state, state.upper())
        print(f" - {task_id:<34} {mark:<8} {ti.get('duration') or 0:7.1f} s", flush=True)
        if state == "failed":
            log = client.task_log(dag_id, run_id, task_id, ti["try_number"], ti.get("map_index", -1))
            tail = "\n".join(log.splitlines()[-40:])
            print("   --- last lines of its log ---\n" + "\n".join("   | " + line for line in tail.splitlines()))
            return
        if state != "success":
            return
        teller = getattr(self, f"_tell_{task_id}", None)
        if teller:
            try:
                value = client.xcom(dag_id, run_id, task_id)
            except RuntimeError:
                value = None
            teller(value)

    def _tell_sync_data(self, value: dict) -> None:
        print(f"   {value['Objects']} objects at {value['DataUri']} ({value['Uploaded']} uploaded, "
              f"{value['Unchanged']} unchanged)")
        self.report["summary"]["data set"] = value["DataUri"]

    def _tell_tune_hyperparameters(self, value: dict) -> None:
        tuning = value["Tuning"]
        name = tuning["HyperParameterTuningJobName"]
        sagemaker = self._client("sagemaker")
        summaries = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100)["TrainingJobSummaries"]
        print(f"   tuning job {name}: {len(summaries)} trials")
        print(f"   {'trial':<44} {'learning_rate':>13} {'batch_size':>10} {'Test Loss':>10}  status")
        for summary in sorted(summaries, key=lambda s: s["TrainingJobName"]):
            params = {k: v.strip('"') for k, v in summary["TunedHyperParameters"].items()}
            objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
            self.report["trials"].append({"name": summary["TrainingJobName"],
                                          "learning_rate": float(params["learning_rate"]),
                                          "batch_size": int(params["batch_size"]), "objective": objective})
            shown = f"{objective:10.3g}" if objective is not None else f"{'-':>10}"
            print(f"   {summary['TrainingJobName']:<44} {float(params['learning_rate']):13.5f} "
                  f"{params['batch_size']:>10} {shown}  {summary['TrainingJobStatus']}")
        best = tuning["BestTrainingJob"]
        print(f"   best: {best['TrainingJobName']} with "
              f"{ {k: v.strip(chr(34)) for k, v in best['TunedHyperParameters'].items()} }")
        self.report["summary"]["best trial"] = best["TrainingJobName"]

    def _tell_training(self, label: str, value: dict) -> None:
        job = value["Training"]
        metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        count = job["ResourceConfig"]["InstanceCount"]
        print(f"   {job['TrainingJobName']}: {count} instance(s), test accuracy "
              f"{metrics.get('Test Accuracy', float('nan')):.3f}, test loss {metrics.get('Test Loss', float('nan')):.3g}")
        self.report["summary"][f"{label} test accuracy"] = round(metrics.get("Test Accuracy", float("nan")), 4)
        curve = self._metrics_of(job)
        if curve:
            self.report["curves"][f"{label} ({count} instance{'s' if count > 1 else ''})"] = curve

    def _tell_train_single_instance(self, value: dict) -> None:
        self._tell_training("single-instance", value)

    def _tell_train_multi_instance(self, value: dict) -> None:
        self._tell_training("multi-instance", value)

    def _metrics_of(self, job: dict) -> dict | None:
        """metrics.json from the job's output.tar.gz, as training wrote it."""
        model_uri = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        if not model_uri.startswith("s3://"):
            return None
        bucket, key = model_uri[5:].split("/", 1)
        key = key.rsplit("/", 1)[0] + "/output.tar.gz"
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception:  # noqa: BLE001 - the report is optional; the story says what is missing
            print(f"   (no output.tar.gz at s3://{bucket}/{key}: no training curve for this job)")
            return None
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            member = next((m for m in archive.getmembers() if m.name.endswith("metrics.json")), None)
            return json.load(archive.extractfile(member)) if member else None

    def _tell_deploy_endpoint(self, value: dict) -> None:
        endpoint = value["EndpointConfig"]["EndpointConfigName"] if "EndpointConfig" in value else None
        name = value.get("Endpoint", {}).get("EndpointName")
        described = self._client("sagemaker").describe_endpoint(EndpointName=name)
        print(f"   endpoint {name} {described['EndpointStatus']} (config {endpoint}, "
              f"{described['ProductionVariants'][0]['CurrentInstanceCount']} instance)")
        self.report["summary"]["endpoint"] = f"{name} {described['EndpointStatus']}"

    def _tell_autoscale_endpoint(self, value: dict) -> None:
        target, policy = value["ScalableTarget"], value["ScalingPolicy"]
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        print(f"   {target['ResourceId']}: {target['MinCapacity']}..{target['MaxCapacity']} instances, "
              f"target {tracking['TargetValue']} invocations/instance, cooldowns "
              f"out {tracking.get('ScaleOutCooldown')} s / in {tracking.get('ScaleInCooldown')} s")
        self.report["summary"]["autoscaling"] = (f"{target['MinCapacity']}..{target['MaxCapacity']}, "
                                                 f"target {tracking['TargetValue']}")

    def _tell_invoke_before_grant(self, value: dict) -> None:
        print(f"   before the grant the Lambda answered {value['StatusCode']} {value['Code']}: {value['Message']}")
        if value.get("AwsError"):
            print(f"   its call to SageMaker got AccessDeniedException: {value['AwsError']}")
        self.report["summary"]["Lambda before least privilege"] = f"{value['StatusCode']} {value['Code']}"

    def _tell_grant_least_privilege_invoke(self, value: dict) -> None:
        statement = value["PolicyDocument"]["Statement"][0]
        print(f"   role {value['RoleName']}: {statement['Action']} on {statement['Resource']} only"
              + (f"; detached {', '.join(value['DetachedPolicyArns'])}" if value.get("DetachedPolicyArns") else ""))

    def _tell_check_smoke_answer(self, value: dict) -> None:
        print(f"   the Lambda answered 200: top breed {value['label']} (p={value['probability']:.3f})")
        self.report["summary"]["Lambda after least privilege"] = f"200, top breed {value['label']}"

    def _tell_lambda_concurrency(self, value: dict) -> None:
        provisioned = value.get("ProvisionedConcurrency") or {}
        print(f"   {value['FunctionName']} version {value['Version']} behind alias "
              f"{(value.get('Alias') or {}).get('Name')}: reserved {value['ReservedConcurrentExecutions']}, "
              f"provisioned {provisioned.get('AllocatedProvisionedConcurrentExecutions')} "
              f"({provisioned.get('Status')})")
        self.report["summary"]["Lambda concurrency"] = (f"reserved {value['ReservedConcurrentExecutions']}, "
                                                        f"provisioned {provisioned.get('Status')}")

    def tell_workers(self, client: AirflowApiClient, dag_id: str, run_id: str, stack: CeleryStack) -> None:
        """Which Celery worker ran which task (each task instance's ``hostname``)."""
        spread = worker_spread(client.task_instances(dag_id, run_id))
        print("   task-to-worker spread (task instances' hostname):")
        for hostname in sorted(spread):
            print(f"   {hostname:<18} {len(spread[hostname]):>2} tasks: {', '.join(spread[hostname])}")
        self.report["summary"]["task-to-worker spread"] = ", ".join(
            f"{hostname} {len(tasks)}" for hostname, tasks in sorted(spread.items()))
        triggerers = {job["id"]: job["hostname"] for job in client.jobs("TriggererJob")}
        waits = stack.triggered_waits(dag_id, run_id)
        print("   waits run by the triggerer, then resumed on a worker: "
              + (", ".join(f"{task} ({triggerers.get(job, f'job {job}')})" for task, job in waits.items())
                 or "none"))
        self.report["summary"]["waits in the triggerer"] = ", ".join(waits) or "none"

    # -- the end --------------------------------------------------------------------------------------
    def finish(self, airflow: AirflowEnvironment, *, ok: bool, total_seconds: float) -> None:
        self.phase("a dog picture through the Lambda")
        if ok:
            self._predict_sample()
        self.phase("least privilege, measured")
        self._least_privilege()
        if self._phase_name:
            self.phases[self._phase_name] = time.monotonic() - self._phase_started
            self._phase_name = None
        self.report["summary"]["demo run time (after installation)"] = f"{total_seconds:.0f} s"
        self.report["phases_seconds"] = {k: round(v, 1) for k, v in self.phases.items()}
        page = write_report(self.report, self.out)
        print("\n== where things are")
        print("   time by phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items()))
        print(f"   report:  {page}")
        print(f"   logs:    {self.out / 'logs'} and {self.out / 'airflow' / 'logs'}")
        print(f"   UI:      {airflow.base_url} (login {airflow.username} / {airflow.password}) while it runs; "
              "`make demo KEEP=1` keeps it up after the run")

    def _predict_sample(self) -> None:
        sample = sorted((self.out / "dogImages" / "test").rglob("*.jpg"))[0]
        event = json.dumps({"image": base64.b64encode(sample.read_bytes()).decode("ascii")})
        lambda_client = self._client("lambda")
        for _ in range(LATENCY_REQUESTS):
            started = time.perf_counter()
            response = lambda_client.invoke(FunctionName=self._function_name(), Payload=event)
            self.report["latencies_ms"].append((time.perf_counter() - started) * 1000)
            answer = json.loads(response["Payload"].read())
        body = json.loads(answer["body"])
        print(f"   {sample.parent.name}/{sample.name} (true breed {sample.parent.name.split('.', 1)[1]}):")
        for prediction in body.get("predictions", [])[:3]:
            print(f"     {prediction['label']:<32} {prediction['probability']:.3f}")
        ordered = sorted(self.report["latencies_ms"])
        print(f"   {LATENCY_REQUESTS} invokes through the Lambda: p50 {ordered[len(ordered) // 2]:.0f} ms")

    def _least_privilege(self) -> None:
        """What IAM judged during the run, and how much of each shipped policy the run used."""
        from local_aws.iam.judgement_log import JUDGEMENTS_FILE
        from local_aws.iam.usage_report import policy_usage, read_judgements, render

        log = self.out / "local-aws" / JUDGEMENTS_FILE
        if not log.exists():
            print("   no call was judged (the runtime's judgement log is missing)")
            return
        judgements = list(read_judgements(log))
        by_identity: dict[str, int] = {}
        for record in judgements:
            role = record.get("identity", "").split("/")[1] if "/" in record.get("identity", "") else "?"
            by_identity[role] = by_identity.get(role, 0) + 1
        denied = [r for r in judgements if r.get("outcome") != "allowed"]
        print(f"   {len(judgements)} calls judged by IAM: " + ", ".join(f"{n} as {role}" for role, n in
                                                                      sorted(by_identity.items())))
        for record in denied:
            print(f"   denied: {record.get('action')} on {record.get('resource')} to {record.get('identity')}")
        usages = [policy_usage(path.name, json.loads(path.read_text()), judgements)
                  for path in (IAM_DIR / name for name in SHIPPED_POLICIES)]
        for usage in usages:
            unused = ", ".join(f"{row.action} ({row.statement})" for row in usage.unused) or "none"
            print(f"   {usage.name}: {len(usage.rows) - len(usage.unused)} of {len(usage.rows)} actions used; "
                  f"unused: {unused}")
        report = self.out / "iam-usage.txt"
        report.write_text(render(usages, len(judgements), {r.get("identity", "") for r in judgements}) + "\n")
        print(f"   the whole table: {report}")

    def _function_name(self) -> str:
        return "dog-breed-classifier"

    def keep_running(self, airflow: AirflowEnvironment) -> None:
        print(f"\n   Airflow UI: {airflow.base_url}  (login {airflow.username} / {airflow.password}); "
              "Ctrl-C stops everything.")
