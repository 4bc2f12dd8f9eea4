"""Running the assistant: training and caching the model, evaluation, and the process runner."""
