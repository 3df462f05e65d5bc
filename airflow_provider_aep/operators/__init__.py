"""operators of airflow-provider-aep."""
