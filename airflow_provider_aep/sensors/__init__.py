"""sensors of airflow-provider-aep."""
