"""The usage report counts, per shipped statement and action, the allowed calls of a run, and flags unused ones."""

import json
from pathlib import Path

from local_aws.iam.judgement_log import JUDGEMENTS_FILE, JudgementLog, document_digest
from local_aws.iam.usage_report import main, policy_usage, read_judgements

IAM = Path(__file__).resolve().parents[2] / "iam"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
        {"Sid": "Jobs", "Effect": "Allow", "Action": "sagemaker:*TrainingJob", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    ],
}


def _record(action, statement, document=POLICY, outcome="allowed"):
    return {"identity": "arn:aws:sts::123456789012:assumed-role/r/s", "action": action, "resource": "*",
            "outcome": outcome, "policies": [{"digest": document_digest(document), "statement": statement,
                                              "effect": "Allow"}]}


def test_counts_each_action_entry_by_the_statement_that_allowed_the_call():
    records = [_record("s3:GetObject", 0), _record("s3:GetObject", 0), _record("sagemaker:CreateTrainingJob", 1),
               _record("sagemaker:DescribeTrainingJob", 1)]
    usage = policy_usage("p", POLICY, records)
    assert [(row.statement, row.action, row.calls) for row in usage.rows] == [
        ("Read", "s3:GetObject", 2), ("Read", "s3:ListBucket", 0), ("Jobs", "sagemaker:*TrainingJob", 2)]
    assert [row.action for row in usage.unused] == ["s3:ListBucket"]


def test_denied_calls_and_other_documents_do_not_count():
    other = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    records = [_record("s3:ListBucket", 0, outcome="denied"), _record("s3:ListBucket", 0, document=other)]
    assert {row.action: row.calls for row in policy_usage("p", POLICY, records).rows}["s3:ListBucket"] == 0


def test_the_digest_ignores_key_order_and_spacing():
    text = json.dumps(POLICY, indent=4)
    reordered = {"Statement": POLICY["Statement"], "Version": "2012-10-17"}
    assert document_digest(text) == document_digest(reordered) == document_digest(POLICY)


def test_command_lists_every_shipped_action_and_flags_an_added_unused_one(tmp_path, capsys):
    shipped = json.loads((IAM / "airflow-execution-role-policy.json").read_text())
    widened = {**shipped, "Statement": [*shipped["Statement"],
                                        {"Sid": "Extra", "Effect": "Allow", "Action": "s3:DeleteBucket",
                                         "Resource": "arn:aws:s3:::pawflow-*"}]}
    record = _record("s3:CreateBucket", 0, document=widened)
    JudgementLog(tmp_path / JUDGEMENTS_FILE).record(record["identity"], "s3:CreateBucket", record["action"], "*",
                                                    "allowed", "allowed", policies=record["policies"])
    policy_file = tmp_path / "widened.json"
    policy_file.write_text(json.dumps(widened))
    assert main([str(tmp_path), str(policy_file), "--fail-on-unused"]) == 1
    out = capsys.readouterr().out
    for statement in shipped["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action in out
    assert any("Extra" in line and "s3:DeleteBucket" in line and "UNUSED" in line for line in out.splitlines())
    assert any("DataBucket" in line and "s3:CreateBucket" in line and "UNUSED" not in line
               for line in out.splitlines())
    assert len(list(read_judgements(tmp_path))) == 1
