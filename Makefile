# pawflow: `make demo` runs the whole pipeline on the local runtime, `make test` runs the tests.
# Both set everything up first: a .venv installed from requirements.lock with uv.

PYTHON      ?= python3
VENV        := .venv
TOOLS       := .tools
UV_VERSION  := 0.13.9
UV          := $(TOOLS)/bin/uv
# docker-compose 1.29.2 (the last PyPI release) validates docker-compose.yaml offline; it needs
# pyyaml 5.3.1, which Airflow's set cannot take, so it lives in the tools venv beside uv.
COMPOSE_VALIDATOR := docker-compose==1.29.2 pyyaml==5.3.1
COMPOSE     := $(TOOLS)/bin/docker-compose
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed

# torch must be the CPU build. Where pip is configured with a local wheel folder (find-links),
# uv is pointed at it; elsewhere at PyTorch's CPU wheel index. No machine path is written here.
FIND_LINKS  := $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
TORCH_SOURCE := $(if $(FIND_LINKS),$(foreach d,$(FIND_LINKS),--find-links $(d)),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)

# loadfile: a test module goes to one worker, so an expensive module fixture (a pipeline run, the Celery stack, a
# training job) runs once. (loadgroup's xdist_group marks are ignored with pytest 9.2: xdist 3.8 renames node ids
# through an attribute pytest no longer reads.)
PYTEST_ARGS ?= -n auto --dist loadfile
# `make demo EXECUTOR=celery` runs Airflow as docker-compose.yaml does: PostgreSQL, Redis, CeleryExecutor.
EXECUTOR    ?= local

# The SageMaker Python SDK v2 pins its own boto3 (and packaging<25, which Airflow cannot take): it gets its own
# venv, used only by tests/clients/test_sagemaker_sdk_v2.py, and stays out of requirements.lock.
SDK_V2_VENV  := .venv-sdk-v2
SDK_V2_STAMP := $(SDK_V2_VENV)/.installed

.PHONY: install sdk-v2 sdk-v2-lock browser stack-servers moto-suite-env moto-suite test demo lock bench clean

install: $(STAMP)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(COMPOSE): | $(UV)
	$(UV) pip install --quiet --python $(TOOLS)/bin/python $(COMPOSE_VALIDATOR)

$(STAMP): requirements.lock pyproject.toml | $(UV) $(COMPOSE)
	test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) $(TORCH_SOURCE) requirements.lock
	$(PY) training_code/torchvision_compat.py
	touch $(STAMP)

# Re-resolve the dependency set after editing pyproject.toml.
lock: | $(UV)
	$(UV) pip compile pyproject.toml --extra test --python-version 3.11 $(TORCH_SOURCE) \
		--no-emit-find-links --no-emit-index-url --custom-compile-command "make lock" -o requirements.lock

sdk-v2: $(SDK_V2_STAMP)

$(SDK_V2_STAMP): sdk-v2/requirements.txt | $(UV)
	test -x $(SDK_V2_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(SDK_V2_VENV)
	$(UV) pip sync --quiet --python $(SDK_V2_VENV)/bin/python sdk-v2/requirements.txt
	touch $(SDK_V2_STAMP)

# Re-resolve the SDK v2 venv after editing sdk-v2/requirements.in.
sdk-v2-lock: | $(UV)
	$(UV) pip compile sdk-v2/requirements.in --python-version 3.11 --no-emit-index-url \
		--custom-compile-command "make sdk-v2-lock" -o sdk-v2/requirements.txt

# The UI test drives Debian's Chromium (Playwright's own browser download needs the open internet).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and not root: install Debian's chromium package, or the UI test skips"; fi; }

# The Celery mode's servers come from Debian's packages (no Docker): PostgreSQL's initdb/postgres, redis-server.
stack-servers:
	@{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	  && command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null; \
	  else echo "PostgreSQL or redis-server not found and not root: install Debian's postgresql and redis-server \
	packages, or the Celery mode's test skips and \`make demo EXECUTOR=celery\` stops saying what is missing"; fi; }

# moto 5.2.5's own tests run in server mode against stock moto and against local_aws (tests/moto_suite/). Their
# sdist ships tests/; they need freezegun, which the project's set lacks, so they get a venv of their own.
MOTO_SUITE_DIR     ?= $(TOOLS)/moto-suite
MOTO_SUITE_PY      := $(MOTO_SUITE_DIR)/venv/bin/python
MOTO_SUITE_TESTS   := $(MOTO_SUITE_DIR)/moto-5.2.5
MOTO_SUITE_STAMP   := $(MOTO_SUITE_DIR)/.installed
# Empty: every folder the runner knows (sts applicationautoscaling sagemakerruntime cloudwatch logs iam sagemaker awslambda).
MOTO_SUITE_FOLDERS ?=
MOTO_SUITE_WORKERS ?= 2

moto-suite-env: $(MOTO_SUITE_STAMP)

$(MOTO_SUITE_STAMP): tests/moto_suite/requirements.txt | $(UV)
	test -x $(MOTO_SUITE_PY) || $(UV) venv --quiet --python $(PYTHON) $(MOTO_SUITE_DIR)/venv
	$(UV) pip install --quiet --python $(MOTO_SUITE_PY) -r tests/moto_suite/requirements.txt
	test -f $(MOTO_SUITE_DIR)/moto-5.2.5.tar.gz || \
	  $(TOOLS)/bin/pip download --quiet --no-binary :all: --no-deps moto==5.2.5 -d $(MOTO_SUITE_DIR)
	rm -rf $(MOTO_SUITE_TESTS)
	tar -xzf $(MOTO_SUITE_DIR)/moto-5.2.5.tar.gz -C $(MOTO_SUITE_DIR) moto-5.2.5/tests moto-5.2.5/setup.cfg
	touch $(MOTO_SUITE_STAMP)

# The slower tier: every folder against both servers; fails on a difference not in tests/moto_suite/expected_differences.txt.
# JUnit reports of both sides are left in $(MOTO_SUITE_DIR)/results.
moto-suite: install moto-suite-env
	rm -rf $(MOTO_SUITE_DIR)/results
	PYTHONPATH=. $(PY) tests/moto_suite/runner.py --moto-tests $(MOTO_SUITE_TESTS) --python $(MOTO_SUITE_PY) \
		--workers $(MOTO_SUITE_WORKERS) --results $(MOTO_SUITE_DIR)/results \
		$(if $(MOTO_SUITE_FOLDERS),--folders $(MOTO_SUITE_FOLDERS))

test: install sdk-v2 browser stack-servers moto-suite-env
	$(PY) -m pytest $(PYTEST_ARGS)

# KEEP=1 leaves the Airflow UI and the local runtime up after the run (Ctrl-C stops them).
demo: install $(if $(filter celery,$(EXECUTOR)),stack-servers)
	PYTHONPATH=plugins:. $(PY) -m pawflow.demo --executor $(EXECUTOR) $(if $(KEEP),--keep)

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(SDK_V2_VENV) $(TOOLS) .pytest_cache
