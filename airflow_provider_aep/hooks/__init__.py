"""hooks of airflow-provider-aep."""
