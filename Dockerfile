# The Airflow image of docker-compose.yaml: the official Airflow 3.3.2 image plus pawflow's pinned set.
# The same image runs the local AWS runtime service (it trains and serves with the same torch).
FROM apache/airflow:3.3.2-python3.11

USER root
# gcc: three SageMaker toolkit packages in the lock are source distributions.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.lock /opt/pawflow/requirements.lock
# torch comes from PyTorch's CPU wheel index (the lock pins the +cpu build): no multi-GB CUDA download.
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip install --no-cache --python "$(command -v python)" \
      --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match \
      -r /opt/pawflow/requirements.lock

# The checkout keeps its layout, so dags/, plugins/, training_code/ and lambda/ find each other as in a clone.
COPY --chown=airflow:root dags /opt/pawflow/dags
COPY --chown=airflow:root plugins /opt/pawflow/plugins
COPY --chown=airflow:root training_code /opt/pawflow/training_code
COPY --chown=airflow:root lambda /opt/pawflow/lambda
COPY --chown=airflow:root local_aws /opt/pawflow/local_aws
ENV PYTHONPATH=/opt/pawflow/plugins:/opt/pawflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/pawflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/pawflow/plugins
WORKDIR /opt/pawflow
