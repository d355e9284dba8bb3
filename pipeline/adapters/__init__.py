"""Adapters: the only modules in ``pipeline`` allowed to import Airflow."""
