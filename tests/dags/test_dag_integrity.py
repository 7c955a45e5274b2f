"""The DAG folder loads without import errors, holds the four DAGs, and no file loads heavy modules or calls AWS
at parse time (parse time itself is measured by ``benchmarks/dag_parse.py``)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(path.name for path in (REPO / "dags").glob("*.py"))
DAG_IDS = {"dog_breed_pipeline", "dog_breed_standalone_training", "dog_breed_teardown", "iam_audit"}
#: Modules a DAG file must not load at parse time (what parsing costs is ``python -m benchmarks.dag_parse``).
HEAVY_MODULES = ("torch", "torchvision", "sagemaker", "sagemaker.core", "parliament", "moto", "PIL", "numpy", "pandas",
                 "local_aws")


@pytest.fixture(scope="module")
def dagbag_report(run_python):
    code = textwrap.dedent("""
        import json
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag("dags")
        print(json.dumps({
            "errors": bag.import_errors,
            "dags": {dag_id: {"tasks": sorted(dag.task_ids), "params": sorted(dag.params)}
                     for dag_id, dag in bag.dags.items()},
        }))
    """)
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dagbag_has_no_import_errors(dagbag_report):
    assert dagbag_report["errors"] == {}


def test_dagbag_holds_the_four_dags(dagbag_report):
    assert set(dagbag_report["dags"]) == DAG_IDS


def test_pipeline_has_every_step_of_the_project(dagbag_report):
    tasks = set(dagbag_report["dags"]["dog_breed_pipeline"]["tasks"])
    assert {
        "plan", "sync_data", "upload_training_code", "feature_plan", "extraction_needed", "extract_features",
        "publish_features", "tuning_config", "tune_hyperparameters", "training_configs",
        "train_single_instance", "train_multi_instance", "deployment_config", "deploy_endpoint",
        "autoscale_endpoint", "deploy_lambda", "invoke_before_grant", "grant_least_privilege_invoke", "smoke_event",
        "smoke_invoke_lambda", "check_smoke_answer", "lambda_concurrency", "tear_down_requested", "tear_down",
    } == tasks


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_dag_file_imports_no_heavy_module_at_parse_time(run_python, dag_file):
    code = textwrap.dedent(f"""
        import importlib.util, json, sys
        spec = importlib.util.spec_from_file_location("dag_under_test", "dags/{dag_file}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))
    """)
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [], f"{dag_file} imports these at parse time"


def test_dag_files_call_no_aws_and_read_no_variables_at_parse_time(run_python, airflow_env):
    env = {**airflow_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x"}
    code = textwrap.dedent("""
        import json, botocore.client
        from airflow.sdk import Variable
        calls = []
        original = botocore.client.BaseClient._make_api_call
        def record(self, operation, params):
            calls.append(operation)
            return original(self, operation, params)
        botocore.client.BaseClient._make_api_call = record
        Variable.get = staticmethod(lambda *a, **k: calls.append("Variable.get"))
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag("dags")
        print(json.dumps({"calls": calls, "dags": len(bag.dags)}))
    """)
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"calls": [], "dags": 4}
