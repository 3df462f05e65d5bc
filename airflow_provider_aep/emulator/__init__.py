"""emulator of airflow-provider-aep."""
