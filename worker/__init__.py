"""jqbench worker: Celery tasks, the LLM client and the Docker sandbox."""
