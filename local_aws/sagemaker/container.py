"""The inside of one training host: ``python -m local_aws.sagemaker.container``.

Run with ``SAGEMAKER_BASE_DIR`` pointing at the host's ``opt/ml`` directory (already laid out by the
job runner). Builds the training environment exactly as the SageMaker training toolkit does
(``sagemaker_training.environment.Environment``: ``SM_*`` variables, hyperparameters as
``--name value`` arguments) and then replaces itself with the user's program, so the program's
process is the host's process. The toolkit's DNS wait for ``algo-N`` is skipped: hosts are reached at
the addresses in ``PAWFLOW_HOST_ADDRESSES`` (all loopback), which also sets ``MASTER_ADDR``. A host of a
multi-host job first pins itself to its share of the cores (``host_resources``).
"""

from __future__ import annotations

import json
import os
import sys

from local_aws.sagemaker.host_resources import apply_host_share, report_cpus


def program_command(code_dir: str, program: str, cmd_args: list[str]) -> list[str]:
    path = os.path.join(code_dir, program)
    if program.endswith(".py"):
        return [sys.executable, "-u", path, *cmd_args]
    if program.endswith(".sh"):
        return ["/bin/sh", path, *cmd_args]
    return [path, *cmd_args]


def main() -> None:
    if "SAGEMAKER_BASE_DIR" not in os.environ:
        sys.exit("local_aws.sagemaker.container: SAGEMAKER_BASE_DIR is not set")
    from sagemaker_training import environment

    cpus = apply_host_share(os.environ)
    training_env = environment.Environment()
    env = dict(os.environ)
    env.update(training_env.to_env_vars())
    if cpus is not None:
        report_cpus(env, cpus)
    program = training_env.user_entry_point
    if not program or program == "None":
        sys.exit("AlgorithmError: hyperparameter sagemaker_program names no entry point")
    code_dir = environment.code_dir
    addresses = json.loads(env.get("PAWFLOW_HOST_ADDRESSES", "{}"))
    env.setdefault("MASTER_ADDR", addresses.get(training_env.master_hostname, "127.0.0.1"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (code_dir, env.get("PYTHONPATH", "")) if p)
    command = program_command(code_dir, program, training_env.to_cmd_args())
    if not os.path.exists(os.path.join(code_dir, program)):
        sys.exit(f"AlgorithmError: entry point {program} not found in the submitted source directory")
    os.chdir(code_dir)
    sys.stdout.flush()
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
