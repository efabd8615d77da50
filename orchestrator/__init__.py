"""jqbench orchestrator: plans runs, enqueues work, gathers records into results."""
