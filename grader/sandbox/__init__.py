"""Running student code: the loader, the worker process and its client, the data-only protocol."""
