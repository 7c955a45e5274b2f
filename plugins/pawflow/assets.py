"""Airflow assets pawflow's DAGs are scheduled on."""

from __future__ import annotations

from airflow.sdk import Asset

#: The dog images the pipeline trains on. An event on this asset (from the REST API, ``airflow assets``
#: or any task with ``outlets=[DOG_IMAGES]``) starts a retraining run of ``dog_breed_pipeline``.
DOG_IMAGES = Asset(name="dog_breed_images", uri="s3://pawflow-dog-breeds/dogImages/", group="pawflow")
