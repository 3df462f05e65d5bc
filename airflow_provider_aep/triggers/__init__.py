"""triggers of airflow-provider-aep."""
