"""The pawflow demo: the local runtime and Airflow's own services as processes, one pipeline run followed."""
