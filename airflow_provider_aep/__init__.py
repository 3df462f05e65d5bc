"""Apache Airflow provider for Adobe Experience Platform (AEP) source ingestion."""

__version__ = "0.1.0"
