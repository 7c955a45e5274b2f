"""Airflow's UI in a real browser: sign in, find pawflow's DAGs, trigger the pipeline through its Params form."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

DAG_IDS = ("dog_breed_pipeline", "dog_breed_standalone_training", "dog_breed_teardown", "iam_audit")
PIPELINE = "dog_breed_pipeline"
RUN_URL = re.compile(rf"/dags/{PIPELINE}/runs/([^/?#]+)$")


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Open the UI, which sends a signed-out user to the simple auth manager's login form, and submit it."""
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", name="Sign into Airflow")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_as_admin(page: Page, airflow) -> None:
    environment = airflow.environment
    sign_in(page, environment.base_url, environment.username, environment.password)
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()


def param_field(dialog, name: str):
    """The form row of one Param; text fields carry no accessible name (their label points elsewhere)."""
    return dialog.get_by_role("group").filter(
        has=dialog.page.locator("label", has_text=re.compile(rf"^{re.escape(name)}\b")))


def test_sign_in_with_a_wrong_password_is_refused(page, airflow):
    sign_in(page, airflow.environment.base_url, airflow.environment.username, "not-the-password")

    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.get_by_role("heading", name="Welcome")).to_have_count(0)


def test_dag_list_shows_the_four_pawflow_dags(page, airflow, screenshots):
    sign_in_as_admin(page, airflow)

    page.get_by_role("link", name="Dags", exact=True).first.click()

    expect(page).to_have_url(re.compile(r"/dags$"))
    expect(page.get_by_role("heading", name=f"{len(DAG_IDS)} Dags", exact=True)).to_be_visible()
    for dag_id in DAG_IDS:
        expect(page.get_by_role("link", name=dag_id, exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "airflow_ui_dag_list.png")


def test_trigger_with_the_params_form_creates_a_run_with_that_conf(page, airflow, screenshots, keep_latest):
    defaults = airflow.client.param_defaults(PIPELINE)
    endpoint_name = f"ui-{uuid.uuid4().hex[:12]}"
    tuning_max_jobs = defaults["tuning_max_jobs"] + 1
    sign_in_as_admin(page, airflow)
    page.get_by_role("link", name="Dags", exact=True).first.click()
    page.get_by_role("link", name=PIPELINE, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{PIPELINE}$"))
    expect(page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name=PIPELINE)).to_be_visible()

    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Trigger Dag - {PIPELINE}")).to_be_visible()
    expect(dialog.get_by_role("button", name="Run Parameters")).to_be_visible()
    tuning_jobs = dialog.get_by_role("spinbutton", name="tuning_max_jobs")
    expect(tuning_jobs).to_have_value(str(defaults["tuning_max_jobs"]))
    tuning_jobs.fill(str(tuning_max_jobs))
    endpoint = param_field(dialog, "endpoint_name").get_by_role("textbox")
    expect(endpoint).to_have_value(defaults["endpoint_name"])
    endpoint.fill(endpoint_name)
    expect(endpoint).to_have_value(endpoint_name)
    param_field(dialog, "tuning_max_jobs").evaluate("row => row.scrollIntoView({block: 'start'})")
    page.screenshot(path=screenshots / "airflow_ui_trigger_form.png")

    dialog.get_by_role("button", name="Trigger", exact=True).click()

    expect(dialog).to_be_hidden()
    # The toast region can hold the same toast twice while it animates in.
    expect(page.get_by_role("status", name="Dag Run Triggered").first).to_be_visible()
    expect(page).to_have_url(RUN_URL)
    run_id = unquote(RUN_URL.search(page.url).group(1))
    assert run_id.startswith("manual__"), run_id
    page.get_by_role("link", name="Details", exact=True).click()
    expect(page.get_by_role("row", name=f"Run ID {run_id}")).to_be_visible()
    expect(page.get_by_role("row", name="Run Type Manual", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name="Triggered By ui", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name=f"Triggering User {airflow.environment.username}", exact=True)).to_be_visible()
    conf_row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="Conf", exact=True))
    expect(conf_row).to_contain_text(f'"endpoint_name": "{endpoint_name}"')
    expect(conf_row).to_contain_text(f'"tuning_max_jobs": {tuning_max_jobs}')
    run_view = screenshots / "airflow_ui_run.png"
    conf_row.scroll_into_view_if_needed()
    page.screenshot(path=run_view)
    keep_latest(run_view)

    runs = airflow.client.dag_runs(PIPELINE)
    assert [run["dag_run_id"] for run in runs] == [run_id], "one click, one run"
    run = runs[0]
    assert run["run_type"] == "manual"
    assert run["conf"]["endpoint_name"] == endpoint_name
    assert run["conf"]["tuning_max_jobs"] == tuning_max_jobs
    untouched = {name: value for name, value in defaults.items() if name not in ("endpoint_name", "tuning_max_jobs")}
    assert {name: run["conf"][name] for name in untouched} == untouched, "fields left alone keep their defaults"
