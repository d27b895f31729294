"""alcyon's processes: the worker, the all-in-one runner and the source threads."""
